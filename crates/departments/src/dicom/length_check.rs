//! A bounds check of every element length in a DICOM file before the library parses it.
//!
//! dicom-object allocates a value's declared length before reading it, so a 5 KB file that
//! declares a 3 GB element made the department allocate and zero 3 GB and spend minutes on
//! it (found by the `departments_dicom_instance` fuzz target). This walks the element
//! headers (the file meta group, then the data set in its transfer syntax, inflated under a
//! cap when deflated) and refuses any length larger than what its container still holds.

use std::io::Read;

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;

/// Explicit VRs whose length field is 32 bits.
const LONG_VRS: &[&[u8; 2]] = &[
    b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV",
];

const DEFLATED: &str = "1.2.840.10008.1.2.1.99";
const IMPLICIT_LE: &str = "1.2.840.10008.1.2";
const EXPLICIT_BE: &str = "1.2.840.10008.1.2.2";

/// Whether every element of the Part 10 file `file` declares a length that fits; a deflated
/// data set may inflate to at most `max_inflated` bytes.
pub fn lengths_fit(file: &[u8], max_inflated: usize) -> bool {
    let start = if file.get(128..132) == Some(b"DICM") {
        132
    } else if file.get(..4) == Some(b"DICM") {
        4
    } else {
        return false;
    };
    let Some((meta_len, transfer_syntax)) = scan_meta(&file[start..]) else {
        return false;
    };
    let data_set = &file[start + meta_len..];
    match transfer_syntax.as_str() {
        DEFLATED => {
            let mut inflated = Vec::new();
            let limit = max_inflated as u64 + 1;
            let read = flate2::read::DeflateDecoder::new(data_set)
                .take(limit)
                .read_to_end(&mut inflated);
            read.is_ok() && inflated.len() <= max_inflated && scan(&inflated, true, false).is_some()
        }
        IMPLICIT_LE => scan(data_set, false, false).is_some(),
        EXPLICIT_BE => scan(data_set, true, true).is_some(),
        _ => scan(data_set, true, false).is_some(),
    }
}

/// The file meta group (explicit VR little endian): its length and the transfer syntax.
fn scan_meta(bytes: &[u8]) -> Option<(usize, String)> {
    let mut pos = 0;
    let mut transfer_syntax = String::new();
    let mut declared_end = None;
    while bytes
        .get(pos..pos + 2)
        .map(|g| u16::from_le_bytes([g[0], g[1]]))
        == Some(0x0002)
    {
        let (len, header) = explicit_header(bytes, pos, false)?;
        let value_start = pos + header;
        let end = value_start.checked_add(len)?;
        let value = bytes.get(value_start..end)?;
        // The library finds the data set by the group length: a file whose group length
        // disagrees with its elements is read from another offset, so it is refused.
        if bytes.get(pos + 2..pos + 4) == Some(&[0x00, 0x00]) && value.len() == 4 {
            let length = u32::from_le_bytes([value[0], value[1], value[2], value[3]]);
            declared_end = Some(end.checked_add(length as usize)?);
        }
        if bytes.get(pos + 2..pos + 4) == Some(&[0x10, 0x00]) {
            transfer_syntax = String::from_utf8_lossy(value)
                .trim_end_matches(['\0', ' '])
                .to_owned();
        }
        pos = end;
    }
    if declared_end.is_some_and(|end| end != pos) {
        return None;
    }
    Some((pos, transfer_syntax))
}

fn read_u16(bytes: &[u8], at: usize, big: bool) -> Option<u16> {
    let b = bytes.get(at..at + 2)?;
    Some(if big {
        u16::from_be_bytes([b[0], b[1]])
    } else {
        u16::from_le_bytes([b[0], b[1]])
    })
}

fn read_u32(bytes: &[u8], at: usize, big: bool) -> Option<u32> {
    let b = bytes.get(at..at + 4)?;
    let a = [b[0], b[1], b[2], b[3]];
    Some(if big {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    })
}

/// `(value length, header length)` of an explicit-VR element at `pos`.
fn explicit_header(bytes: &[u8], pos: usize, big: bool) -> Option<(usize, usize)> {
    let vr = bytes.get(pos + 4..pos + 6)?;
    if LONG_VRS.iter().any(|l| l.as_slice() == vr) {
        Some((read_u32(bytes, pos + 8, big)? as usize, 12))
    } else {
        Some((read_u16(bytes, pos + 6, big)? as usize, 8))
    }
}

const UNDEFINED: usize = u32::MAX as usize;

/// Walk a data set; `None` when a length does not fit its container.
fn scan(data: &[u8], explicit: bool, big: bool) -> Option<()> {
    let mut pos = 0usize;
    // Ends of the defined-length sequences and items being walked.
    let mut ends: Vec<usize> = Vec::new();
    let mut in_pixel_fragments = false;
    while pos < data.len() {
        while ends.last().is_some_and(|&end| pos >= end) {
            ends.pop();
        }
        let limit = ends.last().copied().unwrap_or(data.len());
        let group = read_u16(data, pos, big)?;
        let element = read_u16(data, pos + 2, big)?;
        if group == 0xFFFE {
            let len = read_u32(data, pos + 4, big)? as usize;
            pos += 8;
            match element {
                0xE000 if len != UNDEFINED => {
                    let end = pos.checked_add(len).filter(|&e| e <= limit)?;
                    // Pixel data fragments are bytes, not elements.
                    if in_pixel_fragments {
                        pos = end;
                    } else {
                        ends.push(end);
                    }
                }
                0xE0DD => in_pixel_fragments = false,
                _ => {}
            }
            continue;
        }
        let (len, header, is_sequence) = if explicit {
            let (len, header) = explicit_header(data, pos, big)?;
            (len, header, data.get(pos + 4..pos + 6) == Some(b"SQ"))
        } else {
            let len = read_u32(data, pos + 4, big)? as usize;
            let sequence = StandardDataDictionary
                .by_tag(Tag(group, element))
                .is_some_and(|entry| entry.vr() == VirtualVr::Exact(VR::SQ));
            (len, 8, sequence)
        };
        pos += header;
        if len == UNDEFINED {
            if (group, element) == (0x7FE0, 0x0010) {
                in_pixel_fragments = true;
            }
            continue;
        }
        let end = pos.checked_add(len).filter(|&e| e <= limit)?;
        if is_sequence {
            ends.push(end);
        } else {
            pos = end;
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../testdata/dicom/files")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn every_corpus_file_fits_and_a_huge_declared_length_does_not() {
        for name in [
            "ct-small.dcm",
            "mr-small-implicit-le.dcm",
            "mr-small-jpeg-ls.dcm",
            "mr-small-rle.dcm",
            "nm-jpeg2000.dcm",
            "nm-jpeg-extended.dcm",
            "ot-deflated.dcm",
            "sr-structured-report.dcm",
            "us-rgb.dcm",
            "patient-doe-peter/mr2-4950.dcm",
        ] {
            assert!(lengths_fit(&corpus(name), 1 << 26), "{name}");
        }
        let mut hostile = corpus("ct-small.dcm");
        let pixel = hostile
            .windows(4)
            .rposition(|w| w == [0xE0, 0x7F, 0x10, 0x00])
            .unwrap();
        hostile[pixel + 8..pixel + 12].copy_from_slice(&0xC000_0000u32.to_le_bytes());
        assert!(!lengths_fit(&hostile, 1 << 26));
        assert!(!lengths_fit(b"not dicom", 1 << 26));
        let found = std::fs::read(
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/fuzz-dicom-huge-length.dcm"),
        )
        .unwrap();
        assert!(!lengths_fit(&found, 1 << 26));
    }
}
