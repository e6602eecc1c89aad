//! Limits, rate limits and upstream timeouts, with the overrides a department or route may set.

use std::time::Duration;

use crate::units::{ByteSize, serialize_duration};

/// Global limits. The connection-level ones (headers, idle, HTTP/2) apply before a request is
/// routed and so cannot be overridden per department; the body ones can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Limits {
    /// Largest request head (request line + headers); larger gets 431.
    pub max_header_bytes: ByteSize,
    /// Largest request body; larger gets 413.
    pub max_body_bytes: ByteSize,
    /// Time allowed to receive the whole request head (slowloris defence).
    #[serde(serialize_with = "serialize_duration")]
    pub header_read_timeout: Duration,
    /// Time allowed to receive the whole body.
    #[serde(serialize_with = "serialize_duration")]
    pub body_read_timeout: Duration,
    /// An idle keep-alive connection is closed after this.
    #[serde(serialize_with = "serialize_duration")]
    pub idle_timeout: Duration,
    /// Open connections allowed from one client address.
    pub max_connections_per_address: u32,
    /// HTTP/2 streams open at once on one connection.
    pub h2_max_concurrent_streams: u32,
    /// HTTP/2 stream resets per second before the connection is closed (rapid reset).
    pub h2_max_resets_per_second: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: ByteSize::kib(16),
            max_body_bytes: ByteSize::mib(10),
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections_per_address: 256,
            h2_max_concurrent_streams: 128,
            h2_max_resets_per_second: 50,
        }
    }
}

impl Limits {
    /// The per-request part of these limits.
    pub fn route_limits(&self) -> RouteLimits {
        RouteLimits {
            max_body_bytes: self.max_body_bytes,
            body_read_timeout: self.body_read_timeout,
        }
    }
}

/// The limits that apply to one request once it is routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RouteLimits {
    /// Largest request body; larger gets 413.
    pub max_body_bytes: ByteSize,
    /// Time allowed to receive the whole body.
    #[serde(serialize_with = "serialize_duration")]
    pub body_read_timeout: Duration,
}

/// What a department or route overrides of the per-request limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct LimitsOverride {
    /// Overrides [`RouteLimits::max_body_bytes`].
    pub max_body_bytes: Option<ByteSize>,
    /// Overrides [`RouteLimits::body_read_timeout`].
    #[serde(serialize_with = "serialize_optional_duration")]
    pub body_read_timeout: Option<Duration>,
}

impl LimitsOverride {
    /// `base` with this override's values put on top.
    pub fn apply(&self, base: RouteLimits) -> RouteLimits {
        RouteLimits {
            max_body_bytes: self.max_body_bytes.unwrap_or(base.max_body_bytes),
            body_read_timeout: self.body_read_timeout.unwrap_or(base.body_read_timeout),
        }
    }
}

fn serialize_optional_duration<S: serde::Serializer>(
    duration: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match duration {
        Some(d) => serialize_duration(d, serializer),
        None => serializer.serialize_none(),
    }
}

/// A per-client-address rate limit (GCRA): a sustained rate and a burst on top of it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub rate_per_second: f64,
    /// Requests allowed at once above the sustained rate.
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            rate_per_second: 50.0,
            burst: 100,
        }
    }
}

/// What a department or route overrides of the rate limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct RateLimitOverride {
    /// Overrides [`RateLimit::rate_per_second`].
    pub rate_per_second: Option<f64>,
    /// Overrides [`RateLimit::burst`].
    pub burst: Option<u32>,
}

impl RateLimitOverride {
    /// `base` with this override's values put on top.
    pub fn apply(&self, base: RateLimit) -> RateLimit {
        RateLimit {
            rate_per_second: self.rate_per_second.unwrap_or(base.rate_per_second),
            burst: self.burst.unwrap_or(base.burst),
        }
    }
}

/// Timeouts and pooling towards upstream services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct UpstreamSettings {
    /// Time allowed to open a connection to an upstream; past it the client gets 502.
    #[serde(serialize_with = "serialize_duration")]
    pub connect_timeout: Duration,
    /// Time allowed for the upstream's response head; past it the client gets 504.
    #[serde(serialize_with = "serialize_duration")]
    pub response_timeout: Duration,
    /// Idle pooled connections kept per upstream host.
    pub pool_idle_per_host: u32,
}

impl Default for UpstreamSettings {
    fn default() -> Self {
        UpstreamSettings {
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(30),
            pool_idle_per_host: 32,
        }
    }
}
