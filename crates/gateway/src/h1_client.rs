//! HTTP/1.1 towards upstreams on pooled keep-alive connections, for requests whose body the
//! gateway already holds (every inspected request; uploads that stream go through hyper's
//! client, see `pool`).
//!
//! The exchange runs in the request's own task: the head and body are written in one write,
//! the response head is read and parsed (httparse, with hyper's client limits and rules), and
//! the response body is read from the connection by whoever polls it. When the whole body
//! came with the head (the usual small FHIR answer), the connection goes back to the pool at
//! once. hyper's client instead drives each connection from a task of its own, handing
//! request, response head and every body chunk across channels between two tasks.
//!
//! What a response must be to be read (as hyper's client): a status line and at most
//! [`MAX_HEADERS`] headers within [`MAX_HEAD_BYTES`]; 1xx answers before the final one are
//! skipped; no body for HEAD, 204 and 304; `Transfer-Encoding` ending in `chunked` is
//! decoded (chunk extensions and trailers bounded), one not ending in `chunked` or neither
//! header means the body runs to the connection's end; a `Content-Length` must be digits and,
//! if repeated, the same; `Transfer-Encoding` in an HTTP/1.0 answer is refused. A
//! connection is used again only after a response read to its framed end, with nothing
//! after it, that did not ask to close (HTTP/1.0 unless it asked to be kept alive), and
//! without both `Transfer-Encoding` and `Content-Length` (an answer a smuggler would send).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Response, StatusCode, Version};
use http_body::{Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// At most this many headers in a response head (hyper's client default).
pub(crate) const MAX_HEADERS: usize = 100;
/// At most this many bytes of response head (hyper's default read buffer limit).
pub(crate) const MAX_HEAD_BYTES: usize = 8192 + 4096 * 100;
/// Chunk extensions (ignored) are bounded per body, as hyper does.
const MAX_CHUNK_EXTENSION_BYTES: u64 = 16 * 1024;
/// Trailers are bounded in size, and in number by [`MAX_HEADERS`].
const MAX_TRAILER_BYTES: usize = 16 * 1024;
/// Headers the respond phase may add to an answer (`pipeline::respond`).
const ROOM_FOR_RESPOND: usize = 8;
/// How much the read buffer grows by at first.
const READ_CHUNK: usize = 8192;
/// How much it grows by at most: reads that fill it double it up to this (large bodies,
/// DICOM studies, go in fewer reads), as hyper's adaptive read buffer does.
const MAX_READ_CHUNK: usize = 256 * 1024;
/// A buffered body up to this size is copied behind the head and written with it.
const COPY_BODY_BELOW: usize = 64 * 1024;

/// Why an exchange on a connection failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExchangeError {
    /// Reading or writing the connection failed, or it closed mid-answer.
    #[error("upstream connection: {0}")]
    Io(#[from] io::Error),
    /// The answer is not HTTP/1.x as this client reads it.
    #[error("malformed answer from the upstream: {0}")]
    Malformed(&'static str),
    /// The connection closed or failed before any byte of an answer arrived (an idle
    /// connection the upstream closed as the request went out).
    #[error("upstream connection closed before answering: {0}")]
    Unanswered(io::Error),
    /// The request's Content-Length does not match its body.
    #[error("request Content-Length does not match its body")]
    LengthMismatch,
}

/// The byte stream of an upstream connection: plain TCP or TLS.
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// An open connection to an upstream with its buffers (kept across requests).
pub(crate) struct Connection {
    stream: Stream,
    read: BytesMut,
    /// How much to make room for before the next read.
    read_chunk: usize,
    write: Vec<u8>,
}

/// Where a connection goes back to when its response has been read to the end: its
/// upstream's idle list, holding at most `cap`.
#[derive(Clone)]
pub(crate) struct Home {
    pub idle: IdleList,
    pub cap: usize,
}

/// An upstream's idle connections, most recently kept last.
pub(crate) type IdleList = Arc<Mutex<Vec<Idle>>>;

/// A connection waiting in the pool.
pub(crate) struct Idle {
    pub connection: Connection,
    pub since: std::time::Instant,
}

impl Home {
    fn keep(&self, connection: Connection) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if idle.len() < self.cap {
            idle.push(Idle {
                connection,
                since: std::time::Instant::now(),
            });
        }
    }
}

impl Connection {
    /// A connection over `stream`, nothing sent yet.
    pub(crate) fn new(stream: Stream) -> Self {
        Connection {
            stream,
            read: BytesMut::new(),
            read_chunk: READ_CHUNK,
            write: Vec::new(),
        }
    }

    /// Whether an idle connection can still take a request: the upstream has neither closed
    /// it nor sent anything unasked. Never waits; a socket with nothing new costs no read.
    pub(crate) fn is_usable(&mut self) -> bool {
        if !self.read.is_empty() {
            return false;
        }
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut probe = [0u8; 1];
        let mut probe = ReadBuf::new(&mut probe);
        matches!(
            Pin::new(&mut self.stream).poll_read(&mut cx, &mut probe),
            Poll::Pending
        )
    }

    /// Send the request `parts` (its target in origin form; its header lines as `lines`
    /// writes them) with its buffered `body`, and read the answer's head (without its
    /// hop-by-hop headers). The answer's body reads from this
    /// connection, which goes `home` once that body has been read to its end (at once when
    /// it came with the head).
    /// The request is borrowed, so that the caller can send it again on another connection
    /// when this one closed without answering (`ExchangeError::Unanswered`).
    pub(crate) async fn exchange(
        mut self,
        parts: &http::request::Parts,
        body: Option<Bytes>,
        lines: &dyn HeaderLines,
        home: Home,
    ) -> Result<Response<ResponseBody>, ExchangeError> {
        self.write.clear();
        let added_length = match &body {
            Some(body) => frame_body(&parts.headers, body)?,
            None => None,
        };
        encode_head(parts, lines, added_length, &mut self.write);
        // The write waits for the other tasks this turn of the worker has ready: the
        // requests of one turn then reach the upstream back to back, and only the first wakes
        // it. Written at once, each request found the upstream asleep again and paid the
        // wake-up (an inter-processor interrupt, costly on a VM): measured with the proxy
        // alone on one core, 20% fewer requests/s than hyper's client, whose connection tasks
        // wrote after the turn's requests (bench/results/gateway-2026-11-29h.md). The task
        // goes to the back of the run queue rather than through `tokio::task::yield_now`,
        // which defers it until the worker has polled its event loop once more (an
        // `epoll_wait` and a timer-wheel pass per turn, per request on a lone connection).
        BackOfTheQueue::default().await;
        let written = self.write_request(body).await;
        let head = match (written, self.read_head().await) {
            (Ok(()), head) => head?,
            // An upstream may answer (a 413, say) and close before reading a whole upload:
            // its answer is passed on, as hyper's client does, and the connection let go.
            (Err(_), Ok(head)) => Head {
                keep_alive: false,
                ..head
            },
            (Err(error), Err(ExchangeError::Unanswered(_))) => {
                return Err(ExchangeError::Unanswered(error));
            }
            (Err(error), Err(_)) => return Err(error.into()),
        };
        let framing = framing(&head, &parts.method)?;
        let mut reusable = head.keep_alive && framing.reusable;
        let mut response = Response::new(());
        *response.status_mut() = head.status;
        *response.version_mut() = head.version;
        *response.headers_mut() = head.headers;
        if head.hop_by_hop_left {
            crate::upstream::strip_hop_by_hop(response.headers_mut());
        }
        if let Some(reason) = head.reason {
            response.extensions_mut().insert(reason);
        }
        let body = match framing.kind {
            Kind::Length(length) if (self.read.len() as u64) >= length => {
                // The whole body came with the head: the connection is free already.
                let length = usize::try_from(length).unwrap_or(usize::MAX);
                let bytes = self.read.split_to(length).freeze();
                reusable &= self.read.is_empty();
                if reusable {
                    home.keep(self);
                }
                ResponseBody::complete(bytes)
            }
            kind => ResponseBody {
                state: match kind {
                    Kind::Length(length) => Decode::Length(length),
                    Kind::Chunked => Decode::Chunked(Chunked::default()),
                    Kind::Eof => Decode::Eof,
                },
                connection: Some(self),
                home: reusable.then_some(home),
                done: None,
            },
        };
        Ok(response.map(|()| body))
    }

    /// Write the encoded head (in the write buffer) and `body`.
    async fn write_request(&mut self, body: Option<Bytes>) -> io::Result<()> {
        match body {
            Some(body) if body.len() < COPY_BODY_BELOW => {
                self.write.extend_from_slice(&body);
                self.stream.write_all(&self.write).await?;
            }
            Some(body) => {
                self.stream.write_all(&self.write).await?;
                self.stream.write_all(&body).await?;
            }
            None => self.stream.write_all(&self.write).await?,
        }
        self.stream.flush().await
    }

    /// Read until a final (non-1xx) response head is complete and parse it.
    async fn read_head(&mut self) -> Result<Head, ExchangeError> {
        // Bytes of an answer read so far (informational ones included).
        let mut received = self.read.len();
        loop {
            if !self.read.is_empty() {
                match parse_head(&mut self.read)? {
                    Parsed::Final(head) => return Ok(head),
                    // An informational answer was consumed: parse what follows it.
                    Parsed::Informational => continue,
                    Parsed::Partial => {}
                }
                if self.read.len() >= MAX_HEAD_BYTES {
                    return Err(ExchangeError::Malformed("response head too large"));
                }
            }
            let error = match self.fill().await {
                Ok(0) => io::ErrorKind::UnexpectedEof.into(),
                Ok(read) => {
                    received += read;
                    continue;
                }
                Err(error) => error,
            };
            return Err(if received == 0 {
                ExchangeError::Unanswered(error)
            } else {
                ExchangeError::Io(error)
            });
        }
    }

    /// Read more into the read buffer; 0 at the connection's end.
    async fn fill(&mut self) -> io::Result<usize> {
        std::future::poll_fn(|cx| self.poll_fill(cx)).await
    }

    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.read.capacity() - self.read.len() < self.read_chunk / 2 {
            self.read.reserve(self.read_chunk);
        }
        let room = self.read.capacity() - self.read.len();
        let read = std::task::ready!(tokio_util::io::poll_read_buf(
            Pin::new(&mut self.stream),
            cx,
            &mut self.read
        ))?;
        if read == room {
            self.read_chunk = (self.read_chunk * 2).min(MAX_READ_CHUNK);
        }
        Poll::Ready(Ok(read))
    }
}

