//! Revocation that takes effect at once on every node, for the price of a hash lookup per
//! request.
//!
//! Each node keeps in memory the sessions revoked and the per-account revocation epochs
//! recent enough to matter (younger than an access token's lifetime). A revocation is written
//! to the shared store and announced: with PostgreSQL by `NOTIFY` on a channel every node
//! `LISTEN`s to, so the other nodes apply it within milliseconds; a poll of the store every
//! few seconds covers a lost notification or a reconnect, and a second process on the same
//! SQLite file (the `wardgate user disable` command next to a running server).
//!
//! Chosen over a per-request database query (a round trip on every FHIR call) and over a
//! short cache alone (revocation would lag by the cache's lifetime).

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use crate::store::Revocations;

/// How long a revoked session is remembered in memory: far longer than any access token
/// lives (refresh tokens are checked against the store itself).
const REMEMBER_SESSIONS: Duration = Duration::from_secs(3600);

/// The in-memory view of recent revocations.
#[derive(Debug, Default)]
pub struct RevocationState {
    sessions: RwLock<HashMap<String, Instant>>,
    accounts: RwLock<HashMap<String, i64>>,
}

impl RevocationState {
    /// Whether a token of `account` issued at `iat` in session `sid` is revoked.
    pub fn is_revoked(&self, account: &str, sid: Option<&str>, iat: i64) -> bool {
        if let Some(sid) = sid
            && self.sessions.read().is_ok_and(|s| s.contains_key(sid))
        {
            return true;
        }
        self.accounts
            .read()
            .is_ok_and(|a| a.get(account).is_some_and(|before| iat < *before))
    }

    /// Apply revocations read from the store.
    pub fn apply(&self, revocations: &Revocations) {
        if let Ok(mut sessions) = self.sessions.write() {
            let now = Instant::now();
            sessions.retain(|_, at| now.duration_since(*at) < REMEMBER_SESSIONS);
            for sid in &revocations.sessions {
                sessions.entry(sid.clone()).or_insert(now);
            }
        }
        if let Ok(mut accounts) = self.accounts.write() {
            for (id, before) in &revocations.accounts {
                let entry = accounts.entry(id.clone()).or_insert(*before);
                *entry = (*entry).max(*before);
            }
        }
    }

    /// Apply one announcement: `session:<sid>` or `account:<id>:<epoch>`.
    pub fn apply_announcement(&self, payload: &str) {
        if let Some(sid) = payload.strip_prefix("session:") {
            self.apply(&Revocations {
                sessions: vec![sid.to_owned()],
                accounts: Vec::new(),
            });
        } else if let Some(rest) = payload.strip_prefix("account:")
            && let Some((id, epoch)) = rest.rsplit_once(':')
            && let Ok(epoch) = epoch.parse::<i64>()
        {
            self.apply(&Revocations {
                sessions: Vec::new(),
                accounts: vec![(id.to_owned(), epoch)],
            });
        }
    }

    /// The announcement of a revoked session.
    pub fn session_announcement(sid: &str) -> String {
        format!("session:{sid}")
    }

    /// The announcement of an account epoch.
    pub fn account_announcement(id: &str, epoch: i64) -> String {
        format!("account:{id}:{epoch}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_revoke_sessions_and_older_tokens_of_accounts() {
        let state = RevocationState::default();
        assert!(!state.is_revoked("a1", Some("s1"), 100));
        state.apply_announcement(&RevocationState::session_announcement("s1"));
        assert!(state.is_revoked("a1", Some("s1"), 100));
        assert!(!state.is_revoked("a1", Some("s2"), 100));
        state.apply_announcement(&RevocationState::account_announcement("a1", 150));
        assert!(state.is_revoked("a1", Some("s2"), 149));
        assert!(!state.is_revoked("a1", Some("s2"), 150));
        state.apply_announcement("garbage");
        assert!(!state.is_revoked("a2", None, 1));
    }
}
