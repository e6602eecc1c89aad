//! The ImagingStudy resource of a study, recomputed from the stored instances after every
//! STOW so that FHIR clients see what the PACS holds.

use serde_json::{Value, json};

use super::model::first_text;
use super::{open_instance, study_key};
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

/// Rebuild and store the ImagingStudy of `study_uid` (if the department serves ImagingStudy).
pub(crate) async fn refresh(
    dept: &Department,
    ring: &Keyring,
    study_uid: &str,
) -> Result<(), FhirError> {
    if !dept
        .config()
        .resource_types
        .iter()
        .any(|t| t == "ImagingStudy")
    {
        return Ok(());
    }
    crate::fhir::store_system_resource(dept, "ImagingStudy", study_uid, || {
        build(dept, ring, study_uid)
    })
    .await
}

/// The ImagingStudy of the study's stored instances; `None` when it has none.
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
        instances.push(open_instance(dept, ring, &row).await?);
    }
    let Some(first) = instances.first() else {
        return Ok(None);
    };
    let study = &first.meta.json;
    let mut series_uids: Vec<&str> = instances.iter().map(|i| i.meta.series.as_str()).collect();
    series_uids.sort();
    series_uids.dedup();
    let mut modalities = Vec::new();
    let series: Vec<Value> = series_uids
        .iter()
        .map(|uid| {
            let members: Vec<_> = instances.iter().filter(|i| i.meta.series == *uid).collect();
            let head = &members[0].meta.json;
            let modality = first_text(head, "00080060").unwrap_or_else(|| "OT".into());
            if !modalities.contains(&modality) {
                modalities.push(modality.clone());
            }
            let mut s = json!({
                "uid": uid,
                "modality": {"system": DCM, "code": modality},
                "numberOfInstances": members.len(),
                "instance": members.iter().map(|i| {
                    let mut inst = json!({"uid": i.meta.sop, "sopClass": {"system": "urn:ietf:rfc:3986", "code": format!("urn:oid:{}", i.meta.class)}});
                    if let Some(n) = number(first_text(&i.meta.json, "00200013")) {
                        inst["number"] = json!(n);
                    }
                    inst
                }).collect::<Vec<_>>(),
            });
            if let Some(n) = number(first_text(head, "00200011")) {
                s["number"] = json!(n);
            }
            if let Some(d) = first_text(head, "0008103E").filter(|d| !d.is_empty()) {
                s["description"] = json!(d);
            }
            s
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
        "modality": modalities.iter().map(|m| json!({"system": DCM, "code": m})).collect::<Vec<_>>(),
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
