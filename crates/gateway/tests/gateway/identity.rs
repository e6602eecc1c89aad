//! The authenticate and authorize phases through the gateway, with real accounts logged in
//! over HTTP: deny by default, tokens refused, scopes, the patient filter, step-up, Bundles
//! entry by entry, DICOMweb, other APIs of a department, and break-the-glass.

use crate::support::TestGateway;

#[tokio::test]
async fn anonymous_requests_are_refused_except_the_capability_statement_and_discovery() {
    let gateway = TestGateway::start().await;
    let mut client = gateway.anonymous(b"http/1.1").await;
    for path in [
        "/emergency/fhir/Patient",
        "/emergency/fhir/NotAType",
        "/emergency/wait/1",
        "/radiology/dicom-web/studies",
    ] {
        let answer = client.get(path).await;
        assert_eq!(answer.status, 401, "{path}");
        assert_eq!(answer.outcome_code(), "wardgate.auth.required");
        assert_eq!(answer.headers["www-authenticate"], "Bearer");
    }
    assert_eq!(gateway.upstream.seen(), 0);
    assert_eq!(client.get("/emergency/fhir/metadata").await.status, 200);
    let discovery = client
        .get("/emergency/fhir/.well-known/smart-configuration")
        .await;
    assert_eq!(discovery.status, 200);
    assert!(
        discovery.json()["token_endpoint"]
            .as_str()
            .unwrap()
            .ends_with("/auth/token")
    );
    assert_eq!(
        client.get("/.well-known/smart-configuration").await.status,
        200
    );
    assert_eq!(gateway.upstream.seen(), 1);
}

#[tokio::test]
async fn a_logged_in_user_is_recorded_by_name_and_token_id_never_by_token() {
    let gateway = TestGateway::start().await;
    let token = gateway.token().await;
    let mut client = gateway.client(b"h2").await;
    let answer = client.get("/emergency/fhir/Patient?name=Smith").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["authorization_present"], true);
    let records = gateway.records(3).await;
    assert!(
        records.iter().all(|r| !r.to_string().contains(&token)),
        "a token reached the record"
    );
    let login = records.iter().find(|r| r["path"] == "/auth/login").unwrap();
    assert_eq!(login["status"], 200);
    assert_eq!(login["route"], "/auth/");
    let record = records
        .iter()
        .find(|r| r["path"] == "/emergency/fhir/Patient")
        .unwrap();
    assert_eq!(record["principal"]["name"], "test.physician");
    assert_eq!(record["principal"]["kind"], "user");
    assert!(!record["principal"]["token_id"].as_str().unwrap().is_empty());
    assert_eq!(record["authorization"]["rule"], "authz.allow.scope");
    assert!(
        record["authorization"]["reason"]
            .as_str()
            .unwrap()
            .contains("search-type")
    );
}

#[tokio::test]
async fn bad_tokens_are_401_with_an_invalid_token_challenge() {
    let gateway = TestGateway::start().await;
    // A nurse of the emergency department only: her token is not for the laboratory.
    let token = gateway
        .login_new("nurse.joy", &["nurse"], &["emergency"], &[])
        .await;
    for (authorization, path) in [
        ("Bearer not.a.token".to_owned(), "/emergency/fhir/Patient"),
        ("Basic dXNlcjpwdw==".to_owned(), "/emergency/fhir/Patient"),
        (format!("Bearer {token}"), "/laboratory/fhir/Observation"),
    ] {
        let mut client = gateway.anonymous(b"http/1.1").await;
        let request = http::Request::get(path)
            .header("host", "localhost")
            .header("authorization", authorization)
            .body(crate::support::full(bytes::Bytes::new()))
            .unwrap();
        let answer = client.send(request).await.unwrap();
        assert_eq!(answer.status, 401, "{path}");
        assert_eq!(answer.outcome_code(), "wardgate.auth.invalid-token");
        assert_eq!(
            answer.headers["www-authenticate"],
            "Bearer error=\"invalid_token\""
        );
    }
    // A revoked token is refused at once.
    let mut client = gateway
        .anonymous(b"http/1.1")
        .await
        .with_token(token.clone());
    assert_eq!(client.get("/emergency/fhir/Patient").await.status, 200);
    let revoked = client.post_form("/auth/revoke", &[("token", &token)]).await;
    assert_eq!(revoked.status, 200);
    assert_eq!(client.get("/emergency/fhir/Patient").await.status, 401);
    assert_eq!(gateway.upstream.seen(), 1);
}

