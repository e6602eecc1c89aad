//! The authorize decision over arbitrary paths and search parameters (nested `_has`, chains,
//! `_include`): never panics, and a denial always carries a reason.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wardgate_fhir::rest::classify;
use wardgate_identity::authorize::{AccessRequest, authorize};
use wardgate_identity::policy::AccessPolicy;
use wardgate_identity::scopes::ScopeSet;
use wardgate_identity::{Principal, PrincipalKind};

fuzz_target!(|input: &str| {
    let mut lines = input.lines();
    let path = lines.next().unwrap_or_default();
    let params: Vec<(String, String)> = lines
        .take(32)
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let Ok(fhir) = classify("GET", path, None) else { return };
    let policy = AccessPolicy::hospital_default();
    let nurse = Principal {
        subject: "s".into(),
        name: "n".into(),
        kind: PrincipalKind::User,
        issuer: "i".into(),
        roles: vec!["nurse".into()],
        departments: vec!["record".into()],
        scopes: ScopeSet::parse("user/Patient.rs user/Observation.cruds patient/Observation.rs").expect("valid"),
        patient: Some("p1".into()),
        zone: None,
        auth_time: 0,
        amr: vec!["otp".into()],
        training_valid_until: None,
        break_glass: None,
        token_id: None,
        session_id: None,
        client_id: None,
    };
    let d = authorize(
        &policy,
        &nurse,
        &AccessRequest { department: "record", fhir: &fhir, params: &params, device_zone: None, now: 60 },
    );
    assert!(!d.reason.is_empty());
});
