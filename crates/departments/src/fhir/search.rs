//! Search over sealed resources: blind index tokens narrow the candidates, then the decrypted
//! candidates are matched exactly, sorted and paged.
//!
//! | parameter type | index tokens (HMAC of the normalised value)                | exact match after decryption |
//! | -------------- | ---------------------------------------------------------- | ---------------------------- |
//! | token, uri     | `code`, `system|code`, `system`                             | system and code equal        |
//! | string         | every prefix (1 to 8 characters) of every normalised word   | field or a word starts with  |
//! | reference      | `Type/id`, `id`                                             | same target                  |
//! | date           | every calendar year the value's interval touches            | interval comparison (prefix) |
//!
//! `:missing`, `:not`, `:contains`, `:text` and the `ne`/`ap` prefixes use no index: they
//! decrypt every resource of the type and match them all (correct, but a scan).

use serde_json::Value;
use wardgate_fhir::search::SearchParamType;

use super::FhirError;
use super::dates;
use super::params::{
    date_term, normalise_reference, normalise_text, paths, reference_term, string_terms,
    supported_type, token_terms, values_at,
};
use crate::crypto::Keyring;

/// How many leading characters of each word the string index covers.
const PREFIX_MAX: usize = 8;
/// Date index buckets are calendar years clamped to this range.
const YEAR_RANGE: (i64, i64) = (1800, 2200);
/// A value spanning more years than this is indexed as "long" and always a candidate.
const MAX_YEARS: i64 = 30;

/// One alternative value of a filter (`code=a,b` has two).
#[derive(Debug, Clone)]
enum Alternative {
    /// `[system|]code`; `system: Some("")` means "no system", `code: ""` means "any code".
    Token {
        system: Option<String>,
        code: String,
    },
    /// A normalised string.
    Text(String),
    /// `Type/id`, a bare id (any type), or a URL.
    Reference(String),
    /// A date interval with its prefix.
    Date { prefix: String, range: (i64, i64) },
    /// `true`/`false` of `:missing`.
    Missing(bool),
}

/// One search parameter of a query.
#[derive(Debug, Clone)]
struct Filter {
    name: String,
    ptype: SearchParamType,
    modifier: Option<String>,
    alternatives: Vec<Alternative>,
}

/// A parsed search: filters, sort order and page.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    filters: Vec<Filter>,
    sort: Vec<(String, bool)>,
    /// The page size.
    pub count: usize,
    /// The first result of the page.
    pub offset: usize,
    /// The snapshot id of a follow-up page (`_getpages`).
    pub getpages: Option<String>,
    /// The parameters to repeat in the `self` link (those that were applied).
    pub applied: Vec<(String, String)>,
    /// `_total=none` was asked.
    pub total_none: bool,
}

/// Split a query string into decoded `(name, value)` pairs (`+` is a space).
pub fn parse_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// Parameters that shape the answer, not the match.
const RESULT_PARAMS: &[&str] = &["_format", "_pretty", "_summary", "_elements"];