#[tokio::test]
async fn scopes_decide_per_interaction_and_type_and_search_parameters_are_checked() {
    let gateway = TestGateway::start().await;
    let token = gateway
        .login_new("nurse.ratched", &["nurse"], &["emergency"], &[])
        .await;
    let mut client = gateway.anonymous(b"http/1.1").await.with_token(token);
    assert_eq!(
        client
            .get("/emergency/fhir/Observation?code=x")
            .await
            .status,
        200
    );
    let condition = client
        .send_body(
            "POST",
            "/emergency/fhir/Condition",
            "application/fhir+json",
            r#"{"resourceType":"Condition"}"#,
        )
        .await;
    assert_eq!(condition.status, 403);
    assert_eq!(condition.outcome_code(), "authz.scope");
    let include = client
        .get("/emergency/fhir/Observation?_include=Observation:performer:Practitioner")
        .await;
    assert_eq!(include.status, 403);
    assert_eq!(include.outcome_code(), "authz.search-parameter");
    // The same through POST _search with the parameters in a form body.
    let form = client
        .send_body(
            "POST",
            "/emergency/fhir/Observation/_search",
            "application/x-www-form-urlencoded",
            "_revinclude=MedicationRequest:subject",
        )
        .await;
    assert_eq!(form.status, 403);
    assert_eq!(form.outcome_code(), "authz.search-parameter");
    // A member of the department only: other departments are segmented away.
    assert_eq!(gateway.upstream.seen(), 1);
    let records = gateway.records(6).await;
    let denied = records.iter().find(|r| r["code"] == "authz.scope").unwrap();
    assert_eq!(denied["authorization"]["rule"], "authz.scope");
    assert_eq!(denied["phases"]["authorize"]["verdict"], "refused");
}

#[tokio::test]
async fn a_patient_scoped_token_is_confined_to_its_patient() {
    let gateway = TestGateway::start().await;
    let token = gateway
        .login_new(
            "app.caregiver",
            &["caregiver"],
            &["emergency"],
            &[
                ("scope", "patient/Observation.rs patient/Patient.r"),
                ("patient", "pt-42"),
            ],
        )
        .await;
    let mut client = gateway.anonymous(b"http/1.1").await.with_token(token);
    let search = client.get("/emergency/fhir/Observation?code=718-7").await;
    assert_eq!(search.status, 200);
    assert_eq!(
        search.json()["uri"],
        "/base/fhir/Observation?code=718-7&patient=Patient/pt-42"
    );
    assert_eq!(
        client.get("/emergency/fhir/Patient/pt-42").await.status,
        200
    );
    let other = client.get("/emergency/fhir/Patient/pt-7").await;
    assert_eq!(other.status, 403);
    assert_eq!(other.outcome_code(), "authz.patient-compartment");
    // A read by id of another type cannot be confined at the gateway: refused.
    let by_id = client.get("/emergency/fhir/Observation/obs-1").await;
    assert_eq!(by_id.status, 403);
    assert_eq!(by_id.outcome_code(), "wardgate.authz.cannot-confine");
    assert_eq!(gateway.upstream.seen(), 2);
}

