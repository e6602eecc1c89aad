//! The grammar of search values, one strict grammar per parameter type.
//!
//! Strict on purpose: a value that passes cannot carry quotes, markup, statement separators or
//! whitespace tricks, so the firewall may skip it. A legitimate value that fails is still
//! accepted by the firewall after inspection as text; strictness costs inspection, never care.

use super::{ParamName, SearchParamType, SearchValueError, ValueCheck};

/// The comparison prefixes of number, date and quantity searches.
pub const PREFIXES: &[&str] = &["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"];

/// Check a value of a parameter of type `ptype` with an optional modifier.
///
/// `name` is only used in the error. Comma-separated alternatives (`code=a,b`) are checked one
/// by one; `\,` is an escaped comma inside a value.
pub fn validate_value(
    ptype: SearchParamType,
    modifier: Option<&str>,
    name: &str,
    value: &str,
) -> Result<ValueCheck, SearchValueError> {
    let malformed = |expected| SearchValueError::Malformed {
        name: name.to_owned(),
        expected,
    };
    let bad_modifier = |modifier: &str| SearchValueError::BadModifier {
        name: name.to_owned(),
        modifier: modifier.to_owned(),
    };
    // Modifiers that change the grammar whatever the type.
    match modifier {
        Some("missing") => {
            return match value {
                "true" | "false" => Ok(ValueCheck::Conforms),
                _ => Err(malformed("true or false with :missing")),
            };
        }
        Some("text") | Some("contains") => return Ok(ValueCheck::FreeText),
        _ => {}
    }
    let (check, expected): (fn(&str) -> bool, &'static str) = match ptype {
        SearchParamType::String | SearchParamType::Composite | SearchParamType::Special => {
            return match modifier {
                None | Some("exact") => Ok(ValueCheck::FreeText),
                Some(other) if ptype == SearchParamType::String => Err(bad_modifier(other)),
                Some(_) => Ok(ValueCheck::FreeText),
            };
        }
        SearchParamType::Number => {
            no_modifier(modifier, &bad_modifier)?;
            (
                is_prefixed_number,
                "number, optionally prefixed (ge, lt, ...)",
            )
        }
        SearchParamType::Date => {
            no_modifier(modifier, &bad_modifier)?;
            (
                is_prefixed_date,
                "date such as 2024-11-01 or ge2024-11-01T08:00:00Z",
            )
        }
        SearchParamType::Quantity => {
            no_modifier(modifier, &bad_modifier)?;
            (
                is_quantity,
                "quantity such as 5.4|http://unitsofmeasure.org|mg",
            )
        }
        SearchParamType::Uri => match modifier {
            None | Some("above") | Some("below") => (is_uri, "URI"),
            Some(other) => return Err(bad_modifier(other)),
        },
        SearchParamType::Token => match modifier {
            None | Some("not") | Some("of-type") => (is_token, "token such as system|code"),
            Some("in") | Some("not-in") | Some("above") | Some("below") => (is_uri, "URI"),
            Some(other) => return Err(bad_modifier(other)),
        },
        SearchParamType::Reference => match modifier {
            Some("identifier") => (is_token, "identifier such as system|value"),
            Some("above") | Some("below") => (is_uri, "URI"),
            None => (is_reference, "reference such as Patient/123"),
            Some(t) if crate::is_resource_type(t) => (is_id_or_reference, "id"),
            Some(other) => return Err(bad_modifier(other)),
        },
    };
    for alternative in split_alternatives(value) {
        if !check(alternative) {
            return Err(malformed(expected));
        }
    }
    Ok(ValueCheck::Conforms)
}

