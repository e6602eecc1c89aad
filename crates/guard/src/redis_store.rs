//! Rate-limit state in Redis: shared by every gateway node.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::ConnectionManager;

use crate::GuardError;
use crate::gcra::{RateDecision, RateLimit};
use crate::memory::MemoryRateLimitStore;
use crate::store::{RateCheck, RateLimitStore};

/// The GCRA step of `gcra::step`, done atomically in Redis. Times are microseconds from
/// Redis's own clock, so nodes with skewed clocks agree; they stay exact in Lua's doubles.
/// A refused request leaves the stored time unchanged. The key expires when the bucket is
/// full again, so idle clients cost nothing.
const GCRA_SCRIPT: &str = r"
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if allow_at > now then
  return {0, allow_at - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, 0}
";

/// How long connecting to Redis may take at start-up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// GCRA state in Redis, one Lua script per check.
///
/// Availability comes first in a hospital: when Redis does not answer within the timeout,
/// the check falls back to this node's memory (limits then hold per node instead of per
/// cluster) and the fallback is counted, rather than refusing clinical traffic.
pub struct RedisRateLimitStore {
    connection: ConnectionManager,
    script: redis::Script,
    prefix: String,
    timeout: Duration,
    fallback: MemoryRateLimitStore,
    fallbacks: AtomicU64,
}

impl RedisRateLimitStore {
    /// Connect to `url`; every key is stored under `prefix` (for example `wardgate:rl:`).
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, GuardError> {
        let client =
            redis::Client::open(url).map_err(|e| GuardError::StoreUnavailable(e.to_string()))?;
        // The connection manager retries a refused connection with backoff for minutes; a
        // gateway starting against a missing Redis must say so promptly instead.
        let connection = tokio::time::timeout(CONNECT_TIMEOUT, ConnectionManager::new(client))
            .await
            .map_err(|_| GuardError::StoreUnavailable("connect timed out".into()))?
            .map_err(|e| GuardError::StoreUnavailable(e.to_string()))?;
        Ok(Self {
            connection,
            script: redis::Script::new(GCRA_SCRIPT),
            prefix: prefix.to_owned(),
            timeout: Duration::from_millis(100),
            fallback: MemoryRateLimitStore::default(),
            fallbacks: AtomicU64::new(0),
        })
    }

    /// How long one check may wait for Redis before falling back to memory.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Checks answered from memory because Redis did not answer.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// The check against Redis alone, without the fallback.
    pub async fn check_shared(
        &self,
        key: &str,
        limit: RateLimit,
    ) -> Result<RateDecision, GuardError> {
        let interval_micros = (limit.interval_nanos() / 1000).max(1);
        let mut connection = self.connection.clone();
        let mut invocation = self.script.key(format!("{}{}", self.prefix, key));
        invocation.arg(interval_micros).arg(limit.burst);
        let call = invocation.invoke_async::<(i64, i64)>(&mut connection);
        let (allowed, wait_micros) = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| GuardError::StoreUnavailable("timed out".into()))?
            .map_err(|e| GuardError::StoreUnavailable(e.to_string()))?;
        if allowed == 1 {
            Ok(RateDecision::Allowed)
        } else {
            let micros = u64::try_from(wait_micros).unwrap_or(0).max(1);
            Ok(RateDecision::Limited {
                retry_after: Duration::from_micros(micros),
            })
        }
    }
}

impl RateLimitStore for RedisRateLimitStore {
    fn check<'a>(&'a self, key: &'a str, limit: RateLimit) -> RateCheck<'a> {
        Box::pin(async move {
            match self.check_shared(key, limit).await {
                Ok(decision) => Ok(decision),
                Err(error) => {
                    self.fallbacks.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%error, "rate-limit store unavailable; limiting in this node's memory");
                    Ok(self.fallback.check_now(key, limit))
                }
            }
        })
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}
