//! The engine's behaviour independent of the detectors: extraction and locations, decoding,
//! anomalies, limits, FHIR awareness, custom rules, exclusions, modes. Detection itself is
//! tested with the detectors and on the corpora.

use super::*;
use crate::config::Limits;
use crate::decode::VariantKind;
use crate::request::Header;
use crate::rules::{Exclusion, RulePattern};

/// A rule that blocks wherever the marker appears, so locations show without detectors.
fn marker_engine() -> Engine {
    let rule = CustomRule::new("marker", RuleAction::Block)
        .unwrap()
        .with_pattern(RulePattern::literal("MARK").unwrap());
    Engine::new(EngineConfig {
        custom_rules: vec![rule],
        collect_all: true,
        ..EngineConfig::default()
    })
}

/// An engine that inspects every input whatever the detectors find, for traces.
fn tracing_engine() -> Engine {
    Engine::new(EngineConfig {
        collect_all: true,
        ..EngineConfig::default()
    })
}

fn locations(verdict: &Verdict) -> Vec<&str> {
    verdict.hits.iter().map(|h| h.location.as_str()).collect()
}

fn request<'a>(
    method: &'a str,
    target: &'a str,
    headers: &'a [Header<'a>],
    body: &'a [u8],
) -> HttpRequest<'a> {
    HttpRequest {
        headers,
        body,
        ..HttpRequest::new(method, target)
    }
}

fn header<'a>(name: &'a str, value: &'a str) -> Header<'a> {
    Header {
        name,
        value: value.as_bytes(),
    }
}

#[test]
fn every_input_of_the_url_and_headers_is_placed() {
    let headers = [
        header("X-Custom", "a MARK"),
        header("Cookie", "session=MARK1; MARKname=v"),
    ];
    let req = request("GET", "/app/MARK/x?id=MARK&MARK%20name=1", &headers, b"");
    let v = marker_engine().inspect(&req, &RouteContext::default());
    assert_eq!(
        locations(&v),
        vec![
            "path[1]",
            "path",
            "query:id",
            "query-name:MARK name",
            "header:x-custom",
            "cookie:session",
            "cookie-name:MARKname"
        ]
    );
    assert!(v.is_blocked());
    assert_eq!(v.hits[0].rule, "custom.marker");
}

