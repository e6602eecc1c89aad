//! Who is asking: the result of the gateway's authenticate phase.

use crate::scopes::ScopeSet;

/// A person or a system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// A member of staff.
    User,
    /// A system authenticated by mTLS or a client assertion.
    Service,
}

/// An active break-the-glass grant carried by a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakGlassGrant {
    /// The grant id (also in the security event and every exchange record under it).
    pub id: String,
    /// When it ends.
    pub expires_at: i64,
    /// The patient it was declared for, if any.
    pub patient: Option<String>,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Stable subject: the account id (embedded) or the issuer's `sub` (external).
    pub subject: String,
    /// Login name, for records and messages.
    pub name: String,
    /// Person or system.
    pub kind: PrincipalKind,
    /// Who vouched for it: wardgate's issuer URL, an external issuer, or `mtls`.
    pub issuer: String,
    /// Role names.
    pub roles: Vec<String>,
    /// Department memberships.
    pub departments: Vec<String>,
    /// Granted SMART scopes.
    pub scopes: ScopeSet,
    /// The in-context patient for `patient/` scopes.
    pub patient: Option<String>,
    /// The device zone of a service account.
    pub zone: Option<String>,
    /// When the user last authenticated (Unix seconds).
    pub auth_time: i64,
    /// Authentication methods (`pwd`, `otp`, `mfa`, `mtls`, `private_key_jwt`).
    pub amr: Vec<String>,
    /// Until when security training is current.
    pub training_valid_until: Option<i64>,
    /// An active emergency grant.
    pub break_glass: Option<BreakGlassGrant>,
    /// The access token's `jti` (logged instead of the token).
    pub token_id: Option<String>,
    /// The session (refresh family) the token belongs to.
    pub session_id: Option<String>,
    /// The OAuth client that asked for the token.
    pub client_id: Option<String>,
}

impl Principal {
    /// Whether the principal proved a second factor.
    pub fn has_second_factor(&self) -> bool {
        self.amr.iter().any(|m| m == "otp" || m == "mfa")
    }
}
