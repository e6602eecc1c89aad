//! Departments, their finer routes, and the settings in effect on each.

use super::limits::{LimitsOverride, RateLimit, RateLimitOverride, RouteLimits};
use super::waf::{WafOverride, WafSettings};

/// Where a department's requests are forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamTarget {
    /// The department service built into wardgate.
    Builtin,
    /// An existing HTTP(S) service (a FHIR server, a PACS): scheme, authority and base path.
    Url(http::Uri),
}

impl serde::Serialize for UpstreamTarget {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            UpstreamTarget::Builtin => serializer.serialize_str("builtin"),
            UpstreamTarget::Url(uri) => serializer.collect_str(uri),
        }
    }
}

/// The settings in effect on a department or route: its own overrides on top of the
/// department's, on top of the global ones. Computed once when the policy loads.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RouteSettings {
    /// Body size and body read timeout.
    pub limits: RouteLimits,
    /// Per-client-address rate limit.
    pub rate_limit: RateLimit,
    /// WAF mode and paranoia.
    pub waf: WafSettings,
    /// Whether a device certificate is required.
    pub require_mtls: bool,
}

/// One department: a path prefix, where it is served, and who may reach it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Department {
    /// The department's name, also its first path segment (`emergency`).
    pub name: String,
    /// What it is, for people.
    pub description: String,
    /// Its path prefix, `/{name}/`.
    pub prefix: String,
    /// Built in, or an existing upstream service.
    pub upstream: UpstreamTarget,
    /// Device zones whose certificates may reach it; a certificate from any other zone is
    /// refused. Empty: no device certificate is accepted.
    pub zones: Vec<String>,
    /// Whether every request must come with a device certificate.
    pub require_mtls: bool,
    /// FHIR resource types it serves; `None`: every type.
    pub resource_types: Option<Vec<String>>,
    /// Overrides of the per-request limits.
    pub limits: LimitsOverride,
    /// Overrides of the rate limit.
    pub rate_limit: RateLimitOverride,
    /// Overrides of the WAF settings.
    pub waf: WafOverride,
    /// Finer routes inside the department, most specific first.
    pub routes: Vec<Route>,
    /// The settings in effect on requests that match no finer route (computed at load).
    pub effective: RouteSettings,
}

/// A finer route inside a department (`POST /radiology/dicom-web/studies`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Route {
    /// Path prefix, matched on whole segments, inside the department's prefix.
    pub path: String,
    /// Methods it applies to (upper case); empty: every method.
    pub methods: Vec<String>,
    /// Overrides of the per-request limits.
    pub limits: LimitsOverride,
    /// Overrides of the rate limit.
    pub rate_limit: RateLimitOverride,
    /// Overrides of the WAF settings.
    pub waf: WafOverride,
    /// Overrides the department's `require_mtls`.
    pub require_mtls: Option<bool>,
    /// The settings in effect on requests matching this route (computed at load).
    pub effective: RouteSettings,
}

impl Route {
    /// Whether this route applies to `method` and `path`.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        let method_ok = self.methods.is_empty() || self.methods.iter().any(|m| m == method);
        method_ok && path_has_prefix(path, &self.path)
    }
}

/// Every FHIR R4 resource type that `listed` does not name, in
/// [`wardgate_fhir::RESOURCE_TYPES`] order: what the one department whose `resource_types`
/// says `"others"` serves besides the types it names, so that every type has a home.
pub fn other_resource_types<'a>(listed: impl IntoIterator<Item = &'a str>) -> Vec<&'static str> {
    let listed: std::collections::BTreeSet<&str> = listed.into_iter().collect();
    wardgate_fhir::RESOURCE_TYPES
        .iter()
        .copied()
        .filter(|t| !listed.contains(t))
        .collect()
}

/// Whether `path` is `prefix` or lies below it on a segment boundary
/// (`/a/b` is below `/a`, `/ab` is not; a prefix ending in `/` is below itself).
pub(crate) fn path_has_prefix(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        None => false,
        Some(rest) => rest.is_empty() || prefix.ends_with('/') || rest.starts_with('/'),
    }
}
