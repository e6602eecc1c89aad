//! A transaction Bundle: every entry resolved and checked first, then one commit.
//!
//! Resolution gives server ids to creates, runs `ifNoneExist`, conditional `PUT`/`DELETE` and
//! conditional references by search, and maps each `fullUrl` to the resolved `Type/id` so
//! references between entries are rewritten. Nothing is stored until every write is ready;
//! then all are committed in one store transaction. Reads run after the writes.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};
use serde_json::{Value, json};
use wardgate_fhir::rest::{Interaction, classify};

use super::bundle::{
    BundleIn, EntryIn, condition_query, entry_from_response, error_entry, split_url, status_text,
};
use super::interactions::{self, Opened, Prepared};
use super::resource::ResourceDoc;
use super::searching;
use super::{BundleOut, EntryOut, FhirContext, FhirError, fhir_response, raw, search};

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

pub(super) async fn transaction(
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
