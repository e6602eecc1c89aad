//! The FHIR interactions of a department, as a client uses them.

mod common;

use common::{header, json, send, sqlite_department};
use serde_json::json;

const FHIR: (&str, &str) = ("content-type", "application/fhir+json");

fn patient(family: &str, given: &str, birth: &str) -> String {
    json!({"resourceType": "Patient", "name": [{"family": family, "given": [given]}],
           "birthDate": birth, "gender": "female",
           "identifier": [{"system": "urn:oid:1.2.36.146.595.217.0.1", "value": format!("MRN-{family}")}]})
    .to_string()
}

#[tokio::test]
async fn create_read_update_delete_and_history_follow_fhir() {
    let t = sqlite_department("emergency").await;
    let d = &t.dept;

    let created = send(
        d,
        "POST",
        "/fhir/Patient",
        &[FHIR],
        patient("O'Brien", "Siobhán", "1961-04-02"),
    )
    .await;
    assert_eq!(created.status(), 201);
    assert_eq!(header(&created, "etag"), "W/\"1\"");
    let location = header(&created, "location").to_owned();
    assert!(
        location.starts_with("https://wardgate.test/emergency/fhir/Patient/"),
        "{location}"
    );
    let id = json(&created)["id"].as_str().unwrap().to_owned();

    let read = send(d, "GET", &format!("/fhir/Patient/{id}"), &[], "").await;
    assert_eq!(read.status(), 200);
    assert_eq!(json(&read)["name"][0]["family"], "O'Brien");
    assert_eq!(json(&read)["meta"]["versionId"], "1");
    assert!(!header(&read, "last-modified").is_empty());

    // Version-aware update: the right If-Match wins, a stale one gets 412.
    let mut body: serde_json::Value = json(&read);
    body["gender"] = json!("other");
    let updated = send(
        d,
        "PUT",
        &format!("/fhir/Patient/{id}"),
        &[FHIR, ("if-match", "W/\"1\"")],
        body.to_string(),
    )
    .await;
    assert_eq!(updated.status(), 200);
    assert_eq!(header(&updated, "etag"), "W/\"2\"");
    let stale = send(
        d,
        "PUT",
        &format!("/fhir/Patient/{id}"),
        &[FHIR, ("if-match", "W/\"1\"")],
        body.to_string(),
    )
    .await;
    assert_eq!(stale.status(), 412);
    assert_eq!(json(&stale)["resourceType"], "OperationOutcome");

    let v1 = send(d, "GET", &format!("/fhir/Patient/{id}/_history/1"), &[], "").await;
    assert_eq!(json(&v1)["gender"], "female");

    // Delete keeps history; a read after delete is 410.
    assert_eq!(
        send(d, "DELETE", &format!("/fhir/Patient/{id}"), &[], "")
            .await
            .status(),
        204
    );
    assert_eq!(
        send(d, "GET", &format!("/fhir/Patient/{id}"), &[], "")
            .await
            .status(),
        410
    );
    let history = send(d, "GET", &format!("/fhir/Patient/{id}/_history"), &[], "").await;
    let history = json(&history);
    assert_eq!(history["type"], "history");
    assert_eq!(history["total"], 3);
    assert_eq!(history["entry"][0]["request"]["method"], "DELETE");
    assert_eq!(history["entry"][2]["resource"]["gender"], "female");

    // Update as create with the client's id.
    let mut upsert =
        serde_json::from_str::<serde_json::Value>(&patient("D'Souza", "Ana", "1990-01-01"))
            .unwrap();
    upsert["id"] = json!("edge-pt-dsouza");
    let put = send(
        d,
        "PUT",
        "/fhir/Patient/edge-pt-dsouza",
        &[FHIR],
        upsert.to_string(),
    )
    .await;
    assert_eq!(put.status(), 201);
    assert_eq!(
        send(d, "GET", "/fhir/Patient/edge-pt-dsouza", &[], "")
            .await
            .status(),
        200
    );
    assert_eq!(
        send(d, "GET", "/fhir/Patient/nope", &[], "").await.status(),
        404
    );
}

