//! The policy parser on arbitrary text: it must never panic, and every diagnostic it
//! returns must render (positions inside the text, carets on character boundaries).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match wardgate_policy::Policy::parse(text, Path::new("fuzz.toml")) {
        Ok(validated) => {
            for d in &validated.warnings {
                let _ = d.render();
            }
            let _ = validated.policy.route("GET", "/emergency/fhir/Patient/1");
        }
        Err(diagnostics) => {
            assert!(!diagnostics.is_empty());
            for d in &diagnostics {
                assert!(d.line <= text.lines().count() + 1);
                let _ = d.render();
            }
        }
    }
});
