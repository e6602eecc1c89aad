//! The FHIR R4 service of a department: interactions on sealed, versioned resources.
//!
//! A request arrives with a path relative to the department's FHIR base (`/Patient/123`); it is
//! classified with the shared `wardgate_fhir::rest` grammar, checked against the resource types
//! the department serves, and answered in `application/fhir+json`, every error an
//! OperationOutcome.

mod bundle;
mod transaction;
pub use bundle::check_bundle;
mod capability;
mod dates;
mod including;
mod interactions;
pub mod params;
pub mod patch;
pub mod resource;
mod response;
pub mod search;
mod searching;

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};
use serde::Serialize;
use serde_json::value::RawValue;
use wardgate_fhir::rest::{Interaction, classify};

pub use resource::ResourceLimits;
pub use response::FhirError;
pub(crate) use response::{empty_response, fhir_response, tracing_log as response_log};

use crate::crypto::Keyring;
use crate::service::Department;

/// How long a search's paging snapshot stays valid, in seconds.
pub const SNAPSHOT_SECONDS: i64 = 600;

/// The sealing context of a resource version.
pub fn version_context(rtype: &str, res_key: &[u8], version: i64) -> String {
    format!("fhir/{rtype}/{}/{version}", hex::encode(res_key))
}

/// The sealing context of a search snapshot.
pub fn snapshot_context(snap_key: &[u8]) -> String {
    format!("snapshot/{}", hex::encode(snap_key))
}

/// The state of one request: the department, its keys at the time, and the public base.
pub(crate) struct FhirContext<'a> {
    pub dept: &'a Department,
    pub ring: Arc<Keyring>,
    pub headers: &'a HeaderMap,
}

impl FhirContext<'_> {
    /// The department's public FHIR base, e.g. `https://127.0.0.1:8443/emergency/fhir`.
    pub fn base(&self) -> String {
        format!("{}/fhir", self.dept.config().base_url.trim_end_matches('/'))
    }

    /// The blind key of a resource id.
    pub fn res_key(&self, rtype: &str, id: &str) -> Vec<u8> {
        self.ring.token(&["id", rtype, id])
    }

    /// Whether the department serves `rtype`.
    pub fn serves(&self, rtype: &str) -> bool {
        self.dept.config().resource_types.iter().any(|t| t == rtype)
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A Bundle as written: the resources stay raw JSON text.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BundleOut {
    pub resource_type: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<usize>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub link: Vec<serde_json::Value>,
    pub entry: Vec<EntryOut>,
}

/// A Bundle entry as written.
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EntryOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<serde_json::Value>,
}

/// Raw JSON text from stored bytes (which are always JSON written by this crate).
pub(crate) fn raw(json: &[u8]) -> Option<Box<RawValue>> {
    RawValue::from_string(String::from_utf8(json.to_vec()).ok()?).ok()
}

impl BundleOut {
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Is the client asking for something other than JSON?
fn negotiate(headers: &HeaderMap, pairs: &[(String, String)]) -> Result<(), FhirError> {
    let not_acceptable = || {
        FhirError::new(
            StatusCode::NOT_ACCEPTABLE,
            wardgate_fhir::outcome::IssueCode::NotSupported,
            "wardgate.departments.not-acceptable",
            "this department answers in application/fhir+json only",
        )
    };
    for (name, value) in pairs {
        if name == "_format"
            && !matches!(
                value.split(';').next().unwrap_or_default().trim(),
                "json" | "application/json" | "application/fhir+json"
            )
        {
            return Err(not_acceptable());
        }
    }
    if let Some(accept) = headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
    {
        let ok = accept.split(',').any(|item| {
            let media = item.split(';').next().unwrap_or_default().trim();
            matches!(
                media,
                "*/*" | "application/*" | "application/json" | "application/fhir+json" | ""
            )
        });
        if !ok {
            return Err(not_acceptable());
        }
    }
    Ok(())
}

/// Is the body JSON (or untyped)?
fn check_content_type(headers: &HeaderMap) -> Result<(), FhirError> {
    match headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        None => Ok(()),
        Some(ct) => {
            let media = ct.split(';').next().unwrap_or_default().trim();
            if matches!(media, "application/fhir+json" | "application/json") {
                Ok(())
            } else {
                Err(FhirError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    wardgate_fhir::outcome::IssueCode::NotSupported,
                    "wardgate.departments.unsupported-media-type",
                    "send resources as application/fhir+json",
                ))
            }
        }
    }
}

