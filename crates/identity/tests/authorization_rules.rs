//! The finer authorization rules: patient compartment, search parameters, device zones,
//! training, step-up, v1 scopes, operations.

use wardgate_fhir::rest::classify;
use wardgate_identity::authorize::{AccessRequest, Decision, Rule, authorize};
use wardgate_identity::policy::AccessPolicy;
use wardgate_identity::scopes::ScopeSet;
use wardgate_identity::{Principal, PrincipalKind};

const NOW: i64 = 1_800_000_000;

fn who(scopes: &str, roles: &[&str], departments: &[&str]) -> Principal {
    Principal {
        subject: "id".into(),
        name: "someone".into(),
        kind: PrincipalKind::User,
        issuer: "https://wardgate.test".into(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        departments: departments.iter().map(|d| (*d).to_owned()).collect(),
        scopes: ScopeSet::parse(scopes).unwrap(),
        patient: None,
        zone: None,
        auth_time: NOW - 60,
        amr: vec!["pwd".into(), "otp".into()],
        training_valid_until: None,
        break_glass: None,
        token_id: None,
        session_id: None,
        client_id: None,
    }
}

fn decide(
    policy: &AccessPolicy,
    p: &Principal,
    department: &str,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    zone: Option<&str>,
) -> Decision {
    let params: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    let raw = (!query.is_empty()).then(|| "q=1".to_owned());
    let fhir = classify(method, path, raw.as_deref()).unwrap();
    authorize(
        policy,
        p,
        &AccessRequest {
            department,
            fhir: &fhir,
            params: &params,
            device_zone: zone,
            now: NOW,
        },
    )
}

#[test]
fn patient_scopes_stay_in_the_patients_compartment() {
    let policy = AccessPolicy::hospital_default();
    let mut p = who(
        "patient/Observation.rs patient/Patient.r",
        &["physician"],
        &["emergency"],
    );
    let d = decide(
        &policy,
        &p,
        "emergency",
        "GET",
        "/Observation",
        &[("code", "x")],
        None,
    );
    assert_eq!(
        d.rule,
        Rule::PatientCompartment,
        "no patient in context: {}",
        d.reason
    );
    p.patient = Some("pt-1".into());
    let d = decide(
        &policy,
        &p,
        "emergency",
        "GET",
        "/Observation",
        &[("code", "x")],
        None,
    );
    assert!(d.allowed);
    assert_eq!(
        d.patient_filter.as_deref(),
        Some("pt-1"),
        "searches get an implicit patient filter"
    );
    assert!(decide(&policy, &p, "emergency", "GET", "/Patient/pt-1", &[], None).allowed);
    let other = decide(&policy, &p, "emergency", "GET", "/Patient/pt-2", &[], None);
    assert_eq!(other.rule, Rule::PatientCompartment);
    assert!(
        decide(
            &policy,
            &p,
            "emergency",
            "GET",
            "/Patient/pt-1/Observation",
            &[],
            None
        )
        .allowed
    );
    let other = decide(
        &policy,
        &p,
        "emergency",
        "GET",
        "/Patient/pt-2/Observation",
        &[],
        None,
    );
    assert!(!other.allowed);
}

#[test]
fn search_parameters_cannot_reach_unreadable_types() {
    let policy = AccessPolicy::hospital_default();
    let nurse = who(
        "user/Patient.rs user/Observation.cruds",
        &["nurse"],
        &["emergency", "record"],
    );
    let ok = |q: &[(&str, &str)]| decide(&policy, &nurse, "record", "GET", "/Observation", q, None);
    assert!(ok(&[("_include", "Observation:patient")]).allowed);
    assert!(ok(&[("subject:Patient.name", "smith")]).allowed);
    for (name, value) in [
        ("_include", "Observation:performer"),
        ("_include", "Observation:subject"),
        ("_include", "*"),
        ("_include", "Observation:based-on:ServiceRequest"),
        ("_revinclude", "Provenance:target"),
        ("_has:Condition:subject:code", "x"),
        ("_has:Observation:patient:_has:AuditEvent:entity:agent", "x"),
        ("performer:Practitioner.name", "house"),
        ("encounter.status", "finished"),
    ] {
        let d = ok(&[(name, value)]);
        assert!(!d.allowed, "{name}={value} should be refused");
        assert_eq!(d.rule, Rule::SearchParameter, "{name}: {}", d.reason);
    }
    assert!(ok(&[("_has:Observation:patient:code", "x")]).allowed);
    // A system search needs a wildcard scope, or a _type list the scopes cover.
    let d = decide(
        &policy,
        &nurse,
        "record",
        "GET",
        "/",
        &[("_type", "Patient,Observation")],
        None,
    );
    assert!(d.allowed, "{}", d.reason);
    let d = decide(
        &policy,
        &nurse,
        "record",
        "GET",
        "/",
        &[("_type", "Patient,Condition")],
        None,
    );
    assert!(!d.allowed);
}

#[test]
fn device_zones_and_mtls_narrow_access() {
    let mut policy = AccessPolicy::hospital_default();
    let doc = who("user/*.cruds", &["physician"], &["emergency", "pharmacy"]);
    assert!(
        decide(
            &policy,
            &doc,
            "emergency",
            "GET",
            "/Patient/1",
            &[],
            Some("devices")
        )
        .allowed
    );
    let d = decide(
        &policy,
        &doc,
        "pharmacy",
        "GET",
        "/Medication/1",
        &[],
        Some("devices"),
    );
    assert_eq!(d.rule, Rule::ZoneNotAllowed);
    if let Some(dep) = policy.departments.get_mut("emergency") {
        dep.require_mtls = true;
    }
    let d = decide(&policy, &doc, "emergency", "GET", "/Patient/1", &[], None);
    assert_eq!(d.rule, Rule::MtlsRequired);
    assert!(
        decide(
            &policy,
            &doc,
            "emergency",
            "GET",
            "/Patient/1",
            &[],
            Some("clinical")
        )
        .allowed
    );
}

#[test]
fn expired_training_denies_with_a_clear_reason() {
    let mut policy = AccessPolicy::hospital_default();
    if let Some(r) = policy.roles.get_mut("nurse") {
        r.training_required = true;
    }
    let mut nurse = who("user/Patient.rs", &["nurse"], &["emergency"]);
    let d = decide(&policy, &nurse, "emergency", "GET", "/Patient/1", &[], None);
    assert_eq!(d.rule, Rule::TrainingExpired);
    assert!(d.reason.contains("training"));
    nurse.training_valid_until = Some(NOW - 1);
    assert!(!decide(&policy, &nurse, "emergency", "GET", "/Patient/1", &[], None).allowed);
    nurse.training_valid_until = Some(NOW + 86_400);
    assert!(decide(&policy, &nurse, "emergency", "GET", "/Patient/1", &[], None).allowed);
}

#[test]
fn deletes_need_a_recent_second_factor() {
    let policy = AccessPolicy::hospital_default();
    let mut doc = who("user/*.cruds", &["physician"], &["emergency"]);
    assert!(
        decide(
            &policy,
            &doc,
            "emergency",
            "DELETE",
            "/Observation/1",
            &[],
            None
        )
        .allowed
    );
    doc.auth_time = NOW - 16 * 60;
    let d = decide(
        &policy,
        &doc,
        "emergency",
        "DELETE",
        "/Observation/1",
        &[],
        None,
    );
    assert_eq!(d.rule, Rule::StepUpRequired);
    assert_eq!(d.step_up_max_age, Some(15 * 60));
    assert!(
        decide(
            &policy,
            &doc,
            "emergency",
            "GET",
            "/Observation/1",
            &[],
            None
        )
        .allowed
    );
}

#[test]
fn v1_scopes_map_exactly() {
    let policy = AccessPolicy::hospital_default();
    let p = who("user/Observation.read", &["physician"], &["emergency"]);
    assert!(decide(&policy, &p, "emergency", "GET", "/Observation/1", &[], None).allowed);
    assert!(
        decide(
            &policy,
            &p,
            "emergency",
            "GET",
            "/Observation",
            &[("code", "x")],
            None
        )
        .allowed
    );
    assert!(
        !decide(
            &policy,
            &p,
            "emergency",
            "DELETE",
            "/Observation/1",
            &[],
            None
        )
        .allowed
    );
    let w = who("user/Observation.write", &["physician"], &["emergency"]);
    assert!(decide(&policy, &w, "emergency", "PUT", "/Observation/1", &[], None).allowed);
    assert!(!decide(&policy, &w, "emergency", "GET", "/Observation/1", &[], None).allowed);
}

#[test]
fn unknown_departments_and_unserved_types_are_denied() {
    let policy = AccessPolicy::hospital_default();
    let doc = who("user/*.cruds", &["physician"], &["emergency"]);
    assert_eq!(
        decide(&policy, &doc, "morgue", "GET", "/Patient/1", &[], None).rule,
        Rule::UnknownDepartment
    );
    let denied = decide(
        &policy,
        &doc,
        "emergency",
        "GET",
        "/ImagingStudy/1",
        &[],
        None,
    );
    assert_eq!(denied.rule, Rule::ResourceTypeNotServed);
    // The refusal says where the type lives.
    assert_eq!(
        denied.reason,
        "department 'emergency' does not serve ImagingStudy: it is served by /radiology/fhir"
    );
}

#[test]
fn an_allowed_request_says_what_was_allowed_where() {
    let doc = who("user/*.cruds", &["physician"], &["emergency"]);
    let read = decide(
        &AccessPolicy::hospital_default(),
        &doc,
        "emergency",
        "GET",
        "/Patient/p1",
        &[],
        None,
    );
    assert!(read.allowed, "{}", read.reason);
    assert_eq!(read.rule, Rule::Scope);
    assert_eq!(
        read.reason,
        "read on Patient allowed by scope in department 'emergency'"
    );
    let search = decide(
        &AccessPolicy::hospital_default(),
        &doc,
        "emergency",
        "GET",
        "/Observation",
        &[("code", "x")],
        None,
    );
    assert_eq!(
        search.reason,
        "search-type on Observation allowed by scope in department 'emergency'"
    );
}
