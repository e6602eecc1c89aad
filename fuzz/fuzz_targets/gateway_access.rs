//! What the authorize phase reads from a request: the path below a department (FHIR,
//! DICOMweb or another API), query and form parameters, a batch or transaction Bundle's
//! entries, and the confinement of a patient filter. Never panics; parameters and entries
//! stay within their bounds; an added query never breaks out of its parameters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wardgate_gateway::access;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (path, query) = match text.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (&*text, None),
    };
    for method in ["GET", "POST", "DELETE"] {
        if let Ok(asked) = access::asked(method, path, query) {
            let _ = asked.fhir();
            if let Ok(Some(added)) = access::confinement(Some(&text), &[], &asked) {
                assert!(!added.contains('#') && !added.contains(' '));
                assert_eq!(added.matches('&').count(), 0);
            }
        }
    }
    if let Some(params) = access::params(&text) {
        assert!(params.len() <= access::MAX_PARAMS);
    }
    if let Ok(bundle) = access::bundle_requests(data, "/emergency/fhir") {
        assert!(bundle.entries.len() <= access::MAX_BUNDLE_ENTRIES);
        for entry in &bundle.entries {
            assert!(entry.path.starts_with('/'));
            assert!(!entry.path.contains(".."));
        }
    }
});
