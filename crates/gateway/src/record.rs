//! The exchange record: one JSON line per exchange, written when its response has been sent.
//!
//! The record holds what a security team needs to reconstruct an exchange (who, from where,
//! which department, what was decided and why, how long each phase took) and nothing that
//! could leak clinical data or secrets: no query value, no header value, no body.

use std::sync::{Arc, Mutex};

use crate::body::{BodyProgress, OnBodyDone};
use crate::exchange::{Exchange, Phase};
use crate::exchange_log::ExchangeLog;
use crate::json_line::{
    push_bool, push_hex, push_key, push_number, push_opt_plain, push_opt_str, push_plain,
    push_socket_addr, push_str, push_str_array, push_time,
};
use crate::metrics::GatewayMetrics;
use wardgate_identity::Principal;

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
        let sent = Sent {
            status: self.status,
            bytes_in,
            bytes_out: bytes_sent,
            complete,
            duration,
        };
        LINE.with_borrow_mut(|line| {
            line.clear();
            write_record(line, &self.exchange, &sent);
            line.push(b'\n');
            self.log.write_line(line);
            // An unusually long record (a long refusal reason) does not keep its memory.
            if line.capacity() > MAX_KEPT_LINE {
                *line = Vec::with_capacity(LINE_CAPACITY);
            }
        });
    }
}

/// How an exchange ended, for its record.
pub struct Sent {
    /// The status answered.
    pub status: u16,
    /// Request body bytes received.
    pub bytes_in: u64,
    /// Response body bytes sent.
    pub bytes_out: u64,
    /// Whether the response body was sent to its end.
    pub complete: bool,
    /// From the request head to the end of the response.
    pub duration: std::time::Duration,
}

/// The principal's part of the record, kept per client connection: the requests of one
/// connection nearly always carry the same token, whose verified principal identity keeps
/// (one `Arc`), so its seven escaped strings are written once per connection, not per
/// exchange.
#[derive(Debug, Default)]
pub(crate) struct PrincipalText {
    last: Mutex<Option<WrittenPrincipal>>,
}

/// A principal and its JSON text.
#[derive(Debug)]
struct WrittenPrincipal {
    principal: Arc<Principal>,
    text: Box<[u8]>,
}

impl PrincipalText {
    /// Append the principal's JSON object.
    fn push(&self, line: &mut Vec<u8>, principal: &Arc<Principal>) {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // The same allocation (kept alive here) is the same, unchanging principal.
        if let Some(written) = last.as_ref()
            && Arc::ptr_eq(&written.principal, principal)
        {
            line.extend_from_slice(&written.text);
            return;
        }
        let start = line.len();
        push_principal(line, principal);
        *last = Some(WrittenPrincipal {
            principal: Arc::clone(principal),
            text: line[start..].into(),
        });
    }
}

/// The record's `"client"` value for a connection from `peer` (its JSON string), written
/// once per connection rather than formatted for each of its exchanges.
pub(crate) fn client_text(peer: std::net::SocketAddr) -> Box<[u8]> {
    let mut text = Vec::with_capacity(48);
    push_socket_addr(&mut text, peer);
    text.into_boxed_slice()
}

/// Append a principal as a JSON object.
fn push_principal(line: &mut Vec<u8>, p: &Principal) {
    line.extend_from_slice(b"{\"subject\":");
    push_str(line, &p.subject);
    push_key!(line, "name");
    push_str(line, &p.name);
    push_key!(line, "kind");
    push_str(
        line,
        match p.kind {
            wardgate_identity::PrincipalKind::User => "user",
            wardgate_identity::PrincipalKind::Service => "service",
        },
    );
    push_key!(line, "issuer");
    push_str(line, &p.issuer);
    push_key!(line, "roles");
    push_str_array(line, &p.roles);
    push_key!(line, "client_id");
    push_opt_str(line, p.client_id.as_deref());
    push_key!(line, "token_id");
    push_opt_str(line, p.token_id.as_deref());
    line.push(b'}');
}

