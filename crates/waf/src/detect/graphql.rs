//! GraphQL abuse: schema introspection (`__schema { .. }`, `__type(name: ..)`), which maps the
//! whole API for an attacker, and selection sets nested deep enough to exhaust the server.
//!
//! Judged by the document's own grammar, wherever it arrives (a JSON `query` member, a query
//! parameter, a raw body): `__typename`, which clients add to every selection, is not
//! introspection of the schema.

use super::ascii::find_iter;
use super::{AttackClass, Finding};

/// Selection sets nested deeper than this are a resource attack, not a query a client writes.
const MAX_DEPTH: usize = 15;
/// Bytes of a value examined for nesting.
const MAX_SCAN: usize = 64 * 1024;

fn push(findings: &mut Vec<Finding>, rule: &'static str, start: usize, end: usize) {
    findings.push(Finding {
        class: AttackClass::Graphql,
        rule,
        score: 5,
        span: start..end.max(start),
    });
}

/// Judge one value for GraphQL introspection and abusive nesting.
pub(crate) fn detect(value: &str, findings: &mut Vec<Finding>) {
    let b = value.as_bytes();
    if let Some((start, end)) = introspection(b) {
        return push(findings, "graphql.introspection", start, end);
    }
    if let Some(at) = too_deep(b) {
        push(findings, "graphql.deep-nesting", 0, at);
    }
}

/// `__schema` followed by a selection set, or `__type` followed by its arguments.
fn introspection(b: &[u8]) -> Option<(usize, usize)> {
    for at in find_iter(b, b"__") {
        let preceded = at > 0 && b.get(at - 1).is_some_and(|c| is_name_byte(*c));
        if preceded {
            continue;
        }
        let name_end = at
            + b.get(at..)?
                .iter()
                .take_while(|c| is_name_byte(**c))
                .count();
        let name = b.get(at..name_end)?;
        let next = b
            .get(name_end..)?
            .iter()
            .find(|c| !c.is_ascii_whitespace() && **c != b',');
        match (name, next) {
            (b"__schema", Some(b'{')) | (b"__type", Some(b'(')) => return Some((at, name_end)),
            _ => {}
        }
    }
    None
}

/// Where nesting passes [`MAX_DEPTH`] in a value that reads as a GraphQL document (an
/// operation keyword or a selection set first); strings are skipped.
fn too_deep(b: &[u8]) -> Option<usize> {
    let start = b.iter().position(|c| !c.is_ascii_whitespace())?;
    let head = b.get(start..)?;
    let document = head.starts_with(b"{")
        || [&b"query"[..], b"mutation", b"subscription", b"fragment"]
            .iter()
            .any(|k| head.starts_with(k));
    if !document || memchr::memchr(b'{', b).is_none() {
        return None;
    }
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, &c) in b.iter().enumerate().take(MAX_SCAN) {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_string = true,
            b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(i + 1);
                }
            }
            b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(value: &str) -> Vec<&'static str> {
        let mut f = Vec::new();
        detect(value, &mut f);
        f.iter().map(|f| f.rule).collect()
    }

    #[test]
    fn introspection_and_deep_nesting_are_found() {
        for a in [
            "query IntrospectionQuery { __schema { queryType { name } } }",
            "IntrospectionQuery{__schema {queryType { name }}",
            "{\"query\": \"{__schema{types{name}}}\"}",
            "{ __type(name: \"Patient\") { fields { name } } }",
        ] {
            assert_eq!(rules(a), vec!["graphql.introspection"], "{a}");
        }
        let deep = format!("query {}{}", "a { ".repeat(20), "}".repeat(20));
        assert_eq!(rules(&deep), vec!["graphql.deep-nesting"]);
    }

    #[test]
    fn ordinary_queries_and_text_are_not() {
        for b in [
            "query { patient(id: \"1\") { name { family } __typename } }",
            "{ a { b { c { d } } } }",
            "see __schema docs",
            "my__schema {x}",
            "the __type of the thing",
            "{\"resourceType\": \"Patient\"}",
        ] {
            assert!(rules(b).is_empty(), "{b}");
        }
        // Braces in a string do not count as nesting.
        let quoted = format!("query {{ a(s: \"{}\") }}", "{".repeat(40));
        assert!(rules(&quoted).is_empty());
    }
}
