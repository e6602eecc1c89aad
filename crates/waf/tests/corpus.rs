//! Detection and false-positive floors on the vendored WAF corpus sample (`testdata/waf`):
//! they fail when a change makes the engine or a detector miss more attacks or block more
//! legitimate look-alike text. The full developer set is measured by `wardgate waf scan`.

use std::path::Path;

use wardgate_waf::corpus::{self, Scan};
use wardgate_waf::{Engine, EngineConfig};

fn scan(paranoia: u8, fhir: bool) -> Scan {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/waf");
    let engine = Engine::new(EngineConfig::default());
    let mut scan = Scan::default();
    for file in [
        "gotestwaf.jsonl",
        "libinjection-sample.jsonl",
        "patt-sample.jsonl",
    ] {
        let records = corpus::read_jsonl(&dir.join(file)).unwrap_or_else(|e| panic!("{e}"));
        for record in &records {
            scan.add(record, &record.inspect(&engine, paranoia, fhir));
        }
    }
    scan
}

fn assert_floor(scan: &Scan, group: &str, detection: f64) {
    let tally = scan.by_source.get(group).copied().unwrap_or_default();
    assert!(
        tally.detection() >= detection,
        "{group}: detection {:.4} fell below {detection} ({} of {} attacks blocked)",
        tally.detection(),
        tally.detected,
        tally.attacks
    );
}

#[test]
fn the_sample_is_detected_above_its_floors_with_few_false_positives() {
    let scan = scan(1, false);
    assert_eq!(scan.total.attacks, 5_436, "the vendored sample changed");
    assert_eq!(scan.total.benign, 2_167, "the vendored sample changed");
    assert!(
        scan.total.detection() >= 0.94,
        "detection {} ({})",
        scan.total.detection(),
        scan.summary_line()
    );
    assert!(scan.total.fp_rate() <= 0.01, "{}", scan.summary_line());
    assert_floor(&scan, "gotestwaf", 0.96);
    assert_floor(&scan, "libinjection", 0.95);
    assert_floor(&scan, "patt", 0.91);
}

#[test]
fn attacks_on_a_fhir_route_are_still_blocked() {
    // FHIR awareness relaxes judgement only where the FHIR grammar allows it; attacks in
    // unknown parameters, headers and bodies must still be caught.
    let scan = scan(1, true);
    assert!(scan.total.detection() >= 0.93, "{}", scan.summary_line());
    assert!(scan.total.fp_rate() <= 0.01, "{}", scan.summary_line());
}
