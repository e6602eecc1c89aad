//! STOW-RS: `POST {base}/studies[/{study}]` with `multipart/related; type="application/dicom"`.

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};
use serde_json::{Value, json};

use super::model::{InstanceError, all_texts, first_text, read_instance};
use super::multipart::{self, MultipartLimits, parse_media_type};
use super::{
    StoredMeta, base, dicom_json_response, imaging_study, instance_contexts, series_key, sop_key,
    study_key,
};
use crate::crypto::Keyring;
use crate::fhir::FhirError;
use crate::service::Department;
use crate::store::InstanceRow;

/// A deflated data set may inflate to at most this many times the department's largest
/// instance: the inflated bytes and the parsed data set are both held in memory.
const INFLATE_FACTOR: usize = 2;

/// Whatever the department's instance limit, a deflated data set inflates to at most this
/// many bytes. Deflated transfer syntaxes carry small objects (structured reports, key
/// objects); without a fixed ceiling a few megabytes of deflated data could claim twice a
/// 2 GiB image limit in memory.
const MAX_INFLATED_BYTES: usize = 256 << 20;

/// PS3.18 failure reasons used here.
const CANNOT_UNDERSTAND: u16 = 0xC000;
const PROCESSING_FAILURE: u16 = 0x0110;
const DUPLICATE_SOP_INSTANCE: u16 = 0x0111;

fn unsupported_media() -> FhirError {
    FhirError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        wardgate_fhir::outcome::IssueCode::NotSupported,
        "wardgate.departments.dicom.unsupported-media-type",
        "STOW-RS takes multipart/related; type=\"application/dicom\"",
    )
}

/// The blind index tokens of an instance (see `qido` for how queries use them).
pub(crate) fn instance_tokens(ring: &Keyring, json: &Value) -> Vec<Vec<u8>> {
    let mut tokens = Vec::new();
    for key in super::qido::EXACT_KEYS {
        for value in all_texts(json, key) {
            tokens.push(ring.token(&["dcm", key, &value]));
        }
    }
    if let Some(name) = first_text(json, "00100010") {
        let normalised = crate::fhir::params::normalise_text(&name);
        for word in normalised.split(' ').filter(|w| !w.is_empty()) {
            let chars: Vec<char> = word.chars().collect();
            for len in 1..=chars.len().min(8) {
                let prefix: String = chars[..len].iter().collect();
                tokens.push(ring.token(&["dcm-pn", &prefix]));
            }
        }
    }
    if let Some(date) = first_text(json, "00080020")
        && let Some(year) = date.get(..4)
    {
        tokens.push(ring.token(&["dcm-year", year]));
    }
    tokens.sort();
    tokens.dedup();
    tokens
}

