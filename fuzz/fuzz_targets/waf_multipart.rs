//! Multipart bodies: never panics, parts stay within the body, the part limit holds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wardgate_waf::extract::multipart::{boundary, parts};

fuzz_target!(|data: &[u8]| {
    // First line: a Content-Type; the rest: the body.
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let Ok(content_type) = std::str::from_utf8(&data[..split]) else {
        return;
    };
    let body = data.get(split + 1..).unwrap_or_default();
    let Some(boundary) = boundary(content_type) else {
        return;
    };
    let read = parts(body, boundary, 16);
    assert!(read.parts.len() <= 16);
    for part in &read.parts {
        assert!(part.body.len() <= body.len());
    }
});
