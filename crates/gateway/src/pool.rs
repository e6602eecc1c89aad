//! Pooled HTTP/1.1 connections to upstream services, one pool per worker thread.
//!
//! hyper's connection API, pooled here rather than by hyper-util's general client: that
//! client hashed its pool key (scheme and authority) three times per request, boxed and moved
//! large futures, and spawned a task per request to return the connection when its response
//! body ended. Here a connection goes back to its upstream's list as soon as the response head
//! is in, and is taken again only once hyper says it is ready (its previous response read to
//! the end). What the client did that a reverse proxy relies on is kept: `Host` from the
//! upstream URI, origin-form request targets, at most `pool_idle_per_host` kept connections
//! per upstream, idle ones closed after a minute, and a request that a kept connection could
//! not even start (closed by the upstream meanwhile) sent again on a new one.
//!
//! A request whose body the gateway holds (all but streamed uploads) is exchanged by
//! `h1_client` on a connection of the upstream's idle list instead, in the request's own
//! task; an idle connection the upstream closed or wrote to is let go when it is next looked
//! at (at checkout, or by the idle sweep), so such a request is never sent on it. If its close
//! crosses the request (the connection drops it without a byte of answer), an idempotent
//! request is sent once more on a new connection; any other is a failed exchange.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::uri::Scheme;
use http::{HeaderValue, Request, Response, Uri};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use wardgate_policy::UpstreamSettings;

use crate::body::{ForwardBody, ResponseBody};
use crate::h1_client::{self, Connection, Home, Idle, IdleList};
use crate::upstream::{Forwarding, UpstreamHead, rewrite_request_headers, strip_hop_by_hop};

/// How long a kept connection may sit unused.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a request could not be exchanged with the upstream.
#[derive(Debug)]
pub(crate) enum PoolError {
    /// No connection could be made (TCP or TLS).
    Connect,
    /// The exchange on a connection failed.
    Exchange(hyper::Error),
    /// The exchange on a pooled connection failed (I/O, or an answer that is not HTTP/1.1).
    Broken(h1_client::ExchangeError),
}

/// The kept connections of every upstream one worker forwards to.
pub(crate) struct Pool {
    upstreams: Mutex<Vec<Upstream>>,
    /// TLS towards `https://` upstreams (HTTP/1.1 by ALPN).
    tls: Arc<rustls::ClientConfig>,
}

/// One upstream (scheme and authority) and its kept connections.
struct Upstream {
    https: bool,
    authority: String,
    /// The `Host` the upstream is sent: its host, and its port unless the scheme's default.
    host: HeaderValue,
    kept: Vec<Kept>,
    /// Idle connections for requests with a buffered body (`h1_client`).
    idle: IdleList,
}

/// A kept connection: idle, or finishing a response body.
struct Kept {
    sender: SendRequest<ForwardBody>,
    since: Instant,
}

impl Kept {
    /// Closed connections, and ready ones unused for longer than the idle timeout, are let go.
    fn worth_keeping(&self, now: Instant) -> bool {
        let idle_too_long = self.sender.is_ready() && now.duration_since(self.since) > IDLE_TIMEOUT;
        !self.sender.is_closed() && !idle_too_long
    }
}

impl Pool {
    /// An empty pool using `tls` towards `https://` upstreams.
    pub(crate) fn new(tls: &rustls::ClientConfig) -> Self {
        let mut tls = tls.clone();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Pool {
            upstreams: Mutex::new(Vec::new()),
            tls: Arc::new(tls),
        }
    }

    /// Send `request` (origin-form URI, headers rewritten) to the upstream at `base` on a
    /// kept connection or a new one.
    /// The request's headers are the client's: the upstream is sent them without the
    /// hop-by-hop ones and with the forwarding headers (`upstream`); the answer comes back
    /// without its hop-by-hop headers.
    /// `now`: a clock reading of the moment (the forward phase's start), for idle times.
    pub(crate) async fn send(
        &self,
        settings: &UpstreamSettings,
        base: &Uri,
        request: Request<ForwardBody>,
        forwarding: &Forwarding<'_>,
        now: Instant,
    ) -> Result<Response<ResponseBody>, PoolError> {
        let https = base.scheme() == Some(&Scheme::HTTPS);
        let authority = base.authority().map_or("", |a| a.as_str());
        let (mut parts, body) = request.into_parts();
        match body {
            ForwardBody::Buffered(body) => {
                // The names a Connection header lists are hop-by-hop too: only then is the
                // map itself stripped (`UpstreamHead` leaves out the fixed names).
                if parts.headers.contains_key(http::header::CONNECTION) {
                    strip_hop_by_hop(&mut parts.headers);
                }
                self.send_buffered(
                    settings,
                    base,
                    (https, authority, now),
                    parts,
                    body,
                    forwarding,
                )
                .await
            }
            body => {
                rewrite_request_headers(&mut parts.headers, forwarding);
                let request = Request::from_parts(parts, body);
                let mut response = self
                    .send_streamed(settings, base, (https, authority, now), request)
                    .await?;
                strip_hop_by_hop(response.headers_mut());
                Ok(response.map(ResponseBody::Upstream))
            }
        }
    }

