//! Resolving a request to its department and settings: route > department > global, deny by
//! default.

use std::path::Path;
use std::time::Duration;

use wardgate_policy::{ByteSize, DeviceRefusal, Policy, UpstreamTarget, WafMode};

const POLICY: &str = r#"version = 1
[limits]
max_body_bytes = "10 MiB"
body_read_timeout = "30s"
[rate_limit]
rate_per_second = 50
burst = 100
[waf]
mode = "block"
paranoia = 2

[zones.clinical]
[zones.devices]
require_mtls = true

[departments.emergency]
zones = ["clinical", "devices"]
[departments.emergency.limits]
max_body_bytes = "20 MiB"
[departments.emergency.rate_limit]
rate_per_second = 100

[departments.radiology]
upstream = "http://127.0.0.1:8042/dicom-web"
zones = ["clinical"]
waf = { mode = "detect" }
[[departments.radiology.routes]]
path = "/radiology/dicom-web/studies"
methods = ["POST"]
limits = { max_body_bytes = "2 GiB", body_read_timeout = "10m" }
waf = { paranoia = 1 }
[[departments.radiology.routes]]
path = "/radiology/dicom-web"
rate_limit = { burst = 10 }

[departments.laboratory]
zones = ["devices"]
require_mtls = true
[[departments.laboratory.routes]]
path = "/laboratory/fhir/metadata"
require_mtls = false
"#;

fn policy() -> Policy {
    Policy::parse(POLICY, Path::new("wardgate.toml"))
        .unwrap_or_else(|d| panic!("{d:#?}"))
        .policy
}

/// method, path, department, max body, body timeout (s), rate, burst, WAF mode, paranoia, mTLS.
type Row = (
    &'static str,
    &'static str,
    &'static str,
    ByteSize,
    u64,
    f64,
    u32,
    WafMode,
    u8,
    bool,
);

#[test]
fn resolution_table() {
    let policy = policy();
    let table: &[Row] = &[
        // Global settings under the department's overrides.
        (
            "GET",
            "/emergency/fhir/Patient/1",
            "emergency",
            ByteSize::mib(20),
            30,
            100.0,
            100,
            WafMode::Block,
            2,
            false,
        ),
        (
            "POST",
            "/emergency/fhir/Bundle?_format=json",
            "emergency",
            ByteSize::mib(20),
            30,
            100.0,
            100,
            WafMode::Block,
            2,
            false,
        ),
        // The most specific route wins when its method matches...
        (
            "POST",
            "/radiology/dicom-web/studies",
            "radiology",
            ByteSize::gib(2),
            600,
            50.0,
            100,
            WafMode::Detect,
            1,
            false,
        ),
        (
            "POST",
            "/radiology/dicom-web/studies/1.2.3",
            "radiology",
            ByteSize::gib(2),
            600,
            50.0,
            100,
            WafMode::Detect,
            1,
            false,
        ),
        // ...and the next route applies when it does not.
        (
            "GET",
            "/radiology/dicom-web/studies",
            "radiology",
            ByteSize::mib(10),
            30,
            50.0,
            10,
            WafMode::Detect,
            2,
            false,
        ),
        // Route prefixes match whole segments only.
        (
            "POST",
            "/radiology/dicom-web/studiesX",
            "radiology",
            ByteSize::mib(10),
            30,
            50.0,
            10,
            WafMode::Detect,
            2,
            false,
        ),
        // No route: the department's settings.
        (
            "GET",
            "/radiology/fhir/ImagingStudy",
            "radiology",
            ByteSize::mib(10),
            30,
            50.0,
            100,
            WafMode::Detect,
            2,
            false,
        ),
        // A route may lift the department's mTLS requirement (capability statement).
        (
            "GET",
            "/laboratory/fhir/metadata",
            "laboratory",
            ByteSize::mib(10),
            30,
            50.0,
            100,
            WafMode::Block,
            2,
            false,
        ),
        (
            "GET",
            "/laboratory/fhir/Observation",
            "laboratory",
            ByteSize::mib(10),
            30,
            50.0,
            100,
            WafMode::Block,
            2,
            true,
        ),
    ];
    for &(method, path, department, body, timeout, rate, burst, mode, paranoia, mtls) in table {
        let resolved = policy
            .route(method, path)
            .unwrap_or_else(|| panic!("{method} {path} did not resolve"));
        let s = resolved.settings;
        assert_eq!(resolved.department_name(), department, "{method} {path}");
        assert_eq!(s.limits.max_body_bytes, body, "{method} {path}");
        assert_eq!(
            s.limits.body_read_timeout,
            Duration::from_secs(timeout),
            "{method} {path}"
        );
        assert_eq!(s.rate_limit.rate_per_second, rate, "{method} {path}");
        assert_eq!(s.rate_limit.burst, burst, "{method} {path}");
        assert_eq!(s.waf.mode, mode, "{method} {path}");
        assert_eq!(s.waf.paranoia, paranoia, "{method} {path}");
        assert_eq!(s.require_mtls, mtls, "{method} {path}");
    }
}