#[tokio::test]
async fn what_is_stored_is_validated() {
    let t = sqlite_department("emergency").await;
    let d = &t.dept;
    let cases = [
        ("POST", "/fhir/Patient", "not json".to_owned(), 400),
        ("POST", "/fhir/Patient", json!({"resourceType": "Observation", "status": "final"}).to_string(), 400),
        ("POST", "/fhir/Patient", json!({"resourceType": "Patient", "id": "bad id!"}).to_string(), 400),
        ("POST", "/fhir/Patient", json!({"resourceType": "Patient", "generalPractitioner": [{"reference": "Practitioner/1 OR 1=1"}]}).to_string(), 400),
        ("PUT", "/fhir/Patient/a1", json!({"resourceType": "Patient", "id": "a2"}).to_string(), 400),
        ("POST", "/fhir/MedicationRequest", json!({"resourceType": "MedicationRequest"}).to_string(), 404),
        ("GET", "/fhir/Patient/1'--", String::new(), 400),
        ("POST", "/fhir/Patient", format!("{{\"resourceType\":\"Patient\",\"x\":{}1{}}}", "[".repeat(200), "]".repeat(200)), 400),
    ];
    for (method, path, body, status) in cases {
        let r = send(d, method, path, &[FHIR], body.clone()).await;
        assert_eq!(r.status(), status, "{method} {path} {body:.80}");
        let outcome = json(&r);
        assert_eq!(outcome["resourceType"], "OperationOutcome");
        let code = &outcome["issue"][0]["details"]["coding"][0]["code"];
        assert!(code.as_str().unwrap().starts_with("wardgate."), "{outcome}");
    }
    // The gateway's request id comes back in the OperationOutcome.
    let r = send(
        d,
        "GET",
        "/fhir/Patient/missing",
        &[("x-request-id", "req-7f3a")],
        "",
    )
    .await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        json(&r)["issue"][0]["details"]["text"],
        "request id req-7f3a"
    );
    let xml = send(
        d,
        "POST",
        "/fhir/Patient",
        &[("content-type", "application/fhir+xml")],
        "<Patient/>",
    )
    .await;
    assert_eq!(xml.status(), 415);
    let accept = send(
        d,
        "GET",
        "/fhir/metadata",
        &[("accept", "application/fhir+xml")],
        "",
    )
    .await;
    assert_eq!(accept.status(), 406);
    let format = send(d, "GET", "/fhir/Patient?_format=xml", &[], "").await;
    assert_eq!(format.status(), 406);
}

