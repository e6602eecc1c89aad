//! The instance and type interactions: read, vread, create, update, delete, search, history.

use bytes::Bytes;
use http::{Response, StatusCode, header};
use serde_json::{Value, json};

use super::resource::{ResourceDoc, check_references};
use super::search;
use super::searching::find_matches;
use super::{FhirContext, FhirError, empty_response, fhir_response, version_context};
use crate::store::{StoredVersion, Write};

/// A resource version, opened.
#[derive(Debug, Clone)]
pub(crate) struct Opened {
    pub id: String,
    pub version: i64,
    pub deleted: bool,
    pub last_updated: String,
    pub json: Vec<u8>,
    pub seq: i64,
}

/// A prepared write and what it will store.
pub(crate) struct Prepared {
    pub write: Write,
    pub opened: Opened,
}

/// The current time as a FHIR instant with milliseconds.
pub(crate) fn now_instant() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

fn http_date(instant: &str) -> Option<String> {
    let parsed =
        time::OffsetDateTime::parse(instant, &time::format_description::well_known::Rfc3339)
            .ok()?;
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    parsed.format(&format).ok()
}

/// Open a stored version (reloading the keyring once if a newer key sealed it).
pub(crate) async fn open(
    ctx: &FhirContext<'_>,
    stored: &StoredVersion,
) -> Result<Opened, FhirError> {
    let context = version_context(&stored.rtype, &stored.res_key, stored.version);
    let plain = if ctx.ring.has_key(stored.key_id) {
        ctx.ring.open(stored.key_id, &context, &stored.body)?
    } else {
        ctx.dept
            .refreshed_keyring()
            .await?
            .open(stored.key_id, &context, &stored.body)?
    };
    let split = plain
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(FhirError::internal)?;
    let last_updated = String::from_utf8_lossy(&plain[..split]).into_owned();
    let json = plain[split + 1..].to_vec();
    let id = serde_json::from_slice::<IdOnly>(&json)
        .map(|v| v.id)
        .map_err(|_| FhirError::internal())?;
    Ok(Opened {
        id,
        version: stored.version,
        deleted: stored.deleted,
        last_updated,
        json,
        seq: stored.seq,
    })
}

#[derive(serde::Deserialize)]
struct IdOnly {
    id: String,
}

/// Check a resource for storage as `rtype`.
pub(crate) fn validate(
    ctx: &FhirContext<'_>,
    rtype: &str,
    doc: &ResourceDoc,
) -> Result<(), FhirError> {
    match doc.resource_type() {
        Some(t) if t == rtype => {}
        Some(_) => {
            return Err(FhirError::invalid(
                "wardgate.departments.type-mismatch",
                format!("the body's resourceType is not {rtype}"),
            )
            .at("resourceType"));
        }
        None => {
            return Err(FhirError::invalid(
                "wardgate.departments.no-resource-type",
                "the body has no resourceType",
            ));
        }
    }
    if !ctx.serves(rtype) {
        return Err(FhirError::invalid(
            "wardgate.departments.type-not-served",
            format!("this department does not serve {rtype}"),
        ));
    }
    match doc.value.get("id") {
        None => {}
        Some(Value::String(id)) if wardgate_fhir::is_valid_id(id) => {}
        Some(_) => {
            return Err(FhirError::invalid(
                "wardgate.departments.bad-id",
                "the id is not a valid FHIR id",
            )
            .at(format!("{rtype}.id")));
        }
    }
    check_references(&doc.value)
}

