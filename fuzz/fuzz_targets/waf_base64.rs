//! Base64 unwrapping: never panics; what it returns is printable text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wardgate_waf::decode::base64::{decode, decode_printable};

fuzz_target!(|input: &str| {
    if let Some(bytes) = decode(input.as_bytes()) {
        assert!(bytes.len() <= input.len());
    }
    if let Some(text) = decode_printable(input) {
        assert!(text.len() <= input.len());
        assert!(
            text.chars()
                .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
        );
    }
});
