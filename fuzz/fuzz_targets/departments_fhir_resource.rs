//! A resource or Bundle body as a department reads it: limits, JSON shape, references, the
//! stored form, and batch/transaction Bundles.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wardgate_departments::fhir::resource::{ResourceDoc, ResourceLimits, check_references};

fuzz_target!(|data: &[u8]| {
    let limits = ResourceLimits {
        max_body_bytes: 1 << 20,
        max_depth: 64,
        max_bundle_entries: 100,
    };
    if let Ok(doc) = ResourceDoc::parse(data, &limits) {
        let _ = check_references(&doc.value);
        let stored = doc.to_stored_json("id-1", 1, "2024-01-01T00:00:00.000Z");
        // What is stored must always be JSON again.
        assert!(serde_json::from_slice::<serde_json::Value>(&stored).is_ok());
    }
    let _ = wardgate_departments::fhir::check_bundle(data, &limits);
});
