//! Reload: a bad file keeps the old policy, a good one is swapped in atomically, and the
//! watcher notices a change on disk by itself.

use std::path::Path;
use std::time::Duration;

use wardgate_policy::{PolicyHandle, ReloadEvent, ReloadOutcome};

const GOOD_V1: &str = "version = 1\n[departments.emergency]\n";
const GOOD_V2: &str = "version = 1\n[departments.emergency]\n[departments.pharmacy]\n";
const BAD: &str = "version = 1\n[departments.emergency]\nupstream = \"gopher://x\"\n";

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_bad_file_keeps_the_old_policy_and_a_good_one_is_swapped_in() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wardgate.toml");
    write(&path, GOOD_V1);
    let handle = PolicyHandle::load(&path).unwrap();
    let first = handle.current();
    assert_eq!(first.version, 1);

    write(&path, BAD);
    let refused = handle.reload_from(&path).unwrap_err();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].line, 3);
    assert_eq!(handle.version(), 1, "the old policy stays in force");
    assert!(
        handle
            .current()
            .policy
            .route("GET", "/emergency/fhir")
            .is_some()
    );

    write(&path, GOOD_V2);
    match handle.reload_from(&path).unwrap() {
        ReloadOutcome::Swapped {
            version,
            fingerprint,
            ..
        } => {
            assert_eq!(version, 2);
            assert_ne!(fingerprint, first.fingerprint);
        }
        other => panic!("expected a swap, got {other:?}"),
    }
    let second = handle.current();
    assert!(
        second
            .policy
            .route("GET", "/pharmacy/fhir/Medication")
            .is_some()
    );
    // A snapshot taken before the reload is unchanged: in-flight requests keep their policy.
    assert!(
        first
            .policy
            .route("GET", "/pharmacy/fhir/Medication")
            .is_none()
    );

    assert_eq!(
        handle.reload_from(&path).unwrap(),
        ReloadOutcome::Unchanged { version: 2 },
        "the same bytes are not reloaded"
    );
}

#[test]
fn a_missing_file_is_refused_and_the_old_policy_stays() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wardgate.toml");
    write(&path, GOOD_V1);
    let handle = PolicyHandle::load(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let refused = handle.reload_from(&path).unwrap_err();
    assert!(
        refused[0]
            .message
            .starts_with("cannot read the policy file")
    );
    assert_eq!(handle.version(), 1);
}

#[tokio::test]
async fn the_watcher_reloads_on_change_and_reports_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wardgate.toml");
    write(&path, GOOD_V1);
    let handle = PolicyHandle::load(&path).unwrap();
    let (sender, mut events) = tokio::sync::mpsc::unbounded_channel();
    let watcher = wardgate_policy::watch_file(
        handle.clone(),
        path.clone(),
        Duration::from_millis(20),
        move |event| {
            let _ = sender.send(event);
        },
    );
    let next = async |events: &mut tokio::sync::mpsc::UnboundedReceiver<ReloadEvent>| {
        tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("the watcher reports within 10 s")
            .expect("the watcher is running")
    };
    // Give the watcher its first stamp of the file before changing it.
    tokio::time::sleep(Duration::from_millis(100)).await;

    write(&path, BAD);
    match next(&mut events).await {
        ReloadEvent::Refused { diagnostics } => assert_eq!(diagnostics[0].line, 3),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(handle.version(), 1);

    write(&path, GOOD_V2);
    match next(&mut events).await {
        ReloadEvent::Swapped { version, .. } => assert_eq!(version, 2),
        other => panic!("expected a swap, got {other:?}"),
    }
    assert!(handle.current().policy.departments.contains_key("pharmacy"));
    watcher.abort();
}