#[test]
fn every_body_format_is_placed() {
    let engine = marker_engine();
    let route = RouteContext::default();
    let form = [header("Content-Type", "application/x-www-form-urlencoded")];
    let v = engine.inspect(&request("POST", "/f", &form, b"a=MARK&MARK=b"), &route);
    assert_eq!(locations(&v), vec!["form:a", "form-name:MARK"]);

    let multipart = [header("Content-Type", "multipart/form-data; boundary=zz")];
    let body = b"--zz\r\nContent-Disposition: form-data; name=\"MARKf\"; filename=\"MARK.txt\"\r\n\r\nMARK text\r\n--zz\r\nContent-Disposition: form-data; name=\"img\"; filename=\"a.png\"\r\n\r\n\x89PNG MARK\r\n--zz--\r\n";
    let v = engine.inspect(&request("POST", "/f", &multipart, body), &route);
    assert_eq!(
        locations(&v),
        vec![
            "multipart-name:MARKf",
            "multipart-filename:MARKf",
            "multipart:MARKf"
        ]
    );

    let json = [header("Content-Type", "application/json")];
    let body = br#"{"note":[{"text":"\u004dARK"}],"MARK key":1,"n":5}"#;
    let v = engine.inspect(&request("POST", "/f", &json, body), &route);
    assert_eq!(
        locations(&v),
        vec!["body:$.note[0].text", "body-key:$['MARK key']"]
    );

    let xml = [header("Content-Type", "application/xml")];
    let v = engine.inspect(
        &request("POST", "/f", &xml, br#"<a><b c="MARK">MARK</b></a>"#),
        &route,
    );
    assert_eq!(locations(&v), vec!["body", "xml:/a/b/@c", "xml:/a/b"]);

    let text = [header("Content-Type", "text/plain")];
    let v = engine.inspect(&request("POST", "/f", &text, b"plain MARK"), &route);
    assert_eq!(locations(&v), vec!["body"]);
}

#[test]
fn malformed_declared_json_is_an_anomaly_and_read_as_text() {
    let json = [header("Content-Type", "application/json")];
    let v = marker_engine().inspect(
        &request("POST", "/f", &json, b"{\"a\": MARK"),
        &RouteContext::default(),
    );
    let rules: Vec<_> = v.hits.iter().map(|h| h.rule.as_ref()).collect();
    assert_eq!(rules, vec!["protocol.json-malformed", "custom.marker"]);
    assert_eq!(locations(&v), vec!["body", "body"]);
}

#[test]
fn encoded_values_are_found_in_their_decoded_forms() {
    let engine = marker_engine();
    let route = RouteContext::default();
    for (target, form) in [
        ("/x?q=%254DARK", VariantKind::Decoded),
        ("/x?q=%26%2377%3BARK", VariantKind::Decoded),
        ("/x?q=%5Cu004dARK", VariantKind::Decoded),
        ("/x?q=%uFF2DARK", VariantKind::Normalised),
        ("/x?q=TUFSSyBteSB3b3Jkcw", VariantKind::Base64),
    ] {
        let v = engine.inspect(&HttpRequest::new("GET", target), &route);
        assert_eq!(v.hits.len(), 1, "{target}: {v:?}");
        assert_eq!(v.hits[0].variant, form, "{target}");
        assert_eq!(v.hits[0].location, "query:q");
    }
}

#[test]
fn evasive_encodings_are_anomalies_that_block() {
    let engine = tracing_engine();
    let route = RouteContext::default();
    let anomaly = |v: &Verdict, rule: &str| {
        v.hits
            .iter()
            .find(|h| h.rule == rule)
            .map(|h| (h.location.clone(), h.score))
    };
    let v = engine.inspect(
        &HttpRequest::new("GET", "/x?f=%C0%AE%C0%AE%C0%AFetc"),
        &route,
    );
    assert!(v.is_blocked());
    assert_eq!(
        anomaly(&v, "protocol.overlong-utf8"),
        Some(("query:f".to_owned(), 5))
    );
    let v = engine.inspect(&HttpRequest::new("GET", "/x?f=a%00b"), &route);
    assert!(v.is_blocked());
    assert_eq!(
        anomaly(&v, "protocol.nul-byte"),
        Some(("query:f".to_owned(), 5))
    );
}

#[test]
fn limits_bound_the_work_and_count_against_the_request() {
    let engine = Engine::new(EngineConfig {
        limits: Limits {
            max_inputs: 10,
            max_depth: 5,
            ..Limits::default()
        },
        ..EngineConfig::default()
    });
    let route = RouteContext::default();
    let json = [header("Content-Type", "application/json")];
    let deep = "[".repeat(6) + &"]".repeat(6);
    let v = engine.inspect(&request("POST", "/x", &json, deep.as_bytes()), &route);
    assert_eq!(v.hits[0].rule, "protocol.limit-depth");
    assert!(v.is_blocked());

    let many: String = (0..20).map(|i| format!("a{i}=1&")).collect();
    let target = format!("/x?{many}");
    let v = engine.inspect(&HttpRequest::new("GET", &target), &route);
    assert_eq!(v.hits[0].rule, "protocol.limit-inputs");
    assert_eq!(v.hits[0].location, "request");

    let tight = Engine::new(EngineConfig {
        limits: Limits {
            max_decoded_bytes: 8,
            ..Limits::default()
        },
        ..EngineConfig::default()
    });
    let v = tight.inspect(
        &HttpRequest::new("GET", "/x?q=%253Cscript%253E%253C%252Fscript%253E"),
        &route,
    );
    assert_eq!(v.hits[0].rule, "protocol.limit-decoding");
}

#[test]
fn fhir_values_that_fit_their_grammar_are_not_inspected() {
    let engine = tracing_engine();
    let req = HttpRequest::new(
        "GET",
        "/laboratory/fhir/Observation?patient=Patient/p1&date=ge2024-11-01&code:text=drop%20attack&foo=bar",
    );
    let (v, trace) = engine.inspect_traced(&req, &RouteContext::fhir());
    let seen: Vec<_> = trace
        .iter()
        .map(|t| (t.location.as_str(), t.kind))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("path", InputKind::Path),
            ("query:code:text", InputKind::QueryValue),
            ("query-name:foo", InputKind::QueryName),
            ("query:foo", InputKind::QueryValue),
        ]
    );
    assert!(v.fhir_issues.is_empty());
}

