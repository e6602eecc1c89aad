//! The exchange record: one JSON line per exchange, written when its response has been sent.
//!
//! The record holds what a security team needs to reconstruct an exchange (who, from where,
//! which department, what was decided and why, how long each phase took) and nothing that
//! could leak clinical data or secrets: no query value, no header value, no body.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use wardgate_policy::AuditSink;

use crate::body::{BodyProgress, OnBodyDone};
use crate::error::GatewayError;
use crate::exchange::{Exchange, Phase};
use crate::metrics::GatewayMetrics;

/// Where exchange records go: standard output, standard error or a file (appended).
/// Lines are buffered and flushed at least every 100 ms (and at shutdown).
#[derive(Clone)]
pub struct ExchangeLog {
    writer: Arc<Mutex<Box<dyn Write + Send>>>,
}

impl ExchangeLog {
    /// Open the sink the policy names.
    pub fn open(sink: &AuditSink) -> Result<Self, GatewayError> {
        let writer: Box<dyn Write + Send> = match sink {
            AuditSink::Stdout => Box::new(std::io::BufWriter::new(std::io::stdout())),
            AuditSink::Stderr => Box::new(std::io::BufWriter::new(std::io::stderr())),
            AuditSink::File(path) => Box::new(std::io::BufWriter::new(open_append(path)?)),
        };
        Ok(ExchangeLog {
            writer: Arc::new(Mutex::new(writer)),
        })
    }

    /// Write one record line.
    pub fn write_line(&self, line: &[u8]) {
        let mut writer = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // A full disk must not stop clinical traffic; the failure is logged.
        if let Err(error) = writer
            .write_all(line)
            .and_then(|()| writer.write_all(b"\n"))
        {
            tracing::error!(%error, "cannot write the exchange record");
        }
    }

    /// Push buffered records to the sink.
    pub fn flush(&self) {
        let mut writer = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Err(error) = writer.flush() {
            tracing::error!(%error, "cannot flush the exchange log");
        }
    }
}

fn open_append(path: &Path) -> Result<std::fs::File, GatewayError> {
    let failed = |source| GatewayError::ExchangeLog {
        path: path.display().to_string(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(failed)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(failed)
}

/// An exchange whose response is on its way; recorded when the body is done.
pub struct PendingRecord {
    /// The exchange.
    pub exchange: Exchange,
    /// The status answered.
    pub status: u16,
    /// The request body's progress, if it was read.
    pub request_body: Option<Arc<BodyProgress>>,
    /// Where the record goes.
    pub log: ExchangeLog,
    /// Where it is counted.
    pub metrics: Arc<GatewayMetrics>,
}

impl OnBodyDone for PendingRecord {
    fn done(self: Box<Self>, bytes_sent: u64, complete: bool) {
        let duration = self.exchange.started.elapsed();
        let department = self.exchange.department.as_deref().unwrap_or("-");
        let code = self.exchange.decision.as_ref().map(|d| d.code);
        self.metrics
            .exchange(department, self.status, code, duration);
        let bytes_in = self.request_body.as_ref().map_or(0, |p| p.received());
        let line = record_json(&self.exchange, self.status, bytes_in, bytes_sent, complete);
        self.log.write_line(line.to_string().as_bytes());
    }
}

/// The record of one exchange.
pub fn record_json(
    exchange: &Exchange,
    status: u16,
    bytes_in: u64,
    bytes_out: u64,
    complete: bool,
) -> Value {
    let time = OffsetDateTime::from(exchange.received_at)
        .format(&Rfc3339)
        .unwrap_or_default();
    let device = exchange.device.as_ref().map(|d| {
        json!({ "name": d.name, "zone": d.zone, "subject": d.subject, "fingerprint": d.fingerprint.to_string(), "serial": d.serial })
    });
    let mut phases = Map::new();
    for phase in Phase::ALL {
        let index = phase as usize;
        phases.insert(
            phase.name().to_owned(),
            json!({ "verdict": exchange.verdicts[index].name(), "us": exchange.timings[index].as_micros() as u64 }),
        );
    }
    let decision = &exchange.decision;
    json!({
        "time": time,
        "request_id": exchange.request_id,
        "client": exchange.peer.to_string(),
        "device": device,
        "principal": "anonymous",
        "department": exchange.department,
        "route": exchange.route,
        "method": exchange.method.as_str(),
        "path": exchange.path,
        "query": exchange.query_names,
        "http": format!("{:?}", exchange.version),
        "status": status,
        "decision": if decision.is_some() { "refused" } else { "forwarded" },
        "code": decision.as_ref().map(|d| d.code),
        "reason": decision.as_ref().map(|d| d.reason.as_str()),
        "bytes_in": bytes_in,
        "bytes_out": bytes_out,
        "complete": complete,
        "policy_version": exchange.policy_version,
        "phases": phases,
        "not_enforced": crate::pipeline::NOT_ENFORCED_YET,
        "duration_us": exchange.started.elapsed().as_micros() as u64,
    })
}
