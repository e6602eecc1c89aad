//! Exclusions and custom rules (virtual patches), as plain configuration.

use crate::location::{LocationPattern, PatternError};

/// Why an exclusion or a custom rule was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// The location pattern is not valid.
    #[error("location pattern: {0}")]
    Location(#[from] PatternError),
    /// The regular expression does not compile (or is too large).
    #[error("regular expression: {0}")]
    Regex(String),
    /// The literal pattern is empty.
    #[error("a literal pattern cannot be empty")]
    EmptyLiteral,
    /// The rule's id is empty or too long.
    #[error("a custom rule needs an id of 1 to 64 characters")]
    BadId,
}

/// Findings the engine drops: on a route, or on a field of a route, for some detectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exclusion {
    /// The locations it covers (`body:$.note[*].text`); `None` covers the whole request.
    pub location: Option<LocationPattern>,
    /// The detectors it silences: classes (`sqli`) or rules (`xss.event-handler`); empty for all.
    pub detectors: Vec<String>,
}

impl Exclusion {
    /// An exclusion of `detectors` (all when empty) at `location` (everywhere when `None`).
    pub fn new(location: Option<&str>, detectors: &[&str]) -> Result<Self, RuleError> {
        Ok(Exclusion {
            location: location.map(LocationPattern::parse).transpose()?,
            detectors: detectors.iter().map(|d| (*d).to_owned()).collect(),
        })
    }

    /// Whether a finding of `rule` (class `class`) at `location` is excluded.
    pub fn covers(&self, location: &str, class: &str, rule: &str) -> bool {
        let here = self.location.as_ref().is_none_or(|p| p.matches(location));
        here && (self.detectors.is_empty()
            || self
                .detectors
                .iter()
                .any(|d| d == class || d == rule || rule_in_family(rule, d)))
    }
}

/// `xss.event-handler` is in the family `xss` and `xss.event-handler`, not in `xs`.
fn rule_in_family(rule: &str, family: &str) -> bool {
    rule.strip_prefix(family)
        .is_some_and(|rest| rest.starts_with('.'))
}

/// What a matching custom rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleAction {
    /// Block: a finding with the blocking score.
    Block,
    /// Allow: without a location or pattern, the whole request passes uninspected; with them,
    /// the matching inputs are not inspected.
    Allow,
    /// Log (detect only): a hit that is recorded in the verdict and scores nothing, to try a
    /// rule on live traffic before it blocks.
    Log,
}

/// What a custom rule looks for in an input's value.
#[derive(Debug, Clone)]
pub enum RulePattern {
    /// A substring, compared ignoring ASCII case.
    Literal(String),
    /// A regular expression (the `regex` crate: linear time, no backtracking).
    Regex(regex::Regex),
}

impl RulePattern {
    /// A literal pattern.
    pub fn literal(text: &str) -> Result<Self, RuleError> {
        if text.is_empty() {
            return Err(RuleError::EmptyLiteral);
        }
        Ok(RulePattern::Literal(text.to_owned()))
    }

    /// A regular expression, bounded in compiled size.
    pub fn regex(source: &str) -> Result<Self, RuleError> {
        regex::RegexBuilder::new(source)
            .size_limit(1 << 20)
            .dfa_size_limit(1 << 20)
            .build()
            .map(RulePattern::Regex)
            .map_err(|e| RuleError::Regex(e.to_string()))
    }

    /// Whether `text` contains the pattern.
    pub fn is_match(&self, text: &str) -> bool {
        match self {
            RulePattern::Literal(needle) => contains_ignore_ascii_case(text, needle),
            RulePattern::Regex(re) => re.is_match(text),
        }
    }
}

