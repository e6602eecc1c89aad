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
    // Then, written by `push_tail`: phases, not_enforced, duration_us.
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

/// The end of the record, written by hand: `"phases"` as a JSON object in pipeline order
/// (`{"read": {"verdict": .., "us": ..}, ..}`), `"not_enforced"` and `"duration_us"`. Phase
/// and verdict names are fixed ASCII words needing no escaping; serializing them through
/// serde was a third of the record's cost, paid on every request.
fn push_tail(line: &mut Vec<u8>, exchange: &Exchange) {
    line.extend_from_slice(b",\"phases\":{");
    for (index, phase) in Phase::ALL.into_iter().enumerate() {
        if index > 0 {
            line.push(b',');
        }
        line.push(b'"');
        line.extend_from_slice(phase.name().as_bytes());
        line.extend_from_slice(b"\":{\"verdict\":\"");
        line.extend_from_slice(exchange.verdicts[index].name().as_bytes());
        line.extend_from_slice(b"\",\"us\":");
        push_number(line, micros(exchange.timings[index]));
        line.push(b'}');
    }
    line.extend_from_slice(b"},\"not_enforced\":[");
    for (index, phase) in crate::pipeline::NOT_ENFORCED_YET.into_iter().enumerate() {
        if index > 0 {
            line.push(b',');
        }
        line.push(b'"');
        line.extend_from_slice(phase.as_bytes());
        line.push(b'"');
    }
    line.extend_from_slice(b"],\"duration_us\":");
    push_number(line, micros(exchange.started.elapsed()));
    line.push(b'}');
}

fn micros(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// A number in decimal, as JSON writes it.
fn push_number(line: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    line.extend_from_slice(&digits[at..]);
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
    };
    let mut line = Vec::with_capacity(1024);
    // Serializing plain strings and numbers cannot fail; an empty line would show if it did.
    if serde_json::to_writer(&mut line, &record).is_err() || line.pop() != Some(b'}') {
        return Vec::new();
    }
    push_tail(&mut line, exchange);
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_is_one_json_object_with_every_phase_in_order() {
        let mut exchange = Exchange::begin(
            "r1".to_owned(),
            "127.0.0.1:5555".parse().unwrap(),
            None,
            (
                &http::Method::GET,
                &"/bench/fhir/Patient/1?_elements=name".parse().unwrap(),
                http::Version::HTTP_11,
            ),
            3,
        );
        exchange.timings[Phase::Forward as usize] = std::time::Duration::from_micros(1234);
        exchange.verdicts[Phase::Forward as usize] = crate::exchange::PhaseVerdict::Passed;
        let line = record_line(&exchange, 200, 0, 71, true);
        let record: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(record["request_id"], "r1");
        assert_eq!(record["status"], 200);
        assert_eq!(record["query"], serde_json::json!(["_elements"]));
        assert_eq!(record["phases"]["forward"]["verdict"], "passed");
        assert_eq!(record["phases"]["forward"]["us"], 1234);
        assert_eq!(record["phases"]["read"]["verdict"], "skipped");
        assert_eq!(record["not_enforced"], serde_json::json!(["observe"]));
        assert!(record["duration_us"].is_u64());
        let text = std::str::from_utf8(&line).unwrap();
        let order: Vec<usize> = Phase::ALL
            .iter()
            .map(|p| text.find(&format!("\"{}\":{{", p.name())).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert_eq!(push_number_text(0), "0");
        assert_eq!(push_number_text(u64::MAX), u64::MAX.to_string());
    }

    fn push_number_text(value: u64) -> String {
        let mut line = Vec::new();
        push_number(&mut line, value);
        String::from_utf8(line).unwrap()
    }
}