/// The room a record line usually needs.
const LINE_CAPACITY: usize = 2048;
/// The most a thread keeps between records.
const MAX_KEPT_LINE: usize = 64 * 1024;

thread_local! {
    /// The record line of this thread, reused from one exchange to the next.
    static LINE: std::cell::RefCell<Vec<u8>> =
        std::cell::RefCell::new(Vec::with_capacity(LINE_CAPACITY));
}

/// The end of the record: `"phases"` as a JSON object in pipeline order
/// (`{"read": {"verdict": .., "us": ..}, ..}`), `"not_enforced"` and `"duration_us"`.
fn push_tail(line: &mut Vec<u8>, exchange: &Exchange, duration: std::time::Duration) {
    line.extend_from_slice(b",\"phases\":{");
    for (index, openings) in PHASE_OPENINGS.iter().enumerate() {
        if index > 0 {
            line.push(b',');
        }
        line.extend_from_slice(openings[exchange.verdicts[index] as usize].as_bytes());
        push_number(line, micros(exchange.timings[index]));
        line.push(b'}');
    }
    line.extend_from_slice(b"},\"not_enforced\":[");
    for (index, phase) in crate::pipeline::NOT_ENFORCED_YET.into_iter().enumerate() {
        if index > 0 {
            line.push(b',');
        }
        push_plain(line, phase);
    }
    line.extend_from_slice(b"],\"duration_us\":");
    push_number(line, micros(duration));
    line.push(b'}');
}

/// `"read":{"verdict":"passed","us":` for every phase (rows, in [`Phase::ALL`] order) and
/// verdict (columns, in [`PhaseVerdict`] order): one copy per phase instead of five.
macro_rules! phase_openings {
    ($($phase:literal),* $(,)?) => {
        [$([
            concat!("\"", $phase, "\":{\"verdict\":\"skipped\",\"us\":"),
            concat!("\"", $phase, "\":{\"verdict\":\"passed\",\"us\":"),
            concat!("\"", $phase, "\":{\"verdict\":\"refused\",\"us\":"),
            concat!("\"", $phase, "\":{\"verdict\":\"not-enforced\",\"us\":"),
        ]),*]
    };
}
static PHASE_OPENINGS: [[&str; 4]; Phase::ALL.len()] = phase_openings!(
    "read",
    "admit",
    "authenticate",
    "route",
    "authorize",
    "inspect",
    "observe",
    "forward",
    "respond",
);