/// Answer one request on the department's FHIR base.
pub(crate) async fn handle(
    dept: &Department,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Bytes,
) -> Response<Bytes> {
    let is_head = method == Method::HEAD;
    let mut response = match dispatch(dept, method, path, query, headers, body).await {
        Ok(response) => response,
        Err(error) => error.into_response_for(headers),
    };
    if is_head {
        *response.body_mut() = Bytes::new();
    }
    response
}

async fn dispatch(
    dept: &Department,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response<Bytes>, FhirError> {
    let mut pairs = search::parse_pairs(query.unwrap_or_default());
    negotiate(headers, &pairs)?;
    let request = classify(method.as_str(), path, query).map_err(|e| match e {
        wardgate_fhir::rest::RestError::MethodNotAllowed { .. } => FhirError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            wardgate_fhir::outcome::IssueCode::NotSupported,
            "wardgate.departments.method-not-allowed",
            e.to_string(),
        ),
        wardgate_fhir::rest::RestError::UnknownPath => FhirError::new(
            StatusCode::NOT_FOUND,
            wardgate_fhir::outcome::IssueCode::NotFound,
            "wardgate.departments.unknown-path",
            e.to_string(),
        ),
        // The path's own text is never echoed: it may be an attack payload.
        wardgate_fhir::rest::RestError::UnknownResourceType(_) => FhirError::invalid(
            "wardgate.departments.bad-path",
            "the path names no FHIR R4 resource type",
        ),
        wardgate_fhir::rest::RestError::InvalidId(_) => FhirError::invalid(
            "wardgate.departments.bad-path",
            "the path's id is not a valid FHIR id ([A-Za-z0-9-.], at most 64 characters)",
        ),
        wardgate_fhir::rest::RestError::InvalidOperation(_) => FhirError::invalid(
            "wardgate.departments.bad-path",
            "the operation name is not valid",
        ),
    })?;
    if request.interaction == Interaction::Capabilities {
        return Ok(capability::capability_statement(dept));
    }
    let ring = dept.keyring().await?;
    let ctx = FhirContext {
        dept,
        ring,
        headers,
    };
    if let Some(rtype) = &request.resource_type
        && !ctx.serves(rtype)
    {
        return Err(FhirError::new(
            StatusCode::NOT_FOUND,
            wardgate_fhir::outcome::IssueCode::NotSupported,
            "wardgate.departments.type-not-served",
            format!("this department does not serve {rtype}"),
        ));
    }
    if body.len() > dept.config().limits.max_body_bytes {
        return Err(FhirError::too_large());
    }
    let rtype = request.resource_type.as_deref().unwrap_or_default();
    let id = request.id.as_deref().unwrap_or_default();
    match request.interaction {
        Interaction::Read => interactions::read(&ctx, rtype, id).await,
        Interaction::Vread => {
            let version = request
                .version_id
                .as_deref()
                .and_then(|v| v.parse::<i64>().ok())
                .ok_or_else(FhirError::not_found)?;
            interactions::vread(&ctx, rtype, id, version).await
        }
        Interaction::Create => {
            check_content_type(headers)?;
            interactions::create(&ctx, rtype, &body).await
        }
        Interaction::Update if request.conditional => {
            check_content_type(headers)?;
            interactions::conditional_update(&ctx, rtype, &pairs, &body).await
        }
        Interaction::Update => {
            check_content_type(headers)?;
            interactions::update(&ctx, rtype, id, &body).await
        }
        Interaction::Delete if request.conditional => {
            interactions::conditional_delete(&ctx, rtype, &pairs).await
        }
        Interaction::Delete => interactions::delete(&ctx, rtype, id).await,
        Interaction::SearchType => {
            if method == Method::POST {
                // POST _search carries its parameters form-encoded in the body.
                pairs.extend(search::parse_pairs(&String::from_utf8_lossy(&body)));
            }
            searching::search_type(&ctx, rtype, &pairs).await
        }
        Interaction::SearchCompartment => {
            let Some((ctype, cid)) = &request.compartment else {
                return Err(FhirError::not_found());
            };
            if ctype != "Patient" || rtype.is_empty() {
                return Err(FhirError::not_supported(
                    "wardgate.departments.unsupported-compartment",
                    "only Patient compartment searches of one type are supported",
                ));
            }
            let name = if params::supported_type(rtype, "patient").is_some() {
                "patient"
            } else {
                "subject"
            };
            pairs.push((name.to_owned(), format!("Patient/{cid}")));
            searching::search_type(&ctx, rtype, &pairs).await
        }
        Interaction::HistoryInstance => {
            searching::history(&ctx, Some(rtype), Some(id), &pairs).await
        }
        Interaction::HistoryType => searching::history(&ctx, Some(rtype), None, &pairs).await,
        Interaction::HistorySystem => searching::history(&ctx, None, None, &pairs).await,
        Interaction::Batch => {
            check_content_type(headers)?;
            bundle::batch_or_transaction(&ctx, &body).await
        }
        Interaction::SearchSystem => Err(FhirError::not_supported(
            "wardgate.departments.unsupported-interaction",
            "search across all types is not supported; search one resource type",
        )),
        Interaction::Patch if request.conditional || id.is_empty() => {
            Err(FhirError::not_supported(
                "wardgate.departments.unsupported-interaction",
                "only a patch of one resource by its id is supported (PATCH Type/id)",
            ))
        }
        Interaction::Patch => patch::patch(&ctx, rtype, id, &body).await,
        Interaction::Operation(_) => Err(FhirError::not_supported(
            "wardgate.departments.unsupported-operation",
            "this department offers no operations",
        )),
        Interaction::Capabilities => Ok(capability::capability_statement(dept)),
    }
}