/// Read the parameters of a search on `rtype`. Unsupported parameters are refused unless
/// `lenient` (then ignored and left out of the self link, as FHIR asks).
pub fn parse_query(
    rtype: &str,
    pairs: &[(String, String)],
    default_count: usize,
    max_count: usize,
    lenient: bool,
) -> Result<SearchQuery, FhirError> {
    let mut query = SearchQuery {
        filters: Vec::new(),
        sort: Vec::new(),
        count: default_count,
        offset: 0,
        getpages: None,
        applied: Vec::new(),
        total_none: false,
    };
    if pairs.len() > 64 {
        return Err(FhirError::invalid(
            "wardgate.departments.too-many-parameters",
            "a search takes at most 64 parameters",
        ));
    }
    for (name, value) in pairs {
        if value.len() > wardgate_fhir::search::MAX_VALUE_LEN {
            return Err(FhirError::invalid(
                "wardgate.departments.bad-search",
                format!("the value of '{}' is too long", short(name)),
            ));
        }
        let bad = |expected: &str| {
            FhirError::invalid(
                "wardgate.departments.bad-search",
                format!("'{}' expects {expected}", short(name)),
            )
        };
        match name.as_str() {
            "_count" => {
                let n: usize = value.parse().map_err(|_| bad("a whole number"))?;
                query.count = n.min(max_count);
                continue;
            }
            "_offset" => {
                query.offset = value.parse().map_err(|_| bad("a whole number"))?;
                continue;
            }
            "_getpages" => {
                if value.len() != 32 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(bad("a page id from a paging link"));
                }
                query.getpages = Some(value.clone());
                continue;
            }
            "_total" => {
                query.total_none = value == "none";
                continue;
            }
            "_sort" => {
                for key in value.split(',') {
                    let (key, desc) = match key.strip_prefix('-') {
                        Some(k) => (k, true),
                        None => (key, false),
                    };
                    let sortable = matches!(
                        supported_type(rtype, key),
                        Some(
                            SearchParamType::Date
                                | SearchParamType::String
                                | SearchParamType::Token
                        )
                    );
                    if !sortable {
                        if lenient {
                            continue;
                        }
                        return Err(FhirError::not_supported(
                            "wardgate.departments.unsupported-sort",
                            format!("cannot sort by '{}'", short(key)),
                        ));
                    }
                    query.sort.push((key.to_owned(), desc));
                }
                query.applied.push((name.clone(), value.clone()));
                continue;
            }
            n if RESULT_PARAMS.contains(&n) => continue,
            _ => {}
        }
        let parsed = wardgate_fhir::search::parse_name(name);
        let ptype = if parsed.chain.is_empty() {
            supported_type(rtype, parsed.base)
        } else {
            None
        };
        let Some(ptype) = ptype else {
            if lenient {
                continue;
            }
            return Err(FhirError::not_supported(
                "wardgate.departments.unsupported-parameter",
                format!("this department cannot search by '{}'", short(name)),
            ));
        };
        let filter = parse_filter(parsed.base, parsed.modifier, ptype, value)?;
        query.filters.push(filter);
        query.applied.push((name.clone(), value.clone()));
    }
    Ok(query)
}

/// A parameter name as diagnostics may show it: only a plain name is echoed, never text that
/// could be a payload.
fn short(name: &str) -> String {
    let plain = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-:.".contains(&b));
    if plain {
        name.to_owned()
    } else {
        "(the parameter)".to_owned()
    }
}

fn parse_filter(
    name: &str,
    modifier: Option<&str>,
    ptype: SearchParamType,
    value: &str,
) -> Result<Filter, FhirError> {
    let bad = |expected: &str| {
        FhirError::invalid(
            "wardgate.departments.bad-search",
            format!("'{}' expects {expected}", short(name)),
        )
    };
    let modifier_ok = match (modifier, ptype) {
        (None, _) | (Some("missing"), _) => true,
        (Some("exact" | "contains"), SearchParamType::String) => true,
        (Some("not"), SearchParamType::Token) => true,
        (Some(t), SearchParamType::Reference) => wardgate_fhir::is_resource_type(t),
        _ => false,
    };
    if !modifier_ok {
        return Err(FhirError::not_supported(
            "wardgate.departments.unsupported-modifier",
            format!(
                "modifier ':{}' is not supported on '{}'",
                short(modifier.unwrap_or_default()),
                short(name)
            ),
        ));
    }
    let mut alternatives = Vec::new();
    if modifier == Some("missing") {
        alternatives.push(Alternative::Missing(match value {
            "true" => true,
            "false" => false,
            _ => return Err(bad("true or false")),
        }));
    } else {
        for raw_alt in split_unescaped(value, ',', usize::MAX) {
            let alt = unescape(raw_alt);
            alternatives.push(match ptype {
                SearchParamType::Token => match split_unescaped(raw_alt, '|', 2).as_slice() {
                    [system, code] => Alternative::Token {
                        system: Some(unescape(system)),
                        code: unescape(code),
                    },
                    _ => Alternative::Token {
                        system: None,
                        code: alt.clone(),
                    },
                },
                SearchParamType::Uri => Alternative::Token {
                    system: None,
                    code: alt.clone(),
                },
                SearchParamType::String => Alternative::Text(normalise_text(&alt)),
                SearchParamType::Reference => {
                    let reference = match modifier {
                        Some(t) => format!("{t}/{alt}"),
                        None if name == "patient" && wardgate_fhir::is_valid_id(&alt) => {
                            format!("Patient/{alt}")
                        }
                        None => normalise_reference(&alt),
                    };
                    Alternative::Reference(reference)
                }
                SearchParamType::Date => {
                    let (prefix, rest) = match alt.get(..2) {
                        Some(p) if wardgate_fhir::search::PREFIXES.contains(&p) => (p, &alt[2..]),
                        _ => ("eq", alt.as_str()),
                    };
                    let range =
                        dates::parse_range(rest).ok_or_else(|| bad("a date such as 2024-01-31"))?;
                    Alternative::Date {
                        prefix: prefix.to_owned(),
                        range,
                    }
                }
                _ => return Err(bad("a supported value")),
            });
        }
    }
    Ok(Filter {
        name: name.to_owned(),
        ptype,
        modifier: modifier.map(str::to_owned),
        alternatives,
    })
}