/// Prepare a write of `doc` (or of a deletion when `None`) as `version` of `rtype/id`.
pub(crate) fn prepare(
    ctx: &FhirContext<'_>,
    rtype: &str,
    id: &str,
    doc: Option<&ResourceDoc>,
    expected: Option<i64>,
    version: i64,
) -> Prepared {
    let last_updated = now_instant();
    let res_key = ctx.res_key(rtype, id);
    let (json, tokens) = match doc {
        Some(doc) => {
            let json = doc.to_stored_json(id, version, &last_updated);
            let mut value = doc.value.clone();
            if let Value::Object(map) = &mut value {
                map.insert("id".into(), Value::String(id.to_owned()));
                let meta = map.entry("meta").or_insert_with(|| json!({}));
                if let Value::Object(meta) = meta {
                    meta.insert("lastUpdated".into(), Value::String(last_updated.clone()));
                }
            }
            let tokens = search::index_tokens(&ctx.ring, rtype, &value);
            (json, tokens)
        }
        None => (
            json!({"resourceType": rtype, "id": id,
                   "meta": {"versionId": version.to_string(), "lastUpdated": last_updated}})
            .to_string()
            .into_bytes(),
            Vec::new(),
        ),
    };
    let mut plain = Vec::with_capacity(last_updated.len() + 1 + json.len());
    plain.extend_from_slice(last_updated.as_bytes());
    plain.push(b'\n');
    plain.extend_from_slice(&json);
    let (key_id, body) = ctx
        .ring
        .seal(&version_context(rtype, &res_key, version), &plain);
    Prepared {
        write: Write {
            rtype: rtype.to_owned(),
            res_key,
            expected,
            version,
            deleted: doc.is_none(),
            key_id,
            body,
            tokens,
        },
        opened: Opened {
            id: id.to_owned(),
            version,
            deleted: doc.is_none(),
            last_updated,
            json,
            seq: 0,
        },
    }
}

/// The current version of `rtype/id`, opened.
pub(crate) async fn current(
    ctx: &FhirContext<'_>,
    rtype: &str,
    id: &str,
) -> Result<Option<Opened>, FhirError> {
    let key = ctx.res_key(rtype, id);
    match ctx.dept.store().current(rtype, &key).await? {
        Some(stored) => Ok(Some(open(ctx, &stored).await?)),
        None => Ok(None),
    }
}

/// The headers of a resource answer.
pub(crate) fn resource_headers(
    ctx: &FhirContext<'_>,
    rtype: &str,
    opened: &Opened,
    location: bool,
) -> Vec<(header::HeaderName, String)> {
    let mut headers = vec![(header::ETAG, format!("W/\"{}\"", opened.version))];
    if let Some(date) = http_date(&opened.last_updated) {
        headers.push((header::LAST_MODIFIED, date));
    }
    if location {
        headers.push((
            header::LOCATION,
            format!(
                "{}/{rtype}/{}/_history/{}",
                ctx.base(),
                opened.id,
                opened.version
            ),
        ));
    }
    headers
}

/// Answer a write per the client's `Prefer: return=` choice.
pub(crate) fn write_answer(
    ctx: &FhirContext<'_>,
    status: StatusCode,
    rtype: &str,
    opened: &Opened,
) -> Response<Bytes> {
    let headers = resource_headers(ctx, rtype, opened, true);
    match ctx.header("prefer").map(str::trim) {
        Some(p) if p.contains("return=minimal") => {
            let mut response = fhir_response(status, Vec::new(), &headers);
            response.headers_mut().remove(header::CONTENT_TYPE);
            response
        }
        Some(p) if p.contains("return=OperationOutcome") => {
            let outcome = wardgate_fhir::outcome::OperationOutcome::with_issue(
                wardgate_fhir::outcome::Severity::Information,
                wardgate_fhir::outcome::IssueCode::Informational,
                "stored",
            );
            fhir_response(status, outcome.to_json_string().into_bytes(), &headers)
        }
        _ => fhir_response(status, opened.json.clone(), &headers),
    }
}

pub(crate) async fn read(
    ctx: &FhirContext<'_>,
    rtype: &str,
    id: &str,
) -> Result<Response<Bytes>, FhirError> {
    let opened = current(ctx, rtype, id)
        .await?
        .ok_or_else(FhirError::not_found)?;
    if opened.deleted {
        return Err(FhirError::gone());
    }
    if let Some(tag) = ctx.header("if-none-match")
        && tag.trim() == format!("W/\"{}\"", opened.version)
    {
        return Ok(empty_response(StatusCode::NOT_MODIFIED));
    }
    let headers = resource_headers(ctx, rtype, &opened, false);
    Ok(fhir_response(StatusCode::OK, opened.json, &headers))
}

