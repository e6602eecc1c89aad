//! The identity service: configuration, opening, shared state and background refreshes.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::clock::Clock;
use crate::events::{JsonLinesSink, SecurityEvent, SecurityEventSink};
use crate::keys::{self, KeyRing};
use crate::oidc::ExternalIssuers;
use crate::password::{HashCost, PasswordHashing};
use crate::policy::AccessPolicy;
use crate::revocation::RevocationState;
use crate::seal::DataKey;
use crate::store::{PostgresStore, SqliteStore, Store, StoreError, StoreLocation};
use crate::tokens::TokenVerifier;

/// Failure counting and lockout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures answered without delay.
    pub free_failures: i64,
    /// The first delay after the free failures, doubling with each further failure.
    pub base_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
    /// Failures on one account before it is locked.
    pub account_threshold: i64,
    /// Failures from one client address before it is locked (higher: a ward's shared NAT).
    pub address_threshold: i64,
    /// How long a lock lasts unless an administrator lifts it (the cool-down).
    pub lock_seconds: i64,
    /// Wrong codes allowed on one MFA challenge.
    pub challenge_attempts: i64,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            free_failures: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            account_threshold: 10,
            address_threshold: 50,
            lock_seconds: 15 * 60,
            challenge_attempts: 5,
        }
    }
}

/// How the identity service is set up.
#[derive(Clone)]
pub struct IdentityConfig {
    /// Where accounts and sessions live.
    pub store: StoreLocation,
    /// The data directory (data key, security events).
    pub data_dir: PathBuf,
    /// The public origin, e.g. `https://127.0.0.1:8443`: the token issuer, and the prefix of
    /// every FHIR base (`{issuer}/{department}/fhir`).
    pub issuer: String,
    /// The access part of the policy.
    pub policy: AccessPolicy,
    /// Access token lifetime, seconds.
    pub access_token_seconds: i64,
    /// Refresh token lifetime, seconds (each rotation issues a new one).
    pub refresh_token_seconds: i64,
    /// Longest session, seconds, however often it is refreshed.
    pub session_seconds: i64,
    /// How long a new signing key is published before it signs.
    pub key_prepublish_seconds: i64,
    /// Argon2id cost.
    pub hash_cost: HashCost,
    /// Brute-force defence.
    pub lockout: LockoutPolicy,
    /// How often the store is polled for revocations (besides `NOTIFY`).
    pub revocation_poll: Duration,
    /// The clock.
    pub clock: Clock,
    /// Where security events go; `None`: `security-events.jsonl` in the data dir + stderr.
    pub events: Option<Arc<dyn SecurityEventSink>>,
}

impl std::fmt::Debug for IdentityConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityConfig")
            .field("store", &self.store)
            .field("data_dir", &self.data_dir)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl IdentityConfig {
    /// Defaults: 5-minute access tokens, 8-hour refresh tokens, 12-hour sessions, keys
    /// published 10 minutes before they sign, OWASP Argon2id.
    pub fn new(store: StoreLocation, data_dir: PathBuf, issuer: impl Into<String>) -> Self {
        IdentityConfig {
            store,
            data_dir,
            issuer: issuer.into().trim_end_matches('/').to_owned(),
            policy: AccessPolicy::hospital_default(),
            access_token_seconds: 300,
            refresh_token_seconds: 8 * 3600,
            session_seconds: 12 * 3600,
            key_prepublish_seconds: 600,
            hash_cost: HashCost::OWASP,
            lockout: LockoutPolicy::default(),
            revocation_poll: Duration::from_secs(2),
            clock: Clock::system(),
            events: None,
        }
    }

    /// The embedded default: SQLite in `data_dir/identity.sqlite`.
    pub fn embedded(data_dir: PathBuf, issuer: impl Into<String>) -> Self {
        let store = StoreLocation::Sqlite(data_dir.join("identity.sqlite"));
        Self::new(store, data_dir, issuer)
    }
}

