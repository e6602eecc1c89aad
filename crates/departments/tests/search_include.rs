//! `_include` and `_revinclude` on search, as a client uses them: the referenced and the
//! referring resources come with the page, once each, marked `include`.

mod common;

use common::{json, open_in, send, sqlite_department};
use serde_json::{Value, json};

const FHIR: (&str, &str) = ("content-type", "application/fhir+json");

async fn put(dept: &wardgate_departments::Department, resource: Value) {
    let path = format!(
        "/fhir/{}/{}",
        resource["resourceType"].as_str().unwrap(),
        resource["id"].as_str().unwrap()
    );
    let r = send(dept, "PUT", &path, &[FHIR], resource.to_string()).await;
    assert_eq!(
        r.status(),
        201,
        "{path}: {}",
        String::from_utf8_lossy(r.body())
    );
}

/// `(mode, Type/id)` of every entry, in order.
fn entries(bundle: &Value) -> Vec<(String, String)> {
    bundle["entry"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    let r = &e["resource"];
                    (
                        e["search"]["mode"].as_str().unwrap_or_default().to_owned(),
                        format!(
                            "{}/{}",
                            r["resourceType"].as_str().unwrap(),
                            r["id"].as_str().unwrap()
                        ),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(m, r)| (m.to_string(), r.to_string()))
        .collect()
}

async fn ward(dept: &wardgate_departments::Department) {
    for id in ["p1", "p2"] {
        put(
            dept,
            json!({"resourceType": "Patient", "id": id, "name": [{"family": "Okafor"}]}),
        )
        .await;
    }
    put(
        dept,
        json!({"resourceType": "Encounter", "id": "e1", "status": "finished",
        "class": {"code": "EMER"}, "subject": {"reference": "Patient/p1"}}),
    )
    .await;
    for (id, patient, encounter) in [
        ("o1", "p1", Some("e1")),
        ("o2", "p1", None),
        ("o3", "p2", None),
    ] {
        let mut o = json!({"resourceType": "Observation", "id": id, "status": "final",
            "code": {"text": "heart rate"}, "subject": {"reference": format!("Patient/{patient}")}});
        if let Some(e) = encounter {
            o["encounter"] = json!({"reference": format!("Encounter/{e}")});
        }
        put(dept, o).await;
    }
}

#[tokio::test]
async fn include_adds_what_the_matches_refer_to_once() {
    let t = sqlite_department("emergency").await;
    let d = &t.dept;
    ward(d).await;
    let get = |q: &'static str| async move { json(&send(d, "GET", q, &[], "").await) };

    let b =
        get("/fhir/Observation?subject=Patient/p1&_sort=_id&_include=Observation:subject").await;
    assert_eq!(
        entries(&b),
        pairs(&[
            ("match", "Observation/o1"),
            ("match", "Observation/o2"),
            ("include", "Patient/p1")
        ])
    );
    // Included resources do not count in the total, and the self link keeps the _include.
    assert_eq!(b["total"], 2);
    assert!(
        b["link"][0]["url"]
            .as_str()
            .unwrap()
            .contains("include=Observation%3Asubject")
    );

    let b =
        get("/fhir/Observation?_id=o1&_include=Observation:encounter&_include=Observation:subject")
            .await;
    assert_eq!(
        entries(&b),
        pairs(&[
            ("match", "Observation/o1"),
            ("include", "Encounter/e1"),
            ("include", "Patient/p1")
        ])
    );
    // A target type narrows what is followed.
    let b = get("/fhir/Observation?_id=o1&_include=Observation:subject:Encounter").await;
    assert_eq!(entries(&b), pairs(&[("match", "Observation/o1")]));
}

#[tokio::test]
async fn revinclude_adds_what_refers_to_the_matches_on_every_page() {
    let t = sqlite_department("emergency").await;
    let d = &t.dept;
    ward(d).await;
    let get = |q: String| async move { json(&send(d, "GET", &q, &[], "").await) };

    let b = get("/fhir/Patient?_id=p1&_revinclude=Observation:subject".into()).await;
    let mut got = entries(&b);
    got[1..].sort();
    assert_eq!(
        got,
        pairs(&[
            ("match", "Patient/p1"),
            ("include", "Observation/o1"),
            ("include", "Observation/o2")
        ])
    );

    // Paging: each page brings the resources that refer to its own matches.
    let first =
        get("/fhir/Patient?_sort=_id&_count=1&_revinclude=Observation:patient".into()).await;
    assert_eq!(entries(&first)[0], ("match".into(), "Patient/p1".into()));
    assert_eq!(entries(&first).len(), 3);
    let next = first["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == "next")
        .unwrap()["url"]
        .as_str()
        .unwrap();
    let next = &next[next.find("/fhir/").unwrap()..];
    let second = get(next.to_owned()).await;
    assert_eq!(
        entries(&second),
        pairs(&[("match", "Patient/p2"), ("include", "Observation/o3")])
    );
}

#[tokio::test]
async fn what_cannot_be_followed_is_refused_or_left_out() {
    let t = sqlite_department("emergency").await;
    let d = &t.dept;
    ward(d).await;
    for bad in [
        "/fhir/Observation?_include=Observation:code",
        "/fhir/Observation?_include=Patient:organization",
        "/fhir/Observation?_include=*",
        "/fhir/Observation?_include:iterate=Observation:subject",
        "/fhir/Patient?_revinclude=Observation:nothing",
    ] {
        let r = send(d, "GET", bad, &[], "").await;
        assert_eq!(r.status(), 400, "{bad}");
        assert_eq!(json(&r)["resourceType"], "OperationOutcome");
    }
    // Lenient handling ignores what it cannot follow.
    let r = send(
        d,
        "GET",
        "/fhir/Observation?_id=o3&_include=*",
        &[("prefer", "handling=lenient")],
        "",
    )
    .await;
    assert_eq!(entries(&json(&r)), pairs(&[("match", "Observation/o3")]));

    // The laboratory serves no Patient: a reference to one is not followed into another
    // department's store.
    let lab = open_in(t.dir.path(), "laboratory", None).await;
    put(
        &lab,
        json!({"resourceType": "Observation", "id": "lab1", "status": "final",
        "code": {"text": "potassium"}, "subject": {"reference": "Patient/p1"}}),
    )
    .await;
    let r = send(
        &lab,
        "GET",
        "/fhir/Observation?_include=Observation:subject",
        &[],
        "",
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(entries(&json(&r)), pairs(&[("match", "Observation/lab1")]));

    // The CapabilityStatement says what may be included.
    let cs = json(&send(d, "GET", "/fhir/metadata", &[], "").await);
    let observation = cs["rest"][0]["resource"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "Observation")
        .unwrap();
    let includes: Vec<&str> = observation["searchInclude"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(includes.contains(&"Observation:subject"), "{includes:?}");
    assert!(!includes.contains(&"Observation:code"), "{includes:?}");
}