#[test]
fn fhir_grammar_breaks_are_reported_and_inspected() {
    let engine = tracing_engine();
    let req = HttpRequest::new("GET", "/emergency/fhir/Patient/1'--?birthdate=1' or '1'='1");
    let (v, trace) = engine.inspect_traced(&req, &RouteContext::fhir());
    let codes: Vec<_> = v.fhir_issues.iter().map(FhirIssue::code).collect();
    assert_eq!(codes, vec!["fhir.path", "fhir.search-parameter"]);
    let seen: Vec<_> = trace.iter().map(|t| t.location.as_str()).collect();
    assert_eq!(
        seen,
        vec!["path[3]", "path", "query-name:birthdate", "query:birthdate"]
    );
}

#[test]
fn fhir_bodies_are_judged_by_element_and_checked_against_the_path() {
    let engine = tracing_engine();
    let json = [header("Content-Type", "application/fhir+json")];
    let body =
        br#"{"resourceType":"Patient","id":"p2","text":{"status":"generated","div":"<div>x</div>"},
        "name":[{"family":"O'Brien","given":["Ann"]}],"note":[{"text":"drop table"}],
        "gender":"female","telecom":[{"system":"phone","value":"555-0100 ext. 2"}],
        "photo":[{"contentType":"image/png","data":"iVBORw0KGgo="}]}"#;
    let req = request("PUT", "/record/fhir/Patient/p1", &json, body);
    let (v, trace) = engine.inspect_traced(&req, &RouteContext::fhir());
    let seen: Vec<_> = trace
        .iter()
        .map(|t| (t.location.as_str(), t.kind))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("path", InputKind::Path),
            ("header:content-type", InputKind::HeaderValue),
            // resourceType, id, text.status and gender fit their FHIR grammar: not judged.
            ("body:$.text.div", InputKind::FhirNarrative),
            ("body:$.name[0].family", InputKind::ClinicalText),
            ("body:$.name[0].given[0]", InputKind::ClinicalText),
            ("body:$.note[0].text", InputKind::ClinicalText),
            ("body:$.telecom[0].value", InputKind::JsonString),
            ("body:$.photo[0].contentType", InputKind::JsonString),
        ]
    );
    let codes: Vec<_> = v.fhir_issues.iter().map(|i| i.to_string()).collect();
    assert_eq!(
        codes,
        vec!["the body's id \"p2\" differs from the path's \"p1\""]
    );

    let req = request(
        "POST",
        "/record/fhir/Observation",
        &json,
        br#"{"resourceType":"Patient"}"#,
    );
    let v = engine.inspect(&req, &RouteContext::fhir());
    assert_eq!(v.fhir_issues[0].code(), "fhir.resource-type");
}

#[test]
fn text_attachments_and_patch_values_are_judged_as_text() {
    let engine = tracing_engine();
    let json = [header("Content-Type", "application/fhir+json")];
    // "<b>hello</b>" in Base64.
    let body = br#"{"resourceType":"Binary","data":"PGI+aGVsbG88L2I+","contentType":"text/html"}"#;
    let (_, trace) = engine.inspect_traced(
        &request("POST", "/record/fhir/Binary", &json, body),
        &RouteContext::fhir(),
    );
    let data = trace.iter().find(|t| t.location == "body:$.data").unwrap();
    assert_eq!(data.kind, InputKind::FhirNarrative);
    assert_eq!(data.forms[0].1, "<b>hello</b>");

    let patch = [header("Content-Type", "application/json-patch+json")];
    let body = br#"[{"op":"replace","path":"/name/0/family","value":"O'Brien-Walsh"}]"#;
    let (_, trace) = engine.inspect_traced(
        &request("PATCH", "/record/fhir/Patient/p1", &patch, body),
        &RouteContext::fhir(),
    );
    let value = trace
        .iter()
        .find(|t| t.location == "body:$[0].value")
        .unwrap();
    assert_eq!(value.kind, InputKind::ClinicalText);
}

