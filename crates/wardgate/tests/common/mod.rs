//! What the tests of `wardgate serve` share: reading the child's output lines, and one TLS
//! connection to the gateway that trusts the development CA.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};

/// The lines of a child's output stream as they come.
pub fn lines(stream: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (sender, receiver) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                return;
            }
        }
    });
    receiver
}

/// The first line containing `contains`, within two minutes (a first start on a loaded
/// machine generates keys and certificates); every line read goes into `seen`.
pub fn wait_for_line(
    receiver: &Receiver<String>,
    contains: &str,
    seen: &mut Vec<String>,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if let Ok(line) = receiver.recv_timeout(Duration::from_millis(200)) {
            seen.push(line.clone());
            if line.contains(contains) {
                return line;
            }
        }
    }
    panic!("no line containing {contains:?}; seen: {seen:#?}");
}

/// The socket address written after `marker` in `line` (`... on https://127.0.0.1:1234/`).
pub fn address_after(line: &str, marker: &str) -> SocketAddr {
    let rest = &line[line.find(marker).unwrap() + marker.len()..];
    let addr: String = rest
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '/')
        .collect();
    addr.parse().unwrap_or_else(|e| panic!("{addr:?}: {e}"))
}

/// An HTTP/1.1 connection over TLS to `addr`, trusting only the CA in the PEM file `ca`.
pub async fn tls_connection(addr: SocketAddr, ca: &Path) -> SendRequest<Full<Bytes>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}
