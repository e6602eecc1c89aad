//! `_include` and `_revinclude`: the resources a page of search results refers to, and those
//! that refer to it, added to the page with `search.mode = include`.
//!
//! Only this department's resources are included: a reference to a type it does not serve,
//! or to another server, cannot be followed here (segmentation: no department reads
//! another's store). The gateway has authorized the included types before the request got
//! here.

use serde_json::Value;

use super::interactions::{Opened, open};
use super::params::{paths, reference_term, values_at};
use super::search::Include;
use super::searching::find_matches;
use super::{FhirContext, FhirError};

/// The most resources `_include` and `_revinclude` may add to one page.
pub(crate) const MAX_INCLUDED: usize = 1000;

/// A resource added to a page: its type and the opened resource.
pub(crate) struct Included {
    pub rtype: String,
    pub opened: Opened,
}

/// The resources the `page` of `rtype` matches refers to (`includes`) and those that refer to
/// them (`revincludes`), each once and none of the page itself.
pub(crate) async fn included(
    ctx: &FhirContext<'_>,
    rtype: &str,
    page: &[Opened],
    includes: &[Include],
    revincludes: &[Include],
) -> Result<Vec<Included>, FhirError> {
    let mut seen: Vec<(String, String)> = page
        .iter()
        .map(|o| (rtype.to_owned(), o.id.clone()))
        .collect();
    let mut out = Vec::new();
    let base = ctx.base();
    for matched in page {
        let Ok(resource) = serde_json::from_slice::<Value>(&matched.json) else {
            continue;
        };
        for include in includes {
            for target in references(&resource, include, &base) {
                let Some((target_type, id)) = target.split_once('/') else {
                    continue;
                };
                if seen.iter().any(|(t, i)| t == target_type && i == id) || !ctx.serves(target_type)
                {
                    continue;
                }
                let key = ctx.res_key(target_type, id);
                let stored = ctx
                    .dept
                    .store()
                    .current_versions(target_type, Some(&[key]))
                    .await?;
                for version in &stored {
                    seen.push((target_type.to_owned(), id.to_owned()));
                    push(&mut out, target_type, open(ctx, version).await?)?;
                }
            }
        }
        for include in revincludes {
            if !ctx.serves(&include.source) || include.target.as_deref().is_some_and(|t| t != rtype)
            {
                continue;
            }
            let pairs = [(include.param.clone(), format!("{rtype}/{}", matched.id))];
            for found in find_matches(ctx, &include.source, &pairs).await? {
                if seen
                    .iter()
                    .any(|(t, i)| *t == include.source && *i == found.id)
                {
                    continue;
                }
                seen.push((include.source.clone(), found.id.clone()));
                push(&mut out, &include.source, found)?;
            }
        }
    }
    Ok(out)
}

fn push(out: &mut Vec<Included>, rtype: &str, opened: Opened) -> Result<(), FhirError> {
    if out.len() >= MAX_INCLUDED {
        return Err(FhirError::new(
            http::StatusCode::BAD_REQUEST,
            wardgate_fhir::outcome::IssueCode::TooCostly,
            "wardgate.departments.too-many-included",
            format!(
                "_include and _revinclude would add more than {MAX_INCLUDED} resources to one \
                 page; ask for a smaller _count"
            ),
        ));
    }
    out.push(Included {
        rtype: rtype.to_owned(),
        opened,
    });
    Ok(())
}

/// The local `Type/id` references of `resource` through `include`'s parameter: relative
/// references, or absolute ones on this department's own base.
fn references(resource: &Value, include: &Include, base: &str) -> Vec<String> {
    let mut out = Vec::new();
    for path in paths(&include.source, &include.param).unwrap_or_default() {
        for value in values_at(resource, path) {
            let literal = match value {
                Value::Object(map) => map.get("reference").and_then(Value::as_str),
                _ => None,
            };
            let Some(literal) = literal else { continue };
            let local = literal.starts_with(&format!("{base}/")) || !literal.contains(':');
            let Some(term) = reference_term(value).filter(|_| local) else {
                continue;
            };
            let wanted = match &include.target {
                Some(target) => term.starts_with(&format!("{target}/")),
                None => term.contains('/'),
            };
            if wanted && !out.contains(&term) {
                out.push(term);
            }
        }
    }
    out
}
