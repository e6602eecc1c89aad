//! Idle and slow connections: bytes moved and exchanges open, watched per connection.
//!
//! One coarse watchdog per connection, ticking a few times per timeout, instead of a timer
//! armed per request: it closes a connection once nothing has moved for the policy's idle
//! timeout (an HTTP/2 connection may otherwise sit open and silent for ever), and an HTTP/1.1
//! connection that has not delivered a request head within the header read timeout of the
//! moment it began waiting for one (slowloris: a head sent a byte at a time; or a connection
//! opened and left silent). hyper's own header timer did the latter with a timer per request
//! whose registration woke the runtime's event loop through a syscall on every request.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_util::task::AtomicWaker;
use hyper_util::server::graceful::GracefulConnection;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

/// What a connection has done lately.
#[derive(Debug, Default)]
pub struct Activity {
    /// Bumped whenever bytes move in either direction.
    moves: AtomicU64,
    /// Exchanges begun (request heads received).
    begun: AtomicU64,
    /// Exchanges open: from the request head to the end of the response body.
    in_progress: AtomicUsize,
}

impl Activity {
    /// An exchange began; it counts as open until the guard is dropped (with its response
    /// body, once sent or abandoned, or with the request when no response came).
    pub fn begin(self: &Arc<Self>) -> InProgress {
        self.begun.fetch_add(1, Ordering::Relaxed);
        self.in_progress.fetch_add(1, Ordering::Relaxed);
        InProgress(Arc::clone(self))
    }
}

/// One exchange open on a connection.
pub struct InProgress(Arc<Activity>);

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.in_progress.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A client's TLS stream that reports its reads and writes to an [`Activity`].
pub struct Counted<S> {
    inner: S,
    activity: Arc<Activity>,
    /// Whether the next read may be answered "nothing yet" from the socket's readiness alone
    /// (see `poll_read`).
    may_skip: bool,
}

impl<S> Counted<S> {
    /// Count `inner`'s traffic into `activity`.
    pub fn new(inner: S, activity: Arc<Activity>) -> Self {
        Counted {
            inner,
            activity,
            may_skip: false,
        }
    }
}

impl AsyncRead for Counted<TlsStream<TcpStream>> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        // hyper looks for more input at each wake-up of the connection's task (whether the
        // client sent another request or closed), three times per request, most often to find
        // nothing. When TLS holds no plaintext nor a close, nothing can come before new bytes
        // reach the socket: its readiness says so (and registers the task's waker, as the read
        // would) without the read going through TLS.
        if this.may_skip {
            let (socket, tls) = this.inner.get_ref();
            if tls.wants_read() && socket.poll_read_ready(cx).is_pending() {
                return Poll::Pending;
            }
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        let read = buf.filled().len() > before;
        if read {
            this.activity.moves.fetch_add(1, Ordering::Relaxed);
        }
        // A read that returned bytes with room left over may have met an error after them,
        // which the TLS stream keeps for the next read: that read goes through it.
        this.may_skip = !read || buf.remaining() == 0;
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

/// How a connection driven by [`drive`] ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The connection finished (the client closed it, or it was shut down gracefully).
    Finished,
    /// No request head arrived within the header read timeout; the connection was closed.
    HeadTimeout,
}

/// The watchdog's limits for one connection.
#[derive(Debug, Clone, Copy)]
pub struct Watch {
    /// Nothing moved and no exchange open for this long: shut down gracefully.
    pub idle: Duration,
    /// No exchange open and no request head for this long: close (HTTP/1.1 only).
    pub head: Option<Duration>,
}

impl Watch {
    /// How often the watchdog looks: a quarter of the shorter timeout (at least 50 ms), so a
    /// timeout is enforced within a quarter of its length after it expires.
    fn period(&self) -> Duration {
        let shortest = self.head.map_or(self.idle, |head| head.min(self.idle));
        (shortest / 4).max(Duration::from_millis(50))
    }
}

