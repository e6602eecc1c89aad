//! The same department service on PostgreSQL (one schema per department), against the real
//! server named by WARDGATE_TEST_POSTGRES_URL.

mod common;

use std::sync::Arc;

use common::{json, send};
use serde_json::json;
use sqlx::Connection;
use wardgate_departments::{Department, DepartmentConfig, MasterKey, StoreConfig};

const FHIR: (&str, &str) = ("content-type", "application/fhir+json");

fn postgres_url() -> Option<String> {
    match std::env::var("WARDGATE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "SKIPPED: PostgreSQL store test; set WARDGATE_TEST_POSTGRES_URL \
                 (e.g. postgres://postgres@127.0.0.1:5432/test) to run it"
            );
            None
        }
    }
}

async fn drop_schema(url: &str, schema: &str) {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_department_runs_on_postgresql_in_its_own_schema() {
    let Some(url) = postgres_url() else { return };
    let prefix = format!("wgt_{}_", hex::encode(rand::random::<[u8; 4]>()));
    let dir = tempfile::tempdir().unwrap();
    let master = Arc::new(MasterKey::load_or_create(dir.path()).unwrap());
    let stores = StoreConfig::Postgres {
        url: url.clone(),
        schema_prefix: prefix.clone(),
    };
    let mut departments = Vec::new();
    for name in ["emergency", "radiology"] {
        let config = DepartmentConfig::with_defaults(name, "https://wardgate.test");
        let store = stores.open(name).await.unwrap();
        departments.push(
            Department::open(config, store, master.clone())
                .await
                .unwrap(),
        );
    }
    let (emergency, radiology) = (&departments[0], &departments[1]);

    let body = json!({"resourceType": "Patient", "name": [{"family": "Nguyễn", "given": ["Thi"]}], "birthDate": "1988-07-15"});
    let created = send(
        emergency,
        "POST",
        "/fhir/Patient",
        &[FHIR],
        body.to_string(),
    )
    .await;
    assert_eq!(
        created.status(),
        201,
        "{}",
        String::from_utf8_lossy(created.body())
    );
    let id = json(&created)["id"].as_str().unwrap().to_owned();
    let mut update = json(&created);
    update["gender"] = json!("female");
    let r = send(
        emergency,
        "PUT",
        &format!("/fhir/Patient/{id}"),
        &[FHIR, ("if-match", "W/\"1\"")],
        update.to_string(),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = send(
        emergency,
        "PUT",
        &format!("/fhir/Patient/{id}"),
        &[FHIR, ("if-match", "W/\"1\"")],
        update.to_string(),
    )
    .await;
    assert_eq!(r.status(), 412);
    assert_eq!(
        json(
            &send(
                emergency,
                "GET",
                "/fhir/Patient?name=nguyen&birthdate=1988",
                &[],
                ""
            )
            .await
        )["total"],
        1
    );
    assert_eq!(
        json(
            &send(
                emergency,
                "GET",
                &format!("/fhir/Patient/{id}/_history"),
                &[],
                ""
            )
            .await
        )["total"],
        2
    );

    // A failed transaction leaves nothing behind on PostgreSQL too.
    let bad = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient", "name": [{"family": "Never"}]}, "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Patient", "id": "a"}, "request": {"method": "PUT", "url": "Patient/b"}}]});
    assert_eq!(
        send(emergency, "POST", "/fhir", &[FHIR], bad.to_string())
            .await
            .status(),
        400
    );
    assert_eq!(
        json(&send(emergency, "GET", "/fhir/Patient", &[], "").await)["total"],
        1
    );

    // The other department's schema holds none of it.
    assert_eq!(
        send(radiology, "GET", &format!("/fhir/Patient/{id}"), &[], "")
            .await
            .status(),
        404
    );
    let counts = radiology.store().table_counts().await.unwrap();
    assert!(
        counts.iter().any(|(t, n)| t == "versions" && *n == 0),
        "{counts:?}"
    );

    // DICOM on PostgreSQL: stored and retrieved byte-identical.
    let file = std::fs::read(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/dicom/files/ct-small.dcm"),
    )
    .unwrap();
    let body =
        wardgate_departments::dicom::multipart::write("b", &[("application/dicom".into(), &file)]);
    let r = send(
        radiology,
        "POST",
        "/dicom-web/studies",
        &[(
            "content-type",
            "multipart/related; type=\"application/dicom\"; boundary=b",
        )],
        body,
    )
    .await;
    assert_eq!(r.status(), 200);
    let got = send(
        radiology,
        "GET",
        "/dicom-web/studies/1.3.6.1.4.1.5962.1.2.1.20040119072730.12322",
        &[],
        "",
    )
    .await;
    assert!(got.body().windows(file.len()).any(|w| w == file.as_slice()));

    for name in ["emergency", "radiology"] {
        drop_schema(&url, &format!("{prefix}{name}")).await;
    }
}
