//! QIDO-RS: search studies, series and instances by the common keys, with wildcards (`*`,
//! `?`), date ranges, `limit`/`offset` and `includefield`.
//!
//! Exact keys (UIDs, PatientID, AccessionNumber, Modality, SOPClassUID) narrow candidates by
//! blind tokens; PatientName by normalised word prefix; StudyDate by year. Every candidate is
//! then matched exactly after decryption.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{Map, Value, json};

use super::model::{all_texts, first_text};
use super::{OpenedInstance, bad_request, base, dicom_json_response, open_instance};
use crate::crypto::Keyring;
use crate::fhir::FhirError;
use crate::service::Department;

/// The level a query returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Study,
    Series,
    Instance,
}

/// Keys indexed with an exact blind token.
pub(crate) const EXACT_KEYS: &[&str] = &[
    "0020000D", "0020000E", "00080018", "00100020", "00080050", "00080060", "00080016",
];

const KEYWORDS: &[(&str, &str)] = &[
    ("StudyInstanceUID", "0020000D"),
    ("SeriesInstanceUID", "0020000E"),
    ("SOPInstanceUID", "00080018"),
    ("SOPClassUID", "00080016"),
    ("PatientID", "00100020"),
    ("PatientName", "00100010"),
    ("PatientBirthDate", "00100030"),
    ("PatientSex", "00100040"),
    ("AccessionNumber", "00080050"),
    ("Modality", "00080060"),
    ("ModalitiesInStudy", "00080061"),
    ("StudyDate", "00080020"),
    ("StudyTime", "00080030"),
    ("StudyDescription", "00081030"),
    ("SeriesDescription", "0008103E"),
    ("SeriesNumber", "00200011"),
    ("InstanceNumber", "00200013"),
    ("ReferringPhysicianName", "00080090"),
    ("StudyID", "00200010"),
];

const STUDY_KEYS: &[&str] = &[
    "00080020", "00080030", "00080050", "00080090", "00100010", "00100020", "00100030", "00100040",
    "0020000D", "00200010", "00081030",
];
const SERIES_KEYS: &[&str] = &["00080060", "0020000E", "00200011", "0008103E", "0020000D"];
const INSTANCE_KEYS: &[&str] = &[
    "00080016", "00080018", "00200013", "00280010", "00280011", "00280008", "0020000D", "0020000E",
];

fn tag_of(key: &str) -> Option<String> {
    if key.len() == 8 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(key.to_ascii_uppercase());
    }
    KEYWORDS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, t)| (*t).to_owned())
}

