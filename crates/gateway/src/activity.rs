//! Idle connections: bytes moved and requests in progress, watched per connection.
//!
//! hyper closes an HTTP/1.1 connection that sends no request head within the header read
//! timeout, but an HTTP/2 connection may sit open and silent for ever; this watches both
//! and closes a connection gracefully once nothing has moved for the policy's idle timeout.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::server::graceful::GracefulConnection;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::sync::CancellationToken;

/// What a connection has done lately.
#[derive(Debug, Default)]
pub struct Activity {
    /// Bumped whenever bytes move in either direction.
    moves: AtomicU64,
    /// Requests whose response head is not yet ready.
    in_progress: AtomicUsize,
}

impl Activity {
    /// A request started; it counts as in progress until the guard is dropped (when its
    /// response head is ready, or when the client gives up on it).
    pub fn begin(self: &Arc<Self>) -> InProgress {
        self.in_progress.fetch_add(1, Ordering::Relaxed);
        InProgress(Arc::clone(self))
    }
}

/// One request in progress on a connection.
pub struct InProgress(Arc<Activity>);

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.in_progress.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A stream that reports its reads and writes to an [`Activity`].
pub struct Counted<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Counted<S> {
    /// Count `inner`'s traffic into `activity`.
    pub fn new(inner: S, activity: Arc<Activity>) -> Self {
        Counted { inner, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.moves.fetch_add(1, Ordering::Relaxed);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.moves.fetch_add(1, Ordering::Relaxed);
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.moves.fetch_add(1, Ordering::Relaxed);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Drive `connection` to its end; shut it down gracefully (finish what is in flight, take
/// nothing new) when `shutdown` fires or when it has been idle for `idle`. Returns the
/// connection's own result.
pub async fn drive<C>(
    connection: C,
    shutdown: &CancellationToken,
    activity: &Activity,
    idle: Duration,
) -> Result<(), C::Error>
where
    C: GracefulConnection,
{
    let mut connection = std::pin::pin!(connection);
    let mut ticker = tokio::time::interval(idle.max(Duration::from_millis(100)));
    ticker.tick().await;
    let mut last_moves = activity.moves.load(Ordering::Relaxed);
    let mut closing = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => return result,
            () = shutdown.cancelled(), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            _ = ticker.tick(), if !closing => {
                let moves = activity.moves.load(Ordering::Relaxed);
                let idle_now = moves == last_moves && activity.in_progress.load(Ordering::Relaxed) == 0;
                last_moves = moves;
                if idle_now {
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}
