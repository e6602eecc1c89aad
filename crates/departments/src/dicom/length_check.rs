//! A bounds check of every element length in a DICOM file before the library parses it.
//!
//! dicom-object allocates a value's declared length before reading it, so a 5 KB file that
//! declares a 3 GB element made the department allocate and zero 3 GB and spend minutes on
//! it (found by the `departments_dicom_instance` fuzz target). This walks the element
//! headers the way the library's decoders read them (the file meta group by its group
//! length, then the data set in its transfer syntax) and refuses any length larger than what
//! its container still holds. A deflated data set is inflated here, under a cap, and the
//! library is then given the inflated bytes: it never inflates anything itself.

use std::io::Read;

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;

/// Explicit VRs whose length field is 16 bits; every other VR, known or not, has a 32-bit
/// length after two reserved bytes (PS3.5 7.1.2), which is how dicom-encoding reads them.
const SHORT_VRS: &[&[u8; 2]] = &[
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"PN",
    b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US",
];

/// The Deflated Explicit VR Little Endian transfer syntax.
pub const DEFLATED: &str = "1.2.840.10008.1.2.1.99";
/// Explicit VR Little Endian: what an inflated data set is handed to the library as.
pub const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
const IMPLICIT_LE: &str = "1.2.840.10008.1.2";
const EXPLICIT_BE: &str = "1.2.840.10008.1.2.2";

/// Why a file was refused before parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LengthError {
    /// No `DICM` magic code, or no readable file meta group.
    #[error("not a DICOM Part 10 file")]
    NotPart10,
    /// An element declares more bytes than its file, sequence or item holds.
    #[error("an element declares more bytes than its container holds")]
    BeyondContainer,
    /// The deflated data set inflates to more than the cap.
    #[error("the deflated data set inflates to more than {0} bytes")]
    InflatedTooLarge(usize),
    /// The deflated data set is not a valid deflate stream.
    #[error("the deflated data set is corrupt")]
    CorruptDeflate,
    /// A binary element's length is not a whole number of its values: the library reads
    /// only the whole values and then reads the next header from the wrong place.
    #[error("a binary element's length is not a whole number of its values")]
    PartialValue,
}

/// The size of one value of a binary VR (the library reads `length / size` values).
fn value_size(vr: VR) -> usize {
    match vr {
        VR::US | VR::SS | VR::OW => 2,
        VR::AT | VR::UL | VR::SL | VR::FL | VR::OF | VR::OL => 4,
        VR::FD | VR::OD | VR::SV | VR::UV | VR::OV => 8,
        _ => 1,
    }
}

/// The VR the library's implicit VR decoder gives a tag.
fn implicit_vr(tag: Tag) -> VR {
    if tag == Tag(0x7FE0, 0x0010) || (tag.0 >> 8 == 0x60 && tag.1 == 0x3000) {
        VR::OW
    } else {
        StandardDataDictionary
            .by_tag(tag)
            .map_or(VR::UN, |entry| entry.vr().relaxed())
    }
}

/// A file whose every declared length fits.
#[derive(Debug)]
pub struct CheckedFile {
    /// Where the file meta group starts (after the preamble and `DICM`).
    pub meta_start: usize,
    /// Where the data set starts.
    pub data_set_start: usize,
    /// The transfer syntax UID as the file declares it.
    pub transfer_syntax: String,
    /// The inflated data set, when the transfer syntax is deflated.
    pub inflated: Option<Vec<u8>>,
}