#[test]
fn xml_declarations_reach_the_xxe_detector_even_in_utf7() {
    let engine = tracing_engine();
    let xml = [header("Content-Type", "application/xml")];
    let body = b"<?xml version=\"1.0\" encoding=\"UTF-7\"?>\n+ADwAIQ-DOCTYPE foo+AFs +ADwAIQ-ENTITY xxe SYSTEM +ACI-http://x+ACI +AD4AXQA+\n+ADw-foo+AD4AJg-xxe+ADsAPA-/foo+AD4\n";
    let (_, trace) =
        engine.inspect_traced(&request("POST", "/x", &xml, body), &RouteContext::default());
    let doc = trace
        .iter()
        .find(|t| t.kind == InputKind::XmlDocument)
        .unwrap();
    assert!(
        doc.forms[0]
            .1
            .contains("<!DOCTYPE foo[ <!ENTITY xxe SYSTEM \"http://x\" >]>"),
        "{}",
        doc.forms[0].1
    );
}

#[test]
fn custom_rules_allow_block_and_cannot_be_stepped_around() {
    let allow_health = CustomRule::new("health", RuleAction::Allow)
        .unwrap()
        .with_path_prefix("/health");
    let block_lab = CustomRule::new("no-lab-delete", RuleAction::Block)
        .unwrap()
        .with_methods(&["DELETE"])
        .with_path_prefix("/laboratory/");
    let allow_field = CustomRule::new("free-sql-console", RuleAction::Allow)
        .unwrap()
        .with_location("query:console")
        .unwrap();
    let engine = Engine::new(EngineConfig {
        custom_rules: vec![allow_health, block_lab, allow_field],
        ..EngineConfig::default()
    });
    let route = RouteContext::default();
    let v = engine.inspect(&HttpRequest::new("GET", "/health?x=%00"), &route);
    assert_eq!(v.explain(), "allowed by custom rule health");
    let v = engine.inspect(
        &HttpRequest::new("DELETE", "/x/%2e%2e/laboratory/fhir/Observation/1"),
        &route,
    );
    assert!(v.is_blocked());
    assert_eq!(v.hits[0].rule, "custom.no-lab-delete");
    assert_eq!(v.hits[0].location, "request");
    let v = engine.inspect(&HttpRequest::new("GET", "/x?console=%00&other=%00"), &route);
    assert_eq!(locations(&v), vec!["query:other"]);
}

#[test]
fn exclusions_drop_findings_by_location_and_detector() {
    let engine = Engine::new(EngineConfig {
        exclusions: vec![Exclusion::new(Some("query:legacy*"), &["protocol.nul-byte"]).unwrap()],
        collect_all: true,
        ..EngineConfig::default()
    });
    let route_exclusions = [Exclusion::new(Some("header:*"), &["protocol"]).unwrap()];
    let route = RouteContext {
        exclusions: &route_exclusions,
        ..RouteContext::default()
    };
    let headers = [header("X-Old", "a\0b")];
    let req = request("GET", "/x?legacy_id=a%00&id=a%00", &headers, b"");
    let v = engine.inspect(&req, &route);
    assert_eq!(locations(&v), vec!["query:id"]);
}

#[test]
fn modes_thresholds_and_early_stop() {
    let engine = Engine::new(EngineConfig::default());
    let target = "/x?a=%00&b=%00";
    let v = engine.inspect(&HttpRequest::new("GET", target), &RouteContext::default());
    assert!(v.is_blocked());
    assert!(!v.complete, "stops at the first blocking score");
    assert_eq!(v.hits.len(), 1);

    let detect_only = RouteContext {
        mode: Some(Mode::DetectOnly),
        ..RouteContext::default()
    };
    let v = engine.inspect(&HttpRequest::new("GET", target), &detect_only);
    assert!(!v.is_blocked());
    assert!(v.reaches_threshold());
    assert_eq!(v.hits.len(), 2);
    assert!(
        v.explain()
            .starts_with("would block (detect-only): protocol.nul-byte (score 10)")
    );

    let lenient = RouteContext {
        threshold: Some(11),
        ..RouteContext::default()
    };
    let v = engine.inspect(&HttpRequest::new("GET", target), &lenient);
    assert!(!v.is_blocked());
    assert!(v.complete);
}

