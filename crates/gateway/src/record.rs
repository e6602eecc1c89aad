//! The exchange record: one JSON line per exchange, written when its response has been sent.
//!
//! The record holds what a security team needs to reconstruct an exchange (who, from where,
//! which department, what was decided and why, how long each phase took) and nothing that
//! could leak clinical data or secrets: no query value, no header value, no body.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

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
        let line = record_line(&self.exchange, self.status, bytes_in, bytes_sent, complete);
        self.log.write_line(&line);
    }
}

/// One exchange record as written: borrowed from the exchange, serialized directly (no
/// intermediate JSON tree: this runs once per request).
#[derive(serde::Serialize)]
struct Record<'a> {
    time: String,
    request_id: &'a str,
    client: String,
    device: Option<DeviceRecord<'a>>,
    principal: PrincipalRecord<'a>,
    authorization: Option<AuthorizationView<'a>>,
    waf: Option<WafView<'a>>,
    department: Option<&'a str>,
    route: Option<&'a str>,
    method: &'a str,
    path: &'a str,
    query: &'a [String],
    http: &'static str,
    status: u16,
    decision: &'static str,
    code: Option<&'static str>,
    reason: Option<&'a str>,
    bytes_in: u64,
    bytes_out: u64,
    complete: bool,
    policy_version: u64,
    phases: Phases<'a>,
    not_enforced: [&'static str; 1],
    duration_us: u64,
}

/// Who asked: `"anonymous"`, or who (never the token: its `jti` only).
#[derive(serde::Serialize)]
#[serde(untagged)]
enum PrincipalRecord<'a> {
    Anonymous(&'static str),
    Known {
        subject: &'a str,
        name: &'a str,
        kind: &'static str,
        issuer: &'a str,
        roles: &'a [String],
        client_id: Option<&'a str>,
        token_id: Option<&'a str>,
    },
}

#[derive(serde::Serialize)]
struct AuthorizationView<'a> {
    rule: &'static str,
    reason: &'a str,
    break_glass: Option<&'a str>,
    patient: Option<&'a str>,
}

#[derive(serde::Serialize)]
struct WafView<'a> {
    outcome: &'static str,
    mode: &'static str,
    score: u32,
    threshold: u32,
    rule: Option<&'a str>,
    class: Option<&'static str>,
    location: Option<&'a str>,
    excerpt: Option<&'a str>,
    findings: usize,
    allowed_by: Option<&'a str>,
}

#[derive(serde::Serialize)]
struct DeviceRecord<'a> {
    name: &'a str,
    zone: &'a str,
    subject: &'a str,
    fingerprint: String,
    serial: &'a str,
}

/// The phases as a JSON object in pipeline order: `{"read": {"verdict": .., "us": ..}, ..}`.
struct Phases<'a>(&'a Exchange);

impl serde::Serialize for Phases<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        #[derive(serde::Serialize)]
        struct PhaseRecord {
            verdict: &'static str,
            us: u64,
        }
        let mut map = serializer.serialize_map(Some(Phase::ALL.len()))?;
        for phase in Phase::ALL {
            let index = phase as usize;
            let us = u64::try_from(self.0.timings[index].as_micros()).unwrap_or(u64::MAX);
            map.serialize_entry(
                phase.name(),
                &PhaseRecord {
                    verdict: self.0.verdicts[index].name(),
                    us,
                },
            )?;
        }
        map.end()
    }
}

fn version_name(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_11 => "HTTP/1.1",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/?",
    }
}

/// The record of one exchange, as one line of JSON.
pub fn record_line(
    exchange: &Exchange,
    status: u16,
    bytes_in: u64,
    bytes_out: u64,
    complete: bool,
) -> Vec<u8> {
    let decision = exchange.decision.as_ref();
    let record = Record {
        time: OffsetDateTime::from(exchange.received_at)
            .format(&Rfc3339)
            .unwrap_or_default(),
        request_id: &exchange.request_id,
        client: exchange.peer.to_string(),
        device: exchange.device.as_deref().map(|d| DeviceRecord {
            name: &d.name,
            zone: &d.zone,
            subject: &d.subject,
            fingerprint: d.fingerprint.to_string(),
            serial: &d.serial,
        }),
        principal: match exchange.principal.as_deref() {
            None => PrincipalRecord::Anonymous("anonymous"),
            Some(p) => PrincipalRecord::Known {
                subject: &p.subject,
                name: &p.name,
                kind: match p.kind {
                    wardgate_identity::PrincipalKind::User => "user",
                    wardgate_identity::PrincipalKind::Service => "service",
                },
                issuer: &p.issuer,
                roles: &p.roles,
                client_id: p.client_id.as_deref(),
                token_id: p.token_id.as_deref(),
            },
        },
        authorization: exchange.authorization.as_ref().map(|a| AuthorizationView {
            rule: a.rule,
            reason: &a.reason,
            break_glass: a.break_glass.as_deref(),
            patient: a.patient.as_deref(),
        }),
        waf: exchange.waf.as_ref().map(|w| WafView {
            outcome: w.outcome,
            mode: w.mode,
            score: w.score,
            threshold: w.threshold,
            rule: w.rule.as_deref(),
            class: w.class,
            location: w.location.as_deref(),
            excerpt: w.excerpt.as_deref(),
            findings: w.findings,
            allowed_by: w.allowed_by.as_deref(),
        }),
        department: exchange.department.as_deref(),
        route: exchange.route.as_deref(),
        method: exchange.method.as_str(),
        path: &exchange.path,
        query: &exchange.query_names,
        http: version_name(exchange.version),
        status,
        decision: if decision.is_some() {
            "refused"
        } else {
            "forwarded"
        },
        code: decision.map(|d| d.code),
        reason: decision.map(|d| d.reason.as_str()),
        bytes_in,
        bytes_out,
        complete,
        policy_version: exchange.policy_version,
        phases: Phases(exchange),
        not_enforced: crate::pipeline::NOT_ENFORCED_YET,
        duration_us: u64::try_from(exchange.started.elapsed().as_micros()).unwrap_or(u64::MAX),
    };
    // Serializing plain strings and numbers cannot fail; an empty line would show if it did.
    serde_json::to_vec(&record).unwrap_or_default()
}