/// Pending once, having woken its own task: the task is put at the back of its worker's run
/// queue, behind the tasks already ready this turn, and runs again after them without the
/// worker polling its event loop in between.
#[derive(Default)]
struct BackOfTheQueue {
    queued: bool,
}

impl std::future::Future for BackOfTheQueue {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.queued {
            return Poll::Ready(());
        }
        self.queued = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// The framing of a buffered request body, as hyper's client writes it: a `Content-Length`
/// the request carries (all values alike) must be the body's length; without one, the
/// length to add.
fn frame_body(headers: &HeaderMap, body: &Bytes) -> Result<Option<usize>, ExchangeError> {
    match content_length(headers) {
        Some(length) if length == body.len() as u64 => Ok(None),
        Some(_) => Err(ExchangeError::LengthMismatch),
        None => Ok(Some(body.len())),
    }
}

/// How a request's header lines are written into its encoded head (`name: value\r\n`
/// each): the upstream's (`upstream::UpstreamHead`: its `Host`, the client's headers less
/// the hop-by-hop and forwarding ones, the gateway's forwarding headers), written straight
/// from the client's header map instead of rewriting the map first.
pub(crate) trait HeaderLines: Sync {
    /// Append the header lines of a request whose header map is `headers`.
    fn write_lines(&self, headers: &HeaderMap, dst: &mut Vec<u8>);
}

/// Append one header line.
pub(crate) fn header_line(dst: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    dst.extend_from_slice(name);
    dst.extend_from_slice(b": ");
    dst.extend_from_slice(value);
    dst.extend_from_slice(b"\r\n");
}

/// The request line and header lines (names as the header map holds them: lowercase), as
/// hyper's client writes them, with the body's `Content-Length` if it has to be added.
fn encode_head(
    parts: &http::request::Parts,
    lines: &dyn HeaderLines,
    added_length: Option<usize>,
    dst: &mut Vec<u8>,
) {
    let uri = &parts.uri;
    dst.reserve(256 + parts.headers.len() * 32);
    dst.extend_from_slice(parts.method.as_str().as_bytes());
    dst.push(b' ');
    if uri.scheme().is_some() || uri.authority().is_some() {
        use std::io::Write;
        let _ = write!(dst, "{uri}");
    } else {
        dst.extend_from_slice(uri.path().as_bytes());
        if let Some(query) = uri.query() {
            dst.push(b'?');
            dst.extend_from_slice(query.as_bytes());
        }
    }
    dst.extend_from_slice(b" HTTP/1.1\r\n");
    lines.write_lines(&parts.headers, dst);
    if let Some(length) = added_length {
        let mut digits = [0u8; 20];
        header_line(dst, b"content-length", format_length(&mut digits, length));
    }
    dst.extend_from_slice(b"\r\n");
}

/// `length` in decimal digits, written at the end of `digits`.
fn format_length(digits: &mut [u8; 20], mut length: usize) -> &[u8] {
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (length % 10) as u8;
        length /= 10;
        if length == 0 {
            return &digits[at..];
        }
    }
}

