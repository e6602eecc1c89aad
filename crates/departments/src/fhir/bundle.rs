//! `POST [base]` with a `batch` or `transaction` Bundle.
//!
//! A batch runs each entry as if it were sent alone. A transaction resolves every entry first
//! (server ids for creates, conditional creates/updates/deletes by search, `urn:uuid:` and
//! other `fullUrl` references rewritten to the resolved `Type/id`), then commits all writes in
//! one store transaction: all or nothing. Reads in a transaction run after the writes.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use wardgate_fhir::rest::{Interaction, classify};

use super::interactions::{self, Opened, Prepared};
use super::resource::{ResourceDoc, json_depth};
use super::searching;
use super::{BundleOut, EntryOut, FhirContext, FhirError, fhir_response, raw, search};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BundleIn {
    resource_type: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    entry: Vec<EntryIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EntryIn {
    full_url: Option<String>,
    resource: Option<Box<RawValue>>,
    request: Option<RequestIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestIn {
    method: String,
    url: String,
    if_none_exist: Option<String>,
    if_match: Option<String>,
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
        Some("transaction") => transaction(ctx, bundle).await,
        _ => Err(FhirError::invalid(
            "wardgate.departments.bad-bundle",
            "POST to the base takes a batch or transaction Bundle",
        )),
    }
}

/// Split an entry's `request.url` into path and query. An absolute URL is read from its
/// last resource type segment on (`http://x/fhir/Questionnaire/1` is `Questionnaire/1`).
fn split_url(url: &str) -> (String, Option<String>) {
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

fn status_text(status: StatusCode) -> String {
    format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or_default()
    )
}

fn entry_from_response(response: Response<Bytes>) -> EntryOut {
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

fn error_entry(error: FhirError) -> EntryOut {
    EntryOut {
        response: Some(
            json!({"status": status_text(error.status), "outcome": error.outcome().to_json()}),
        ),
        ..EntryOut::default()
    }
}

/// What one transaction entry resolved to.
enum Planned {
    Write {
        rtype: String,
        id: String,
        doc: ResourceDoc,
        if_match: Option<i64>,
        created_hint: bool,
    },
    Existing {
        rtype: String,
        opened: Opened,
    },
    Delete {
        rtype: String,
        id: Option<String>,
    },
    Read {
        method: Method,
        path: String,
        query: Option<String>,
    },
}

fn entry_error(index: usize, error: FhirError) -> FhirError {
    let mut error = error;
    error.diagnostics = format!("entry {index}: {}", error.diagnostics);
    error
}

async fn transaction(
    ctx: &FhirContext<'_>,
    bundle: BundleIn,
) -> Result<Response<Bytes>, FhirError> {
    let limits = ctx.dept.config().limits;
    let mut references: HashMap<String, String> = HashMap::new();
    let mut plans = Vec::with_capacity(bundle.entry.len());
    for (index, entry) in bundle.entry.into_iter().enumerate() {
        let plan = plan_entry(ctx, &limits, entry, &mut references)
            .await
            .map_err(|e| entry_error(index, e))?;
        plans.push(plan);
    }
    // Conditional references (`Patient?identifier=...`) resolve to the one match.
    for plan in &plans {
        if let Planned::Write { doc, .. } = plan {
            collect_conditional_references(&doc.value, &mut references, ctx).await?;
        }
    }
    // Resolve, check and prepare every write; nothing is stored until all are ready.
    let mut prepared: Vec<Option<Prepared>> = Vec::with_capacity(plans.len());
    let mut touched = HashSet::new();
    for (index, plan) in plans.iter_mut().enumerate() {
        let result = match plan {
            Planned::Write {
                rtype,
                id,
                doc,
                if_match,
                ..
            } => {
                doc.rewrite_references(&references);
                if !touched.insert((rtype.clone(), id.clone())) {
                    return Err(entry_error(
                        index,
                        FhirError::invalid(
                            "wardgate.departments.duplicate-entry",
                            "a transaction may write each resource once",
                        ),
                    ));
                }
                let (p, created) = interactions::update_prepared(ctx, rtype, id, doc, *if_match)
                    .await
                    .map_err(|e| entry_error(index, e))?;
                if let Planned::Write { created_hint, .. } = plan {
                    *created_hint = created;
                }
                Some(p)
            }
            Planned::Delete {
                rtype,
                id: Some(id),
            } => {
                if !touched.insert((rtype.clone(), id.clone())) {
                    return Err(entry_error(
                        index,
                        FhirError::invalid(
                            "wardgate.departments.duplicate-entry",
                            "a transaction may write each resource once",
                        ),
                    ));
                }
                interactions::delete_prepared(ctx, rtype, id).await?
            }
            _ => None,
        };
        prepared.push(result);
    }
    let writes = prepared
        .iter()
        .flatten()
        .map(|p| p.write.clone())
        .collect::<Vec<_>>();
    if !writes.is_empty() {
        ctx.dept.store().commit(writes).await?;
    }
    let base = ctx.base();
    let mut entries = Vec::with_capacity(plans.len());
    for (plan, prepared) in plans.iter().zip(prepared) {
        let entry = match (plan, prepared) {
            (
                Planned::Write {
                    rtype,
                    created_hint,
                    ..
                },
                Some(p),
            ) => written_entry(
                &base,
                rtype,
                &p.opened,
                if *created_hint {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                },
            ),
            (Planned::Existing { rtype, opened }, _) => {
                written_entry(&base, rtype, opened, StatusCode::OK)
            }
            (Planned::Delete { .. }, _) => EntryOut {
                response: Some(json!({"status": status_text(StatusCode::NO_CONTENT)})),
                ..EntryOut::default()
            },
            (
                Planned::Read {
                    method,
                    path,
                    query,
                },
                _,
            ) => {
                let response = Box::pin(super::handle(
                    ctx.dept,
                    method,
                    path,
                    query.as_deref(),
                    &HeaderMap::new(),
                    Bytes::new(),
                ))
                .await;
                entry_from_response(response)
            }
            (Planned::Write { .. }, None) => error_entry(FhirError::internal()),
        };
        entries.push(entry);
    }
    let out = BundleOut {
        resource_type: "Bundle",
        kind: "transaction-response",
        total: None,
        link: Vec::new(),
        entry: entries,
    };
    Ok(fhir_response(StatusCode::OK, out.to_bytes(), &[]))
}

fn written_entry(base: &str, rtype: &str, opened: &Opened, status: StatusCode) -> EntryOut {
    EntryOut {
        full_url: Some(format!("{base}/{rtype}/{}", opened.id)),
        resource: raw(&opened.json),
        response: Some(json!({
            "status": status_text(status),
            "location": format!("{rtype}/{}/_history/{}", opened.id, opened.version),
            "etag": format!("W/\"{}\"", opened.version),
            "lastModified": opened.last_updated,
        })),
        ..EntryOut::default()
    }
}

async fn plan_entry(
    ctx: &FhirContext<'_>,
    limits: &super::ResourceLimits,
    entry: EntryIn,
    references: &mut HashMap<String, String>,
) -> Result<Planned, FhirError> {
    let request = entry.request.ok_or_else(|| {
        FhirError::invalid(
            "wardgate.departments.bad-bundle",
            "a transaction entry needs a request",
        )
    })?;
    let (path, query) = split_url(&request.url);
    let request_kind = classify(&request.method, &path, query.as_deref()).map_err(|_| {
        FhirError::invalid(
            "wardgate.departments.bad-bundle",
            "the entry's request does not address a FHIR interaction",
        )
    })?;
    let rtype = request_kind.resource_type.clone().unwrap_or_default();
    if !rtype.is_empty() && !ctx.serves(&rtype) {
        return Err(FhirError::invalid(
            "wardgate.departments.type-not-served",
            format!("this department does not serve {rtype}"),
        ));
    }
    let pairs = search::parse_pairs(query.as_deref().unwrap_or_default());
    let doc = || -> Result<ResourceDoc, FhirError> {
        let resource = entry.resource.as_ref().ok_or_else(|| {
            FhirError::invalid(
                "wardgate.departments.bad-bundle",
                "a create or update entry needs a resource",
            )
        })?;
        ResourceDoc::from_raw(resource, limits)
    };
    let single = |found: Vec<Opened>, what: &str| -> Result<Option<Opened>, FhirError> {
        match found.len() {
            0 => Ok(None),
            1 => Ok(found.into_iter().next()),
            _ => Err(FhirError::precondition(format!(
                "the conditional {what} matches more than one resource"
            ))),
        }
    };
    match request_kind.interaction {
        Interaction::Create => {
            let doc = doc()?;
            if let Some(condition) = &request.if_none_exist {
                let found = searching::find_matches(
                    ctx,
                    &rtype,
                    &search::parse_pairs(condition_query(condition)),
                )
                .await?;
                if let Some(opened) = single(found, "create")? {
                    if let Some(full_url) = &entry.full_url {
                        references.insert(full_url.clone(), format!("{rtype}/{}", opened.id));
                    }
                    return Ok(Planned::Existing { rtype, opened });
                }
            }
            let id = interactions::new_id();
            if let Some(full_url) = &entry.full_url {
                references.insert(full_url.clone(), format!("{rtype}/{id}"));
            }
            let mut doc = doc;
            set_id(&mut doc, &id);
            Ok(Planned::Write {
                rtype,
                id,
                doc,
                if_match: None,
                created_hint: true,
            })
        }
        Interaction::Update => {
            let mut doc = doc()?;
            let id = if request_kind.conditional {
                let found = searching::find_matches(ctx, &rtype, &pairs).await?;
                match single(found, "update")? {
                    Some(opened) => opened.id,
                    None => doc
                        .id()
                        .map(str::to_owned)
                        .unwrap_or_else(interactions::new_id),
                }
            } else {
                request_kind.id.clone().unwrap_or_default()
            };
            if doc.id().is_none() {
                set_id(&mut doc, &id);
            }
            if let Some(full_url) = &entry.full_url {
                references.insert(full_url.clone(), format!("{rtype}/{id}"));
            }
            let if_match = match &request.if_match {
                Some(v) => Some(
                    v.trim()
                        .trim_start_matches("W/")
                        .trim_matches('"')
                        .parse::<i64>()
                        .map_err(|_| {
                            FhirError::invalid(
                                "wardgate.departments.bad-if-match",
                                "ifMatch must be W/\"version\"",
                            )
                        })?,
                ),
                None => None,
            };
            Ok(Planned::Write {
                rtype,
                id,
                doc,
                if_match,
                created_hint: false,
            })
        }
        Interaction::Delete => {
            let id = if request_kind.conditional {
                single(
                    searching::find_matches(ctx, &rtype, &pairs).await?,
                    "delete",
                )?
                .map(|o| o.id)
            } else {
                request_kind.id.clone()
            };
            Ok(Planned::Delete { rtype, id })
        }
        Interaction::Read
        | Interaction::Vread
        | Interaction::SearchType
        | Interaction::HistoryInstance
        | Interaction::HistoryType => Ok(Planned::Read {
            method: Method::GET,
            path,
            query,
        }),
        _ => Err(FhirError::not_supported(
            "wardgate.departments.unsupported-entry",
            "a transaction entry may create, update, delete, read or search",
        )),
    }
}

fn set_id(doc: &mut ResourceDoc, id: &str) {
    if let Value::Object(map) = &mut doc.value {
        map.insert("id".into(), Value::String(id.to_owned()));
    }
}

fn collect_conditional<'v>(value: &'v Value, out: &mut Vec<&'v str>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("reference", Value::String(s))
                        if s.split_once('?')
                            .is_some_and(|(t, _)| wardgate_fhir::is_resource_type(t)) =>
                    {
                        out.push(s)
                    }
                    _ => collect_conditional(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_conditional(v, out)),
        _ => {}
    }
}

async fn collect_conditional_references(
    value: &Value,
    references: &mut HashMap<String, String>,
    ctx: &FhirContext<'_>,
) -> Result<(), FhirError> {
    let mut found = Vec::new();
    collect_conditional(value, &mut found);
    for reference in found {
        if references.contains_key(reference) {
            continue;
        }
        let Some((rtype, query)) = reference.split_once('?') else {
            continue;
        };
        if !ctx.serves(rtype) {
            continue;
        }
        let matches = searching::find_matches(ctx, rtype, &search::parse_pairs(query)).await?;
        match matches.as_slice() {
            [one] => {
                references.insert(reference.to_owned(), format!("{rtype}/{}", one.id));
            }
            _ => {
                return Err(FhirError::precondition(
                    "a conditional reference must match exactly one resource",
                ));
            }
        }
    }
    Ok(())
}

/// The query of an `ifNoneExist` condition, which may be written `Type?query`, `?query` or
/// `query`.
pub(crate) fn condition_query(condition: &str) -> &str {
    condition.split_once('?').map_or(condition, |(_, q)| q)
}
