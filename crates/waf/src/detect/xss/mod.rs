//! Cross-site scripting: markup that runs script (tags, event-handler attributes, script URLs,
//! style expressions, SVG animation of links), script outside markup (sink calls in JavaScript
//! syntax, attribute breaking, script URLs), template injection, and the FHIR narrative rules.
//!
//! Text with `<` and `>` used as comparisons ("hold if HR < 60") has no tag: a tag starts with
//! a letter right after `<`. In clinical text and narrative only what executes is reported;
//! in other request values markup that embeds, loads, submits, restyles or breaks a context
//! is reported too ([`inject`]), while formatting (`<b>`, `<a href="/x">`, `<span class>`)
//! and XML messages (HL7 v3, CDA) pass.

mod css;
mod events;
mod html;
mod inject;
mod narrative;
mod script;

/// Attributes whose URL the browser loads by itself (script, styles, plugins, images), as
/// opposed to links it follows only when the user acts.
pub(crate) fn loads_resource(name: &str) -> bool {
    matches!(
        name,
        "src" | "data" | "code" | "codebase" | "background" | "dynsrc" | "lowsrc" | "xlink:href"
    )
}

#[cfg(test)]
mod tests;

use super::ascii::{any_byte, decode_entities_into, find, find_ci_from, lower_into};
use super::{AttackClass, Finding};
use html::Tag;
use script::Scheme;

pub(crate) use narrative::detect as narrative;

/// Bytes of a style sheet examined.
const MAX_VALUE: usize = 16 * 1024;
/// Bytes of an attribute value examined (a tag nested in a value is read again as its own
/// tag, so this bounds the cost of `<a x="<a x="<a x="...`).
const MAX_ATTR: usize = 4 * 1024;

/// What a value is judged for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Any request value: markup, script, script URLs, attribute breaking, templates.
    Full,
    /// Clinical free text: only markup that executes.
    Markup,
}

fn push(findings: &mut Vec<Finding>, rule: &'static str, score: u16, start: usize, end: usize) {
    findings.push(Finding {
        class: AttackClass::Xss,
        rule,
        score,
        span: start..end.max(start),
    });
}

/// Whether the one-pass sink scan and the word-by-word scan find the same sink (for the fuzz
/// target that compares them). Built only under `cargo fuzz`.
#[cfg(fuzzing)]
pub(super) fn sink_scans_agree(value: &str) -> bool {
    script::sinks_in(value.as_bytes()) == script::sinks_word_by_word(value.as_bytes())
}

/// Judge one value for cross-site scripting.
pub(crate) fn detect(value: &str, scope: Scope, findings: &mut Vec<Finding>) {
    // A value of ASCII without any of these bytes has nothing any rule below reads, so it is
    // judged after one scan: tags, the data-document test, processing instructions and
    // declarations start at `<` (or are the end of a CDATA section, `]]>`); the Latin-1 fold
    // needs non-ASCII; script URLs a `:`; the encoded `<` one of `&`, `%`, `\`; UTF-7 tags a
    // `+`; attribute breaks an `=`; templates `{{`; sink calls one of `(`, `)`, backtick, `=`,
    // `.`, `[` (see `script::sinks`); and the tag-stripped text exists only when there are tags.
    if !any_byte(value.as_bytes(), |b| {
        markup_byte(b)
            | (b == b'(')
            | (b == b')')
            | (b == b'`')
            | (b == b'.')
            | (b == b'[')
            | (b == b']')
    }) {
        return;
    }
    // A value of ASCII without any of these bytes has no markup and nothing but the sink scan
    // can read it (User-Agents, units, codes with `.` or parentheses): no tag (each starts at
    // `<`), so no tag finding, no data document and no tag-stripped text, and the clinical
    // scope ends there; no Latin-1 fold (non-ASCII); no script URL (`:`); no processing
    // instruction or declaration (`<`, or `]]>`, which needs `>`); no encoded `<` (`&`, `%`,
    // `\`); no UTF-7 tag (`+`); no attribute break (`=`); no template (`{`). Only the sink
    // scan runs, as `detect_in` runs it (its hit is pushed whatever its score).
    if !any_byte(value.as_bytes(), |b| markup_byte(b) | (b == b'>')) {
        if scope == Scope::Full
            && let Some(hit) = script::sinks(value.as_bytes())
        {
            push(findings, hit.rule, hit.score, hit.start, hit.end);
        }
        return;
    }
    detect_in(value, scope, findings);
}