/// A parsed final response head.
struct Head {
    status: StatusCode,
    version: Version,
    reason: Option<hyper::ext::ReasonPhrase>,
    /// Without its hop-by-hop headers, unless this is set.
    headers: HeaderMap,
    keep_alive: bool,
    /// Hop-by-hop headers may be left in `headers` (see `parse_head`).
    hop_by_hop_left: bool,
}

enum Parsed {
    Final(Head),
    Informational,
    Partial,
}

/// Parse a response head at the start of `buf`, consuming it when complete.
fn parse_head(buf: &mut BytesMut) -> Result<Parsed, ExchangeError> {
    // Slots httparse fills as it goes: nothing to initialise for the hundred a head may use.
    let mut slots =
        [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut []);
    let length = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut parsed,
        buf,
        &mut slots,
    ) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(Parsed::Partial),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(ExchangeError::Malformed("too many headers"));
        }
        Err(_) => return Err(ExchangeError::Malformed("invalid response head")),
    };
    let code = parsed.code.unwrap_or_default();
    let status =
        StatusCode::from_u16(code).map_err(|_| ExchangeError::Malformed("invalid status"))?;
    let version = if parsed.version == Some(1) {
        Version::HTTP_11
    } else {
        Version::HTTP_10
    };
    let reason = parsed
        .reason
        .filter(|reason| Some(*reason) != status.canonical_reason())
        .and_then(|reason| hyper::ext::ReasonPhrase::try_from(reason.as_bytes()).ok());
    // Header positions, to slice the values out of the shared head without copying.
    let base = buf.as_ptr() as usize;
    let mut spans = Vec::with_capacity(parsed.headers.len());
    // Whether the hop-by-hop headers can be left out here, as the map is built: when the
    // answer's Connection lines list nothing but keep-alive (itself hop-by-hop) and the body
    // is not chunked (Transfer-Encoding is read for the framing first). Otherwise they are
    // stripped once the framing is known (`upstream::strip_hop_by_hop`).
    let mut hop_by_hop_here = true;
    for h in parsed.headers.iter() {
        let name = match usual_name(h.name.as_bytes()) {
            Some(name) => name,
            None => HeaderName::from_bytes(h.name.as_bytes())
                .map_err(|_| ExchangeError::Malformed("invalid header name"))?,
        };
        if name == header::CONNECTION {
            hop_by_hop_here &= h.value.eq_ignore_ascii_case(b"keep-alive");
        } else if name == header::TRANSFER_ENCODING {
            hop_by_hop_here = false;
        }
        let start = h.value.as_ptr() as usize - base;
        spans.push((name, start, start + h.value.len()));
    }
    let head = buf.split_to(length).freeze();
    if status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS {
        return Ok(Parsed::Informational);
    }
    // Room for the headers the respond phase adds (security headers), so the map does not
    // grow and rehash there.
    let mut headers = HeaderMap::with_capacity(spans.len() + ROOM_FOR_RESPOND);
    let mut keep_alive = version == Version::HTTP_11;
    let mut saw_close = false;
    for (name, start, end) in spans {
        // The respond phase takes the upstream's banner off every answer; not adding it here
        // saves an insert and a removal.
        if name == header::SERVER {
            continue;
        }
        let value = HeaderValue::from_maybe_shared(head.slice(start..end))
            .map_err(|_| ExchangeError::Malformed("invalid header value"))?;
        if name == header::CONNECTION {
            let (close, keep) = connection_options(&value);
            // Once any Connection line asks to close, a later keep-alive cannot undo it.
            if saw_close || close {
                saw_close = true;
                keep_alive = false;
            } else if !keep_alive {
                keep_alive = keep;
            }
        }
        if hop_by_hop_here && crate::upstream::is_hop_by_hop(&name) {
            continue;
        }
        headers.append(name, value);
    }
    Ok(Parsed::Final(Head {
        status,
        version,
        reason,
        headers,
        keep_alive,
        hop_by_hop_left: !hop_by_hop_here,
    }))
}

/// The names upstreams usually send, as nginx, Apache and most frameworks spell them
/// (lowercase or capitalised): one match on the bytes instead of `HeaderName::from_bytes`,
/// which lowercases the name through a table and then looks it up (~200 instructions a
/// name). Any other spelling goes through `from_bytes`, to the same name.
fn usual_name(name: &[u8]) -> Option<HeaderName> {
    Some(match name {
        b"Date" | b"date" => header::DATE,
        b"Server" | b"server" => header::SERVER,
        b"Content-Type" | b"content-type" => header::CONTENT_TYPE,
        b"Content-Length" | b"content-length" => header::CONTENT_LENGTH,
        b"Connection" | b"connection" => header::CONNECTION,
        b"Keep-Alive" | b"keep-alive" => header::HeaderName::from_static("keep-alive"),
        b"Transfer-Encoding" | b"transfer-encoding" => header::TRANSFER_ENCODING,
        b"Cache-Control" | b"cache-control" => header::CACHE_CONTROL,
        b"ETag" | b"etag" => header::ETAG,
        b"Last-Modified" | b"last-modified" => header::LAST_MODIFIED,
        b"Vary" | b"vary" => header::VARY,
        b"Location" | b"location" => header::LOCATION,
        b"Content-Encoding" | b"content-encoding" => header::CONTENT_ENCODING,
        _ => return None,
    })
}

/// Whether a `Connection` value lists `close`, and whether it lists `keep-alive`.
fn connection_options(value: &HeaderValue) -> (bool, bool) {
    // The usual single option, without splitting.
    let bytes = value.as_bytes();
    if bytes.eq_ignore_ascii_case(b"keep-alive") {
        return (false, true);
    }
    if bytes.eq_ignore_ascii_case(b"close") {
        return (true, false);
    }
    let listed = |option: &str| {
        value
            .to_str()
            .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(option)))
    };
    (listed("close"), listed("keep-alive"))
}

/// Every `Content-Length` value, if all are digits and alike (hyper's rule).
fn content_length(headers: &HeaderMap) -> Option<u64> {
    let mut values = headers.get_all(header::CONTENT_LENGTH).iter();
    // The usual single value of digits only.
    if let (Some(value), None) = (values.next(), values.next()) {
        let digits = value.as_bytes();
        if !digits.is_empty() && digits.len() <= 19 && digits.iter().all(u8::is_ascii_digit) {
            return Some(digits.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0')));
        }
    }
    let mut length = None;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        for part in value.to_str().ok()?.split(',') {
            let n = from_digits(part.trim().as_bytes())?;
            if length.is_some_and(|l| l != n) {
                return None;
            }
            length = Some(n);
        }
    }
    length
}

