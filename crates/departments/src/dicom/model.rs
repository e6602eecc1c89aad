//! A DICOM Part 10 file read with `dicom-object` and turned into the DICOM JSON model
//! (PS3.18 Annex F), which is what is kept (sealed) for QIDO-RS and WADO-RS metadata.

use std::io::Read;

use base64::Engine;
use dicom_core::header::Header;
use dicom_core::value::{PrimitiveValue, Value as DicomValue};
use dicom_core::{Tag, VR};
use dicom_object::OpenFileOptions;
use dicom_object::file::ReadPreamble;
use dicom_object::mem::InMemDicomObject;
use dicom_object::meta::FileMetaTable;
use serde_json::{Map, Value, json};

use super::length_check::{EXPLICIT_LE, LengthError, check};

/// Binary values longer than this become a `BulkDataURI` instead of `InlineBinary`.
const INLINE_BINARY_MAX: usize = 256;
/// How deep nested sequences may go.
const MAX_SEQUENCE_DEPTH: usize = 16;

/// The attributes of a stored instance that identify it.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Study Instance UID (0020,000D).
    pub study_uid: String,
    /// Series Instance UID (0020,000E).
    pub series_uid: String,
    /// SOP Instance UID (0008,0018).
    pub sop_uid: String,
    /// SOP Class UID (0008,0016).
    pub sop_class_uid: String,
    /// The file's transfer syntax UID.
    pub transfer_syntax: String,
    /// The data set in the DICOM JSON model (bulk data as URIs).
    pub json: Value,
}

/// Why a file could not be read as a DICOM instance.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstanceError {
    /// Not a DICOM Part 10 file that the library can read.
    #[error("not a readable DICOM Part 10 file")]
    Unreadable,
    /// One of the identifying UIDs is missing or not a valid UID.
    #[error("the instance lacks a valid {0}")]
    MissingUid(&'static str),
    /// An element declares more bytes than its file, sequence or item holds (refused before
    /// parsing, since the library allocates declared lengths up front).
    #[error("an element declares more bytes than its container holds")]
    LengthBeyondContainer,
    /// The deflated data set inflates to more than the cap.
    #[error("the deflated data set inflates to more than {0} bytes")]
    InflatedTooLarge(usize),
    /// A binary element's length is not a whole number of its values (the parser would read
    /// the following elements from the wrong place).
    #[error("a binary element's length is not a whole number of its values")]
    PartialValue,
}

impl From<LengthError> for InstanceError {
    fn from(error: LengthError) -> Self {
        match error {
            LengthError::NotPart10 | LengthError::CorruptDeflate => InstanceError::Unreadable,
            LengthError::BeyondContainer => InstanceError::LengthBeyondContainer,
            LengthError::InflatedTooLarge(cap) => InstanceError::InflatedTooLarge(cap),
            LengthError::PartialValue => InstanceError::PartialValue,
        }
    }
}

/// Whether `uid` follows the UID grammar (digits and dots, at most 64 characters).
pub fn is_uid(uid: &str) -> bool {
    !uid.is_empty()
        && uid.len() <= 64
        && uid.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && !uid.starts_with('.')
        && !uid.ends_with('.')
        && !uid.contains("..")
}

/// The `ggggeeee` key of a tag.
pub fn tag_key(tag: Tag) -> String {
    format!("{:04X}{:04X}", tag.group(), tag.element())
}

/// Read a Part 10 file; a deflated data set may inflate to at most `max_inflated` bytes;
/// `retrieve_base` is the instance's WADO-RS URL for bulk data URIs.
pub fn read_instance(
    bytes: &[u8],
    max_inflated: usize,
    retrieve_base: &dyn Fn(&str, &str, &str) -> String,
) -> Result<Instance, InstanceError> {
    // The library allocates declared lengths up front: check them against the input first.
    let checked = check(bytes, max_inflated)?;
    let object = match &checked.inflated {
        // Hand the library the data set inflated and checked, as explicit VR little endian,
        // so that it never inflates (or allocates) more than was checked here.
        Some(inflated) => {
            let mut meta =
                FileMetaTable::from_reader(&bytes[checked.meta_start - 4..checked.data_set_start])
                    .map_err(|_| InstanceError::Unreadable)?;
            meta.transfer_syntax = EXPLICIT_LE.to_owned();
            meta.update_information_group_length();
            let mut head = b"DICM".to_vec();
            meta.write(&mut head)
                .map_err(|_| InstanceError::Unreadable)?;
            OpenFileOptions::new()
                .read_preamble(ReadPreamble::Never)
                .from_reader(head.chain(inflated.as_slice()))
        }
        None => OpenFileOptions::new()
            .read_preamble(ReadPreamble::Auto)
            .from_reader(bytes),
    }
    .map_err(|_| InstanceError::Unreadable)?;
    let transfer_syntax = checked.transfer_syntax;
    let uid = |tag: Tag, name: &'static str| -> Result<String, InstanceError> {
        let value = object
            .element(tag)
            .ok()
            .and_then(|e| {
                e.value()
                    .to_str()
                    .ok()
                    .map(|s| s.trim_end_matches(['\0', ' ']).to_owned())
            })
            .ok_or(InstanceError::MissingUid(name))?;
        if is_uid(&value) {
            Ok(value)
        } else {
            Err(InstanceError::MissingUid(name))
        }
    };
    let study_uid = uid(Tag(0x0020, 0x000D), "Study Instance UID")?;
    let series_uid = uid(Tag(0x0020, 0x000E), "Series Instance UID")?;
    let sop_uid = uid(Tag(0x0008, 0x0018), "SOP Instance UID")?;
    let sop_class_uid = uid(Tag(0x0008, 0x0016), "SOP Class UID")?;
    let bulk_base = retrieve_base(&study_uid, &series_uid, &sop_uid);
    let json = dataset_json(&object, &bulk_base, 0);
    Ok(Instance {
        study_uid,
        series_uid,
        sop_uid,
        sop_class_uid,
        transfer_syntax,
        json,
    })
}

