//! The public listener: accept (connection limits, TLS, device identity) and serve HTTP/1.1
//! or HTTP/2 with the read limits, until shutdown drains the connections.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use arc_swap::ArcSwap;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use wardgate_guard::ConnectionLimiter;
use wardgate_policy::Limits;

use crate::activity::{Activity, Counted, Ended, Watch, drive};
use crate::pipeline::{self, ConnectionInfo};
use crate::server::Shared;
use wardgate_pki::DeviceIdentity;

/// Accept connections until `shutdown`, then stop accepting (new connections are refused by
/// the closed socket) and let open connections finish their exchanges for up to `drain`.
pub(crate) async fn serve_public(
    shared: Arc<Shared>,
    listener: TcpListener,
    tls: Arc<ArcSwap<ServerConfig>>,
    shutdown: CancellationToken,
    drain: Duration,
    connections: ConnectionLimiter,
) {
    let tracker = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let limits = shared.policy.current().policy.limits;
        let Some(permit) = connections.try_acquire(peer.ip(), limits.max_connections_per_address)
        else {
            shared.metrics.connection_refused("per-address-limit");
            tracing::debug!(%peer, "connection refused: per-address limit");
            continue;
        };
        let acceptor = TlsAcceptor::from(tls.load_full());
        let shared = Arc::clone(&shared);
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            shared.metrics.connections(1.0);
            serve_connection(&shared, acceptor, stream, peer, limits, &shutdown).await;
            shared.metrics.connections(-1.0);
            drop(permit);
        });
    }
    drop(listener);
    tracker.close();
    tokio::select! {
        () = tracker.wait() => tracing::info!("all connections drained"),
        () = tokio::time::sleep(drain) => tracing::warn!("drain deadline reached; closing remaining connections"),
    }
}

/// The request head size beyond which hyper itself refuses (431 with an empty body, then
/// close): twice the policy's limit, so that heads between the two get the gateway's own
/// OperationOutcome, and a head can never grow the buffer without bound.
fn hard_head_cap(limits: &Limits) -> usize {
    usize::try_from(limits.max_header_bytes.bytes().saturating_mul(2))
        .unwrap_or(usize::MAX)
        .max(8192)
}

async fn serve_connection(
    shared: &Arc<Shared>,
    acceptor: TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
    limits: Limits,
    shutdown: &CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    // A handshake is part of reading the request: the header timeout bounds it too.
    let tls = match tokio::time::timeout(limits.header_read_timeout, acceptor.accept(stream)).await
    {
        Ok(Ok(tls)) => tls,
        Ok(Err(error)) => {
            shared.metrics.connection_refused("tls-handshake");
            tracing::debug!(%peer, %error, "TLS handshake failed");
            return;
        }
        Err(_) => {
            shared.metrics.connection_refused("tls-handshake-timeout");
            return;
        }
    };
    let (_, session) = tls.get_ref();
    // The chain was verified in the handshake; a certificate from the CA that names no
    // device and zone (a server certificate, say) gives no device identity.
    let device = session
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|leaf| DeviceIdentity::from_der(leaf).ok())
        .map(Arc::new);
    let h2 = session.alpn_protocol() == Some(b"h2".as_slice());
    let info = Arc::new(ConnectionInfo::new(peer, device));
    let service_shared = Arc::clone(shared);
    let activity = Arc::new(Activity::default());
    let service_activity = Arc::clone(&activity);
    let service = service_fn(move |request| {
        let shared = Arc::clone(&service_shared);
        let info = Arc::clone(&info);
        let open = service_activity.begin();
        async move {
            let response = pipeline::run(&shared, info, request).await;
            // The exchange stays open for the watchdog until its response body is sent.
            response.map(|response| response.map(|body| body.holding(open)))
        }
    });
    let io = TokioIo::new(Lingering::new(Counted::new(tls, Arc::clone(&activity))));
    let cap = hard_head_cap(&limits);
    let result = if h2 {
        let mut builder = http2::Builder::new(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .max_concurrent_streams(limits.h2_max_concurrent_streams)
            // Rapid reset (CVE-2023-44487): streams the client opens and cancels before we
            // answer, and streams we must reset for its errors, are bounded per connection.
            .max_pending_accept_reset_streams(limits.h2_max_resets_per_second as usize)
            .max_local_error_reset_streams(limits.h2_max_resets_per_second as usize)
            .max_header_list_size(u32::try_from(cap).unwrap_or(u32::MAX));
        let watch = Watch {
            idle: limits.idle_timeout,
            head: None,
        };
        drive(
            builder.serve_connection(io, service),
            shutdown,
            &activity,
            watch,
        )
        .await
    } else {
        let mut builder = http1::Builder::new();
        builder
            // No hyper header timer: the watchdog enforces the header read timeout without
            // arming a timer per request (see `activity`).
            .header_read_timeout(None)
            .max_header_size(cap)
            .max_buf_size(cap.max(400 * 1024))
            // Head and body copied into one buffer and written once: over TLS a vectored
            // write is copied into a record anyway, and hyper's queue of buffers cost more
            // than the copy of a typical answer (~650 instructions per request).
            .writev(false)
            .keep_alive(true);
        let watch = Watch {
            idle: limits.idle_timeout,
            head: Some(limits.header_read_timeout),
        };
        drive(
            builder.serve_connection(io, service),
            shutdown,
            &activity,
            watch,
        )
        .await
    };
    match result {
        Ok(Ended::Finished) => {}
        Ok(Ended::HeadTimeout) => {
            shared.metrics.connection_refused("header-read-timeout");
            tracing::debug!(%peer, "connection closed: no request head within the header read timeout");
        }
        Err(error) => tracing::debug!(%peer, %error, "connection ended with an error"),
    }
}

