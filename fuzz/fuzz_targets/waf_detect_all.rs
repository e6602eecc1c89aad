//! Every detector through the per-kind dispatch, for every input kind and header set, on
//! arbitrary text: never panics, spans stay inside the value.
//!
//! Input layout: a selector byte (kind, paranoia), then the value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wardgate_waf::detect::{Detector, Input, InputKind, detect, detect_with};

const KINDS: [InputKind; 17] = InputKind::ALL;
const HEADERS: [&str; 4] = ["user-agent", "accept", "referer", "x-custom"];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let kind = KINDS[usize::from(selector) % KINDS.len()];
    let input = Input {
        kind,
        name: Some(HEADERS[usize::from(selector >> 5) % HEADERS.len()]),
        value: &text,
        paranoia: 1 + (selector >> 6),
    };
    let mut findings = Vec::new();
    detect(&input, &mut findings);
    for detector in Detector::ALL {
        detect_with(detector, &text, input.paranoia, &mut findings);
    }
    for f in &findings {
        assert!(
            f.span.start <= f.span.end && f.span.end <= text.len(),
            "{:?} span {:?}",
            f.rule,
            f.span
        );
    }
});
