//! HTML character references: never panics, never grows the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wardgate_waf::decode::entities::decode_entities;

fuzz_target!(|input: &str| {
    let decoded = decode_entities(input);
    assert!(decoded.len() <= input.len());
});
