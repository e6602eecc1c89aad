//! The admin listener: `/metrics`, `/healthz`, `/readyz`. Loopback (or a management
//! network) only, and never routed from the public listener.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use wardgate_fhir::outcome::{IssueCode, OperationOutcome};

use crate::server::Shared;

/// Serve admin requests until `shutdown`.
pub(crate) async fn serve_admin(
    shared: Arc<Shared>,
    listener: TcpListener,
    shutdown: CancellationToken,
) {
    loop {
        let (stream, _) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, Infallible>(answer(&shared, &request)) }
            });
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(10));
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn answer(shared: &Shared, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let text = |status: StatusCode, content_type: &'static str, body: String| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static(content_type),
        );
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
        response
    };
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let body = OperationOutcome::error(IssueCode::NotSupported, "Only GET is served here.")
            .with_code("wardgate.admin.method")
            .to_json_string();
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "application/fhir+json",
            body,
        );
    }
    match request.uri().path() {
        "/metrics" => text(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            shared.metrics.render(),
        ),
        "/healthz" => text(StatusCode::OK, "text/plain", "ok\n".to_owned()),
        "/readyz" => {
            if shared.draining.load(Ordering::Relaxed) {
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    "draining\n".to_owned(),
                )
            } else {
                let version = shared.policy.version();
                text(
                    StatusCode::OK,
                    "text/plain",
                    format!("ready, policy version {version}\n"),
                )
            }
        }
        _ => {
            let body =
                OperationOutcome::error(IssueCode::NotFound, "No admin endpoint at this path.")
                    .with_code("wardgate.admin.unknown")
                    .to_json_string();
            text(StatusCode::NOT_FOUND, "application/fhir+json", body)
        }
    }
}
