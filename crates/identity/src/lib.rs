//! Identity and access for wardgate: who is asking, and may they.
//!
//! Owns: accounts (staff and services) in a store (embedded SQLite or shared PostgreSQL);
//! Argon2id passwords; TOTP MFA with replay refusal and recovery codes; brute-force counting
//! and lockout; the embedded OAuth 2 / SMART on FHIR authorization server (discovery, JWKS,
//! short-lived `EdDSA` access tokens, rotating refresh tokens, revocation on every node);
//! service authentication by mTLS or `private_key_jwt`; trusted external OIDC issuers;
//! break-the-glass; and the authorization decision (a pure function).
//!
//! Must not know about: sockets, hyper servers, TLS termination or the policy file format.
//! The gateway calls [`Identity::handle`] for `/auth/...` and SMART discovery paths,
//! [`Identity::authenticate`] in its authenticate phase, and [`authorize::authorize`] (or
//! [`Identity::authorize`]) in its authorize phase; it converts the policy crate's model into
//! an [`policy::AccessPolicy`].
#![forbid(unsafe_code)]

pub mod accounts;
pub mod auth_error;
pub mod authenticate;
pub mod authorize;
mod breakglass;
pub mod client_assertion;
pub mod clock;
mod demo;
pub mod events;
pub mod fetch;
pub mod http;
pub mod issue;
pub mod keys;
mod login;
pub mod mfa;
pub mod oidc;
pub mod password;
pub mod policy;
pub mod principal;
pub mod revocation;
pub mod scopes;
pub mod seal;
mod service;
pub mod store;
pub mod tokens;

pub use accounts::{AccountError, AccountSummary, CreatedUser, NewService, NewUser};
pub use auth_error::AuthError;
pub use authenticate::Credentials;
pub use authorize::{AccessRequest, Decision, Rule};
pub use demo::DemoAccount;
pub use issue::{TokenRequest, TokenResponse};
pub use login::LoginStep;
pub use principal::{Principal, PrincipalKind};
pub use service::{Identity, IdentityConfig, LockoutPolicy, OpenError};

impl Identity {
    /// The authorize phase under the current policy (see [`authorize::authorize`]).
    pub fn authorize(&self, principal: &Principal, request: &AccessRequest<'_>) -> Decision {
        authorize::authorize(&self.policy(), principal, request)
    }
}
