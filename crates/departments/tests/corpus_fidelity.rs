//! Fidelity: every resource and Bundle of the clinical corpus (testdata/fhir) loads into the
//! department that serves its type and reads back equal as JSON, apart from `meta`.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;

use common::{json, open_in, send, without_meta};
use serde_json::Value;
use serde_json::value::RawValue;
use wardgate_departments::{DEFAULT_DEPARTMENTS, default_department_for};

const FHIR: (&str, &str) = ("content-type", "application/fhir+json");

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/fhir")
}

#[tokio::test]
async fn every_corpus_resource_reads_back_equal_in_its_department() {
    let dir = tempfile::tempdir().unwrap();
    let mut departments = HashMap::new();
    for name in DEFAULT_DEPARTMENTS {
        departments.insert(*name, open_in(dir.path(), name, None).await);
    }
    let mut loaded = 0;
    let mut per_department: HashMap<&str, usize> = HashMap::new();
    for file in [
        "authored-edge-cases",
        "hl7-r4-examples",
        "inferno-us-core",
        "synthea-smart-sandbox",
    ] {
        let text =
            std::fs::read_to_string(corpus_dir().join(format!("resources/{file}.jsonl"))).unwrap();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let original: Value = serde_json::from_str(line).unwrap();
            let rtype = original["resourceType"].as_str().unwrap();
            let home = default_department_for(rtype);
            let dept = &departments[home];
            let Some(id) = original["id"].as_str() else {
                // A few HL7 examples have no id: they are created and get the server's.
                let created = send(
                    dept,
                    "POST",
                    &format!("/fhir/{rtype}"),
                    &[FHIR],
                    line.to_owned(),
                )
                .await;
                assert_eq!(created.status(), 201, "{file} {rtype} without id");
                let mut got = without_meta(json(&created));
                got.as_object_mut().unwrap().remove("id");
                assert_eq!(
                    got,
                    without_meta(original.clone()),
                    "{file} {rtype} without id changed"
                );
                loaded += 1;
                *per_department.entry(home).or_default() += 1;
                continue;
            };
            let path = format!("/fhir/{rtype}/{id}");
            let put = send(dept, "PUT", &path, &[FHIR], line.to_owned()).await;
            assert_eq!(
                put.status(),
                201,
                "{file} {rtype}/{id} in {home}: {}",
                String::from_utf8_lossy(put.body())
            );
            let got = send(dept, "GET", &path, &[], "").await;
            assert_eq!(got.status(), 200, "{rtype}/{id}");
            assert_eq!(
                without_meta(json(&got)),
                without_meta(original.clone()),
                "{file} {rtype}/{id} changed"
            );
            // Byte fidelity of the fields wardgate does not own: the text of every other field
            // is the client's own (decimal precision, escapes).
            let sent: HashMap<String, Box<RawValue>> = serde_json::from_str(line).unwrap();
            let stored: HashMap<String, Box<RawValue>> =
                serde_json::from_slice(got.body()).unwrap();
            for (field, text) in &sent {
                if field != "meta" && field != "id" {
                    assert_eq!(
                        stored[field].get(),
                        text.get(),
                        "{rtype}/{id}.{field}: text changed"
                    );
                }
            }
            loaded += 1;
            *per_department.entry(home).or_default() += 1;
        }
    }
    assert_eq!(loaded, 9273);
    for name in DEFAULT_DEPARTMENTS {
        assert!(
            per_department.get(name).copied().unwrap_or(0) > 0,
            "{name} got no resources"
        );
    }
}

