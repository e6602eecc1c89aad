//! The clinical request set: the FHIR corpus turned into benign requests, exactly as
//! `shared/tools/fhir_requests.py` does (every resource as a create and an update, every
//! Bundle as a batch/transaction, every hand-written request routed to a department).

use std::collections::BTreeMap;
use std::path::Path;

use super::{CorpusError, Label, Record};

/// The department a resource type lives in (design.md section 3a); the rest is `record`.
pub fn department(resource_type: &str) -> &'static str {
    match resource_type {
        "Encounter" | "Condition" | "AllergyIntolerance" | "Procedure" => "emergency",
        "ImagingStudy" => "radiology",
        "Specimen" | "DiagnosticReport" | "Observation" | "ServiceRequest" => "laboratory",
        "Medication"
        | "MedicationRequest"
        | "MedicationDispense"
        | "MedicationAdministration"
        | "MedicationStatement" => "pharmacy",
        _ => "record",
    }
}

fn fhir_headers() -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "Content-Type".to_owned(),
            "application/fhir+json".to_owned(),
        ),
        ("Accept".to_owned(), "application/fhir+json".to_owned()),
    ])
}

fn record(
    n: usize,
    method: &str,
    path_and_query: &str,
    body: String,
    headers: BTreeMap<String, String>,
    origin: &str,
) -> Record {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    Record {
        id: format!("clinical-{n:05}"),
        source: "clinical".to_owned(),
        label: Label::Benign,
        category: "benign".to_owned(),
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        placement: if body.is_empty() { "query" } else { "json" }.to_owned(),
        body,
        body_b64: None,
        encoding: String::new(),
        origin: origin.to_owned(),
    }
}

fn read(path: &Path) -> Result<String, CorpusError> {
    std::fs::read_to_string(path).map_err(|source| CorpusError::Io {
        path: path.to_owned(),
        source,
    })
}

