//! HTML injection in request values (CRS 941160-like): markup a request parameter, header,
//! cookie or JSON string has no reason to carry, judged by element and attribute grammar.
//!
//! A query or form value of an application is text, not a page: an element that runs,
//! embeds, loads, submits or restyles something (`<style>`, `<svg>`, `<form>`, `<input>`,
//! `<meta>`, `<h1>`, an element with a `style` or remote URL attribute, XML-namespaced
//! markup) is injection even when no script is visible yet, since the script may come in the
//! next request or the markup alone redresses the page. Formatting a user might paste (`<b>`,
//! `<br>`, `<span class>`, `<a href="/relative">`, `<table width>`) is left alone.
//!
//! Clinical free text and FHIR narrative never reach these rules: they keep their narrower
//! ones (see [`super::Scope::Markup`] and [`super::narrative`]).

use super::html::Tag;
use super::{MAX_ATTR, lower_name};
use crate::detect::ascii::{decode_entities_into, decode_entity, find};

/// What an element does in a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Holds raw text or the document's structure; its end tag breaks out of a context
    /// (`</style>`, `</textarea>`, `</title>`) and its start tag rewrites the page.
    Structure,
    /// Submits or captures input (forms and their controls).
    Form,
    /// SVG and MathML: foreign content with its own script, link and animation rules.
    Foreign,
    /// Changes the page's layout or spoofs content (headings, rules, marquees).
    Layout,
    /// Loads media from its `src`.
    Media,
}

fn role(local: &str) -> Option<Role> {
    Some(match local {
        "style" | "html" | "head" | "body" | "title" | "xmp" | "plaintext" | "listing"
        | "noscript" | "noembed" | "noframes" | "template" | "textarea" | "iframe" | "object"
        | "script" | "frameset" | "xml" => Role::Structure,
        "form" | "input" | "button" | "select" | "option" | "optgroup" | "datalist" | "label"
        | "fieldset" | "legend" | "output" | "keygen" | "isindex" => Role::Form,
        "svg" | "math" | "circle" | "rect" | "ellipse" | "polyline" | "polygon" | "path"
        | "image" | "use" | "foreignobject" | "mask" | "clippath" | "marker" | "symbol"
        | "defs" | "lineargradient" | "radialgradient" | "textpath" | "tspan" | "animate"
        | "animatetransform" | "animatemotion" | "animatecolor" | "set" | "mpath" | "discard"
        | "handler" | "listener" | "maction" | "mtext" | "mglyph" | "malignmark" | "semantics"
        | "annotation-xml" | "mstyle" | "mrow" => Role::Foreign,
        // SVG filter primitives: `feImage`, `feTurbulence`, ...
        n if n.len() >= 6 && n.starts_with("fe") => Role::Foreign,
        "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "hr" | "marquee" | "blink" | "dialog"
        | "meta" | "base" | "link" | "frame" | "embed" | "applet" | "bgsound" | "layer"
        | "ilayer" | "portal" => Role::Layout,
        "img" | "video" | "audio" | "source" | "track" | "picture" => Role::Media,
        _ => return None,
    })
}

/// Attributes whose value is a URL the browser follows or loads.
fn url_attribute(name: &str) -> bool {
    super::loads_resource(name)
        || matches!(
            name,
            "href"
                | "action"
                | "formaction"
                | "poster"
                | "srcset"
                | "ping"
                | "manifest"
                | "cite"
                | "longdesc"
                | "usemap"
        )
}

