//! Shared set-up for the identity tests: a real store (SQLite in a temp dir, or PostgreSQL in
//! a schema of its own), fast Argon2 parameters, short lockout delays.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use wardgate_identity::events::{JsonLinesSink, SECURITY_EVENTS_FILE};
use wardgate_identity::password::HashCost;
use wardgate_identity::store::StoreLocation;
use wardgate_identity::{
    Identity, IdentityConfig, LockoutPolicy, LoginStep, NewUser, TokenRequest, TokenResponse,
};
use zeroize::Zeroizing;

pub const ISSUER: &str = "https://wardgate.test";
pub const PASSWORD: &str = "correct horse battery staple";

/// A running identity service and its data directory.
pub struct Harness {
    pub identity: Identity,
    pub dir: tempfile::TempDir,
}

/// Test configuration over `store` in `dir`.
pub fn config(store: StoreLocation, dir: &std::path::Path) -> IdentityConfig {
    let mut config = IdentityConfig::new(store, dir.to_path_buf(), ISSUER);
    // Real Argon2id, cheaper parameters: the OWASP cost is measured in the benchmark.
    config.hash_cost = HashCost {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    };
    config.lockout = LockoutPolicy {
        free_failures: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        account_threshold: 5,
        address_threshold: 50,
        lock_seconds: 600,
        challenge_attempts: 5,
    };
    config.revocation_poll = Duration::from_millis(200);
    let sink = JsonLinesSink::open(dir, false).expect("event log");
    config.events = Some(Arc::new(sink));
    config
}

/// A service on SQLite in a fresh temp dir.
pub async fn sqlite() -> Harness {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = StoreLocation::Sqlite(dir.path().join("identity.sqlite"));
    let identity = Identity::open(config(store, dir.path()))
        .await
        .expect("open");
    Harness { identity, dir }
}

/// The PostgreSQL URL, or `None` (with a note) when the tests should skip.
pub fn postgres_url(test: &str) -> Option<String> {
    match std::env::var("WARDGATE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "SKIPPED {test}: set WARDGATE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test to run it"
            );
            None
        }
    }
}

/// A unique schema name for one test.
pub fn schema_name(test: &str) -> String {
    let unique = uuid::Uuid::new_v4().simple().to_string();
    format!("t_{}_{}", test.replace('-', "_"), &unique[..12])
}

/// A service on PostgreSQL in its own schema, or `None` when PostgreSQL is not configured.
pub async fn postgres(test: &str) -> Option<Harness> {
    let url = postgres_url(test)?;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = StoreLocation::Postgres {
        url,
        schema: Some(schema_name(test)),
    };
    let identity = Identity::open(config(store, dir.path()))
        .await
        .expect("open");
    Some(Harness { identity, dir })
}

impl Harness {
    /// Create a user with the fixed test password.
    pub async fn user(&self, name: &str, roles: &[&str], departments: &[&str]) {
        self.identity
            .add_user(NewUser {
                name: name.to_owned(),
                roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                departments: departments.iter().map(|d| (*d).to_owned()).collect(),
                password: Some(Zeroizing::new(PASSWORD.to_owned())),
                sealed: false,
            })
            .await
            .expect("add user");
    }

    /// The TOTP code an authenticator app would show now.
    pub async fn code(&self, name: &str) -> String {
        let now = self.identity.now();
        self.identity
            .current_totp_code(name, now)
            .await
            .expect("code")
            .expect("enrolled")
    }

    /// Password, then TOTP: the tokens.
    pub async fn login(&self, name: &str, request: &TokenRequest) -> TokenResponse {
        let ticket = match self
            .identity
            .login_password(name, PASSWORD, "127.0.0.1", request)
            .await
            .expect("password step")
        {
            LoginStep::MfaRequired { ticket, .. } => ticket,
            LoginStep::Tokens(t) => return t,
        };
        let code = self.code(name).await;
        self.identity
            .login_mfa(&ticket, &code, "127.0.0.1", request)
            .await
            .expect("mfa step")
    }

    /// Move the clock past the current TOTP step, so a new code can be used.
    pub fn next_totp_step(&self) {
        self.identity.clock().advance(30);
    }

    /// The security events written so far.
    pub fn events(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.path().join(SECURITY_EVENTS_FILE))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The events of one kind.
    pub fn events_of(&self, code: &str) -> Vec<serde_json::Value> {
        self.events()
            .into_iter()
            .filter(|e| e["event"] == code)
            .collect()
    }

    /// The events of one kind, waiting (up to two seconds) until there are at least `n`:
    /// background tasks may raise them.
    pub async fn wait_events(&self, code: &str, n: usize) -> Vec<serde_json::Value> {
        for _ in 0..100 {
            let events = self.events_of(code);
            if events.len() >= n {
                return events;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.events_of(code)
    }
}
