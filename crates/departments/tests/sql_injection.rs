//! The SQL injection corpus sent straight to department services (no firewall in front):
//! as search values, ids, DICOM query keys and resource content. Nothing may change, nothing
//! may leak, no answer may carry SQL or database error text.

mod common;

use std::path::PathBuf;

use common::{json, open_in, send};
use serde_json::{Value, json};

const FHIR: (&str, &str) = ("content-type", "application/fhir+json");

fn payloads() -> Vec<String> {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/sqli/sqli-sample.jsonl"),
    )
    .unwrap();
    text.lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["payload"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// FHIR search escaping, so a payload is one value (not alternatives or system|code).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace(',', "\\,")
        .replace('|', "\\|")
        .replace('$', "\\$")
}

fn enc(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// An answer must be a success or a client error, and an error must say nothing about SQL.
fn check_answer(what: &str, payload: &str, response: &http::Response<bytes::Bytes>) {
    let status = response.status().as_u16();
    assert!(status < 500, "{what} with {payload:?} -> {status}");
    if status >= 400 {
        let text = String::from_utf8_lossy(response.body()).to_lowercase();
        for leak in [
            "sqlite",
            "sqlx",
            "postgres",
            "syntax error",
            "database",
            "near \"",
            "no such table",
            "constraint",
        ] {
            assert!(
                !text.contains(leak),
                "{what} with {payload:?} leaked {leak:?}: {text}"
            );
        }
        if payload.len() > 3 {
            assert!(
                !text.contains(&payload.to_lowercase()),
                "{what} echoed the payload: {text}"
            );
        }
    }
}

#[tokio::test]
async fn the_injection_corpus_changes_nothing_and_leaks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let emergency = open_in(dir.path(), "emergency", None).await;
    let radiology = open_in(dir.path(), "radiology", None).await;
    let record = open_in(dir.path(), "record", None).await;

    let mut ids = Vec::new();
    for (family, birth) in [
        ("O'Brien", "1961-04-02"),
        ("Null", "1970-01-01"),
        ("Select", "1985-05-05"),
    ] {
        let body = json!({"resourceType": "Patient", "name": [{"family": family, "given": ["Ann"]}],
            "birthDate": birth, "identifier": [{"system": "urn:mrn", "value": format!("MRN-{family}")}]});
        let r = send(
            &emergency,
            "POST",
            "/fhir/Patient",
            &[FHIR],
            body.to_string(),
        )
        .await;
        ids.push(json(&r)["id"].as_str().unwrap().to_owned());
    }
    let obs = json!({"resourceType": "Observation", "status": "final", "code": {"text": "Hgb"},
        "subject": {"reference": format!("Patient/{}", ids[0])}});
    send(
        &emergency,
        "POST",
        "/fhir/Observation",
        &[FHIR],
        obs.to_string(),
    )
    .await;

    // Paging snapshots are search state, not records: a search may add one.
    let records = |counts: Vec<(String, i64)>| -> Vec<(String, i64)> {
        counts
            .into_iter()
            .filter(|(t, _)| t != "snapshots")
            .collect()
    };
    let counts_before = records(emergency.store().table_counts().await.unwrap());
    let mut reads_before = Vec::new();
    for id in &ids {
        reads_before.push(
            send(&emergency, "GET", &format!("/fhir/Patient/{id}"), &[], "")
                .await
                .body()
                .clone(),
        );
    }

    let payloads = payloads();
    assert_eq!(payloads.len(), 300);
    for payload in &payloads {
        let p = enc(payload);
        for param in [
            "name",
            "family",
            "identifier",
            "_id",
            "birthdate",
            "gender",
            "_lastUpdated",
            "_sort",
            "_count",
            "general-practitioner",
            "name:exact",
            "identifier:not",
        ] {
            let r = send(
                &emergency,
                "GET",
                &format!("/fhir/Patient?{param}={p}"),
                &[],
                "",
            )
            .await;
            check_answer(param, payload, &r);
            if r.status() == 200 {
                let total = json(&r)["total"].as_u64().unwrap();
                assert!(total <= 3, "{param}={payload:?} found {total} patients");
            }
        }
        let r = send(
            &emergency,
            "GET",
            &format!("/fhir/Observation?subject={p}&code={p}"),
            &[],
            "",
        )
        .await;
        check_answer("observation search", payload, &r);
        for method in ["GET", "DELETE", "PUT"] {
            let r = send(
                &emergency,
                method,
                &format!("/fhir/Patient/{p}"),
                &[FHIR],
                "{}",
            )
            .await;
            check_answer(method, payload, &r);
        }
        let r = send(
            &emergency,
            "GET",
            &format!("/fhir/Patient/{}/_history/{p}", ids[0]),
            &[],
            "",
        )
        .await;
        check_answer("vread", payload, &r);
        // A conditional create whose condition is the payload.
        let r = send(&record, "POST", "/fhir/DocumentReference", &[FHIR, ("if-none-exist", &format!("identifier={}", enc(&escape(payload))))],
            json!({"resourceType": "DocumentReference", "status": "current", "content": [{"attachment": {"title": payload}}],
                   "identifier": [{"value": payload}]}).to_string()).await;
        check_answer("conditional create", payload, &r);
        let r = send(
            &radiology,
            "GET",
            &format!("/dicom-web/studies?PatientName={p}&StudyDate={p}&PatientID={p}"),
            &[],
            "",
        )
        .await;
        check_answer("qido", payload, &r);
        let r = send(
            &radiology,
            "GET",
            &format!("/dicom-web/studies/{p}/metadata"),
            &[],
            "",
        )
        .await;
        check_answer("wado", payload, &r);
    }

    // Nothing of the emergency department changed.
    assert_eq!(
        records(emergency.store().table_counts().await.unwrap()),
        counts_before
    );
    for (id, before) in ids.iter().zip(&reads_before) {
        let now = send(&emergency, "GET", &format!("/fhir/Patient/{id}"), &[], "").await;
        assert_eq!(now.body(), before, "Patient/{id} changed");
    }
    // Payloads stored as content are data: each reads back as sent and finds itself.
    let all = json(
        &send(
            &record,
            "GET",
            "/fhir/DocumentReference?_count=500",
            &[],
            "",
        )
        .await,
    );
    let stored: Vec<&str> = all["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["resource"]["content"][0]["attachment"]["title"]
                .as_str()
                .unwrap()
        })
        .collect();
    for payload in &payloads {
        assert!(
            stored.contains(&payload.as_str()),
            "payload not stored as data: {payload:?}"
        );
    }
}
