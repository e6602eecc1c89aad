//! A streaming JSON reader that reports every key and string leaf with its JSON path.
//!
//! Hand-written rather than a DOM parser: it never builds a tree, allocates only for strings
//! with escapes and for the path, and stops at a depth limit, so a hostile body costs time and
//! memory linear in its size. Numbers, booleans and `null` are checked for shape and skipped:
//! they are not text an attack can hide in.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::ops::ControlFlow;

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment<'b> {
    /// An object member.
    Key(Cow<'b, str>),
    /// An array element.
    Index(usize),
}

/// Where a value sits in a JSON document, from the root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JsonPath<'b> {
    segments: Vec<Segment<'b>>,
}

impl<'b> JsonPath<'b> {
    /// The steps from the root.
    pub fn segments(&self) -> &[Segment<'b>] {
        &self.segments
    }

    /// The nearest member name, skipping array indexes (`given` for `$.name[0].given[1]`).
    pub fn element(&self) -> Option<&str> {
        self.key_before(self.segments.len())
    }

    /// The member name before the nearest one (`text` for `$.text.div`).
    pub fn parent_element(&self) -> Option<&str> {
        let last = self
            .segments
            .iter()
            .rposition(|s| matches!(s, Segment::Key(_)))?;
        self.key_before(last)
    }

    fn key_before(&self, end: usize) -> Option<&str> {
        self.segments[..end].iter().rev().find_map(|s| match s {
            Segment::Key(k) => Some(k.as_ref()),
            Segment::Index(_) => None,
        })
    }

    /// Add a step.
    pub fn push(&mut self, segment: Segment<'b>) {
        self.segments.push(segment);
    }

    /// The depth (number of steps).
    pub fn len(&self) -> usize {
        self.segments.len()
    }

    /// Whether this is the root.
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// Write the path as `$.note[0].text`, keys that are not plain names as `['a b']`.
    pub fn render_into(&self, out: &mut String) {
        out.push('$');
        for segment in &self.segments {
            match segment {
                Segment::Index(i) => {
                    let _ = write!(out, "[{i}]");
                }
                Segment::Key(k) if is_plain_name(k) => {
                    out.push('.');
                    out.push_str(k);
                }
                Segment::Key(k) => {
                    out.push_str("['");
                    for c in k.chars().take(64) {
                        match c {
                            '\'' => out.push_str("\\'"),
                            '\\' => out.push_str("\\\\"),
                            c if c.is_control() => {
                                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
                            }
                            c => out.push(c),
                        }
                    }
                    out.push_str("']");
                }
            }
        }
    }
}

fn is_plain_name(key: &str) -> bool {
    let mut bytes = key.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b'$')
        && key.len() <= 64
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'$')
}

/// A malformed detail that does not stop reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonAnomaly {
    /// A backslash escape JSON does not define (`\q`, `\u12G4`).
    InvalidEscape,
    /// A `\uD800`-range escape without its pair.
    LoneSurrogate,
}

/// Why a JSON document could not be read to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// Nesting deeper than allowed.
    #[error("JSON nesting deeper than {0}")]
    TooDeep(usize),
    /// Not JSON at this byte offset.
    #[error("malformed JSON at byte {0}")]
    Malformed(usize),
}

