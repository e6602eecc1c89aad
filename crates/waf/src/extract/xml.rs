//! A lenient XML reader: element paths, text, attribute values, and the declarations an XXE
//! attack needs (`<!DOCTYPE`, `<!ENTITY`).
//!
//! Not a validating parser: it reads what a permissive server would accept, never expands
//! entities, and stops at a depth limit. UTF-7 documents (an old way to hide `<!DOCTYPE`) are
//! decoded first when the declaration says so.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::ops::ControlFlow;

use memchr::memmem;

/// Where a node sits: the element names from the root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XmlPath<'d> {
    elements: Vec<&'d str>,
}

impl<'d> XmlPath<'d> {
    /// The element names from the root.
    pub fn elements(&self) -> &[&'d str] {
        &self.elements
    }

    /// Write the path as `/root/child`.
    pub fn render_into(&self, out: &mut String) {
        if self.elements.is_empty() {
            out.push('/');
        }
        for element in &self.elements {
            out.push('/');
            for c in element.chars().take(64) {
                if c.is_control() {
                    let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
                } else {
                    out.push(c);
                }
            }
        }
    }
}

/// What to do with an element that starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open {
    /// Read its content node by node.
    Descend,
    /// Hand its whole content over as one piece (FHIR narrative XHTML).
    Capture,
}

/// What the reader reports, in document order. `ControlFlow::Break` stops reading.
pub trait XmlVisitor<'d> {
    /// An element starts at `path` (which ends with it).
    fn open(&mut self, _path: &XmlPath<'d>) -> Open {
        Open::Descend
    }
    /// An attribute of the element at `path`.
    fn attribute(&mut self, path: &XmlPath<'d>, name: &'d str, value: &'d str) -> ControlFlow<()>;
    /// Text (or CDATA) inside the element at `path`, entities not decoded.
    fn text(&mut self, path: &XmlPath<'d>, text: &'d str) -> ControlFlow<()>;
    /// The whole content of an element the visitor asked to [`Open::Capture`].
    fn captured(&mut self, path: &XmlPath<'d>, content: &'d str) -> ControlFlow<()>;
}

/// Why an XML document could not be read to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// Nesting deeper than allowed.
    #[error("XML nesting deeper than {0}")]
    TooDeep(usize),
    /// A construct is not closed.
    #[error("malformed XML at byte {0}")]
    Malformed(usize),
}

/// Whether the document declares a DOCTYPE or an ENTITY (case-insensitive, anywhere).
pub fn has_declarations(doc: &str) -> bool {
    let bytes = doc.as_bytes();
    memmem::find_iter(bytes, b"<!").any(|at| {
        let rest = &bytes[at + 2..];
        starts_with_ignore_case(rest, b"doctype") || starts_with_ignore_case(rest, b"entity")
    })
}

fn starts_with_ignore_case(haystack: &[u8], prefix: &[u8]) -> bool {
    haystack.len() >= prefix.len() && haystack[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// The document as text: decoded from UTF-7 when its declaration says `encoding="UTF-7"`.
pub fn document_text(doc: &str) -> Cow<'_, str> {
    let declaration_end = if doc.trim_start().starts_with("<?xml") {
        doc.find("?>").unwrap_or(0)
    } else {
        0
    };
    let declaration = doc[..declaration_end].to_ascii_lowercase();
    if declaration.contains("utf-7") || declaration.contains("utf7") {
        Cow::Owned(decode_utf7(doc))
    } else {
        Cow::Borrowed(doc)
    }
}

/// Decode UTF-7 (RFC 2152): `+` starts modified Base64 of UTF-16, `-` or any other character
/// ends it, `+-` is a literal `+`.
pub fn decode_utf7(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '+' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'-') {
            chars.next();
            out.push('+');
            continue;
        }
        let (mut bits, mut acc, mut high) = (0u32, 0u32, None::<u32>);
        while let Some(&d) = chars.peek() {
            let Some(value) = utf7_sextet(d) else { break };
            chars.next();
            acc = (acc << 6 | value) & 0xFF_FFFF;
            bits += 6;
            if bits >= 16 {
                bits -= 16;
                let unit = (acc >> bits) & 0xFFFF;
                match (high.take(), unit) {
                    (None, 0xD800..=0xDBFF) => high = Some(unit),
                    (Some(h), 0xDC00..=0xDFFF) => {
                        let c = 0x10000 + ((h - 0xD800) << 10) + (unit - 0xDC00);
                        out.push(char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
                    }
                    (_, unit) => {
                        out.push(char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER));
                    }
                }
            }
        }
        if chars.peek() == Some(&'-') {
            chars.next();
        }
    }
    out
}

