//! Configuration: plain types the gateway fills from the central policy (this crate does not
//! know the policy's format).

use crate::rules::{CustomRule, Exclusion};

/// What the engine does when the score reaches the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Block the request.
    #[default]
    Block,
    /// Let it through and report what would have been blocked (for rolling out a route).
    DetectOnly,
}

impl Mode {
    /// The name used in policies and verdicts.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Block => "block",
            Mode::DetectOnly => "detect-only",
        }
    }
}

/// Bounds on the work one request may cause, whatever it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Inputs (path segments, parameters, headers, keys, string leaves, ...) inspected at most.
    pub max_inputs: usize,
    /// JSON and XML nesting depth at most.
    pub max_depth: usize,
    /// Bytes decoding may produce for one request, beyond the request itself.
    pub max_decoded_bytes: usize,
    /// Multipart parts read at most.
    pub max_parts: usize,
    /// The score a request gets when it exceeds a limit (it cannot be inspected completely).
    pub exceeded_score: u16,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_inputs: 100_000,
            max_depth: 64,
            max_decoded_bytes: 16 * 1024 * 1024,
            max_parts: 1_000,
            exceeded_score: 5,
        }
    }
}

/// The engine's configuration for one policy version.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The anomaly score at which a request is blocked (default 5: one critical finding).
    pub threshold: u32,
    /// Block or detect only, unless a route says otherwise.
    pub mode: Mode,
    /// Work bounds.
    pub limits: Limits,
    /// Exclusions that apply on every route.
    pub exclusions: Vec<Exclusion>,
    /// Custom rules that apply on every route.
    pub custom_rules: Vec<CustomRule>,
    /// Keep inspecting after the verdict is certain, to list every finding (for `explain`);
    /// the gateway leaves it off and stops at the first blocking score.
    pub collect_all: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            threshold: 5,
            mode: Mode::Block,
            limits: Limits::default(),
            exclusions: Vec::new(),
            custom_rules: Vec::new(),
            collect_all: false,
        }
    }
}

/// What the gateway knows about the route a request took, resolved from the policy.
#[derive(Debug, Clone, Copy)]
pub struct RouteContext<'a> {
    /// Paranoia level 1..=4: higher levels enable rules with more false positives.
    pub paranoia: u8,
    /// Whether the route is a FHIR base (`/{department}/fhir/...`): turns on FHIR awareness.
    pub fhir: bool,
    /// A threshold for this route instead of the engine's.
    pub threshold: Option<u32>,
    /// A mode for this route instead of the engine's.
    pub mode: Option<Mode>,
    /// Exclusions of this route (on top of the engine's).
    pub exclusions: &'a [Exclusion],
    /// Custom rules of this route (on top of the engine's).
    pub custom_rules: &'a [CustomRule],
}

impl Default for RouteContext<'_> {
    fn default() -> Self {
        RouteContext {
            paranoia: 1,
            fhir: false,
            threshold: None,
            mode: None,
            exclusions: &[],
            custom_rules: &[],
        }
    }
}

impl<'a> RouteContext<'a> {
    /// A FHIR route at paranoia 1 with no exclusions or custom rules.
    pub fn fhir() -> Self {
        RouteContext {
            fhir: true,
            ..RouteContext::default()
        }
    }
}
