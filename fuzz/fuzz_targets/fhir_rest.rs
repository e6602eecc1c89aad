//! The FHIR REST grammar on arbitrary text: the classification of a path (on its first five
//! segments, as against all of them), the resource-type lookup (by initial, as against a
//! binary search of the whole list), and the search-value checks (each one-pass check as
//! against the form it replaced); and `check_param` never panics.
//!
//! Input layout: `METHOD path?query` on the first line, then `name=value` lines.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wardgate_fhir::rest::{classify, classify_all_segments};
use wardgate_fhir::search::{check_param, one_pass_checks_agree};
use wardgate_fhir::{RESOURCE_TYPES, is_resource_type};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("");
    let (method, target) = first.split_once(' ').unwrap_or(("GET", first));
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    assert_eq!(
        classify(method, path, query),
        classify_all_segments(method, path, query),
        "classify {first:?}"
    );
    for word in text.split(['/', '\n', ' ', '?', '&', '=', ',', '|']) {
        assert_eq!(
            is_resource_type(word),
            RESOURCE_TYPES.binary_search(&word).is_ok(),
            "{word:?}"
        );
    }
    let resource_type = path.split('/').find(|s| !s.is_empty());
    for line in lines {
        let (name, value) = line.split_once('=').unwrap_or((line, ""));
        assert!(one_pass_checks_agree(value), "{value:?}");
        let _ = check_param(resource_type, name, value);
        let _ = check_param(Some("Observation"), name, value);
    }
});