fn trimmed(s: &str) -> String {
    s.trim_end_matches(['\0', ' ']).to_owned()
}

fn dataset_json(object: &InMemDicomObject, bulk_base: &str, depth: usize) -> Value {
    let mut map = Map::new();
    for element in object.iter() {
        let tag = element.tag();
        // Group length elements carry no meaning in the JSON model.
        if tag.element() == 0 {
            continue;
        }
        let key = tag_key(tag);
        let vr = element.vr();
        let mut attribute = Map::new();
        attribute.insert("vr".into(), Value::String(vr.to_string().to_owned()));
        match element.value() {
            DicomValue::Sequence(sequence) => {
                if depth < MAX_SEQUENCE_DEPTH && !sequence.items().is_empty() {
                    let items: Vec<Value> = sequence
                        .items()
                        .iter()
                        .map(|item| dataset_json(item, bulk_base, depth + 1))
                        .collect();
                    attribute.insert("Value".into(), Value::Array(items));
                }
            }
            DicomValue::PixelSequence(_) => {
                attribute.insert(
                    "BulkDataURI".into(),
                    Value::String(format!("{bulk_base}/bulk/{key}")),
                );
            }
            DicomValue::Primitive(value) => {
                if let Some(content) = primitive_json(vr, value, &key, bulk_base) {
                    let (name, v) = content;
                    attribute.insert(name.into(), v);
                }
            }
        }
        map.insert(key, Value::Object(attribute));
    }
    Value::Object(map)
}

fn primitive_json(
    vr: VR,
    value: &PrimitiveValue,
    key: &str,
    bulk_base: &str,
) -> Option<(&'static str, Value)> {
    if matches!(value, PrimitiveValue::Empty) {
        return None;
    }
    let values: Vec<Value> = match vr {
        VR::OB | VR::OD | VR::OF | VR::OL | VR::OV | VR::OW | VR::UN => {
            let bytes = value.to_bytes();
            return Some(if bytes.len() > INLINE_BINARY_MAX {
                (
                    "BulkDataURI",
                    Value::String(format!("{bulk_base}/bulk/{key}")),
                )
            } else {
                (
                    "InlineBinary",
                    Value::String(base64::engine::general_purpose::STANDARD.encode(&bytes)),
                )
            });
        }
        VR::PN => value
            .to_multi_str()
            .iter()
            .map(|s| {
                let s = trimmed(s);
                let mut groups = s.splitn(3, '=');
                let mut name = Map::new();
                for component in ["Alphabetic", "Ideographic", "Phonetic"] {
                    if let Some(g) = groups.next().filter(|g| !g.is_empty()) {
                        name.insert(component.into(), Value::String(g.to_owned()));
                    }
                }
                Value::Object(name)
            })
            .collect(),
        VR::AT => match value {
            PrimitiveValue::Tags(tags) => tags.iter().map(|t| Value::String(tag_key(*t))).collect(),
            _ => return None,
        },
        VR::DS | VR::FL | VR::FD => value
            .to_multi_str()
            .iter()
            .map(|s| {
                let s = s.trim_matches(['\0', ' ']);
                s.parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number)
            })
            .collect(),
        VR::IS | VR::SL | VR::SS | VR::UL | VR::US | VR::SV | VR::UV => value
            .to_multi_str()
            .iter()
            .map(|s| {
                let s = s.trim_matches(['\0', ' ']);
                s.parse::<i64>().map_or(Value::Null, |n| json!(n))
            })
            .collect(),
        _ => value
            .to_multi_str()
            .iter()
            .map(|s| Value::String(trimmed(s)))
            .collect(),
    };
    Some(("Value", Value::Array(values)))
}

/// The first value of an attribute in the JSON model, as text (`Alphabetic` for names).
pub fn first_text(dataset: &Value, key: &str) -> Option<String> {
    let first = dataset.get(key)?.get("Value")?.get(0)?;
    match first {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(name) => name
            .get("Alphabetic")
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    }
}

/// Every value of an attribute as text.
pub fn all_texts(dataset: &Value, key: &str) -> Vec<String> {
    dataset
        .get(key)
        .and_then(|a| a.get("Value"))
        .and_then(Value::as_array)
        .map(|values| {
            values
                .iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    Value::Object(name) => name
                        .get("Alphabetic")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_follow_the_grammar() {
        assert!(is_uid("1.2.840.10008.5.1.4.1.1.2"));
        for bad in ["", "1..2", ".1", "1.", "1.2'--", &"1".repeat(65)] {
            assert!(!is_uid(bad), "{bad}");
        }
    }
}