/// The bytes that every rule of [`detect_in`] but the sink scan and the `]]>` end of a CDATA
/// section needs one of (see the shortcuts in [`detect`]): non-ASCII, `<`, `:`, `&`, `%`,
/// `\`, `+`, `=`, `{`.
#[inline(always)]
fn markup_byte(b: u8) -> bool {
    (b >= 0x80)
        | (b == b'<')
        | (b == b':')
        | (b == b'&')
        | (b == b'%')
        | (b == b'\\')
        | (b == b'+')
        | (b == b'=')
        | (b == b'{')
}

/// [`detect`] without its byte-presence shortcuts (for the tests and the fuzz target that
/// compare the two).
pub(super) fn detect_in(value: &str, scope: Scope, findings: &mut Vec<Finding>) {
    let text = value.as_bytes();
    let before = findings.len();
    let mut scratch = String::new();
    let mut weak: Option<(&'static str, u16, usize, usize)> = None;
    // An XML message or document (HL7 v3, CDA) carried in a value is data with its own
    // vocabulary (`<title>`, `<text>`, prefixes): only what executes counts there.
    let document = scope == Scope::Full && inject::is_data_document(value);
    let inject = scope == Scope::Full && !document;
    for tag in html::tags(text) {
        if let Some((rule, score)) = judge_tag(value, &tag, scope, inject, &mut scratch) {
            if score >= 5 {
                return push(findings, rule, score, tag.start, tag.end);
            }
            weak = weak.or(Some((rule, score, tag.start, tag.end)));
        }
    }
    // One weak finding explains a value; more would only add up.
    if let Some((rule, score, start, end)) = weak {
        push(findings, rule, score, start, end);
    }
    if scope == Scope::Markup {
        return;
    }
    // `¼script¾`: servers that drop the high bit of Latin-1 bytes turn it into `<script>`.
    if value.contains('\u{BC}') && value.contains('\u{BE}') {
        let folded: String = value
            .chars()
            .map(|c| match c as u32 {
                0x80..=0xFF => char::from_u32(c as u32 - 0x80).unwrap_or(c),
                _ => c,
            })
            .collect();
        for tag in html::tags(folded.as_bytes()) {
            if let Some((rule, 5)) = judge_tag(&folded, &tag, scope, inject, &mut scratch) {
                return push(findings, rule, 5, 0, text.len());
            }
        }
    }
    if let Some(hit) = script::sinks(text) {
        push(findings, hit.rule, hit.score, hit.start, hit.end);
        if hit.score >= 5 {
            return;
        }
    }
    for (scheme, start, after) in script::schemes(text) {
        match scheme {
            Scheme::Script if script::code_follows(text, after) => {
                return push(findings, "xss.script-url", 5, start, after);
            }
            Scheme::ActiveData => return push(findings, "xss.data-url", 5, start, after),
            _ => {}
        }
    }
    if let Some((start, end)) = processing_instruction(text) {
        return push(findings, "xss.embedding-tag", 5, start, end);
    }
    if let Some((start, end)) = inject::declaration(text).filter(|_| !document) {
        return push(findings, "xss.markup-declaration", 5, start, end);
    }
    if inject::encoded_less_than(value) {
        return push(findings, "xss.encoded-tag-open", 5, 0, text.len());
    }
    if let Some((start, end)) = inject::utf7_tag(text) {
        return push(findings, "xss.utf7-tag", 5, start, end);
    }
    if let Some((start, end)) = attribute_break(text) {
        return push(findings, "xss.attribute-break", 5, start, end);
    }
    if let Some((start, end)) = template_injection(text) {
        return push(findings, "xss.template-injection", 5, start, end);
    }
    // `autof<x>ocus o<x>nfocus=alert<x>(1)`: what a filter that strips tags leaves behind.
    if let Some(stripped) = without_tags(value) {
        let stripped = stripped.as_bytes();
        if attribute_break(stripped).is_some()
            || script::sinks(stripped).is_some_and(|h| h.score >= 5)
        {
            return push(findings, "xss.stripped-tags", 5, 0, text.len());
        }
    }
    let _ = before;
}

/// `value` with its tags removed, when it has any.
fn without_tags(value: &str) -> Option<String> {
    let tags = html::tags(value.as_bytes());
    if tags.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(value.len());
    let mut copied = 0;
    for tag in tags {
        if tag.start < copied {
            continue;
        }
        out.push_str(value.get(copied..tag.start)?);
        copied = tag.end;
    }
    out.push_str(value.get(copied..)?);
    Some(out)
}

/// The lower-case name of a tag or attribute (empty when longer than any name we know).
fn lower_name<'b>(value: &str, range: std::ops::Range<usize>, buf: &'b mut [u8; 32]) -> &'b str {
    value
        .as_bytes()
        .get(range)
        .and_then(|n| lower_into(n, buf))
        .unwrap_or("")
}

