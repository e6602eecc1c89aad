//! A search query string as a department reads it, for a few resource types, strict and
//! lenient.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wardgate_departments::fhir::search::{parse_pairs, parse_query};

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else { return };
    let pairs = parse_pairs(query);
    for rtype in ["Patient", "Observation", "ImagingStudy", "MedicationRequest"] {
        let _ = parse_query(rtype, &pairs, 50, 500, false);
        let _ = parse_query(rtype, &pairs, 50, 500, true);
    }
});
