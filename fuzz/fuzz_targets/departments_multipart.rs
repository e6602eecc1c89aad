//! A STOW-RS request: the first line is the Content-Type, the rest the multipart body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wardgate_departments::dicom::multipart::{MultipartLimits, parse, parse_media_type};

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let Ok(header) = std::str::from_utf8(&data[..split]) else { return };
    let body = data.get(split + 1..).unwrap_or_default();
    let limits = MultipartLimits {
        max_parts: 64,
        max_header_bytes: 1024,
        max_part_bytes: 1 << 20,
    };
    if let Some(media) = parse_media_type(header)
        && let Some(boundary) = media.param("boundary")
        && let Ok(parts) = parse(body, boundary, &limits)
    {
        for part in parts {
            assert!(part.body.len() <= body.len());
        }
    }
});