/// What the reader reports, in document order. Returning `ControlFlow::Break` stops reading.
pub trait JsonVisitor<'b> {
    /// An object member's name; `path` ends with it.
    fn key(&mut self, path: &JsonPath<'b>, key: &str) -> ControlFlow<()>;
    /// A string value, escapes decoded.
    fn string(&mut self, path: &JsonPath<'b>, value: Cow<'b, str>) -> ControlFlow<()>;
    /// An object begins at `path`.
    fn object_start(&mut self, _path: &JsonPath<'b>) {}
    /// The object at `path` ends.
    fn object_end(&mut self, _path: &JsonPath<'b>) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
    /// A malformed detail was read past.
    fn anomaly(&mut self, anomaly: JsonAnomaly);
}

#[derive(Debug, Clone, Copy)]
enum Frame {
    Object,
    Array(usize),
}

/// Read `text` as one JSON document, reporting to `visitor`.
///
/// `Ok(())` when the document was read to its end or the visitor stopped; an error says where
/// reading failed (what was reported before stays reported).
pub fn walk<'b>(
    text: &'b str,
    max_depth: usize,
    visitor: &mut impl JsonVisitor<'b>,
) -> Result<(), JsonError> {
    let mut reader = Reader {
        text,
        bytes: text.as_bytes(),
        at: 0,
    };
    // Room for the depth of most documents (FHIR resources nest up to ~8), so that the path
    // and the stack are allocated once rather than grown (and copied) level by level.
    let mut path = JsonPath {
        segments: Vec::with_capacity(16),
    };
    let mut stack: Vec<Frame> = Vec::with_capacity(16);
    'value: loop {
        reader.skip_ws();
        match reader.peek() {
            Some(b'{') => {
                reader.at += 1;
                if stack.len() >= max_depth {
                    return Err(JsonError::TooDeep(max_depth));
                }
                stack.push(Frame::Object);
                visitor.object_start(&path);
                reader.skip_ws();
                if reader.peek() == Some(b'}') {
                    reader.at += 1;
                    stack.pop();
                    if visitor.object_end(&path).is_break() {
                        return Ok(());
                    }
                } else {
                    if reader.member_name(&mut path, visitor)?.is_break() {
                        return Ok(());
                    }
                    continue 'value;
                }
            }
            Some(b'[') => {
                reader.at += 1;
                if stack.len() >= max_depth {
                    return Err(JsonError::TooDeep(max_depth));
                }
                reader.skip_ws();
                if reader.peek() == Some(b']') {
                    reader.at += 1;
                } else {
                    stack.push(Frame::Array(0));
                    path.segments.push(Segment::Index(0));
                    continue 'value;
                }
            }
            Some(b'"') => {
                let value = reader.string(visitor)?;
                if visitor.string(&path, value).is_break() {
                    return Ok(());
                }
            }
            Some(_) => reader.scalar()?,
            None => return Err(JsonError::Malformed(reader.at)),
        }
        // A value ended: close containers until one continues.
        loop {
            reader.skip_ws();
            match stack.last_mut() {
                None => {
                    return if reader.at == reader.bytes.len() {
                        Ok(())
                    } else {
                        Err(JsonError::Malformed(reader.at))
                    };
                }
                Some(Frame::Object) => {
                    path.segments.pop();
                    match reader.next_byte() {
                        Some(b',') => {
                            reader.skip_ws();
                            if reader.member_name(&mut path, visitor)?.is_break() {
                                return Ok(());
                            }
                            continue 'value;
                        }
                        Some(b'}') => {
                            stack.pop();
                            if visitor.object_end(&path).is_break() {
                                return Ok(());
                            }
                        }
                        _ => return Err(JsonError::Malformed(reader.at)),
                    }
                }
                Some(Frame::Array(index)) => match reader.next_byte() {
                    Some(b',') => {
                        *index += 1;
                        let next = *index;
                        path.segments.pop();
                        path.segments.push(Segment::Index(next));
                        continue 'value;
                    }
                    Some(b']') => {
                        path.segments.pop();
                        stack.pop();
                    }
                    _ => return Err(JsonError::Malformed(reader.at)),
                },
            }
        }
    }
}

struct Reader<'b> {
    text: &'b str,
    bytes: &'b [u8],
    at: usize,
}

