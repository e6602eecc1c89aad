//! DICOMweb for imaging departments: STOW-RS, QIDO-RS and WADO-RS (PS3.18), on sealed
//! instances, with an ImagingStudy kept in step with what is stored.
//!
//! Files are stored byte for byte as received (sealed); nothing is transcoded. A second STOW
//! of a SOP Instance UID already stored in the same study and series replaces the stored
//! file (the latest upload wins, as a re-send after a correction expects); one whose study or
//! series differs is refused with failure reason 0x0111 (duplicate SOP instance), since a UID
//! cannot move between studies.

mod imaging_study;
mod length_check;
mod model;
pub mod multipart;
mod qido;
mod stow;
mod wado;

use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use model::{Instance, InstanceError, is_uid, read_instance};

use crate::crypto::Keyring;
use crate::fhir::FhirError;
use crate::service::Department;
use crate::store::InstanceRow;

/// The `rtype` under which DICOM instances' blind index tokens are kept.
pub const INDEX_TYPE: &str = "$dicom";

/// The sealing contexts of an instance's metadata and file.
pub fn instance_contexts(sop_key: &[u8]) -> (String, String) {
    let key = hex::encode(sop_key);
    (format!("dicom/meta/{key}"), format!("dicom/file/{key}"))
}

/// What is sealed as an instance's metadata.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredMeta {
    pub study: String,
    pub series: String,
    pub sop: String,
    pub class: String,
    pub ts: String,
    pub json: Value,
}

/// An instance opened from the store.
pub(crate) struct OpenedInstance {
    pub meta: StoredMeta,
    pub file: Option<Vec<u8>>,
}

pub(crate) fn study_key(ring: &Keyring, uid: &str) -> Vec<u8> {
    ring.token(&["dcm-study", uid])
}

pub(crate) fn series_key(ring: &Keyring, uid: &str) -> Vec<u8> {
    ring.token(&["dcm-series", uid])
}

pub(crate) fn sop_key(ring: &Keyring, uid: &str) -> Vec<u8> {
    ring.token(&["dcm-sop", uid])
}

pub(crate) async fn open_instance(
    dept: &Department,
    ring: &Keyring,
    row: &InstanceRow,
) -> Result<OpenedInstance, FhirError> {
    let (meta_ctx, file_ctx) = instance_contexts(&row.sop_key);
    let refreshed;
    let ring = if ring.has_key(row.key_id) {
        ring
    } else {
        refreshed = dept.refreshed_keyring().await?;
        &refreshed
    };
    let meta = ring.open(row.key_id, &meta_ctx, &row.meta)?;
    let meta: StoredMeta = serde_json::from_slice(&meta).map_err(|_| FhirError::internal())?;
    let file = match &row.file {
        Some(sealed) => Some(ring.open(row.key_id, &file_ctx, sealed)?),
        None => None,
    };
    Ok(OpenedInstance { meta, file })
}

/// The department's public DICOMweb base.
pub(crate) fn base(dept: &Department) -> String {
    format!("{}/dicom-web", dept.config().base_url.trim_end_matches('/'))
}

pub(crate) fn not_found() -> FhirError {
    FhirError::new(
        StatusCode::NOT_FOUND,
        wardgate_fhir::outcome::IssueCode::NotFound,
        "wardgate.departments.dicom.not-found",
        "no such study, series or instance",
    )
}

pub(crate) fn bad_request(diagnostics: impl Into<String>) -> FhirError {
    FhirError::invalid("wardgate.departments.dicom.bad-request", diagnostics)
}

/// Answer one request on the department's DICOMweb base.
pub(crate) async fn handle(
    dept: &Department,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Bytes,
) -> Response<Bytes> {
    match dispatch(dept, method, path, query, headers, body).await {
        Ok(response) => response,
        Err(error) => error.into_response_for(headers),
    }
}

async fn dispatch(
    dept: &Department,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response<Bytes>, FhirError> {
    let segments: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    for uid in segments.iter().skip(1).step_by(2) {
        if !is_uid(uid) && !matches!(*uid, "metadata" | "frames" | "rendered" | "thumbnail") {
            return Err(bad_request("a UID in the path is not a valid DICOM UID"));
        }
    }
    let ring = dept.keyring().await?;
    let pairs = crate::fhir::search::parse_pairs(query.unwrap_or_default());
    let is_get = method == Method::GET || method == Method::HEAD;
    match (method.as_str(), segments.as_slice()) {
        ("POST", ["studies"]) => stow::store(dept, &ring, None, headers, &body).await,
        ("POST", ["studies", study]) => stow::store(dept, &ring, Some(study), headers, &body).await,
        (_, ["studies"]) if is_get => {
            qido::search(dept, &ring, qido::Level::Study, None, None, &pairs).await
        }
        (_, ["series"]) if is_get => {
            qido::search(dept, &ring, qido::Level::Series, None, None, &pairs).await
        }
        (_, ["instances"]) if is_get => {
            qido::search(dept, &ring, qido::Level::Instance, None, None, &pairs).await
        }
        (_, ["studies", study, "series"]) if is_get => {
            qido::search(dept, &ring, qido::Level::Series, Some(study), None, &pairs).await
        }
        (_, ["studies", study, "instances"]) if is_get => {
            qido::search(
                dept,
                &ring,
                qido::Level::Instance,
                Some(study),
                None,
                &pairs,
            )
            .await
        }
        (_, ["studies", study, "series", series, "instances"]) if is_get => {
            qido::search(
                dept,
                &ring,
                qido::Level::Instance,
                Some(study),
                Some(series),
                &pairs,
            )
            .await
        }
        (_, ["studies", study, rest @ ..]) if is_get => {
            wado::retrieve(dept, &ring, study, rest, headers).await
        }
        _ => Err(FhirError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            wardgate_fhir::outcome::IssueCode::NotSupported,
            "wardgate.departments.dicom.not-supported",
            "this DICOMweb request is not supported",
        )),
    }
}

/// A DICOM JSON answer.
pub(crate) fn dicom_json_response(status: StatusCode, value: &Value) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/dicom+json"),
    );
    response
}
