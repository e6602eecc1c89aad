//! An HTML tag tokeniser that reads markup the way browsers do: a tag starts at `<` followed
//! by a letter, its name runs to whitespace, `/` or `>`; attributes are separated by
//! whitespace or `/`, their values quoted with `"` or `'` or unquoted. Bounded: at most
//! [`MAX_TAGS`] tags and [`MAX_ATTRS`] attributes per tag are read.

use std::ops::Range;

/// Tags read per value.
pub(crate) const MAX_TAGS: usize = 512;
/// Attributes read per tag.
pub(crate) const MAX_ATTRS: usize = 64;

/// One attribute of a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attr {
    /// The name's byte range.
    pub name: Range<usize>,
    /// The value's byte range (without quotes), when there is a value.
    pub value: Option<Range<usize>>,
}

/// One start or end tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tag {
    /// Byte offset of `<`.
    pub start: usize,
    /// Byte offset after the tag (after `>` when `closed`).
    pub end: usize,
    /// The name's byte range.
    pub name: Range<usize>,
    /// `</name`.
    pub end_tag: bool,
    /// Whether `>` ended it (a tag the input leaves open is still parsed by a browser that
    /// finds a `>` later in the page).
    pub closed: bool,
    /// Its attributes.
    pub attrs: Vec<Attr>,
}

/// Read every tag of `text`, at most [`MAX_TAGS`].
pub(crate) fn tags(text: &[u8]) -> Vec<Tag> {
    let mut out = Vec::new();
    let mut at = 0;
    while out.len() < MAX_TAGS {
        let Some(rel) = text.get(at..).and_then(|s| memchr::memchr(b'<', s)) else {
            break;
        };
        let lt = at + rel;
        match read_tag(text, lt) {
            Some(tag) => {
                // Continue inside the tag too: `<a title="<script>">` hides a tag in a value
                // only for some parsers, but an attacker counts on the ones that see it.
                at = tag.name.end;
                out.push(tag);
            }
            None => at = lt + 1,
        }
    }
    out
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c | 0x0b | 0)
}

/// The tag that starts at `text[lt]` (a `<`), if one does.
pub(crate) fn read_tag(text: &[u8], lt: usize) -> Option<Tag> {
    let mut at = lt + 1;
    let end_tag = text.get(at) == Some(&b'/');
    if end_tag {
        at += 1;
    }
    if !text.get(at)?.is_ascii_alphabetic() {
        return None;
    }
    let name_start = at;
    while text
        .get(at)
        .is_some_and(|&b| !is_space(b) && b != b'/' && b != b'>')
    {
        at += 1;
    }
    let name = name_start..at;
    let mut attrs = Vec::new();
    loop {
        while text.get(at).is_some_and(|&b| is_space(b) || b == b'/') {
            at += 1;
        }
        match text.get(at) {
            None => {
                return Some(Tag {
                    start: lt,
                    end: at,
                    name,
                    end_tag,
                    closed: false,
                    attrs,
                });
            }
            Some(b'>') => {
                return Some(Tag {
                    start: lt,
                    end: at + 1,
                    name,
                    end_tag,
                    closed: true,
                    attrs,
                });
            }
            Some(_) => {}
        }
        if attrs.len() >= MAX_ATTRS {
            return Some(Tag {
                start: lt,
                end: at,
                name,
                end_tag,
                closed: false,
                attrs,
            });
        }
        // Attribute name: a leading `=` belongs to the name, as in browsers.
        let name_start = at;
        at += 1;
        while text
            .get(at)
            .is_some_and(|&b| !is_space(b) && !matches!(b, b'/' | b'>' | b'='))
        {
            at += 1;
        }
        let attr_name = name_start..at;
        let mut look = at;
        while text.get(look).copied().is_some_and(is_space) {
            look += 1;
        }
        if text.get(look) != Some(&b'=') {
            attrs.push(Attr {
                name: attr_name,
                value: None,
            });
            continue;
        }
        at = look + 1;
        while text.get(at).copied().is_some_and(is_space) {
            at += 1;
        }
        let value = match text.get(at) {
            Some(&q @ (b'"' | b'\'')) => {
                let from = at + 1;
                let close = text.get(from..).and_then(|s| memchr::memchr(q, s));
                let to = close.map_or(text.len(), |rel| from + rel);
                at = (to + 1).min(text.len());
                from..to
            }
            _ => {
                let from = at;
                while text.get(at).is_some_and(|&b| !is_space(b) && b != b'>') {
                    at += 1;
                }
                from..at
            }
        };
        attrs.push(Attr {
            name: attr_name,
            value: Some(value),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Parsed = Vec<(String, Vec<(String, Option<String>)>)>;

    fn names(text: &str) -> Parsed {
        let b = text.as_bytes();
        tags(b)
            .into_iter()
            .map(|t| {
                let attrs = t
                    .attrs
                    .iter()
                    .map(|a| {
                        (
                            text[a.name.clone()].to_owned(),
                            a.value.clone().map(|v| text[v].to_owned()),
                        )
                    })
                    .collect();
                (text[t.name].to_owned(), attrs)
            })
            .collect()
    }

    #[test]
    fn tags_and_attributes_as_browsers_read_them() {
        let t = names("<svg/onload=alert(1)>");
        assert_eq!(
            t,
            vec![(
                "svg".into(),
                vec![("onload".into(), Some("alert(1)".into()))]
            )]
        );
        let t = names("<img src=\"x\" alt='a b' hidden>");
        assert_eq!(t[0].1.len(), 3);
        assert_eq!(t[0].1[1], ("alt".into(), Some("a b".into())));
        assert!(names("HR < 60 or SBP < 100").is_empty());
        assert_eq!(names("h2<h1")[0].0, "h1");
    }

    #[test]
    fn tag_count_is_bounded() {
        let many = "<a>".repeat(10_000);
        assert_eq!(tags(many.as_bytes()).len(), MAX_TAGS);
    }
}
