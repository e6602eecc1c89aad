//! `/auth` request bodies (form encoding and JSON): never panic, limits hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wardgate_identity::http::form::{MAX_BODY_BYTES, parse_body};

fuzz_target!(|input: &[u8]| {
    for content_type in [None, Some("application/json"), Some("application/x-www-form-urlencoded")] {
        if parse_body(content_type, input).is_ok() {
            assert!(input.len() <= MAX_BODY_BYTES);
        }
    }
});