fn utf7_sextet(c: char) -> Option<u32> {
    match c {
        'A'..='Z' => Some(c as u32 - 'A' as u32),
        'a'..='z' => Some(c as u32 - 'a' as u32 + 26),
        '0'..='9' => Some(c as u32 - '0' as u32 + 52),
        '+' => Some(62),
        '/' => Some(63),
        _ => None,
    }
}

/// Read `doc`, reporting element paths, attributes and text to `visitor`.
pub fn walk<'d>(
    doc: &'d str,
    max_depth: usize,
    visitor: &mut impl XmlVisitor<'d>,
) -> Result<(), XmlError> {
    let bytes = doc.as_bytes();
    let mut path = XmlPath::default();
    let mut at = 0;
    while at < bytes.len() {
        let lt = memchr::memchr(b'<', &bytes[at..]).map_or(bytes.len(), |i| at + i);
        let text = &doc[at..lt];
        if !text.trim().is_empty() && visitor.text(&path, text).is_break() {
            return Ok(());
        }
        if lt >= bytes.len() {
            break;
        }
        let rest = &bytes[lt..];
        at = if rest.starts_with(b"<?") {
            end_of(bytes, lt, b"?>")?
        } else if rest.starts_with(b"<!--") {
            end_of(bytes, lt, b"-->")?
        } else if rest.starts_with(b"<![CDATA[") {
            let end = memmem::find(&bytes[lt..], b"]]>").ok_or(XmlError::Malformed(lt))? + lt;
            if visitor.text(&path, &doc[lt + 9..end]).is_break() {
                return Ok(());
            }
            end + 3
        } else if rest.starts_with(b"<!") {
            declaration_end(bytes, lt)?
        } else if rest.starts_with(b"</") {
            let end = end_of(bytes, lt, b">")?;
            path.elements.pop();
            end
        } else {
            let (end, self_closing, flow) = start_tag(doc, lt, &mut path, max_depth, visitor)?;
            if flow.is_break() {
                return Ok(());
            }
            if self_closing {
                path.elements.pop();
                end
            } else if visitor.open(&path) == Open::Capture {
                let name = path.elements.last().copied().unwrap_or_default();
                let close = matching_close(doc, end, name).ok_or(XmlError::Malformed(lt))?;
                if visitor.captured(&path, &doc[end..close.0]).is_break() {
                    return Ok(());
                }
                path.elements.pop();
                close.1
            } else {
                end
            }
        };
    }
    Ok(())
}

fn end_of(bytes: &[u8], from: usize, terminator: &[u8]) -> Result<usize, XmlError> {
    memmem::find(&bytes[from..], terminator)
        .map(|i| from + i + terminator.len())
        .ok_or(XmlError::Malformed(from))
}

/// The end of a `<!DOCTYPE ... [ internal subset ]>` or other `<!...>` declaration.
fn declaration_end(bytes: &[u8], from: usize) -> Result<usize, XmlError> {
    let mut in_subset = false;
    let mut quote = None;
    for (i, &b) in bytes[from..].iter().enumerate() {
        match (quote, b) {
            (Some(q), b) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(b),
            (None, b'[') => in_subset = true,
            (None, b']') => in_subset = false,
            (None, b'>') if !in_subset => return Ok(from + i + 1),
            _ => {}
        }
    }
    Err(XmlError::Malformed(from))
}

