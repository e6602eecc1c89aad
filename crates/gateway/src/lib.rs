//! Listeners, TLS, the request pipeline, forwarding, admin endpoints.
//!
//! Owns: the public HTTPS listener (rustls, HTTP/1.1 and HTTP/2 by ALPN), the admin listener
//! (`/metrics`, `/healthz`, `/readyz`), the life of a request ([`pipeline`], read it top to
//! bottom), forwarding to upstream services or to the built-in departments
//! ([`DepartmentService`]), the exchange record, reload and graceful shutdown.
//!
//! Must not know about: what the policy file looks like (the policy crate hands it typed
//! values), how rate-limit state is stored (the guard crate), how FHIR resources are stored
//! (the departments crate), how tokens are verified or access decided (the identity crate),
//! how attacks are recognised (the waf crate). The observe phase (behaviour analytics) has its
//! named place in [`pipeline`] and says "not enforced yet".
#![forbid(unsafe_code)]

pub mod access;
mod access_control;
mod activity;
mod admin;
pub mod batch;
mod body;
mod deadline;
mod decision;
mod department;
mod error;
mod exchange;
mod exchange_log;
mod firewall;
mod forward;
mod h1_client;
/// What the fuzz target `gateway_upstream_answer` reads (only with `--cfg fuzzing`).
#[cfg(fuzzing)]
pub use h1_client::fuzzing as upstream_answer;
mod json_line;
mod listener;
mod metrics;
pub mod pipeline;
mod pool;
mod record;
mod server;
#[cfg(test)]
mod test_support;
mod tls;
mod upstream;

pub use decision::Decision;
pub use department::{DepartmentResponse, DepartmentService};
pub use error::GatewayError;
pub use exchange::{AuthorizationRecord, Exchange, Phase, PhaseVerdict, WafRecord};
pub use exchange_log::ExchangeLog;
pub use server::{Gateway, GatewayOptions, RunningGateway};
pub use tls::{TlsMaterial, server_config};
pub use wardgate_pki::{DeviceIdentity, RevocationList};
