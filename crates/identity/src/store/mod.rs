//! Where identity state lives: one trait, two real backends.
//!
//! SQLite (a file in the data directory) is the default for a single node; PostgreSQL is for
//! several gateway nodes sharing accounts, sessions and revocations. Both run the same SQL
//! (positional `$n` parameters work in both), written once in [`sql`], so the two cannot drift.

mod sql;

use std::future::Future;
use std::path::Path;
use std::pin::Pin;

pub use sql::{PostgresStore, SqliteStore};

/// A boxed future returned by every [`Store`] method, so the trait stays object-safe.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A storage failure. Carries no secrets: SQL errors never include bound values.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database answered with an error or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The embedded migrations could not be applied.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A stored value does not have the expected shape.
    #[error("stored value is malformed: {0}")]
    Corrupt(&'static str),
    /// The database URL or schema name is not acceptable.
    #[error("invalid database configuration: {0}")]
    Config(String),
}

/// Whether an account is a person or a system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountKind {
    /// A member of staff, who logs in with a password and MFA.
    Human,
    /// A system (lab analyser, interface engine) using mTLS or `private_key_jwt`.
    Service,
}

impl AccountKind {
    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            AccountKind::Human => "human",
            AccountKind::Service => "service",
        }
    }

    fn from_code(code: &str) -> Result<Self, StoreError> {
        match code {
            "human" => Ok(AccountKind::Human),
            "service" => Ok(AccountKind::Service),
            _ => Err(StoreError::Corrupt("account kind")),
        }
    }
}

/// One account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    /// Stable id (a UUID), the token `sub`.
    pub id: String,
    /// Login name, unique.
    pub name: String,
    /// Person or system.
    pub kind: AccountKind,
    /// Argon2id PHC string (humans only).
    pub password_hash: Option<String>,
    /// A disabled account cannot log in and its tokens are refused.
    pub disabled: bool,
    /// A sealed emergency account: every use raises an alert.
    pub sealed: bool,
    /// Whether MFA is required at login (humans: yes unless policy says otherwise).
    pub mfa_required: bool,
    /// The TOTP secret, sealed with the data key.
    pub totp_secret: Option<Vec<u8>>,
    /// Whether the user proved possession of the TOTP secret once.
    pub totp_confirmed: bool,
    /// The last TOTP time step accepted: a code of this step or earlier is a replay.
    pub totp_last_step: Option<i64>,
    /// Until when the account's security training is current (Unix seconds).
    pub training_valid_until: Option<i64>,
    /// SHA-256 fingerprint (lowercase hex) of the service's client certificate.
    pub cert_fingerprint: Option<String>,
    /// The service's JWKS (JSON) for `private_key_jwt` client assertions.
    pub jwks: Option<String>,
    /// The device zone a service account belongs to.
    pub zone: Option<String>,
    /// Role names.
    pub roles: Vec<String>,
    /// Department memberships.
    pub departments: Vec<String>,
    /// Tokens issued before this instant are refused (the account-wide revocation epoch).
    pub revoked_before: i64,
    /// When the account was created.
    pub created_at: i64,
}

/// The brute-force counter of one key (an account or a client address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, sqlx::FromRow)]
pub struct FailureState {
    /// Consecutive failures.
    pub count: i64,
    /// When the last failure happened.
    pub last_at: i64,
    /// Locked until this instant (0: not locked).
    pub locked_until: i64,
}

/// A pending MFA challenge: the password was right, the second factor is outstanding.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ChallengeRecord {
    /// The account that passed the password step.
    pub account_id: String,
    /// What the challenge is for (`login`).
    pub purpose: String,
    /// Wrong codes so far.
    pub attempts: i64,
    /// When it expires.
    pub expires_at: i64,
}

/// A login session: the family of refresh tokens issued from one authentication.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRecord {
    /// Session id (the `sid` claim).
    pub id: String,
    /// The account.
    pub account_id: String,
    /// The granted scopes, space separated.
    pub scope: String,
    /// Authentication methods (`pwd otp`), space separated.
    pub amr: String,
    /// When the user last authenticated (for step-up).
    pub auth_time: i64,
    /// When the session began.
    pub created_at: i64,
    /// When the session ends at the latest.
    pub expires_at: i64,
    /// The break-the-glass grant the session was opened under, if any.
    pub break_glass_id: Option<String>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

