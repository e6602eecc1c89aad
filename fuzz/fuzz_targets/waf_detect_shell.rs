//! The command-injection detector (shell and cmd.exe tokeniser in three contexts, command
//! judgement, code-injection calls) on arbitrary text: never panics, spans stay inside the
//! value.
//! Also: the shortcuts that skip the lexer give what it gives (`detect_without_shortcuts`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wardgate_waf::detect::{Detector, detect_with, detect_without_shortcuts};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut findings = Vec::new();
    detect_with(Detector::Shell, &text, 1, &mut findings);
    // The shortcuts that skip the lexer change no finding.
    let mut unfiltered = Vec::new();
    detect_without_shortcuts(Detector::Shell, &text, &mut unfiltered);
    assert_eq!(findings, unfiltered, "shortcut differs on {text:?}");
    for f in &findings {
        assert!(
            f.span.start <= f.span.end && f.span.end <= text.len(),
            "span {:?}",
            f.span
        );
    }
});