pub(crate) async fn vread(
    ctx: &FhirContext<'_>,
    rtype: &str,
    id: &str,
    version: i64,
) -> Result<Response<Bytes>, FhirError> {
    let key = ctx.res_key(rtype, id);
    let stored = ctx
        .dept
        .store()
        .version(rtype, &key, version)
        .await?
        .ok_or_else(FhirError::not_found)?;
    let opened = open(ctx, &stored).await?;
    if opened.deleted {
        return Err(FhirError::gone());
    }
    let headers = resource_headers(ctx, rtype, &opened, false);
    Ok(fhir_response(StatusCode::OK, opened.json, &headers))
}

/// A new server-assigned id.
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub(crate) async fn create(
    ctx: &FhirContext<'_>,
    rtype: &str,
    body: &[u8],
) -> Result<Response<Bytes>, FhirError> {
    let doc = ResourceDoc::parse(body, &ctx.dept.config().limits)?;
    validate(ctx, rtype, &doc)?;
    if let Some(condition) = ctx.header("if-none-exist") {
        let pairs = search::parse_pairs(super::bundle::condition_query(condition));
        let found = find_matches(ctx, rtype, &pairs).await?;
        match found.as_slice() {
            [] => {}
            [one] => {
                let headers = resource_headers(ctx, rtype, one, true);
                return Ok(fhir_response(StatusCode::OK, one.json.clone(), &headers));
            }
            _ => {
                return Err(FhirError::precondition(
                    "the If-None-Exist search matches more than one resource",
                ));
            }
        }
    }
    let prepared = prepare(ctx, rtype, &new_id(), Some(&doc), None, 1);
    ctx.dept.store().commit(vec![prepared.write]).await?;
    Ok(write_answer(
        ctx,
        StatusCode::CREATED,
        rtype,
        &prepared.opened,
    ))
}

/// Parse `If-Match: W/"3"`.
pub(crate) fn if_match(ctx: &FhirContext<'_>) -> Result<Option<i64>, FhirError> {
    let Some(value) = ctx.header("if-match") else {
        return Ok(None);
    };
    let v = value
        .trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse::<i64>()
        .map_err(|_| {
            FhirError::invalid(
                "wardgate.departments.bad-if-match",
                "If-Match must be W/\"version\"",
            )
        })?;
    Ok(Some(v))
}

/// Check `doc` for storage as `rtype/id`: a resource of that type whose id is `id`.
fn check_update(
    ctx: &FhirContext<'_>,
    rtype: &str,
    id: &str,
    doc: &ResourceDoc,
) -> Result<(), FhirError> {
    validate(ctx, rtype, doc)?;
    match doc.id() {
        Some(body_id) if body_id == id => Ok(()),
        _ => Err(FhirError::invalid(
            "wardgate.departments.id-mismatch",
            "the body's id must equal the id in the URL",
        )
        .at(format!("{rtype}.id"))),
    }
}

/// `doc` as the version after `existing` (none: the first), to be committed only over it;
/// and whether it creates the resource (new, or deleted before).
fn prepare_next(
    ctx: &FhirContext<'_>,
    rtype: &str,
    id: &str,
    doc: &ResourceDoc,
    existing: Option<&Opened>,
) -> (Prepared, bool) {
    let (expected, version, created) = match existing {
        Some(e) => (Some(e.version), e.version + 1, e.deleted),
        None => (None, 1, true),
    };
    (
        prepare(ctx, rtype, id, Some(doc), expected, version),
        created,
    )
}

/// Update (or create with the client's id) `rtype/id`; `doc.id` must match.
pub(crate) async fn update_prepared(
    ctx: &FhirContext<'_>,
    rtype: &str,
    id: &str,
    doc: &ResourceDoc,
    expected_version: Option<i64>,
) -> Result<(Prepared, bool), FhirError> {
    check_update(ctx, rtype, id, doc)?;
    let existing = current(ctx, rtype, id).await?;
    if let Some(wanted) = expected_version {
        let live = existing.as_ref().filter(|e| !e.deleted).map(|e| e.version);
        if live != Some(wanted) {
            return Err(FhirError::precondition(
                "the resource's current version is not the one in If-Match",
            ));
        }
    }
    Ok(prepare_next(ctx, rtype, id, doc, existing.as_ref()))
}

