//! Path and text normalisation: never panics; normalising twice changes nothing more.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wardgate_waf::decode::path::normalise_path;
use wardgate_waf::decode::text::normalise_text;

fuzz_target!(|input: &str| {
    let once = normalise_path(input);
    assert!(once.len() <= input.len() + 1);
    let twice = normalise_path(&once);
    assert_eq!(once, twice, "path normalisation is idempotent");
    let text = normalise_text(input);
    assert!(text.text.len() <= input.len());
});
