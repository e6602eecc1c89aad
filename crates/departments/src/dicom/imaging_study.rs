//! The ImagingStudy resource of a study, kept up to date with the stored instances after
//! every STOW so that FHIR clients see what the PACS holds.

use serde_json::{Value, json};

use super::model::first_text;
use super::{StoredMeta, open_instance, study_key};
use crate::crypto::Keyring;
use crate::fhir::FhirError;
use crate::service::Department;

const DCM: &str = "http://dicom.nema.org/resources/ontology/DCM";

fn fhir_date_time(date: &str, time: Option<&str>) -> Option<String> {
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let day = format!("{}-{}-{}", &date[..4], &date[4..6], &date[6..8]);
    match time.filter(|t| t.len() >= 6 && t[..6].bytes().all(|b| b.is_ascii_digit())) {
        Some(t) => Some(format!("{day}T{}:{}:{}Z", &t[..2], &t[2..4], &t[4..6])),
        None => Some(day),
    }
}

fn number(text: Option<String>) -> Option<i64> {
    text.and_then(|t| t.trim().parse().ok())
}

/// Bring the ImagingStudy of `study_uid` up to date after `added` (this request's instances
/// of the study) were stored, if the department serves ImagingStudy.
///
/// The stored ImagingStudy gets the new instances (and their series) added, so a study sent
/// one instance per request, as modalities do, costs the same for its thousandth instance as
/// for its first; it is built from every stored instance only when there is none yet (or it
/// has been deleted, or does not have the shape wardgate writes).
pub(crate) async fn refresh(
    dept: &Department,
    ring: &Keyring,
    study_uid: &str,
    added: &[&StoredMeta],
) -> Result<(), FhirError> {
    if !dept
        .config()
        .resource_types
        .iter()
        .any(|t| t == "ImagingStudy")
    {
        return Ok(());
    }
    crate::fhir::store_system_resource(dept, "ImagingStudy", study_uid, |current| async move {
        if let Some(mut resource) = current
            && add_instances(&mut resource, added)
        {
            return Ok(Some(resource));
        }
        build(dept, ring, study_uid).await
    })
    .await
}

/// Add `added` to an ImagingStudy wardgate wrote; `false` (and `resource` unusable) when it
/// does not have that shape.
fn add_instances(resource: &mut Value, added: &[&StoredMeta]) -> bool {
    let Some(series) = resource.get_mut("series").and_then(Value::as_array_mut) else {
        return false;
    };
    let mut new_modalities = Vec::new();
    for meta in added {
        let at = match series.iter().position(|s| s["uid"] == meta.series.as_str()) {
            Some(at) => at,
            None => {
                let entry = series_entry(meta, Vec::new());
                new_modalities.push(entry["modality"].clone());
                // Series are kept in UID order, as a full build writes them.
                let at = series
                    .iter()
                    .position(|s| {
                        s["uid"]
                            .as_str()
                            .is_some_and(|uid| uid > meta.series.as_str())
                    })
                    .unwrap_or(series.len());
                series.insert(at, entry);
                at
            }
        };
        let Some(instances) = series[at].get_mut("instance").and_then(Value::as_array_mut) else {
            return false;
        };
        let entry = instance_entry(meta);
        match instances.iter().position(|i| i["uid"] == meta.sop.as_str()) {
            Some(i) => instances[i] = entry,
            None => instances.push(entry),
        }
        let count = instances.len();
        series[at]["numberOfInstances"] = json!(count);
    }
    let number_of_series = series.len();
    let number_of_instances: usize = series
        .iter()
        .map(|s| s["instance"].as_array().map_or(0, Vec::len))
        .sum();
    let Some(modalities) = resource.get_mut("modality").and_then(Value::as_array_mut) else {
        return false;
    };
    for modality in new_modalities {
        if !modalities.contains(&modality) {
            modalities.push(modality);
        }
    }
    resource["numberOfSeries"] = json!(number_of_series);
    resource["numberOfInstances"] = json!(number_of_instances);
    true
}

fn instance_entry(meta: &StoredMeta) -> Value {
    let mut entry = json!({"uid": meta.sop, "sopClass": {"system": "urn:ietf:rfc:3986", "code": format!("urn:oid:{}", meta.class)}});
    if let Some(n) = number(first_text(&meta.json, "00200013")) {
        entry["number"] = json!(n);
    }
    entry
}

/// A series entry described by its first instance `head`, holding `instances`.
fn series_entry(head: &StoredMeta, instances: Vec<Value>) -> Value {
    let modality = first_text(&head.json, "00080060").unwrap_or_else(|| "OT".into());
    let mut entry = json!({
        "uid": head.series,
        "modality": {"system": DCM, "code": modality},
        "numberOfInstances": instances.len(),
        "instance": instances,
    });
    if let Some(n) = number(first_text(&head.json, "00200011")) {
        entry["number"] = json!(n);
    }
    if let Some(d) = first_text(&head.json, "0008103E").filter(|d| !d.is_empty()) {
        entry["description"] = json!(d);
    }
    entry
}

/// The ImagingStudy of every stored instance of the study; `None` when it has none.
async fn build(
    dept: &Department,
    ring: &Keyring,
    study_uid: &str,
) -> Result<Option<Value>, FhirError> {
    let mut instances = Vec::new();
    for row in dept
        .store()
        .study_instances(&study_key(ring, study_uid), false)
        .await?
    {
        instances.push(open_instance(dept, ring, &row).await?.meta);
    }
    let Some(first) = instances.first() else {
        return Ok(None);
    };
    let study = &first.json;
    let mut series_uids: Vec<&str> = instances.iter().map(|i| i.series.as_str()).collect();
    series_uids.sort();
    series_uids.dedup();
    let mut modalities: Vec<Value> = Vec::new();
    let series: Vec<Value> = series_uids
        .iter()
        .map(|uid| {
            let members: Vec<&StoredMeta> = instances.iter().filter(|i| i.series == *uid).collect();
            let entry = series_entry(
                members[0],
                members.iter().map(|m| instance_entry(m)).collect(),
            );
            if !modalities.contains(&entry["modality"]) {
                modalities.push(entry["modality"].clone());
            }
            entry
        })
        .collect();
    let patient_id = first_text(study, "00100020").filter(|p| !p.is_empty());
    let patient_name = first_text(study, "00100010").filter(|p| !p.is_empty());
    let mut subject = json!({});
    if let Some(id) = &patient_id {
        subject["identifier"] = json!({"value": id});
    }
    subject["display"] = json!(patient_name.unwrap_or_else(|| "unknown patient".into()));
    let mut resource = json!({
        "resourceType": "ImagingStudy",
        "id": study_uid,
        "identifier": [{"system": "urn:dicom:uid", "value": format!("urn:oid:{study_uid}")}],
        "status": "available",
        "subject": subject,
        "modality": modalities,
        "numberOfSeries": series.len(),
        "numberOfInstances": instances.len(),
        "series": series,
    });
    if let Some(started) = first_text(study, "00080020")
        .and_then(|d| fhir_date_time(&d, first_text(study, "00080030").as_deref()))
    {
        resource["started"] = json!(started);
    }
    if let Some(d) = first_text(study, "00081030").filter(|d| !d.is_empty()) {
        resource["description"] = json!(d);
    }
    if let Some(acc) = first_text(study, "00080050").filter(|a| !a.is_empty())
        && let Some(ids) = resource["identifier"].as_array_mut()
    {
        ids.push(json!({"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "ACSN"}]}, "value": acc}));
    }
    Ok(Some(resource))
}