fn judge_tag(
    value: &str,
    tag: &Tag,
    scope: Scope,
    inject: bool,
    scratch: &mut String,
) -> Option<(&'static str, u16)> {
    let mut buf = [0u8; 32];
    let name = lower_name(value, tag.name.clone(), &mut buf).to_owned();
    if tag.end_tag {
        if scope == Scope::Markup {
            return None;
        }
        if name == "script" {
            return Some(("xss.script-tag", 5));
        }
        return if inject {
            inject::judge(value, tag, &name, scratch)
        } else {
            None
        };
    }
    let mut best: Option<(&'static str, u16)> = None;
    let mut raise = |found: (&'static str, u16)| {
        if best.is_none_or(|b| found.1 > b.1) {
            best = Some(found);
        }
    };
    let substantial = tag.closed || !tag.attrs.is_empty();
    match name.as_str() {
        "script" => raise(("xss.script-tag", if substantial { 5 } else { 3 })),
        "iframe" | "frame" | "frameset" | "object" | "embed" | "applet" | "portal" | "xml"
        | "import" | "layer" | "ilayer" | "bgsound" => {
            raise(("xss.embedding-tag", if substantial { 5 } else { 3 }))
        }
        "base" | "link" if has_attr(value, tag, &["href"]) => raise(("xss.embedding-tag", 5)),
        "meta" if has_attr(value, tag, &["http-equiv", "content", "charset"]) => {
            raise(("xss.embedding-tag", 5))
        }
        "form" | "button" | "input" if has_attr(value, tag, &["action", "formaction"]) => {
            raise(("xss.embedding-tag", 5))
        }
        "style" => {
            let sheet = value
                .get(tag.end..floor(value, tag.end + MAX_VALUE))
                .unwrap_or("");
            // The sheet runs to the next tag (`</style>`).
            let sheet = sheet.split('<').next().unwrap_or("");
            if css::is_active(sheet) {
                raise(("xss.style-expression", 5));
            } else if scope == Scope::Full && tag.closed {
                raise(("xss.embedding-tag", 3));
            }
        }
        "set" | "animate" | "animatetransform" | "animatemotion"
            if has_attr(value, tag, &["attributename"]) && animates_link(value, tag) =>
        {
            raise(("xss.svg-animation", 5))
        }
        _ => {}
    }
    for attr in &tag.attrs {
        let mut nbuf = [0u8; 32];
        let attr_name = lower_name(value, attr.name.clone(), &mut nbuf);
        let Some(range) = attr.value.clone() else {
            continue;
        };
        let raw = value
            .get(range.start..floor(value, range.end.min(range.start + MAX_ATTR)))
            .unwrap_or("");
        decode_entities_into(raw, MAX_ATTR, scratch);
        let decoded = scratch.as_bytes();
        // Any `on*` attribute with a value: browsers add event names every year, and a probe
        // with an invented one (`onxxx=1`) tests the filter the real one will pass.
        let handler = events::is_event_handler(attr_name)
            || attr_name.starts_with("on") && attr_name.len() >= 4
            || attr_name.ends_with(":handler")
            || attr_name == "handler";
        if handler && !decoded.iter().all(u8::is_ascii_whitespace) {
            raise(("xss.event-handler", 5));
        }
        if matches!(attr_name, "datasrc" | "datafld" | "dataformatas") {
            raise(("xss.data-binding", 5));
        }
        for (scheme, start, _) in script::schemes(decoded) {
            // Only at the start of the value (after spaces) does a browser follow the URL;
            // inside, only style sheets and `content` of meta refresh do.
            let at_start = decoded
                .get(..start)
                .is_some_and(|p| p.iter().all(|b| b.is_ascii_whitespace() || *b < 0x20));
            let in_css = attr_name == "style" || attr_name == "content" || attr_name == "values";
            if !(at_start || in_css) {
                continue;
            }
            match scheme {
                Scheme::Script => raise(("xss.script-url", 5)),
                Scheme::ActiveData => raise(("xss.data-url", 5)),
                Scheme::PassiveData => {}
            }
        }
        // A resource the browser loads from elsewhere: remote script, styles, plugins.
        let loads = loads_resource(attr_name);
        let remote = decoded.starts_with(b"//") || decoded.windows(3).take(12).any(|w| w == b"://");
        if scope == Scope::Full && loads && remote {
            raise(("xss.remote-resource", 5));
        }
        match attr_name {
            "srcdoc" => raise(("xss.srcdoc", 5)),
            "style" if css::is_active(&scratch[..]) => raise(("xss.style-expression", 5)),
            _ => {}
        }
    }
    if inject && let Some(found) = inject::judge(value, tag, &name, scratch) {
        raise(found);
    }
    best
}

fn floor(value: &str, at: usize) -> usize {
    super::ascii::floor_char_boundary(value, at)
}

fn has_attr(value: &str, tag: &Tag, names: &[&str]) -> bool {
    tag.attrs.iter().any(|a| {
        let mut buf = [0u8; 32];
        let n = lower_name(value, a.name.clone(), &mut buf);
        names.contains(&n)
    })
}

/// `<set attributeName="href" to="javascript:...">`: SVG animation that rewrites a link.
fn animates_link(value: &str, tag: &Tag) -> bool {
    tag.attrs.iter().any(|a| {
        let mut buf = [0u8; 32];
        lower_name(value, a.name.clone(), &mut buf) == "attributename"
            && a.value.clone().and_then(|v| value.get(v)).is_some_and(|v| {
                let v = v.trim().to_ascii_lowercase();
                v == "href" || v == "xlink:href" || v.starts_with("on")
            })
    })
}

/// Whether an attribute value reads as script: a call, a template call, an assignment.
fn looks_like_code(value: &[u8]) -> bool {
    script::sinks(value).is_some() || memchr::memchr3(b'(', b'`', b'=', value).is_some()
}

/// `" onmouseover=alert(1)`: an event-handler attribute written after a quote, a space or a
/// slash, outside any tag (the value lands inside one).
fn attribute_break(text: &[u8]) -> Option<(usize, usize)> {
    // Both rules below need an `=` after the attribute name: text without one is not searched
    // for every `on` and `style`.
    memchr::memchr(b'=', text)?;
    attribute_break_in(text)
}

/// [`attribute_break`] without the `=` shortcut.
fn attribute_break_in(text: &[u8]) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(at) = find_ci_from(text, b"on", from) {
        from = at + 2;
        let before = at.checked_sub(1).and_then(|i| text.get(i));
        if !before.is_none_or(|b| {
            matches!(
                b,
                b'"' | b'\'' | b'`' | b'/' | b' ' | b'\t' | b'\n' | b'\r' | 0x0c | b';'
            )
        }) {
            continue;
        }
        let mut end = at + 2;
        while text.get(end).is_some_and(u8::is_ascii_alphabetic) {
            end += 1;
        }
        let mut eq = end;
        while text.get(eq).is_some_and(u8::is_ascii_whitespace) {
            eq += 1;
        }
        if text.get(eq) != Some(&b'=') || text.get(eq + 1) == Some(&b'=') {
            continue;
        }
        let mut buf = [0u8; 32];
        let Some(name) = text.get(at..end).and_then(|n| lower_into(n, &mut buf)) else {
            continue;
        };
        let value = text
            .get(eq + 1..(eq + 1 + 256).min(text.len()))
            .unwrap_or(b"");
        if events::is_event_handler(name)
            && (looks_like_code(value) || script::starts_with_call_sink(value))
            || name.len() >= 5 && script::sinks(value).is_some_and(|h| h.score >= 5)
        {
            return Some((at, eq + 1));
        }
    }
    // `' style=x:expression(alert(1)) '`
    let mut from = 0;
    while let Some(at) = find_ci_from(text, b"style", from) {
        from = at + 5;
        let before = at.checked_sub(1).and_then(|i| text.get(i));
        let mut eq = at + 5;
        while text.get(eq).is_some_and(u8::is_ascii_whitespace) {
            eq += 1;
        }
        if before.is_none_or(|b| matches!(b, b'"' | b'\'' | b' ' | b'/'))
            && text.get(eq) == Some(&b'=')
        {
            let css =
                std::str::from_utf8(text.get(eq + 1..(eq + 257).min(text.len())).unwrap_or(b""))
                    .unwrap_or("");
            if css::is_active(css) {
                return Some((at, eq + 1));
            }
        }
    }
    None
}