/// A failure to start the identity service.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The store could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The data key could not be loaded.
    #[error(transparent)]
    Seal(#[from] crate::seal::SealError),
    /// Signing keys could not be created or opened.
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
    /// The security event log could not be opened.
    #[error("security event log: {0}")]
    Events(std::io::Error),
    /// Argon2 refused the configured cost.
    #[error(transparent)]
    Hash(#[from] crate::password::HashError),
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) data_key: DataKey,
    pub(crate) issuer: String,
    pub(crate) policy: RwLock<Arc<AccessPolicy>>,
    pub(crate) ring: RwLock<Arc<KeyRing>>,
    pub(crate) ring_loaded_at: AtomicI64,
    pub(crate) verifier: TokenVerifier,
    pub(crate) revocations: Arc<RevocationState>,
    pub(crate) hashing: PasswordHashing,
    pub(crate) events: Arc<dyn SecurityEventSink>,
    pub(crate) external: ExternalIssuers,
    pub(crate) clock: Clock,
    pub(crate) access_token_seconds: i64,
    pub(crate) refresh_token_seconds: i64,
    pub(crate) session_seconds: i64,
    pub(crate) key_prepublish_seconds: i64,
    pub(crate) lockout: LockoutPolicy,
    tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(tasks) = self.tasks.lock() {
            for task in tasks.iter() {
                task.abort();
            }
        }
    }
}

/// The identity service. Cheap to clone; every clone shares one state.
#[derive(Clone)]
pub struct Identity {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("issuer", &self.inner.issuer)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Open the store, load or create the data key and the signing keys, and start the
    /// background revocation refresh. Must run inside a Tokio runtime.
    pub async fn open(config: IdentityConfig) -> Result<Identity, OpenError> {
        let data_key = DataKey::load_or_create(&config.data_dir)?;
        let mut pg_listener = None;
        let store: Arc<dyn Store> = match &config.store {
            StoreLocation::Sqlite(path) => Arc::new(SqliteStore::open(path).await?),
            StoreLocation::Postgres { url, schema } => {
                let pg = PostgresStore::connect(url, schema.as_deref()).await?;
                pg_listener = Some((pg.pool().clone(), pg.channel().to_owned()));
                Arc::new(pg)
            }
        };
        let events: Arc<dyn SecurityEventSink> = match config.events.clone() {
            Some(sink) => sink,
            None => {
                Arc::new(JsonLinesSink::open(&config.data_dir, true).map_err(OpenError::Events)?)
            }
        };
        let now = config.clock.now();
        let mut records = store.signing_keys().await?;
        if records.is_empty() {
            // The very first key signs at once: there are no relying parties yet to warn.
            store
                .put_signing_key(&keys::generate(&data_key, now, now)?)
                .await?;
            records = store.signing_keys().await?;
        }
        let ring = KeyRing::from_records(&records, &data_key)?;
        let revocations = Arc::new(RevocationState::default());
        let lifetime = config.access_token_seconds.max(config.session_seconds);
        revocations.apply(&store.revocations_since(now - lifetime).await?);
        let inner = Arc::new(Inner {
            store,
            data_key,
            issuer: config.issuer.clone(),
            policy: RwLock::new(Arc::new(config.policy.clone())),
            ring: RwLock::new(Arc::new(ring)),
            ring_loaded_at: AtomicI64::new(now),
            verifier: TokenVerifier::default(),
            revocations,
            hashing: PasswordHashing::new(config.hash_cost)?,
            events,
            external: ExternalIssuers::default(),
            clock: config.clock.clone(),
            access_token_seconds: config.access_token_seconds,
            refresh_token_seconds: config.refresh_token_seconds,
            session_seconds: config.session_seconds,
            key_prepublish_seconds: config.key_prepublish_seconds,
            lockout: config.lockout,
            tasks: std::sync::Mutex::new(Vec::new()),
        });
        let identity = Identity { inner };
        identity.start_background(config.revocation_poll, pg_listener);
        Ok(identity)
    }

