//! What the authorize phase reads from a request: the path below a department (FHIR,
//! DICOMweb or another API), query and form parameters, a batch or transaction Bundle's
//! entries, and the confinement of a patient filter; a batch without its denied entries and a
//! department's batch-response with the 403s put back. Never panics; parameters and entries
//! stay within their bounds; an added query never breaks out of its parameters; a rewritten
//! Bundle is JSON with the entries it should have.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wardgate_gateway::access;
use wardgate_gateway::batch::{BatchDenials, DeniedEntry};

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
        // Every other entry denied: the rest forwarded, every kept byte as sent. The Bundle
        // reader skips members it does not know without checking their strings' escapes
        // (a lone surrogate), and the rewrite keeps them as sent: the forwarded Bundle is
        // strict JSON whenever the client's is.
        let denials = every_other_denied(bundle.entries.len());
        if let Ok(forwarded) = denials.forwarded_bundle(data) {
            if strict_json(data) {
                let forwarded: serde_json::Value =
                    serde_json::from_slice(&forwarded).expect("the forwarded Bundle is JSON");
                let kept = forwarded["entry"].as_array().map_or(0, Vec::len);
                assert_eq!(kept, denials.forwarded());
            }
        }
    }
    // The input as a department's answer to a batch of five with entries 0, 2 and 4 denied.
    let denials = every_other_denied(5);
    if let Ok(merged) = denials.merged_response(data, "fuzz-request") {
        if strict_json(data) {
            let merged: serde_json::Value =
                serde_json::from_slice(&merged).expect("the merged answer is JSON");
            assert_eq!(merged["entry"].as_array().map_or(0, Vec::len), 5);
            assert_eq!(merged["entry"][4]["response"]["status"], "403 Forbidden");
        }
    }
});

fn strict_json(data: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(data).is_ok()
}

fn every_other_denied(total: usize) -> BatchDenials {
    BatchDenials {
        total,
        denied: (0..total)
            .step_by(2)
            .map(|index| DeniedEntry {
                index,
                code: "fuzz",
                diagnostics: format!("entry {index}"),
            })
            .collect(),
    }
}
