//! Shared test set-up: real departments on real SQLite files in a temporary directory.
#![allow(dead_code)]

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use serde_json::Value;
use wardgate_departments::{Department, DepartmentConfig, MasterKey, StoreConfig};

/// A department on its own SQLite file, with the temporary data directory kept alive.
pub struct TestDepartment {
    pub dept: Department,
    pub dir: tempfile::TempDir,
}

pub async fn sqlite_department(name: &str) -> TestDepartment {
    let dir = tempfile::tempdir().expect("temp dir");
    let dept = open_in(dir.path(), name, None).await;
    TestDepartment { dept, dir }
}

pub async fn open_in(
    dir: &std::path::Path,
    name: &str,
    resource_types: Option<Vec<String>>,
) -> Department {
    let master = Arc::new(MasterKey::load_or_create(dir).expect("master key"));
    let mut config = DepartmentConfig::with_defaults(name, "https://wardgate.test");
    if let Some(types) = resource_types {
        config.resource_types = types;
    }
    let store = StoreConfig::Sqlite {
        data_dir: dir.to_owned(),
    }
    .open(name)
    .await
    .expect("store");
    Department::open(config, store, master)
        .await
        .expect("department")
}

pub async fn send(
    dept: &Department,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Response<Bytes> {
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    dept.handle(builder.body(body.into()).expect("request"))
        .await
}

pub fn json(response: &Response<Bytes>) -> Value {
    serde_json::from_slice(response.body()).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}",
            String::from_utf8_lossy(response.body())
        )
    })
}

pub fn header<'a>(response: &'a Response<Bytes>, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// A JSON value without `meta` at the top level.
pub fn without_meta(mut value: Value) -> Value {
    if let Value::Object(map) = &mut value {
        map.remove("meta");
    }
    value
}