/// Judge a tag found in a request value (not clinical text): the rule and score when it is
/// injection by these rules.
pub(crate) fn judge(
    value: &str,
    tag: &Tag,
    name: &str,
    scratch: &mut String,
) -> Option<(&'static str, u16)> {
    // `svg:svg`, `xsl:stylesheet`, `xml:namespace`: namespaced markup is XML-dialect content
    // (SVG, XSLT, VML, behaviours) that no form field holds.
    let (prefix, local) = match name.split_once(':') {
        Some((p, l)) if !p.is_empty() && !l.is_empty() => (Some(p), l),
        _ => (None, name),
    };
    if tag.end_tag {
        // An end tag closes the context the value was placed in: `</textarea><script>`.
        let breaks = prefix.is_some()
            || matches!(role(local), Some(Role::Structure | Role::Foreign))
            || local == "form";
        return breaks.then_some(("xss.context-break", 5));
    }
    let opened = tag.closed || !tag.attrs.is_empty();
    if !opened {
        return None;
    }
    if prefix.is_some() {
        return Some(("xss.html-injection", 5));
    }
    let mut has_src = false;
    for attr in &tag.attrs {
        let mut buf = [0u8; 32];
        let attr_name = lower_name(value, attr.name.clone(), &mut buf);
        let raw = attr
            .value
            .clone()
            .and_then(|r| value.get(r.start..super::floor(value, r.end.min(r.start + MAX_ATTR))))
            .unwrap_or("");
        decode_entities_into(raw, MAX_ATTR, scratch);
        let text = scratch.trim();
        if (attr_name == "xmlns" || attr_name.starts_with("xmlns:"))
            && (attr.value.is_none() || browser_namespace(text))
        {
            return Some(("xss.html-injection", 5));
        }
        // Inline style restyles or overlays the page (and old engines ran script in it).
        if attr_name == "style" && !text.is_empty() {
            return Some(("xss.html-injection", 5));
        }
        if url_attribute(attr_name) && !text.is_empty() {
            if remote(text) {
                return Some(("xss.remote-resource", 5));
            }
            if truncated_script_scheme(raw) {
                return Some(("xss.script-url", 5));
            }
            has_src |= attr_name == "src" || attr_name == "srcset";
        }
    }
    match role(local)? {
        Role::Media if !has_src => None,
        _ => Some(("xss.html-injection", 5)),
    }
}

/// Namespaces whose markup a browser renders or runs: XHTML, SVG, MathML, XLink, XSLT,
/// and Internet Explorer's behaviours and VML (`urn:schemas-microsoft-com:...`).
fn browser_namespace(uri: &str) -> bool {
    let uri = uri.trim().to_ascii_lowercase();
    uri.starts_with("urn:schemas-microsoft-com:")
        || uri
            .strip_prefix("http://www.w3.org/")
            .or_else(|| uri.strip_prefix("https://www.w3.org/"))
            .is_some_and(|path| {
                [
                    "1999/xhtml",
                    "2000/svg",
                    "1998/math",
                    "1999/xlink",
                    "1999/xsl",
                    "tr/wd-xsl",
                ]
                .iter()
                .any(|p| path.starts_with(p))
            })
}

/// Whether `value` is an XML message or document rather than markup for a page: it opens
/// with an XML declaration, or its first element declares a namespace no browser renders
/// (`<ClinicalDocument xmlns="urn:hl7-org:v3">`).
pub(crate) fn is_data_document(value: &str) -> bool {
    let head = value.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}');
    if head
        .get(..6)
        .is_some_and(|h| h.eq_ignore_ascii_case("<?xml ") || h.eq_ignore_ascii_case("<?xml\t"))
    {
        return true;
    }
    if !head.starts_with('<') {
        return false;
    }
    let Some(first) = super::html::read_tag(head.as_bytes(), 0) else {
        return false;
    };
    first.attrs.iter().any(|a| {
        let name = head.get(a.name.clone()).unwrap_or("");
        let uri = a.value.clone().and_then(|v| head.get(v)).unwrap_or("");
        name.eq_ignore_ascii_case("xmlns") && !uri.is_empty() && !browser_namespace(uri)
    })
}

/// `http://x`, `//x`, `\\x`: a URL that leaves the site.
fn remote(url: &str) -> bool {
    // Browsers drop tabs and newlines anywhere in a URL.
    let url: String = url
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .take(64)
        .collect();
    let url = url.trim_start_matches(|c: char| c.is_whitespace() || c.is_control());
    if url.starts_with("//") || url.starts_with("\\\\") || url.starts_with("/\\") {
        return true;
    }
    let scheme_len = url
        .bytes()
        .take(16)
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        .count();
    scheme_len > 0
        && url
            .get(scheme_len..)
            .is_some_and(|rest| rest.starts_with("://") || rest.starts_with(":\\\\"))
}

/// `href="javascript&colon;..."` cut at the `&` by a form decoder: the value is the name of
/// a script scheme and nothing, or an entity, after it.
fn truncated_script_scheme(raw: &str) -> bool {
    let letters: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .take(12)
        .collect::<String>()
        .to_ascii_lowercase();
    ["javascript", "vbscript"].iter().any(|s| {
        letters
            .strip_prefix(s)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('&'))
    })
}

