//! DICOMweb for imaging departments.

use bytes::Bytes;
use http::{HeaderMap, Method, Response};

use crate::service::Department;

/// The `rtype` under which DICOM instances' blind index tokens are kept.
pub const INDEX_TYPE: &str = "$dicom";

/// The sealing contexts of an instance's metadata and file.
pub fn instance_contexts(sop_key: &[u8]) -> (String, String) {
    let key = hex::encode(sop_key);
    (format!("dicom/meta/{key}"), format!("dicom/file/{key}"))
}

pub(crate) async fn handle(
    _dept: &Department,
    _method: &Method,
    _path: &str,
    _query: Option<&str>,
    _headers: &HeaderMap,
    _body: Bytes,
) -> Response<Bytes> {
    crate::fhir::FhirError::internal().into_response()
}