#[test]
fn the_engine_is_shared_across_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Engine>();
}

#[test]
fn repeated_values_are_judged_once_but_reported_everywhere() {
    let engine = tracing_engine();
    let padding: String = (0..40).map(|i| format!("p{i}=v&")).collect();
    // The same base value from an overlong form and from a plain one: only the first is an
    // evasion, even though the second is remembered from it.
    let target = format!("/x?{padding}a=%C0%AFetc&b=/etc&c=a%2500b&d=a%2500b");
    let v = engine.inspect(&HttpRequest::new("GET", &target), &RouteContext::default());
    let at = |rule: &str| -> Vec<&str> {
        v.hits
            .iter()
            .filter(|h| h.rule == rule)
            .map(|h| h.location.as_str())
            .collect()
    };
    assert_eq!(at("protocol.overlong-utf8"), vec!["query:a"]);
    assert_eq!(at("protocol.nul-byte"), vec!["query:c", "query:d"]);

    let excluded = Engine::new(EngineConfig {
        exclusions: vec![Exclusion::new(Some("query:c"), &[]).unwrap()],
        collect_all: true,
        ..EngineConfig::default()
    });
    let v = excluded.inspect(&HttpRequest::new("GET", &target), &RouteContext::default());
    let nul: Vec<_> = v
        .hits
        .iter()
        .filter(|h| h.rule == "protocol.nul-byte")
        .map(|h| h.location.as_str())
        .collect();
    assert_eq!(nul, vec!["query:d"]);
}

