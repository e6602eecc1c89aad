//! The blind index side of search: which tokens a resource is indexed under, which tokens
//! narrow a query's candidates, and the exact match, sort and comparison after decryption.

use serde_json::Value;
use wardgate_fhir::search::SearchParamType;

use super::super::dates;
use super::super::params::{
    date_term, normalise_text, paths, reference_term, string_terms, supported_type, token_terms,
    values_at,
};
use super::{Alternative, Filter, SearchQuery};
use crate::crypto::Keyring;

/// How many leading characters of each word the string index covers.
const PREFIX_MAX: usize = 8;
/// Date index buckets are calendar years clamped to this range.
const YEAR_RANGE: (i64, i64) = (1800, 2200);
/// A value spanning more years than this is indexed as "long" and always a candidate.
const MAX_YEARS: i64 = 30;

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
    for (name, ptype) in super::super::params::supported_names(rtype) {
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
