//! Why an authentication step failed, and what the client is told.
//!
//! The client hears a stable OAuth error code, an HTTP status and a fixed sentence; the
//! precise internal reason (for the exchange record) stays in the variant.

use crate::store::StoreError;
use crate::tokens::TokenError;

/// An authentication or token failure.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown account, wrong password or disabled account: one answer for all three.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// Too many failures: the account or address is locked for a while.
    #[error("too many failed attempts; try again later")]
    Locked {
        /// Seconds until the lock ends.
        retry_after: i64,
    },
    /// A wrong, replayed or spent MFA code.
    #[error("invalid or already used code")]
    InvalidCode,
    /// The MFA challenge is unknown, spent or expired.
    #[error("the login has expired; start again")]
    ChallengeExpired,
    /// A refresh token that is unknown, expired, spent or of a revoked session.
    #[error("the refresh token is invalid")]
    InvalidRefresh,
    /// A missing or malformed parameter.
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    /// The requested scopes cannot be granted.
    #[error("invalid scope: {0}")]
    InvalidScope(String),
    /// Client authentication failed (mTLS fingerprint, client assertion).
    #[error("client authentication failed")]
    InvalidClient(&'static str),
    /// The grant type is not supported.
    #[error("unsupported grant type")]
    UnsupportedGrant,
    /// A bearer token was refused.
    #[error("invalid token")]
    InvalidToken(TokenError),
    /// The caller may not do this (e.g. declare an emergency without a role allowing it).
    #[error("not allowed: {0}")]
    NotAllowed(&'static str),
    /// A fresh second factor is needed.
    #[error("a second factor is required")]
    StepUpRequired,
    /// Storage or another internal failure (details never reach the client).
    #[error("internal error")]
    Internal(String),
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        AuthError::Internal(e.to_string())
    }
}

impl From<TokenError> for AuthError {
    fn from(e: TokenError) -> Self {
        AuthError::InvalidToken(e)
    }
}

impl AuthError {
    /// The OAuth 2 error code (RFC 6749 section 5.2, RFC 6750 section 3.1).
    pub fn oauth_code(&self) -> &'static str {
        match self {
            AuthError::InvalidCredentials
            | AuthError::Locked { .. }
            | AuthError::InvalidCode
            | AuthError::ChallengeExpired
            | AuthError::InvalidRefresh => "invalid_grant",
            AuthError::InvalidRequest(_) => "invalid_request",
            AuthError::InvalidScope(_) => "invalid_scope",
            AuthError::InvalidClient(_) => "invalid_client",
            AuthError::UnsupportedGrant => "unsupported_grant_type",
            AuthError::InvalidToken(_) => "invalid_token",
            AuthError::NotAllowed(_) => "access_denied",
            AuthError::StepUpRequired => "insufficient_user_authentication",
            AuthError::Internal(_) => "server_error",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::InvalidCredentials
            | AuthError::InvalidCode
            | AuthError::InvalidClient(_)
            | AuthError::InvalidToken(_)
            | AuthError::StepUpRequired => 401,
            AuthError::Locked { .. } => 429,
            AuthError::NotAllowed(_) => 403,
            AuthError::Internal(_) => 500,
            _ => 400,
        }
    }

    /// The sentence the client sees.
    pub fn public_description(&self) -> String {
        match self {
            AuthError::InvalidToken(_) => "the access token is invalid or expired".to_owned(),
            AuthError::InvalidClient(_) => "client authentication failed".to_owned(),
            AuthError::Internal(_) => "the request could not be processed".to_owned(),
            other => other.to_string(),
        }
    }
}
