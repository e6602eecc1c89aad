//! WADO-RS: retrieve a study, a series or an instance as `multipart/related;
//! type="application/dicom"` (the stored bytes, unchanged), or its `/metadata` as
//! `application/dicom+json`.

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};
use serde_json::Value;

use super::multipart;
use super::{dicom_json_response, not_found, open_instance, study_key};
use crate::crypto::Keyring;
use crate::fhir::FhirError;
use crate::service::Department;

fn not_acceptable() -> FhirError {
    FhirError::new(
        StatusCode::NOT_ACCEPTABLE,
        wardgate_fhir::outcome::IssueCode::NotSupported,
        "wardgate.departments.dicom.not-acceptable",
        "this service returns instances as multipart/related; type=\"application/dicom\" and metadata as application/dicom+json",
    )
}

fn accepts(headers: &HeaderMap, metadata: bool) -> bool {
    let Some(accept) = headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
    else {
        return true;
    };
    accept.split(',').any(|item| {
        let Some(media) = multipart::parse_media_type(item.trim()) else {
            return item.trim() == "*/*";
        };
        match media.essence.as_str() {
            "*/*" => true,
            "application/dicom+json" | "application/json" => metadata,
            "multipart/related" => {
                !metadata
                    && media
                        .param("type")
                        .is_none_or(|t| t.eq_ignore_ascii_case("application/dicom"))
            }
            "application/dicom" => !metadata,
            _ => false,
        }
    })
}

pub(crate) async fn retrieve(
    dept: &Department,
    ring: &Keyring,
    study: &str,
    rest: &[&str],
    headers: &HeaderMap,
) -> Result<Response<Bytes>, FhirError> {
    let (series, instance, metadata) = match rest {
        [] => (None, None, false),
        ["metadata"] => (None, None, true),
        ["series", s] => (Some(*s), None, false),
        ["series", s, "metadata"] => (Some(*s), None, true),
        ["series", s, "instances", i] => (Some(*s), Some(*i), false),
        ["series", s, "instances", i, "metadata"] => (Some(*s), Some(*i), true),
        _ => {
            return Err(FhirError::not_supported(
                "wardgate.departments.dicom.not-supported",
                "frames, rendered and bulk data retrieval are not supported",
            ));
        }
    };
    if !accepts(headers, metadata) {
        return Err(not_acceptable());
    }
    let store = dept.store();
    let rows = match instance {
        // One instance: look it up by its own key, then check the path's study and series.
        Some(sop) => store
            .instance(&super::sop_key(ring, sop), !metadata)
            .await?
            .into_iter()
            .collect(),
        None => {
            store
                .study_instances(&study_key(ring, study), !metadata)
                .await?
        }
    };
    let mut opened = Vec::new();
    for row in &rows {
        let o = open_instance(dept, ring, row).await?;
        if o.meta.study == study && series.is_none_or(|s| o.meta.series == s) {
            opened.push(o);
        }
    }
    if opened.is_empty() {
        return Err(not_found());
    }
    opened.sort_by(|a, b| (&a.meta.series, &a.meta.sop).cmp(&(&b.meta.series, &b.meta.sop)));
    if metadata {
        let all: Vec<Value> = opened.into_iter().map(|o| o.meta.json).collect();
        return Ok(dicom_json_response(StatusCode::OK, &Value::Array(all)));
    }
    let boundary = format!("wardgate-{}", hex::encode(rand::random::<[u8; 12]>()));
    let parts: Vec<(String, Vec<u8>)> = opened
        .into_iter()
        .map(|o| {
            (
                format!("application/dicom; transfer-syntax={}", o.meta.ts),
                o.file.unwrap_or_default(),
            )
        })
        .collect();
    let refs: Vec<(String, &[u8])> = parts
        .iter()
        .map(|(h, b)| (h.clone(), b.as_slice()))
        .collect();
    let body = multipart::write(&boundary, &refs);
    let mut response = Response::new(Bytes::from(body));
    if let Ok(value) = http::HeaderValue::from_str(&format!(
        "multipart/related; type=\"application/dicom\"; boundary={boundary}"
    )) {
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, value);
    }
    Ok(response)
}
