//! FHIR R4 search parameters: their names, their types and the grammar of their values.
//!
//! The firewall uses this to tell a value that fits its parameter's grammar (a date, a token
//! `system|code`, a reference `Patient/123`), which needs no further judgement, from free text
//! (names, `:text` and `:contains` searches, unknown parameters), which it inspects. The
//! department services use the same table to decide which searches they support.

mod grammar;
mod table;

#[cfg(fuzzing)]
pub use grammar::one_pass_checks_agree;
pub use grammar::{PREFIXES, validate_value};
pub use table::param_type;

/// The type of a search parameter (<https://hl7.org/fhir/R4/search.html#ptypes>).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchParamType {
    /// A number, with an optional prefix.
    Number,
    /// A date or date-time, with an optional prefix.
    Date,
    /// A string: free text by nature.
    String,
    /// A code, identifier or coding: `[system|]code`.
    Token,
    /// A reference: `[Type/]id`, a URL or a canonical.
    Reference,
    /// A combination of values joined by `$`.
    Composite,
    /// A quantity: `[prefix]number[|system|code]`.
    Quantity,
    /// A URI.
    Uri,
    /// A parameter with its own syntax (`_sort`, `_include`, `_has`, `near`, ...).
    Special,
}

/// What a search value's check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueCheck {
    /// The value fits the strict grammar of its parameter's type: it cannot carry markup, quotes
    /// or statements, so it needs no further inspection.
    Conforms,
    /// The parameter takes free text (a string, a `:text` or `:contains` search, a special
    /// parameter): the value must be inspected as text.
    FreeText,
    /// The parameter is not known for this resource type: the value must be inspected as text.
    Unknown,
}

/// Why a search value does not fit its parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchValueError {
    /// The value does not follow the grammar of the parameter's type.
    #[error("'{name}' expects a {expected}")]
    Malformed {
        /// The parameter's name as sent.
        name: String,
        /// What a valid value looks like.
        expected: &'static str,
    },
    /// The modifier does not exist or does not apply to this parameter's type.
    #[error("modifier ':{modifier}' does not apply to '{name}'")]
    BadModifier {
        /// The parameter's base name.
        name: String,
        /// The modifier as sent.
        modifier: String,
    },
    /// The value is longer than any legitimate search value.
    #[error("the value of '{0}' is too long")]
    TooLong(String),
}

/// The longest search value wardgate considers legitimate.
pub const MAX_VALUE_LEN: usize = 4096;

/// A search parameter's name, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamName<'a> {
    /// The parameter's own name, e.g. `subject` in `subject:Patient.name`.
    pub base: &'a str,
    /// The modifier after `:`, e.g. `exact`, `Patient`, `missing`; for `_has` everything after
    /// the first `:` (`Observation:patient:code`).
    pub modifier: Option<&'a str>,
    /// The chained parameters after `.`, e.g. `["name"]`.
    pub chain: Vec<&'a str>,
}

/// Split a parameter name into base, modifier and chain.
pub fn parse_name(name: &str) -> ParamName<'_> {
    if let Some(rest) = name.strip_prefix("_has:") {
        return ParamName {
            base: "_has",
            modifier: Some(rest),
            chain: Vec::new(),
        };
    }
    let mut parts = name.split('.');
    let head = parts.next().unwrap_or_default();
    let chain: Vec<&str> = parts.collect();
    let (base, modifier) = match head.split_once(':') {
        Some((base, modifier)) => (base, Some(modifier)),
        None => (head, None),
    };
    ParamName {
        base,
        modifier,
        chain,
    }
}

/// Check one search parameter of a request on `resource_type` (`None` for a system search).
///
/// Resolves the parameter's type (following chains and `_has` to the parameter that finally
/// takes the value), applies the modifier, and checks every comma-separated alternative.
pub fn check_param(
    resource_type: Option<&str>,
    name: &str,
    value: &str,
) -> Result<ValueCheck, SearchValueError> {
    if value.len() > MAX_VALUE_LEN {
        return Err(SearchValueError::TooLong(name.to_owned()));
    }
    let parsed = parse_name(name);
    if let Some(check) = grammar::check_result_parameter(&parsed, name, value)? {
        return Ok(check);
    }
    let Some((target_type, final_name, modifier)) = resolve(resource_type, &parsed) else {
        return Ok(ValueCheck::Unknown);
    };
    let Some(ptype) = param_type(target_type, final_name) else {
        return Ok(ValueCheck::Unknown);
    };
    validate_value(ptype, modifier, name, value)
}

/// Follow `_has` and chains to the resource type and parameter that take the value.
fn resolve<'a>(
    resource_type: Option<&'a str>,
    parsed: &ParamName<'a>,
) -> Option<(&'a str, &'a str, Option<&'a str>)> {
    if parsed.base == "_has" {
        // _has:Type:reference:param (possibly nested: _has:A:ref:_has:B:ref:param).
        let rest = parsed.modifier?;
        let mut parts = rest.splitn(3, ':');
        let has_type = parts.next()?;
        let _reference = parts.next()?;
        let param = parts.next()?;
        let inner = parse_name(param);
        return resolve(Some(has_type), &inner);
    }
    if let Some(last) = parsed.chain.last() {
        // subject:Patient.name: the value belongs to the last link's parameter, on the type the
        // previous link names (when it names one).
        let target = parsed
            .chain
            .len()
            .checked_sub(2)
            .and_then(|i| parsed.chain.get(i))
            .and_then(|link| link.split_once(':').map(|(_, t)| t))
            .or(parsed.modifier)?;
        if !crate::is_resource_type(target) {
            return None;
        }
        let link = parse_name(last);
        return Some((target, link.base, link.modifier));
    }
    Some((
        resource_type.unwrap_or("Resource"),
        parsed.base,
        parsed.modifier,
    ))
}

#[cfg(test)]
mod tests;