/// The result-control and other parameters every search takes, with their own grammars.
/// `Ok(None)` when `parsed` is not one of them.
pub(super) fn check_result_parameter(
    parsed: &ParamName<'_>,
    name: &str,
    value: &str,
) -> Result<Option<ValueCheck>, SearchValueError> {
    let malformed = |expected| SearchValueError::Malformed {
        name: name.to_owned(),
        expected,
    };
    let conforms = |ok: bool, expected: &'static str| {
        if ok {
            Ok(Some(ValueCheck::Conforms))
        } else {
            Err(malformed(expected))
        }
    };
    let list_of = |value: &str, item: fn(&str) -> bool| value.split(',').all(item);
    // Every name below starts with `_`: other names (most of a search's) are not compared.
    if !parsed.base.starts_with('_') {
        return Ok(None);
    }
    match parsed.base {
        "_count" | "_offset" => conforms(is_unsigned(value), "non-negative whole number"),
        "_sort" => conforms(
            list_of(value, |v| is_name(v.strip_prefix('-').unwrap_or(v))),
            "comma-separated parameter names, each optionally prefixed with -",
        ),
        "_summary" => conforms(
            matches!(value, "true" | "false" | "text" | "data" | "count"),
            "one of true, false, text, data, count",
        ),
        "_total" => conforms(
            matches!(value, "none" | "estimate" | "accurate"),
            "one of none, estimate, accurate",
        ),
        "_elements" => conforms(list_of(value, is_name), "comma-separated element names"),
        "_include" | "_revinclude" => conforms(is_include(value), "Type:parameter[:TargetType]"),
        "_type" => conforms(
            list_of(value, crate::is_resource_type),
            "comma-separated resource types",
        ),
        "_format" => conforms(is_media_type(value), "json, xml or a FHIR media type"),
        "_pretty" => conforms(matches!(value, "true" | "false"), "true or false"),
        "_since" | "_at" => conforms(
            is_prefixed_date(value),
            "instant such as 2024-01-01T00:00:00Z",
        ),
        "_contained" => conforms(
            matches!(value, "true" | "false" | "both"),
            "one of true, false, both",
        ),
        "_containedType" => conforms(
            matches!(value, "container" | "contained"),
            "container or contained",
        ),
        _ => Ok(None),
    }
}

fn no_modifier(
    modifier: Option<&str>,
    bad_modifier: &dyn Fn(&str) -> SearchValueError,
) -> Result<(), SearchValueError> {
    match modifier {
        None => Ok(()),
        Some(other) => Err(bad_modifier(other)),
    }
}

/// Split on commas that are not escaped with a backslash, one piece at a time (the pieces of
/// `split_alternatives_at_once`, without collecting them: most values have one).
fn split_alternatives(value: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(value);
    std::iter::from_fn(move || {
        let current = rest?;
        // A piece starts after an unescaped comma (or at the start): nothing is escaped there.
        let mut escaped = false;
        for (i, &b) in current.as_bytes().iter().enumerate() {
            match b {
                b'\\' if !escaped => escaped = true,
                b',' if !escaped => {
                    rest = current.get(i + 1..);
                    return current.get(..i);
                }
                _ => escaped = false,
            }
        }
        rest = None;
        Some(current)
    })
}

/// [`split_alternatives`] as it was written before: every piece collected first (for the tests
/// that compare the two).
#[cfg(any(test, fuzzing))]
fn split_alternatives_at_once(value: &str) -> impl Iterator<Item = &str> {
    let mut start = 0;
    let mut escaped = false;
    let mut pieces = Vec::new();
    for (i, b) in value.bytes().enumerate() {
        match b {
            b'\\' if !escaped => escaped = true,
            b',' if !escaped => {
                pieces.push(&value[start..i]);
                start = i + 1;
            }
            _ => escaped = false,
        }
    }
    pieces.push(&value[start..]);
    pieces.into_iter()
}

fn strip_prefix(value: &str) -> &str {
    PREFIXES
        .iter()
        .find_map(|p| value.strip_prefix(p))
        .unwrap_or(value)
}

fn is_unsigned(value: &str) -> bool {
    !value.is_empty() && value.len() <= 9 && value.bytes().all(|b| b.is_ascii_digit())
}