/// Read a start tag at `lt`: push its name, report its attributes. Returns the end offset and
/// whether it closes itself.
fn start_tag<'d>(
    doc: &'d str,
    lt: usize,
    path: &mut XmlPath<'d>,
    max_depth: usize,
    visitor: &mut impl XmlVisitor<'d>,
) -> Result<(usize, bool, ControlFlow<()>), XmlError> {
    let bytes = doc.as_bytes();
    let name_end = bytes[lt + 1..]
        .iter()
        .position(|b| b.is_ascii_whitespace() || matches!(b, b'/' | b'>'))
        .map_or(bytes.len(), |i| lt + 1 + i);
    if name_end == lt + 1 || name_end >= bytes.len() {
        return Err(XmlError::Malformed(lt));
    }
    if path.elements.len() >= max_depth {
        return Err(XmlError::TooDeep(max_depth));
    }
    path.elements.push(&doc[lt + 1..name_end]);
    let mut at = name_end;
    let mut flow = ControlFlow::Continue(());
    loop {
        while bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
            at += 1;
        }
        match bytes.get(at) {
            None => return Err(XmlError::Malformed(lt)),
            Some(b'>') => return Ok((at + 1, false, flow)),
            Some(b'/') if bytes.get(at + 1) == Some(&b'>') => return Ok((at + 2, true, flow)),
            Some(_) => {}
        }
        let name_start = at;
        while bytes
            .get(at)
            .is_some_and(|b| !b.is_ascii_whitespace() && !matches!(b, b'=' | b'>' | b'/'))
        {
            at += 1;
        }
        if at == name_start {
            // A stray `/` or similar: skip it.
            at += 1;
            continue;
        }
        let name = &doc[name_start..at];
        while bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
            at += 1;
        }
        if bytes.get(at) != Some(&b'=') {
            continue;
        }
        at += 1;
        while bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
            at += 1;
        }
        let (value, next) = match bytes.get(at) {
            Some(&q @ (b'"' | b'\'')) => {
                let end = memchr::memchr(q, &bytes[at + 1..]).ok_or(XmlError::Malformed(at))?;
                (&doc[at + 1..at + 1 + end], at + 2 + end)
            }
            Some(_) => {
                let end = (at..bytes.len())
                    .find(|&i| {
                        bytes[i].is_ascii_whitespace()
                            || bytes[i] == b'>'
                            || (bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'>'))
                    })
                    .unwrap_or(bytes.len());
                (&doc[at..end], end)
            }
            None => return Err(XmlError::Malformed(at)),
        };
        at = next;
        if flow.is_continue() {
            flow = visitor.attribute(path, name, value);
        }
    }
}

