//! The whole engine on an arbitrary request: never panics, verdicts stay consistent and
//! their excerpts bounded, and the memo of values judged in a request changes no verdict (a
//! traced inspection remembers nothing: it is compared with the plain one).
//!
//! Input layout: a flags byte (collect all, FHIR route, paranoia, decoding budget), then
//! `METHOD target` on the first line, headers `Name: value` one per line until an empty line,
//! then the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wardgate_waf::verdict::MAX_EXCERPT;
use wardgate_waf::{Engine, EngineConfig, Header, HttpRequest, Limits, RouteContext};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (head, body) = match rest.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&rest[..i], &rest[i + 2..]),
        None => (rest, &[][..]),
    };
    let Ok(head) = std::str::from_utf8(head) else {
        return;
    };
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or("GET /");
    let (method, target) = request_line
        .split_once(' ')
        .unwrap_or(("GET", request_line));
    let headers: Vec<Header<'_>> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(name, value)| Header {
            name,
            value: value.trim().as_bytes(),
        })
        .collect();
    let request = HttpRequest {
        headers: &headers,
        body,
        ..HttpRequest::new(method, target)
    };
    let engine = Engine::new(EngineConfig {
        collect_all: flags & 1 != 0,
        limits: Limits {
            max_inputs: 500,
            max_depth: 16,
            // From 64 bytes (the limit within reach of a short input) to 2 MiB.
            max_decoded_bytes: 64 << (flags >> 4),
            ..Limits::default()
        },
        ..EngineConfig::default()
    });
    let route = RouteContext {
        fhir: flags & 2 != 0,
        paranoia: 1 + (flags >> 2) % 4,
        ..RouteContext::default()
    };
    let verdict = engine.inspect(&request, &route);
    assert_eq!(verdict, engine.inspect_traced(&request, &route).0);
    let total: u32 = verdict.hits.iter().map(|h| u32::from(h.score)).sum();
    assert_eq!(total, verdict.score);
    assert_eq!(verdict.is_blocked(), verdict.score >= verdict.threshold);
    for hit in &verdict.hits {
        assert!(
            hit.excerpt.chars().count() <= MAX_EXCERPT + 1,
            "{}",
            hit.excerpt
        );
    }
    let _ = verdict.explain();
});