fn is_number(value: &str) -> bool {
    let v = value.strip_prefix(['-', '+']).unwrap_or(value);
    let (mantissa, exponent) = match v.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (v, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_digit());
    digits(int)
        && frac.is_none_or(digits)
        && exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)))
}

fn is_prefixed_number(value: &str) -> bool {
    is_number(strip_prefix(value))
}

fn is_prefixed_date(value: &str) -> bool {
    is_date(strip_prefix(value))
}

/// `YYYY[-MM[-DD[Thh:mm[:ss[.fff]][Z|(+|-)hh:mm]]]]`; a `+` that became a space in a query is
/// accepted as a time-zone sign.
fn is_date(value: &str) -> bool {
    let b = value.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range.clone())
            .is_some_and(|s| s.len() == range.len() && s.iter().all(u8::is_ascii_digit))
    };
    if !digits(0..4) {
        return false;
    }
    let mut i = 4;
    for _ in 0..2 {
        if i == b.len() {
            return true;
        }
        if b[i] != b'-' || !digits(i + 1..i + 3) {
            return false;
        }
        i += 3;
    }
    if i == b.len() {
        return true;
    }
    if b[i] != b'T' || !digits(i + 1..i + 3) || b.get(i + 3) != Some(&b':') || !digits(i + 4..i + 6)
    {
        return false;
    }
    i += 6;
    if b.get(i) == Some(&b':') {
        if !digits(i + 1..i + 3) {
            return false;
        }
        i += 3;
        if b.get(i) == Some(&b'.') {
            let start = i + 1;
            i = start;
            while i < b.len() && b[i].is_ascii_digit() && i - start < 9 {
                i += 1;
            }
            if i == start {
                return false;
            }
        }
    }
    match b.get(i) {
        None => true,
        Some(b'Z') => i + 1 == b.len(),
        Some(b'+' | b'-' | b' ') => {
            digits(i + 1..i + 3)
                && b.get(i + 3) == Some(&b':')
                && digits(i + 4..i + 6)
                && i + 6 == b.len()
        }
        Some(_) => false,
    }
}

/// Characters of a URI that cannot start markup, strings or statements ([`URI_BYTE`] as it
/// was written before, for the tests that compare the two).
#[cfg(any(test, fuzzing))]
fn is_uri_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~:/?#@!$&*+=%".contains(&b)
}

/// Bytes as a table (index: byte): the characters of a URI that cannot start markup, strings
/// or statements.
static URI_BYTE: [bool; 256] = crate::byte_table(b"-._~:/?#@!$&*+=%");

/// URI bytes only, without `..` or `$(`, in one pass (`$(` cannot occur: `(` is not a URI
/// byte; it is checked all the same, as `is_uri_by_parts` does).
fn is_uri(value: &str) -> bool {
    let b = value.as_bytes();
    if b.is_empty() || b.len() > 2048 {
        return false;
    }
    let mut prev = 0u8;
    for &c in b {
        if !URI_BYTE[usize::from(c)] || (prev == b'.' && c == b'.') || (prev == b'$' && c == b'(') {
            return false;
        }
        prev = c;
    }
    true
}

/// [`is_uri`] as it was written before its one pass (for the tests that compare the two).
#[cfg(any(test, fuzzing))]
fn is_uri_by_parts(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 2048
        && value.bytes().all(is_uri_byte)
        && !value.contains("..")
        && !value.contains("$(")
}

/// `[system|]code`, `system|`, `|code`: a system is a URI, a code letters, digits and a few
/// punctuation marks (codes such as `718-7`, `LA6576-8`, `urn:oid:1.2.3`, `MRN-OBRIEN`).
fn is_token(value: &str) -> bool {
    if value.is_empty() || value.len() > 512 {
        return false;
    }
    let (system, code) = match value.split_once('|') {
        Some((s, c)) => (Some(s), c),
        None => (None, value),
    };
    let system_ok = system.is_none_or(|s| s.is_empty() || is_uri(s) && !s.contains('|'));
    let code_ok = is_code(code);
    system_ok && code_ok && (system.is_some() || !code.is_empty())
}

