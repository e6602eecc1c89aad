//! Request and response bodies as the gateway streams them: limits on the way in, counting
//! on the way out.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};

use crate::activity::InProgress;

/// Why a request body was cut off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// More bytes than the route allows.
    #[error("request body exceeds the route's limit")]
    TooLarge,
    /// Not complete within the route's body read timeout.
    #[error("request body not received in time")]
    Timeout,
    /// The client's connection failed mid-body.
    #[error("client connection failed while sending the body")]
    Client,
}

const NO_FAILURE: u8 = 0;
const TOO_LARGE: u8 = 1;
const TIMED_OUT: u8 = 2;

/// What the pipeline can still learn about a body after handing it to an upstream client:
/// how much arrived and why it stopped, if it did.
#[derive(Debug, Default)]
pub struct BodyProgress {
    received: AtomicU64,
    failure: AtomicU8,
    ended: AtomicBool,
    ended_notify: Notify,
}

impl BodyProgress {
    /// Bytes received from the client so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Wait until the body has been read to its end or cut off (a response timeout starts
    /// then: an upload of 2 GiB is not a slow upstream).
    pub async fn ended(&self) {
        loop {
            let notified = self.ended_notify.notified();
            if self.ended.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    /// Whether the body has been read to its end or cut off.
    pub fn has_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    fn end(&self) {
        self.ended.store(true, Ordering::Release);
        self.ended_notify.notify_waiters();
    }

    /// Why the body was cut off, if a limit did it.
    pub fn failure(&self) -> Option<BodyError> {
        match self.failure.load(Ordering::Relaxed) {
            TOO_LARGE => Some(BodyError::TooLarge),
            TIMED_OUT => Some(BodyError::Timeout),
            _ => None,
        }
    }
}

/// A client's request body with the route's size limit and read deadline applied while it
/// streams (a Content-Length is checked before, but chunked bodies declare nothing).
pub struct GuardedBody {
    inner: Incoming,
    limit: u64,
    deadline: Option<Pin<Box<Sleep>>>,
    progress: Arc<BodyProgress>,
}

impl GuardedBody {
    /// Guard `inner` with a size `limit` and a whole-body read `timeout` counted from now.
    pub fn new(inner: Incoming, limit: u64, timeout: Duration) -> (Self, Arc<BodyProgress>) {
        let progress = Arc::new(BodyProgress::default());
        if inner.is_end_stream() {
            progress.end();
        }
        // A body that is already complete (GET) needs no timer.
        let deadline = (!inner.is_end_stream())
            .then(|| Box::pin(tokio::time::sleep_until(Instant::now() + timeout)));
        let body = GuardedBody {
            inner,
            limit,
            deadline,
            progress: Arc::clone(&progress),
        };
        (body, progress)
    }

    fn fail(&mut self, error: BodyError) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let code = match error {
            BodyError::TooLarge => TOO_LARGE,
            BodyError::Timeout => TIMED_OUT,
            BodyError::Client => NO_FAILURE,
        };
        self.progress.failure.store(code, Ordering::Relaxed);
        self.progress.end();
        Poll::Ready(Some(Err(error)))
    }
}

impl Body for GuardedBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let received = this
                        .progress
                        .received
                        .fetch_add(data.len() as u64, Ordering::Relaxed)
                        + data.len() as u64;
                    if received > this.limit {
                        return this.fail(BodyError::TooLarge);
                    }
                }
                // A body of known length may never be polled past its last frame.
                if this.inner.is_end_stream() {
                    this.progress.end();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(_))) => this.fail(BodyError::Client),
            Poll::Ready(None) => {
                this.progress.end();
                Poll::Ready(None)
            }
            Poll::Pending => match this.deadline.as_mut().map(|d| d.as_mut().poll(cx)) {
                Some(Poll::Ready(())) => this.fail(BodyError::Timeout),
                _ => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A request body on its way to an upstream: streamed under the route's limits (binary media
/// the firewall does not read), or already buffered and inspected.
pub enum ForwardBody {
    /// Streamed as it arrives.
    Streamed(GuardedBody),
    /// Read whole (and inspected) before forwarding.
    Buffered(Option<Bytes>),
}

impl Body for ForwardBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            ForwardBody::Streamed(body) => Pin::new(body).poll_frame(cx),
            ForwardBody::Buffered(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ForwardBody::Streamed(body) => body.is_end_stream(),
            ForwardBody::Buffered(bytes) => bytes.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ForwardBody::Streamed(body) => body.size_hint(),
            ForwardBody::Buffered(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
        }
    }
}

/// A response body: one the gateway wrote itself, or an upstream's, streamed through.
pub enum ResponseBody {
    /// A complete body (refusals, built-in departments, admin answers).
    Full(Option<Bytes>),
    /// An upstream's body, streamed as it arrives (hyper's client: requests that streamed).
    Upstream(Incoming),
    /// An upstream's body read from a pooled connection as it is polled.
    Pooled(crate::h1_client::ResponseBody),
}

/// Why a response body could not be sent on (the client's connection is then closed).
pub type ResponseBodyError = Box<dyn std::error::Error + Send + Sync>;

impl ResponseBody {
    /// A complete body.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        ResponseBody::Full((!bytes.is_empty()).then_some(bytes))
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = ResponseBodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ResponseBodyError>>> {
        match self.get_mut() {
            ResponseBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            ResponseBody::Upstream(incoming) => Pin::new(incoming)
                .poll_frame(cx)
                .map_err(ResponseBodyError::from),
            ResponseBody::Pooled(body) => Pin::new(body)
                .poll_frame(cx)
                .map_err(ResponseBodyError::from),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResponseBody::Full(bytes) => bytes.is_none(),
            ResponseBody::Upstream(incoming) => incoming.is_end_stream(),
            ResponseBody::Pooled(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            ResponseBody::Upstream(incoming) => incoming.size_hint(),
            ResponseBody::Pooled(body) => body.size_hint(),
        }
    }
}

/// Something to do once a response body has been sent, or abandoned by the client.
pub trait OnBodyDone: Send + 'static {
    /// Called once, with the bytes sent and whether the body was sent to its end.
    fn done(self: Box<Self>, bytes_sent: u64, complete: bool);
}

/// A response body that counts what it sends and reports when it is finished: the exchange
/// record is written then, with the true byte count and total duration.
pub struct RecordedBody {
    inner: ResponseBody,
    sent: u64,
    complete: bool,
    on_done: Option<Box<dyn OnBodyDone>>,
    /// The connection's record that this exchange is open, released with the body.
    open: Option<InProgress>,
}

impl RecordedBody {
    /// Wrap `inner`; `on_done` runs when the body is finished or dropped.
    pub fn new(inner: ResponseBody, on_done: Box<dyn OnBodyDone>) -> Self {
        RecordedBody {
            inner,
            sent: 0,
            complete: false,
            on_done: Some(on_done),
            open: None,
        }
    }

    /// Keep `open` (the exchange counted open on its connection) until the body is dropped.
    pub(crate) fn holding(mut self, open: InProgress) -> Self {
        self.open = Some(open);
        self
    }
}

impl Body for RecordedBody {
    type Data = Bytes;
    type Error = ResponseBodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ResponseBodyError>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.sent += data.len() as u64;
                }
            }
            Poll::Ready(None) => this.complete = true,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for RecordedBody {
    fn drop(&mut self) {
        if let Some(on_done) = self.on_done.take() {
            // hyper may drop a body it knows is empty without polling it to the end.
            let complete = self.complete || self.inner.is_end_stream();
            on_done.done(self.sent, complete);
        }
    }
}