/// A number of decimal digits only (no sign), unless it overflows.
fn from_digits(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        d.is_ascii_digit()
            .then(|| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
            .flatten()
    })
}

enum Kind {
    Length(u64),
    Chunked,
    Eof,
}

struct Framing {
    kind: Kind,
    /// Whether the framing lets the connection be used again.
    reusable: bool,
}

/// How the answer's body is delimited (RFC 9112 section 6.3, as hyper's client reads it).
fn framing(head: &Head, method: &Method) -> Result<Framing, ExchangeError> {
    let none = Framing {
        kind: Kind::Length(0),
        reusable: true,
    };
    match head.status.as_u16() {
        // hyper hands a 101 on with no body and does not use the connection again.
        101 => {
            return Ok(Framing {
                kind: Kind::Length(0),
                reusable: false,
            });
        }
        204 | 304 => return Ok(none),
        _ => {}
    }
    if method == Method::HEAD {
        return Ok(none);
    }
    if method == Method::CONNECT && head.status.is_success() {
        return Ok(Framing {
            kind: Kind::Length(0),
            reusable: false,
        });
    }
    let transfer_encoding = head.headers.get_all(header::TRANSFER_ENCODING);
    if let Some(last) = transfer_encoding.iter().next_back() {
        if head.version == Version::HTTP_10 {
            return Err(ExchangeError::Malformed("Transfer-Encoding in HTTP/1.0"));
        }
        let chunked = last
            .to_str()
            .ok()
            .and_then(|s| s.rsplit(',').next())
            .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
        let with_length = head.headers.contains_key(header::CONTENT_LENGTH);
        return Ok(if chunked {
            Framing {
                kind: Kind::Chunked,
                reusable: !with_length,
            }
        } else {
            Framing {
                kind: Kind::Eof,
                reusable: false,
            }
        });
    }
    match content_length(&head.headers) {
        Some(length) if length < u64::MAX - 1 => Ok(Framing {
            kind: Kind::Length(length),
            reusable: true,
        }),
        Some(_) => Err(ExchangeError::Malformed("Content-Length too large")),
        None if head.headers.contains_key(header::CONTENT_LENGTH) => {
            Err(ExchangeError::Malformed("invalid Content-Length"))
        }
        None => Ok(Framing {
            kind: Kind::Eof,
            reusable: false,
        }),
    }
}

/// An upstream's response body, read from its connection as it is polled.
pub(crate) struct ResponseBody {
    state: Decode,
    connection: Option<Connection>,
    /// Where the connection goes at the body's end (`None`: it is closed then).
    home: Option<Home>,
    /// A body that came whole with the head.
    done: Option<Bytes>,
}

enum Decode {
    Length(u64),
    Chunked(Chunked),
    Eof,
    Ended,
}

impl ResponseBody {
    fn complete(bytes: Bytes) -> Self {
        ResponseBody {
            state: Decode::Ended,
            connection: None,
            home: None,
            done: (!bytes.is_empty()).then_some(bytes),
        }
    }

    /// The body has been read to its framed end: the connection goes home if it may.
    fn finish(&mut self) {
        self.state = Decode::Ended;
        // Otherwise the connection closes here.
        if let (Some(connection), Some(home)) = (self.connection.take(), self.home.take())
            && connection.read.is_empty()
        {
            home.keep(connection);
        }
        self.connection = None;
    }

    fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ExchangeError>>> {
        loop {
            let Some(connection) = self.connection.as_mut() else {
                return Poll::Ready(None);
            };
            match &mut self.state {
                Decode::Ended => return Poll::Ready(None),
                Decode::Length(0) => {
                    self.finish();
                    return Poll::Ready(None);
                }
                Decode::Length(remaining) => {
                    if connection.read.is_empty()
                        && std::task::ready!(connection.poll_fill(cx))? == 0
                    {
                        return Poll::Ready(Some(Err(ExchangeError::Io(
                            io::ErrorKind::UnexpectedEof.into(),
                        ))));
                    }
                    let take = connection
                        .read
                        .len()
                        .min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                    *remaining -= take as u64;
                    let data = connection.read.split_to(take).freeze();
                    if *remaining == 0 {
                        self.finish();
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Decode::Eof => {
                    if connection.read.is_empty()
                        && std::task::ready!(connection.poll_fill(cx))? == 0
                    {
                        self.finish();
                        return Poll::Ready(None);
                    }
                    let data = connection.read.split().freeze();
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Decode::Chunked(chunked) => {
                    match chunked.step(&mut connection.read)? {
                        Step::Data(data) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                        Step::End(trailers) => {
                            self.finish();
                            return Poll::Ready(trailers.map(|t| Ok(Frame::trailers(t))));
                        }
                        Step::NeedMore => {}
                    }
                    if std::task::ready!(connection.poll_fill(cx))? == 0 {
                        return Poll::Ready(Some(Err(ExchangeError::Io(
                            io::ErrorKind::UnexpectedEof.into(),
                        ))));
                    }
                }
            }
        }
    }
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = ExchangeError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ExchangeError>>> {
        let this = self.get_mut();
        if let Some(bytes) = this.done.take() {
            return Poll::Ready(Some(Ok(Frame::data(bytes))));
        }
        let polled = this.poll_data(cx);
        if let Poll::Ready(Some(Err(_))) = &polled {
            // A broken body: the connection is not used again.
            this.state = Decode::Ended;
            this.connection = None;
            this.home = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.done.is_none() && matches!(self.state, Decode::Ended)
    }

    fn size_hint(&self) -> SizeHint {
        match (&self.done, &self.state) {
            (Some(bytes), _) => SizeHint::with_exact(bytes.len() as u64),
            (None, Decode::Length(remaining)) => SizeHint::with_exact(*remaining),
            (None, Decode::Ended) => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }
}

/// Decoding a chunked body in place in the read buffer.
#[derive(Default)]
struct Chunked {
    phase: ChunkPhase,
    size: u64,
    extension_bytes: u64,
    trailers: Vec<u8>,
    trailer_count: usize,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum ChunkPhase {
    /// The first hex digit of a chunk size.
    #[default]
    Start,
    Size,
    SizeSpace,
    Extension,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    /// After the last chunk: a trailer line or the final CRLF.
    EndCr,
    EndLf,
    Trailer,
    TrailerLf,
}

enum Step {
    Data(Bytes),
    /// The body ended, with these trailers if it had any.
    End(Option<HeaderMap>),
    NeedMore,
}

fn invalid(what: &'static str) -> ExchangeError {
    ExchangeError::Malformed(what)
}

impl Chunked {
    /// Consume from `buf` until a piece of data, the end, or the end of `buf`.
    fn step(&mut self, buf: &mut BytesMut) -> Result<Step, ExchangeError> {
        loop {
            if self.phase == ChunkPhase::Data {
                if buf.is_empty() {
                    return Ok(Step::NeedMore);
                }
                let take = buf
                    .len()
                    .min(usize::try_from(self.size).unwrap_or(usize::MAX));
                self.size -= take as u64;
                if self.size == 0 {
                    self.phase = ChunkPhase::DataCr;
                }
                return Ok(Step::Data(buf.split_to(take).freeze()));
            }
            let Some(&byte) = buf.first() else {
                return Ok(Step::NeedMore);
            };
            buf.advance(1);
            self.phase = match (self.phase, byte) {
                (ChunkPhase::Start | ChunkPhase::Size, b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F') => {
                    let digit = (byte as char).to_digit(16).unwrap_or_default();
                    self.size = self
                        .size
                        .checked_mul(16)
                        .and_then(|s| s.checked_add(u64::from(digit)))
                        .ok_or(invalid("chunk size overflows"))?;
                    ChunkPhase::Size
                }
                (ChunkPhase::Size | ChunkPhase::SizeSpace, b'\t' | b' ') => ChunkPhase::SizeSpace,
                (ChunkPhase::Size | ChunkPhase::SizeSpace, b';') => ChunkPhase::Extension,
                (ChunkPhase::Size | ChunkPhase::SizeSpace | ChunkPhase::Extension, b'\r') => {
                    ChunkPhase::SizeLf
                }
                (ChunkPhase::Extension, b'\n') => {
                    return Err(invalid("chunk extension contains a newline"));
                }
                (ChunkPhase::Extension, _) => {
                    self.extension_bytes += 1;
                    if self.extension_bytes >= MAX_CHUNK_EXTENSION_BYTES {
                        return Err(invalid("chunk extensions over the limit"));
                    }
                    ChunkPhase::Extension
                }
                (ChunkPhase::SizeLf, b'\n') if self.size == 0 => ChunkPhase::EndCr,
                (ChunkPhase::SizeLf, b'\n') => ChunkPhase::Data,
                (ChunkPhase::DataCr, b'\r') => ChunkPhase::DataLf,
                (ChunkPhase::DataLf, b'\n') => ChunkPhase::Start,
                (ChunkPhase::EndCr, b'\r') => ChunkPhase::EndLf,
                (ChunkPhase::EndLf, b'\n') => return Ok(Step::End(self.parse_trailers()?)),
                (ChunkPhase::EndCr | ChunkPhase::Trailer, _) => {
                    self.push_trailer(byte)?;
                    if byte == b'\r' {
                        ChunkPhase::TrailerLf
                    } else {
                        ChunkPhase::Trailer
                    }
                }
                (ChunkPhase::TrailerLf, b'\n') => {
                    if self.trailer_count >= MAX_HEADERS {
                        return Err(invalid("too many trailers"));
                    }
                    self.trailer_count += 1;
                    self.push_trailer(byte)?;
                    ChunkPhase::EndCr
                }
                _ => return Err(invalid("invalid chunked framing")),
            };
        }
    }

    fn push_trailer(&mut self, byte: u8) -> Result<(), ExchangeError> {
        if self.trailers.len() >= MAX_TRAILER_BYTES {
            return Err(invalid("trailers over the limit"));
        }
        self.trailers.push(byte);
        Ok(())
    }

    fn parse_trailers(&mut self) -> Result<Option<HeaderMap>, ExchangeError> {
        if self.trailer_count == 0 {
            return Ok(None);
        }
        // The empty line that ends them (not kept while reading).
        self.trailers.extend_from_slice(b"\r\n");
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
        match httparse::parse_headers(&self.trailers, &mut slots) {
            Ok(httparse::Status::Complete((_, parsed))) => {
                let mut trailers = HeaderMap::with_capacity(parsed.len());
                for h in parsed {
                    let name = HeaderName::from_bytes(h.name.as_bytes())
                        .map_err(|_| invalid("invalid trailer name"))?;
                    let value = HeaderValue::from_bytes(h.value)
                        .map_err(|_| invalid("invalid trailer value"))?;
                    trailers.append(name, value);
                }
                Ok(Some(trailers))
            }
            _ => Err(invalid("invalid trailers")),
        }
    }
}

/// The client's reading of an answer as plain functions of its bytes, for the fuzz target
/// `gateway_upstream_answer` (built only with `--cfg fuzzing`, which `cargo fuzz` sets).
#[cfg(fuzzing)]
pub mod fuzzing {
    use super::*;

    /// An answer as the client read it.
    #[derive(Debug, PartialEq, Eq)]
    pub struct Answer {
        /// The final status.
        pub status: u16,
        /// How many header lines it had.
        pub headers: usize,
        /// The body's length, when the answer is framed by a Content-Length.
        pub length: Option<u64>,
        /// The body as decoded.
        pub body: Vec<u8>,
        /// How many trailer fields a chunked body ended with.
        pub trailers: usize,
        /// Whether the connection would go back to the pool.
        pub reusable: bool,
    }

    /// Read `data` as a department's answer to a GET (or a HEAD) the way an exchange reads
    /// it from its connection, the bytes arriving in two reads: `data[..split]`, then the
    /// rest, then the connection's end. `Err` says why the answer was refused.
    pub fn read_answer(data: &[u8], head_request: bool, split: usize) -> Result<Answer, String> {
        let split = split.min(data.len());
        let mut reads = [&data[..split], &data[split..]].into_iter();
        let mut buf = BytesMut::new();
        // As `Connection::read_head`.
        let head = loop {
            if !buf.is_empty() {
                match parse_head(&mut buf).map_err(|e| e.to_string())? {
                    Parsed::Final(head) => break head,
                    Parsed::Informational => continue,
                    Parsed::Partial => {}
                }
                if buf.len() >= MAX_HEAD_BYTES {
                    return Err("response head too large".into());
                }
            }
            match reads.next() {
                Some(read) => buf.extend_from_slice(read),
                None => return Err("connection ended in the head".into()),
            }
        };
        let method = if head_request {
            Method::HEAD
        } else {
            Method::GET
        };
        let framing = framing(&head, &method).map_err(|e| e.to_string())?;
        let mut answer = Answer {
            status: head.status.as_u16(),
            headers: head.headers.len(),
            length: None,
            body: Vec::new(),
            trailers: 0,
            reusable: head.keep_alive && framing.reusable,
        };
        // As `Connection::exchange` and `ResponseBody::poll_data`: the connection is kept
        // only when nothing follows the body's framed end.
        match framing.kind {
            Kind::Length(length) => {
                answer.length = Some(length);
                loop {
                    let missing = length - answer.body.len() as u64;
                    let take = buf
                        .len()
                        .min(usize::try_from(missing).unwrap_or(usize::MAX));
                    answer.body.extend_from_slice(&buf.split_to(take));
                    if answer.body.len() as u64 == length {
                        break;
                    }
                    match reads.next() {
                        Some(read) => buf.extend_from_slice(read),
                        None => return Err("connection ended in the body".into()),
                    }
                }
            }
            Kind::Chunked => {
                let mut chunked = Chunked::default();
                loop {
                    match chunked.step(&mut buf).map_err(|e| e.to_string())? {
                        Step::Data(data) => answer.body.extend_from_slice(&data),
                        Step::End(trailers) => {
                            answer.trailers = trailers.map_or(0, |t| t.len());
                            break;
                        }
                        Step::NeedMore => match reads.next() {
                            Some(read) => buf.extend_from_slice(read),
                            None => return Err("connection ended in the body".into()),
                        },
                    }
                }
            }
            Kind::Eof => {
                answer.body.extend_from_slice(&buf.split());
                for read in reads.by_ref() {
                    answer.body.extend_from_slice(read);
                }
                answer.reusable = false;
            }
        }
        let rest: usize = buf.len() + reads.map(<[u8]>::len).sum::<usize>();
        answer.reusable &= rest == 0;
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;
    use http_body_util::BodyExt;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;
    use tokio::sync::oneshot;

    #[tokio::test(flavor = "current_thread")]
    async fn the_write_waits_behind_the_tasks_already_ready_and_not_longer() {
        // Two exchanges ready in the same turn: the first, at the point of writing its
        // request, lets the second run before it goes on.
        let order = Arc::new(Mutex::new(Vec::new()));
        let note = |order: &Arc<Mutex<Vec<&'static str>>>, what| order.lock().unwrap().push(what);
        let first = {
            let order = Arc::clone(&order);
            tokio::spawn(async move {
                note(&order, "first ready");
                BackOfTheQueue::default().await;
                note(&order, "first writes");
            })
        };
        let second = {
            let order = Arc::clone(&order);
            tokio::spawn(async move { note(&order, "second ready") })
        };
        first.await.unwrap();
        second.await.unwrap();
        assert_eq!(
            *order.lock().unwrap(),
            ["first ready", "second ready", "first writes"]
        );
        // Alone, it goes on at once: it needs no event (no timer, no I/O) to be woken.
        tokio::time::timeout(std::time::Duration::from_secs(5), BackOfTheQueue::default())
            .await
            .unwrap();
    }

    /// A connection to an upstream on a real socket that reads one request (head and a
    /// Content-Length body), hands its bytes back, writes `answer`, then keeps the connection
    /// open until the client closes it (or closes it itself when `close_after`).
    async fn upstream(
        answer: &[u8],
        close_after: bool,
    ) -> (Connection, oneshot::Receiver<Vec<u8>>) {
        let answer = answer.to_vec();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (sent, received) = oneshot::channel();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = socket.read(&mut buf).await.unwrap();
                request.extend_from_slice(&buf[..n]);
                let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                if request.len() >= end + 4 + length {
                    break;
                }
            }
            let _ = sent.send(request);
            socket.write_all(&answer).await.unwrap();
            if close_after {
                return;
            }
            while socket.read(&mut buf).await.is_ok_and(|n| n > 0) {}
        });
        let stream = TcpStream::connect(address).await.unwrap();
        (Connection::new(Stream::Plain(stream)), received)
    }

    async fn send(
        connection: Connection,
        request: Request<()>,
        body: Option<Bytes>,
        home: Home,
    ) -> Result<Response<ResponseBody>, ExchangeError> {
        let (parts, ()) = request.into_parts();
        connection.exchange(&parts, body, &AsGiven, home).await
    }

    /// The request's headers as its map holds them.
    struct AsGiven;

    impl HeaderLines for AsGiven {
        fn write_lines(&self, headers: &HeaderMap, dst: &mut Vec<u8>) {
            for (name, value) in headers {
                header_line(dst, name.as_str().as_bytes(), value.as_bytes());
            }
        }
    }

    fn home() -> Home {
        Home {
            idle: Arc::new(Mutex::new(Vec::new())),
            cap: 4,
        }
    }

    fn get(uri: &str) -> Request<()> {
        Request::get(uri)
            .header(header::HOST, "records.example")
            .body(())
            .unwrap()
    }

    /// The whole answer: status, headers, data, trailers.
    async fn read(
        response: Response<ResponseBody>,
    ) -> Result<(StatusCode, HeaderMap, Bytes, Option<HeaderMap>), ExchangeError> {
        let (parts, body) = response.into_parts();
        let collected = body.collect().await?;
        let trailers = collected.trailers().cloned();
        Ok((parts.status, parts.headers, collected.to_bytes(), trailers))
    }

    fn kept(home: &Home) -> usize {
        home.idle.lock().unwrap().len()
    }

    #[tokio::test]
    async fn a_sized_answer_is_read_and_its_connection_kept_for_the_next_request() {
        let (connection, request) = upstream(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/fhir+json\r\ncontent-length: 2\r\n\r\n{}",
            false,
        )
        .await;
        let home = home();
        let response = send(
            connection,
            get("/base/Patient/1?_format=json"),
            None,
            home.clone(),
        )
        .await
        .unwrap();
        assert_eq!(kept(&home), 1, "kept as soon as the whole body was in");
        let (status, headers, body, trailers) = read(response).await.unwrap();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-type"], "application/fhir+json");
        assert_eq!(body, "{}");
        assert!(trailers.is_none());
        // A GET goes without a body and without a Content-Length, as hyper sends it.
        assert_eq!(
            request.await.unwrap(),
            b"GET /base/Patient/1?_format=json HTTP/1.1\r\nhost: records.example\r\n\r\n"
        );
        let mut idle = home.idle.lock().unwrap().pop().unwrap();
        assert!(idle.connection.is_usable());
    }

    #[tokio::test]
    async fn the_answer_comes_without_its_hop_by_hop_headers_and_banner() {
        // Left out as the head is parsed (Connection lists only keep-alive), stripped after
        // the framing is read (chunked, other Connection options, the names they list), and
        // HTTP/1.0 keep-alive still read from the Connection line it drops.
        for (answer, kept_alive) in [
            (
                &b"HTTP/1.1 200 OK\r\nserver: nginx\r\nconnection: keep-alive\r\nkeep-alive: timeout=5\r\nupgrade: h2c\r\nproxy-authenticate: Basic\r\nx-kept: 1\r\ncontent-length: 2\r\n\r\nok"[..],
                true,
            ),
            (
                b"HTTP/1.1 200 OK\r\nServer: nginx\r\nConnection: Keep-Alive\r\nx-kept: 1\r\ntransfer-encoding: chunked\r\ntrailer: x-sum\r\n\r\n2\r\nok\r\n0\r\n\r\n",
                true,
            ),
            (
                b"HTTP/1.1 200 OK\r\nx-hop: 1\r\nconnection: keep-alive, x-hop\r\nte: trailers\r\nx-kept: 1\r\ncontent-length: 2\r\n\r\nok",
                true,
            ),
            (
                b"HTTP/1.1 200 OK\r\nconnection: close\r\nclose: named\r\nx-kept: 1\r\ncontent-length: 2\r\n\r\nok",
                false,
            ),
            (
                b"HTTP/1.0 200 OK\r\nconnection: keep-alive\r\nkeep-alive: timeout=5\r\nx-kept: 1\r\ncontent-length: 2\r\n\r\nok",
                true,
            ),
        ] {
            let shown = String::from_utf8_lossy(answer);
            let (connection, _request) = upstream(answer, false).await;
            let home = home();
            let response = send(connection, get("/x"), None, home.clone())
                .await
                .unwrap();
            let (status, headers, body, _) = read(response).await.unwrap();
            assert_eq!((status, body.as_ref()), (StatusCode::OK, &b"ok"[..]), "{shown}");
            let names: Vec<&str> = headers
                .keys()
                .map(HeaderName::as_str)
                .filter(|n| *n != "content-length")
                .collect();
            assert_eq!(names, ["x-kept"], "{shown}");
            assert_eq!(kept(&home), usize::from(kept_alive), "{shown}");
        }
    }

    #[tokio::test]
    async fn a_buffered_body_goes_with_its_length() {
        let (connection, request) =
            upstream(b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n", false).await;
        let request_head = Request::post("/base/Patient")
            .header(header::HOST, "records.example")
            .body(())
            .unwrap();
        let response = send(
            connection,
            request_head,
            Some(Bytes::from_static(b"{\"a\":1}")),
            home(),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        assert!(http_body::Body::is_end_stream(response.body()));
        assert_eq!(
            request.await.unwrap(),
            b"POST /base/Patient HTTP/1.1\r\nhost: records.example\r\ncontent-length: 7\r\n\r\n{\"a\":1}"
        );
    }

    #[tokio::test]
    async fn a_content_length_that_is_not_the_body_s_is_not_sent() {
        let (connection, _request) = upstream(b"HTTP/1.1 200 OK\r\n\r\n", false).await;
        let request = Request::post("/x")
            .header(header::CONTENT_LENGTH, "3")
            .body(())
            .unwrap();
        let result = send(
            connection,
            request,
            Some(Bytes::from_static(b"12345")),
            home(),
        )
        .await;
        assert!(matches!(result, Err(ExchangeError::LengthMismatch)));
    }

    #[tokio::test]
    async fn a_chunked_answer_is_decoded_with_its_trailers_then_the_connection_kept() {
        let (connection, _request) = upstream(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n5 \r\npedia\r\n0\r\nchecksum: abc\r\n\r\n",
            false,
        )
        .await;
        let home = home();
        let response = send(connection, get("/x"), None, home.clone())
            .await
            .unwrap();
        assert_eq!(http_body::Body::size_hint(response.body()).exact(), None);
        let (_, _, body, trailers) = read(response).await.unwrap();
        assert_eq!(body, "Wikipedia");
        assert_eq!(trailers.unwrap()["checksum"], "abc");
        assert_eq!(kept(&home), 1);
    }

    #[tokio::test]
    async fn an_answer_without_length_runs_to_the_end_and_its_connection_is_closed() {
        let (connection, _request) = upstream(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nall of it",
            true,
        )
        .await;
        let home = home();
        let response = send(connection, get("/x"), None, home.clone())
            .await
            .unwrap();
        let (_, _, body, _) = read(response).await.unwrap();
        assert_eq!(body, "all of it");
        assert_eq!(kept(&home), 0);
    }

    #[tokio::test]
    async fn a_connection_the_upstream_asks_to_close_is_not_kept() {
        for answer in [
            &b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok"[..],
            b"HTTP/1.1 200 OK\r\nconnection: keep-alive\r\nconnection: Upgrade, Close\r\ncontent-length: 2\r\n\r\nok",
            b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok",
            // Both framings: read as chunked, but the connection is not trusted again.
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        ] {
            let answer: &'static [u8] = answer;
            let (connection, _request) = upstream(answer, false).await;
            let home = home();
            let response = send(connection, get("/x"), None, home.clone())
                .await
                .unwrap();
            let (_, _, body, _) = read(response).await.unwrap();
            assert_eq!(body, "ok", "{}", String::from_utf8_lossy(answer));
            assert_eq!(kept(&home), 0, "{}", String::from_utf8_lossy(answer));
        }
        // HTTP/1.0 that asks to be kept alive is.
        let (connection, _request) = upstream(
            b"HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 2\r\n\r\nok",
            false,
        )
        .await;
        let home = home();
        let response = send(connection, get("/x"), None, home.clone()).await;
        assert_eq!(read(response.unwrap()).await.unwrap().2, "ok");
        assert_eq!(kept(&home), 1);
    }

    #[tokio::test]
    async fn informational_answers_are_skipped_and_head_and_no_content_have_no_body() {
        let (connection, _request) = upstream(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 200 Fine Thanks\r\ncontent-length: 2\r\n\r\nok",
            false,
        )
        .await;
        let response = send(connection, get("/x"), None, home()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(!response.headers().contains_key("link"));
        // A reason phrase other than the usual one is passed on, as hyper does.
        assert_eq!(
            response
                .extensions()
                .get::<hyper::ext::ReasonPhrase>()
                .unwrap()
                .as_bytes(),
            b"Fine Thanks"
        );
        assert_eq!(read(response).await.unwrap().2, "ok");

        let (connection, _request) =
            upstream(b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n", false).await;
        let head = Request::head("/x").body(()).unwrap();
        let home = home();
        let response = send(connection, head, None, home.clone()).await.unwrap();
        assert_eq!(response.headers()["content-length"], "50");
        assert_eq!(read(response).await.unwrap().2, "");
        assert_eq!(kept(&home), 1);

        let (connection, _request) = upstream(b"HTTP/1.1 204 No Content\r\n\r\n", false).await;
        let response = send(connection, get("/x"), None, home.clone()).await;
        assert!(http_body::Body::is_end_stream(response.unwrap().body()));
    }

    #[tokio::test]
    async fn malformed_answers_are_errors() {
        for answer in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 12a\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok",
            b"HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n",
            b"HTTP/1.1 099 Low\r\n\r\n",
            b"NOT HTTP\r\n\r\n",
        ] {
            let answer: &'static [u8] = answer;
            let (connection, _request) = upstream(answer, false).await;
            let result = send(connection, get("/x"), None, home()).await;
            assert!(
                matches!(result, Err(ExchangeError::Malformed(_))),
                "{}",
                String::from_utf8_lossy(answer)
            );
        }
        // An answer cut off before its head ends.
        let (connection, _request) = upstream(b"HTTP/1.1 200 OK\r\ncontent-", true).await;
        let result = send(connection, get("/x"), None, home()).await;
        assert!(matches!(result, Err(ExchangeError::Io(_))));
    }

    #[tokio::test]
    async fn a_body_cut_short_or_badly_chunked_is_an_error_and_nothing_is_kept() {
        for answer in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort"[..],
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nshort",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2;a\nb\r\nok\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
        ] {
            let answer: &'static [u8] = answer;
            let (connection, _request) = upstream(answer, true).await;
            let home = home();
            let response = send(connection, get("/x"), None, home.clone())
                .await
                .unwrap();
            assert!(
                read(response).await.is_err(),
                "{}",
                String::from_utf8_lossy(answer)
            );
            assert_eq!(kept(&home), 0);
        }
    }

    #[tokio::test]
    async fn large_bodies_stream_through_intact_in_both_framings() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut sized =
            format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", data.len()).into_bytes();
        sized.extend_from_slice(&data);
        let mut chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
        for piece in data.chunks(70_001) {
            chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            chunked.extend_from_slice(piece);
            chunked.extend_from_slice(b"\r\n");
        }
        chunked.extend_from_slice(b"0\r\n\r\n");
        for answer in [sized, chunked] {
            let (connection, _request) = upstream(&answer, false).await;
            let home = home();
            let response = send(connection, get("/x"), None, home.clone())
                .await
                .unwrap();
            let (status, _, body, _) = read(response).await.unwrap();
            assert_eq!(status, StatusCode::OK);
            assert!(body == data, "the body arrived changed");
            assert_eq!(kept(&home), 1);
        }
    }

    #[test]
    fn chunked_bodies_decode_the_same_whatever_the_reads_they_arrive_in() {
        let wire = b"4\r\nWiki\r\n5;name=\"v\"\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nx-sum: 1\r\nx-other: 2\r\n\r\n";
        for piece in [1, 2, 3, 7, wire.len()] {
            let mut chunked = Chunked::default();
            let mut buf = BytesMut::new();
            let mut data = Vec::new();
            let mut trailers = None;
            let mut ended = false;
            for part in wire.chunks(piece) {
                buf.extend_from_slice(part);
                loop {
                    match chunked.step(&mut buf).unwrap() {
                        Step::Data(bytes) => data.extend_from_slice(&bytes),
                        Step::End(t) => {
                            trailers = t;
                            ended = true;
                            break;
                        }
                        Step::NeedMore => break,
                    }
                }
            }
            assert!(ended, "piece {piece}");
            assert!(buf.is_empty());
            assert_eq!(data, b"Wikipedia in\r\n\r\nchunks.", "piece {piece}");
            let trailers = trailers.unwrap();
            assert_eq!(trailers["x-sum"], "1");
            assert_eq!(trailers["x-other"], "2");
        }
    }

    #[test]
    fn usual_names_are_the_names_from_bytes_reads() {
        for name in [
            "Date",
            "Server",
            "Content-Type",
            "Content-Length",
            "Connection",
            "Keep-Alive",
            "Transfer-Encoding",
            "Cache-Control",
            "ETag",
            "Last-Modified",
            "Vary",
            "Location",
            "Content-Encoding",
        ] {
            for spelling in [name.to_owned(), name.to_ascii_lowercase()] {
                let usual = usual_name(spelling.as_bytes()).unwrap();
                assert_eq!(usual, HeaderName::from_bytes(spelling.as_bytes()).unwrap());
            }
        }
        // Other spellings and names are left to `from_bytes`.
        assert_eq!(usual_name(b"CONTENT-LENGTH"), None);
        assert_eq!(usual_name(b"X-Kept"), None);
    }

    #[test]
    fn connection_options_are_read_in_any_case_and_from_lists() {
        let options = |value: &'static str| connection_options(&HeaderValue::from_static(value));
        assert_eq!(options("keep-alive"), (false, true));
        assert_eq!(options("Keep-Alive"), (false, true));
        assert_eq!(options("close"), (true, false));
        assert_eq!(options("CLOSE"), (true, false));
        assert_eq!(options("Upgrade, close"), (true, false));
        assert_eq!(options(" keep-alive , Upgrade"), (false, true));
        assert_eq!(options("closed"), (false, false));
        assert_eq!(options("Upgrade"), (false, false));
    }

    #[test]
    fn content_length_is_read_as_hyper_reads_it() {
        let length = |values: &[&'static str]| {
            let mut headers = HeaderMap::new();
            for value in values {
                headers.append(header::CONTENT_LENGTH, HeaderValue::from_static(value));
            }
            content_length(&headers)
        };
        assert_eq!(length(&["71"]), Some(71));
        assert_eq!(length(&["0"]), Some(0));
        assert_eq!(length(&["18446744073709551615"]), Some(u64::MAX));
        assert_eq!(length(&["18446744073709551616"]), None);
        assert_eq!(length(&["7, 7"]), Some(7));
        assert_eq!(length(&["7", "7"]), Some(7));
        assert_eq!(length(&["7", "8"]), None);
        assert_eq!(length(&["+7"]), None);
        assert_eq!(length(&["7a"]), None);
        assert_eq!(length(&[""]), None);
        assert_eq!(length(&[]), None);
    }

    #[tokio::test]
    async fn an_idle_connection_the_upstream_closed_is_not_usable() {
        let (connection, _request) =
            upstream(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", true).await;
        let home = home();
        let response = send(connection, get("/x"), None, home.clone())
            .await
            .unwrap();
        drop(response);
        let mut idle = home.idle.lock().unwrap().pop().unwrap();
        // The upstream closes right after answering; once the close has arrived the
        // connection reads as closed.
        let mut usable = true;
        for _ in 0..1000 {
            usable = idle.connection.is_usable();
            if !usable {
                break;
            }
            tokio::task::yield_now().await;
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        assert!(!usable);
    }
}