/// Markup declarations, comments, processing instructions and server code blocks in a
/// request value:
/// `<!--` (hides the rest of the page or splits a filter's view of it), `<!DOCTYPE`,
/// `<!ENTITY`, `<![CDATA[`, `<?xml ...`, `<?import ...`. The range of the first one.
pub(crate) fn declaration(text: &[u8]) -> Option<(usize, usize)> {
    for lt in memchr::memchr_iter(b'<', text).take(super::html::MAX_TAGS) {
        let rest = text.get(lt + 1..).unwrap_or(b"");
        let len = match rest {
            [b'!', b'-', b'-', ..] => 4,
            // A server page's code block (`<% ... %>`, `<?php`, `<? echo`), which an
            // application that renders templates runs.
            [b'%']
            | [
                b'%',
                b'=' | b'@' | b'-' | b'#' | b'\'' | b'"' | b' ' | b'\t' | b'\n',
                ..,
            ] => 2,
            [b'?'] | [b'?', b' ' | b'=' | b'\t' | b'\n', ..] => 2,
            [b'!', b'[', ..] if rest.len() >= 8 && rest[1..8].eq_ignore_ascii_case(b"[CDATA[") => 9,
            [b'!', c, ..] | [b'?', c, ..] if c.is_ascii_alphabetic() => {
                let name = rest
                    .iter()
                    .skip(1)
                    .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'-'))
                    .count();
                // A name and then markup syntax, as declarations and instructions have.
                let after = rest.get(1 + name..).unwrap_or(b"");
                let syntax = after.first().is_none_or(|b| {
                    b.is_ascii_whitespace() || matches!(b, b'?' | b'>' | b'[' | b'"' | b'\'')
                });
                if !syntax {
                    continue;
                }
                2 + name
            }
            _ => continue,
        };
        return Some((lt, (lt + len).min(text.len())));
    }
    // `]]>` ends a CDATA section: the value leaves the XML text it was placed in.
    find(text, b"]]>").map(|at| (at, at + 3))
}

/// A value that is nothing but an encoded `<`, encoded any number of times (`&lt;`,
/// `&#60`, `&#x3C;`, `\x3c`, `\u003c`, `%3C`, `%26lt%3B`): a probe for whether the
/// application decodes a tag opener a filter let through. A plain `<` is a comparator
/// (FHIR `Quantity.comparator`) and passes.
pub(crate) fn encoded_less_than(value: &str) -> bool {
    let trimmed = value.trim();
    // Long values, and values with nothing to decode (a bare `<` included), are decided
    // before the first round; only short escaped values are copied and peeled.
    if trimmed.len() > 16 || memchr::memchr3(b'&', b'%', b'\\', trimmed.as_bytes()).is_none() {
        return false;
    }
    let mut v = trimmed.to_owned();
    // Each round peels one layer; five cover what decoders chain.
    for round in 0..5 {
        if v == "<" {
            return round > 0;
        }
        if v.len() > 16 {
            return false;
        }
        let next = decode_round(&v);
        if next == v {
            return false;
        }
        v = next.trim().to_owned();
    }
    false
}

/// One layer of percent, character-reference and JavaScript escapes.
fn decode_round(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while let Some(&b) = bytes.get(at) {
        let hex = |from: usize, len: usize| {
            bytes
                .get(from..from + len)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .and_then(char::from_u32)
        };
        let (c, len) = match b {
            b'&' => decode_entity(bytes, at).unwrap_or(('&', 1)),
            b'%' if matches!(bytes.get(at + 1), Some(b'u' | b'U')) => {
                hex(at + 2, 4).map_or(('%', 1), |c| (c, 6))
            }
            b'%' => hex(at + 1, 2).map_or(('%', 1), |c| (c, 3)),
            b'\\' if matches!(bytes.get(at + 1), Some(b'x' | b'X')) => {
                hex(at + 2, 2).map_or(('\\', 1), |c| (c, 4))
            }
            b'\\' if matches!(bytes.get(at + 1), Some(b'u' | b'U')) => {
                hex(at + 2, 4).map_or(('\\', 1), |c| (c, 6))
            }
            _ => {
                let c = text
                    .get(at..)
                    .and_then(|s| s.chars().next())
                    .unwrap_or('\u{FFFD}');
                (c, c.len_utf8())
            }
        };
        out.push(c);
        at += len;
    }
    out
}

/// `+ADw-script+AD4-`: a `<` in UTF-7, which old browsers decoded when a page declared no
/// charset. `+ADw-` is never base64 or base64url text (`-` ends a UTF-7 run, `+` is not in
/// base64url).
pub(crate) fn utf7_tag(text: &[u8]) -> Option<(usize, usize)> {
    let at = find(text, b"+ADw-")?;
    let next = text.get(at + 5)?;
    (next.is_ascii_alphabetic() || *next == b'/' || *next == b'+').then_some((at, at + 5))
}