/// Bytes as a table (index: byte): what a token's code may hold.
static CODE_BYTE: [bool; 256] = crate::byte_table(b" ._-:/@+#");

/// A token's code: letters, digits and ` ._-:/@+#`, no space at either end, no two spaces in a
/// row (one pass).
fn is_code(code: &str) -> bool {
    let b = code.as_bytes();
    let mut prev = 0u8;
    for &c in b {
        if !CODE_BYTE[usize::from(c)] || (prev == b' ' && c == b' ') {
            return false;
        }
        prev = c;
    }
    b.first() != Some(&b' ') && b.last() != Some(&b' ')
}

/// [`is_code`] as it was written before its one pass (for the tests that compare the two).
#[cfg(any(test, fuzzing))]
fn is_code_by_parts(code: &str) -> bool {
    code.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b" ._-:/@+#".contains(&b))
        && !code.starts_with(' ')
        && !code.ends_with(' ')
        && !code.contains("  ")
}

fn is_id_or_reference(value: &str) -> bool {
    crate::is_valid_id(value) || is_reference(value)
}

/// `id`, `Type/id`, `Type/id/_history/vid`, an absolute `http(s)` URL ending in `Type/id`, or
/// a canonical `url|version`.
fn is_reference(value: &str) -> bool {
    if crate::is_valid_id(value) {
        return true;
    }
    let (url, version) = match value.split_once('|') {
        Some((u, v)) => (u, Some(v)),
        None => (value, None),
    };
    if version.is_some_and(|v| {
        !v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    }) {
        return false;
    }
    let relative = match split_scheme(url) {
        Some((scheme, rest)) => {
            if !matches!(scheme, "http" | "https") || !is_uri(rest) || rest.contains("//") {
                return false;
            }
            return true;
        }
        None => url,
    };
    // The parts between `/`, as far as a fifth (`Split` is fused: `None` once it ends).
    let mut parts = relative.split('/');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some(t), Some(id), None, None, None) => {
            crate::is_resource_type(t) && crate::is_valid_id(id)
        }
        (Some(t), Some(id), Some("_history"), Some(vid), None) => {
            crate::is_resource_type(t) && crate::is_valid_id(id) && crate::is_valid_id(vid)
        }
        _ => false,
    }
}

/// `url.split_once("://")`, found from each `:` (a search for one byte) instead of with a
/// substring searcher.
fn split_scheme(url: &str) -> Option<(&str, &str)> {
    let b = url.as_bytes();
    let mut from = 0;
    while let Some(at) = b.get(from..)?.iter().position(|&c| c == b':') {
        let colon = from + at;
        if b.get(colon + 1..colon + 3) == Some(b"//") {
            return Some((url.get(..colon)?, url.get(colon + 3..)?));
        }
        from = colon + 1;
    }
    None
}

/// `[prefix]number[|system|code]` or `number||code`.
fn is_quantity(value: &str) -> bool {
    let mut parts = value.splitn(3, '|');
    let number = parts.next().unwrap_or_default();
    if !is_prefixed_number(number) {
        return false;
    }
    match (parts.next(), parts.next()) {
        (None, None) => true,
        (Some(system), Some(code)) => {
            (system.is_empty() || is_uri(system))
                && !code.is_empty()
                && code.len() <= 64
                && code
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"[]{}*^/%._-".contains(&b))
        }
        _ => false,
    }
}

/// A parameter or element name: letters, digits, `_`, `-`, `.`, `:`.
fn is_name(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b))
}

/// `*`, `Type:parameter`, or `Type:parameter:TargetType`.
fn is_include(value: &str) -> bool {
    if value == "*" {
        return true;
    }
    let parts: Vec<&str> = value.split(':').collect();
    match parts.as_slice() {
        [t, p] => crate::is_resource_type(t) && (is_name(p) || *p == "*"),
        [t, p, target] => {
            crate::is_resource_type(t) && is_name(p) && crate::is_resource_type(target)
        }
        _ => false,
    }
}

