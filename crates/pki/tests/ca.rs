//! The CA and server certificate on disk: created once, private files private, renewed when
//! needed, and the inventory rules.

use std::os::unix::fs::PermissionsExt;

use wardgate_pki::{
    CA_KEY_FILE, HospitalCa, Inventory, PkiError, SERVER_KEY_FILE, ensure_server_certificate,
};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_ca_is_created_once_with_a_private_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("wardgate-data");
    let (first, created) = HospitalCa::load_or_create(&data).unwrap();
    assert!(created);
    assert_eq!(mode(&data.join(CA_KEY_FILE)), 0o600);
    assert_eq!(mode(&data), 0o700);
    let (second, created) = HospitalCa::load_or_create(&data).unwrap();
    assert!(!created);
    assert_eq!(first.certificate_der(), second.certificate_der());
    assert!(
        !format!("{second:?}").contains("PRIVATE"),
        "Debug never shows the key"
    );
}

#[test]
fn a_ca_key_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    HospitalCa::load_or_create(dir.path()).unwrap();
    let key = dir.path().join(CA_KEY_FILE);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    match HospitalCa::load(dir.path()) {
        Err(PkiError::KeyFileTooOpen { mode, .. }) => assert_eq!(mode, 0o644),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn the_server_certificate_is_issued_once_and_reissued_for_new_names_or_a_new_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, _) = HospitalCa::load_or_create(dir.path()).unwrap();
    let names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let files = ensure_server_certificate(dir.path(), &ca, &names).unwrap();
    assert!(files.issued);
    assert_eq!(mode(&dir.path().join(SERVER_KEY_FILE)), 0o600);
    assert!(
        !ensure_server_certificate(dir.path(), &ca, &names)
            .unwrap()
            .issued
    );

    let mut more = names.clone();
    more.push("gateway.hospital.example".to_owned());
    assert!(
        ensure_server_certificate(dir.path(), &ca, &more)
            .unwrap()
            .issued
    );

    let other = tempfile::tempdir().unwrap();
    let (new_ca, _) = HospitalCa::load_or_create(other.path()).unwrap();
    assert!(
        ensure_server_certificate(dir.path(), &new_ca, &more)
            .unwrap()
            .issued,
        "a certificate from another CA is replaced"
    );
}

#[test]
fn a_device_is_issued_once_until_revoked_and_names_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, _) = HospitalCa::load_or_create(dir.path()).unwrap();
    Inventory::issue_device(dir.path(), &ca, "ward-3-pc", "clinical", 365).unwrap();
    assert!(matches!(
        Inventory::issue_device(dir.path(), &ca, "ward-3-pc", "clinical", 365),
        Err(PkiError::AlreadyIssued(_))
    ));
    Inventory::revoke(dir.path(), &ca, "ward-3-pc").unwrap();
    Inventory::issue_device(dir.path(), &ca, "ward-3-pc", "clinical", 365).unwrap();
    assert_eq!(Inventory::load(dir.path()).unwrap().records().len(), 2);

    assert!(matches!(
        Inventory::issue_device(dir.path(), &ca, "../etc", "clinical", 365),
        Err(PkiError::BadDeviceName(_))
    ));
    assert!(matches!(
        Inventory::issue_device(dir.path(), &ca, "pump", "Devices", 365),
        Err(PkiError::BadZoneName(_))
    ));
    assert!(matches!(
        Inventory::issue_device(dir.path(), &ca, "pump", "devices", 0),
        Err(PkiError::BadValidity(0))
    ));
    assert!(matches!(
        Inventory::revoke(dir.path(), &ca, "nobody"),
        Err(PkiError::UnknownDevice(_))
    ));
}
