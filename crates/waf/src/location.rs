//! Locations: where in a request an input sat, as a stable string a security officer reads
//! (`query:id`, `body:$.note[0].text`), and patterns over them for exclusions and rules.

use std::fmt::Write as _;

use crate::extract::json::JsonPath;
use crate::extract::xml::XmlPath;

/// Longest name kept in a location; longer names are cut (they are attacker-chosen).
const MAX_NAME: usize = 64;

/// Where an input sat, borrowed from the request while it is inspected; rendered to a string
/// only when something needs it (a finding, a location pattern).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Place<'p> {
    /// `path[i]`: the i-th path segment, from 0.
    PathSegment(usize),
    /// `path`: the whole path.
    Path,
    /// `query:name`.
    Query(&'p str),
    /// `query-name:name`.
    QueryName(&'p str),
    /// `header:name` (lower case).
    Header(&'p str),
    /// `cookie:name`.
    Cookie(&'p str),
    /// `cookie-name:name`.
    CookieName(&'p str),
    /// `form:name`.
    Form(&'p str),
    /// `form-name:name`.
    FormName(&'p str),
    /// `multipart:name` (or `multipart:#n` for a part without a name).
    Multipart(Option<&'p str>, usize),
    /// `multipart-name:name`.
    MultipartName(&'p str),
    /// `multipart-filename:name`.
    MultipartFilename(Option<&'p str>, usize),
    /// `body:$.a[0].b`.
    Json(&'p JsonPath<'p>),
    /// `body:$.a[0].b` plus one more member (a value reported when its object ends).
    JsonMember(&'p JsonPath<'p>, &'static str),
    /// `body-key:$.a[0].b`: the member name itself.
    JsonKey(&'p JsonPath<'p>),
    /// `xml:/a/b`.
    Xml(&'p XmlPath<'p>),
    /// `xml:/a/b/@name`.
    XmlAttribute(&'p XmlPath<'p>, &'p str),
    /// `body`: the raw body.
    Body,
    /// `request`: the request as a whole.
    Request,
}

impl Place<'_> {
    /// The location string.
    pub(crate) fn render(&self) -> String {
        let mut out = String::with_capacity(32);
        match *self {
            Place::PathSegment(i) => {
                let _ = write!(out, "path[{i}]");
            }
            Place::Path => out.push_str("path"),
            Place::Query(n) => named(&mut out, "query:", n),
            Place::QueryName(n) => named(&mut out, "query-name:", n),
            Place::Header(n) => named(&mut out, "header:", n),
            Place::Cookie(n) => named(&mut out, "cookie:", n),
            Place::CookieName(n) => named(&mut out, "cookie-name:", n),
            Place::Form(n) => named(&mut out, "form:", n),
            Place::FormName(n) => named(&mut out, "form-name:", n),
            Place::Multipart(n, i) => part(&mut out, "multipart:", n, i),
            Place::MultipartName(n) => named(&mut out, "multipart-name:", n),
            Place::MultipartFilename(n, i) => part(&mut out, "multipart-filename:", n, i),
            Place::Json(p) => {
                out.push_str("body:");
                p.render_into(&mut out);
            }
            Place::JsonMember(p, member) => {
                out.push_str("body:");
                p.render_into(&mut out);
                out.push('.');
                out.push_str(member);
            }
            Place::JsonKey(p) => {
                out.push_str("body-key:");
                p.render_into(&mut out);
            }
            Place::Xml(p) => {
                out.push_str("xml:");
                p.render_into(&mut out);
            }
            Place::XmlAttribute(p, attribute) => {
                out.push_str("xml:");
                p.render_into(&mut out);
                named(&mut out, "/@", attribute);
            }
            Place::Body => out.push_str("body"),
            Place::Request => out.push_str("request"),
        }
        out
    }
}

fn named(out: &mut String, prefix: &str, name: &str) {
    out.push_str(prefix);
    for c in name.chars().take(MAX_NAME) {
        if c.is_control() {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
}

fn part(out: &mut String, prefix: &str, name: Option<&str>, index: usize) {
    match name {
        Some(name) => named(out, prefix, name),
        None => {
            let _ = write!(out, "{prefix}#{index}");
        }
    }
}

/// A pattern over location strings: `*` matches within one step (no `.`, `/`, `[`, `]`),
/// `**` matches anything. `body:$.note[*].text`, `header:x-*`, `body:$.entry[*].**.div`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationPattern {
    source: String,
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    Star,
    DoubleStar,
}

/// Why a location pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// The pattern is empty.
    #[error("a location pattern cannot be empty")]
    Empty,
    /// The pattern is longer than any location.
    #[error("a location pattern is at most 512 characters")]
    TooLong,
}

impl LocationPattern {
    /// Read a pattern.
    pub fn parse(source: &str) -> Result<Self, PatternError> {
        if source.is_empty() {
            return Err(PatternError::Empty);
        }
        if source.len() > 512 {
            return Err(PatternError::TooLong);
        }
        let mut tokens = Vec::new();
        let mut literal = String::new();
        let mut chars = source.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '*' {
                literal.push(c);
                continue;
            }
            if !literal.is_empty() {
                tokens.push(Token::Literal(std::mem::take(&mut literal)));
            }
            if chars.peek() == Some(&'*') {
                chars.next();
                tokens.push(Token::DoubleStar);
            } else {
                tokens.push(Token::Star);
            }
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal));
        }
        Ok(LocationPattern {
            source: source.to_owned(),
            tokens,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `location` matches the whole pattern (linear in pattern × location length).
    pub fn matches(&self, location: &str) -> bool {
        let s = location.as_bytes();
        let mut reach = vec![false; s.len() + 1];
        reach[0] = true;
        let mut next = vec![false; s.len() + 1];
        for token in &self.tokens {
            next.iter_mut().for_each(|r| *r = false);
            match token {
                Token::Literal(l) => {
                    let l = l.as_bytes();
                    for j in 0..=s.len() {
                        if reach[j] && s[j..].starts_with(l) {
                            next[j + l.len()] = true;
                        }
                    }
                }
                Token::Star | Token::DoubleStar => {
                    let crosses = matches!(token, Token::DoubleStar);
                    let mut carry = false;
                    for j in 0..=s.len() {
                        carry |= reach[j];
                        next[j] = carry;
                        if !crosses && j < s.len() && matches!(s[j], b'.' | b'/' | b'[' | b']') {
                            carry = false;
                        }
                    }
                }
            }
            std::mem::swap(&mut reach, &mut next);
        }
        reach[s.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::json::Segment;

    fn matches(pattern: &str, location: &str) -> bool {
        LocationPattern::parse(pattern).unwrap().matches(location)
    }

    #[test]
    fn stars_match_within_a_step_double_stars_across() {
        assert!(matches("body:$.note[*].text", "body:$.note[12].text"));
        assert!(!matches(
            "body:$.note[*].text",
            "body:$.note[1].author.text"
        ));
        assert!(matches(
            "body:$.**.text.div",
            "body:$.entry[3].resource.text.div"
        ));
        assert!(matches("header:x-*", "header:x-payload"));
        assert!(!matches("header:x-*", "header:accept"));
        assert!(matches("query:id", "query:id"));
        assert!(!matches("query:id", "query:ids"));
        assert!(matches("**", "anything.at/all"));
        assert!(!matches("query:*", "query:a.b"));
    }

    #[test]
    fn places_render_as_documented() {
        assert_eq!(Place::PathSegment(2).render(), "path[2]");
        assert_eq!(Place::Query("id").render(), "query:id");
        assert_eq!(
            Place::QueryName("a\r\nb").render(),
            "query-name:a\\u{d}\\u{a}b"
        );
        assert_eq!(Place::Multipart(None, 3).render(), "multipart:#3");
        assert_eq!(
            Place::MultipartFilename(Some("f"), 1).render(),
            "multipart-filename:f"
        );
        assert_eq!(Place::Json(&JsonPath::default()).render(), "body:$");
        let path = json_path(&[
            Segment::Key("note".into()),
            Segment::Index(0),
            Segment::Key("text".into()),
        ]);
        assert_eq!(Place::Json(&path).render(), "body:$.note[0].text");
        assert_eq!(
            Place::JsonMember(&path, "data").render(),
            "body:$.note[0].text.data"
        );
        let odd = json_path(&[Segment::Key("it's".into())]);
        assert_eq!(Place::JsonKey(&odd).render(), "body-key:$['it\\'s']");
    }

    fn json_path(segments: &[Segment<'static>]) -> JsonPath<'static> {
        let mut path = JsonPath::default();
        for s in segments {
            path.push(s.clone());
        }
        path
    }
}
