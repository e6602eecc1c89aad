//! Every role x every department x every FHIR interaction, against the outcome the default
//! policy defines.
//!
//! The policy is the policy crate's default file (`wardgate.toml` as `wardgate serve` writes
//! it), read through [`AccessPolicy::from_policy`]. The expectations below are written by
//! hand from issue 4 (roles, their departments, their SMART scopes), in a different form from
//! the policy itself: per role and department, the resource types and letters a member may
//! use.

use wardgate_fhir::rest::classify;
use wardgate_identity::authorize::{AccessRequest, Rule, authorize};
use wardgate_identity::policy::{
    AccessPolicy, DEFAULT_DEPARTMENTS, DEFAULT_ROLES, DEFAULT_SERVICE_ROLES,
};
use wardgate_identity::scopes::ScopeSet;
use wardgate_identity::{Principal, PrincipalKind};

const NOW: i64 = 1_800_000_000;

/// Resource types exercised: every type a default department serves, plus some it does not.
const TYPES: &[&str] = &[
    "Patient",
    "Encounter",
    "Observation",
    "Condition",
    "AllergyIntolerance",
    "Procedure",
    "ImagingStudy",
    "DiagnosticReport",
    "ServiceRequest",
    "Specimen",
    "MedicationRequest",
    "MedicationDispense",
    "MedicationAdministration",
    "Medication",
    "AuditEvent",
    "Provenance",
    "Practitioner",
    "Immunization",
    "DocumentReference",
    "Consent",
    "Binary",
];

/// What each department serves, as the default policy file lists it.
const SERVED: &[(&str, &str)] = &[
    (
        "emergency",
        "Patient Encounter Observation Condition AllergyIntolerance Procedure",
    ),
    ("radiology", "ImagingStudy DiagnosticReport ServiceRequest"),
    (
        "laboratory",
        "Observation DiagnosticReport Specimen ServiceRequest",
    ),
    (
        "pharmacy",
        "MedicationRequest MedicationDispense MedicationAdministration Medication",
    ),
    (
        "record",
        "Patient Practitioner PractitionerRole Organization Encounter Condition Observation \
         AllergyIntolerance Procedure MedicationStatement Immunization DocumentReference Binary \
         Consent Composition Provenance AuditEvent",
    ),
];

/// Role x department -> "Type:letters ..." a member may use (`*:cruds`: every served type).
/// A department missing for a role is unreachable for it.
const EXPECTED: &[(&str, &str, &str)] = &[
    ("physician", "emergency", "*:cruds"),
    ("physician", "radiology", "*:cruds"),
    ("physician", "laboratory", "*:cruds"),
    ("physician", "pharmacy", "*:cruds"),
    ("physician", "record", "*:cruds"),
    ("nurse", "emergency", "Patient:rs Observation:cruds"),
    (
        "nurse",
        "record",
        "Patient:rs Observation:cruds MedicationAdministration:cru",
    ),
    (
        "radiologist",
        "radiology",
        "ImagingStudy:cruds DiagnosticReport:cruds ServiceRequest:rs",
    ),
    (
        "radiologist",
        "record",
        "ImagingStudy:cruds DiagnosticReport:cruds ServiceRequest:rs Patient:rs",
    ),
    (
        "laboratory_technician",
        "laboratory",
        "Observation:crus Specimen:cruds DiagnosticReport:crus ServiceRequest:rs",
    ),
    (
        "pharmacist",
        "pharmacy",
        "MedicationRequest:rus MedicationDispense:cruds Medication:rs",
    ),
    (
        "pharmacist",
        "record",
        "MedicationRequest:rus MedicationDispense:cruds Medication:rs Patient:rs AllergyIntolerance:rs",
    ),
    (
        "admissions_clerk",
        "emergency",
        "Patient:crus Encounter:crus",
    ),
    ("admissions_clerk", "record", "Patient:crus Encounter:crus"),
    ("auditor", "emergency", ""),
    ("auditor", "radiology", ""),
    ("auditor", "laboratory", ""),
    ("auditor", "pharmacy", ""),
    ("auditor", "record", "AuditEvent:rs Provenance:rs"),
    // security_officer and administrator: no department at all.
    // Systems (service accounts, system/ scopes):
    (
        "lab_analyser",
        "laboratory",
        "Observation:cru DiagnosticReport:cru Specimen:rs",
    ),
    (
        "interface_engine",
        "emergency",
        "Patient:crus Encounter:crus",
    ),
    ("interface_engine", "record", "Patient:crus Encounter:crus"),
];