/// What presenting a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshUse {
    /// First use: the token is now spent; carries the session id.
    Fresh(String),
    /// The token was already spent: a replay, the family must be revoked.
    Reused(String),
    /// No such token (or expired).
    Unknown,
}

/// A token signing key as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SigningKeyRecord {
    /// Key id (`kid`).
    pub kid: String,
    /// JWS algorithm (`EdDSA`).
    pub alg: String,
    /// The PKCS#8 private key, sealed with the data key.
    pub sealed_private: Vec<u8>,
    /// The public JWK (JSON).
    pub public_jwk: String,
    /// When it was created (and published in the JWKS).
    pub created_at: i64,
    /// From when it signs; before that it is only published.
    pub signs_from: i64,
}

/// A break-the-glass grant.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BreakGlassRecord {
    /// Grant id.
    pub id: String,
    /// Who declared the emergency.
    pub account_id: String,
    /// The declared reason.
    pub reason: String,
    /// The patient it concerns, if declared.
    pub patient: Option<String>,
    /// Start.
    pub started_at: i64,
    /// Automatic end.
    pub expires_at: i64,
    /// Early end, if ended.
    pub ended_at: Option<i64>,
}

/// Revocations recent enough to matter for tokens still alive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revocations {
    /// Revoked sessions (`sid`).
    pub sessions: Vec<String>,
    /// Account-wide epochs: `(account id, tokens issued before this are refused)`.
    pub accounts: Vec<(String, i64)>,
}