#[test]
fn unknown_and_abnormal_paths_are_denied() {
    let policy = policy();
    for path in [
        "/",
        "/pharmacy/fhir/Medication",
        "/emergency",
        "/emergencyx/fhir",
        "/Emergency/fhir/Patient",
        "/emergency/../radiology/dicom-web/studies",
        "/emergency/%2e%2e/radiology/",
        "/emergency//fhir",
        "emergency/fhir",
        "",
    ] {
        assert!(policy.route("GET", path).is_none(), "{path} must be denied");
    }
}

#[test]
fn upstream_and_route_are_reported() {
    let policy = policy();
    let resolved = policy
        .route("POST", "/radiology/dicom-web/studies")
        .unwrap();
    assert_eq!(
        resolved.route.map(|r| r.path.as_str()),
        Some("/radiology/dicom-web/studies")
    );
    match resolved.upstream() {
        UpstreamTarget::Url(uri) => assert_eq!(uri.to_string(), "http://127.0.0.1:8042/dicom-web"),
        UpstreamTarget::Builtin => panic!("radiology has an upstream URL"),
    }
    let resolved = policy.route("GET", "/emergency/fhir/metadata").unwrap();
    assert!(resolved.route.is_none());
    assert_eq!(resolved.upstream(), &UpstreamTarget::Builtin);
}

#[test]
fn device_zones_and_mtls_requirements() {
    let policy = policy();
    let emergency = policy.route("GET", "/emergency/fhir/Patient").unwrap();
    assert_eq!(emergency.admit_device(None), Ok(()));
    assert_eq!(emergency.admit_device(Some("devices")), Ok(()));
    let radiology = policy.route("GET", "/radiology/fhir/ImagingStudy").unwrap();
    assert_eq!(
        radiology.admit_device(Some("devices")),
        Err(DeviceRefusal::ZoneNotAllowed)
    );
    let lab = policy.route("GET", "/laboratory/fhir/Observation").unwrap();
    assert_eq!(
        lab.admit_device(None),
        Err(DeviceRefusal::CertificateRequired)
    );
    assert_eq!(lab.admit_device(Some("devices")), Ok(()));
    assert_eq!(
        lab.admit_device(Some("clinical")),
        Err(DeviceRefusal::ZoneNotAllowed)
    );
    let metadata = policy.route("GET", "/laboratory/fhir/metadata").unwrap();
    assert_eq!(metadata.admit_device(None), Ok(()));
}

#[test]
fn the_default_policy_routes_every_department() {
    let policy = Policy::hospital_default().unwrap().policy;
    for department in ["emergency", "radiology", "laboratory", "pharmacy", "record"] {
        let path = format!("/{department}/fhir/metadata");
        assert_eq!(
            policy.route("GET", &path).unwrap().department_name(),
            department
        );
    }
    let stow = policy
        .route("POST", "/radiology/dicom-web/studies")
        .unwrap();
    assert_eq!(stow.settings.limits.max_body_bytes, ByteSize::gib(2));
    assert!(
        policy.route("GET", "/auth/token").is_none(),
        "/auth is not a department"
    );
}
