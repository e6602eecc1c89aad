//! Rate-limit state in process memory: one gateway node.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::Instant;

use crate::gcra::{self, RateDecision, RateLimit};
use crate::store::{RateCheck, RateLimitStore};

/// Shards spread contention across cores; a power of two keeps the pick cheap.
const SHARDS: usize = 32;

/// A sharded map from key to GCRA arrival time. Entries whose time has passed carry no
/// information (a fresh key behaves the same), so they are swept when a shard grows, and a
/// shard that is still full of live entries after a sweep stops tracking new keys rather
/// than grow without bound under a flood of distinct addresses.
pub struct MemoryRateLimitStore {
    shards: Vec<Mutex<Shard>>,
    epoch: Instant,
    max_keys_per_shard: usize,
}

#[derive(Default)]
struct Shard {
    arrivals: HashMap<Box<str>, u64>,
    sweep_at_len: usize,
}

impl MemoryRateLimitStore {
    /// A store that tracks at most about `max_keys` distinct keys at once.
    pub fn new(max_keys: usize) -> Self {
        let max_keys_per_shard = (max_keys / SHARDS).max(16);
        let shards = (0..SHARDS)
            .map(|_| {
                Mutex::new(Shard {
                    arrivals: HashMap::new(),
                    sweep_at_len: 1024.min(max_keys_per_shard),
                })
            })
            .collect();
        Self {
            shards,
            epoch: Instant::now(),
            max_keys_per_shard,
        }
    }

    /// Check `key` as of `now` (nanoseconds since the store's epoch); the synchronous core
    /// of [`RateLimitStore::check`], also used as the fallback of the Redis store.
    pub fn check_now(&self, key: &str, limit: RateLimit) -> RateDecision {
        let now = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.check_at(key, limit, now)
    }

    /// Check `key` at a given time (nanoseconds since the store's epoch).
    pub fn check_at(&self, key: &str, limit: RateLimit, now: u64) -> RateDecision {
        let mut hasher = DefaultHasher::new();
        key.hash(&mut hasher);
        let index = (hasher.finish() as usize) & (SHARDS - 1);
        // A poisoned shard only means another thread panicked mid-update of plain numbers;
        // the numbers are still usable.
        let mut shard = self.shards[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(tat) = shard.arrivals.get_mut(key) {
            let (decision, next) = gcra::step(Some(*tat), now, limit);
            *tat = next;
            return decision;
        }
        let (decision, next) = gcra::step(None, now, limit);
        if shard.arrivals.len() >= shard.sweep_at_len {
            shard.arrivals.retain(|_, tat| *tat > now);
            let len = shard.arrivals.len();
            shard.sweep_at_len =
                (len * 2).clamp(1024.min(self.max_keys_per_shard), self.max_keys_per_shard);
        }
        if shard.arrivals.len() < self.max_keys_per_shard {
            shard.arrivals.insert(key.into(), next);
        }
        decision
    }

    /// How many keys are tracked now (for metrics and tests).
    pub fn tracked_keys(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.lock().map(|s| s.arrivals.len()).unwrap_or(0))
            .sum()
    }
}

impl Default for MemoryRateLimitStore {
    fn default() -> Self {
        Self::new(1_000_000)
    }
}

impl RateLimitStore for MemoryRateLimitStore {
    fn check<'a>(&'a self, key: &'a str, limit: RateLimit) -> RateCheck<'a> {
        let decision = self.check_now(key, limit);
        Box::pin(std::future::ready(Ok(decision)))
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    #[test]
    fn keys_are_limited_independently() {
        let store = MemoryRateLimitStore::new(1000);
        let limit = RateLimit::new(1.0, 2).unwrap();
        assert_eq!(store.check_at("a", limit, SECOND), RateDecision::Allowed);
        assert_eq!(store.check_at("a", limit, SECOND), RateDecision::Allowed);
        assert!(matches!(
            store.check_at("a", limit, SECOND),
            RateDecision::Limited { .. }
        ));
        assert_eq!(store.check_at("b", limit, SECOND), RateDecision::Allowed);
    }

    #[test]
    fn expired_entries_are_swept_and_the_map_stays_bounded() {
        let store = MemoryRateLimitStore::new(32 * 16);
        let limit = RateLimit::new(1000.0, 1).unwrap();
        for i in 0..100_000u64 {
            // Each key's arrival time passes within a millisecond, so sweeps find it expired.
            store.check_at(&format!("client-{i}"), limit, i * 10_000_000);
        }
        assert!(
            store.tracked_keys() <= 32 * 16,
            "tracked {}",
            store.tracked_keys()
        );
    }

    #[test]
    fn a_full_store_admits_new_keys_rather_than_growing() {
        let store = MemoryRateLimitStore::new(32 * 16);
        let limit = RateLimit::new(0.001, 1).unwrap();
        for i in 0..10_000u64 {
            assert_eq!(
                store.check_at(&format!("k{i}"), limit, SECOND),
                RateDecision::Allowed
            );
        }
        assert!(store.tracked_keys() <= 32 * 16);
    }
}
