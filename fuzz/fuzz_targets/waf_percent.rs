//! Percent-decoding and lenient UTF-8: never panics, never grows the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wardgate_waf::decode::percent::{PercentOptions, percent_decode};
use wardgate_waf::decode::utf8::decode_lenient;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, input)) = data.split_first() else {
        return;
    };
    let options = PercentOptions {
        plus_as_space: flags & 1 != 0,
        iis_unicode: flags & 2 != 0,
    };
    let decoded = percent_decode(input, options);
    assert!(decoded.len() <= input.len());
    let text = decode_lenient(&decoded);
    // Each invalid byte becomes at most one 3-byte U+FFFD.
    assert!(text.text.len() <= 3 * decoded.len());
});
