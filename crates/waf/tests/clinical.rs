//! Zero false positives on clinical traffic: every resource of `testdata/fhir` as a create and
//! an update, every Bundle, every hand-written request (the set `fhir_requests.py` builds).

use std::path::Path;

use wardgate_waf::corpus::{self, Label, Scan};
use wardgate_waf::{Engine, EngineConfig};

fn clinical_records() -> Vec<corpus::Record> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/fhir");
    match corpus::clinical::load(&dir) {
        Ok(records) => records,
        Err(e) => panic!("the clinical corpus must load: {e}"),
    }
}

#[test]
fn the_clinical_set_is_built_like_the_python_tool() {
    let records = clinical_records();
    let count = |method: &str| records.iter().filter(|r| r.method == method).count();
    // 9,273 resources (each a create, and an update when it has an id), 10 Bundles, 49 requests.
    assert!(
        count("POST") >= 9_273 + 10,
        "creates and bundles: {}",
        count("POST")
    );
    assert!(count("PUT") >= 9_000, "updates: {}", count("PUT"));
    let bundles = records
        .iter()
        .filter(|r| r.path == "/record/fhir" && r.method == "POST")
        .count();
    assert_eq!(
        bundles,
        10 + 1,
        "10 Bundles and the hand-written transaction"
    );
    assert!(records.iter().all(|r| r.label == Label::Benign));
    assert!(
        records
            .iter()
            .any(|r| r.path.starts_with("/radiology/wado"))
    );
    assert!(
        records
            .iter()
            .any(|r| r.path == "/laboratory/fhir/Observation" && r.query.contains("718-7"))
    );
}

#[test]
fn no_clinical_request_is_blocked() {
    let engine = Engine::new(EngineConfig::default());
    let mut scan = Scan::default();
    for record in clinical_records() {
        let verdict = record.inspect(&engine, 1, false);
        scan.add(&record, &verdict);
    }
    let listed: Vec<String> = scan
        .false_positives
        .iter()
        .map(|f| format!("{} ({}): {}", f.id, f.placement, f.explain))
        .collect();
    assert!(
        listed.is_empty(),
        "{} clinical requests blocked:\n{}",
        listed.len(),
        listed.join("\n")
    );
    assert!(scan.total.benign > 18_000);
}