/// What the watchdog saw at its previous look.
struct Watchdog {
    watch: Watch,
    period: Duration,
    last_moves: u64,
    last_begun: u64,
    /// How long nothing has moved with no exchange open (`None`: something happened since
    /// the previous look).
    quiet: Option<Duration>,
    /// How long the connection has waited for a request head with no exchange open.
    waiting: Option<Duration>,
}

/// What the watchdog decides at a look.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Carry,
    Idle,
    HeadTimeout,
}

impl Watchdog {
    fn new(watch: Watch, activity: &Activity) -> Self {
        Watchdog {
            watch,
            period: watch.period(),
            last_moves: activity.moves.load(Ordering::Relaxed),
            last_begun: activity.begun.load(Ordering::Relaxed),
            quiet: None,
            waiting: None,
        }
    }

    /// A look, one period after the previous one. A state first seen counts from zero, so a
    /// timeout is never enforced early.
    fn look(&mut self, activity: &Activity) -> Verdict {
        let moves = activity.moves.load(Ordering::Relaxed);
        let begun = activity.begun.load(Ordering::Relaxed);
        let open = activity.in_progress.load(Ordering::Relaxed) > 0;
        let grow = |since: Option<Duration>, period| since.map_or(Duration::ZERO, |d| d + period);
        self.quiet = (!open && moves == self.last_moves).then(|| grow(self.quiet, self.period));
        self.waiting = (!open && begun == self.last_begun).then(|| grow(self.waiting, self.period));
        self.last_moves = moves;
        self.last_begun = begun;
        if let (Some(head), Some(waiting)) = (self.watch.head, self.waiting)
            && waiting >= head
        {
            return Verdict::HeadTimeout;
        }
        if self.quiet.is_some_and(|quiet| quiet >= self.watch.idle) {
            return Verdict::Idle;
        }
        Verdict::Carry
    }
}

