//! What the gateway tests share: a test CA, upstream servers, a gateway on free ports, and
//! clients that speak TLS (with or without a device certificate) to it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use wardgate_gateway::{
    DepartmentResponse, DepartmentService, ExchangeLog, Gateway, GatewayOptions, RunningGateway,
    TlsMaterial,
};
use wardgate_guard::{MemoryRateLimitStore, RateLimitStore};
use wardgate_identity::events::JsonLinesSink;
use wardgate_identity::password::HashCost;
use wardgate_identity::store::StoreLocation;
use wardgate_identity::{Identity, IdentityConfig, NewUser};
use wardgate_pki::{HospitalCa, Inventory, RevocationList};
use wardgate_policy::{AuditSink, PolicyHandle, TlsVersion};

/// The password of every test account.
pub const TEST_PASSWORD: &str = "correct horse battery staple";

/// A real identity service on SQLite in `dir`, with cheap Argon2 parameters (the OWASP cost
/// is measured in identity's benchmark) and its security events in `dir` only.
pub async fn open_identity(dir: &std::path::Path, origin: &str) -> Identity {
    let store = StoreLocation::Sqlite(dir.join("identity.sqlite"));
    let mut config = IdentityConfig::new(store, dir.to_path_buf(), origin);
    config.hash_cost = HashCost {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    };
    config.events = Some(Arc::new(JsonLinesSink::open(dir, false).unwrap()));
    Identity::open(config).await.unwrap()
}

/// A hospital CA for one test (the pki crate's, in its own temp folder), with the gateway's
/// server certificate.
pub struct TestPki {
    pub dir: tempfile::TempDir,
    pub ca: HospitalCa,
    pub ca_der: CertificateDer<'static>,
    pub server_chain: Vec<CertificateDer<'static>>,
    pub server_key: PrivateKeyDer<'static>,
}

impl TestPki {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = HospitalCa::create(dir.path()).unwrap();
        let names = ["localhost".to_owned(), "127.0.0.1".to_owned()];
        let server = ca.issue_server(&names, 30).unwrap();
        TestPki {
            ca_der: ca.certificate_der().clone(),
            server_chain: vec![CertificateDer::from(server.certificate_der.clone())],
            server_key: PrivateKeyDer::from_pem_slice(server.private_key_pem.as_bytes()).unwrap(),
            ca,
            dir,
        }
    }

    /// A device certificate for `name` in `zone`, recorded in this CA's inventory.
    pub fn device(
        &self,
        name: &str,
        zone: &str,
    ) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let issued = Inventory::issue_device(self.dir.path(), &self.ca, name, zone, 30).unwrap();
        (
            CertificateDer::from(issued.certificate_der.clone()),
            PrivateKeyDer::from_pem_slice(issued.private_key_pem.as_bytes()).unwrap(),
        )
    }

    /// Revoke every certificate of device `name`; the list the gateway should load.
    pub fn revoke(&self, name: &str) -> RevocationList {
        Inventory::revoke(self.dir.path(), &self.ca, name).unwrap();
        RevocationList::load(self.dir.path()).unwrap()
    }

    pub fn material(&self) -> TlsMaterial {
        TlsMaterial {
            certificate_chain: self.server_chain.clone(),
            private_key: self.server_key.clone_key(),
            client_cas: vec![self.ca_der.clone()],
        }
    }
}

/// A real HTTP upstream on 127.0.0.1:0. Paths (after the department prefix):
/// `/wait/MS` answers after MS milliseconds; `/stream` answers in three chunks; a `batch`
/// Bundle gets a `batch-response`; anything else echoes what it received as JSON.
pub struct Upstream {
    pub addr: SocketAddr,
    pub requests: Arc<AtomicUsize>,
}

impl Upstream {
    pub async fn start() -> Self {
        Self::serve(None).await
    }