    /// A request with its body in hand: `h1_client` on an idle connection or a new one.
    async fn send_buffered(
        &self,
        settings: &UpstreamSettings,
        base: &Uri,
        (https, authority, now): (bool, &str, Instant),
        request: http::request::Parts,
        body: Option<bytes::Bytes>,
        forwarding: &Forwarding<'_>,
    ) -> Result<Response<ResponseBody>, PoolError> {
        let (idle, host) = self.idle_list(https, authority, base)?;
        let head = UpstreamHead {
            host: &host,
            forwarding,
        };
        let home = Home {
            idle,
            cap: settings.pool_idle_per_host as usize,
        };
        let (mut connection, mut reused) = match usable_idle(&home.idle, now) {
            Some(connection) => (connection, true),
            None => (
                Connection::new(self.open(base, https, settings).await?),
                false,
            ),
        };
        loop {
            match connection
                .exchange(&request, body.clone(), &head, home.clone())
                .await
            {
                Ok(response) => return Ok(response.map(ResponseBody::Pooled)),
                // A kept connection the upstream closed just as the request went out (its
                // close not yet seen): an idempotent request goes once more on a new
                // connection (RFC 9110, 9.2.2), as a browser or nginx would send it again.
                Err(h1_client::ExchangeError::Unanswered(_))
                    if reused && request.method.is_idempotent() =>
                {
                    connection = Connection::new(self.open(base, https, settings).await?);
                    reused = false;
                }
                Err(error) => return Err(PoolError::Broken(error)),
            }
        }
    }

    /// The upstream's idle list (created on first use) and its `Host`.
    fn idle_list(
        &self,
        https: bool,
        authority: &str,
        base: &Uri,
    ) -> Result<(IdleList, HeaderValue), PoolError> {
        let mut upstreams = self
            .upstreams
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let upstream = upstream_entry(&mut upstreams, https, authority, base)?;
        Ok((Arc::clone(&upstream.idle), upstream.host.clone()))
    }

    /// A request whose body streams: hyper's client on a kept connection or a new one.
    async fn send_streamed(
        &self,
        settings: &UpstreamSettings,
        base: &Uri,
        (https, authority, now): (bool, &str, Instant),
        mut request: Request<ForwardBody>,
    ) -> Result<Response<Incoming>, PoolError> {
        let (kept, host) = self.checkout(https, authority, base, now)?;
        request.headers_mut().insert(http::header::HOST, host);
        let (mut sender, mut reused) = match kept {
            Some(sender) => (sender, true),
            None => (self.connect(base, https, settings).await?, false),
        };
        loop {
            match sender.try_send_request(request).await {
                Ok(response) => {
                    self.keep(https, authority, sender, settings);
                    return Ok(response);
                }
                Err(mut failed) => match failed.take_message() {
                    // A kept connection the upstream closed before the request could start:
                    // the request was not sent, so it goes again on a new connection.
                    Some(unsent) if reused => {
                        request = unsent;
                        sender = self.connect(base, https, settings).await?;
                        reused = false;
                    }
                    _ => return Err(PoolError::Exchange(failed.into_error())),
                },
            }
        }
    }

    /// A ready kept connection to the upstream, if there is one, and its `Host`; `now`: a
    /// clock reading of the moment.
    fn checkout(
        &self,
        https: bool,
        authority: &str,
        base: &Uri,
        now: Instant,
    ) -> Result<(Option<SendRequest<ForwardBody>>, HeaderValue), PoolError> {
        let mut upstreams = self
            .upstreams
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let upstream = upstream_entry(&mut upstreams, https, authority, base)?;
        upstream.kept.retain(|k| k.worth_keeping(now));
        // The most recently kept ready one: its buffers are the warmest.
        let ready = upstream.kept.iter().rposition(|k| k.sender.is_ready());
        let sender = ready.map(|at| upstream.kept.remove(at).sender);
        Ok((sender, upstream.host.clone()))
    }

