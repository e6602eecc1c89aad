//! A JSON Patch body as `PATCH [base]/Type/id` receives it, applied to a stored resource.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wardgate_departments::fhir::ResourceLimits;
use wardgate_departments::fhir::patch::{apply_json_patch, read_operations};
use wardgate_departments::fhir::resource::ResourceDoc;

const STORED: &[u8] = br#"{"resourceType":"Observation","id":"o1","meta":{"versionId":"3"},"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"718-7"}]},"subject":{"reference":"Patient/p1"},"valueQuantity":{"value":13.50,"unit":"g/dL"},"note":[{"text":"a"},{"text":"b"}]}"#;

fuzz_target!(|data: &[u8]| {
    let limits = ResourceLimits::default();
    let Ok(doc) = ResourceDoc::parse(STORED, &limits) else {
        return;
    };
    if wardgate_departments::fhir::resource::json_depth(data) > limits.max_depth {
        return;
    }
    if let Ok(operations) = read_operations(data) {
        let _ = apply_json_patch(&doc, &operations, &limits);
    }
});
