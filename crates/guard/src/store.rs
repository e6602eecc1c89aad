//! Where rate-limit state lives: the trait every backend implements.

use std::future::Future;
use std::pin::Pin;

use crate::{GuardError, RateDecision, RateLimit};

/// The future a [`RateLimitStore`] returns for one check.
pub type RateCheck<'a> =
    Pin<Box<dyn Future<Output = Result<RateDecision, GuardError>> + Send + 'a>>;

/// Rate-limit state keyed by an opaque string (the gateway builds keys from the client
/// address and the route). Implementations must make check-and-update atomic per key.
pub trait RateLimitStore: Send + Sync + 'static {
    /// Count one request for `key` against `limit` and say whether it may go on.
    fn check<'a>(&'a self, key: &'a str, limit: RateLimit) -> RateCheck<'a>;

    /// A short name for logs and metrics ("memory", "redis").
    fn backend(&self) -> &'static str;
}