/// `*` and `?` wildcard match.
pub(crate) fn wildcard(pattern: &[char], text: &[char]) -> bool {
    let (mut p, mut t, mut star, mut mark) = (0, 0, None, 0);
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some(p);
            mark = t;
            p += 1;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

fn matches_value(tag: &str, query: &str, values: &[String]) -> bool {
    if query.is_empty() {
        return true;
    }
    match tag {
        "00080020" | "00100030" => {
            let (lo, hi) = match query.split_once('-') {
                Some((lo, hi)) => (lo, hi),
                None => (query, query),
            };
            values
                .iter()
                .any(|v| (lo.is_empty() || v.as_str() >= lo) && (hi.is_empty() || v.as_str() <= hi))
        }
        "0020000D" | "0020000E" | "00080018" | "00080016" => query
            .split([',', '\\'])
            .any(|uid| values.iter().any(|v| v == uid)),
        "00100010" | "00080090" => {
            let pattern: Vec<char> = query.to_lowercase().chars().collect();
            values
                .iter()
                .any(|v| wildcard(&pattern, &v.to_lowercase().chars().collect::<Vec<_>>()))
        }
        _ => {
            let pattern: Vec<char> = query.chars().collect();
            query.split([',', '\\']).any(|alt| {
                let alt: Vec<char> = alt.chars().collect();
                values
                    .iter()
                    .any(|v| wildcard(&alt, &v.chars().collect::<Vec<_>>()))
            }) || values
                .iter()
                .any(|v| wildcard(&pattern, &v.chars().collect::<Vec<_>>()))
        }
    }
}

struct Query {
    filters: Vec<(String, String)>,
    include: Vec<String>,
    include_all: bool,
    limit: usize,
    offset: usize,
}

fn parse(pairs: &[(String, String)]) -> Result<Query, FhirError> {
    let mut q = Query {
        filters: Vec::new(),
        include: Vec::new(),
        include_all: false,
        limit: 1000,
        offset: 0,
    };
    if pairs.len() > 64 {
        return Err(bad_request("a query takes at most 64 parameters"));
    }
    for (key, value) in pairs {
        match key.as_str() {
            "limit" => {
                q.limit = value
                    .parse::<usize>()
                    .map_err(|_| bad_request("limit expects a whole number"))?
                    .min(1000)
            }
            "offset" => {
                q.offset = value
                    .parse()
                    .map_err(|_| bad_request("offset expects a whole number"))?
            }
            "fuzzymatching" => {}
            "includefield" => {
                for field in value.split(',') {
                    if field == "all" {
                        q.include_all = true;
                    } else {
                        q.include.push(tag_of(field).ok_or_else(|| {
                            bad_request("includefield names an unknown attribute")
                        })?);
                    }
                }
            }
            _ => {
                let tag = tag_of(key).ok_or_else(|| {
                    bad_request("the query names an attribute this service does not search")
                })?;
                if value.len() > 1024 {
                    return Err(bad_request("a query value is too long"));
                }
                q.filters.push((tag, value.clone()));
            }
        }
    }
    Ok(q)
}

fn candidate_groups(ring: &Keyring, query: &Query) -> Vec<Vec<Vec<u8>>> {
    let mut groups = Vec::new();
    for (tag, value) in &query.filters {
        if value.is_empty() {
            continue;
        }
        if EXACT_KEYS.contains(&tag.as_str()) && !value.contains(['*', '?']) {
            groups.push(
                value
                    .split([',', '\\'])
                    .map(|v| ring.token(&["dcm", tag, v]))
                    .collect(),
            );
        } else if tag == "00100010" {
            let head: String = value
                .chars()
                .take_while(|c| *c != '*' && *c != '?')
                .collect();
            let normalised = crate::fhir::params::normalise_text(&head);
            let first = normalised.split(' ').next().unwrap_or_default();
            // A prefix that stops inside a word is still a word prefix; a wildcard or the end
            // right after the head keeps it a prefix search.
            if !first.is_empty() && !normalised.contains(' ') {
                let prefix: String = first.chars().take(8).collect();
                groups.push(vec![ring.token(&["dcm-pn", &prefix])]);
            }
        } else if tag == "00080020" {
            let (lo, hi) = value.split_once('-').unwrap_or((value, value));
            let year = |s: &str, default: i64| {
                s.get(..4)
                    .and_then(|y| y.parse::<i64>().ok())
                    .unwrap_or(default)
            };
            let (lo, hi) = (year(lo, 1800), year(hi, 2200));
            if hi >= lo && hi - lo <= 400 {
                groups.push(
                    (lo..=hi)
                        .map(|y| ring.token(&["dcm-year", &y.to_string()]))
                        .collect(),
                );
            }
        }
    }
    groups
}

fn instance_matches(
    instance: &OpenedInstance,
    filters: &[(String, String)],
    study_modalities: &[String],
) -> bool {
    filters.iter().all(|(tag, value)| {
        if tag == "00080061" {
            let wanted: Vec<&str> = value.split([',', '\\']).collect();
            return value.is_empty()
                || study_modalities
                    .iter()
                    .any(|m| wanted.contains(&m.as_str()));
        }
        matches_value(tag, value, &all_texts(&instance.meta.json, tag))
    })
}

fn copy(out: &mut Map<String, Value>, from: &Value, keys: &[&str]) {
    for key in keys {
        if let Some(v) = from.get(*key) {
            out.insert((*key).to_owned(), v.clone());
        }
    }
}

pub(crate) async fn search(
    dept: &Department,
    ring: &Keyring,
    level: Level,
    study: Option<&str>,
    series: Option<&str>,
    pairs: &[(String, String)],
) -> Result<Response<Bytes>, FhirError> {
    let mut query = parse(pairs)?;
    if let Some(study) = study {
        query.filters.push(("0020000D".into(), study.to_owned()));
    }
    if let Some(series) = series {
        query.filters.push(("0020000E".into(), series.to_owned()));
    }
    let store = dept.store();
    let groups = candidate_groups(ring, &query);
    let rows = if groups.is_empty() {
        store.instances(None, false).await?
    } else {
        let keys = store.find(super::INDEX_TYPE, &groups).await?;
        if keys.is_empty() {
            Vec::new()
        } else {
            store.instances(Some(&keys), false).await?
        }
    };
    let mut opened = Vec::with_capacity(rows.len());
    for row in &rows {
        opened.push(open_instance(dept, ring, row).await?);
    }
    // Study-level facts need every instance of each study the candidates touch.
    let mut by_study: BTreeMap<String, Vec<OpenedInstance>> = BTreeMap::new();
    let needs_whole_studies =
        level == Level::Study || query.filters.iter().any(|(t, _)| t == "00080061");
    if needs_whole_studies {
        let mut studies: Vec<String> = opened.iter().map(|o| o.meta.study.clone()).collect();
        studies.sort();
        studies.dedup();
        for uid in studies {
            let mut all = Vec::new();
            for row in store
                .study_instances(&super::study_key(ring, &uid), false)
                .await?
            {
                all.push(open_instance(dept, ring, &row).await?);
            }
            by_study.insert(uid, all);
        }
    }
    let modalities = |study: &str| -> Vec<String> {
        let mut m: Vec<String> = by_study
            .get(study)
            .map(|all| {
                all.iter()
                    .filter_map(|i| first_text(&i.meta.json, "00080060"))
                    .collect()
            })
            .unwrap_or_default();
        m.sort();
        m.dedup();
        m
    };
    let matching: Vec<&OpenedInstance> = opened
        .iter()
        .filter(|i| instance_matches(i, &query.filters, &modalities(&i.meta.study)))
        .collect();
    let wado = base(dept);
    let mut results: Vec<Value> = Vec::new();
    match level {
        Level::Study => {
            let mut seen = Vec::new();
            for instance in &matching {
                if seen.contains(&instance.meta.study) {
                    continue;
                }
                seen.push(instance.meta.study.clone());
                let all = by_study
                    .get(&instance.meta.study)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                let mut series: Vec<&str> = all.iter().map(|i| i.meta.series.as_str()).collect();
                series.sort();
                series.dedup();
                let mut out = Map::new();
                include(&mut out, &instance.meta.json, &query);
                copy(&mut out, &instance.meta.json, STUDY_KEYS);
                out.insert(
                    "00080061".into(),
                    json!({"vr": "CS", "Value": modalities(&instance.meta.study)}),
                );
                out.insert(
                    "00201206".into(),
                    json!({"vr": "IS", "Value": [series.len()]}),
                );
                out.insert("00201208".into(), json!({"vr": "IS", "Value": [all.len()]}));
                out.insert("00081190".into(), json!({"vr": "UR", "Value": [format!("{wado}/studies/{}", instance.meta.study)]}));
                results.push(Value::Object(out));
            }
        }
        Level::Series => {
            let mut seen: Vec<(String, usize)> = Vec::new();
            for instance in &matching {
                if let Some(entry) = seen.iter_mut().find(|(s, _)| *s == instance.meta.series) {
                    entry.1 += 1;
                    continue;
                }
                seen.push((instance.meta.series.clone(), 1));
                let mut out = Map::new();
                include(&mut out, &instance.meta.json, &query);
                copy(&mut out, &instance.meta.json, SERIES_KEYS);
                out.insert("00081190".into(), json!({"vr": "UR", "Value": [format!("{wado}/studies/{}/series/{}", instance.meta.study, instance.meta.series)]}));
                results.push(Value::Object(out));
            }
            for (value, (_, count)) in results.iter_mut().zip(&seen) {
                value["00201209"] = json!({"vr": "IS", "Value": [count]});
            }
        }
        Level::Instance => {
            for instance in &matching {
                let mut out = Map::new();
                include(&mut out, &instance.meta.json, &query);
                copy(&mut out, &instance.meta.json, INSTANCE_KEYS);
                out.insert("00081190".into(), json!({"vr": "UR", "Value": [format!("{wado}/studies/{}/series/{}/instances/{}", instance.meta.study, instance.meta.series, instance.meta.sop)]}));
                results.push(Value::Object(out));
            }
        }
    }
    let page: Vec<Value> = results
        .into_iter()
        .skip(query.offset)
        .take(query.limit)
        .collect();
    Ok(dicom_json_response(StatusCode::OK, &Value::Array(page)))
}

fn include(out: &mut Map<String, Value>, from: &Value, query: &Query) {
    if query.include_all {
        if let Value::Object(all) = from {
            for (k, v) in all {
                // Bulk data stays behind its URI; sequences are left to the metadata call.
                if v.get("vr").and_then(Value::as_str) != Some("SQ")
                    && v.get("BulkDataURI").is_none()
                {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
    } else {
        let keys: Vec<&str> = query.include.iter().map(String::as_str).collect();
        copy(out, from, &keys);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_dicom() {
        let m = |p: &str, t: &str| {
            wildcard(
                &p.chars().collect::<Vec<_>>(),
                &t.chars().collect::<Vec<_>>(),
            )
        };
        assert!(m("doe*", "doe^archibald"));
        assert!(m("*arch*", "doe^archibald"));
        assert!(m("d?e^*", "doe^peter"));
        assert!(!m("doe", "doe^peter"));
        assert!(matches_value(
            "00080020",
            "20040101-20041231",
            &["20040826".into()]
        ));
        assert!(!matches_value(
            "00080020",
            "-20031231",
            &["20040826".into()]
        ));
    }
}