    /// The same upstream over TLS, with a certificate from `pki`.
    pub async fn start_tls(pki: &TestPki) -> Self {
        let material = pki.material();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(material.certificate_chain, material.private_key)
        .unwrap();
        Self::serve(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)))).await
    }

    async fn serve(tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&requests);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let counter = Arc::clone(&counter);
                let tls = tls.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        counter.fetch_add(1, Ordering::SeqCst);
                        upstream_answer(request)
                    });
                    let builder = hyper::server::conn::http1::Builder::new();
                    match tls {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                let _ = builder
                                    .serve_connection(TokioIo::new(stream), service)
                                    .await;
                            }
                        }
                        None => {
                            let _ = builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                    }
                });
            }
        });
        Upstream { addr, requests }
    }

    pub fn seen(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

async fn upstream_answer(
    request: Request<Incoming>,
) -> Result<Response<BoxBody<Bytes, Infallible>>, Infallible> {
    // The emergency department's upstream URL has a base path; the behaviours ignore it.
    let path = request.uri().path();
    let path = path.strip_prefix("/base").unwrap_or(path).to_owned();
    if let Some(ms) = path
        .strip_prefix("/wait/")
        .and_then(|ms| ms.parse::<u64>().ok())
    {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        return Ok(Response::new(Full::new(Bytes::from("waited")).boxed()));
    }
    if path == "/stream" {
        let chunks = futures_util::stream::iter(
            ["first,", "second,", "third"]
                .map(|c| Ok::<_, Infallible>(hyper::body::Frame::data(Bytes::from(c)))),
        );
        return Ok(Response::new(
            http_body_util::StreamBody::new(chunks).boxed(),
        ));
    }
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    if let Some(answer) = batch_response(&body) {
        let mut response = Response::new(Full::new(Bytes::from(answer.to_string())).boxed());
        response
            .headers_mut()
            .insert("content-type", "application/fhir+json".parse().unwrap());
        // What a compressing server would have compressed for (tests check it did not ask).
        if let Some(asked) = parts.headers.get("accept-encoding") {
            response
                .headers_mut()
                .insert("x-asked-encoding", asked.clone());
        }
        return Ok(response);
    }
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let echo = serde_json::json!({
        "method": parts.method.as_str(),
        "uri": parts.uri.to_string(),
        "host": header("host"),
        "forwarded": header("forwarded"),
        "x_forwarded_for": header("x-forwarded-for"),
        "x_request_id": header("x-request-id"),
        "connection": header("connection"),
        "x_hop": header("x-hop"),
        "transfer_encoding": header("transfer-encoding"),
        "body_len": body.len(),
        "body": String::from_utf8_lossy(&body),
        "authorization_present": header("authorization").is_some(),
    });
    let mut response = Response::new(Full::new(Bytes::from(echo.to_string())).boxed());
    response
        .headers_mut()
        .insert("server", "upstream/1.2.3".parse().unwrap());
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    response
        .headers_mut()
        .insert("keep-alive", "timeout=5".parse().unwrap());
    Ok(response)
}

/// A FHIR server's answer to a `batch` Bundle: one `200 OK` entry per entry, its `location`
/// the entry's request URL (so a test sees which entries arrived, in which order).
fn batch_response(body: &[u8]) -> Option<serde_json::Value> {
    let bundle: serde_json::Value = serde_json::from_slice(body).ok()?;
    if bundle["resourceType"] != "Bundle" || bundle["type"] != "batch" {
        return None;
    }
    let entries: Vec<serde_json::Value> = bundle["entry"]
        .as_array()?
        .iter()
        .map(|entry| {
            serde_json::json!({"response": {"status": "200 OK", "location": entry["request"]["url"]}})
        })
        .collect();
    Some(serde_json::json!({"resourceType": "Bundle", "type": "batch-response", "entry": entries}))
}

/// A department service built into the gateway (as the departments crate will be).
pub struct EchoDepartment;

impl DepartmentService for EchoDepartment {
    fn handle<'a>(
        &'a self,
        department: &'a str,
        request: Request<Bytes>,
    ) -> DepartmentResponse<'a> {
        Box::pin(async move {
            let text = format!(
                "{department} {} {} {}",
                request.method(),
                request.uri(),
                request.body().len()
            );
            Response::new(Bytes::from(text))
        })
    }
}