fn sorted_files(dir: &Path, extension: &str) -> Result<Vec<std::path::PathBuf>, CorpusError> {
    let entries = std::fs::read_dir(dir).map_err(|source| CorpusError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    files.sort();
    Ok(files)
}

fn invalid(path: &Path, reason: impl Into<String>) -> CorpusError {
    CorpusError::Clinical {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// Build the clinical request set from a FHIR corpus directory (`resources/*.jsonl`,
/// `bundles/*.json`, `requests/benign-requests.jsonl`).
pub fn load(dir: &Path) -> Result<Vec<Record>, CorpusError> {
    let mut out = Vec::new();
    for file in sorted_files(&dir.join("resources"), "jsonl")? {
        let origin = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
        for line in read(&file)?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            let resource: serde_json::Value =
                serde_json::from_str(line).map_err(|e| invalid(&file, e.to_string()))?;
            let rtype = resource
                .get("resourceType")
                .and_then(|t| t.as_str())
                .unwrap_or("Basic");
            let dept = department(rtype);
            let create = format!("/{dept}/fhir/{rtype}");
            out.push(record(
                out.len(),
                "POST",
                &create,
                line.to_owned(),
                fhir_headers(),
                origin,
            ));
            if let Some(id) = resource.get("id").and_then(|i| i.as_str()) {
                let update = format!("/{dept}/fhir/{rtype}/{id}");
                out.push(record(
                    out.len(),
                    "PUT",
                    &update,
                    line.to_owned(),
                    fhir_headers(),
                    origin,
                ));
            }
        }
    }
    for file in sorted_files(&dir.join("bundles"), "json")? {
        let origin = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let bundle: serde_json::Value =
            serde_json::from_str(&read(&file)?).map_err(|e| invalid(&file, e.to_string()))?;
        let body = serde_json::to_string(&bundle).map_err(|e| invalid(&file, e.to_string()))?;
        out.push(record(
            out.len(),
            "POST",
            "/record/fhir",
            body,
            fhir_headers(),
            origin,
        ));
    }
    let requests = dir.join("requests").join("benign-requests.jsonl");
    for line in read(&requests)?.lines().filter(|l| !l.trim().is_empty()) {
        let request: serde_json::Value =
            serde_json::from_str(line).map_err(|e| invalid(&requests, e.to_string()))?;
        let field = |name: &str| request.get(name).and_then(|v| v.as_str()).unwrap_or("");
        let path = routed_path(field("path"));
        let body = match request.get("body") {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(v @ (serde_json::Value::Object(_) | serde_json::Value::Array(_))) => v.to_string(),
            _ => String::new(),
        };
        let headers = request
            .get("headers")
            .and_then(|h| h.as_object())
            .map(|h| {
                h.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        out.push(record(
            out.len(),
            field("method"),
            &path,
            body,
            headers,
            field("note"),
        ));
    }
    Ok(out)
}

/// Route a hand-written request's path to its department, as the Python tool does.
fn routed_path(path: &str) -> String {
    if let Some(rest) = path.strip_prefix("/fhir") {
        let rtype = rest
            .trim_matches('/')
            .split('/')
            .next()
            .unwrap_or("")
            .split('?')
            .next()
            .unwrap_or("");
        format!("/{}/fhir{rest}", department(rtype))
    } else if path.starts_with("/dicom-web") || path.starts_with("/wado") {
        format!("/radiology{path}")
    } else {
        path.to_owned()
    }
}

/// The headers a clinical application sends with every request (a bearer token, a browser
/// User-Agent, `Accept`, a request id): the benchmarks add them to the typical requests.
pub const CLIENT_HEADERS: [(&str, &str); 4] = [
    (
        "Authorization",
        "Bearer eyJhbGciOiJFUzI1NiIsImtpZCI6IjIwMjYtMTEifQ.eyJpc3MiOiJodHRwczovL3dhcmRnYXRlLmV4YW1wbGUub3JnL2F1dGgiLCJzdWIiOiJkci5vYnJpZW4iLCJzY29wZSI6InVzZXIvKi5ycyJ9.c2lnbmF0dXJlLW9mLWFuLWVzMjU2LXRva2Vu",
    ),
    (
        "User-Agent",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    ),
    ("Accept", "application/fhir+json"),
    ("X-Request-Id", "6f1c2b9e-3d4a-4f8e-9b7a-2c5d8e1f0a34"),
];

/// Four typical clinical requests taken from the set, with [`CLIENT_HEADERS`]: a read, a
/// search, an Observation create and a form-encoded search; `None` when the set lacks one.
pub fn typical(records: &[Record]) -> Option<Vec<(&'static str, Record)>> {
    let pick = |method: &str, path: &str, query: &str| {
        let mut record = records
            .iter()
            .find(|r| r.method == method && r.path == path && r.query.starts_with(query))?
            .clone();
        for (name, value) in CLIENT_HEADERS {
            record.headers.insert(name.to_owned(), value.to_owned());
        }
        Some(record)
    };
    Some(vec![
        ("read", pick("GET", "/record/fhir/Binary/edge-bin-v2", "")?),
        (
            "search",
            pick("GET", "/laboratory/fhir/Observation", "patient=")?,
        ),
        (
            "create-observation",
            pick("POST", "/laboratory/fhir/Observation", "")?,
        ),
        (
            "form-search",
            pick("POST", "/record/fhir/Patient/_search", "")?,
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_routed_like_the_python_tool() {
        assert_eq!(
            routed_path("/fhir/Observation?code=x"),
            "/laboratory/fhir/Observation?code=x"
        );
        assert_eq!(routed_path("/fhir/metadata"), "/record/fhir/metadata");
        assert_eq!(routed_path("/fhir"), "/record/fhir");
        assert_eq!(
            routed_path("/wado?requestType=WADO"),
            "/radiology/wado?requestType=WADO"
        );
        assert_eq!(routed_path("/dicomweb/studies"), "/dicomweb/studies");
        assert_eq!(routed_path("/auth/token"), "/auth/token");
    }
}
