//! The interactions that answer with a Bundle of many resources: type search (with stable
//! paging through sealed snapshots) and history; and the search behind conditional
//! interactions.

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{Value, json};

use super::including::included;
use super::interactions::{Opened, open};
use super::search::{self, Include, SearchQuery};
use super::{
    BundleOut, EntryOut, FhirContext, FhirError, SNAPSHOT_SECONDS, fhir_response, raw,
    snapshot_context,
};

/// Every current resource of `rtype` matching the search parameters, in search order.
pub(crate) async fn find_matches(
    ctx: &FhirContext<'_>,
    rtype: &str,
    pairs: &[(String, String)],
) -> Result<Vec<Opened>, FhirError> {
    let config = ctx.dept.config();
    let query = search::parse_query(rtype, pairs, config.max_count, config.max_count, false)?;
    run_search(ctx, rtype, &query).await
}

async fn run_search(
    ctx: &FhirContext<'_>,
    rtype: &str,
    query: &SearchQuery,
) -> Result<Vec<Opened>, FhirError> {
    let groups = search::candidate_groups(&ctx.ring, rtype, query);
    let store = ctx.dept.store();
    let candidates = if groups.is_empty() {
        store.current_versions(rtype, None).await?
    } else {
        let keys = store.find(rtype, &groups).await?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        store.current_versions(rtype, Some(&keys)).await?
    };
    let mut found = Vec::new();
    for stored in &candidates {
        let opened = open(ctx, stored).await?;
        let Ok(value) = serde_json::from_slice::<Value>(&opened.json) else {
            continue;
        };
        if search::matches(rtype, &value, query) {
            let keys = search::sort_keys(rtype, &value, query);
            found.push((keys, opened));
        }
    }
    found.sort_by(|a, b| search::compare(query, &a.0, &b.0).then(a.1.seq.cmp(&b.1.seq)));
    Ok(found.into_iter().map(|(_, o)| o).collect())
}

