//! `wardgate user ...` and `wardgate service ...` as an operator runs them: the real binary on
//! a data directory of its own.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn wardgate(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wardgate"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("WARDGATE_IDENTITY_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run wardgate");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("wait")
}

fn ok(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn an_operator_manages_staff_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let qr = d.join("enrol.png");
    let out = ok(&wardgate(
        d,
        &[
            "user",
            "add",
            "dr.house",
            "--role",
            "physician",
            "--department",
            "emergency",
            "--qr",
            qr.to_str().unwrap(),
        ],
        None,
    ));
    assert!(out.contains("initial password: "), "{out}");
    assert!(out.contains("otpauth://totp/wardgate:dr.house?"), "{out}");
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("  ") && l.len() == 21)
            .count(),
        10,
        "{out}"
    );
    assert_eq!(&std::fs::read(&qr).unwrap()[..4], b"\x89PNG");

    let out = ok(&wardgate(
        d,
        &[
            "user",
            "add",
            "nurse.joy",
            "--role",
            "nurse",
            "--department",
            "emergency",
            "--password-stdin",
        ],
        Some("a long ward round password\n"),
    ));
    assert!(
        !out.contains("initial password"),
        "a given password is not echoed"
    );

    let weak = wardgate(
        d,
        &["user", "add", "weak", "--role", "nurse", "--password-stdin"],
        Some("password123\n"),
    );
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("at least 12"));
    let bad_role = wardgate(d, &["user", "add", "x", "--role", "surgeon"], None);
    assert!(
        String::from_utf8_lossy(&bad_role.stderr).contains("role 'surgeon' is not in the policy")
    );

    ok(&wardgate(
        d,
        &["user", "role", "nurse.joy", "--add", "admissions_clerk"],
        None,
    ));
    ok(&wardgate(
        d,
        &["user", "training", "nurse.joy", "--until", "2001-01-31"],
        None,
    ));
    ok(&wardgate(d, &["user", "disable", "dr.house"], None));
    let list = ok(&wardgate(d, &["user", "list"], None));
    let house = list.lines().find(|l| l.starts_with("dr.house")).unwrap();
    assert!(house.contains("disabled"), "{list}");
    let joy = list.lines().find(|l| l.starts_with("nurse.joy")).unwrap();
    assert!(
        joy.contains("nurse,admissions_clerk") && joy.contains("training-expired"),
        "{list}"
    );

    let reset = ok(&wardgate(d, &["user", "reset-mfa", "nurse.joy"], None));
    assert!(reset.contains("otpauth://totp/wardgate:nurse.joy?"));
    ok(&wardgate(d, &["user", "unlock", "nurse.joy"], None));
    let missing = wardgate(d, &["user", "unlock", "nobody"], None);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no account named 'nobody'"));

    // The disable and the MFA reset are security events in the data directory.
    let events = std::fs::read_to_string(d.join("security-events.jsonl")).unwrap();
    assert!(events.contains("identity.account-disabled") && events.contains("identity.mfa-reset"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join("identity.sqlite"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the store is owner-only");
    }
}

#[test]
fn an_operator_adds_service_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fp = "ab".repeat(32);
    let out = ok(&wardgate(
        d,
        &[
            "service",
            "add",
            "hl7-engine",
            "--cert-fingerprint",
            &fp,
            "--role",
            "interface_engine",
            "--department",
            "emergency",
        ],
        None,
    ));
    assert!(out.contains("created service hl7-engine"));
    let jwks = d.join("lab.jwks.json");
    std::fs::write(
        &jwks,
        r#"{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"k1"}]}"#,
    )
    .unwrap();
    let bad = wardgate(
        d,
        &[
            "service",
            "add",
            "lab-1",
            "--jwks-file",
            jwks.to_str().unwrap(),
            "--role",
            "lab_analyser",
        ],
        None,
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("JWKS is not valid"));
    let list = ok(&wardgate(d, &["user", "list"], None));
    assert!(
        list.lines()
            .any(|l| l.starts_with("hl7-engine") && l.contains("service")),
        "{list}"
    );
}