    /// Keep a connection whose response head has arrived (it is ready again once the body
    /// has been read), unless the upstream already has as many as the policy keeps.
    fn keep(
        &self,
        https: bool,
        authority: &str,
        sender: SendRequest<ForwardBody>,
        settings: &UpstreamSettings,
    ) {
        let mut upstreams = self
            .upstreams
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(upstream) = upstreams
            .iter_mut()
            .find(|u| u.https == https && u.authority == authority)
        else {
            return;
        };
        if upstream.kept.len() < settings.pool_idle_per_host as usize {
            upstream.kept.push(Kept {
                sender,
                since: Instant::now(),
            });
        }
    }

    /// Close kept connections unused for longer than the idle timeout.
    pub(crate) fn close_idle(&self) {
        let mut upstreams = self
            .upstreams
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        for upstream in upstreams.iter_mut() {
            upstream.kept.retain(|k| k.worth_keeping(now));
            let mut idle = upstream
                .idle
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            idle.retain_mut(|i| {
                now.duration_since(i.since) <= IDLE_TIMEOUT && i.connection.is_usable()
            });
        }
    }

    /// A new hyper connection to `base`, driven by a task of its own.
    async fn connect(
        &self,
        base: &Uri,
        https: bool,
        settings: &UpstreamSettings,
    ) -> Result<SendRequest<ForwardBody>, PoolError> {
        handshake(TokioIo::new(self.open(base, https, settings).await?)).await
    }

    /// A new connection to `base`: TCP within the connect timeout, then TLS for `https`.
    async fn open(
        &self,
        base: &Uri,
        https: bool,
        settings: &UpstreamSettings,
    ) -> Result<h1_client::Stream, PoolError> {
        let host = base.host().ok_or(PoolError::Connect)?;
        // An IPv6 literal is bracketed in a URI, not in a socket address or a server name.
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let port = base.port_u16().unwrap_or(if https { 443 } else { 80 });
        let stream =
            tokio::time::timeout(settings.connect_timeout, TcpStream::connect((host, port)))
                .await
                .map_err(|_| PoolError::Connect)?
                .map_err(|_| PoolError::Connect)?;
        // As the kernel would otherwise hold a small request back waiting for more.
        let _ = stream.set_nodelay(true);
        if https {
            let name = ServerName::try_from(host.to_owned()).map_err(|_| PoolError::Connect)?;
            let tls = tokio_rustls::TlsConnector::from(Arc::clone(&self.tls))
                .connect(name, stream)
                .await
                .map_err(|_| PoolError::Connect)?;
            Ok(h1_client::Stream::Tls(Box::new(tls)))
        } else {
            Ok(h1_client::Stream::Plain(stream))
        }
    }
}

/// The entry of the upstream (scheme and authority), added on first use.
fn upstream_entry<'u>(
    upstreams: &'u mut Vec<Upstream>,
    https: bool,
    authority: &str,
    base: &Uri,
) -> Result<&'u mut Upstream, PoolError> {
    let index = match upstreams
        .iter()
        .position(|u| u.https == https && u.authority == authority)
    {
        Some(index) => index,
        None => {
            let host = host_header(base, https).ok_or(PoolError::Connect)?;
            upstreams.push(Upstream {
                https,
                authority: authority.to_owned(),
                host,
                kept: Vec::new(),
                idle: Arc::new(Mutex::new(Vec::new())),
            });
            upstreams.len() - 1
        }
    };
    Ok(&mut upstreams[index])
}

/// The most recently kept idle connection that can still take a request (its buffers are
/// the warmest); the others looked at on the way are let go. `now`: a clock reading of the
/// moment.
fn usable_idle(idle: &Mutex<Vec<Idle>>, now: Instant) -> Option<Connection> {
    let mut idle = idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    while let Some(mut candidate) = idle.pop() {
        if now.duration_since(candidate.since) <= IDLE_TIMEOUT && candidate.connection.is_usable() {
            return Some(candidate.connection);
        }
    }
    None
}

/// Start HTTP/1.1 on a connected stream; its connection task runs until the connection ends.
async fn handshake<T>(io: T) -> Result<SendRequest<ForwardBody>, PoolError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, connection) = http1::Builder::new()
        .handshake(io)
        .await
        .map_err(|_| PoolError::Connect)?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "upstream connection ended with an error");
        }
    });
    Ok(sender)
}