/// Split on `sep` where it is not escaped by a backslash; the pieces keep their escapes.
fn split_unescaped(value: &str, sep: char, limit: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut escaped) = (0, false);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            c if c == sep && out.len() + 1 < limit => {
                out.push(&value[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&value[start..]);
    out
}

/// Remove FHIR search escapes (`\,` `\|` `\$` `\\`).
fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut escaped = false;
    for c in value.chars() {
        if escaped || c != '\\' {
            out.push(c);
            escaped = false;
        } else {
            escaped = true;
        }
    }
    out
}

/// The terms of one parameter in a resource.
enum Terms {
    Tokens(Vec<(Option<String>, String)>),
    Texts(Vec<String>),
    References(Vec<String>),
    Dates(Vec<(i64, i64)>),
}

fn terms(rtype: &str, name: &str, ptype: SearchParamType, resource: &Value) -> Terms {
    let values: Vec<&Value> = paths(rtype, name)
        .unwrap_or_default()
        .iter()
        .flat_map(|p| values_at(resource, p))
        .collect();
    match ptype {
        SearchParamType::String => {
            let mut out = Vec::new();
            values.iter().for_each(|v| string_terms(v, &mut out));
            Terms::Texts(out.iter().map(|t| normalise_text(t)).collect())
        }
        SearchParamType::Reference => {
            Terms::References(values.iter().filter_map(|v| reference_term(v)).collect())
        }
        SearchParamType::Date => Terms::Dates(values.iter().filter_map(|v| date_term(v)).collect()),
        _ => {
            let mut out = Vec::new();
            values.iter().for_each(|v| token_terms(v, &mut out));
            Terms::Tokens(out)
        }
    }
}

fn word_prefixes(text: &str, out: &mut Vec<String>) {
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let chars: Vec<char> = word.chars().collect();
        for len in 1..=chars.len().min(PREFIX_MAX) {
            out.push(chars[..len].iter().collect());
        }
    }
}

fn years(range: (i64, i64)) -> Option<std::ops::RangeInclusive<i64>> {
    let lo = dates::year_of(range.0.max(dates::MIN)).clamp(YEAR_RANGE.0, YEAR_RANGE.1);
    let hi = dates::year_of((range.1 - 1).min(dates::MAX)).clamp(YEAR_RANGE.0, YEAR_RANGE.1);
    (range.0 > dates::MIN && range.1 < dates::MAX && hi - lo < MAX_YEARS).then_some(lo..=hi)
}