/// Update `rtype/id` over `existing`, its current version as the caller already opened it
/// (`None`: there was none), so that a caller that read the resource to change it does not
/// open it again. The write commits only over that version: if another landed in between,
/// the commit is refused with [`crate::store::StoreError::Conflict`].
pub(crate) fn update_over(
    ctx: &FhirContext<'_>,
    rtype: &str,
    id: &str,
    doc: &ResourceDoc,
    existing: Option<&Opened>,
) -> Result<(Prepared, bool), FhirError> {
    check_update(ctx, rtype, id, doc)?;
    Ok(prepare_next(ctx, rtype, id, doc, existing))
}

pub(crate) async fn update(
    ctx: &FhirContext<'_>,
    rtype: &str,
    id: &str,
    body: &[u8],
) -> Result<Response<Bytes>, FhirError> {
    let doc = ResourceDoc::parse(body, &ctx.dept.config().limits)?;
    let (prepared, created) = update_prepared(ctx, rtype, id, &doc, if_match(ctx)?).await?;
    ctx.dept.store().commit(vec![prepared.write]).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(write_answer(ctx, status, rtype, &prepared.opened))
}

pub(crate) async fn conditional_update(
    ctx: &FhirContext<'_>,
    rtype: &str,
    pairs: &[(String, String)],
    body: &[u8],
) -> Result<Response<Bytes>, FhirError> {
    let doc = ResourceDoc::parse(body, &ctx.dept.config().limits)?;
    let found = find_matches(ctx, rtype, pairs).await?;
    let id = match found.as_slice() {
        [] => doc.id().map(str::to_owned).unwrap_or_else(new_id),
        [one] => one.id.clone(),
        _ => {
            return Err(FhirError::precondition(
                "the conditional update matches more than one resource",
            ));
        }
    };
    let mut doc = doc;
    if doc.id().is_none()
        && let Value::Object(map) = &mut doc.value
    {
        map.insert("id".into(), Value::String(id.clone()));
    }
    if doc.id() != Some(id.as_str()) {
        return Err(FhirError::invalid(
            "wardgate.departments.id-mismatch",
            "the body's id is not the id of the matching resource",
        ));
    }
    let (prepared, created) = update_prepared(ctx, rtype, &id, &doc, if_match(ctx)?).await?;
    ctx.dept.store().commit(vec![prepared.write]).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(write_answer(ctx, status, rtype, &prepared.opened))
}

/// Prepare deleting `rtype/id`; `None` when there is nothing to delete.
pub(crate) async fn delete_prepared(
    ctx: &FhirContext<'_>,
    rtype: &str,
    id: &str,
) -> Result<Option<Prepared>, FhirError> {
    match current(ctx, rtype, id).await? {
        Some(e) if !e.deleted => Ok(Some(prepare(
            ctx,
            rtype,
            id,
            None,
            Some(e.version),
            e.version + 1,
        ))),
        _ => Ok(None),
    }
}

pub(crate) async fn delete(
    ctx: &FhirContext<'_>,
    rtype: &str,
    id: &str,
) -> Result<Response<Bytes>, FhirError> {
    if let Some(prepared) = delete_prepared(ctx, rtype, id).await? {
        ctx.dept.store().commit(vec![prepared.write]).await?;
    }
    Ok(empty_response(StatusCode::NO_CONTENT))
}

pub(crate) async fn conditional_delete(
    ctx: &FhirContext<'_>,
    rtype: &str,
    pairs: &[(String, String)],
) -> Result<Response<Bytes>, FhirError> {
    let found = find_matches(ctx, rtype, pairs).await?;
    match found.as_slice() {
        [] => Ok(empty_response(StatusCode::NO_CONTENT)),
        [one] => delete(ctx, rtype, &one.id).await,
        _ => Err(FhirError::precondition(
            "the conditional delete matches more than one resource",
        )),
    }
}
