//! `wardgate cert` as an operator runs it: a real child process issuing, listing and revoking
//! device certificates in a real data folder.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use wardgate_pki::{CertificateFingerprint, DeviceStatus, Inventory};

fn wardgate(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wardgate"))
        .args(args)
        .current_dir(dir)
        .env_remove("WARDGATE_CONFIG")
        .env_remove("WARDGATE_DATA")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The DER bytes of a PEM certificate file.
fn der_of(path: &Path) -> Vec<u8> {
    CertificateDer::from_pem_file(path).unwrap().to_vec()
}

#[test]
fn issue_list_revoke_a_device_certificate() {
    let scratch = tempfile::tempdir().unwrap();
    std::fs::write(
        scratch.path().join("wardgate.toml"),
        wardgate_policy::DEFAULT_POLICY,
    )
    .unwrap();

    let output = wardgate(
        &[
            "cert", "device", "pump-7", "--zone", "devices", "--out", "issued", "--days", "90",
        ],
        scratch.path(),
    );
    let text = stdout(&output);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.starts_with("Created the development hospital CA: wardgate-data/ca.pem\n"),
        "{text}"
    );
    assert!(
        text.contains("Issued a certificate for device \"pump-7\" in zone \"devices\""),
        "{text}"
    );
    assert!(text.contains("curl --cert issued/pump-7.pem --key issued/pump-7-key.pem --cacert wardgate-data/ca.pem"), "{text}");
    assert!(!text.contains("PRIVATE KEY"), "the key is never printed");

    let key = scratch.path().join("issued/pump-7-key.pem");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let der = der_of(&scratch.path().join("issued/pump-7.pem"));
    let identity = wardgate_pki::DeviceIdentity::from_der(&der).unwrap();
    assert_eq!(
        (identity.name.as_str(), identity.zone.as_str()),
        ("pump-7", "devices")
    );
    assert!(
        text.contains(&format!("SHA-256 fingerprint: {}\n", identity.fingerprint)),
        "{text}"
    );
    assert_eq!(identity.fingerprint, CertificateFingerprint::of(&der));

    let listed = stdout(&wardgate(&["cert", "list"], scratch.path()));
    assert!(listed.contains("pump-7"), "{listed}");
    assert!(listed.contains(" valid "), "{listed}");
    assert!(
        listed.contains(&identity.fingerprint.to_string()),
        "{listed}"
    );

    let again = wardgate(
        &["cert", "device", "pump-7", "--zone", "devices"],
        scratch.path(),
    );
    assert_eq!(
        again.status.code(),
        Some(1),
        "a second valid certificate is refused"
    );

    let revoked = wardgate(&["cert", "revoke", "pump-7"], scratch.path());
    assert_eq!(revoked.status.code(), Some(0));
    assert!(stdout(&revoked).contains(&format!(
        "Revoked \"pump-7\" (fingerprint {})",
        identity.fingerprint
    )));
    let inventory = Inventory::load(&scratch.path().join("wardgate-data")).unwrap();
    assert_eq!(inventory.records()[0].status(), DeviceStatus::Revoked);
    assert!(scratch.path().join("wardgate-data/crl.pem").exists());
    assert!(stdout(&wardgate(&["cert", "list"], scratch.path())).contains(" revoked "));
}

#[test]
fn a_zone_the_policy_does_not_define_is_refused() {
    let scratch = tempfile::tempdir().unwrap();
    std::fs::write(
        scratch.path().join("wardgate.toml"),
        wardgate_policy::DEFAULT_POLICY,
    )
    .unwrap();
    let output = wardgate(
        &["cert", "device", "pump-7", "--zone", "icu"],
        scratch.path(),
    );
    assert_eq!(output.status.code(), Some(1));
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(
        error.contains(
            "zone \"icu\" is not defined in wardgate.toml (its zones: clinical, devices)"
        ),
        "{error}"
    );
    assert!(!scratch.path().join("pump-7-key.pem").exists());
}

#[test]
fn the_data_folder_comes_from_the_flag_or_the_environment_and_ca_explains_trust() {
    let scratch = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_wardgate"))
        .args(["cert", "ca"])
        .current_dir(scratch.path())
        .env("WARDGATE_DATA", scratch.path().join("from-env"))
        .output()
        .unwrap();
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(scratch.path().join("from-env/ca.pem").exists());
    assert!(text.contains("update-ca-certificates"), "{text}");
    assert!(text.contains("security add-trusted-cert"), "{text}");
    assert!(text.contains("certutil -addstore"), "{text}");

    let output = wardgate(&["cert", "--data", "from-flag", "ca"], scratch.path());
    assert_eq!(output.status.code(), Some(0));
    assert!(scratch.path().join("from-flag/ca.pem").exists());
}
