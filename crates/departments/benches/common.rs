//! Shared benchmark set-up: departments on SQLite, loaded from the clinical corpus.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http::Response;
use serde_json::Value;
use wardgate_departments::{Department, DepartmentConfig, MasterKey, StoreConfig};

// The tests' set-up, for the one way of sending a request to a department.
#[path = "../tests/common/mod.rs"]
mod tests_common;

/// A request with the given headers.
pub use tests_common::send as send_with;

/// The vendored DICOM corpus, sorted by path.
pub use tests_common::dicom_corpus as dicom_files;

pub fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

pub async fn department(dir: &std::path::Path, name: &str) -> Department {
    department_serving(dir, name, None).await
}

/// A department serving `types` (its defaults when `None`).
pub async fn department_serving(
    dir: &std::path::Path,
    name: &str,
    types: Option<Vec<String>>,
) -> Department {
    let master = Arc::new(MasterKey::load_or_create(dir).expect("master key"));
    let store = StoreConfig::Sqlite {
        data_dir: dir.to_owned(),
    }
    .open(name)
    .await
    .expect("store");
    let mut config = DepartmentConfig::with_defaults(name, "https://127.0.0.1:8443");
    if let Some(types) = types {
        config.resource_types = types;
    }
    Department::open(config, store, master)
        .await
        .expect("department")
}

/// A department serving every R4 resource type (for the corpus' mixed transaction Bundles,
/// which no single default department could take whole).
pub async fn all_types(dir: &std::path::Path) -> Department {
    let types = wardgate_fhir::RESOURCE_TYPES
        .iter()
        .map(|t| t.to_string())
        .collect();
    department_serving(dir, "record", Some(types)).await
}

pub async fn send(
    dept: &Department,
    method: &str,
    uri: &str,
    body: impl Into<Bytes>,
) -> Response<Bytes> {
    send_with(
        dept,
        method,
        uri,
        &[("content-type", "application/fhir+json")],
        body,
    )
    .await
}

/// The Synthea Patients and Observations of the corpus.
pub fn synthea(rtype: &str) -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(testdata().join("fhir/resources/synthea-smart-sandbox.jsonl"))
            .expect("corpus");
    text.lines()
        .filter_map(|line| {
            let v: Value = serde_json::from_str(line).ok()?;
            (v["resourceType"] == rtype).then(|| {
                (
                    v["id"].as_str().unwrap_or_default().to_owned(),
                    line.to_owned(),
                )
            })
        })
        .collect()
}

/// Load the emergency department with the corpus' Synthea patients and observations.
pub async fn loaded_emergency(
    dir: &std::path::Path,
) -> (Department, Vec<(String, String)>, Vec<(String, String)>) {
    let dept = department(dir, "emergency").await;
    let patients = synthea("Patient");
    let observations = synthea("Observation");
    for (rtype, list) in [("Patient", &patients), ("Observation", &observations)] {
        for (id, body) in list.iter() {
            let r = send(&dept, "PUT", &format!("/fhir/{rtype}/{id}"), body.clone()).await;
            assert!(r.status().is_success(), "loading {rtype}/{id}");
        }
    }
    (dept, patients, observations)
}