/// How long a closed connection's unread input is still read (and thrown away), and how much.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: u64 = 1024 * 1024;

/// A client connection that lingers when the gateway closes it: the client's unread input
/// (the rest of a body refused with 413 before it was read) is read and discarded for a
/// moment instead of being left in the socket, where closing would answer it with a TCP
/// reset that can destroy the refusal before the client reads it (nginx's lingering close).
struct Lingering<S: AsyncRead + Unpin + Send + 'static> {
    inner: Option<S>,
}

impl<S: AsyncRead + Unpin + Send + 'static> Lingering<S> {
    fn new(inner: S) -> Self {
        Lingering { inner: Some(inner) }
    }

    fn inner(&mut self) -> std::io::Result<Pin<&mut S>> {
        self.inner
            .as_mut()
            .map(Pin::new)
            .ok_or_else(|| std::io::ErrorKind::NotConnected.into())
    }
}

impl<S: AsyncRead + Unpin + Send + 'static> Drop for Lingering<S> {
    fn drop(&mut self) {
        let Some(mut stream) = self.inner.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let mut rest = (&mut stream).take(LINGER_BYTES);
                let _ = tokio::time::timeout(
                    LINGER,
                    tokio::io::copy(&mut rest, &mut tokio::io::sink()),
                )
                .await;
            });
        }
    }
}

impl<S: AsyncRead + Unpin + Send + 'static> AsyncRead for Lingering<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut().inner() {
            Ok(inner) => inner.poll_read(cx, buf),
            Err(error) => Poll::Ready(Err(error)),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncWrite for Lingering<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut().inner() {
            Ok(inner) => inner.poll_write(cx, buf),
            Err(error) => Poll::Ready(Err(error)),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut().inner() {
            Ok(inner) => inner.poll_write_vectored(cx, bufs),
            Err(error) => Poll::Ready(Err(error)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.as_ref().is_some_and(S::is_write_vectored)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut().inner() {
            Ok(inner) => inner.poll_flush(cx),
            Err(error) => Poll::Ready(Err(error)),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut().inner() {
            Ok(inner) => inner.poll_shutdown(cx),
            Err(error) => Poll::Ready(Err(error)),
        }
    }
}
