//! A minimal HTTP(S) GET for an external issuer's JWKS: one request per connection, a
//! timeout, a size limit, TLS verified against the Web PKI roots.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;

/// The largest JWKS accepted.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;

const TIMEOUT: Duration = Duration::from_secs(5);

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URL is not an absolute `http` or `https` URL.
    #[error("unsupported URL")]
    Url,
    /// Connecting, TLS or HTTP failed, or took too long.
    #[error("fetch failed: {0}")]
    Transport(String),
    /// The server answered with a status other than 200.
    #[error("the server answered {0}")]
    Status(u16),
    /// The body is larger than the limit.
    #[error("the response is too large")]
    TooLarge,
}

/// GET `url` and return the body.
pub async fn get(url: &str) -> Result<Bytes, FetchError> {
    tokio::time::timeout(TIMEOUT, get_inner(url))
        .await
        .map_err(|_| FetchError::Transport("timed out".to_owned()))?
}

async fn get_inner(url: &str) -> Result<Bytes, FetchError> {
    let uri: http::Uri = url.parse().map_err(|_| FetchError::Url)?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(FetchError::Url),
    };
    let host = uri.host().ok_or(FetchError::Url)?.to_owned();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    let transport = |e: &dyn std::fmt::Display| FetchError::Transport(e.to_string());
    let tcp = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|e| transport(&e))?;
    let request = http::Request::get(path)
        .header(http::header::HOST, &host)
        .header(http::header::ACCEPT, "application/json")
        .body(Empty::<Bytes>::new())
        .map_err(|e| transport(&e))?;
    if https {
        let roots =
            rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| transport(&e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let name = rustls_pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_owned())
            .map_err(|_| FetchError::Url)?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| transport(&e))?;
        send(TokioIo::new(tls), request).await
    } else {
        send(TokioIo::new(tcp), request).await
    }
}

async fn send<T>(io: T, request: http::Request<Empty<Bytes>>) -> Result<Bytes, FetchError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let transport = |e: &dyn std::fmt::Display| FetchError::Transport(e.to_string());
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| transport(&e))?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| transport(&e))?;
    let status = response.status();
    if status != http::StatusCode::OK {
        driver.abort();
        return Err(FetchError::Status(status.as_u16()));
    }
    let body = Limited::new(response.into_body(), MAX_JWKS_BYTES)
        .collect()
        .await
        .map_err(|_| FetchError::TooLarge)?
        .to_bytes();
    driver.abort();
    Ok(body)
}
