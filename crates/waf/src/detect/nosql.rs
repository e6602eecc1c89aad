//! NoSQL (MongoDB) injection: query operators where data belongs (`{"$ne": ""}` as a JSON
//! key, `user[$ne]=` as a parameter name, `$where:` in a value), shell calls on collections
//! (`db.users.find(`), and JavaScript written for `$where` (loops on `new Date()`,
//! `this.password.match(`).

use super::ascii::{find_ci, find_ci_from, find_iter, lower_into};
use super::{AttackClass, Finding};

fn operator(name: &str) -> bool {
    matches!(
        name,
        "where"
            | "ne"
            | "eq"
            | "gt"
            | "gte"
            | "lt"
            | "lte"
            | "in"
            | "nin"
            | "regex"
            | "exists"
            | "or"
            | "and"
            | "not"
            | "nor"
            | "expr"
            | "function"
            | "accumulator"
            | "elemmatch"
            | "all"
            | "size"
            | "type"
            | "mod"
            | "text"
            | "search"
            | "jsonschema"
            | "lookup"
            | "graphlookup"
            | "merge"
            | "out"
            | "set"
            | "unset"
            | "inc"
            | "push"
            | "options"
    )
}

fn push(findings: &mut Vec<Finding>, rule: &'static str, start: usize, end: usize) {
    findings.push(Finding {
        class: AttackClass::Nosqli,
        rule,
        score: 5,
        span: start..end.max(start),
    });
}

/// Judge a JSON object key.
pub(crate) fn key(key: &str, findings: &mut Vec<Finding>) {
    let k = key.trim();
    let mut buf = [0u8; 32];
    if let Some(name) = k
        .strip_prefix('$')
        .and_then(|n| lower_into(n.as_bytes(), &mut buf))
        && operator(name)
    {
        push(findings, "nosql.operator-key", 0, key.len());
    }
}

/// Judge a parameter name: `user[$ne]`, `filter[$where]`.
pub(crate) fn name(name: &str, findings: &mut Vec<Finding>) {
    let b = name.as_bytes();
    for at in find_iter(b, b"[$") {
        let rest = b.get(at + 2..).unwrap_or(b"");
        let end = rest.iter().position(|c| *c == b']').unwrap_or(rest.len());
        let mut buf = [0u8; 32];
        if rest
            .get(..end)
            .and_then(|n| lower_into(n, &mut buf))
            .is_some_and(operator)
        {
            return push(findings, "nosql.operator-name", at, at + 2 + end);
        }
    }
}

/// Judge a value.
pub(crate) fn value(value: &str, findings: &mut Vec<Finding>) {
    let b = value.as_bytes();
    // `$op:` / `"$op":` inside the value: an object literal written into a string.
    for at in memchr::memchr_iter(b'$', b) {
        let rest = b.get(at + 1..).unwrap_or(b"");
        let n = rest.iter().take_while(|c| c.is_ascii_alphabetic()).count();
        let mut buf = [0u8; 32];
        let Some(op) = rest.get(..n).and_then(|w| lower_into(w, &mut buf)) else {
            continue;
        };
        let after: Vec<u8> = rest
            .get(n..(n + 4).min(rest.len()))
            .unwrap_or(b"")
            .iter()
            .copied()
            .filter(|c| !matches!(c, b'"' | b'\'' | b' '))
            .collect();
        if n > 0 && operator(op) && after.first() == Some(&b':') {
            return push(findings, "nosql.operator-value", at, at + 1 + n);
        }
    }
    // `db.collection.method(`
    let mut from = 0;
    while let Some(at) = find_ci_from(b, b"db.", from) {
        from = at + 3;
        if at > 0
            && b.get(at - 1)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'.')
        {
            continue;
        }
        let rest = b.get(at + 3..).unwrap_or(b"");
        let coll = rest
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
            .count();
        let Some(method_rest) = rest.get(coll..).and_then(|r| r.strip_prefix(b".")) else {
            continue;
        };
        let m = method_rest
            .iter()
            .take_while(|c| c.is_ascii_alphabetic())
            .count();
        if coll > 0 && m > 0 && method_rest.get(m) == Some(&b'(') {
            return push(findings, "nosql.shell-call", at, at + 3 + coll + 1 + m + 1);
        }
    }
    // JavaScript for `$where`.
    // Case-insensitive search of lower-case needles: the positions in a lower-cased copy.
    let has = |s: &[u8]| find_ci(b, s);
    let loop_on_time = has(b"new date").is_some()
        && (has(b"while(").is_some() || has(b"while (").is_some() || has(b"for(").is_some());
    let this_test = has(b"this.").is_some() && (has(b".match(").is_some() || has(b"==").is_some());
    if loop_on_time || this_test {
        push(findings, "nosql.where-javascript", 0, b.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_in_keys_names_and_values() {
        let mut f = Vec::new();
        key("$ne", &mut f);
        key("$where", &mut f);
        name("user[$regex]", &mut f);
        value("true, $where: '99 == 88'", &mut f);
        value("', $or: [ {}, { 'order':'order", &mut f);
        value("db.injection.insert({success:1});", &mut f);
        value(
            ";var date=new Date(); do{curDate = new Date();}while(curDate-date<10000)",
            &mut f,
        );
        value("' && this.password.match(/.*/)//", &mut f);
        assert_eq!(f.len(), 8);
        let mut g = Vec::new();
        key("resourceType", &mut g);
        key("$ref", &mut g);
        name("_include", &mut g);
        value("costs $5: paid", &mut g);
        value("see db.example.org", &mut g);
        value("The standard for the <$ tag is to enclose text", &mut g);
        assert!(g.is_empty(), "{g:?}");
    }
}
