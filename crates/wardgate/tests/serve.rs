//! `wardgate serve` as an operator runs it: a child process on a fresh temp data folder.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

mod common;

use common::{address_after, lines, wait_for_line};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::TokioIo;

/// The child and its output lines as they come.
struct Served {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    public: SocketAddr,
    admin: SocketAddr,
}

fn start(dir: &Path) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wardgate"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
            "--drain-timeout",
            "5",
        ])
        .arg("--config")
        .arg(dir.join("wardgate.toml"))
        .arg("--data")
        .arg(dir.join("data"))
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = lines(child.stdout.take().unwrap());
    let stderr = lines(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    let listening = wait_for_line(&stdout, "wardgate is listening on https://", &mut seen);
    let admin = wait_for_line(&stdout, "admin endpoints: http://", &mut seen);
    Served {
        child,
        stdout,
        stderr,
        public: address_after(&listening, "https://"),
        admin: address_after(&admin, "http://"),
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

async fn get(addr: SocketAddr, ca: &Path, path: &str) -> (u16, String) {
    send(addr, ca, "GET", path, &[], "").await
}

/// One request over TLS (trusting `ca`): method, path, extra headers, a body.
async fn send(
    addr: SocketAddr,
    ca: &Path,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut sender = common::tls_connection(addr, ca).await;
    let mut request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Log a demo account in as its user would: password, then the TOTP code of its enrolment
/// (read here from the identity store the server uses, as an authenticator app would show it).
async fn demo_login(served: &Served, data: &Path, ca: &Path, name: &str, password: &str) -> String {
    let form = "application/x-www-form-urlencoded";
    let body = format!("username={name}&password={}", password.replace(' ', "+"));
    let (status, step) = send(
        served.public,
        ca,
        "POST",
        "/auth/login",
        &[("content-type", form)],
        &body,
    )
    .await;
    assert_eq!(status, 200, "{step}");
    let step: serde_json::Value = serde_json::from_str(&step).unwrap();
    let ticket = step["mfa_ticket"].as_str().unwrap();
    let origin = format!("https://{}", served.public);
    let identity = wardgate_identity::Identity::open(wardgate_identity::IdentityConfig::embedded(
        data.to_owned(),
        origin,
    ))
    .await
    .unwrap();
    let code = identity
        .current_totp_code(name, identity.now())
        .await
        .unwrap()
        .unwrap();
    let body = format!("mfa_ticket={ticket}&code={code}");
    let (status, tokens) = send(
        served.public,
        ca,
        "POST",
        "/auth/mfa",
        &[("content-type", form)],
        &body,
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let tokens: serde_json::Value = serde_json::from_str(&tokens).unwrap();
    tokens["access_token"].as_str().unwrap().to_owned()
}

async fn admin_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let request = http::Request::get(path)
        .header("host", "admin")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_a_fresh_folder_answers_reloads_and_drains() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = start(dir.path());
    let ca = dir.path().join("data").join("ca.pem");
    assert!(
        dir.path().join("wardgate.toml").exists(),
        "the default policy was not written"
    );
    assert!(ca.exists(), "the development CA was not created");

    // A built-in department answers over TLS with the development CA.
    let (status, body) = get(served.public, &ca, "/emergency/fhir/metadata").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("CapabilityStatement"), "{body}");
    let (status, body) = get(served.public, &ca, "/nowhere/fhir/Patient").await;
    assert_eq!(status, 404);
    assert!(body.contains("wardgate.route.unknown"));

    // Deny by default; the first run printed demo accounts, and one of them logs in.
    let (status, body) = get(served.public, &ca, "/emergency/fhir/Patient").await;
    assert_eq!(status, 401, "{body}");
    let mut seen = Vec::new();
    wait_for_line(&served.stdout, "created demo accounts", &mut seen);
    let line = wait_for_line(&served.stdout, "demo.physician ", &mut seen);
    let password = line.split("password ").nth(1).unwrap().trim().to_owned();
    let data = dir.path().join("data");
    let token = demo_login(&served, &data, &ca, "demo.physician", &password).await;
    let bearer = format!("Bearer {token}");
    let (status, body) = send(
        served.public,
        &ca,
        "GET",
        "/emergency/fhir/Patient?name=O%27Brien",
        &[("authorization", &bearer)],
        "",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Bundle"), "{body}");

    // The exchange record goes to stdout by default: one JSON line per exchange.
    let mut seen = Vec::new();
    let record = wait_for_line(&served.stdout, "\"/nowhere/fhir/Patient\"", &mut seen);
    let record: serde_json::Value = serde_json::from_str(&record).unwrap();
    assert_eq!(record["status"], 404);
    assert_eq!(record["code"], "wardgate.route.unknown");

    let (status, metrics) = admin_get(served.admin, "/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("wardgate_policy_version 1"));

    // A broken policy sent with SIGHUP is refused; the gateway keeps serving.
    let policy = dir.path().join("wardgate.toml");
    let good = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(
        &policy,
        good.replace(
            "max_header_bytes = \"16 KiB\"",
            "max_header_bytes = \"sixteen\"",
        ),
    )
    .unwrap();
    signal(&served.child, "HUP");
    let mut seen = Vec::new();
    wait_for_line(&served.stderr, "new policy refused", &mut seen);
    assert_eq!(
        get(served.public, &ca, "/emergency/fhir/metadata").await.0,
        200
    );
    let (_, metrics) = admin_get(served.admin, "/metrics").await;
    // The file watcher may have refused the same file too: at least one refusal is counted.
    let failures: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("wardgate_policy_reload_failures_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    assert!(failures >= 1, "{metrics}");
    assert!(
        metrics.contains("wardgate_policy_version 1"),
        "the refused policy was applied"
    );

    // SIGTERM: drain and exit cleanly.
    signal(&served.child, "TERM");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = served.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "wardgate did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status:?}");
    assert!(
        tokio::net::TcpStream::connect(served.public).await.is_err(),
        "still accepting after stop"
    );
}
