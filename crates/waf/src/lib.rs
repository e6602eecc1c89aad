//! The inspection engine: decode, extract, detect, score, verdict. No I/O, no async.
//!
//! Owns: the request model ([`HttpRequest`]), extraction of every input with its location
//! (`extract`), decoding into the forms an application may see (`decode`), the detectors
//! (`detect`, one module per attack class), FHIR awareness on FHIR routes, scoring against a
//! threshold with exclusions and custom rules, and the [`Verdict`] that explains itself.
//! The `corpus` module runs the engine over labelled request corpora (it reads files; the
//! engine itself never does).
//!
//! Must not know about: sockets, HTTP libraries, the policy's file format (the gateway maps the
//! policy onto [`EngineConfig`] and [`RouteContext`]), storage or the audit log.
//!
//! ```
//! use wardgate_waf::{Engine, EngineConfig, HttpRequest, RouteContext};
//!
//! let engine = Engine::new(EngineConfig::default());
//! let verdict = engine.inspect(
//!     &HttpRequest::new("GET", "/emergency/fhir/Patient?name=O%27Brien"),
//!     &RouteContext::fhir(),
//! );
//! assert!(!verdict.is_blocked());
//! ```
#![forbid(unsafe_code)]

pub mod config;
pub mod corpus;
pub mod decode;
pub mod detect;
mod engine;
pub mod extract;
mod fhir;
pub mod location;
pub mod request;
pub mod rules;
pub mod verdict;

pub use config::{EngineConfig, Limits, Mode, RouteContext};
pub use engine::{Engine, TracedInput};
pub use location::LocationPattern;
pub use request::{Header, HttpRequest};
pub use rules::{CustomRule, Exclusion, RuleAction, RuleError, RulePattern};
pub use verdict::{Action, FhirIssue, Hit, HitClass, Verdict};