    fn start_background(&self, poll: Duration, pg: Option<(sqlx::PgPool, String)>) {
        let mut tasks = Vec::new();
        let weak = Arc::downgrade(&self.inner);
        tasks.push(tokio::spawn(async move {
            let mut since = match weak.upgrade() {
                Some(inner) => inner.clock.now() - 5,
                None => return,
            };
            loop {
                tokio::time::sleep(poll).await;
                let Some(inner) = weak.upgrade() else { return };
                let now = inner.clock.now();
                if let Ok(revocations) = inner.store.revocations_since(since).await {
                    inner.revocations.apply(&revocations);
                    // Overlap the windows so a revocation committed during the query is seen.
                    since = now - 5;
                }
                let identity = Identity { inner };
                let _ = identity.expire_break_glass().await;
                if now - identity.inner.ring_loaded_at.load(Ordering::Relaxed) >= 60 {
                    let _ = identity.reload_keys().await;
                }
            }
        }));
        if let Some((pool, channel)) = pg {
            let state = self.inner.revocations.clone();
            let weak = Arc::downgrade(&self.inner);
            tasks.push(tokio::spawn(async move {
                listen_for_revocations(pool, channel, state, weak).await;
            }));
        }
        if let Ok(mut slot) = self.inner.tasks.lock() {
            slot.extend(tasks);
        }
    }

    /// Now, by the service's clock.
    pub fn now(&self) -> i64 {
        self.inner.clock.now()
    }

    /// A reading of the system clock the caller already took (the time its request arrived),
    /// by the service's clock: what [`Identity::now`] would have said then.
    pub fn at(&self, system: std::time::SystemTime) -> i64 {
        self.inner.clock.at(system)
    }

    /// The clock (tests and drills move it).
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// The issuer (public origin).
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The current access policy.
    pub fn policy(&self) -> Arc<AccessPolicy> {
        match self.inner.policy.read() {
            Ok(p) => p.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Swap in a new access policy (on policy reload), atomically.
    pub fn set_policy(&self, policy: AccessPolicy) {
        if let Ok(mut slot) = self.inner.policy.write() {
            *slot = Arc::new(policy);
        }
        // External principals were mapped under the old policy's role maps.
        self.inner.external.forget_verified();
    }

    /// This node's view of recent revocations (what every request is checked against).
    pub fn revocations(&self) -> &RevocationState {
        &self.inner.revocations
    }

    /// The store (for commands and tests).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub(crate) fn ring(&self) -> Arc<KeyRing> {
        match self.inner.ring.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-read the signing keys from the store (other nodes may have rotated).
    pub async fn reload_keys(&self) -> Result<(), OpenError> {
        let records = self.inner.store.signing_keys().await?;
        let ring = KeyRing::from_records(&records, &self.inner.data_key)?;
        if let Ok(mut slot) = self.inner.ring.write() {
            *slot = Arc::new(ring);
        }
        self.inner
            .ring_loaded_at
            .store(self.now(), Ordering::Relaxed);
        Ok(())
    }

    /// Start a key rotation: a new key, published now, signing after the pre-publication
    /// delay. Keys no longer needed by any live token are deleted.
    pub async fn rotate_signing_key(&self) -> Result<String, OpenError> {
        let now = self.now();
        let record = keys::generate(
            &self.inner.data_key,
            now,
            now + self.inner.key_prepublish_seconds,
        )?;
        self.inner.store.put_signing_key(&record).await?;
        if let Some(before) = self
            .ring()
            .prune_before(now, self.inner.access_token_seconds)
        {
            self.inner.store.delete_signing_keys_before(before).await?;
        }
        self.reload_keys().await?;
        Ok(record.kid)
    }

    /// The JWKS document (`/auth/jwks`).
    pub fn jwks(&self) -> serde_json::Value {
        let ring = self.ring();
        keys::jwks_document(&ring.published(self.now(), self.inner.access_token_seconds))
    }

    pub(crate) fn emit(&self, event: SecurityEvent) {
        self.inner.events.record(&event);
    }
}

async fn listen_for_revocations(
    pool: sqlx::PgPool,
    channel: String,
    state: Arc<RevocationState>,
    weak: std::sync::Weak<Inner>,
) {
    loop {
        if weak.strong_count() == 0 {
            return;
        }
        let Ok(mut listener) = sqlx::postgres::PgListener::connect_with(&pool).await else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        if listener.listen(&channel).await.is_err() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => state.apply_announcement(notification.payload()),
                // The connection dropped: notifications may have been missed, so catch up from
                // the store (the poller also does, this just does it sooner).
                Ok(None) => {
                    if let Some(inner) = weak.upgrade()
                        && let Ok(r) = inner
                            .store
                            .revocations_since(inner.clock.now() - inner.session_seconds)
                            .await
                    {
                        state.apply(&r);
                    }
                }
                Err(_) => break,
            }
        }
    }
}