/// The test policy: departments on `upstream`, short timeouts, the exchange log in `log`.
/// `extra` goes inside `[limits]` (and may open further tables of its own).
pub fn policy_text(upstream: SocketAddr, log: &std::path::Path, extra: &str) -> String {
    let text = format!(
        r#"
version = 1
[listen]
public = "127.0.0.1:0"
admin = "127.0.0.1:9"
[limits]
max_header_bytes = "4 KiB"
max_body_bytes = "64 KiB"
header_read_timeout = "2s"
body_read_timeout = "2s"
{extra}
[rate_limit]
rate_per_second = 1000
burst = 1000
[upstream]
connect_timeout = "1s"
response_timeout = "1s"
[zones.clinical]
description = "Clinical workstations"
require_mtls = false
[zones.devices]
description = "Infusion pumps"
require_mtls = true
[departments.emergency]
prefix = "/emergency/"
upstream = "http://{upstream}/base"
zones = ["clinical", "devices"]
[[departments.emergency.routes]]
path = "/emergency/fhir/Binary"
methods = ["POST"]
limits = {{ max_body_bytes = "1 MiB" }}
[departments.pumps]
prefix = "/pumps/"
upstream = "http://{upstream}"
zones = ["devices"]
require_mtls = true
[departments.laboratory]
prefix = "/laboratory/"
upstream = "http://{upstream}"
[departments.laboratory.rate_limit]
rate_per_second = 1
burst = 3
[departments.radiology]
prefix = "/radiology/"
upstream = "builtin"
[departments.pharmacy]
prefix = "/pharmacy/"
upstream = "http://127.0.0.1:1"
[audit]
log = "{log}"
"#,
        log = log.display()
    );
    let roles = test_roles(&departments_of(&text));
    text + &roles
}

