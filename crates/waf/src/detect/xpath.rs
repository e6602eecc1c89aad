//! XPath injection: axis steps (`child::node()`), XPath functions applied to the document
//! (`count(/*)`, `name(/*[1])`, `string-length(//user[1]/password)`), and predicate breaks
//! (`'] | //*[`). Quote-and-tautology forms (`' or '1'='1`) are shared with SQL and found by
//! the SQL detector.

use super::ascii::{find_ci_from, find_iter, is_ident_byte, lower_into};
use super::{AttackClass, Finding};

const AXES: &[&str] = &[
    "child",
    "descendant",
    "descendant-or-self",
    "ancestor",
    "ancestor-or-self",
    "parent",
    "following",
    "following-sibling",
    "preceding",
    "preceding-sibling",
    "attribute",
    "self",
    "namespace",
];

const FUNCTIONS: &[&str] = &[
    "count",
    "name",
    "local-name",
    "namespace-uri",
    "string-length",
    "string",
    "starts-with",
    "contains",
    "substring",
    "substring-before",
    "substring-after",
    "normalize-space",
    "translate",
    "number",
    "boolean",
    "sum",
    "doc",
    "document",
    "unparsed-text",
    "position",
    "last",
    "text",
    "node",
    "lower-case",
    "upper-case",
    "codepoints-to-string",
];

fn push(findings: &mut Vec<Finding>, rule: &'static str, start: usize, end: usize) {
    findings.push(Finding {
        class: AttackClass::Xpathi,
        rule,
        score: 5,
        span: start..end.max(start),
    });
}

/// Judge one value.
pub(crate) fn detect(value: &str, findings: &mut Vec<Finding>) {
    let b = value.as_bytes();
    // Axis steps: `name::` followed by a node test.
    for at in find_iter(b, b"::") {
        let mut start = at;
        while start > 0
            && b.get(start - 1)
                .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'-')
        {
            start -= 1;
        }
        let mut buf = [0u8; 32];
        let axis = b
            .get(start..at)
            .and_then(|w| lower_into(w, &mut buf))
            .unwrap_or("");
        let test = b
            .get(at + 2)
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'*');
        let bounded = start == 0
            || b.get(start - 1)
                .is_some_and(|c| matches!(c, b'/' | b'(' | b'[' | b' ' | b'|'));
        if test && bounded && AXES.contains(&axis) {
            return push(findings, "xpath.axis", start, at + 2);
        }
    }
    // Functions whose first argument is a path into the document.
    for at in memchr::memchr_iter(b'(', b) {
        let mut start = at;
        while start > 0
            && b.get(start - 1)
                .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'-')
        {
            start -= 1;
        }
        if start == at || start > 0 && b.get(start - 1).copied().is_some_and(is_ident_byte) {
            continue;
        }
        let mut buf = [0u8; 32];
        let name = b
            .get(start..at)
            .and_then(|w| lower_into(w, &mut buf))
            .unwrap_or("");
        if !FUNCTIONS.contains(&name) {
            continue;
        }
        let arg = b.get(at + 1..(at + 3).min(b.len())).unwrap_or(b"");
        if arg.starts_with(b"/")
            || arg.starts_with(b"./")
            || arg.starts_with(b"@")
            || arg.starts_with(b"..")
        {
            return push(findings, "xpath.document-function", start, at + 2);
        }
    }
    // `'] | //` and `"] | //`: a predicate closed, another path unioned in.
    let mut from = 0;
    while let Some(at) = find_ci_from(b, b"]", from) {
        from = at + 1;
        let quote_before = at > 0 && matches!(b.get(at - 1), Some(b'\'' | b'"'));
        let rest: Vec<u8> = b
            .get(at + 1..(at + 12).min(b.len()))
            .unwrap_or(b"")
            .iter()
            .copied()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        if quote_before
            && (rest.starts_with(b"|//")
                || rest.starts_with(b"|/")
                || rest.starts_with(b"or")
                || rest.starts_with(b"and"))
        {
            return push(findings, "xpath.predicate-break", at - 1, at + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(value: &str) -> bool {
        let mut f = Vec::new();
        detect(value, &mut f);
        !f.is_empty()
    }

    #[test]
    fn xpath_injection() {
        for a in [
            "' or count(/*)=1 or '",
            "count(/child::node())",
            "' and string-length(name(/*[1]))>0 and '",
            "x'] | //*[contains(.,'a",
            "/descendant::user",
        ] {
            assert!(found(a), "missed: {a}");
        }
        for b in [
            "count (of cells)",
            "name(s) of relatives",
            "std::string",
            "see [1] | table",
            "Text(note)",
        ] {
            assert!(!found(b), "false positive: {b}");
        }
    }
}