fn reaches(role: &str, department: &str) -> bool {
    EXPECTED
        .iter()
        .any(|(r, d, _)| *r == role && *d == department)
}

fn serves(department: &str, ty: &str) -> bool {
    SERVED
        .iter()
        .find(|(d, _)| *d == department)
        .is_some_and(|(_, types)| types.split_whitespace().any(|t| t == ty))
}

fn letters(role: &str, department: &str, ty: &str) -> String {
    let Some((_, _, grants)) = EXPECTED
        .iter()
        .find(|(r, d, _)| *r == role && *d == department)
    else {
        return String::new();
    };
    for grant in grants.split(' ').filter(|g| !g.is_empty()) {
        let (t, l) = grant.split_once(':').expect("Type:letters");
        if (t == "*" || t == ty) && serves(department, ty) {
            return l.to_owned();
        }
    }
    String::new()
}

fn principal(policy: &AccessPolicy, role: &str) -> Principal {
    let roles = vec![role.to_owned()];
    let service = DEFAULT_SERVICE_ROLES.contains(&role);
    Principal {
        subject: format!("id-{role}"),
        name: format!("demo.{role}"),
        kind: if service {
            PrincipalKind::Service
        } else {
            PrincipalKind::User
        },
        issuer: "https://wardgate.test".into(),
        scopes: ScopeSet::from_policy(&policy.scopes_of(&roles)),
        roles,
        departments: DEFAULT_DEPARTMENTS
            .iter()
            .map(|d| (*d).to_owned())
            .collect(),
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

/// (method, path template, query, SMART letter) of every interaction on a type.
const TYPE_INTERACTIONS: &[(&str, &str, Option<&str>, char)] = &[
    ("GET", "/{T}/1", None, 'r'),
    ("GET", "/{T}/1/_history/2", None, 'r'),
    ("GET", "/{T}/1/_history", None, 'r'),
    ("PUT", "/{T}/1", None, 'u'),
    ("PATCH", "/{T}/1", None, 'u'),
    ("PUT", "/{T}", Some("identifier=x"), 'u'),
    ("DELETE", "/{T}/1", None, 'd'),
    ("DELETE", "/{T}", Some("identifier=x"), 'd'),
    ("POST", "/{T}", None, 'c'),
    ("GET", "/{T}", Some("_id=1"), 's'),
    ("POST", "/{T}/_search", None, 's'),
    ("GET", "/{T}/_history", None, 's'),
    ("GET", "/Patient/1/{T}", None, 's'),
];

/// The default policy file, plus the system roles it does not define yet.
fn default_policy() -> AccessPolicy {
    let file = wardgate_policy::Policy::hospital_default().expect("the default policy parses");
    AccessPolicy::from_policy(&file.policy).with_default_system_roles()
}

#[test]
fn every_role_department_and_interaction_gets_the_default_policy_outcome() {
    let policy = default_policy();
    assert_eq!(
        policy.roles.len(),
        DEFAULT_ROLES.len() + DEFAULT_SERVICE_ROLES.len()
    );
    let mut cases = 0usize;
    let mut allowed = 0usize;
    let mut mismatches = Vec::new();
    for role in DEFAULT_ROLES
        .iter()
        .chain(DEFAULT_SERVICE_ROLES.iter())
        .copied()
    {
        let who = principal(&policy, role);
        for department in DEFAULT_DEPARTMENTS {
            for ty in TYPES {
                for (method, template, query, letter) in TYPE_INTERACTIONS {
                    let path = template.replace("{T}", ty);
                    let fhir = classify(method, &path, *query).expect("a valid FHIR request");
                    let request = AccessRequest {
                        department,
                        fhir: &fhir,
                        params: &[],
                        device_zone: None,
                        now: NOW,
                    };
                    let decision = authorize(&policy, &who, &request);
                    let expected = letters(role, department, ty).contains(*letter);
                    cases += 1;
                    allowed += usize::from(decision.allowed);
                    if decision.allowed != expected {
                        mismatches.push(format!(
                            "{role} {department} {method} {path}: expected {expected}, got {} ({})",
                            decision.allowed,
                            decision.rule.code()
                        ));
                    }
                    if !decision.allowed {
                        assert!(!decision.reason.is_empty());
                    }
                }
            }
            // Interactions without a resource type.
            let reach = reaches(role, department);
            let wildcard_search = role == "physician";
            let type_free: [(&str, &str, bool); 5] = [
                ("GET", "/metadata", reach),
                ("POST", "/", reach),
                ("GET", "/", reach && wildcard_search),
                ("GET", "/_history", reach && wildcard_search),
                ("GET", "/Patient/1/*", reach && wildcard_search),
            ];
            for (method, path, expected) in type_free {
                let fhir = classify(method, path, None).expect("valid");
                let request = AccessRequest {
                    department,
                    fhir: &fhir,
                    params: &[],
                    device_zone: None,
                    now: NOW,
                };
                let decision = authorize(&policy, &who, &request);
                cases += 1;
                if decision.allowed != expected {
                    mismatches.push(format!(
                        "{role} {department} {method} {path}: expected {expected}, got {} ({})",
                        decision.allowed,
                        decision.rule.code()
                    ));
                }
                if method == "POST" && decision.allowed {
                    assert!(
                        decision.authorize_entries,
                        "a batch must ask for per-entry checks"
                    );
                    assert_eq!(decision.rule, Rule::BatchEntries);
                }
            }
            // Operations: explicit policy only.
            for (method, path, expected) in [
                (
                    "GET",
                    "/Patient/1/$everything",
                    role == "physician" && serves(department, "Patient"),
                ),
                ("POST", "/$export", false),
                ("POST", "/Patient/$export", false),
                ("POST", "/Observation/$lastn", false),
            ] {
                let fhir = classify(method, path, None).expect("valid");
                let request = AccessRequest {
                    department,
                    fhir: &fhir,
                    params: &[],
                    device_zone: None,
                    now: NOW,
                };
                let decision = authorize(&policy, &who, &request);
                cases += 1;
                if decision.allowed != expected {
                    mismatches.push(format!(
                        "{role} {department} {method} {path}: expected {expected}, got {} ({})",
                        decision.allowed,
                        decision.rule.code()
                    ));
                }
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {cases} cases differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    // Sanity: the matrix is not all-deny or all-allow.
    assert!(allowed > 100 && allowed < cases / 2, "{allowed} of {cases}");
    eprintln!("authorization matrix: {cases} cases, {allowed} typed interactions allowed");
}

#[test]
fn membership_narrows_what_the_role_reaches() {
    let policy = default_policy();
    let mut nurse = principal(&policy, "nurse");
    nurse.departments = vec!["emergency".into()];
    let fhir = classify("GET", "/Patient/1", None).unwrap();
    for (department, expected) in [("emergency", true), ("record", false), ("radiology", false)] {
        let d = authorize(
            &policy,
            &nurse,
            &AccessRequest {
                department,
                fhir: &fhir,
                params: &[],
                device_zone: None,
                now: NOW,
            },
        );
        assert_eq!(d.allowed, expected, "{department}: {}", d.reason);
        if !expected {
            assert_eq!(d.rule, Rule::Segmentation);
        }
    }
}
