//! The default policy that `wardgate serve` writes: it validates, and it says what a hospital
//! expects.

use std::time::Duration;

use wardgate_policy::{
    ByteSize, MfaRequirement, Policy, TlsVersion, UpstreamTarget, WafMode, write_default_policy,
};

fn default_policy() -> Policy {
    match Policy::hospital_default() {
        Ok(validated) => {
            assert!(
                validated.warnings.is_empty(),
                "the default policy has warnings: {:#?}",
                validated.warnings
            );
            validated.policy
        }
        Err(diagnostics) => {
            let rendered: Vec<String> = diagnostics.iter().map(|d| d.render()).collect();
            panic!(
                "the default policy does not validate:\n{}",
                rendered.join("\n")
            );
        }
    }
}

#[test]
fn default_policy_validates_with_five_departments_and_nine_roles() {
    let policy = default_policy();
    let departments: Vec<&str> = policy.departments.keys().map(String::as_str).collect();
    assert_eq!(
        departments,
        ["emergency", "laboratory", "pharmacy", "radiology", "record"]
    );
    let roles: Vec<&str> = policy.roles.keys().map(String::as_str).collect();
    assert_eq!(
        roles,
        [
            "administrator",
            "admissions_clerk",
            "auditor",
            "laboratory_technician",
            "nurse",
            "pharmacist",
            "physician",
            "radiologist",
            "security_officer"
        ]
    );
    assert!(
        policy
            .roles
            .values()
            .all(|r| r.mfa == MfaRequirement::Required)
    );
    assert!(
        policy
            .departments
            .values()
            .all(|d| d.upstream == UpstreamTarget::Builtin)
    );
}

#[test]
fn default_policy_has_the_documented_global_settings() {
    let policy = default_policy();
    assert_eq!(policy.listen.public.to_string(), "127.0.0.1:8443");
    assert_eq!(policy.listen.admin.to_string(), "127.0.0.1:9443");
    assert_eq!(policy.tls.min_version, TlsVersion::Tls12);
    assert_eq!(policy.tls.certificate, None);
    assert_eq!(policy.limits.max_header_bytes, ByteSize(16 * 1024));
    assert_eq!(policy.limits.header_read_timeout, Duration::from_secs(10));
    assert_eq!(policy.rate_limit.burst, 100);
    assert_eq!(policy.waf.mode, WafMode::Block);
    assert_eq!(policy.break_glass.duration, Duration::from_secs(30 * 60));
}

#[test]
fn default_resource_types_follow_issue_5() {
    let policy = default_policy();
    let types = |d: &str| {
        policy.departments[d]
            .resource_types
            .clone()
            .unwrap_or_default()
    };
    assert_eq!(
        types("emergency"),
        [
            "Patient",
            "Encounter",
            "Observation",
            "Condition",
            "AllergyIntolerance",
            "Procedure"
        ]
    );
    assert_eq!(
        types("radiology"),
        ["ImagingStudy", "DiagnosticReport", "ServiceRequest"]
    );
    assert!(types("laboratory").contains(&"Specimen".to_owned()));
    assert!(types("pharmacy").contains(&"MedicationDispense".to_owned()));
    for t in ["Patient", "DocumentReference", "Consent"] {
        assert!(types("record").contains(&t.to_owned()), "{t}");
    }
    // Every FHIR R4 type has a home: the record keeps what no other department lists.
    for t in wardgate_fhir::RESOURCE_TYPES {
        assert!(
            policy.departments.values().any(|d| d
                .resource_types
                .as_ref()
                .unwrap()
                .iter()
                .any(|s| s == t)),
            "{t} has no department"
        );
    }
    assert!(types("record").contains(&"Claim".to_owned()));
    assert!(!types("record").contains(&"Specimen".to_owned()));
}

#[test]
fn first_run_writes_the_default_file_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wardgate.toml");
    assert!(write_default_policy(&path).unwrap());
    std::fs::write(&path, "version = 1\n# edited by the operator\n").unwrap();
    assert!(
        !write_default_policy(&path).unwrap(),
        "an existing policy is kept"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "version = 1\n# edited by the operator\n"
    );
}
