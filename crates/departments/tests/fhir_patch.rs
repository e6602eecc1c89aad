//! FHIR patch (JSON Patch) as a client uses it: a versioned update of the fields it names,
//! the others kept exactly as the client first wrote them.

mod common;

use common::{header, json, send, sqlite_department};
use serde_json::json;

const FHIR: (&str, &str) = ("content-type", "application/fhir+json");
const PATCH: (&str, &str) = ("content-type", "application/json-patch+json");

/// Written with a decimal's trailing zero and an escaped character, which a re-serialised
/// resource would lose.
const OBSERVATION: &str = r#"{"resourceType":"Observation","id":"hb1","status":"preliminary","code":{"text":"haemoglobin"},"subject":{"reference":"Patient/p1"},"valueQuantity":{"value":13.50,"unit":"g/dL"},"note":[{"text":"drawn at 06:00 \u2013 fasting"}]}"#;

#[tokio::test]
async fn a_patch_updates_what_it_names_and_keeps_the_rest_as_written() {
    let t = sqlite_department("emergency").await;
    let d = &t.dept;
    let r = send(d, "PUT", "/fhir/Observation/hb1", &[FHIR], OBSERVATION).await;
    assert_eq!(r.status(), 201);

    let ops = json!([
        {"op": "test", "path": "/status", "value": "preliminary"},
        {"op": "replace", "path": "/status", "value": "final"},
        {"op": "add", "path": "/note/-", "value": {"text": "checked"}},
        {"op": "add", "path": "/issued", "value": "2026-11-29T06:30:00Z"}
    ]);
    let r = send(
        d,
        "PATCH",
        "/fhir/Observation/hb1",
        &[PATCH],
        ops.to_string(),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(r.body()));
    assert_eq!(header(&r, "etag"), "W/\"2\"");
    let read = send(d, "GET", "/fhir/Observation/hb1", &[], "").await;
    let got = json(&read);
    assert_eq!(got["status"], "final");
    assert_eq!(got["note"][1]["text"], "checked");
    assert_eq!(got["issued"], "2026-11-29T06:30:00Z");
    assert_eq!(got["meta"]["versionId"], "2");
    // The fields no operation touched are the client's own text.
    let text = String::from_utf8_lossy(read.body());
    assert!(
        text.contains(r#""valueQuantity":{"value":13.50,"unit":"g/dL"}"#),
        "{text}"
    );
    assert!(text.contains(r#""code":{"text":"haemoglobin"}"#), "{text}");
    // Search follows the patched value.
    let found = json(&send(d, "GET", "/fhir/Observation?status=final", &[], "").await);
    assert_eq!(found["total"], 1);
    // History keeps the version before the patch.
    let v1 = json(&send(d, "GET", "/fhir/Observation/hb1/_history/1", &[], "").await);
    assert_eq!(v1["status"], "preliminary");
}

#[tokio::test]
async fn a_patch_that_cannot_apply_changes_nothing() {
    let t = sqlite_department("emergency").await;
    let d = &t.dept;
    send(d, "PUT", "/fhir/Observation/hb1", &[FHIR], OBSERVATION).await;
    let patch = |ops: serde_json::Value| ops.to_string();
    // (headers, patch, status, code)
    type Case<'a> = (Vec<(&'a str, &'a str)>, String, u16, &'a str);
    let cases: Vec<Case> = vec![
        // A failed test, a missing path, a changed id: 422, nothing applied.
        (
            vec![PATCH],
            patch(
                json!([{"op": "replace", "path": "/status", "value": "final"}, {"op": "test", "path": "/status", "value": "amended"}]),
            ),
            422,
            "wardgate.departments.patch-failed",
        ),
        (
            vec![PATCH],
            patch(json!([{"op": "remove", "path": "/interpretation"}])),
            422,
            "wardgate.departments.patch-failed",
        ),
        (
            vec![PATCH],
            patch(json!([{"op": "replace", "path": "/id", "value": "other"}])),
            422,
            "wardgate.departments.patch-failed",
        ),
        // A result the resource rules refuse.
        (
            vec![PATCH],
            patch(json!([{"op": "replace", "path": "/resourceType", "value": "Patient"}])),
            422,
            "wardgate.departments.patch-failed",
        ),
        // Not a JSON Patch document.
        (
            vec![PATCH],
            "{\"op\":\"add\"}".into(),
            400,
            "wardgate.departments.bad-patch",
        ),
        (
            vec![FHIR],
            patch(json!([])),
            415,
            "wardgate.departments.unsupported-patch",
        ),
        // A stale version.
        (
            vec![PATCH, ("if-match", "W/\"7\"")],
            patch(json!([{"op": "replace", "path": "/status", "value": "final"}])),
            412,
            "wardgate.departments.precondition-failed",
        ),
    ];
    for (headers, body, status, code) in cases {
        let r = send(d, "PATCH", "/fhir/Observation/hb1", &headers, body.clone()).await;
        assert_eq!(
            r.status(),
            status,
            "{body}: {}",
            String::from_utf8_lossy(r.body())
        );
        assert_eq!(
            json(&r)["issue"][0]["details"]["coding"][0]["code"],
            code,
            "{body}"
        );
    }
    let read = send(d, "GET", "/fhir/Observation/hb1", &[], "").await;
    assert_eq!(header(&read, "etag"), "W/\"1\"");
    assert_eq!(json(&read)["status"], "preliminary");

    let ops = json!([{"op": "replace", "path": "/status", "value": "final"}]).to_string();
    let r = send(d, "PATCH", "/fhir/Observation/none", &[PATCH], ops.clone()).await;
    assert_eq!(r.status(), 404);
    send(d, "DELETE", "/fhir/Observation/hb1", &[], "").await;
    let r = send(d, "PATCH", "/fhir/Observation/hb1", &[PATCH], ops.clone()).await;
    assert_eq!(r.status(), 410);
    let r = send(d, "PATCH", "/fhir/Observation?status=final", &[PATCH], ops).await;
    assert_eq!(r.status(), 400);

    let cs = json(&send(d, "GET", "/fhir/metadata", &[], "").await);
    let interactions = &cs["rest"][0]["resource"][0]["interaction"];
    assert!(
        interactions
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["code"] == "patch"),
        "{interactions}"
    );
}