/// The `Host` header for the upstream at `base`: its host, with its port unless that is the
/// scheme's default.
fn host_header(base: &Uri, https: bool) -> Option<HeaderValue> {
    let host = base.host()?;
    let default_port = if https { 443 } else { 80 };
    match base.port_u16().filter(|&port| port != default_port) {
        Some(port) => HeaderValue::from_str(&format!("{host}:{port}")).ok(),
        None => HeaderValue::from_str(host).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::ClientForwarding;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// An upstream on a real socket that reads the requests of each connection in turn and
    /// answers the n-th `200 ok` with keep-alive when `answers[n]`, or reads it and gives no
    /// answer; after the last it closes the connection without a `Connection: close` (as an
    /// upstream's idle timeout does). It counts the connections made.
    async fn upstream(answers: &'static [bool]) -> (Uri, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base: Uri = format!("http://{}/base", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&connections);
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 4096];
                    for &answer in answers {
                        let mut read = 0;
                        while !buffer[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                            match stream.read(&mut buffer[read..]).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => read += n,
                            }
                        }
                        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if answer && stream.write_all(ok).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (base, connections)
    }

    fn forwarding(client: &ClientForwarding) -> Forwarding<'_> {
        Forwarding {
            client,
            host: None,
            request_id: None,
        }
    }

    async fn get(pool: &Pool, base: &Uri) -> u16 {
        let request = Request::get("/base/x")
            .body(ForwardBody::Buffered(None))
            .unwrap();
        let settings = UpstreamSettings::default();
        let client = ClientForwarding::new("127.0.0.1:5555".parse().unwrap());
        let response = pool
            .send(
                &settings,
                base,
                request,
                &forwarding(&client),
                Instant::now(),
            )
            .await
            .unwrap();
        let status = response.status().as_u16();
        http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap();
        status
    }

    /// How many connections the pool keeps open to `base` (hyper's, and idle ones the
    /// upstream has not closed).
    fn kept_open(pool: &Pool, base: &Uri) -> usize {
        let upstreams = pool.upstreams.lock().unwrap();
        let upstream =
            |u: &&Upstream| Some(u.authority.as_str()) == base.authority().map(|a| a.as_str());
        let hyper = upstreams
            .iter()
            .filter(upstream)
            .flat_map(|u| &u.kept)
            .filter(|k| !k.sender.is_closed())
            .count();
        let idle: usize = upstreams
            .iter()
            .filter(upstream)
            .map(|u| {
                let mut idle = u.idle.lock().unwrap();
                idle.iter_mut()
                    .map(|i| usize::from(i.connection.is_usable()))
                    .sum::<usize>()
            })
            .sum();
        hyper + idle
    }

    #[tokio::test]
    async fn an_idempotent_request_a_kept_connection_dropped_unanswered_goes_again_once() {
        let pool = Pool::new(&crate::upstream::upstream_tls(&[]).unwrap());
        // Each connection answers its first request, then reads the next and closes without
        // answering it (an idle timeout that fired just as the request arrived).
        let (base, connections) = upstream(&[true, false]).await;
        assert_eq!(get(&pool, &base).await, 200);
        // Sent on the kept connection, dropped unanswered, sent again on a new one.
        assert_eq!(get(&pool, &base).await, 200);
        assert_eq!(connections.load(Ordering::SeqCst), 2);

        // A POST is not sent twice: the upstream may have acted on it. (The kept connection
        // is the second one, which has answered once and drops the next request.)
        let settings = UpstreamSettings::default();
        let post = Request::post("/base/x")
            .body(ForwardBody::Buffered(Some(bytes::Bytes::from_static(
                b"{}",
            ))))
            .unwrap();
        let client = ClientForwarding::new("127.0.0.1:5555".parse().unwrap());
        let refused = pool
            .send(&settings, &base, post, &forwarding(&client), Instant::now())
            .await;
        assert!(matches!(
            refused,
            Err(PoolError::Broken(h1_client::ExchangeError::Unanswered(_)))
        ));
        assert_eq!(connections.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_kept_connection_is_reused_and_one_the_upstream_closed_is_not() {
        let pool = Pool::new(&crate::upstream::upstream_tls(&[]).unwrap());
        let (base, connections) = upstream(&[true, true]).await;
        assert_eq!(get(&pool, &base).await, 200);
        assert_eq!(get(&pool, &base).await, 200);
        assert_eq!(
            connections.load(Ordering::SeqCst),
            1,
            "the second request reused it"
        );

        // The upstream closed that connection after its second answer: once the pool has
        // seen it close, the next request goes on a new connection and succeeds.
        for _ in 0..10_000 {
            if kept_open(&pool, &base) == 0 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(kept_open(&pool, &base), 0);
        assert_eq!(get(&pool, &base).await, 200);
        assert_eq!(connections.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn the_host_header_names_a_port_only_when_it_is_not_the_default() {
        let host = |uri: &str, https| host_header(&uri.parse().unwrap(), https).unwrap();
        assert_eq!(host("http://127.0.0.1:8080/base", false), "127.0.0.1:8080");
        assert_eq!(host("http://records.example/", false), "records.example");
        assert_eq!(host("http://records.example:80/", false), "records.example");
        assert_eq!(host("https://records.example:443", true), "records.example");
        assert_eq!(host("https://[::1]:8443", true), "[::1]:8443");
    }
}
