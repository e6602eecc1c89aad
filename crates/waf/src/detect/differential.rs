//! Inputs for the tests that check a detector's shortcut against the detector without it:
//! every string of the vendored attack corpora and of the FHIR resources, and each of them
//! with a given set of bytes removed (the inputs a byte-presence shortcut skips).

use std::path::Path;

use super::Finding;

/// Every JSON string (values and keys) in the `.jsonl` files of `testdata/waf` and
/// `testdata/fhir/resources`.
pub(crate) fn corpus_strings() -> Vec<String> {
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
    let mut out = Vec::new();
    for dir in [testdata.join("waf"), testdata.join("fhir/resources")] {
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            for line in text.lines() {
                if let Ok(value) = serde_json::from_str::<serde_json::Value>(line) {
                    strings(&value, &mut out);
                }
            }
        }
    }
    assert!(
        out.len() > 10_000,
        "the corpora are missing: {} strings",
        out.len()
    );
    out
}

fn strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        serde_json::Value::Object(members) => {
            for (k, v) in members {
                out.push(k.clone());
                strings(v, out);
            }
        }
        _ => {}
    }
}

/// `text` without any byte that `remove` selects (only ASCII bytes are removed, so the result
/// stays UTF-8).
pub(crate) fn without(text: &str, remove: impl Fn(u8) -> bool) -> String {
    text.chars()
        .filter(|c| !(c.is_ascii() && remove(*c as u8)))
        .collect()
}

/// Assert that a detector with its shortcuts (`shortcut`) and without them (`full`) report the
/// same findings on every value, and that the shortcut answered alone (`taken`) for more than
/// `at_least` of them (so the test exercises it, not only the path around it).
pub(crate) fn assert_same_findings(
    values: &[String],
    shortcut: fn(&str, &mut Vec<Finding>),
    full: fn(&str, &mut Vec<Finding>),
    taken: impl Fn(&str) -> bool,
    at_least: usize,
) {
    let mut shortcut_taken = 0;
    for t in values {
        let (mut fast, mut slow) = (Vec::new(), Vec::new());
        shortcut(t, &mut fast);
        full(t, &mut slow);
        assert_eq!(fast, slow, "{t}");
        shortcut_taken += usize::from(taken(t));
    }
    assert!(shortcut_taken > at_least, "{shortcut_taken}");
}
