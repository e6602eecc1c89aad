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

use wardgate_fhir::search::SearchParamType;

use super::FhirError;
use super::dates;
mod matching;

pub use matching::{SortValue, candidate_groups, compare, index_tokens, matches, sort_keys};

use super::params::{normalise_reference, normalise_text, supported_type};

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

/// An `_include` or `_revinclude`: resources of `source` point at others through `param`
/// (a reference parameter), optionally only at resources of type `target`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Include {
    /// The type whose reference parameter is followed.
    pub source: String,
    /// The reference parameter.
    pub param: String,
    /// Only references to this type, when given.
    pub target: Option<String>,
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
    /// `_include`: resources the matches refer to, added to each page.
    pub includes: Vec<Include>,
    /// `_revinclude`: resources that refer to the matches, added to each page.
    pub revincludes: Vec<Include>,
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
        includes: Vec::new(),
        revincludes: Vec::new(),
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
            "_include" | "_revinclude" => {
                let include = parse_include(value).filter(|i| {
                    // `_include` follows the matches' own references (no `:iterate`).
                    name == "_revinclude" || i.source == rtype
                });
                match include {
                    Some(include) if name == "_include" => query.includes.push(include),
                    Some(include) => query.revincludes.push(include),
                    None if lenient => continue,
                    None => {
                        return Err(FhirError::not_supported(
                            "wardgate.departments.unsupported-include",
                            format!(
                                "'{name}' takes Type:parameter[:Target] with a reference \
                                 parameter of that type{}",
                                if name == "_include" {
                                    " (the searched type)"
                                } else {
                                    ""
                                }
                            ),
                        ));
                    }
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

/// `Type:param[:Target]` with a reference parameter this department can follow.
fn parse_include(value: &str) -> Option<Include> {
    let mut parts = value.split(':');
    let source = parts.next()?;
    let param = parts.next()?;
    let target = parts.next();
    if parts.next().is_some()
        || !wardgate_fhir::is_resource_type(source)
        || target.is_some_and(|t| !wardgate_fhir::is_resource_type(t))
        || supported_type(source, param) != Some(SearchParamType::Reference)
    {
        return None;
    }
    Some(Include {
        source: source.to_owned(),
        param: param.to_owned(),
        target: target.map(str::to_owned),
    })
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