impl PartialEq for RulePattern {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (RulePattern::Literal(a), RulePattern::Literal(b)) => a == b,
            (RulePattern::Regex(a), RulePattern::Regex(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

fn contains_ignore_ascii_case(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    n.len() <= h.len() && h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// A virtual patch: match on method, path prefix, location and value; block or allow.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomRule {
    /// The rule's id, shown in verdicts (`custom.<id>`).
    pub id: String,
    /// The methods it applies to (any case); empty for all.
    pub methods: Vec<String>,
    /// The path prefix it applies to (compared with the decoded, normalised path).
    pub path_prefix: Option<String>,
    /// The inputs it looks at; `None` for every input (or the request as a whole when there is
    /// no pattern either).
    pub location: Option<LocationPattern>,
    /// What it looks for in an input's value; `None` matches any value.
    pub pattern: Option<RulePattern>,
    /// What it does on a match.
    pub action: RuleAction,
}

impl CustomRule {
    /// A rule that matches every request, to be narrowed with the `with_*` methods.
    pub fn new(id: &str, action: RuleAction) -> Result<Self, RuleError> {
        if id.is_empty() || id.len() > 64 {
            return Err(RuleError::BadId);
        }
        Ok(CustomRule {
            id: id.to_owned(),
            methods: Vec::new(),
            path_prefix: None,
            location: None,
            pattern: None,
            action,
        })
    }

    /// Only for these methods.
    pub fn with_methods(mut self, methods: &[&str]) -> Self {
        self.methods = methods.iter().map(|m| (*m).to_owned()).collect();
        self
    }

    /// Only under this path prefix.
    pub fn with_path_prefix(mut self, prefix: &str) -> Self {
        self.path_prefix = Some(prefix.to_owned());
        self
    }

    /// Only at locations matching this pattern.
    pub fn with_location(mut self, pattern: &str) -> Result<Self, RuleError> {
        self.location = Some(LocationPattern::parse(pattern)?);
        Ok(self)
    }

    /// Only for values matching this pattern.
    pub fn with_pattern(mut self, pattern: RulePattern) -> Self {
        self.pattern = Some(pattern);
        self
    }

    /// Whether the rule applies to a request with this method and (normalised) path.
    pub fn applies_to(&self, method: &str, path: &str) -> bool {
        (self.methods.is_empty() || self.methods.iter().any(|m| m.eq_ignore_ascii_case(method)))
            && self
                .path_prefix
                .as_deref()
                .is_none_or(|prefix| path.starts_with(prefix))
    }

    /// Whether the rule judges the request as a whole rather than its inputs.
    pub fn is_request_wide(&self) -> bool {
        self.location.is_none() && self.pattern.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusions_cover_their_location_and_detectors_only() {
        let e =
            Exclusion::new(Some("body:$.note[*].text"), &["sqli", "xss.event-handler"]).unwrap();
        assert!(e.covers("body:$.note[0].text", "sqli", "sqli.tautology"));
        assert!(e.covers("body:$.note[0].text", "xss", "xss.event-handler"));
        assert!(!e.covers("body:$.note[0].text", "xss", "xss.script-tag"));
        assert!(!e.covers("body:$.comment", "sqli", "sqli.tautology"));
        let everywhere = Exclusion::new(None, &[]).unwrap();
        assert!(everywhere.covers("query:x", "rce", "rce.shell"));
        assert!(!rule_in_family("xss.a", "xs"));
    }

    #[test]
    fn rules_match_method_path_and_value() {
        let rule = CustomRule::new("cve-2099-1", RuleAction::Block)
            .unwrap()
            .with_methods(&["post"])
            .with_path_prefix("/laboratory/")
            .with_pattern(RulePattern::regex(r"(?i)\bexploit\d+").unwrap());
        assert!(rule.applies_to("POST", "/laboratory/fhir/Observation"));
        assert!(!rule.applies_to("GET", "/laboratory/fhir/Observation"));
        assert!(!rule.applies_to("POST", "/radiology/x"));
        assert!(rule.pattern.as_ref().unwrap().is_match("an EXPLOIT42 here"));
        assert!(RulePattern::literal("Union").unwrap().is_match("x UNION y"));
        assert!(RulePattern::regex("(").is_err());
        assert!(CustomRule::new("", RuleAction::Allow).is_err());
    }
}
