//! Roles, operations, break-the-glass, step-up and external issuers: the part identity reads.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::units::serialize_duration;

/// Whether a role must use a second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MfaRequirement {
    /// A second factor at every login (the default for every human role).
    Required,
    /// A second factor only if the account enrolled one.
    Optional,
}

/// A staff role: the ceiling of what its members' tokens may carry, and where.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Role {
    /// What the role is, for people.
    pub description: String,
    /// SMART v2 scopes (`user/Observation.rs`), validated against the grammar.
    pub scopes: Vec<String>,
    /// Departments the role may reach at all.
    pub departments: Vec<String>,
    /// Second factor at login.
    pub mfa: MfaRequirement,
    /// Whether members may declare an emergency (break-the-glass).
    pub break_glass: bool,
    /// Whether access needs current security training.
    pub training_required: bool,
}

/// Who may invoke one FHIR `$operation` (SMART scopes do not cover operations).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Operation {
    /// Roles allowed to invoke it.
    pub roles: Vec<String>,
    /// The SMART letter (`c r u d s`) the caller also needs on the resource type.
    pub permission: Option<char>,
    /// Whether it stays available under break-the-glass.
    pub under_break_glass: bool,
}

/// Break-the-glass settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct BreakGlass {
    /// How long an emergency grant lasts.
    #[serde(serialize_with = "serialize_duration")]
    pub duration: Duration,
    /// Whether declaring an emergency needs a fresh second factor.
    pub require_step_up: bool,
}

impl Default for BreakGlass {
    fn default() -> Self {
        BreakGlass {
            duration: Duration::from_secs(30 * 60),
            require_step_up: true,
        }
    }
}

/// Interactions that need a recent second factor.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StepUpRule {
    /// FHIR interaction names (`delete`, `update`, ...) or `operation:NAME`.
    pub interactions: Vec<String>,
    /// How recent the second factor must be.
    #[serde(serialize_with = "serialize_duration")]
    pub within: Duration,
}

/// Where an external issuer's signing keys come from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JwksSource {
    /// Fetched over HTTPS.
    Url(String),
    /// Read from a file (air-gapped sites), absolute once loaded.
    File(PathBuf),
}

/// An external OpenID Connect issuer (Keycloak, Entra ID, ...) whose tokens are accepted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TrustedIssuer {
    /// The exact `iss` value.
    pub issuer: String,
    /// Its signing keys.
    pub jwks: JwksSource,
    /// The `aud` its tokens must carry for wardgate.
    pub audience: String,
    /// The claim holding the user name.
    pub username_claim: String,
    /// The claim holding role or group names.
    pub role_claim: String,
    /// Issuer role or group name -> wardgate role.
    pub role_map: BTreeMap<String, String>,
    /// The claim holding departments, if any.
    pub department_claim: Option<String>,
    /// Issuer department value -> wardgate department.
    pub department_map: BTreeMap<String, String>,
}