fn encode(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Snapshot {
    rtype: String,
    ids: Vec<String>,
    total: usize,
    /// The search's `_include`s and `_revinclude`s, applied to every page.
    #[serde(default)]
    includes: Vec<Include>,
    #[serde(default)]
    revincludes: Vec<Include>,
}

pub(crate) async fn search_type(
    ctx: &FhirContext<'_>,
    rtype: &str,
    pairs: &[(String, String)],
) -> Result<Response<Bytes>, FhirError> {
    let config = ctx.dept.config();
    let lenient = ctx
        .header("prefer")
        .is_some_and(|p| p.contains("handling=lenient"));
    let query = search::parse_query(
        rtype,
        pairs,
        config.default_count,
        config.max_count,
        lenient,
    )?;
    let base = ctx.base();
    let (page, total, snapshot_id, includes, revincludes) = match &query.getpages {
        Some(snapshot_id) => {
            let snap_key = ctx.ring.token(&["snapshot", snapshot_id]);
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let (key_id, sealed) = ctx
                .dept
                .store()
                .snapshot(&snap_key, now)
                .await?
                .ok_or_else(|| {
                    FhirError::new(
                        StatusCode::GONE,
                        wardgate_fhir::outcome::IssueCode::Expired,
                        "wardgate.departments.page-expired",
                        "this paging link has expired; run the search again",
                    )
                })?;
            let plain = ctx
                .ring
                .open(key_id, &snapshot_context(&snap_key), &sealed)?;
            let snapshot: Snapshot =
                serde_json::from_slice(&plain).map_err(|_| FhirError::internal())?;
            if snapshot.rtype != rtype {
                return Err(FhirError::invalid(
                    "wardgate.departments.bad-page",
                    "this paging link belongs to another resource type",
                ));
            }
            let ids: Vec<&String> = snapshot
                .ids
                .iter()
                .skip(query.offset)
                .take(query.count)
                .collect();
            let keys: Vec<Vec<u8>> = ids.iter().map(|id| ctx.res_key(rtype, id)).collect();
            let mut page = Vec::new();
            for stored in ctx
                .dept
                .store()
                .current_versions(rtype, Some(&keys))
                .await?
            {
                page.push(open(ctx, &stored).await?);
            }
            // Keep the snapshot's order; resources deleted since are left out.
            page.sort_by_key(|o| ids.iter().position(|id| **id == o.id));
            (
                page,
                snapshot.total,
                Some(snapshot_id.clone()),
                snapshot.includes,
                snapshot.revincludes,
            )
        }
        None => {
            let all = run_search(ctx, rtype, &query).await?;
            let total = all.len();
            let snapshot_id = if total > query.offset + query.count || query.offset > 0 {
                let id = hex::encode(rand::random::<[u8; 16]>());
                let snap_key = ctx.ring.token(&["snapshot", &id]);
                let body = serde_json::to_vec(&Snapshot {
                    rtype: rtype.to_owned(),
                    ids: all.iter().map(|o| o.id.clone()).collect(),
                    total,
                    includes: query.includes.clone(),
                    revincludes: query.revincludes.clone(),
                })
                .map_err(|_| FhirError::internal())?;
                let (key_id, sealed) = ctx.ring.seal(&snapshot_context(&snap_key), &body);
                let expires = time::OffsetDateTime::now_utc().unix_timestamp() + SNAPSHOT_SECONDS;
                ctx.dept
                    .store()
                    .put_snapshot(snap_key, expires, key_id, sealed)
                    .await?;
                Some(id)
            } else {
                None
            };
            let page = all
                .into_iter()
                .skip(query.offset)
                .take(query.count)
                .collect();
            (
                page,
                total,
                snapshot_id,
                query.includes.clone(),
                query.revincludes.clone(),
            )
        }
    };
    let extra = included(ctx, rtype, &page, &includes, &revincludes).await?;
    let self_query: Vec<String> = query
        .applied
        .iter()
        .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
        .collect();
    let mut link = vec![
        json!({"relation": "self", "url": format!("{base}/{rtype}?{}", self_query.join("&"))}),
    ];
    if let Some(id) = &snapshot_id {
        let page_url = |offset: usize| {
            format!(
                "{base}/{rtype}?_getpages={id}&_offset={offset}&_count={}",
                query.count
            )
        };
        link[0] = json!({"relation": "self", "url": page_url(query.offset)});
        link.push(json!({"relation": "first", "url": page_url(0)}));
        if query.offset + query.count < total {
            link.push(json!({"relation": "next", "url": page_url(query.offset + query.count)}));
        }
        if query.offset > 0 {
            link.push(json!({"relation": "previous", "url": page_url(query.offset.saturating_sub(query.count))}));
        }
    }
    let matched = page.iter().map(|o| (rtype, o, "match"));
    let added = extra
        .iter()
        .map(|i| (i.rtype.as_str(), &i.opened, "include"));
    let entry = matched
        .chain(added)
        .map(|(t, o, mode)| EntryOut {
            full_url: Some(format!("{base}/{t}/{}", o.id)),
            resource: raw(&o.json),
            search: Some(json!({ "mode": mode })),
            ..EntryOut::default()
        })
        .collect();
    let bundle = BundleOut {
        resource_type: "Bundle",
        kind: "searchset",
        total: (!query.total_none).then_some(total),
        link,
        entry,
    };
    Ok(fhir_response(StatusCode::OK, bundle.to_bytes(), &[]))
}

pub(crate) async fn history(
    ctx: &FhirContext<'_>,
    rtype: Option<&str>,
    id: Option<&str>,
    pairs: &[(String, String)],
) -> Result<Response<Bytes>, FhirError> {
    let config = ctx.dept.config();
    let mut count = config.default_count;
    for (name, value) in pairs {
        match name.as_str() {
            "_count" => {
                count = value
                    .parse::<usize>()
                    .map_err(|_| {
                        FhirError::invalid(
                            "wardgate.departments.bad-search",
                            "'_count' expects a whole number",
                        )
                    })?
                    .min(config.max_count);
            }
            "_format" | "_pretty" => {}
            other => {
                return Err(FhirError::not_supported(
                    "wardgate.departments.unsupported-parameter",
                    format!(
                        "history does not support '{}'",
                        other.chars().take(64).collect::<String>()
                    ),
                ));
            }
        }
    }
    let key = match (rtype, id) {
        (Some(t), Some(i)) => Some(ctx.res_key(t, i)),
        _ => None,
    };
    let versions = ctx
        .dept
        .store()
        .history(rtype, key.as_deref(), count as i64)
        .await?;
    if id.is_some() && versions.is_empty() {
        return Err(FhirError::not_found());
    }
    let base = ctx.base();
    let mut entry = Vec::with_capacity(versions.len());
    for stored in &versions {
        let o = open(ctx, stored).await?;
        let t = &stored.rtype;
        let (method, status) = if o.deleted {
            ("DELETE", "204")
        } else if o.version == 1 {
            ("POST", "201 Created")
        } else {
            ("PUT", "200 OK")
        };
        entry.push(EntryOut {
            full_url: Some(format!("{base}/{t}/{}", o.id)),
            resource: if o.deleted { None } else { raw(&o.json) },
            request: Some(json!({"method": method, "url": format!("{t}/{}", o.id)})),
            response: Some(json!({"status": status, "etag": format!("W/\"{}\"", o.version), "lastModified": o.last_updated})),
            ..EntryOut::default()
        });
    }
    let bundle = BundleOut {
        resource_type: "Bundle",
        kind: "history",
        total: Some(entry.len()),
        link: Vec::new(),
        entry,
    };
    Ok(fhir_response(StatusCode::OK, bundle.to_bytes(), &[]))
}
