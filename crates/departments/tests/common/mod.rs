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
    let mut config = DepartmentConfig::with_defaults(name, "https://wardgate.test");
    if let Some(types) = resource_types {
        config.resource_types = types;
    }
    open_with(dir, config).await
}

/// A department with `config` on its SQLite file in `dir`.
pub async fn open_with(dir: &std::path::Path, config: DepartmentConfig) -> Department {
    let name = config.name.clone();
    let master = Arc::new(MasterKey::load_or_create(dir).expect("master key"));
    let store = StoreConfig::Sqlite {
        data_dir: dir.to_owned(),
    }
    .open(&name)
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

/// The content type of a STOW-RS request whose body [`stow_body`] wrote.
pub const STOW_TYPE: &str = "multipart/related; type=\"application/dicom\"; boundary=stow-boundary";

/// A STOW-RS body carrying `files`, one part each.
pub fn stow_body(files: &[&[u8]]) -> Vec<u8> {
    let parts: Vec<(String, &[u8])> = files
        .iter()
        .map(|f| ("application/dicom".to_owned(), *f))
        .collect();
    wardgate_departments::dicom::multipart::write("stow-boundary", &parts)
}

/// The vendored DICOM corpus (`testdata/dicom/files`): every `.dcm` file with its path below
/// that folder, sorted by path.
pub fn dicom_corpus() -> Vec<(String, Vec<u8>)> {
    let root =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/dicom/files");
    let mut files = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("corpus dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "dcm") {
                let name = path.strip_prefix(&root).unwrap().display().to_string();
                files.push((name, std::fs::read(&path).expect("file")));
            }
        }
    }
    files.sort();
    files
}
