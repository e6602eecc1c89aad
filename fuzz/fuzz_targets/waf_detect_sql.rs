//! The SQL injection detector (lexer in four contexts, grammar walk, judges) on arbitrary
//! text: never panics, spans stay inside the value, bounded work.
//! Also: the shortcut for plain words gives what the lexer gives (`detect_without_shortcuts`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wardgate_waf::detect::{Detector, detect_with, detect_without_shortcuts};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut findings = Vec::new();
    detect_with(Detector::Sqli, &text, 1, &mut findings);
    // The shortcuts that skip the lexer change no finding.
    let mut unfiltered = Vec::new();
    detect_without_shortcuts(Detector::Sqli, &text, &mut unfiltered);
    assert_eq!(findings, unfiltered, "shortcut differs on {text:?}");
    for f in &findings {
        assert!(
            f.span.start <= f.span.end && f.span.end <= text.len(),
            "span {:?}",
            f.span
        );
        assert!(f.score > 0);
    }
});