/// Apply the fullUrl -> Type/id mapping of a transaction to an original resource's references.
fn map_references(value: &mut Value, map: &HashMap<String, String>) {
    match value {
        Value::Object(obj) => {
            for (k, v) in obj.iter_mut() {
                match (k.as_str(), &v) {
                    ("reference", Value::String(s)) if map.contains_key(s) => {
                        *v = Value::String(map[s].clone())
                    }
                    _ => map_references(v, map),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| map_references(v, map)),
        _ => {}
    }
}

#[tokio::test]
async fn every_corpus_bundle_loads_and_its_resources_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let all_types: Vec<String> = wardgate_fhir::RESOURCE_TYPES
        .iter()
        .map(|t| t.to_string())
        .collect();
    let dept = open_in(dir.path(), "record", Some(all_types)).await;
    let mut names: Vec<_> = std::fs::read_dir(corpus_dir().join("bundles"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for path in names {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let bundle: Value = serde_json::from_str(&text).unwrap();
        if bundle["type"] != "transaction" {
            // A document Bundle is a resource of its own, stored and read back whole.
            let id = bundle["id"].as_str().unwrap();
            let put = send(
                &dept,
                "PUT",
                &format!("/fhir/Bundle/{id}"),
                &[FHIR],
                text.clone(),
            )
            .await;
            assert_eq!(
                put.status(),
                201,
                "{name}: {}",
                String::from_utf8_lossy(put.body())
            );
            let got = json(&send(&dept, "GET", &format!("/fhir/Bundle/{id}"), &[], "").await);
            assert_eq!(without_meta(got), without_meta(bundle.clone()), "{name}");
            continue;
        }
        // Entries invoking operations (the HL7 example's `POST ValueSet/$lookup`, a
        // terminology service) are not something a department offers: they are left out.
        let mut bundle = bundle;
        let kept: Vec<Value> = bundle["entry"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                !e["request"]["url"]
                    .as_str()
                    .unwrap_or_default()
                    .contains('$')
            })
            .cloned()
            .collect();
        bundle["entry"] = Value::Array(kept);
        let text = bundle.to_string();
        // The HL7 example updates Patient/123a with `ifMatch: W/"2"`: it expects a server
        // that already holds version 2 of it, so that is what the test prepares.
        for entry in bundle["entry"].as_array().unwrap() {
            if let Some(if_match) = entry["request"]["ifMatch"].as_str() {
                let url = entry["request"]["url"].as_str().unwrap();
                let wanted: i64 = if_match
                    .trim_start_matches("W/")
                    .trim_matches('"')
                    .parse()
                    .unwrap();
                for _ in 0..wanted {
                    let put = send(
                        &dept,
                        "PUT",
                        &format!("/fhir/{url}"),
                        &[FHIR],
                        entry["resource"].to_string(),
                    )
                    .await;
                    assert!(put.status().is_success(), "{name}: preparing {url}");
                }
            }
        }
        let r = send(&dept, "POST", "/fhir", &[FHIR], text.clone()).await;
        assert_eq!(
            r.status(),
            200,
            "{name}: {}",
            String::from_utf8_lossy(r.body())
        );
        let answer = json(&r);
        let entries = bundle["entry"].as_array().unwrap();
        let responses = answer["entry"].as_array().unwrap();
        assert_eq!(entries.len(), responses.len(), "{name}");
        let mut map = HashMap::new();
        for (entry, response) in entries.iter().zip(responses) {
            if let (Some(full_url), Some(location)) = (
                entry["fullUrl"].as_str(),
                response["response"]["location"].as_str(),
            ) {
                map.insert(
                    full_url.to_owned(),
                    location.split("/_history").next().unwrap().to_owned(),
                );
            }
        }
        for (entry, response) in entries.iter().zip(responses) {
            let method = entry["request"]["method"].as_str().unwrap();
            if !matches!(method, "POST" | "PUT") {
                continue;
            }
            let location = response["response"]["location"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: no location in {response}"));
            let resource_path = location.split("/_history").next().unwrap();
            let got = json(&send(&dept, "GET", &format!("/fhir/{resource_path}"), &[], "").await);
            let mut expected = entry["resource"].clone();
            map_references(&mut expected, &map);
            let mut got = without_meta(got);
            let mut expected = without_meta(expected);
            if method == "POST" || expected.get("id").is_none() {
                // A created resource has the server's id.
                got.as_object_mut().unwrap().remove("id");
                expected.as_object_mut().unwrap().remove("id");
            }
            // An entry a conditional create found already stored is the stored one.
            if response["response"]["status"]
                .as_str()
                .unwrap()
                .starts_with("200")
                && method == "POST"
            {
                continue;
            }
            assert_eq!(got, expected, "{name}: {resource_path}");
        }
    }
}
