//! Admission: rate limits, connection limits, bans, load shedding.
//!
//! This crate decides whether a client may go on (`admit`); it knows nothing of HTTP, TLS or
//! the policy file. The gateway hands it a key (a client address, a route) and a limit, and
//! gets back "go on" or "wait this long". Rate-limit state lives behind [`RateLimitStore`]:
//! in process memory for one node ([`MemoryRateLimitStore`]) or in Redis, shared by every
//! gateway node ([`RedisRateLimitStore`]).
#![forbid(unsafe_code)]

mod connections;
mod gcra;
mod memory;
mod redis_store;
mod store;

pub use connections::{ConnectionLimiter, ConnectionPermit};
pub use gcra::{RateDecision, RateLimit};
pub use memory::MemoryRateLimitStore;
pub use redis_store::RedisRateLimitStore;
pub use store::{RateCheck, RateLimitStore};

/// What can go wrong while admitting a client.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// The shared rate-limit store (Redis) could not be reached or answered badly.
    #[error("rate-limit store unavailable: {0}")]
    StoreUnavailable(String),
    /// A rate limit was configured with a zero rate or burst.
    #[error("rate limit must have a rate and a burst above zero")]
    InvalidLimit,
}
