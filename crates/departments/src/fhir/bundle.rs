//! `POST [base]` with a `batch` or `transaction` Bundle.
//!
//! A batch runs each entry as if it were sent alone. A transaction resolves every entry first
//! (server ids for creates, conditional creates/updates/deletes by search, `urn:uuid:` and
//! other `fullUrl` references rewritten to the resolved `Type/id`), then commits all writes in
//! one store transaction: all or nothing. Reads in a transaction run after the writes.

use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use wardgate_fhir::rest::classify;

use super::resource::{ResourceDoc, json_depth};
use super::{BundleOut, EntryOut, FhirContext, FhirError, fhir_response, raw};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BundleIn {
    pub(super) resource_type: String,
    #[serde(rename = "type")]
    pub(super) kind: Option<String>,
    #[serde(default)]
    pub(super) entry: Vec<EntryIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct EntryIn {
    pub(super) full_url: Option<String>,
    pub(super) resource: Option<Box<RawValue>>,
    pub(super) request: Option<RequestIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RequestIn {
    pub(super) method: String,
    pub(super) url: String,
    pub(super) if_none_exist: Option<String>,
    pub(super) if_match: Option<String>,
}

/// Parse a Bundle body under the department's limits.
fn parse_bundle(ctx: &FhirContext<'_>, body: &[u8]) -> Result<BundleIn, FhirError> {
    parse_bundle_with(body, &ctx.dept.config().limits)
}

/// Check a batch or transaction body the way a department reads it: the Bundle's shape,
/// limits, and every entry's resource. Returns the number of entries (for fuzzing and tools).
pub fn check_bundle(body: &[u8], limits: &super::ResourceLimits) -> Result<usize, FhirError> {
    let bundle = parse_bundle_with(body, limits)?;
    for entry in &bundle.entry {
        if let Some(resource) = &entry.resource {
            let doc = ResourceDoc::from_raw(resource, limits)?;
            super::resource::check_references(&doc.value)?;
        }
        if let Some(request) = &entry.request {
            let (path, query) = split_url(&request.url);
            let _ = classify(&request.method, &path, query.as_deref());
        }
    }
    Ok(bundle.entry.len())
}

fn parse_bundle_with(body: &[u8], limits: &super::ResourceLimits) -> Result<BundleIn, FhirError> {
    if body.len() > limits.max_body_bytes {
        return Err(FhirError::too_large());
    }
    if json_depth(body) > limits.max_depth {
        return Err(FhirError::invalid(
            "wardgate.departments.too-deep",
            "the JSON is nested too deeply",
        ));
    }
    let bundle: BundleIn = serde_json::from_slice(body).map_err(|_| {
        FhirError::invalid(
            "wardgate.departments.bad-bundle",
            "the body is not a Bundle with entries of fullUrl, resource and request",
        )
    })?;
    if bundle.resource_type != "Bundle" {
        return Err(FhirError::invalid(
            "wardgate.departments.bad-bundle",
            "POST to the base takes a Bundle",
        ));
    }
    if bundle.entry.len() > limits.max_bundle_entries {
        return Err(FhirError::invalid(
            "wardgate.departments.too-many-entries",
            format!(
                "a Bundle may carry at most {} entries",
                limits.max_bundle_entries
            ),
        ));
    }
    Ok(bundle)
}

/// Answer a batch or transaction Bundle.
pub(crate) async fn batch_or_transaction(
    ctx: &FhirContext<'_>,
    body: &[u8],
) -> Result<Response<Bytes>, FhirError> {
    let bundle = parse_bundle(ctx, body)?;
    match bundle.kind.as_deref() {
        Some("batch") => batch(ctx, bundle).await,
        Some("transaction") => super::transaction::transaction(ctx, bundle).await,
        _ => Err(FhirError::invalid(
            "wardgate.departments.bad-bundle",
            "POST to the base takes a batch or transaction Bundle",
        )),
    }
}

/// Split an entry's `request.url` into path and query. An absolute URL is read from its
/// last resource type segment on (`http://x/fhir/Questionnaire/1` is `Questionnaire/1`).
pub(super) fn split_url(url: &str) -> (String, Option<String>) {
    let url = url.trim_start_matches('/');
    let url = if url.contains("://") {
        let (path, query) = match url.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (url, None),
        };
        let segments: Vec<&str> = path.split('/').collect();
        let start = segments
            .iter()
            .rposition(|s| wardgate_fhir::is_resource_type(s))
            .unwrap_or(segments.len());
        let relative = segments[start..].join("/");
        match query {
            Some(q) => format!("{relative}?{q}"),
            None => relative,
        }
    } else {
        url.to_owned()
    };
    match url.split_once('?') {
        Some((p, q)) => (format!("/{p}"), Some(q.to_owned())),
        None => (format!("/{url}"), None),
    }
}

async fn batch(ctx: &FhirContext<'_>, bundle: BundleIn) -> Result<Response<Bytes>, FhirError> {
    let mut entries = Vec::with_capacity(bundle.entry.len());
    for entry in bundle.entry {
        let Some(request) = entry.request else {
            entries.push(error_entry(FhirError::invalid(
                "wardgate.departments.bad-bundle",
                "a batch entry needs a request",
            )));
            continue;
        };
        let (path, query) = split_url(&request.url);
        let Ok(method) = Method::from_bytes(request.method.as_bytes()) else {
            entries.push(error_entry(FhirError::invalid(
                "wardgate.departments.bad-bundle",
                "unknown method",
            )));
            continue;
        };
        if path == "/" {
            entries.push(error_entry(FhirError::invalid(
                "wardgate.departments.nested-bundle",
                "a batch entry cannot itself be a batch",
            )));
            continue;
        }
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("if-none-exist", request.if_none_exist.as_deref()),
            ("if-match", request.if_match.as_deref()),
        ] {
            if let Some(v) = value.and_then(|v| http::HeaderValue::from_str(v).ok()) {
                headers.insert(name, v);
            }
        }
        let body = entry
            .resource
            .map(|r| Bytes::from(r.get().to_owned()))
            .unwrap_or_default();
        let response = Box::pin(super::handle(
            ctx.dept,
            &method,
            &path,
            query.as_deref(),
            &headers,
            body,
        ))
        .await;
        entries.push(entry_from_response(response));
    }
    let out = BundleOut {
        resource_type: "Bundle",
        kind: "batch-response",
        total: None,
        link: Vec::new(),
        entry: entries,
    };
    Ok(fhir_response(StatusCode::OK, out.to_bytes(), &[]))
}