/// Drive `connection` to its end under the watchdog: shut it down gracefully (finish what is
/// in flight, take nothing new) when `shutdown` fires or when it has been idle for
/// `watch.idle`; close it when it has waited `watch.head` for a request head. Returns the
/// connection's own result, or how the watchdog ended it.
pub async fn drive<C>(
    connection: C,
    shutdown: &CancellationToken,
    activity: &Activity,
    watch: Watch,
) -> Result<Ended, C::Error>
where
    C: GracefulConnection,
{
    let mut connection = std::pin::pin!(connection);
    let mut watchdog = Watchdog::new(watch, activity);
    let mut ticker = tokio::time::interval(watchdog.period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    let mut cancelled = std::pin::pin!(shutdown.cancelled());
    // The shutdown signal and the watchdog's ticks are looked at only when one of them woke
    // the task, not at each of the connection's several wake-ups per request (a `select!`
    // polled all three every time: ~1,000 instructions per request).
    let side = Arc::new(SideWake::default());
    let side_waker = Waker::from(Arc::clone(&side));
    let mut closing = false;
    std::future::poll_fn(|cx| {
        loop {
            if let Poll::Ready(result) = connection.as_mut().poll(cx) {
                return Poll::Ready(result.map(|()| Ended::Finished));
            }
            if closing || !side.take(cx.waker()) {
                return Poll::Pending;
            }
            let mut side_cx = Context::from_waker(&side_waker);
            if cancelled.as_mut().poll(&mut side_cx).is_ready() {
                closing = true;
            }
            while !closing && ticker.poll_tick(&mut side_cx).is_ready() {
                match watchdog.look(activity) {
                    Verdict::Carry => {}
                    Verdict::Idle => closing = true,
                    Verdict::HeadTimeout => return Poll::Ready(Ok(Ended::HeadTimeout)),
                }
            }
            if !closing {
                return Poll::Pending;
            }
            // Finish what is in flight, take nothing new: the connection is polled again.
            connection.as_mut().graceful_shutdown();
        }
    })
    .await
}

/// The waker of a connection's side futures (shutdown, watchdog): it notes that one of them
/// asked to be polled, and wakes the connection's task.
struct SideWake {
    woken: AtomicBool,
    task: AtomicWaker,
}

impl SideWake {
    /// Whether a side future was woken since the last look (true at first, so each is polled
    /// once and registers its waker); `task` is woken on the next side wake-up.
    fn take(&self, task: &Waker) -> bool {
        self.task.register(task);
        self.woken.swap(false, Ordering::AcqRel)
    }
}

impl Default for SideWake {
    fn default() -> Self {
        SideWake {
            woken: AtomicBool::new(true),
            task: AtomicWaker::new(),
        }
    }
}

impl std::task::Wake for SideWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch(idle: u64, head: Option<u64>) -> Watch {
        Watch {
            idle: Duration::from_secs(idle),
            head: head.map(Duration::from_secs),
        }
    }

    #[test]
    fn the_watchdog_looks_four_times_per_shortest_timeout() {
        assert_eq!(watch(60, Some(10)).period(), Duration::from_millis(2500));
        assert_eq!(watch(8, None).period(), Duration::from_secs(2));
        assert_eq!(
            Watch {
                idle: Duration::from_millis(100),
                head: None
            }
            .period(),
            Duration::from_millis(50)
        );
    }

    #[test]
    fn a_connection_waiting_for_a_head_is_closed_after_the_head_timeout_not_before() {
        let activity = Arc::new(Activity::default());
        let mut dog = Watchdog::new(watch(60, Some(8)), &activity);
        // Bytes trickle in (a slowloris head) but no head is ever complete.
        let mut verdicts = Vec::new();
        for _ in 0..6 {
            activity.moves.fetch_add(1, Ordering::Relaxed);
            verdicts.push(dog.look(&activity));
        }
        // Looks every 2 s; waiting counts from the first look: 0, 2, 4, 6, 8 s.
        assert_eq!(
            verdicts[..5],
            [
                Verdict::Carry,
                Verdict::Carry,
                Verdict::Carry,
                Verdict::Carry,
                Verdict::HeadTimeout
            ]
        );
    }

    #[test]
    fn an_open_exchange_or_a_new_head_restarts_the_head_wait() {
        let activity = Arc::new(Activity::default());
        let mut dog = Watchdog::new(watch(60, Some(4)), &activity);
        assert_eq!(dog.look(&activity), Verdict::Carry);
        assert_eq!(dog.look(&activity), Verdict::Carry);
        // A request arrives and its response streams for a long time (a large download).
        let open = activity.begin();
        for _ in 0..10 {
            activity.moves.fetch_add(1, Ordering::Relaxed);
            assert_eq!(dog.look(&activity), Verdict::Carry);
        }
        drop(open);
        // Waiting for the next head counts from zero again: looks every 1 s at 0, 1, 2, 3, 4 s.
        for _ in 0..4 {
            assert_eq!(dog.look(&activity), Verdict::Carry);
        }
        assert_eq!(dog.look(&activity), Verdict::HeadTimeout);
    }

    #[test]
    fn requests_between_looks_keep_a_keep_alive_connection_open() {
        let activity = Arc::new(Activity::default());
        let mut dog = Watchdog::new(watch(60, Some(4)), &activity);
        for _ in 0..20 {
            drop(activity.begin());
            activity.moves.fetch_add(2, Ordering::Relaxed);
            assert_eq!(dog.look(&activity), Verdict::Carry);
        }
    }

    #[test]
    fn without_a_head_timeout_a_silent_connection_is_idle_after_the_idle_timeout() {
        let activity = Arc::new(Activity::default());
        let mut dog = Watchdog::new(watch(8, None), &activity);
        let verdicts: Vec<Verdict> = (0..5).map(|_| dog.look(&activity)).collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Carry,
                Verdict::Carry,
                Verdict::Carry,
                Verdict::Carry,
                Verdict::Idle
            ]
        );
    }
}