/// Store a resource the department itself maintains (the ImagingStudy of a DICOM study),
/// made by `build` from its current content (`None` if it does not exist or is deleted) and
/// the store; `build` answering `None` stores nothing.
///
/// Concurrent requests (a modality storing one study's instances on several connections)
/// each rebuild it after their own write. Each attempt opens the resource once, before
/// `build` reads the store, and commits only over the version it opened; an attempt that
/// lost is rebuilt from the store again. The last commit therefore saw every write that
/// finished before it, and no request's instance goes missing from the resource.
pub(crate) async fn store_system_resource<F, Fut>(
    dept: &Department,
    rtype: &str,
    id: &str,
    build: F,
) -> Result<(), FhirError>
where
    F: Fn(Option<serde_json::Value>) -> Fut,
    Fut: Future<Output = Result<Option<serde_json::Value>, FhirError>>,
{
    const ATTEMPTS: u32 = 16;
    let headers = HeaderMap::new();
    let ctx = FhirContext {
        dept,
        ring: dept.keyring().await?,
        headers: &headers,
    };
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            // Let the request that won finish; spread the retries of the others.
            let jitter = u64::from(rand::random::<u8>() % 8);
            tokio::time::sleep(std::time::Duration::from_millis(
                1 + jitter * u64::from(attempt.min(4)),
            ))
            .await;
        }
        let existing = interactions::current(&ctx, rtype, id).await?;
        let content = existing
            .as_ref()
            .filter(|o| !o.deleted)
            .and_then(|o| serde_json::from_slice(&o.json).ok());
        let Some(resource) = build(content).await? else {
            return Ok(());
        };
        let doc = resource::ResourceDoc::from_value(resource, &dept.config().limits)?;
        let (prepared, _) = interactions::update_over(&ctx, rtype, id, &doc, existing.as_ref())?;
        match dept.store().commit(vec![prepared.write]).await {
            Ok(_) => return Ok(()),
            // Another version landed since `existing` was opened: build again.
            Err(crate::store::StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(FhirError::conflict())
}