/// `inspect_traced` remembers no judgement (a trace lists every input's decoded forms), so it
/// gives the verdict of judging every value again.
#[test]
fn remembered_judgements_give_the_verdicts_of_judging_again() {
    let json = [header("Content-Type", "application/json")];
    let xml = [header("Content-Type", "application/xml")];
    // Values that decoding changes (so that judging them takes from the budget), whose decoded
    // forms find more than the raw ones, repeated, then a value that needs the budget too.
    let twice = "%2e%2e/a/../b";
    let thrice = "%253Cscript%253E";
    let json_bodies = [
        r#"{"unit":"g/dL","code":"g/dL","note":"g/dL"}"#.to_owned(),
        format!(r#"{{"a":"{twice}","b":"{twice}","c":"%2e%2e/%2e%2e/x","d":"{twice}"}}"#),
        format!(r#"{{"a":["{thrice}","{thrice}","{twice}","{thrice}"],"b":"x%2500y"}}"#),
    ];
    let xml_body = format!(r#"<a><b c="{twice}">{twice}</b><b c="{thrice}">{twice}</b></a>"#);
    let mut requests: Vec<HttpRequest<'_>> = json_bodies
        .iter()
        .map(|body| request("POST", "/f", &json, body.as_bytes()))
        .collect();
    requests.push(request("POST", "/f", &xml, xml_body.as_bytes()));
    // Headers are remembered in a request of many inputs; the same value in the User-Agent and
    // in `Accept`, which the scanner rules do not read.
    let padding: String = (0..40).map(|i| format!("p{i}=v&")).collect();
    let target = format!("/x?{padding}q={twice}&r={twice}");
    let agents = [
        header("Accept", "sqlmap/1.4"),
        header("User-Agent", "sqlmap/1.4"),
    ];
    requests.push(request("GET", &target, &agents, b""));
    let mut scanned = false;
    for budget in 0..96 {
        for collect_all in [false, true] {
            let engine = Engine::new(EngineConfig {
                limits: Limits {
                    max_decoded_bytes: budget,
                    ..Limits::default()
                },
                collect_all,
                ..EngineConfig::default()
            });
            for route in [RouteContext::default(), RouteContext::fhir()] {
                for req in &requests {
                    let remembered = engine.inspect(req, &route);
                    let (judged_again, _) = engine.inspect_traced(req, &route);
                    assert_eq!(
                        remembered,
                        judged_again,
                        "budget {budget}, {} {}",
                        req.path,
                        String::from_utf8_lossy(req.body)
                    );
                    scanned |= remembered
                        .hits
                        .iter()
                        .any(|h| h.location == "header:user-agent");
                }
            }
        }
    }
    assert!(scanned, "the User-Agent's scanner name is found");
}

#[test]
fn log_rules_record_a_hit_that_scores_nothing() {
    let watch = CustomRule::new("watch-export", RuleAction::Log)
        .unwrap()
        .with_pattern(RulePattern::literal("_export").unwrap());
    let watch_path = CustomRule::new("watch-admin", RuleAction::Log)
        .unwrap()
        .with_path_prefix("/admin");
    let engine = Engine::new(EngineConfig {
        custom_rules: vec![watch, watch_path],
        ..EngineConfig::default()
    });
    let v = engine.inspect(
        &HttpRequest::new("GET", "/admin/x?op=%24_export"),
        &RouteContext::default(),
    );
    assert!(!v.is_blocked());
    assert_eq!(v.score, 0);
    let rules: Vec<&str> = v.hits.iter().map(|h| h.rule.as_ref()).collect();
    assert_eq!(rules, vec!["custom.watch-admin", "custom.watch-export"]);
    assert_eq!(v.hits[1].location, "query:op");
}

#[test]
fn a_rule_counts_once_per_input_with_its_highest_score() {
    let config = EngineConfig {
        collect_all: true,
        ..EngineConfig::default()
    };
    let route = RouteContext::default();
    let mut memo = Memo::default();
    let mut run = Inspection::new(&config, &route, &mut memo);
    let hit = |score: u16, text: &'static str| PendingHit {
        class: HitClass::Attack(AttackClass::Sqli),
        rule: Cow::Borrowed("sqli.tautology"),
        score,
        excerpt: Excerpt::Ready(text.to_owned()),
        variant: VariantKind::Raw,
    };
    // Raw form first (a weak match), then a decoded form (decisive), then weak again.
    for (score, text) in [(3, "raw"), (5, "decoded"), (3, "normalised")] {
        run.add_hit(&Place::Query("q"), &mut None, 0, hit(score, text));
    }
    let v = run.finish();
    assert_eq!(v.hits.len(), 1);
    assert_eq!(
        (v.hits[0].score, v.hits[0].excerpt.as_str()),
        (5, "decoded")
    );
    assert_eq!(v.score, 5);
    assert!(v.is_blocked());
}

#[test]
fn xml_is_read_by_declaration_whatever_the_label() {
    let engine = tracing_engine();
    let doc = b"<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><a>&x;</a>";
    for content_type in [
        "application/x-www-form-urlencoded",
        "text/plain",
        "application/xml-dtd",
    ] {
        let headers = [header("Content-Type", content_type)];
        let v = engine.inspect(
            &request("POST", "/x", &headers, doc),
            &RouteContext::default(),
        );
        assert!(
            v.hits.iter().any(|h| h.rule == "xxe.external-entity"),
            "{content_type}: {}",
            v.explain()
        );
    }
}

#[test]
fn base64_is_unwrapped_when_short_or_percent_encoded() {
    let engine = tracing_engine();
    // `\r\nQUIT\r\n` (11 characters, no digits), and `../etc/passwd` with `%3D%3D` padding in
    // a header, which is not URL-decoded as a whole.
    let headers = [header("X-File", "Li4vZXRjL3Bhc3N3ZA%3D%3D")];
    let (_, trace) = engine.inspect_traced(
        &request("GET", "/x?c=DQpRVUlUDQo", &headers, b""),
        &RouteContext::default(),
    );
    let base64 = |location: &str| {
        trace
            .iter()
            .find(|t| t.location == location)
            .and_then(|t| t.forms.iter().find(|(k, _)| *k == VariantKind::Base64))
            .map(|(_, text)| text.clone())
    };
    assert_eq!(base64("query:c").as_deref(), Some("\r\nQUIT\r\n"));
    assert_eq!(base64("header:x-file").as_deref(), Some("../etc/passwd"));
    // Mixed-case words that do not decode to text stay words.
    let (_, trace) = engine.inspect_traced(
        &HttpRequest::new("GET", "/x?n=McDonalds&m=OBrienSmith"),
        &RouteContext::default(),
    );
    assert!(
        trace
            .iter()
            .all(|t| t.forms.iter().all(|(k, _)| *k != VariantKind::Base64)),
        "{trace:?}"
    );
}