fn micros(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
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

/// Append the record of one exchange to `line`, as one JSON object (no newline). The fields,
/// their order and their JSON are the record's format (docs/operations.md, "Logs").
pub fn write_record(line: &mut Vec<u8>, exchange: &Exchange, sent: &Sent) {
    line.extend_from_slice(b"{\"time\":");
    push_time(line, exchange.received_at);
    push_key!(line, "request_id");
    push_str(line, &exchange.request_id);
    push_key!(line, "client");
    // The connection's address, written once per connection.
    line.extend_from_slice(&exchange.connection.client_text);
    push_key!(line, "device");
    match exchange.device.as_deref() {
        None => line.extend_from_slice(b"null"),
        Some(device) => {
            line.extend_from_slice(b"{\"name\":");
            push_str(line, &device.name);
            push_key!(line, "zone");
            push_str(line, &device.zone);
            push_key!(line, "subject");
            push_str(line, &device.subject);
            push_key!(line, "fingerprint");
            push_hex(line, &device.fingerprint.0);
            push_key!(line, "serial");
            push_str(line, &device.serial);
            line.push(b'}');
        }
    }
    push_key!(line, "principal");
    match exchange.principal.as_ref() {
        None => line.extend_from_slice(b"\"anonymous\""),
        Some(p) => exchange.connection.principal_text.push(line, p),
    }
    push_key!(line, "authorization");
    match exchange.authorization.as_ref() {
        None => line.extend_from_slice(b"null"),
        Some(a) => {
            line.extend_from_slice(b"{\"rule\":");
            push_plain(line, a.rule);
            push_key!(line, "reason");
            push_str(line, &a.reason);
            push_key!(line, "break_glass");
            push_opt_str(line, a.break_glass.as_deref());
            push_key!(line, "patient");
            push_opt_str(line, a.patient.as_deref());
            line.push(b'}');
        }
    }
    push_key!(line, "waf");
    match exchange.waf.as_ref() {
        None => line.extend_from_slice(b"null"),
        Some(w) => {
            line.extend_from_slice(b"{\"outcome\":");
            push_plain(line, w.outcome);
            push_key!(line, "mode");
            push_plain(line, w.mode);
            push_key!(line, "score");
            push_number(line, u64::from(w.score));
            push_key!(line, "threshold");
            push_number(line, u64::from(w.threshold));
            push_key!(line, "rule");
            push_opt_str(line, w.rule.as_deref());
            push_key!(line, "class");
            push_opt_plain(line, w.class);
            push_key!(line, "location");
            push_opt_str(line, w.location.as_deref());
            push_key!(line, "excerpt");
            push_opt_str(line, w.excerpt.as_deref());
            push_key!(line, "findings");
            push_number(line, w.findings as u64);
            push_key!(line, "allowed_by");
            push_opt_str(line, w.allowed_by.as_deref());
            line.push(b'}');
        }
    }
    push_key!(line, "department");
    push_opt_str(line, exchange.department.as_deref());
    push_key!(line, "route");
    push_opt_str(line, exchange.route.as_deref());
    push_key!(line, "method");
    push_str(line, exchange.method.as_str());
    push_key!(line, "path");
    push_str(line, &exchange.path);
    push_key!(line, "query");
    push_str_array(line, &exchange.query_names);
    push_key!(line, "http");
    push_plain(line, version_name(exchange.version));
    push_key!(line, "status");
    push_number(line, u64::from(sent.status));
    let decision = exchange.decision.as_ref();
    push_key!(line, "decision");
    push_plain(
        line,
        if decision.is_some() {
            "refused"
        } else {
            "forwarded"
        },
    );
    push_key!(line, "code");
    push_opt_plain(line, decision.map(|d| d.code));
    push_key!(line, "reason");
    push_opt_str(line, decision.map(|d| d.reason.as_str()));
    push_key!(line, "bytes_in");
    push_number(line, sent.bytes_in);
    push_key!(line, "bytes_out");
    push_number(line, sent.bytes_out);
    push_key!(line, "complete");
    push_bool(line, sent.complete);
    push_key!(line, "policy_version");
    push_number(line, exchange.policy_version);
    push_tail(line, exchange, sent.duration);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn record_line(exchange: &Exchange, status: u16, bytes_in: u64, bytes_out: u64) -> Vec<u8> {
        let mut line = Vec::new();
        let sent = Sent {
            status,
            bytes_in,
            bytes_out,
            complete: true,
            duration: exchange.started.elapsed(),
        };
        write_record(&mut line, exchange, &sent);
        line
    }

    fn exchange(peer: &str, uri: &str) -> Exchange {
        Exchange::begin(
            ("r1".to_owned(), std::time::SystemTime::now()),
            Arc::new(crate::pipeline::ConnectionInfo::new(
                peer.parse().unwrap(),
                None,
            )),
            (
                &http::Method::GET,
                &uri.parse().unwrap(),
                http::Version::HTTP_11,
            ),
            3,
        )
    }

    #[test]
    fn the_record_is_one_json_object_with_every_phase_in_order() {
        let mut exchange = exchange("127.0.0.1:5555", "/bench/fhir/Patient/1?_elements=name");
        exchange.timings[Phase::Forward as usize] = std::time::Duration::from_micros(1234);
        exchange.verdicts[Phase::Forward as usize] = crate::exchange::PhaseVerdict::Passed;
        let line = record_line(&exchange, 200, 0, 71);
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
    }

    /// The phases as the record wrote them with each phase's and verdict's name: every
    /// verdict in every phase, with times of one to seven digits.
    #[test]
    fn the_phases_read_as_their_names() {
        use crate::exchange::PhaseVerdict;
        let verdicts = [
            PhaseVerdict::Skipped,
            PhaseVerdict::Passed,
            PhaseVerdict::Refused,
            PhaseVerdict::NotEnforced,
        ];
        // A new verdict must be added above (and to the record's table).
        for verdict in verdicts {
            match verdict {
                PhaseVerdict::Skipped
                | PhaseVerdict::Passed
                | PhaseVerdict::Refused
                | PhaseVerdict::NotEnforced => {}
            }
        }
        for shift in 0..verdicts.len() {
            let mut exchange = exchange("127.0.0.1:5555", "/bench/fhir/Patient/1");
            for index in 0..Phase::ALL.len() {
                exchange.verdicts[index] = verdicts[(index + shift) % verdicts.len()];
                exchange.timings[index] = std::time::Duration::from_micros(
                    10u64.pow(index as u32 % 7) * 7 + index as u64,
                );
            }
            let line = record_line(&exchange, 200, 0, 0);
            let text = String::from_utf8(line).unwrap();
            let phases: Vec<String> = Phase::ALL
                .iter()
                .enumerate()
                .map(|(index, phase)| {
                    format!(
                        "\"{}\":{{\"verdict\":\"{}\",\"us\":{}}}",
                        phase.name(),
                        exchange.verdicts[index].name(),
                        exchange.timings[index].as_micros()
                    )
                })
                .collect();
            let expected = format!(
                ",\"phases\":{{{}}},\"not_enforced\":[\"observe\"],\"duration_us\":",
                phases.join(",")
            );
            let tail = &text[text.find(",\"phases\":").unwrap()..];
            assert!(tail.starts_with(&expected), "{tail}");
        }
    }

    /// The principal's text kept by the connection is the text of the exchange's principal:
    /// another principal on the same connection gets its own, the first one again its own.
    #[test]
    fn a_connection_writes_each_exchange_s_own_principal() {
        let connection = Arc::new(crate::pipeline::ConnectionInfo::new(
            "127.0.0.1:5555".parse().unwrap(),
            None,
        ));
        let principal = |name: &str, token: &str| {
            Arc::new(wardgate_identity::Principal {
                subject: format!("subject-of-{name}"),
                name: name.to_owned(),
                departments: vec![],
                token_id: Some(token.to_owned()),
                ..crate::test_support::principal()
            })
        };
        let first = principal("dr. \"first\"", "t1");
        let second = principal("second", "t2");
        // The same principal's values in another allocation (a token verified again).
        let first_again = principal("dr. \"first\"", "t1");
        for principal in [&first, &second, &first, &first_again, &second] {
            let record = |connection: Arc<crate::pipeline::ConnectionInfo>| {
                let mut exchange = Exchange::begin(
                    ("r1".to_owned(), std::time::SystemTime::UNIX_EPOCH),
                    connection,
                    (
                        &http::Method::GET,
                        &"/bench/fhir/Patient/1".parse().unwrap(),
                        http::Version::HTTP_11,
                    ),
                    1,
                );
                exchange.principal = Some(Arc::clone(principal));
                let line = record_line(&exchange, 200, 0, 0);
                let text = String::from_utf8(line).unwrap();
                let start = text.find(",\"principal\":").unwrap();
                let end = text.find(",\"authorization\":").unwrap();
                text[start..end].to_owned()
            };
            let on_shared = record(Arc::clone(&connection));
            let on_fresh = record(Arc::new(crate::pipeline::ConnectionInfo::new(
                "127.0.0.1:5555".parse().unwrap(),
                None,
            )));
            assert_eq!(on_shared, on_fresh);
            let value: serde_json::Value =
                serde_json::from_str(&format!("{{{}}}", &on_shared[1..])).unwrap();
            assert_eq!(value["principal"]["name"], principal.name.as_str());
            assert_eq!(
                value["principal"]["token_id"],
                principal.token_id.as_deref().unwrap()
            );
        }
    }

    #[test]
    fn the_client_is_the_connection_s_address() {
        // Written from the connection's text, made once per connection.
        for peer in [
            "10.1.2.3:40000",
            "[2001:db8::1]:443",
            "[::ffff:10.0.0.1]:80",
        ] {
            let on_connection = exchange(peer, "/bench/fhir/Patient");
            let client = |exchange: &Exchange| {
                let line = record_line(exchange, 200, 0, 0);
                let value: serde_json::Value = serde_json::from_slice(&line).unwrap();
                value["client"].as_str().unwrap().to_owned()
            };
            assert_eq!(client(&on_connection), peer);
        }
    }

    /// Every field, with text that needs escaping: the hand-written record is byte for byte
    /// what serializing the record through serde wrote before.
    #[test]
    fn the_record_reads_as_the_serde_record_did() {
        let anonymous = exchange("[2001:db8::1]:443", "/bench/fhir/Patient");
        let mut full = exchange(
            "10.1.2.3:40000",
            "/bench/fhir/Observation?patient=p1&code=x&flag&=v",
        );
        full.device = Some(Arc::new(wardgate_pki::DeviceIdentity {
            subject: "CN=monitor \"7\"".to_owned(),
            name: "monitor-7".to_owned(),
            zone: "icu".to_owned(),
            fingerprint: wardgate_pki::CertificateFingerprint([0xab; 32]),
            serial: "0a:1b".to_owned(),
            not_after: time::OffsetDateTime::UNIX_EPOCH,
        }));
        full.principal = Some(Arc::new(wardgate_identity::Principal {
            name: "dr. o'brien \\ \"nights\"".to_owned(),
            kind: wardgate_identity::PrincipalKind::Service,
            roles: vec!["physician".to_owned(), "é∑".to_owned()],
            departments: vec![],
            ..crate::test_support::principal()
        }));
        full.authorization = Some(crate::exchange::AuthorizationRecord {
            rule: "authz.allow.scope",
            reason: "line one\nline two\ttab \u{1}".to_owned(),
            break_glass: Some("bg-1".to_owned()),
            patient: None,
        });
        full.waf = Some(crate::exchange::WafRecord {
            outcome: "blocked",
            mode: "block",
            score: 9,
            threshold: 5,
            rule: Some("sqli.tautology".to_owned()),
            class: Some("sqli"),
            location: Some("query:code".to_owned()),
            excerpt: Some("' OR \"1\"=\"1\" --\r\n\u{7f}".to_owned()),
            findings: 2,
            allowed_by: None,
        });
        full.department = Some("bench".to_owned());
        full.route = Some("/bench/fhir/".to_owned());
        full.decision = Some(crate::decision::Decision::waf_blocked(
            "blocked: \"sqli\"".to_owned(),
        ));
        full.received_at = std::time::SystemTime::UNIX_EPOCH
            + std::time::Duration::from_nanos(1_795_939_210_120_000_000);
        for (exchange, status) in [(&anonymous, 200), (&full, 403)] {
            let line = record_line(exchange, status, 12, 345);
            let text = String::from_utf8(line).unwrap();
            let head = &text[..text.find(",\"phases\":").unwrap()];
            assert_eq!(
                head,
                reference::head(exchange, status, 12, 345, true),
                "{text}"
            );
            serde_json::from_str::<serde_json::Value>(&text).unwrap();
        }
    }

    /// The record as it was written through serde (before `write_record`), up to `phases`.
    mod reference {
        use crate::exchange::Exchange;
        use time::OffsetDateTime;
        use time::format_description::well_known::Rfc3339;

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
        }

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

        pub(super) fn head(
            exchange: &Exchange,
            status: u16,
            bytes_in: u64,
            bytes_out: u64,
            complete: bool,
        ) -> String {
            let decision = exchange.decision.as_ref();
            let record = Record {
                time: OffsetDateTime::from(exchange.received_at)
                    .format(&Rfc3339)
                    .unwrap_or_default(),
                request_id: &exchange.request_id,
                client: exchange.connection.peer.to_string(),
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
                http: crate::record::version_name(exchange.version),
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
            let mut text = serde_json::to_string(&record).unwrap();
            text.pop();
            text
        }
    }
}