#[tokio::test]
async fn search_finds_by_the_common_parameters_and_pages_stably() {
    let t = sqlite_department("emergency").await;
    let d = &t.dept;
    let names = [
        ("O'Brien", "Siobhán", "1961-04-02"),
        ("Ó Súilleabháin", "Pádraig", "1975-11-30"),
        ("Nguyễn", "Thi", "1988-07-15"),
        ("Müller-Lüdenscheidt", "Jörg", "1961-12-24"),
        ("Null", "Ada", "2001-01-01"),
    ];
    let mut ids = Vec::new();
    for (family, given, birth) in names {
        let r = send(
            d,
            "POST",
            "/fhir/Patient",
            &[FHIR],
            patient(family, given, birth),
        )
        .await;
        ids.push(json(&r)["id"].as_str().unwrap().to_owned());
    }
    for (i, code) in ["718-7", "718-7", "2345-7"].iter().enumerate() {
        let obs = json!({"resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "subject": {"reference": format!("Patient/{}", ids[i])},
            "effectiveDateTime": format!("2024-0{}-15T10:00:00Z", i + 1),
            "valueQuantity": {"value": 7.10, "unit": "g/dL"}});
        assert_eq!(
            send(d, "POST", "/fhir/Observation", &[FHIR], obs.to_string())
                .await
                .status(),
            201
        );
    }
    let total = |q: &str| {
        let q = q.to_owned();
        async move {
            let r = send(d, "GET", &q, &[], "").await;
            assert_eq!(
                r.status(),
                200,
                "{q}: {}",
                String::from_utf8_lossy(r.body())
            );
            json(&r)["total"].as_u64().unwrap()
        }
    };
    assert_eq!(total("/fhir/Patient?name=obrien").await, 1);
    assert_eq!(total("/fhir/Patient?family=O%27Brien").await, 1);
    assert_eq!(total("/fhir/Patient?name=suil").await, 1);
    assert_eq!(total("/fhir/Patient?name=nguyen").await, 1);
    assert_eq!(total("/fhir/Patient?family=ludenscheidt").await, 1);
    assert_eq!(total("/fhir/Patient?family:exact=null").await, 1);
    assert_eq!(total("/fhir/Patient?given=Pa").await, 1);
    assert_eq!(total("/fhir/Patient?birthdate=1961").await, 2);
    assert_eq!(total("/fhir/Patient?birthdate=ge1975-01-01").await, 3);
    assert_eq!(total("/fhir/Patient?birthdate=lt1961-05-01").await, 1);
    assert_eq!(
        total("/fhir/Patient?birthdate=ge1961-01-01&birthdate=le1961-12-31").await,
        2
    );
    assert_eq!(
        total("/fhir/Patient?identifier=urn:oid:1.2.36.146.595.217.0.1|MRN-Null").await,
        1
    );
    assert_eq!(total("/fhir/Patient?identifier=MRN-Null").await, 1);
    assert_eq!(
        total("/fhir/Patient?identifier=urn:oid:9|MRN-Null").await,
        0
    );
    assert_eq!(
        total(&format!("/fhir/Patient?_id={},{}", ids[0], ids[1])).await,
        2
    );
    assert_eq!(total("/fhir/Patient?gender=female").await, 5);
    assert_eq!(
        total("/fhir/Observation?code=http://loinc.org|718-7").await,
        2
    );
    assert_eq!(
        total("/fhir/Observation?code=718-7&date=ge2024-02-01").await,
        1
    );
    assert_eq!(
        total(&format!("/fhir/Observation?patient={}", ids[0])).await,
        1
    );
    assert_eq!(
        total(&format!("/fhir/Observation?subject=Patient/{}", ids[1])).await,
        1
    );
    assert_eq!(
        total(&format!("/fhir/Patient/{}/Observation", ids[2])).await,
        1
    );
    assert_eq!(
        total("/fhir/Observation?status=final&_lastUpdated=ge2020-01-01").await,
        3
    );
    assert_eq!(total("/fhir/Observation?code:not=718-7").await, 1);

    // Unsupported parameters are refused, or ignored when the client is lenient.
    assert_eq!(
        send(d, "GET", "/fhir/Patient?unknown-param=1", &[], "")
            .await
            .status(),
        400
    );
    let lenient = send(
        d,
        "GET",
        "/fhir/Patient?unknown-param=1",
        &[("prefer", "handling=lenient")],
        "",
    )
    .await;
    assert_eq!(json(&lenient)["total"], 5);

    // _sort and paging: pages follow one snapshot even when a resource is added in between.
    let first = send(d, "GET", "/fhir/Patient?_sort=-birthdate&_count=2", &[], "").await;
    let first = json(&first);
    assert_eq!(first["total"], 5);
    assert_eq!(first["entry"][0]["resource"]["birthDate"], "2001-01-01");
    assert_eq!(first["entry"][1]["resource"]["birthDate"], "1988-07-15");
    let next = first["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == "next")
        .unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    send(
        d,
        "POST",
        "/fhir/Patient",
        &[FHIR],
        patient("Late", "Arrival", "1999-01-01"),
    )
    .await;
    let path = next
        .strip_prefix("https://wardgate.test/emergency")
        .unwrap();
    let second = json(&send(d, "GET", path, &[], "").await);
    assert_eq!(second["entry"][0]["resource"]["birthDate"], "1975-11-30");
    assert_eq!(second["entry"][1]["resource"]["birthDate"], "1961-12-24");
    let third_path = second["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == "next")
        .unwrap()["url"]
        .as_str()
        .unwrap()
        .strip_prefix("https://wardgate.test/emergency")
        .unwrap()
        .to_owned();
    let third = json(&send(d, "GET", &third_path, &[], "").await);
    assert_eq!(third["entry"].as_array().unwrap().len(), 1);
    assert_eq!(third["entry"][0]["resource"]["birthDate"], "1961-04-02");

    // _count has a server maximum.
    let big = json(&send(d, "GET", "/fhir/Patient?_count=100000", &[], "").await);
    assert_eq!(big["entry"].as_array().unwrap().len(), 6);
}

#[tokio::test]
async fn a_transaction_is_all_or_nothing_and_rewrites_references() {
    let t = sqlite_department("emergency").await;
    let d = &t.dept;
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",
         "resource": {"resourceType": "Patient", "name": [{"family": "Chalmers"}]},
         "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": "urn:uuid:88f151c0-a954-468a-88bd-5ae15c08e059",
         "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "Hgb"},
                      "subject": {"reference": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"}},
         "request": {"method": "POST", "url": "Observation"}}]});
    let r = send(d, "POST", "/fhir", &[FHIR], bundle.to_string()).await;
    assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(r.body()));
    let out = json(&r);
    assert_eq!(out["type"], "transaction-response");
    let patient_loc = out["entry"][0]["response"]["location"].as_str().unwrap();
    let patient_ref = patient_loc.split("/_history").next().unwrap().to_owned();
    let obs_loc = out["entry"][1]["response"]["location"].as_str().unwrap();
    let obs_path = format!("/fhir/{}", obs_loc.split("/_history").next().unwrap());
    let obs = json(&send(d, "GET", &obs_path, &[], "").await);
    assert_eq!(obs["subject"]["reference"], patient_ref);

    // One bad entry: nothing of the transaction is stored.
    let before = json(&send(d, "GET", "/fhir/Patient", &[], "").await)["total"].clone();
    let bad = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient", "name": [{"family": "Never"}]}, "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Patient", "id": "x1"}, "request": {"method": "PUT", "url": "Patient/x2"}}]});
    let r = send(d, "POST", "/fhir", &[FHIR], bad.to_string()).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        json(&send(d, "GET", "/fhir/Patient", &[], "").await)["total"],
        before
    );
    assert_eq!(
        json(&send(d, "GET", "/fhir/Patient?family=never", &[], "").await)["total"],
        0
    );

    // A batch answers each entry on its own.
    let batch = json!({"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": {"resourceType": "Patient", "name": [{"family": "Batched"}]}, "request": {"method": "POST", "url": "Patient"}},
        {"request": {"method": "GET", "url": "Patient/does-not-exist"}}]});
    let r = json(&send(d, "POST", "/fhir", &[FHIR], batch.to_string()).await);
    assert_eq!(r["type"], "batch-response");
    assert!(
        r["entry"][0]["response"]["status"]
            .as_str()
            .unwrap()
            .starts_with("201")
    );
    assert!(
        r["entry"][1]["response"]["status"]
            .as_str()
            .unwrap()
            .starts_with("404")
    );
    assert_eq!(
        json(&send(d, "GET", "/fhir/Patient?family=batched", &[], "").await)["total"],
        1
    );

    // Conditional create inside a transaction finds the existing resource.
    let conditional = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:aaaaaaaa-0000-0000-0000-000000000001",
         "resource": {"resourceType": "Patient", "name": [{"family": "Batched"}]},
         "request": {"method": "POST", "url": "Patient", "ifNoneExist": "family=batched"}}]});
    let r = json(&send(d, "POST", "/fhir", &[FHIR], conditional.to_string()).await);
    assert!(
        r["entry"][0]["response"]["status"]
            .as_str()
            .unwrap()
            .starts_with("200"),
        "{r}"
    );
    assert_eq!(
        json(&send(d, "GET", "/fhir/Patient?family=batched", &[], "").await)["total"],
        1
    );
}