#[tokio::test]
async fn a_delete_needs_a_recent_second_factor() {
    let gateway = TestGateway::start().await;
    gateway
        .login_new("dr.stepup", &["physician"], &["emergency"], &[])
        .await;
    // Twenty minutes later the session is refreshed: the second factor is now too old.
    gateway.identity.clock().advance(20 * 60);
    let tokens = gateway.login("dr.stepup", &[]).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    gateway.identity.clock().advance(20 * 60);
    let mut anonymous = gateway.anonymous(b"http/1.1").await;
    let refreshed = anonymous
        .post_form(
            "/auth/token",
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(refreshed.status, 200);
    let token = refreshed.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut client = gateway.anonymous(b"http/1.1").await.with_token(token);
    let request = http::Request::delete("/emergency/fhir/Flag/f1")
        .header("host", "localhost")
        .body(crate::support::full(bytes::Bytes::new()))
        .unwrap();
    let answer = client.send(request).await.unwrap();
    assert_eq!(answer.status, 401);
    assert_eq!(answer.outcome_code(), "authz.step-up");
    assert_eq!(
        answer.headers["www-authenticate"],
        "Bearer error=\"insufficient_user_authentication\""
    );
    assert_eq!(client.get("/emergency/fhir/Flag/f1").await.status, 200);
    assert_eq!(gateway.upstream.seen(), 1);
}

#[tokio::test]
async fn a_transaction_is_authorized_entry_by_entry() {
    let gateway = TestGateway::start().await;
    let token = gateway
        .login_new("nurse.bundle", &["nurse"], &["emergency"], &[])
        .await;
    let mut client = gateway.anonymous(b"http/1.1").await.with_token(token);
    let allowed = r#"{"resourceType":"Bundle","type":"transaction","entry":[
        {"resource":{"resourceType":"Observation","status":"final"},"request":{"method":"POST","url":"Observation"}},
        {"request":{"method":"GET","url":"Patient?name=Smith"}}]}"#;
    let answer = client
        .send_body("POST", "/emergency/fhir", "application/fhir+json", allowed)
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["body"], allowed);
    let mixed = allowed.replace(
        r#""url":"Patient?name=Smith""#,
        r#""url":"Condition?code=x""#,
    );
    let answer = client
        .send_body(
            "POST",
            "/emergency/fhir",
            "application/fhir+json",
            mixed.clone(),
        )
        .await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.outcome_code(), "wardgate.authz.bundle-entry");
    let text = String::from_utf8_lossy(&answer.body);
    assert!(text.contains("whole transaction"), "{text}");
    assert_eq!(gateway.upstream.seen(), 1);
}

#[tokio::test]
async fn a_denied_batch_entry_gets_its_own_403_and_the_others_run() {
    let gateway = TestGateway::start().await;
    let token = gateway
        .login_new("nurse.batch", &["nurse"], &["emergency"], &[])
        .await;
    let mut client = gateway.anonymous(b"http/1.1").await.with_token(token);
    // The nurse may create Observations and search Patients, not read Conditions.
    let batch = r#"{"resourceType":"Bundle","type":"batch","entry":[
        {"request":{"method":"GET","url":"Condition?code=x"}},
        {"resource":{"resourceType":"Observation","status":"final"},"request":{"method":"POST","url":"Observation"}},
        {"request":{"method":"GET","url":"Condition/c1"}},
        {"request":{"method":"GET","url":"Patient?name=O'Brien"}}]}"#;
    // The client accepts gzip; the gateway reads the department's answer to merge the 403s
    // in, so it asks for it unencoded.
    let request = http::Request::post("/emergency/fhir")
        .header("host", "localhost")
        .header("content-type", "application/fhir+json")
        .header("accept-encoding", "gzip")
        .body(crate::support::full(bytes::Bytes::from(batch)))
        .unwrap();
    let answer = client.send(request).await.unwrap();
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert!(!answer.headers.contains_key("x-asked-encoding"));
    let bundle = answer.json();
    assert_eq!(bundle["type"], "batch-response");
    let entries = bundle["entry"].as_array().unwrap();
    let statuses: Vec<&str> = entries
        .iter()
        .map(|e| e["response"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["403 Forbidden", "200 OK", "403 Forbidden", "200 OK"]
    );
    // The department saw only the allowed entries, in their order.
    assert_eq!(entries[1]["response"]["location"], "Observation");
    assert_eq!(entries[3]["response"]["location"], "Patient?name=O'Brien");
    assert_eq!(gateway.upstream.seen(), 1);
    let outcome = &entries[0]["response"]["outcome"];
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    assert_eq!(outcome["issue"][0]["code"], "forbidden");
    let text = outcome.to_string();
    assert!(text.contains("entry 0"), "{text}");
    let request_id = answer.headers["x-request-id"].to_str().unwrap();
    assert!(text.contains(request_id), "{text}");

    // Every entry denied: the gateway answers alone, nothing is forwarded.
    let denied = r#"{"resourceType":"Bundle","type":"batch","entry":[
        {"request":{"method":"GET","url":"Condition?code=x"}},
        {"request":{"method":"DELETE","url":"Condition/c1"}}]}"#;
    let answer = client
        .send_body("POST", "/emergency/fhir", "application/fhir+json", denied)
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let statuses: Vec<String> = answer.json()["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["response"]["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(statuses, ["403 Forbidden", "403 Forbidden"]);
    assert_eq!(gateway.upstream.seen(), 1);

    // The exchange records name the denied entries.
    let says = |records: &[serde_json::Value], what: &str| {
        records.iter().any(|r| {
            r["status"] == 200
                && r["authorization"]["reason"]
                    .as_str()
                    .is_some_and(|reason| reason.contains(what))
        })
    };
    let mut records = gateway.records(1).await;
    for _ in 0..50 {
        if says(&records, "2 denied (403 each: entries 0, 1), 0 forwarded") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        records = gateway.records(1).await;
    }
    assert!(
        says(
            &records,
            "4 entries: 2 denied (403 each: entries 0, 2), 2 forwarded"
        ),
        "{records:?}"
    );
    assert!(
        says(&records, "2 denied (403 each: entries 0, 1), 0 forwarded"),
        "{records:?}"
    );
}

