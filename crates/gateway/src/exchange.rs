//! The exchange: everything the pipeline learns about one request, passed through every phase.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use http::{HeaderValue, Method, Version};

use crate::decision::Decision;
use crate::pipeline::ConnectionInfo;
use wardgate_identity::Principal;
use wardgate_pki::DeviceIdentity;

/// The phases of the life of a request, in the order the pipeline runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Request head limits and body limits.
    Read,
    /// Rate limits (and later bans and load shedding).
    Admit,
    /// Who is asking (identity, issue 4).
    Authenticate,
    /// Which department and route.
    Route,
    /// Whether the device and principal may reach it.
    Authorize,
    /// The WAF (issue 3).
    Inspect,
    /// Behaviour analytics.
    Observe,
    /// The department service or upstream answering.
    Forward,
    /// Response checks and security headers.
    Respond,
}

impl Phase {
    /// Every phase, in pipeline order.
    pub const ALL: [Phase; 9] = [
        Phase::Read,
        Phase::Admit,
        Phase::Authenticate,
        Phase::Route,
        Phase::Authorize,
        Phase::Inspect,
        Phase::Observe,
        Phase::Forward,
        Phase::Respond,
    ];

    /// The name used in the exchange record and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Read => "read",
            Phase::Admit => "admit",
            Phase::Authenticate => "authenticate",
            Phase::Route => "route",
            Phase::Authorize => "authorize",
            Phase::Inspect => "inspect",
            Phase::Observe => "observe",
            Phase::Forward => "forward",
            Phase::Respond => "respond",
        }
    }
}

/// What a phase concluded about the exchange, as the record shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhaseVerdict {
    /// The phase has not run (an earlier phase ended the exchange).
    Skipped,
    /// The phase ran and let the exchange go on.
    Passed,
    /// The phase ended the exchange.
    Refused,
    /// The phase has its place but its checks are not implemented yet.
    NotEnforced,
}

impl PhaseVerdict {
    /// The name used in the exchange record.
    pub fn name(self) -> &'static str {
        match self {
            PhaseVerdict::Skipped => "skipped",
            PhaseVerdict::Passed => "passed",
            PhaseVerdict::Refused => "refused",
            PhaseVerdict::NotEnforced => "not-enforced",
        }
    }
}

/// What the authorize phase decided, for the record: the rule, its sentence, and the
/// emergency grant the exchange was made under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRecord {
    /// The stable rule code (`authz.allow.scope`, `authz.segmentation`, ...).
    pub rule: &'static str,
    /// Why, in one sentence.
    pub reason: String,
    /// The break-the-glass grant, when the exchange was made under one.
    pub break_glass: Option<String>,
    /// The patient whose compartment the exchange was confined to, if any.
    pub patient: Option<String>,
}

/// What the firewall concluded, for the record (never the payload, only a bounded excerpt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WafRecord {
    /// `blocked`, `detected` (detect mode: would have blocked), or `allowed`.
    pub outcome: &'static str,
    /// `block` or `detect-only`.
    pub mode: &'static str,
    /// The anomaly score and the threshold.
    pub score: u32,
    /// The score at which the route blocks.
    pub threshold: u32,
    /// The top finding's rule (`sqli.tautology`), class (`sqli`), location and excerpt.
    pub rule: Option<String>,
    /// The top finding's attack class.
    pub class: Option<&'static str>,
    /// Where the top finding sat (`query:id`, `body:$.note[0].text`).
    pub location: Option<String>,
    /// A bounded, escaped excerpt of what triggered the top finding.
    pub excerpt: Option<String>,
    /// How many findings there were.
    pub findings: usize,
    /// The custom rule that let the request through uninspected, if one did.
    pub allowed_by: Option<String>,
}

