//! Search authorization: `_include`, `_revinclude`, chains, `_has` and `_type` must not reach a
//! resource type the caller may not read or search.
//!
//! A reference parameter whose target types we do not know is treated as reaching every type,
//! so only a `*` scope satisfies it: unknown means denied, never guessed.

use wardgate_fhir::search::parse_name;

use crate::scopes::ScopeSet;

/// How deep `_has` may nest before the request is refused.
const MAX_HAS_DEPTH: usize = 4;

/// A search parameter that reaches a type the caller may not use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchParamError {
    /// The parameter would return or filter on a type the scopes do not cover.
    #[error(
        "search parameter '{param}' reaches {target}, which the granted scopes do not allow ('{letter}')"
    )]
    Reaches {
        /// The parameter's name.
        param: String,
        /// The type it reaches (`*` for unknown targets).
        target: String,
        /// The letter needed.
        letter: char,
    },
    /// The parameter is malformed or nested too deeply.
    #[error("search parameter '{0}' is malformed")]
    Malformed(String),
}

/// The target types of common reference search parameters; `None`: unknown (any type).
fn reference_targets(param: &str) -> Option<&'static [&'static str]> {
    Some(match param {
        "patient" => &["Patient"],
        "subject" => &["Patient", "Group", "Device", "Location"],
        "encounter" | "context" => &["Encounter"],
        "performer" => &[
            "Practitioner",
            "PractitionerRole",
            "Organization",
            "CareTeam",
            "Patient",
            "RelatedPerson",
        ],
        "requester" => &[
            "Practitioner",
            "PractitionerRole",
            "Organization",
            "Patient",
            "RelatedPerson",
            "Device",
        ],
        "medication" => &["Medication"],
        "specimen" => &["Specimen"],
        "result" => &["Observation"],
        "imaging-study" => &["ImagingStudy"],
        "organization" | "managing-organization" => &["Organization"],
        "general-practitioner" => &["Practitioner", "PractitionerRole", "Organization"],
        "location" => &["Location"],
        "device" => &["Device"],
        _ => return None,
    })
}

fn require(
    scopes: &ScopeSet,
    param: &str,
    targets: Option<&[&str]>,
    letter: char,
) -> Result<(), SearchParamError> {
    let denied = |target: &str| SearchParamError::Reaches {
        param: param.to_owned(),
        target: target.to_owned(),
        letter,
    };
    match targets {
        Some(types) => {
            for ty in types {
                if scopes.covering(ty, letter).is_none() {
                    return Err(denied(ty));
                }
            }
            Ok(())
        }
        None if scopes.covers_all_types(letter) => Ok(()),
        None => Err(denied("*")),
    }
}

/// Whether a `_type` parameter lists only types the scopes cover with `letter`.
pub(super) fn types_param_covered(
    scopes: &ScopeSet,
    params: &[(String, String)],
    letter: char,
) -> bool {
    let mut seen = false;
    for (_, value) in params.iter().filter(|(n, _)| n == "_type") {
        seen = true;
        if !value
            .split(',')
            .all(|ty| !ty.is_empty() && scopes.covering(ty, letter).is_some())
        {
            return false;
        }
    }
    seen
}

/// Check every parameter of a search.
pub(super) fn check_params(
    scopes: &ScopeSet,
    params: &[(String, String)],
) -> Result<(), SearchParamError> {
    for (name, value) in params {
        let parsed = parse_name(name);
        match parsed.base {
            "_include" => check_include(scopes, name, value, false)?,
            "_revinclude" => check_include(scopes, name, value, true)?,
            "_has" => check_has(scopes, name, parsed.modifier.unwrap_or_default(), 0)?,
            "_type" => {
                for ty in value.split(',') {
                    require(scopes, name, Some(&[ty]), 's')?;
                }
            }
            _ if !parsed.chain.is_empty() => {
                // subject:Patient.name=x filters on Patient: searching it needs 's' there. Each
                // further link names its own target, or is looked up.
                let first_targets = match parsed.modifier {
                    Some(ty) if wardgate_fhir::is_resource_type(ty) => Some(vec![ty]),
                    _ => reference_targets(parsed.base).map(|t| t.to_vec()),
                };
                require(scopes, name, first_targets.as_deref(), 's')?;
                for link in &parsed.chain[..parsed.chain.len().saturating_sub(1)] {
                    let link = parse_name(link);
                    let targets = match link.modifier {
                        Some(ty) if wardgate_fhir::is_resource_type(ty) => Some(vec![ty]),
                        _ => reference_targets(link.base).map(|t| t.to_vec()),
                    };
                    require(scopes, name, targets.as_deref(), 's')?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// `_include=Type:param[:Target]` returns the targets; `_revinclude=Type:param[:Target]`
/// returns resources of `Type`. `*` includes everything.
fn check_include(
    scopes: &ScopeSet,
    name: &str,
    value: &str,
    reverse: bool,
) -> Result<(), SearchParamError> {
    if value == "*" {
        return require(scopes, name, None, 'r');
    }
    let mut parts = value.split(':');
    let (Some(source), Some(param)) = (parts.next(), parts.next()) else {
        return Err(SearchParamError::Malformed(name.to_owned()));
    };
    let target = parts.next();
    if !wardgate_fhir::is_resource_type(source) {
        return Err(SearchParamError::Malformed(name.to_owned()));
    }
    if reverse {
        return require(scopes, name, Some(&[source]), 'r');
    }
    match target {
        Some(t) if wardgate_fhir::is_resource_type(t) => require(scopes, name, Some(&[t]), 'r'),
        Some(_) => Err(SearchParamError::Malformed(name.to_owned())),
        None if param == "*" => require(scopes, name, None, 'r'),
        None => require(scopes, name, reference_targets(param), 'r'),
    }
}

/// `_has:Type:reference:param` filters on `Type` (searching it), possibly nested.
fn check_has(
    scopes: &ScopeSet,
    name: &str,
    rest: &str,
    depth: usize,
) -> Result<(), SearchParamError> {
    if depth >= MAX_HAS_DEPTH {
        return Err(SearchParamError::Malformed(name.to_owned()));
    }
    let mut parts = rest.splitn(3, ':');
    let (Some(ty), Some(_reference), Some(param)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(SearchParamError::Malformed(name.to_owned()));
    };
    if !wardgate_fhir::is_resource_type(ty) {
        return Err(SearchParamError::Malformed(name.to_owned()));
    }
    require(scopes, name, Some(&[ty]), 's')?;
    if let Some(inner) = param.strip_prefix("_has:") {
        check_has(scopes, name, inner, depth + 1)?;
    }
    Ok(())
}
