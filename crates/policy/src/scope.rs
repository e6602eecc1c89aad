//! The SMART App Launch v2 scope grammar, as far as the policy needs it: to refuse a role
//! whose scopes a token could never carry.
//!
//! ```text
//! scope    = context "/" resource "." perms [ "?" param "=" value *( "&" param "=" value ) ]
//! context  = "patient" | "user" | "system"
//! resource = FHIR resource type | "*"
//! perms    = non-empty, in-order subset of "cruds"
//! ```

/// Scopes that are not about clinical data but that a role may still grant.
pub const NON_CLINICAL_SCOPES: &[&str] = &[
    "openid",
    "fhirUser",
    "profile",
    "launch",
    "launch/patient",
    "launch/encounter",
    "offline_access",
    "online_access",
];

/// Why a scope does not follow the SMART v2 grammar; each variant knows what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// No `/` between context and resource.
    #[error("scope {0:?} has no context: SMART scopes start with patient/, user/ or system/")]
    NoContext(String),
    /// A context other than patient, user or system.
    #[error("unknown scope context {0:?}")]
    UnknownContext(String),
    /// No `.` between resource and permissions.
    #[error("scope {0:?} has no permissions after the resource type")]
    NoPermissions(String),
    /// Not a FHIR R4 resource type.
    #[error("unknown FHIR resource type {0:?} in scope")]
    UnknownResourceType(String),
    /// A SMART v1 permission (`read`, `write`, `*`).
    #[error("SMART v1 permission {0:?}: the policy uses SMART v2 scopes")]
    Version1(String),
    /// Letters outside `cruds`, repeated, or out of order.
    #[error("permissions {0:?} are not an in-order subset of \"cruds\"")]
    BadPermissions(String),
    /// A `?param=value` constraint without a name or value.
    #[error("malformed constraint {0:?} in scope")]
    BadConstraint(String),
}

impl ScopeError {
    /// What to write instead.
    pub fn help(&self) -> String {
        match self {
            ScopeError::NoContext(_) | ScopeError::UnknownContext(_) => {
                "write context/Resource.perms, for example \"user/Observation.rs\"".to_owned()
            }
            ScopeError::NoPermissions(_) | ScopeError::BadPermissions(_) => {
                "write the letters c r u d s in that order, for example \".rs\" or \".cruds\""
                    .to_owned()
            }
            ScopeError::UnknownResourceType(name) => {
                let candidates: Vec<&str> = wardgate_fhir::RESOURCE_TYPES.to_vec();
                match crate::decode::closest(name, &candidates) {
                    Some(s) => format!("did you mean `{s}`? (or `*` for every type)"),
                    None => "write a FHIR R4 resource type such as Observation, or `*`".to_owned(),
                }
            }
            ScopeError::Version1(v1) => {
                let v2 = match v1.as_str() {
                    "read" => "rs",
                    "write" => "cud",
                    _ => "cruds",
                };
                format!("write \".{v2}\" (the SMART v2 form of \".{v1}\")")
            }
            ScopeError::BadConstraint(_) => {
                "write ?param=value, for example \"patient/Observation.rs?category=laboratory\""
                    .to_owned()
            }
        }
    }
}

/// Checks one scope against the SMART v2 grammar.
pub fn check_scope(scope: &str) -> Result<(), ScopeError> {
    if NON_CLINICAL_SCOPES.contains(&scope) {
        return Ok(());
    }
    let (context, rest) = scope
        .split_once('/')
        .ok_or_else(|| ScopeError::NoContext(scope.to_owned()))?;
    if !matches!(context, "patient" | "user" | "system") {
        return Err(ScopeError::UnknownContext(context.to_owned()));
    }
    let (resource_and_perms, constraints) = match rest.split_once('?') {
        Some((head, tail)) => (head, Some(tail)),
        None => (rest, None),
    };
    let (resource, perms) = resource_and_perms
        .rsplit_once('.')
        .ok_or_else(|| ScopeError::NoPermissions(scope.to_owned()))?;
    if resource != "*" && !wardgate_fhir::is_resource_type(resource) {
        return Err(ScopeError::UnknownResourceType(resource.to_owned()));
    }
    if matches!(perms, "read" | "write" | "*") {
        return Err(ScopeError::Version1(perms.to_owned()));
    }
    if !is_in_order_subset(perms) {
        return Err(ScopeError::BadPermissions(perms.to_owned()));
    }
    if let Some(constraints) = constraints {
        for pair in constraints.split('&') {
            match pair.split_once('=') {
                Some((name, value)) if !name.is_empty() && !value.is_empty() => {}
                _ => return Err(ScopeError::BadConstraint(pair.to_owned())),
            }
        }
    }
    Ok(())
}

/// Whether `perms` is a non-empty, in-order subset of `cruds`.
fn is_in_order_subset(perms: &str) -> bool {
    let mut remaining = "cruds";
    if perms.is_empty() {
        return false;
    }
    for letter in perms.chars() {
        match remaining.find(letter) {
            Some(at) => remaining = &remaining[at + 1..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_v2_grammar() {
        for ok in [
            "user/*.cruds",
            "patient/Observation.rs",
            "system/Patient.r",
            "user/MedicationAdministration.cru",
            "patient/Observation.rs?category=laboratory&status=final",
            "openid",
            "launch/patient",
        ] {
            assert_eq!(check_scope(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn refuses_what_a_token_could_not_carry() {
        assert_eq!(
            check_scope("Observation.rs"),
            Err(ScopeError::NoContext("Observation.rs".into()))
        );
        assert_eq!(
            check_scope("admin/Patient.rs"),
            Err(ScopeError::UnknownContext("admin".into()))
        );
        assert_eq!(
            check_scope("user/Patiant.rs"),
            Err(ScopeError::UnknownResourceType("Patiant".into()))
        );
        assert_eq!(
            check_scope("user/Patient.read"),
            Err(ScopeError::Version1("read".into()))
        );
        assert_eq!(
            check_scope("user/Patient.dus"),
            Err(ScopeError::BadPermissions("dus".into()))
        );
        assert_eq!(
            check_scope("user/Patient.rr"),
            Err(ScopeError::BadPermissions("rr".into()))
        );
        assert_eq!(
            check_scope("user/Patient"),
            Err(ScopeError::NoPermissions("user/Patient".into()))
        );
        assert_eq!(
            check_scope("user/Observation.rs?category"),
            Err(ScopeError::BadConstraint("category".into()))
        );
        assert!(
            ScopeError::UnknownResourceType("Patiant".into())
                .help()
                .contains("`Patient`")
        );
        assert!(ScopeError::Version1("read".into()).help().contains(".rs"));
    }
}