fn is_media_type(value: &str) -> bool {
    matches!(value, "json" | "xml" | "ttl")
        || value.len() <= 100
            && value.contains('/')
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/+.-;= ".contains(&b))
}

/// [`is_reference`] as it was written before (a vector of parts, `split_once("://")`), for
/// the tests and the fuzz target that compare the two.
#[cfg(any(test, fuzzing))]
fn is_reference_by_parts(value: &str) -> bool {
    if crate::is_valid_id(value) {
        return true;
    }
    let (url, version) = match value.split_once('|') {
        Some((u, v)) => (u, Some(v)),
        None => (value, None),
    };
    if version.is_some_and(|v| {
        !v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    }) {
        return false;
    }
    let relative = match url.split_once("://") {
        Some((scheme, rest)) => {
            return matches!(scheme, "http" | "https") && is_uri(rest) && !rest.contains("//");
        }
        None => url,
    };
    let parts: Vec<&str> = relative.split('/').collect();
    match parts.as_slice() {
        [t, id] => crate::is_resource_type(t) && crate::is_valid_id(id),
        [t, id, "_history", vid] => {
            crate::is_resource_type(t) && crate::is_valid_id(id) && crate::is_valid_id(vid)
        }
        _ => false,
    }
}

/// Whether every one-pass check gives what the form it replaced gives on `value` (URI, code,
/// scheme split, reference, alternatives): for the tests and the fuzz target.
#[cfg(any(test, fuzzing))]
pub fn one_pass_checks_agree(value: &str) -> bool {
    is_uri(value) == is_uri_by_parts(value)
        && is_code(value) == is_code_by_parts(value)
        && split_scheme(value) == value.split_once("://")
        && is_reference(value) == is_reference_by_parts(value)
        && split_alternatives(value).eq(split_alternatives_at_once(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values of every shape the grammars read: URIs, tokens, references, escapes, spaces.
    fn samples() -> Vec<String> {
        let mut out: Vec<String> = [
            "",
            " ",
            "  ",
            "a",
            "a b",
            "a  b",
            " a",
            "a ",
            ",",
            ",,",
            "a,b",
            "a\\,b",
            "a\\\\,b",
            "\\",
            "a\\",
            "..",
            "a..b",
            "a.b",
            "$(",
            "$x",
            "$",
            "a$(b)",
            "http://loinc.org",
            "http://loinc.org|718-7",
            "http://x..y|1",
            "urn:oid:1.2.3|MRN-OBRIEN",
            "|code",
            "system|",
            "a|b|c",
            "Patient/1",
            "Patient/1/_history/2",
            "Patient/1/_history",
            "Patient/1/x/2",
            "Patient/1/_history/2/3",
            "Patient//1",
            "/Patient/1",
            "Patient/",
            "Nope/1",
            "patient/1",
            "https://h.org/fhir/Patient/7",
            "ftp://h/Patient/7",
            "https://h.org//x",
            "https:/h",
            "a://b://c",
            ":",
            "::",
            "://",
            "a:/",
            "x:y://z",
            "Patient/1|1.0",
            "Patient/1|1 0",
            "https://h/Q|2",
            "1:/",
            "a:b:c",
            "café",
            "a\u{0}b",
            "<script>",
            "1' or '1'='1",
            "http://h.org/a%20b",
            "x#y",
            "x@y",
            "x+y",
            "x y z",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        out.push("x".repeat(2048));
        out.push("x".repeat(2049));
        out
    }

    #[test]
    fn one_pass_checks_are_the_checks_they_replaced() {
        let samples = samples();
        let mut references = 0;
        for value in &samples {
            let v = value.as_str();
            assert!(one_pass_checks_agree(v), "{v:?}");
            references += usize::from(is_reference(v));
        }
        assert!(references >= 5, "{references}");
    }
}
