//! SMART App Launch v2 scopes (`user/Observation.rs`, `patient/*.r`, ...), with the v1 forms
//! mapped exactly as the specification says (`.read` = `rs`, `.write` = `cud`, `.*` = `cruds`)
//! and never guessed: anything else is refused.

use std::fmt;

/// The longest scope string accepted in a request.
pub const MAX_SCOPE_STRING: usize = 4096;
/// The most scopes accepted in one request.
pub const MAX_SCOPES: usize = 64;

/// The context a clinical scope applies in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScopeContext {
    /// `patient/`: only the in-context patient's compartment.
    Patient,
    /// `user/`: what the signed-in user may access.
    User,
    /// `system/`: a backend service without a user.
    System,
}

impl ScopeContext {
    /// The prefix as written.
    pub fn as_str(self) -> &'static str {
        match self {
            ScopeContext::Patient => "patient",
            ScopeContext::User => "user",
            ScopeContext::System => "system",
        }
    }
}

/// A set of SMART v2 permission letters (`c r u d s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Permissions(u8);

const LETTERS: [char; 5] = ['c', 'r', 'u', 'd', 's'];

impl Permissions {
    /// All five letters.
    pub const ALL: Permissions = Permissions(0b11111);

    /// Parse a v2 letter string: non-empty, in the order `cruds`, no repeats.
    pub fn parse_v2(text: &str) -> Option<Permissions> {
        let mut bits = 0u8;
        let mut next = 0usize;
        for ch in text.chars() {
            let pos = LETTERS.iter().position(|l| *l == ch)?;
            if pos < next {
                return None;
            }
            bits |= 1 << pos;
            next = pos + 1;
        }
        (bits != 0).then_some(Permissions(bits))
    }

    /// Whether `letter` is included.
    pub fn allows(self, letter: char) -> bool {
        LETTERS
            .iter()
            .position(|l| *l == letter)
            .is_some_and(|pos| self.0 & (1 << pos) != 0)
    }

    /// The letters both sets have.
    pub fn intersect(self, other: Permissions) -> Permissions {
        Permissions(self.0 & other.0)
    }

    /// Whether no letter is left.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, l) in LETTERS.iter().enumerate() {
            if self.0 & (1 << i) != 0 {
                write!(f, "{l}")?;
            }
        }
        Ok(())
    }
}

/// One clinical-data scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClinicalScope {
    /// `patient`, `user` or `system`.
    pub context: ScopeContext,
    /// The resource type; `None` for `*`.
    pub resource: Option<String>,
    /// The permitted letters.
    pub permissions: Permissions,
    /// Granular constraints (`?category=...`): mandatory search filters.
    pub constraints: Vec<(String, String)>,
}

impl ClinicalScope {
    /// Whether this scope covers `letter` on `resource_type`.
    pub fn covers(&self, resource_type: &str, letter: char) -> bool {
        self.permissions.allows(letter)
            && self.resource.as_deref().is_none_or(|r| r == resource_type)
    }
}

impl fmt::Display for ClinicalScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}.{}",
            self.context.as_str(),
            self.resource.as_deref().unwrap_or("*"),
            self.permissions
        )?;
        for (i, (k, v)) in self.constraints.iter().enumerate() {
            write!(f, "{}{k}={v}", if i == 0 { '?' } else { '&' })?;
        }
        Ok(())
    }
}

/// Why a scope string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// Too long or too many scopes.
    #[error("the scope parameter is too long")]
    TooLong,
    /// A clinical scope that does not follow the grammar (e.g. `.dus`, `.rw`, an unknown type).
    #[error("'{0}' is not a valid SMART scope")]
    Malformed(String),
}

/// A parsed scope string: clinical scopes plus the others (`openid`, `fhirUser`,
/// `offline_access`, `launch/patient`, ...), kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScopeSet {
    /// Clinical-data scopes.
    pub clinical: Vec<ClinicalScope>,
    /// Other scopes.
    pub other: Vec<String>,
}

const KNOWN_OTHER: &[&str] = &[
    "openid",
    "fhirUser",
    "profile",
    "offline_access",
    "online_access",
    "launch",
    "launch/patient",
    "launch/encounter",
];

/// Parse one clinical scope (v2, or v1 mapped).
pub fn parse_clinical(scope: &str) -> Result<ClinicalScope, ScopeError> {
    let bad = || ScopeError::Malformed(scope.to_owned());
    let (context, rest) = scope.split_once('/').ok_or_else(bad)?;
    let context = match context {
        "patient" => ScopeContext::Patient,
        "user" => ScopeContext::User,
        "system" => ScopeContext::System,
        _ => return Err(bad()),
    };
    let (body, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let (resource, perms) = body.rsplit_once('.').ok_or_else(bad)?;
    let resource = match resource {
        "*" => None,
        r if wardgate_fhir::is_resource_type(r) => Some(r.to_owned()),
        _ => return Err(bad()),
    };
    let permissions = match perms {
        "read" => Permissions::parse_v2("rs"),
        "write" => Permissions::parse_v2("cud"),
        "*" => Some(Permissions::ALL),
        letters => Permissions::parse_v2(letters),
    }
    .ok_or_else(bad)?;
    let mut constraints = Vec::new();
    if let Some(query) = query {
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').ok_or_else(bad)?;
            if k.is_empty() || v.is_empty() {
                return Err(bad());
            }
            constraints.push((k.to_owned(), v.to_owned()));
        }
    }
    Ok(ClinicalScope {
        context,
        resource,
        permissions,
        constraints,
    })
}

