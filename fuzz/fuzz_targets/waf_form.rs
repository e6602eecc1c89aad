//! Query strings and form bodies: never panics; pairs are pieces of the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wardgate_waf::decode;
use wardgate_waf::extract::form::pairs;

fuzz_target!(|input: &str| {
    for pair in pairs(input) {
        assert!(pair.name.len() + pair.value.len() <= input.len());
        let (name, _) = decode::url_base(pair.name, true);
        let (value, _) = decode::url_base(pair.value, true);
        assert!(name.len() <= 3 * pair.name.len() && value.len() <= 3 * pair.value.len());
    }
});
