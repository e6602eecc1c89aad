//! The SQL injection detector (lexer in four contexts, grammar walk, judges) on arbitrary
//! text: never panics, spans stay inside the value, bounded work.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wardgate_waf::detect::{Detector, detect_with};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut findings = Vec::new();
    detect_with(Detector::Sqli, &text, 1, &mut findings);
    for f in &findings {
        assert!(
            f.span.start <= f.span.end && f.span.end <= text.len(),
            "span {:?}",
            f.span
        );
        assert!(f.score > 0);
    }
});
