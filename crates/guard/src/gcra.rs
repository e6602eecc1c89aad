//! The generic cell rate algorithm (GCRA): a token bucket kept as one number per key.
//!
//! For each key we keep the "theoretical arrival time" (TAT): when the bucket would be full
//! again. A request is allowed when, after adding one emission interval, the TAT lies no
//! further ahead than `burst` intervals. One number per key makes the same algorithm cheap
//! in memory and atomic in a Redis script.

use std::time::Duration;

/// A sustained rate with a burst allowance, per key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Requests per second allowed in the long run.
    pub rate_per_second: f64,
    /// Requests allowed at once after a quiet period.
    pub burst: u32,
}

impl RateLimit {
    /// A limit, refused when the rate or burst would let nothing through.
    pub fn new(rate_per_second: f64, burst: u32) -> Result<Self, crate::GuardError> {
        if !(rate_per_second.is_finite() && rate_per_second > 0.0) || burst == 0 {
            return Err(crate::GuardError::InvalidLimit);
        }
        Ok(Self {
            rate_per_second,
            burst,
        })
    }

    /// Time between two requests at the sustained rate, in nanoseconds (at least 1).
    pub fn interval_nanos(&self) -> u64 {
        let nanos = 1e9 / self.rate_per_second;
        if nanos < 1.0 { 1 } else { nanos as u64 }
    }
}

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// Go on.
    Allowed,
    /// Over the limit: the client may try again after this long.
    Limited {
        /// How long until one request would be allowed again.
        retry_after: Duration,
    },
}

/// One GCRA step: given the stored TAT (if any) and the time now, the decision and the TAT
/// to store (unchanged when the request is refused, so refused requests cost nothing).
pub fn step(stored_tat: Option<u64>, now: u64, limit: RateLimit) -> (RateDecision, u64) {
    let interval = limit.interval_nanos();
    let tat = stored_tat.unwrap_or(now).max(now);
    let new_tat = tat.saturating_add(interval);
    let window = interval.saturating_mul(u64::from(limit.burst));
    let allow_at = new_tat.saturating_sub(window);
    if allow_at > now {
        let retry_after = Duration::from_nanos(allow_at - now);
        (RateDecision::Limited { retry_after }, tat)
    } else {
        (RateDecision::Allowed, new_tat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    #[test]
    fn burst_is_allowed_then_refused_with_the_wait_until_the_next_token() {
        let limit = RateLimit::new(2.0, 3).unwrap();
        let mut tat = None;
        for _ in 0..3 {
            let (decision, next) = step(tat, 10 * SECOND, limit);
            assert_eq!(decision, RateDecision::Allowed);
            tat = Some(next);
        }
        let (decision, _) = step(tat, 10 * SECOND, limit);
        assert_eq!(
            decision,
            RateDecision::Limited {
                retry_after: Duration::from_millis(500)
            }
        );
    }

    #[test]
    fn tokens_come_back_at_the_sustained_rate() {
        let limit = RateLimit::new(10.0, 1).unwrap();
        let (first, tat) = step(None, SECOND, limit);
        assert_eq!(first, RateDecision::Allowed);
        let (early, _) = step(Some(tat), SECOND + 50_000_000, limit);
        assert!(matches!(early, RateDecision::Limited { .. }));
        let (later, _) = step(Some(tat), SECOND + 100_000_000, limit);
        assert_eq!(later, RateDecision::Allowed);
    }

    #[test]
    fn a_refused_request_does_not_push_the_next_one_further_away() {
        let limit = RateLimit::new(1.0, 1).unwrap();
        let (_, tat) = step(None, 0, limit);
        let (_, after_refusal) = step(Some(tat), 0, limit);
        assert_eq!(after_refusal, tat);
    }

    #[test]
    fn zero_rate_or_burst_is_refused() {
        assert!(RateLimit::new(0.0, 5).is_err());
        assert!(RateLimit::new(5.0, 0).is_err());
        assert!(RateLimit::new(f64::NAN, 5).is_err());
    }
}