#[tokio::test]
async fn dicomweb_is_authorized_as_imaging_study_and_other_apis_by_segmentation() {
    let gateway = TestGateway::start().await;
    let radiologist = gateway
        .login_new(
            "dr.xray",
            &["radiologist"],
            &["emergency", "radiology"],
            &[],
        )
        .await;
    let mut client = gateway.anonymous(b"http/1.1").await.with_token(radiologist);
    // radiology is a built-in department in the test policy (an echo service).
    assert_eq!(
        client
            .get("/radiology/dicom-web/studies?PatientID=1")
            .await
            .status,
        200
    );
    let stow = client
        .send_body(
            "POST",
            "/radiology/dicom-web/studies",
            "multipart/related; type=\"application/dicom\"; boundary=b",
            "--b\r\ncontent-type: application/dicom\r\n\r\nDICM\r\n--b--",
        )
        .await;
    assert_eq!(stow.status, 200);
    let delete = http::Request::delete("/radiology/dicom-web/studies/1.2.3")
        .header("host", "localhost")
        .body(crate::support::full(bytes::Bytes::new()))
        .unwrap();
    let answer = client.send(delete).await.unwrap();
    assert_eq!(answer.status, 403);
    assert_eq!(answer.outcome_code(), "wardgate.dicomweb.not-authorized");
    // Another API of a member's department passes; a department she is not a member of not.
    assert_eq!(client.get("/emergency/wait/1").await.status, 200);
    let other = client.get("/laboratory/api/results").await;
    assert_eq!(other.status, 401, "her token is not for the laboratory");
    let records = gateway.records(4).await;
    let api = records
        .iter()
        .find(|r| r["path"] == "/emergency/wait/1")
        .unwrap();
    assert_eq!(api["authorization"]["rule"], "authz.allow.department-api");
}

#[tokio::test]
async fn break_the_glass_widens_access_and_marks_every_exchange() {
    let gateway = TestGateway::start().await;
    let token = gateway
        .login_new("nurse.er", &["nurse"], &["emergency"], &[])
        .await;
    let mut client = gateway
        .anonymous(b"http/1.1")
        .await
        .with_token(token.clone());
    assert_eq!(
        client.get("/emergency/fhir/Condition?code=x").await.status,
        403
    );
    // A fresh TOTP code (the login's is spent).
    gateway.identity.clock().advance(30);
    let code = gateway.totp_code("nurse.er").await;
    let declared = client
        .post_form(
            "/auth/break-glass",
            &[
                ("reason", "unconscious patient, no history"),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(
        declared.status,
        200,
        "{}",
        String::from_utf8_lossy(&declared.body)
    );
    let emergency = declared.json()["access_token"].as_str().unwrap().to_owned();
    let mut client = gateway.anonymous(b"http/1.1").await.with_token(emergency);
    assert_eq!(
        client.get("/emergency/fhir/Condition?code=x").await.status,
        200
    );
    let records = gateway.records(5).await;
    let marked = records
        .iter()
        .filter(|r| r["path"] == "/emergency/fhir/Condition" && r["status"] == 200)
        .collect::<Vec<_>>();
    assert_eq!(marked.len(), 1);
    assert_eq!(
        marked[0]["authorization"]["rule"],
        "authz.allow.break-glass"
    );
    assert!(
        !marked[0]["authorization"]["break_glass"]
            .as_str()
            .unwrap()
            .is_empty()
    );
}