/// The departments a policy text declares (`[departments.NAME]`, with sub-tables).
pub fn departments_of(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.trim_start_matches('[');
        if let Some(rest) = line.strip_prefix("departments.") {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                .collect();
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

/// The test roles: a physician everywhere, a nurse and a radiologist with narrower scopes,
/// a caregiver app with patient-scoped reads. Delete needs a recent second factor.
fn test_roles(departments: &[String]) -> String {
    let all = departments
        .iter()
        .map(|d| format!("\"{d}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"
[roles.physician]
scopes = ["user/*.cruds"]
departments = [{all}]
break_glass = true
[roles.nurse]
scopes = ["user/Patient.rs", "user/Observation.cruds"]
departments = [{all}]
break_glass = true
[roles.radiologist]
scopes = ["user/ImagingStudy.cruds", "user/Patient.rs"]
departments = [{all}]
[roles.caregiver]
scopes = ["patient/Observation.rs", "patient/Patient.r"]
departments = [{all}]
[operations.everything]
roles = ["physician"]
permission = "r"
[operations.lookup]
roles = ["physician"]
[[step_up]]
interactions = ["delete"]
within = "15m"
"#
    )
}

/// A gateway for one test, on free ports, with its own temp dir and exchange log.
pub struct TestGateway {
    pub running: RunningGateway,
    pub identity: Identity,
    token: tokio::sync::Mutex<Option<String>>,
    pub pki: TestPki,
    pub dir: tempfile::TempDir,
    pub policy_path: PathBuf,
    pub log_path: PathBuf,
    pub upstream: Upstream,
}

impl TestGateway {
    pub async fn start() -> Self {
        Self::start_with("", Some(Arc::new(EchoDepartment))).await
    }

    pub async fn start_with(extra: &str, departments: Option<Arc<dyn DepartmentService>>) -> Self {
        Self::start_with_pki(extra, departments, TestPki::new()).await
    }

    pub async fn start_with_pki(
        extra: &str,
        departments: Option<Arc<dyn DepartmentService>>,
        pki: TestPki,
    ) -> Self {
        let store: Arc<dyn RateLimitStore> = Arc::new(MemoryRateLimitStore::default());
        Self::start_custom(extra, departments, pki, store).await
    }

    pub async fn start_custom(
        extra: &str,
        departments: Option<Arc<dyn DepartmentService>>,
        pki: TestPki,
        store: Arc<dyn RateLimitStore>,
    ) -> Self {
        let upstream = Upstream::start().await;
        let dir = tempfile::tempdir().unwrap();
        let log_path = dir.path().join("exchanges.jsonl");
        let policy_path = dir.path().join("wardgate.toml");
        std::fs::write(&policy_path, policy_text(upstream.addr, &log_path, extra)).unwrap();
        let public = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("https://localhost:{}", public.local_addr().unwrap().port());
        let identity = open_identity(dir.path(), &origin).await;
        let policy = match PolicyHandle::load(&policy_path) {
            Ok(policy) => policy,
            Err(diagnostics) => panic!("test policy invalid: {diagnostics:#?}"),
        };
        let tls = wardgate_gateway::server_config(pki.material(), TlsVersion::Tls12).unwrap();
        let sink = policy.current().policy.audit.log.clone();
        assert_eq!(sink, AuditSink::File(log_path.clone()));
        let running = Gateway::start(GatewayOptions {
            policy,
            tls,
            public,
            admin: TcpListener::bind("127.0.0.1:0").await.unwrap(),
            rate_limits: store,
            departments,
            exchange_log: ExchangeLog::open(&sink).unwrap(),
            drain_timeout: Duration::from_secs(5),
            upstream_cas: vec![pki.ca_der.clone()],
            revocations: wardgate_gateway::RevocationList::default(),
            identity: identity.clone(),
        })
        .unwrap();
        TestGateway {
            running,
            identity,
            token: tokio::sync::Mutex::new(None),
            pki,
            dir,
            policy_path,
            log_path,
            upstream,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.running.public_addr()
    }

    /// A client without a device certificate, speaking `alpn`, carrying the access token of
    /// the default test account (a physician of every department).
    pub async fn client(&self, alpn: &[u8]) -> Client {
        let token = self.token().await;
        Client::connect(self.addr(), &self.pki, alpn, None)
            .await
            .with_token(token)
    }

    /// A client with no credentials at all.
    pub async fn anonymous(&self, alpn: &[u8]) -> Client {
        Client::connect(self.addr(), &self.pki, alpn, None).await
    }

    /// The default test account's access token (logged in once per gateway).
    pub async fn token(&self) -> String {
        let mut slot = self.token.lock().await;
        if let Some(token) = slot.as_ref() {
            return token.clone();
        }
        let departments = departments_of(&std::fs::read_to_string(&self.policy_path).unwrap());
        let departments: Vec<&str> = departments.iter().map(String::as_str).collect();
        let token = self
            .login_new("test.physician", &["physician"], &departments, &[])
            .await;
        *slot = Some(token.clone());
        token
    }

    /// Create a staff account and log it in over HTTP (`/auth/login`, then `/auth/mfa` with
    /// the TOTP code its authenticator would show); its access token. `extra` are further
    /// form fields of the MFA step (`scope`, `patient`).
    pub async fn login_new(
        &self,
        name: &str,
        roles: &[&str],
        departments: &[&str],
        extra: &[(&str, &str)],
    ) -> String {
        self.identity
            .add_user(NewUser {
                name: name.to_owned(),
                roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                departments: departments.iter().map(|d| (*d).to_owned()).collect(),
                password: Some(zeroize::Zeroizing::new(TEST_PASSWORD.to_owned())),
                sealed: false,
            })
            .await
            .unwrap();
        let tokens = self.login(name, extra).await;
        tokens["access_token"].as_str().unwrap().to_owned()
    }

    /// Log an existing account in over HTTP; the token response.
    pub async fn login(&self, name: &str, extra: &[(&str, &str)]) -> serde_json::Value {
        let mut client = self.anonymous(b"http/1.1").await;
        let step = client
            .post_form(
                "/auth/login",
                &[("username", name), ("password", TEST_PASSWORD)],
            )
            .await;
        assert_eq!(
            step.status,
            200,
            "{:?}",
            String::from_utf8_lossy(&step.body)
        );
        let ticket = step.json()["mfa_ticket"].as_str().unwrap().to_owned();
        let code = self.totp_code(name).await;
        let mut fields = vec![("mfa_ticket", ticket.as_str()), ("code", code.as_str())];
        fields.extend_from_slice(extra);
        let tokens = client.post_form("/auth/mfa", &fields).await;
        assert_eq!(
            tokens.status,
            200,
            "{:?}",
            String::from_utf8_lossy(&tokens.body)
        );
        tokens.json()
    }

    /// The TOTP code the account's authenticator shows now.
    pub async fn totp_code(&self, name: &str) -> String {
        self.identity
            .current_totp_code(name, self.identity.now())
            .await
            .unwrap()
            .unwrap()
    }

    /// A TLS stream for writing raw HTTP/1.1 bytes.
    pub async fn raw(&self) -> TlsStream<TcpStream> {
        tls_connect(self.addr(), &self.pki, b"http/1.1", None)
            .await
            .unwrap()
    }

    /// Exchange records written so far (waits for the log flush).
    pub async fn records(&self, at_least: usize) -> Vec<serde_json::Value> {
        for _ in 0..50 {
            let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
            let records: Vec<serde_json::Value> = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            if records.len() >= at_least {
                return records;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "fewer than {at_least} exchange records in {}",
            self.log_path.display()
        );
    }

    pub async fn admin_get(&self, path: &str) -> (u16, String) {
        admin_get_at(self.running.admin_addr(), path).await
    }
}

/// GET on an admin listener.
pub async fn admin_get_at(addr: SocketAddr, path: &str) -> (u16, String) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let request = Request::get(path)
        .header("host", "admin")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

pub async fn tls_connect(
    addr: SocketAddr,
    pki: &TestPki,
    alpn: &[u8],
    device: Option<(CertificateDer<'static>, PrivateKeyDer<'static>)>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca_der.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match device {
        Some((cert, key)) => builder.with_client_auth_cert(vec![cert], key).unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![alpn.to_vec()];
    let connector = TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await?;
    connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
}

/// A body a test can stream chunk by chunk.
pub type TestBody = BoxBody<Bytes, std::io::Error>;

pub fn full(bytes: impl Into<Bytes>) -> TestBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// An HTTP client on one TLS connection to the gateway, with a bearer token it adds to
/// every request that has no Authorization header of its own.
pub struct Client {
    sender: Sender,
    token: Option<String>,
}

enum Sender {
    H1(hyper::client::conn::http1::SendRequest<TestBody>),
    H2(hyper::client::conn::http2::SendRequest<TestBody>),
}

/// What a test checks in an answer.
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
    pub version: http::Version,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// The stable wardgate code of an OperationOutcome answer.
    pub fn outcome_code(&self) -> String {
        let json = self.json();
        assert_eq!(json["resourceType"], "OperationOutcome");
        assert_eq!(self.headers["content-type"], "application/fhir+json");
        json["issue"][0]["details"]["coding"][0]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

impl Client {
    pub async fn connect(
        addr: SocketAddr,
        pki: &TestPki,
        alpn: &[u8],
        device: Option<(CertificateDer<'static>, PrivateKeyDer<'static>)>,
    ) -> Self {
        let tls = tls_connect(addr, pki, alpn, device).await.unwrap();
        let io = TokioIo::new(tls);
        let sender = if alpn == b"h2" {
            let (sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                .await
                .unwrap();
            tokio::spawn(conn);
            Sender::H2(sender)
        } else {
            let (sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
            tokio::spawn(conn);
            Sender::H1(sender)
        };
        Client {
            sender,
            token: None,
        }
    }

    /// The same client, sending `token` as its bearer token.
    pub fn with_token(mut self, token: String) -> Self {
        self.token = Some(token);
        self
    }

    pub async fn send(&mut self, mut request: Request<TestBody>) -> Result<Answer, hyper::Error> {
        if let Some(token) = &self.token
            && !request.headers().contains_key("authorization")
        {
            request
                .headers_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        let response = match &mut self.sender {
            Sender::H1(sender) => {
                sender.ready().await?;
                sender.send_request(request).await?
            }
            Sender::H2(sender) => {
                sender.ready().await?;
                sender.send_request(request).await?
            }
        };
        let status = response.status().as_u16();
        let version = response.version();
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Answer {
            status,
            headers: parts.headers,
            body,
            version,
        })
    }

    /// The URI form this client's protocol wants (HTTP/2 carries scheme and authority).
    pub fn uri(&self, path: &str) -> String {
        match self.sender {
            Sender::H1(_) => path.to_owned(),
            Sender::H2(_) => format!("https://localhost{path}"),
        }
    }

    /// POST a form (`application/x-www-form-urlencoded`).
    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let request = Request::post(self.uri(path))
            .header("host", "localhost")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(full(body))
            .unwrap();
        self.send(request).await.unwrap()
    }

    /// Send `method` on `path` with a body of `content_type`.
    pub async fn send_body(
        &mut self,
        method: &str,
        path: &str,
        content_type: &str,
        body: impl Into<Bytes>,
    ) -> Answer {
        let request = Request::builder()
            .method(method)
            .uri(self.uri(path))
            .header("host", "localhost")
            .header("content-type", content_type)
            .body(full(body))
            .unwrap();
        self.send(request).await.unwrap()
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        let request = Request::get(self.uri(path))
            .header("host", "localhost")
            .body(full(Bytes::new()))
            .unwrap();
        self.send(request).await.unwrap()
    }
}

/// Percent-encode a form field (everything but unreserved characters).
pub fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