/// Where the element `name` that starts before `from` closes: (content end, after the tag).
fn matching_close(doc: &str, from: usize, name: &str) -> Option<(usize, usize)> {
    let bytes = doc.as_bytes();
    let open = format!("<{name}");
    let close = format!("</{name}");
    let mut depth = 1usize;
    let mut at = from;
    while let Some(i) = memchr::memchr(b'<', &bytes[at..]) {
        let lt = at + i;
        let rest = &bytes[lt..];
        let boundary = |len: usize| {
            rest.get(len)
                .is_none_or(|b| b.is_ascii_whitespace() || matches!(b, b'>' | b'/'))
        };
        if rest.starts_with(close.as_bytes()) && boundary(close.len()) {
            depth -= 1;
            let end = memchr::memchr(b'>', rest).map_or(bytes.len(), |j| lt + j + 1);
            if depth == 0 {
                return Some((lt, end));
            }
            at = end;
        } else if rest.starts_with(open.as_bytes()) && boundary(open.len()) {
            let end = memchr::memchr(b'>', rest).map_or(bytes.len(), |j| lt + j + 1);
            if bytes.get(end.wrapping_sub(2)) != Some(&b'/') {
                depth += 1;
            }
            at = end;
        } else {
            at = lt + 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect {
        seen: Vec<String>,
        capture: Option<&'static str>,
    }

    impl<'d> XmlVisitor<'d> for Collect {
        fn open(&mut self, path: &XmlPath<'d>) -> Open {
            if path.elements().last() == self.capture.as_ref() {
                Open::Capture
            } else {
                Open::Descend
            }
        }
        fn attribute(
            &mut self,
            path: &XmlPath<'d>,
            name: &'d str,
            value: &'d str,
        ) -> ControlFlow<()> {
            let mut p = String::new();
            path.render_into(&mut p);
            self.seen.push(format!("{p}/@{name}={value}"));
            ControlFlow::Continue(())
        }
        fn text(&mut self, path: &XmlPath<'d>, text: &'d str) -> ControlFlow<()> {
            let mut p = String::new();
            path.render_into(&mut p);
            self.seen.push(format!("{p}={}", text.trim()));
            ControlFlow::Continue(())
        }
        fn captured(&mut self, path: &XmlPath<'d>, content: &'d str) -> ControlFlow<()> {
            let mut p = String::new();
            path.render_into(&mut p);
            self.seen.push(format!("{p} captured {content}"));
            ControlFlow::Continue(())
        }
    }

    #[test]
    fn text_attributes_and_cdata_come_with_paths() {
        let mut c = Collect::default();
        let doc = r#"<?xml version="1.0"?><!-- c --><a x='1'><b y="2" z=3/>hi<c><![CDATA[<raw>]]></c></a>"#;
        assert_eq!(walk(doc, 8, &mut c), Ok(()));
        assert_eq!(
            c.seen,
            vec!["/a/@x=1", "/a/b/@y=2", "/a/b/@z=3", "/a=hi", "/a/c=<raw>"]
        );
    }

    #[test]
    fn narrative_subtrees_can_be_captured_whole() {
        let mut c = Collect {
            capture: Some("div"),
            ..Collect::default()
        };
        let doc =
            r#"<text><div xmlns="x"><p>a<div>b</div></p></div><status value="generated"/></text>"#;
        assert_eq!(walk(doc, 8, &mut c), Ok(()));
        assert_eq!(
            c.seen,
            vec![
                "/text/div/@xmlns=x",
                "/text/div captured <p>a<div>b</div></p>",
                "/text/status/@value=generated"
            ]
        );
    }

    #[test]
    fn declarations_are_found_even_in_utf7() {
        let plain = r#"<!DOCTYPE foo [<!ENTITY x SYSTEM "file:///etc/passwd">]><foo>&x;</foo>"#;
        assert!(has_declarations(plain));
        let mut c = Collect::default();
        assert_eq!(walk(plain, 8, &mut c), Ok(()));
        assert_eq!(c.seen, vec!["/foo=&x;"]);
        let utf7 = "<?xml version=\"1.0\" encoding=\"UTF-7\"?>\n+ADwAIQ-DOCTYPE foo+AFs +ADwAIQ-ELEMENT foo ANY +AD4\n";
        assert!(!has_declarations(utf7));
        assert!(has_declarations(&document_text(utf7)));
        assert_eq!(decode_utf7("a+-b+ADw-"), "a+b<");
    }

    #[test]
    fn depth_and_unclosed_constructs_fail() {
        let mut c = Collect::default();
        assert_eq!(walk(&"<a>".repeat(9), 8, &mut c), Err(XmlError::TooDeep(8)));
        assert!(matches!(
            walk("<a><!-- x", 8, &mut c),
            Err(XmlError::Malformed(_))
        ));
        assert!(matches!(
            walk("<a b='1", 8, &mut c),
            Err(XmlError::Malformed(_))
        ));
    }
}