/// `<?xml-stylesheet href=..?>`: a style sheet (XSLT can run script) pulled into the page.
fn processing_instruction(text: &[u8]) -> Option<(usize, usize)> {
    let at = find_ci_from(text, b"<?xml-stylesheet", 0)?;
    Some((at, at + 16))
}

/// `{{constructor.constructor('alert(1)')()}}`: client-side template expressions (AngularJS,
/// Vue) that reach the Function constructor or the scope's evaluator.
fn template_injection(text: &[u8]) -> Option<(usize, usize)> {
    let mut from = 0;
    // Expressions examined: `{{{{{{...` must not cost a window per brace pair.
    for _ in 0..64 {
        let Some(rel) = text.get(from..).and_then(|s| find(s, b"{{")) else {
            break;
        };
        let open = from + rel;
        from = open + 2;
        let window = text.get(open..(open + 512).min(text.len())).unwrap_or(b"");
        let inner = match find(window, b"}}") {
            Some(close) => window.get(2..close).unwrap_or(b""),
            None => window.get(2..).unwrap_or(b""),
        };
        let markers: [&[u8]; 8] = [
            b"constructor",
            b"$eval",
            b"$on",
            b"__proto__",
            b"$emit",
            b"tostring().",
            b"charat",
            b"$parent",
        ];
        let lower = inner.to_ascii_lowercase();
        if markers.iter().any(|m| find(&lower, m).is_some())
            || script::sinks(inner).is_some_and(|h| h.score >= 5)
        {
            return Some((open, open + 2 + inner.len()));
        }
    }
    None
}
