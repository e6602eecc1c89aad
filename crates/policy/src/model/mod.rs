//! The policy as typed values: what the gateway, identity and the WAF read.
//!
//! Every type here is plain data with the defaults filled in and every value already
//! validated; the effective settings of each department and route are computed once at load
//! (see [`RouteSettings`]) so that resolving a request is a lookup, not a merge.

mod access;
mod department;
mod limits;
mod waf;

pub use access::{
    BreakGlass, JwksSource, MfaRequirement, Operation, Role, StepUpRule, TrustedIssuer,
};
pub use department::{Department, Route, RouteSettings, UpstreamTarget, other_resource_types};
pub use limits::{
    Limits, LimitsOverride, RateLimit, RateLimitOverride, RouteLimits, UpstreamSettings,
};
pub use waf::{
    CustomRule, InputLocation, RuleAction, Waf, WafExclusion, WafMode, WafOverride, WafSettings,
};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The schema version this build reads (`version = 1` at the top of the file).
pub const SCHEMA_VERSION: u32 = 1;

/// The whole central policy, validated.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Policy {
    /// Schema version of the file (always [`SCHEMA_VERSION`] once loaded).
    pub version: u32,
    /// Listening addresses.
    pub listen: Listen,
    /// TLS of the public listener.
    pub tls: Tls,
    /// Global limits; departments and routes may override the per-request ones.
    pub limits: Limits,
    /// Global per-client-address rate limit; departments and routes may override it.
    pub rate_limit: RateLimit,
    /// Timeouts and pooling towards upstream services.
    pub upstream: UpstreamSettings,
    /// Network and device zones, by name.
    pub zones: BTreeMap<String, Zone>,
    /// Departments, by name (the first path segment of their URLs).
    pub departments: BTreeMap<String, Department>,
    /// Web application firewall settings.
    pub waf: Waf,
    /// Staff roles, by name.
    pub roles: BTreeMap<String, Role>,
    /// Who may invoke which FHIR `$operation`, by operation name without the `$`.
    pub operations: BTreeMap<String, Operation>,
    /// Break-the-glass settings.
    pub break_glass: BreakGlass,
    /// Interactions that need a recent second factor.
    pub step_up: Vec<StepUpRule>,
    /// External OpenID Connect issuers whose tokens are accepted.
    pub trusted_issuers: Vec<TrustedIssuer>,
    /// Where exchange records go.
    pub audit: Audit,
}

/// Listening addresses.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Listen {
    /// The public HTTPS listener (department APIs, `/auth`, file shares).
    pub public: SocketAddr,
    /// The admin listener (`/metrics`, `/healthz`, `/readyz`, admin API, console).
    pub admin: SocketAddr,
}

/// TLS of the public listener. Omitted files mean: the development CA in the data directory.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tls {
    /// Server certificate chain (PEM), absolute once loaded.
    pub certificate: Option<PathBuf>,
    /// Server private key (PEM), absolute once loaded.
    pub private_key: Option<PathBuf>,
    /// CA that signs device certificates (PEM), absolute once loaded.
    pub client_ca: Option<PathBuf>,
    /// Lowest TLS version accepted.
    pub min_version: TlsVersion,
}

/// A TLS protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum TlsVersion {
    /// TLS 1.2 (with rustls' safe cipher suites only).
    #[serde(rename = "1.2")]
    Tls12,
    /// TLS 1.3.
    #[serde(rename = "1.3")]
    Tls13,
}

/// A network or device zone (segmentation): who a device certificate says a client is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Zone {
    /// What the zone holds, for people.
    pub description: String,
    /// Whether a client attributed to this zone must prove it with a device certificate.
    pub require_mtls: bool,
}

/// Where exchange records go.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Audit {
    /// The sink for the one-JSON-line-per-exchange log.
    pub log: AuditSink,
}

/// A sink for exchange records.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditSink {
    /// Standard output (a service manager or container runtime collects it).
    Stdout,
    /// Standard error.
    Stderr,
    /// Appended to a file, absolute once loaded.
    File(PathBuf),
}
