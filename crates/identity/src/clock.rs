//! The identity service's clock: the system time, plus an offset tests and drills can move.
//!
//! Every time-based decision (token expiry, TOTP step, lockout, break-the-glass expiry) reads
//! this one clock, so an emergency-access drill can fast-forward an hour without waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A clock in Unix seconds.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock::default()
    }

    /// Now, in Unix seconds.
    pub fn now(&self) -> i64 {
        self.at(std::time::SystemTime::now())
    }

    /// The moment `system` (a reading of the system clock taken by the caller, such as the
    /// time a request arrived) by this clock, in Unix seconds: moved as `now` is.
    pub fn at(&self, system: std::time::SystemTime) -> i64 {
        let system = system
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        system.saturating_add(self.offset.load(Ordering::Relaxed))
    }

    /// Move the clock forward by `seconds` (for tests and drills).
    pub fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::Relaxed);
    }
}