impl<'b> Reader<'b> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next_byte(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// Read `"name" :` and push the name on the path.
    fn member_name(
        &mut self,
        path: &mut JsonPath<'b>,
        visitor: &mut impl JsonVisitor<'b>,
    ) -> Result<ControlFlow<()>, JsonError> {
        if self.peek() != Some(b'"') {
            return Err(JsonError::Malformed(self.at));
        }
        let name = self.string(visitor)?;
        path.segments.push(Segment::Key(name));
        let flow = match path.segments.last() {
            Some(Segment::Key(name)) => visitor.key(path, name),
            _ => ControlFlow::Continue(()),
        };
        self.skip_ws();
        if self.next_byte() != Some(b':') {
            return Err(JsonError::Malformed(self.at));
        }
        Ok(flow)
    }

    /// Read a string starting at its opening quote; borrows when it holds no escape.
    fn string(&mut self, visitor: &mut impl JsonVisitor<'b>) -> Result<Cow<'b, str>, JsonError> {
        let start = self.at + 1;
        let Some(end) = memchr::memchr2(b'"', b'\\', &self.bytes[start..]).map(|i| start + i)
        else {
            return Err(JsonError::Malformed(self.at));
        };
        if self.bytes[end] == b'"' {
            self.at = end + 1;
            return Ok(Cow::Borrowed(&self.text[start..end]));
        }
        let mut out = String::with_capacity(end - start + 16);
        out.push_str(&self.text[start..end]);
        self.at = end;
        loop {
            let Some(b) = self.next_byte() else {
                return Err(JsonError::Malformed(self.at));
            };
            match b {
                b'"' => return Ok(Cow::Owned(out)),
                b'\\' => self.escape(&mut out, visitor),
                _ => {
                    // Copy the run up to the next quote or backslash in one go.
                    let run_start = self.at - 1;
                    let run_end = memchr::memchr2(b'"', b'\\', &self.bytes[self.at..])
                        .map_or(self.bytes.len(), |i| self.at + i);
                    out.push_str(&self.text[run_start..run_end]);
                    self.at = run_end;
                }
            }
        }
    }

    fn escape(&mut self, out: &mut String, visitor: &mut impl JsonVisitor<'b>) {
        let Some(b) = self.next_byte() else {
            return;
        };
        let simple = match b {
            b'"' => Some('"'),
            b'\\' => Some('\\'),
            b'/' => Some('/'),
            b'b' => Some('\u{8}'),
            b'f' => Some('\u{c}'),
            b'n' => Some('\n'),
            b'r' => Some('\r'),
            b't' => Some('\t'),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            return;
        }
        if b != b'u' {
            visitor.anomaly(JsonAnomaly::InvalidEscape);
            if b.is_ascii() {
                out.push(char::from(b));
            } else {
                // Not ASCII: step back so the character is copied whole.
                self.at -= 1;
            }
            return;
        }
        let Some(unit) = self.hex4() else {
            visitor.anomaly(JsonAnomaly::InvalidEscape);
            out.push_str("\\u");
            return;
        };
        if (0xD800..0xDC00).contains(&unit) {
            let save = self.at;
            if self.bytes.get(self.at..self.at + 2) == Some(b"\\u") {
                self.at += 2;
                if let Some(low) = self.hex4()
                    && (0xDC00..0xE000).contains(&low)
                {
                    let c = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                    out.push(char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
                    return;
                }
            }
            self.at = save;
            visitor.anomaly(JsonAnomaly::LoneSurrogate);
            out.push(char::REPLACEMENT_CHARACTER);
            return;
        }
        if (0xDC00..0xE000).contains(&unit) {
            visitor.anomaly(JsonAnomaly::LoneSurrogate);
            out.push(char::REPLACEMENT_CHARACTER);
            return;
        }
        out.push(char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER));
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.bytes.get(self.at..self.at + 4)?;
        let mut value = 0u32;
        for &d in digits {
            value = value << 4 | u32::from(crate::decode::percent::hex_digit(d)?);
        }
        self.at += 4;
        Some(value)
    }

    /// A number, `true`, `false` or `null`.
    fn scalar(&mut self) -> Result<(), JsonError> {
        let start = self.at;
        for literal in [&b"true"[..], b"false", b"null"] {
            if self.bytes[self.at..].starts_with(literal) {
                self.at += literal.len();
                return Ok(());
            }
        }
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let digits_start = self.at;
        while matches!(
            self.peek(),
            Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
        ) {
            self.at += 1;
        }
        let first = self.bytes.get(digits_start).copied();
        if self.at == digits_start || !matches!(first, Some(b'0'..=b'9')) {
            return Err(JsonError::Malformed(start));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect {
        seen: Vec<(String, String)>,
        anomalies: Vec<JsonAnomaly>,
    }

    impl<'b> JsonVisitor<'b> for Collect {
        fn key(&mut self, path: &JsonPath<'b>, key: &str) -> ControlFlow<()> {
            let mut p = String::new();
            path.render_into(&mut p);
            self.seen.push((format!("key {p}"), key.to_owned()));
            ControlFlow::Continue(())
        }
        fn string(&mut self, path: &JsonPath<'b>, value: Cow<'b, str>) -> ControlFlow<()> {
            let mut p = String::new();
            path.render_into(&mut p);
            self.seen.push((p, value.into_owned()));
            ControlFlow::Continue(())
        }
        fn anomaly(&mut self, anomaly: JsonAnomaly) {
            self.anomalies.push(anomaly);
        }
    }

    fn read(text: &str) -> (Result<(), JsonError>, Collect) {
        let mut c = Collect::default();
        let r = walk(text, 8, &mut c);
        (r, c)
    }

    #[test]
    fn keys_and_string_leaves_come_with_their_paths() {
        let (r, c) =
            read(r#"{"note":[{"text":"a"},{"text":"b","n":1.5e3,"ok":true}],"x y":"z","e":[]}"#);
        assert_eq!(r, Ok(()));
        let strings: Vec<_> = c
            .seen
            .iter()
            .filter(|(p, _)| !p.starts_with("key"))
            .collect();
        assert_eq!(
            strings,
            vec![
                &("$.note[0].text".to_owned(), "a".to_owned()),
                &("$.note[1].text".to_owned(), "b".to_owned()),
                &("$['x y']".to_owned(), "z".to_owned()),
            ]
        );
        assert!(
            c.seen
                .contains(&("key $.note".to_owned(), "note".to_owned()))
        );
        assert!(
            c.seen
                .contains(&("key $.note[1].n".to_owned(), "n".to_owned()))
        );
    }

    #[test]
    fn escapes_and_surrogate_pairs_decode() {
        let (r, c) = read(r#"{"q":"\u003cscript\u003e \ud83d\ude00 \"q\" \/"}"#);
        assert_eq!(r, Ok(()));
        assert_eq!(c.seen[1].1, "<script> 😀 \"q\" /");
        assert!(c.anomalies.is_empty());
    }

    #[test]
    fn invalid_escapes_are_anomalies_not_failures() {
        let (r, c) = read(r#"["\q", "\ud800x", "\u12G4", "\udc00"]"#);
        assert_eq!(r, Ok(()));
        assert_eq!(
            c.anomalies,
            vec![
                JsonAnomaly::InvalidEscape,
                JsonAnomaly::LoneSurrogate,
                JsonAnomaly::InvalidEscape,
                JsonAnomaly::LoneSurrogate
            ]
        );
        assert_eq!(c.seen[0].1, "q");
        assert_eq!(c.seen[1].1, "\u{FFFD}x");
    }

    #[test]
    fn depth_and_syntax_errors_stop_reading() {
        assert_eq!(read(&"[".repeat(9)).0, Err(JsonError::TooDeep(8)));
        assert!(matches!(read(r#"{"a":}"#).0, Err(JsonError::Malformed(_))));
        assert!(matches!(
            read(r#"{"a":"b"} x"#).0,
            Err(JsonError::Malformed(_))
        ));
        assert!(matches!(
            read(r#"{"a":"b""#).0,
            Err(JsonError::Malformed(_))
        ));
        assert!(matches!(read("").0, Err(JsonError::Malformed(0))));
        assert_eq!(read(r#" "top" "#).0, Ok(()));
    }

    #[test]
    fn element_names_skip_indexes() {
        let path = JsonPath {
            segments: vec![Segment::Key("text".into()), Segment::Key("div".into())],
        };
        assert_eq!(path.element(), Some("div"));
        assert_eq!(path.parent_element(), Some("text"));
        let path = JsonPath {
            segments: vec![
                Segment::Key("name".into()),
                Segment::Index(0),
                Segment::Key("given".into()),
                Segment::Index(1),
            ],
        };
        assert_eq!(path.element(), Some("given"));
        assert_eq!(path.parent_element(), Some("name"));
    }
}