pub(super) fn status_text(status: StatusCode) -> String {
    format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or_default()
    )
}

pub(super) fn entry_from_response(response: Response<Bytes>) -> EntryOut {
    let status = response.status();
    let header = |name: http::header::HeaderName| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let mut answer = serde_json::Map::new();
    answer.insert("status".into(), status_text(status).into());
    for (key, name) in [
        ("location", http::header::LOCATION),
        ("etag", http::header::ETAG),
    ] {
        if let Some(v) = header(name) {
            answer.insert(key.into(), v.into());
        }
    }
    let body = raw(response.body());
    if status.is_success() {
        EntryOut {
            resource: body,
            response: Some(Value::Object(answer)),
            ..EntryOut::default()
        }
    } else {
        if let Some(outcome) = body.and_then(|b| serde_json::from_str::<Value>(b.get()).ok()) {
            answer.insert("outcome".into(), outcome);
        }
        EntryOut {
            response: Some(Value::Object(answer)),
            ..EntryOut::default()
        }
    }
}

pub(super) fn error_entry(error: FhirError) -> EntryOut {
    EntryOut {
        response: Some(
            json!({"status": status_text(error.status), "outcome": error.outcome().to_json()}),
        ),
        ..EntryOut::default()
    }
}

/// The query of an `ifNoneExist` condition, which may be written `Type?query`, `?query` or
/// `query`.
pub(crate) fn condition_query(condition: &str) -> &str {
    condition.split_once('?').map_or(condition, |(_, q)| q)
}
