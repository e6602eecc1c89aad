//! The XSS detectors (HTML tag tokeniser, JavaScript sinks, script URLs, CSS, the FHIR
//! narrative rules and the clinical-text scope) on arbitrary text: never panics, spans stay
//! inside the value, and clinical text is never judged more strictly than a request value.
//! Also: the one-pass sink scan finds what the word-by-word scan it replaced finds, and the
//! XSS detectors' byte-presence shortcuts change no finding (`detect_without_shortcuts`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wardgate_waf::detect::{Detector, detect_with, detect_without_shortcuts, sink_scans_agree};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut full = Vec::new();
    detect_with(Detector::Xss, &text, 1, &mut full);
    let mut clinical = Vec::new();
    detect_with(Detector::ClinicalMarkup, &text, 1, &mut clinical);
    let mut narrative = Vec::new();
    detect_with(Detector::Narrative, &text, 1, &mut narrative);
    for f in full.iter().chain(&clinical).chain(&narrative) {
        assert!(
            f.span.start <= f.span.end && f.span.end <= text.len(),
            "span {:?}",
            f.span
        );
    }
    let max = |v: &Vec<wardgate_waf::detect::Finding>| v.iter().map(|f| f.score).max().unwrap_or(0);
    assert!(max(&clinical) <= max(&full).max(5));
    assert!(sink_scans_agree(&text), "sink scans differ on {text:?}");
    for (detector, found) in [(Detector::Xss, &full), (Detector::ClinicalMarkup, &clinical)] {
        let mut unfiltered = Vec::new();
        detect_without_shortcuts(detector, &text, &mut unfiltered);
        assert_eq!(found, &unfiltered, "{detector:?} shortcut differs on {text:?}");
    }
});