/// The blind index tokens of a resource.
pub fn index_tokens(keyring: &Keyring, rtype: &str, resource: &Value) -> Vec<Vec<u8>> {
    let mut tokens = Vec::new();
    for (name, ptype) in super::params::supported_names(rtype) {
        match terms(rtype, name, ptype, resource) {
            Terms::Tokens(list) => {
                for (system, code) in list {
                    tokens.push(keyring.token(&["tc", rtype, name, &code]));
                    if let Some(system) = system {
                        tokens.push(keyring.token(&["tsc", rtype, name, &system, &code]));
                        tokens.push(keyring.token(&["ts", rtype, name, &system]));
                    }
                }
            }
            Terms::Texts(list) => {
                let mut prefixes = Vec::new();
                list.iter().for_each(|t| word_prefixes(t, &mut prefixes));
                prefixes.sort();
                prefixes.dedup();
                for prefix in prefixes {
                    tokens.push(keyring.token(&["s", rtype, name, &prefix]));
                }
            }
            Terms::References(list) => {
                for reference in list {
                    tokens.push(keyring.token(&["r", rtype, name, &reference]));
                    if let Some((_, id)) = reference.rsplit_once('/') {
                        tokens.push(keyring.token(&["ri", rtype, name, id]));
                    }
                }
            }
            Terms::Dates(list) => {
                for range in list {
                    match years(range) {
                        Some(years) => {
                            for year in years {
                                tokens.push(keyring.token(&["d", rtype, name, &year.to_string()]));
                            }
                        }
                        None => tokens.push(keyring.token(&["d", rtype, name, "long"])),
                    }
                }
            }
        }
    }
    tokens.sort();
    tokens.dedup();
    tokens
}

/// The token groups that narrow a query's candidates (every group must match one of its
/// tokens); filters that cannot use the index contribute no group.
pub fn candidate_groups(keyring: &Keyring, rtype: &str, query: &SearchQuery) -> Vec<Vec<Vec<u8>>> {
    let mut groups = Vec::new();
    'filters: for filter in &query.filters {
        if matches!(
            filter.modifier.as_deref(),
            Some("missing" | "not" | "contains")
        ) {
            continue;
        }
        let name = filter.name.as_str();
        let mut group = Vec::new();
        for alt in &filter.alternatives {
            match alt {
                Alternative::Token { system, code } => match (system.as_deref(), code.as_str()) {
                    (Some(""), code) | (None, code) => {
                        group.push(keyring.token(&["tc", rtype, name, code]))
                    }
                    (Some(system), "") => group.push(keyring.token(&["ts", rtype, name, system])),
                    (Some(system), code) => {
                        group.push(keyring.token(&["tsc", rtype, name, system, code]))
                    }
                },
                Alternative::Text(text) => {
                    let Some(word) = text.split(' ').next().filter(|w| !w.is_empty()) else {
                        continue 'filters;
                    };
                    let prefix: String = word.chars().take(PREFIX_MAX).collect();
                    group.push(keyring.token(&["s", rtype, name, &prefix]));
                }
                Alternative::Reference(reference) => {
                    if reference.contains('/') {
                        group.push(keyring.token(&["r", rtype, name, reference]));
                    } else {
                        group.push(keyring.token(&["ri", rtype, name, reference]));
                    }
                }
                Alternative::Date { prefix, range } => {
                    let window = match prefix.as_str() {
                        "eq" => *range,
                        "gt" | "ge" | "sa" => (range.0, dates::MAX),
                        "lt" | "le" | "eb" => (dates::MIN, range.1),
                        _ => continue 'filters,
                    };
                    let lo = if window.0 == dates::MIN {
                        YEAR_RANGE.0
                    } else {
                        dates::year_of(window.0).clamp(YEAR_RANGE.0, YEAR_RANGE.1)
                    };
                    let hi = if window.1 == dates::MAX {
                        YEAR_RANGE.1
                    } else {
                        dates::year_of(window.1 - 1).clamp(YEAR_RANGE.0, YEAR_RANGE.1)
                    };
                    for year in lo..=hi {
                        group.push(keyring.token(&["d", rtype, name, &year.to_string()]));
                    }
                    group.push(keyring.token(&["d", rtype, name, "long"]));
                }
                Alternative::Missing(_) => continue 'filters,
            }
        }
        groups.push(group);
    }
    groups
}

