//! Key rotation without downtime: a new data key, background re-encryption, old keys erased;
//! and re-wrapping every department key under a new master key.

mod common;

use std::sync::Arc;

use common::{json, send};
use serde_json::json;
use wardgate_departments::keys::{add_data_key, reencrypt, reload_keyring, rewrap, status};
use wardgate_departments::{Department, DepartmentConfig, MasterKey, StoreConfig};

const FHIR: (&str, &str) = ("content-type", "application/fhir+json");

#[tokio::test]
async fn rotating_the_data_key_reencrypts_while_the_department_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let master = Arc::new(MasterKey::load_or_create(dir.path()).unwrap());
    let stores = StoreConfig::Sqlite {
        data_dir: dir.path().to_owned(),
    };
    let serving = Department::open(
        DepartmentConfig::with_defaults("radiology", "https://w.test"),
        stores.open("radiology").await.unwrap(),
        master.clone(),
    )
    .await
    .unwrap();

    let mut ids = Vec::new();
    for i in 0..30 {
        let body = json!({"resourceType": "DiagnosticReport", "status": "final", "code": {"text": format!("CT {i}")}});
        ids.push(
            json(
                &send(
                    &serving,
                    "POST",
                    "/fhir/DiagnosticReport",
                    &[FHIR],
                    body.to_string(),
                )
                .await,
            )["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let file = std::fs::read(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/dicom/files/ct-small.dcm"),
    )
    .unwrap();
    let stow =
        wardgate_departments::dicom::multipart::write("b", &[("application/dicom".into(), &file)]);
    let ct = [(
        "content-type",
        "multipart/related; type=\"application/dicom\"; boundary=b",
    )];
    assert_eq!(
        send(&serving, "POST", "/dicom-web/studies", &ct, stow.clone())
            .await
            .status(),
        200
    );

    // The operator's process (`wardgate keys rotate radiology`) works on its own handle.
    let operator_store = stores.open("radiology").await.unwrap();
    let new_key = add_data_key(operator_store.as_ref(), &master, "radiology")
        .await
        .unwrap();
    assert_eq!(new_key, 2);
    // Meanwhile the department keeps writing (still with key 1 until it refreshes).
    let body = json!({"resourceType": "DiagnosticReport", "status": "final", "code": {"text": "written during rotation"}});
    let during = json(
        &send(
            &serving,
            "POST",
            "/fhir/DiagnosticReport",
            &[FHIR],
            body.to_string(),
        )
        .await,
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ring = reload_keyring(operator_store.as_ref(), &master, "radiology")
        .await
        .unwrap();
    assert_eq!(ring.active_key(), 2);
    let resealed = reencrypt(operator_store.as_ref(), &ring, 7).await.unwrap();
    assert!(resealed >= 30 + 1 + 2, "re-sealed {resealed} rows");

    let keys = status(operator_store.as_ref()).await.unwrap();
    let data: Vec<_> = keys.iter().filter(|k| k.purpose == "data").collect();
    assert_eq!(data[0].state, "retired");
    assert_eq!(data[0].rows, 0);
    assert_eq!(data[1].state, "active");
    assert!(data[1].rows >= 33);

    // The serving department reads everything, including rows sealed under the new key it
    // has not loaded yet, and keeps answering.
    for id in ids.iter().chain([&during]) {
        assert_eq!(
            send(
                &serving,
                "GET",
                &format!("/fhir/DiagnosticReport/{id}"),
                &[],
                ""
            )
            .await
            .status(),
            200,
            "{id}"
        );
    }
    let got = send(
        &serving,
        "GET",
        "/dicom-web/studies/1.3.6.1.4.1.5962.1.2.1.20040119072730.12322",
        &[],
        "",
    )
    .await;
    assert_eq!(got.status(), 200);
    assert!(got.body().windows(file.len()).any(|w| w == file.as_slice()));
    assert_eq!(
        json(
            &send(
                &serving,
                "GET",
                "/fhir/DiagnosticReport?_count=100",
                &[],
                ""
            )
            .await
        )["total"],
        31
    );
}

#[tokio::test]
async fn a_new_master_key_rewraps_and_the_old_one_no_longer_opens_anything() {
    let dir = tempfile::tempdir().unwrap();
    let old = Arc::new(MasterKey::load_or_create(dir.path()).unwrap());
    let stores = StoreConfig::Sqlite {
        data_dir: dir.path().to_owned(),
    };
    let dept = Department::open(
        DepartmentConfig::with_defaults("pharmacy", "https://w.test"),
        stores.open("pharmacy").await.unwrap(),
        old.clone(),
    )
    .await
    .unwrap();
    let body = json!({"resourceType": "Medication", "code": {"text": "metoprolol"}});
    let id = json(&send(&dept, "POST", "/fhir/Medication", &[FHIR], body.to_string()).await)["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let (new, _) = MasterKey::generate();
    let store = stores.open("pharmacy").await.unwrap();
    assert_eq!(
        rewrap(store.as_ref(), &old, &new, "pharmacy")
            .await
            .unwrap(),
        2
    );
    assert!(
        reload_keyring(store.as_ref(), &old, "pharmacy")
            .await
            .is_err()
    );
    let new = Arc::new(new);
    let reopened = Department::open(
        DepartmentConfig::with_defaults("pharmacy", "https://w.test"),
        store,
        new,
    )
    .await
    .unwrap();
    let got = json(&send(&reopened, "GET", &format!("/fhir/Medication/{id}"), &[], "").await);
    assert_eq!(got["code"]["text"], "metoprolol");
    // A department opened with the wrong master key refuses to start.
    let (wrong, _) = MasterKey::generate();
    assert!(
        Department::open(
            DepartmentConfig::with_defaults("pharmacy", "https://w.test"),
            stores.open("pharmacy").await.unwrap(),
            Arc::new(wrong)
        )
        .await
        .is_err()
    );
}