/// The storage contract of the identity service. Every operation that must be atomic across
/// nodes (spending a TOTP step, a refresh token, a recovery code, a `jti`) is one conditional
/// statement whose affected-row count decides.
pub trait Store: Send + Sync {
    /// Insert a new account.
    fn create_account<'a>(&'a self, account: &'a AccountRecord) -> StoreFuture<'a, ()>;
    /// Find an account by login name.
    fn account_by_name<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<AccountRecord>>;
    /// Find an account by id.
    fn account_by_id<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<AccountRecord>>;
    /// Find the service bound to a client certificate fingerprint.
    fn account_by_fingerprint<'a>(
        &'a self,
        fingerprint: &'a str,
    ) -> StoreFuture<'a, Option<AccountRecord>>;
    /// Every account, by name.
    fn list_accounts(&self) -> StoreFuture<'_, Vec<AccountRecord>>;
    /// Enable or disable an account.
    fn set_disabled<'a>(&'a self, id: &'a str, disabled: bool) -> StoreFuture<'a, ()>;
    /// Replace the roles.
    fn set_roles<'a>(&'a self, id: &'a str, roles: &'a [String]) -> StoreFuture<'a, ()>;
    /// Replace the password hash.
    fn set_password<'a>(&'a self, id: &'a str, hash: &'a str) -> StoreFuture<'a, ()>;
    /// Replace the TOTP secret (None: no MFA enrolled), unconfirmed, forgetting the last step.
    fn set_totp<'a>(&'a self, id: &'a str, sealed: Option<&'a [u8]>) -> StoreFuture<'a, ()>;
    /// Spend a TOTP time step: true only if `step` is later than the last one spent.
    fn spend_totp_step<'a>(&'a self, id: &'a str, step: i64) -> StoreFuture<'a, bool>;
    /// Replace the recovery code hashes.
    fn set_recovery_codes<'a>(&'a self, id: &'a str, hashes: &'a [String]) -> StoreFuture<'a, ()>;
    /// Spend a recovery code: true only the first time.
    fn spend_recovery_code<'a>(&'a self, id: &'a str, hash: &'a str) -> StoreFuture<'a, bool>;
    /// Set or clear the training validity.
    fn set_training<'a>(&'a self, id: &'a str, until: Option<i64>) -> StoreFuture<'a, ()>;
    /// Refuse every token of the account issued before `before`.
    fn revoke_account<'a>(&'a self, id: &'a str, before: i64) -> StoreFuture<'a, ()>;

    /// Count one failure for `key`; returns the new state.
    fn record_failure<'a>(&'a self, key: &'a str, now: i64) -> StoreFuture<'a, FailureState>;
    /// Lock `key` until `until`.
    fn lock<'a>(&'a self, key: &'a str, until: i64) -> StoreFuture<'a, ()>;
    /// The current failure state of `key`.
    fn failure_state<'a>(&'a self, key: &'a str) -> StoreFuture<'a, FailureState>;
    /// Forget failures and any lock for `key`.
    fn clear_failures<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()>;

    /// Store a pending MFA challenge.
    fn put_challenge<'a>(
        &'a self,
        ticket_hash: &'a str,
        challenge: &'a ChallengeRecord,
    ) -> StoreFuture<'a, ()>;
    /// Read a live challenge.
    fn challenge<'a>(
        &'a self,
        ticket_hash: &'a str,
        now: i64,
    ) -> StoreFuture<'a, Option<ChallengeRecord>>;
    /// Count a wrong code against a challenge; returns the attempts so far.
    fn fail_challenge<'a>(&'a self, ticket_hash: &'a str) -> StoreFuture<'a, i64>;
    /// Spend a challenge: true only the first time.
    fn take_challenge<'a>(&'a self, ticket_hash: &'a str) -> StoreFuture<'a, bool>;

    /// Start a session.
    fn create_session<'a>(&'a self, session: &'a SessionRecord) -> StoreFuture<'a, ()>;
    /// Read a session.
    fn session<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<SessionRecord>>;
    /// Revoke a session (its refresh family and its access tokens).
    fn revoke_session<'a>(&'a self, id: &'a str, now: i64) -> StoreFuture<'a, ()>;
    /// Store a refresh token (by hash).
    fn put_refresh<'a>(
        &'a self,
        token_hash: &'a str,
        session_id: &'a str,
        expires_at: i64,
    ) -> StoreFuture<'a, ()>;
    /// Spend a refresh token.
    fn use_refresh<'a>(&'a self, token_hash: &'a str, now: i64) -> StoreFuture<'a, RefreshUse>;
    /// Revocations made since `since` (sessions) and account epochs later than `since`.
    fn revocations_since(&self, since: i64) -> StoreFuture<'_, Revocations>;
    /// Tell the other nodes that something was revoked (PostgreSQL `NOTIFY`; a no-op on SQLite,
    /// where there is only one node).
    fn announce_revocation<'a>(&'a self, payload: &'a str) -> StoreFuture<'a, ()>;

    /// Store a signing key.
    fn put_signing_key<'a>(&'a self, key: &'a SigningKeyRecord) -> StoreFuture<'a, ()>;
    /// Every signing key, oldest first.
    fn signing_keys(&self) -> StoreFuture<'_, Vec<SigningKeyRecord>>;
    /// Delete keys created before `before` (they signed nothing still alive).
    fn delete_signing_keys_before(&self, before: i64) -> StoreFuture<'_, ()>;

    /// Remember a `jti` until it expires: true if it was new, false on a replay.
    fn remember_jti<'a>(&'a self, key: &'a str, expires_at: i64, now: i64)
    -> StoreFuture<'a, bool>;

    /// Record a break-the-glass grant.
    fn start_break_glass<'a>(&'a self, grant: &'a BreakGlassRecord) -> StoreFuture<'a, ()>;
    /// End a grant early.
    fn end_break_glass<'a>(&'a self, id: &'a str, now: i64) -> StoreFuture<'a, ()>;
    /// Read a grant.
    fn break_glass<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<BreakGlassRecord>>;
    /// Mark grants past their end as ended and return them (each to exactly one caller, so
    /// one node raises the "stopped" event).
    fn expire_break_glass(&self, now: i64) -> StoreFuture<'_, Vec<BreakGlassRecord>>;
}

/// Where the identity store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// An SQLite file (created if missing).
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL database, optionally in its own schema.
    Postgres {
        /// `postgres://...` URL.
        url: String,
        /// Schema to create and use (`[a-z_][a-z0-9_]*`); `None`: the server's default.
        schema: Option<String>,
    },
}

/// Open (and migrate) the store at `location`.
pub async fn open(location: &StoreLocation) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    match location {
        StoreLocation::Sqlite(path) => Ok(std::sync::Arc::new(open_sqlite(path).await?)),
        StoreLocation::Postgres { url, schema } => Ok(std::sync::Arc::new(
            PostgresStore::connect(url, schema.as_deref()).await?,
        )),
    }
}

/// Open (and migrate) an SQLite store.
pub async fn open_sqlite(path: &Path) -> Result<SqliteStore, StoreError> {
    SqliteStore::open(path).await
}

pub(crate) fn join_list(items: &[String]) -> String {
    items.join(",")
}

pub(crate) fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether `name` is acceptable as a role, department, zone or schema name: lowercase ASCII
/// letters, digits, `_` and `-`, starting with a letter, at most 63 bytes.
pub fn is_plain_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && name.len() <= 63
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}