/// Check every declared length of the Part 10 file `file`; a deflated data set is inflated
/// (at most `max_inflated` bytes) and checked as explicit VR little endian.
pub fn check(file: &[u8], max_inflated: usize) -> Result<CheckedFile, LengthError> {
    let meta_start = if file.get(128..132) == Some(b"DICM") {
        132
    } else if file.get(..4) == Some(b"DICM") {
        4
    } else {
        return Err(LengthError::NotPart10);
    };
    let (meta_len, transfer_syntax) = scan_meta(&file[meta_start..])?;
    let data_set_start = meta_start + meta_len;
    let data_set = &file[data_set_start..];
    let mut inflated = None;
    match transfer_syntax.as_str() {
        DEFLATED => {
            let mut bytes = Vec::new();
            flate2::read::DeflateDecoder::new(data_set)
                .take(max_inflated as u64 + 1)
                .read_to_end(&mut bytes)
                .map_err(|_| LengthError::CorruptDeflate)?;
            if bytes.len() > max_inflated {
                return Err(LengthError::InflatedTooLarge(max_inflated));
            }
            scan(&bytes, true, false)?;
            inflated = Some(bytes);
        }
        IMPLICIT_LE => scan(data_set, false, false)?,
        EXPLICIT_BE => scan(data_set, true, true)?,
        _ => scan(data_set, true, false)?,
    }
    Ok(CheckedFile {
        meta_start,
        data_set_start,
        transfer_syntax,
        inflated,
    })
}

/// The file meta group, read as the library reads it: a group length element first, then
/// elements until that many bytes are consumed. Returns its length and the transfer syntax.
fn scan_meta(bytes: &[u8]) -> Result<(usize, String), LengthError> {
    let group_length = match bytes.get(..12) {
        Some([0x02, 0x00, 0x00, 0x00, b'U', b'L', 4, 0, a, b, c, d]) => {
            u32::from_le_bytes([*a, *b, *c, *d]) as usize
        }
        _ => return Err(LengthError::NotPart10),
    };
    let end = 12usize
        .checked_add(group_length)
        .filter(|&e| e <= bytes.len())
        .ok_or(LengthError::BeyondContainer)?;
    let mut pos = 12;
    let mut transfer_syntax = String::new();
    while pos < end {
        let (len, header) = explicit_header(bytes, pos, false).ok_or(LengthError::NotPart10)?;
        let value_start = pos + header;
        let value_end = value_start
            .checked_add(len)
            .filter(|&e| e <= bytes.len())
            .ok_or(LengthError::BeyondContainer)?;
        if bytes.get(pos..pos + 4) == Some(&[0x02, 0x00, 0x10, 0x00]) {
            transfer_syntax = String::from_utf8_lossy(&bytes[value_start..value_end])
                .trim_end_matches(['\0', ' '])
                .to_owned();
        }
        pos = value_end;
    }
    // The library reads the data set from where its elements ended, not from the group
    // length: a group length that disagrees with its elements is refused.
    if pos != end {
        return Err(LengthError::BeyondContainer);
    }
    Ok((pos, transfer_syntax))
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
    if SHORT_VRS.iter().any(|s| s.as_slice() == vr) {
        Some((read_u16(bytes, pos + 6, big)? as usize, 8))
    } else {
        Some((read_u32(bytes, pos + 8, big)? as usize, 12))
    }
}

const UNDEFINED: usize = u32::MAX as usize;