impl ScopeSet {
    /// Parse a space-separated scope string. Unknown non-clinical scopes are dropped (RFC 6749
    /// lets a server grant less than asked); a malformed clinical scope is an error, so a
    /// client learns it asked for something that does not exist rather than getting less.
    pub fn parse(text: &str) -> Result<ScopeSet, ScopeError> {
        if text.len() > MAX_SCOPE_STRING {
            return Err(ScopeError::TooLong);
        }
        let mut set = ScopeSet::default();
        for (count, word) in text.split_ascii_whitespace().enumerate() {
            if count >= MAX_SCOPES {
                return Err(ScopeError::TooLong);
            }
            let looks_clinical = ["patient/", "user/", "system/"]
                .iter()
                .any(|p| word.starts_with(p));
            if looks_clinical {
                let scope = parse_clinical(word)?;
                if !set.clinical.contains(&scope) {
                    set.clinical.push(scope);
                }
            } else if KNOWN_OTHER.contains(&word) && !set.other.iter().any(|o| o == word) {
                set.other.push(word.to_owned());
            }
        }
        Ok(set)
    }

    /// Parse scopes from policy (already validated there); malformed entries are skipped.
    pub fn from_policy(scopes: &[String]) -> ScopeSet {
        ScopeSet {
            clinical: scopes
                .iter()
                .filter_map(|s| parse_clinical(s).ok())
                .collect(),
            other: Vec::new(),
        }
    }

    /// What may be granted: each requested scope narrowed by the ceiling (the roles' scopes).
    ///
    /// A `patient/` request may be served from a `user/` ceiling (the patient context only
    /// narrows); a `user/` or `system/` request needs a ceiling of the same context.
    pub fn grant(&self, ceiling: &ScopeSet) -> ScopeSet {
        let mut out = ScopeSet {
            clinical: Vec::new(),
            other: self.other.clone(),
        };
        for asked in &self.clinical {
            for limit in &ceiling.clinical {
                let context_ok = asked.context == limit.context
                    || (asked.context == ScopeContext::Patient
                        && limit.context == ScopeContext::User);
                if !context_ok {
                    continue;
                }
                let resource = match (&asked.resource, &limit.resource) {
                    (None, r) | (r, None) => r.clone(),
                    (Some(a), Some(b)) if a == b => Some(a.clone()),
                    _ => continue,
                };
                let permissions = asked.permissions.intersect(limit.permissions);
                if permissions.is_empty() {
                    continue;
                }
                let mut constraints = asked.constraints.clone();
                for c in &limit.constraints {
                    if !constraints.contains(c) {
                        constraints.push(c.clone());
                    }
                }
                let scope = ClinicalScope {
                    context: asked.context,
                    resource,
                    permissions,
                    constraints,
                };
                if !out.clinical.contains(&scope) {
                    out.clinical.push(scope);
                }
            }
        }
        out
    }

    /// The first clinical scope covering `letter` on `resource_type`, preferring one without
    /// constraints and a `user`/`system` one over a `patient` one (the widest that applies).
    pub fn covering(&self, resource_type: &str, letter: char) -> Option<&ClinicalScope> {
        let mut best: Option<&ClinicalScope> = None;
        for scope in self
            .clinical
            .iter()
            .filter(|s| s.covers(resource_type, letter))
        {
            let rank =
                |s: &ClinicalScope| (s.constraints.is_empty(), s.context != ScopeContext::Patient);
            if best.is_none_or(|b| rank(scope) > rank(b)) {
                best = Some(scope);
            }
        }
        best
    }

    /// Whether a `*` scope covers `letter` (needed for system-wide searches).
    pub fn covers_all_types(&self, letter: char) -> bool {
        self.clinical
            .iter()
            .any(|s| s.resource.is_none() && s.permissions.allows(letter))
    }

    /// Whether any scope is patient-context.
    pub fn has_patient_context(&self) -> bool {
        self.clinical
            .iter()
            .any(|s| s.context == ScopeContext::Patient)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.clinical.is_empty() && self.other.is_empty()
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in self.other.iter() {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            f.write_str(s)?;
        }
        for s in &self.clinical {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_scopes_parse_and_print_back() {
        for text in [
            "user/Observation.rs",
            "patient/*.r",
            "system/Patient.cruds",
            "patient/Observation.rs?category=laboratory",
        ] {
            assert_eq!(parse_clinical(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn v1_forms_are_mapped_exactly() {
        assert_eq!(
            parse_clinical("user/Patient.read").unwrap().to_string(),
            "user/Patient.rs"
        );
        assert_eq!(
            parse_clinical("user/Patient.write").unwrap().to_string(),
            "user/Patient.cud"
        );
        assert_eq!(
            parse_clinical("patient/*.*").unwrap().to_string(),
            "patient/*.cruds"
        );
    }

    #[test]
    fn malformed_scopes_are_refused_not_guessed() {
        for bad in [
            "user/Observation.dus",
            "user/Observation.rr",
            "user/Observation.",
            "user/Observation.rw",
            "user/Observations.rs",
            "admin/Patient.rs",
            "user/Patient.rs?category",
        ] {
            assert!(parse_clinical(bad).is_err(), "{bad} should be refused");
        }
        assert!(ScopeSet::parse(&"user/Patient.rs ".repeat(100)).is_err());
    }

    #[test]
    fn grants_are_the_intersection_of_request_and_roles() {
        let roles =
            ScopeSet::from_policy(&["user/Patient.rs".into(), "user/Observation.cruds".into()]);
        let asked = ScopeSet::parse("openid user/*.cruds patient/Observation.r bogus").unwrap();
        let granted = asked.grant(&roles);
        assert_eq!(
            granted.to_string(),
            "openid user/Patient.rs user/Observation.cruds patient/Observation.r"
        );
        let escalate = ScopeSet::parse("user/Patient.cud system/*.cruds").unwrap();
        assert_eq!(escalate.grant(&roles).to_string(), "");
    }
}