#[tokio::test]
async fn the_capability_statement_lists_what_the_department_serves() {
    let t = sqlite_department("pharmacy").await;
    let r = send(&t.dept, "GET", "/fhir/metadata", &[], "").await;
    assert_eq!(r.status(), 200);
    let cs = json(&r);
    assert_eq!(cs["resourceType"], "CapabilityStatement");
    assert_eq!(cs["fhirVersion"], "4.0.1");
    let types: Vec<&str> = cs["rest"][0]["resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "Medication",
            "MedicationRequest",
            "MedicationDispense",
            "MedicationAdministration"
        ]
    );
    assert_eq!(
        cs["rest"][0]["security"]["service"][0]["coding"][0]["code"],
        "SMART-on-FHIR"
    );
    let params: Vec<&str> = cs["rest"][0]["resource"][1]["searchParam"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(
        params.contains(&"patient")
            && params.contains(&"status")
            && params.contains(&"_lastUpdated"),
        "{params:?}"
    );
}

#[tokio::test]
async fn a_copied_database_reveals_no_patient_data() {
    let t = sqlite_department("emergency").await;
    let d = &t.dept;
    let mut body = serde_json::from_str::<serde_json::Value>(&patient(
        "Zyxwvutsrq",
        "Qwertyuiop",
        "1961-04-02",
    ))
    .unwrap();
    body["id"] = json!("pt-identifying-id-12345");
    body["text"] = json!({"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Hgb &lt; 7.0 -- transfuse</div>"});
    assert_eq!(
        send(
            d,
            "PUT",
            "/fhir/Patient/pt-identifying-id-12345",
            &[FHIR],
            body.to_string()
        )
        .await
        .status(),
        201
    );
    // Read every file of the department's data directory (database, WAL) as bytes.
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(t.dir.path().join("departments")).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    for secret in [
        "Zyxwvutsrq",
        "Qwertyuiop",
        "pt-identifying-id-12345",
        "MRN-Zyxwvutsrq",
        "1961-04-02",
        "transfuse",
    ] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} is readable on disk"
        );
    }
    // And the resource is still there through the service.
    let found = json(&send(d, "GET", "/fhir/Patient?family=zyxw", &[], "").await);
    assert_eq!(found["total"], 1);
}