/// Walk a data set, refusing any length beyond its container.
fn scan(data: &[u8], explicit: bool, big: bool) -> Result<(), LengthError> {
    let beyond = LengthError::BeyondContainer;
    let mut pos = 0usize;
    // Ends of the defined-length sequences and items being walked.
    let mut ends: Vec<usize> = Vec::new();
    let mut in_pixel_fragments = false;
    // Fewer than a tag's 4 bytes left is where the library stops reading, gracefully.
    while data.len() - pos >= 4 {
        while ends.last().is_some_and(|&end| pos >= end) {
            ends.pop();
        }
        let limit = ends.last().copied().unwrap_or(data.len());
        let group = read_u16(data, pos, big).ok_or(beyond.clone())?;
        let element = read_u16(data, pos + 2, big).ok_or(beyond.clone())?;
        if group == 0xFFFE {
            let len = read_u32(data, pos + 4, big).ok_or(beyond.clone())? as usize;
            pos += 8;
            match element {
                0xE000 if len != UNDEFINED => {
                    let end = pos
                        .checked_add(len)
                        .filter(|&e| e <= limit)
                        .ok_or(beyond.clone())?;
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
        let (len, header, vr) = if explicit {
            let (len, header) = explicit_header(data, pos, big).ok_or(beyond.clone())?;
            let vr = data
                .get(pos + 4..pos + 6)
                .and_then(|b| VR::from_binary([b[0], b[1]]))
                .unwrap_or(VR::UN);
            (len, header, vr)
        } else {
            let len = read_u32(data, pos + 4, big).ok_or(beyond.clone())? as usize;
            (len, 8, implicit_vr(Tag(group, element)))
        };
        let is_sequence = vr == VR::SQ;
        pos += header;
        if len == UNDEFINED {
            // The library reads any other undefined-length element as a sequence.
            if (group, element) == (0x7FE0, 0x0010) {
                in_pixel_fragments = true;
            }
            continue;
        }
        let end = pos
            .checked_add(len)
            .filter(|&e| e <= limit)
            .ok_or(beyond.clone())?;
        if len % value_size(vr) != 0 {
            return Err(LengthError::PartialValue);
        }
        if is_sequence {
            ends.push(end);
        } else {
            pos = end;
        }
    }
    Ok(())
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

    fn found(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data")
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
            assert!(check(&corpus(name), 1 << 26).is_ok(), "{name}");
        }
        let mut hostile = corpus("ct-small.dcm");
        let pixel = hostile
            .windows(4)
            .rposition(|w| w == [0xE0, 0x7F, 0x10, 0x00])
            .unwrap();
        hostile[pixel + 8..pixel + 12].copy_from_slice(&0xC000_0000u32.to_le_bytes());
        assert_eq!(
            check(&hostile, 1 << 26).unwrap_err(),
            LengthError::BeyondContainer
        );
        assert_eq!(
            check(b"not dicom", 1 << 26).unwrap_err(),
            LengthError::NotPart10
        );
        for name in ["fuzz-dicom-huge-length.dcm", "fuzz-dicom-huge-length-2.dcm"] {
            assert_eq!(
                check(&found(name), 1 << 26).unwrap_err(),
                LengthError::BeyondContainer,
                "{name}"
            );
        }
        // Found by fuzzing: (0043,1016) SS with 561 bytes; the library reads 280 values and
        // then the next header one byte early, where it read a 276 MB OB length.
        assert_eq!(
            check(&found("fuzz-dicom-partial-value.dcm"), 1 << 26).unwrap_err(),
            LengthError::PartialValue
        );
    }

    #[test]
    fn a_deflated_data_set_is_inflated_once_under_the_cap() {
        let file = corpus("ot-deflated.dcm");
        let checked = check(&file, 1 << 26).unwrap();
        assert_eq!(checked.transfer_syntax, DEFLATED);
        let inflated = checked.inflated.unwrap();
        assert!(inflated.len() > file.len() - checked.data_set_start);
        assert_eq!(
            check(&file, inflated.len() - 1).unwrap_err(),
            LengthError::InflatedTooLarge(inflated.len() - 1)
        );
        assert!(check(&file, inflated.len()).is_ok());
    }

    #[test]
    fn an_unknown_explicit_vr_has_a_32_bit_length_as_the_library_reads_it() {
        // (0009,0010) with VR bytes 00 00: the library reads a 32-bit length at offset 8.
        let mut file = corpus("ct-small.dcm");
        let checked = check(&file, 1 << 26).unwrap();
        let mut element = vec![0x09, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00];
        element.extend_from_slice(&0xE000_0000u32.to_le_bytes());
        file.splice(
            checked.data_set_start..checked.data_set_start,
            element.iter().copied(),
        );
        assert_eq!(
            check(&file, 1 << 26).unwrap_err(),
            LengthError::BeyondContainer
        );
    }
}
