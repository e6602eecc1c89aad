//! JS and Unicode escapes: never panics, never grows the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wardgate_waf::decode::escapes::decode_escapes;

fuzz_target!(|input: &str| {
    let decoded = decode_escapes(input);
    assert!(decoded.len() <= input.len());
});