pub(crate) async fn store(
    dept: &Department,
    ring: &Keyring,
    path_study: Option<&str>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response<Bytes>, FhirError> {
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_media_type)
        .ok_or_else(unsupported_media)?;
    if content_type.essence != "multipart/related"
        || content_type
            .param("type")
            .is_some_and(|t| !t.eq_ignore_ascii_case("application/dicom"))
    {
        return Err(unsupported_media());
    }
    let boundary = content_type
        .param("boundary")
        .ok_or_else(unsupported_media)?;
    let limits = MultipartLimits {
        max_part_bytes: dept.config().max_instance_bytes,
        ..MultipartLimits::default()
    };
    let parts = multipart::parse(body, boundary, &limits)
        .map_err(|e| super::bad_request(format!("the multipart body is malformed: {e}")))?;
    let wado_base = base(dept);
    let retrieve = |study: &str, series: &str, sop: &str| {
        format!("{wado_base}/studies/{study}/series/{series}/instances/{sop}")
    };
    // Read every part before storing any: a part whose declared lengths are hostile refuses
    // the whole request, so nothing of it is stored.
    let max_inflated = dept
        .config()
        .max_instance_bytes
        .saturating_mul(INFLATE_FACTOR)
        .min(MAX_INFLATED_BYTES);
    let mut instances = Vec::with_capacity(parts.len());
    for (index, part) in parts.iter().enumerate() {
        if part
            .header("content-type")
            .and_then(parse_media_type)
            .is_some_and(|m| m.essence != "application/dicom")
        {
            instances.push(None);
            continue;
        }
        match read_instance(part.body, max_inflated, &retrieve) {
            Ok(instance) => instances.push(Some(instance)),
            Err(InstanceError::LengthBeyondContainer) => {
                return Err(FhirError::new(
                    StatusCode::BAD_REQUEST,
                    wardgate_fhir::outcome::IssueCode::Structure,
                    "wardgate.departments.dicom.length-beyond-container",
                    format!(
                        "part {}: an element declares more bytes than its data set holds",
                        index + 1
                    ),
                ));
            }
            Err(InstanceError::PartialValue) => {
                return Err(FhirError::new(
                    StatusCode::BAD_REQUEST,
                    wardgate_fhir::outcome::IssueCode::Structure,
                    "wardgate.departments.dicom.partial-value",
                    format!(
                        "part {}: a binary element's length is not a whole number of its values",
                        index + 1
                    ),
                ));
            }
            Err(InstanceError::InflatedTooLarge(cap)) => {
                return Err(FhirError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    wardgate_fhir::outcome::IssueCode::TooLong,
                    "wardgate.departments.dicom.inflated-too-large",
                    format!(
                        "part {}: the deflated data set inflates to more than {cap} bytes",
                        index + 1
                    ),
                ));
            }
            Err(_) => instances.push(None),
        }
    }
    let mut stored = Vec::new();
    let mut failed = Vec::new();
    let mut studies = Vec::new();
    let mut added = Vec::new();
    for (part, instance) in parts.iter().zip(instances) {
        let Some(instance) = instance else {
            failed.push(json!({"00081197": {"vr": "US", "Value": [CANNOT_UNDERSTAND]}}));
            continue;
        };
        let reference = |reason: Option<u16>| {
            let mut item = json!({
                "00081150": {"vr": "UI", "Value": [instance.sop_class_uid]},
                "00081155": {"vr": "UI", "Value": [instance.sop_uid]},
            });
            match reason {
                Some(reason) => item["00081197"] = json!({"vr": "US", "Value": [reason]}),
                None => {
                    item["00081190"] = json!({"vr": "UR", "Value": [retrieve(&instance.study_uid, &instance.series_uid, &instance.sop_uid)]})
                }
            }
            item
        };
        // The study in the path must be the dataset's study.
        if path_study.is_some_and(|s| s != instance.study_uid) {
            failed.push(reference(Some(PROCESSING_FAILURE)));
            continue;
        }
        let sop = sop_key(ring, &instance.sop_uid);
        let study = study_key(ring, &instance.study_uid);
        let series = series_key(ring, &instance.series_uid);
        if let Some(existing) = dept.store().instance(&sop, false).await?
            && (existing.study_key != study || existing.series_key != series)
        {
            failed.push(reference(Some(DUPLICATE_SOP_INSTANCE)));
            continue;
        }
        let meta = StoredMeta {
            study: instance.study_uid.clone(),
            series: instance.series_uid.clone(),
            sop: instance.sop_uid.clone(),
            class: instance.sop_class_uid.clone(),
            ts: instance.transfer_syntax.clone(),
            json: instance.json.clone(),
        };
        let (meta_ctx, file_ctx) = instance_contexts(&sop);
        let meta_bytes = serde_json::to_vec(&meta).map_err(|_| FhirError::internal())?;
        let (key_id, sealed_meta) = ring.seal(&meta_ctx, &meta_bytes);
        let (_, sealed_file) = ring.seal(&file_ctx, part.body);
        let tokens = instance_tokens(ring, &instance.json);
        dept.store()
            .put_instance(
                InstanceRow {
                    sop_key: sop,
                    study_key: study,
                    series_key: series,
                    key_id,
                    meta: sealed_meta,
                    file: Some(sealed_file),
                },
                tokens,
            )
            .await?;
        if !studies.contains(&instance.study_uid) {
            studies.push(instance.study_uid.clone());
        }
        added.push(meta);
        stored.push(reference(None));
    }
    for study in &studies {
        let of_study: Vec<&StoredMeta> = added.iter().filter(|m| m.study == *study).collect();
        imaging_study::refresh(dept, ring, study, &of_study).await?;
    }
    let status = match (stored.is_empty(), failed.is_empty()) {
        (_, true) if !stored.is_empty() => StatusCode::OK,
        (false, false) => StatusCode::ACCEPTED,
        _ => StatusCode::CONFLICT,
    };
    let mut answer = json!({
        "00081198": {"vr": "SQ"},
        "00081199": {"vr": "SQ"},
    });
    if !failed.is_empty() {
        answer["00081198"]["Value"] = Value::Array(failed);
    }
    if !stored.is_empty() {
        answer["00081199"]["Value"] = Value::Array(stored);
    }
    if let [study] = studies.as_slice() {
        answer["00081190"] =
            json!({"vr": "UR", "Value": [format!("{}/studies/{study}", base(dept))]});
    }
    Ok(dicom_json_response(status, &answer))
}