/// Whether a resource matches every filter of the query.
pub fn matches(rtype: &str, resource: &Value, query: &SearchQuery) -> bool {
    query
        .filters
        .iter()
        .all(|f| filter_matches(rtype, resource, f))
}

fn filter_matches(rtype: &str, resource: &Value, filter: &Filter) -> bool {
    let terms = terms(rtype, &filter.name, filter.ptype, resource);
    let present = match &terms {
        Terms::Tokens(t) => !t.is_empty(),
        Terms::Texts(t) => !t.is_empty(),
        Terms::References(t) => !t.is_empty(),
        Terms::Dates(t) => !t.is_empty(),
    };
    let any = filter.alternatives.iter().any(|alt| match (alt, &terms) {
        (Alternative::Missing(missing), _) => *missing != present,
        (Alternative::Token { system, code }, Terms::Tokens(list)) => list.iter().any(|(s, c)| {
            let code_ok = code.is_empty() || c == code;
            let system_ok = match system.as_deref() {
                None => true,
                Some("") => s.is_none(),
                Some(system) => s.as_deref() == Some(system),
            };
            code_ok && system_ok
        }),
        (Alternative::Text(text), Terms::Texts(list)) => {
            list.iter().any(|t| match filter.modifier.as_deref() {
                Some("exact") => t == text,
                Some("contains") => t.contains(text.as_str()),
                _ => {
                    t.starts_with(text.as_str())
                        || t.split(' ').any(|w| w.starts_with(text.as_str()))
                        || {
                            // A multi-word search matches from any word start.
                            t.match_indices(' ')
                                .any(|(i, _)| t[i + 1..].starts_with(text.as_str()))
                        }
                }
            })
        }
        (Alternative::Reference(reference), Terms::References(list)) => list.iter().any(|r| {
            if reference.contains('/') {
                r == reference
            } else {
                r.rsplit_once('/').is_some_and(|(_, id)| id == reference)
            }
        }),
        (Alternative::Date { prefix, range }, Terms::Dates(list)) => {
            list.iter().any(|t| dates::matches(prefix, *range, *t))
        }
        _ => false,
    });
    if filter.modifier.as_deref() == Some("not") {
        !any
    } else {
        any
    }
}

/// A sort key of a resource for one sort parameter.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub enum SortValue {
    /// No value: sorts last.
    Missing,
    /// A number (dates: interval start).
    Number(i64),
    /// Text.
    Text(String),
}

/// The sort keys of a resource for the query's `_sort`.
pub fn sort_keys(rtype: &str, resource: &Value, query: &SearchQuery) -> Vec<SortValue> {
    query
        .sort
        .iter()
        .map(|(name, _)| {
            let Some(ptype) = supported_type(rtype, name) else {
                return SortValue::Missing;
            };
            match terms(rtype, name, ptype, resource) {
                Terms::Dates(d) => d
                    .iter()
                    .map(|r| r.0)
                    .min()
                    .map_or(SortValue::Missing, SortValue::Number),
                Terms::Texts(t) => t
                    .into_iter()
                    .min()
                    .map_or(SortValue::Missing, SortValue::Text),
                Terms::Tokens(t) => t
                    .into_iter()
                    .map(|(_, c)| c)
                    .min()
                    .map_or(SortValue::Missing, SortValue::Text),
                Terms::References(r) => r
                    .into_iter()
                    .min()
                    .map_or(SortValue::Missing, SortValue::Text),
            }
        })
        .collect()
}

/// Compare two resources' sort keys under the query's directions (missing values last).
pub fn compare(query: &SearchQuery, a: &[SortValue], b: &[SortValue]) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    for ((x, y), (_, desc)) in a.iter().zip(b).zip(&query.sort) {
        let ord = match (x, y) {
            (SortValue::Missing, SortValue::Missing) => Ordering::Equal,
            (SortValue::Missing, _) => Ordering::Greater,
            (_, SortValue::Missing) => Ordering::Less,
            _ => {
                let o = x.partial_cmp(y).unwrap_or(Ordering::Equal);
                if *desc { o.reverse() } else { o }
            }
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}
