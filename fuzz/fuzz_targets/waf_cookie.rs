//! The Cookie header: never panics; cookies are pieces of the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wardgate_waf::extract::cookie::cookies;

fuzz_target!(|input: &str| {
    for cookie in cookies(input) {
        assert!(cookie.name.len() + cookie.value.len() <= input.len());
        assert!(!cookie.name.contains(';') && !cookie.value.contains(';'));
    }
});
