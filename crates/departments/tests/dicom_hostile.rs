//! Hostile DICOM files found by fuzzing: refused with an OperationOutcome before the library
//! allocates what they declare, and the department keeps serving.
//!
//! One test in this file on purpose: it reads the process's peak memory, which other tests
//! running in parallel in the same binary would disturb.

mod common;

use std::path::PathBuf;

use common::{STOW_TYPE, json, open_with, send, stow_body};
use wardgate_departments::{Department, DepartmentConfig};

fn read(relative: &str) -> Vec<u8> {
    std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)).expect(relative)
}

async fn radiology(dir: &std::path::Path, max_instance_bytes: usize) -> Department {
    let mut config = DepartmentConfig::with_defaults("radiology", "https://wardgate.test");
    config.max_instance_bytes = max_instance_bytes;
    open_with(dir, config).await
}

/// The peak resident memory of this process so far, in bytes (Linux).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn outcome_code(response: &http::Response<bytes::Bytes>) -> String {
    let outcome = json(response);
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    outcome["issue"][0]["details"]["coding"][0]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn files_declaring_huge_elements_are_refused_before_parsing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = &radiology(dir.path(), 256 * 1024 * 1024).await;
    let ct = read("../../testdata/dicom/files/ct-small.dcm");
    // Both found by the departments_dicom_instance fuzz target: deflated data sets whose
    // elements declare about 3 GB and 3.7 GB, which dicom-object allocated before reading.
    for name in ["fuzz-dicom-huge-length.dcm", "fuzz-dicom-huge-length-2.dcm"] {
        let hostile = read(&format!("tests/data/{name}"));
        // A good instance first in the same request: nothing of the request is stored.
        let r = send(
            d,
            "POST",
            "/dicom-web/studies",
            &[("content-type", STOW_TYPE)],
            stow_body(&[&ct, &hostile]),
        )
        .await;
        assert_eq!(r.status(), 400, "{name}");
        assert_eq!(
            outcome_code(&r),
            "wardgate.departments.dicom.length-beyond-container",
            "{name}"
        );
        let found = send(d, "GET", "/dicom-web/instances", &[], "").await;
        assert!(
            found.status() == 204 || json(&found).as_array().is_some_and(Vec::is_empty),
            "{name}: the good instance of a refused request was stored"
        );
    }
    // Found by the same target after that fix: an SS element of 561 bytes, which the library
    // reads as 280 values before reading the next header one byte early (276 MB declared).
    let partial = read("tests/data/fuzz-dicom-partial-value.dcm");
    let r = send(
        d,
        "POST",
        "/dicom-web/studies",
        &[("content-type", STOW_TYPE)],
        stow_body(&[&partial]),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(outcome_code(&r), "wardgate.departments.dicom.partial-value");
    // The department keeps serving.
    let r = send(
        d,
        "POST",
        "/dicom-web/studies",
        &[("content-type", STOW_TYPE)],
        stow_body(&[&ct]),
    )
    .await;
    assert_eq!(r.status(), 200);
    // The memory the hostile files declared was never allocated.
    if let Some(peak) = peak_rss() {
        assert!(peak < 1 << 30, "peak RSS {peak} bytes");
    }

    // A deflated data set that inflates beyond twice the largest instance accepted: 413.
    let small = tempfile::tempdir().expect("temp dir");
    let d = &radiology(small.path(), 64 * 1024).await;
    let deflated = read("../../testdata/dicom/files/ot-deflated.dcm");
    assert!(deflated.len() < 64 * 1024);
    let r = send(
        d,
        "POST",
        "/dicom-web/studies",
        &[("content-type", STOW_TYPE)],
        stow_body(&[&deflated]),
    )
    .await;
    assert_eq!(r.status(), 413);
    assert_eq!(
        outcome_code(&r),
        "wardgate.departments.dicom.inflated-too-large"
    );
}