/// One request and what the pipeline decided about it.
#[derive(Debug)]
pub struct Exchange {
    /// The request id, echoed in `X-Request-Id` and in every refusal.
    pub request_id: String,
    /// The request id as a header value, for the client's answer and the upstream.
    pub request_id_header: Option<HeaderValue>,
    /// The connection the request came on.
    pub connection: Arc<ConnectionInfo>,
    /// Wall-clock time the request head was read.
    pub received_at: SystemTime,
    /// Monotonic start, for durations.
    pub started: Instant,
    /// The client's verified device certificate, if it presented one.
    pub device: Option<Arc<DeviceIdentity>>,
    /// Who is asking; `None`: anonymous.
    pub principal: Option<Arc<Principal>>,
    /// The authorize phase's decision, once taken.
    pub authorization: Option<AuthorizationRecord>,
    /// The firewall's verdict, once inspected.
    pub waf: Option<WafRecord>,
    /// The HTTP version of the client's request.
    pub version: Version,
    /// The request method.
    pub method: Method,
    /// The request path, without the query.
    pub path: String,
    /// The names of the query's parameters, in order (never their values).
    pub query_names: Vec<String>,
    /// The version of the policy in force for this exchange.
    pub policy_version: u64,
    /// The department that owns the path, once routed.
    pub department: Option<String>,
    /// The finer route that matched, if any.
    pub route: Option<String>,
    /// What each phase concluded, in [`Phase::ALL`] order.
    pub verdicts: [PhaseVerdict; 9],
    /// The decision that ended the exchange early, if any.
    pub decision: Option<Decision>,
    /// Time spent in each phase, in [`Phase::ALL`] order.
    pub timings: [Duration; 9],
    /// When the last phase (or part of one) ended: the next one starts there, so each phase
    /// boundary reads the clock once, not twice.
    mark: Instant,
}

impl Exchange {
    /// A new exchange for a request whose head has just been read (at `received_at`, wall
    /// clock), with its request id.
    pub fn begin(
        (request_id, received_at): (String, SystemTime),
        connection: Arc<ConnectionInfo>,
        parts: (&Method, &http::Uri, Version),
        policy_version: u64,
    ) -> Self {
        let (method, uri, version) = parts;
        let started = Instant::now();
        Exchange {
            request_id_header: HeaderValue::from_str(&request_id).ok(),
            request_id,
            received_at,
            started,
            device: connection.device.clone(),
            connection,
            principal: None,
            authorization: None,
            waf: None,
            version,
            method: method.clone(),
            path: uri.path().to_owned(),
            query_names: uri.query().map(query_names).unwrap_or_default(),
            policy_version,
            department: None,
            route: None,
            verdicts: [PhaseVerdict::Skipped; 9],
            decision: None,
            timings: [Duration::ZERO; 9],
            mark: started,
        }
    }

    /// When the phase under way began: the clock reading that ended the one before (a time the
    /// phase may use for itself instead of reading the clock again).
    pub fn phase_start(&self) -> Instant {
        self.mark
    }

    /// The time since the last phase ended, and the clock reading that ends this one.
    fn lap(&mut self) -> Duration {
        let now = Instant::now();
        let lap = now.saturating_duration_since(self.mark);
        self.mark = now;
        lap
    }

    /// Add the time since the last phase ended to `phase`: work done on its behalf outside its
    /// own turn (the body read belongs to `read`, a second authorization of a batch's entries
    /// to `authorize`).
    pub fn add_time(&mut self, phase: Phase) {
        let lap = self.lap();
        self.timings[phase as usize] += lap;
    }

    /// Note what `phase` concluded; its time is the time since the last phase ended.
    pub fn conclude(&mut self, phase: Phase, verdict: PhaseVerdict) {
        let index = phase as usize;
        self.verdicts[index] = verdict;
        self.timings[index] = self.lap();
    }

    /// Note a phase that has its place but does nothing yet (no time, no clock reading).
    pub fn not_enforced(&mut self, phase: Phase) {
        let index = phase as usize;
        self.verdicts[index] = PhaseVerdict::NotEnforced;
        self.timings[index] = Duration::ZERO;
    }

    /// The verdict of `phase`.
    pub fn verdict(&self, phase: Phase) -> PhaseVerdict {
        self.verdicts[phase as usize]
    }
}

/// The parameter names of a query string, without values: the record may show what was
/// asked for, never the identifiers or search terms themselves. Names are capped so a hostile
/// query cannot bloat the record.
fn query_names(query: &str) -> Vec<String> {
    const MAX_NAMES: usize = 32;
    const MAX_NAME_LEN: usize = 64;
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .take(MAX_NAMES)
        .map(|pair| {
            let name = pair.split_once('=').map_or(pair, |(name, _)| name);
            name.chars().take(MAX_NAME_LEN).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_names_keep_names_and_drop_values() {
        assert_eq!(
            query_names("name=Smith&birthdate=ge1970&_count=10&flag"),
            vec!["name", "birthdate", "_count", "flag"]
        );
        assert_eq!(query_names(""), Vec::<String>::new());
    }
}
