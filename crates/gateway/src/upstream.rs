//! Forwarding to an existing HTTP service: pooled connections, timeouts, and the header
//! rewriting a reverse proxy owes both sides.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, Uri, Version};
use rustls_pki_types::CertificateDer;
use wardgate_policy::UpstreamSettings;

use crate::body::{BodyProgress, ForwardBody, ResponseBody};
use crate::deadline::Deadlines;
use crate::error::GatewayError;
use crate::pool::{Pool, PoolError};

/// Why forwarding failed.
#[derive(Debug)]
pub enum ForwardError {
    /// No response head within the response timeout.
    Timeout(Duration),
    /// The upstream could not be reached or broke the exchange (detail for the record).
    Unavailable(String),
    /// The request body was cut off by a limit or the client.
    Body,
}

/// The pooled connections towards every upstream (one `Upstreams` per worker thread), and
/// the response deadlines of the exchanges on them.
pub struct Upstreams {
    pool: Pool,
    deadlines: Deadlines,
}

/// TLS towards `https://` upstreams: the hospital CAs given plus the public web roots.
pub fn upstream_tls(
    hospital_cas: &[CertificateDer<'static>],
) -> Result<Arc<rustls::ClientConfig>, GatewayError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for ca in hospital_cas {
        roots
            .add(ca.clone())
            .map_err(|e| GatewayError::Tls(format!("upstream CA: {e}")))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| GatewayError::Tls(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

impl Upstreams {
    /// An empty pool; `tls` is used towards `https://` upstreams.
    pub fn new(tls: &rustls::ClientConfig) -> Self {
        Upstreams {
            pool: Pool::new(tls),
            deadlines: Deadlines::default(),
        }
    }

    /// Time out the exchanges whose response deadline has passed (called every
    /// [`crate::deadline::SWEEP_PERIOD`]).
    pub(crate) fn sweep_deadlines(&self, now: std::time::Instant) {
        self.deadlines.sweep(now);
    }

    /// Close kept connections that have been idle too long (called every few seconds).
    pub fn close_idle(&self) {
        self.pool.close_idle();
    }

    /// Send `request` (its target already the upstream's: [`upstream_target`]) to the
    /// upstream at `base`; `began`: when the forward phase began (the exchange's clock
    /// reading, used for the pool's idle times and the response deadline).
    pub async fn forward(
        &self,
        settings: &UpstreamSettings,
        base: &Uri,
        mut request: Request<ForwardBody>,
        forwarding: &Forwarding<'_>,
        body: &BodyProgress,
        began: Instant,
    ) -> Result<Response<ResponseBody>, ForwardError> {
        *request.version_mut() = Version::HTTP_11;
        // The response timeout runs from the end of the request body, not from its start:
        // a 2 GiB upload is not a slow upstream.
        let timeout = settings.response_timeout;
        let deadline = async {
            if body.has_ended() {
                // Read before the forward phase began (nearly every body is read whole and
                // inspected first): the deadline counts from the phase's start, a clock
                // reading the exchange took anyway, instead of reading the clock again.
                self.deadlines.expiry_from(began, timeout).await;
            } else {
                body.ended().await;
                self.deadlines.expiry(timeout).await;
            }
        };
        let answer = tokio::select! {
            // The answer first (no random pick per poll); the deadline is polled as well.
            biased;
            answer = self.pool.send(settings, base, request, forwarding, began) => Some(answer),
            () = deadline => None,
        };
        match answer {
            None => Err(ForwardError::Timeout(timeout)),
            Some(Err(PoolError::Connect)) => {
                let authority = authority_of(base);
                Err(ForwardError::Unavailable(format!(
                    "cannot connect to {authority}"
                )))
            }
            Some(Err(PoolError::Broken(error))) => {
                tracing::debug!(%error, "upstream exchange failed");
                let authority = authority_of(base);
                Err(ForwardError::Unavailable(format!(
                    "exchange with {authority} failed"
                )))
            }
            Some(Err(PoolError::Exchange(error))) => {
                if caused_by_body(&error) {
                    return Err(ForwardError::Body);
                }
                let authority = authority_of(base);
                Err(ForwardError::Unavailable(format!(
                    "exchange with {authority} failed"
                )))
            }
            // Without its hop-by-hop headers (the pool strips them); the upstream's `Server`
            // goes in the respond phase, with every answer's.
            Some(Ok(response)) => Ok(response),
        }
    }
}

/// Whether the request body (a limit, or the client) broke the exchange.
fn caused_by_body(error: &hyper::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if cause.downcast_ref::<crate::body::BodyError>().is_some() {
            return true;
        }
        source = cause.source();
    }
    false
}

fn authority_of(uri: &Uri) -> String {
    uri.authority().map_or_else(String::new, |a| a.to_string())
}

/// The request target for the upstream, in origin form: the upstream's base path followed by
/// the request's target below its department (`/fhir/Patient?x=1` with upstream
/// `http://h:8080/base` becomes `/base/fhir/Patient?x=1`; the upstream's host goes in
/// `Host`). `None` if that is not a URI.
pub(crate) fn upstream_target(base: &Uri, relative: &str) -> Option<Uri> {
    let base_path = base.path().trim_end_matches('/');
    let mut path_and_query = Vec::with_capacity(base_path.len() + relative.len());
    path_and_query.extend_from_slice(base_path.as_bytes());
    path_and_query.extend_from_slice(relative.as_bytes());
    // The buffer becomes the URI's own (exactly sized: no second copy).
    Uri::from_maybe_shared(bytes::Bytes::from(path_and_query)).ok()
}

/// What the upstream is told about the client.
pub struct Forwarding<'a> {
    /// The client's connection, with its forwarding headers built once.
    pub client: &'a ClientForwarding,
    /// The host the client asked for (Host or :authority), if it is safe to repeat.
    pub host: Option<&'a str>,
    /// The exchange's request id.
    pub request_id: Option<&'a HeaderValue>,
}

/// The forwarding headers of one client connection, built at its first forwarded request
/// rather than formatted anew for every request on it.
#[derive(Debug)]
pub struct ClientForwarding {
    peer: SocketAddr,
    /// `X-Forwarded-For`: the client's address.
    x_forwarded_for: Option<HeaderValue>,
    /// `Forwarded` and `X-Forwarded-Host` for the host the connection asked for first (one
    /// host on nearly every connection; another host has its values built per request).
    first_host: OnceLock<HostForwarding>,
}

/// The headers that depend on the host the client asked for.
#[derive(Debug, Clone)]
struct HostForwarding {
    host: Option<Box<str>>,
    forwarded: Option<HeaderValue>,
    x_forwarded_host: Option<HeaderValue>,
}

impl ClientForwarding {
    /// The forwarding headers of a connection from `peer`.
    pub fn new(peer: SocketAddr) -> Self {
        ClientForwarding {
            peer,
            x_forwarded_for: HeaderValue::from_str(&peer.ip().to_string()).ok(),
            first_host: OnceLock::new(),
        }
    }

    fn for_host(&self, host: Option<&str>) -> std::borrow::Cow<'_, HostForwarding> {
        let first = self.first_host.get_or_init(|| self.build(host));
        if first.host.as_deref() == host {
            std::borrow::Cow::Borrowed(first)
        } else {
            std::borrow::Cow::Owned(self.build(host))
        }
    }

    fn build(&self, host: Option<&str>) -> HostForwarding {
        let mut forwarded = format!("for=\"{}\";proto=https", self.peer);
        if let Some(host) = host {
            forwarded.push_str(";host=\"");
            forwarded.push_str(host);
            forwarded.push('"');
        }
        HostForwarding {
            host: host.map(Box::from),
            forwarded: HeaderValue::from_str(&forwarded).ok(),
            x_forwarded_host: host.and_then(|h| HeaderValue::from_str(h).ok()),
        }
    }
}

/// Headers that describe one connection, not the message: never forwarded (RFC 9110 7.6.1).
/// (Header names, not strings: removing by a string parses the name on every request.)
static HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
];

/// The place of a (lowercase) name in [`HOP_BY_HOP`]: one match on the text instead of
/// eight comparisons of header names per header.
fn hop_by_hop_index(name: &str) -> Option<usize> {
    let index = match name {
        "connection" => 0,
        "keep-alive" => 1,
        "proxy-connection" => 2,
        "proxy-authenticate" => 3,
        "proxy-authorization" => 4,
        "te" => 5,
        "trailer" => 6,
        "upgrade" => 7,
        _ => return None,
    };
    debug_assert_eq!(HOP_BY_HOP[index].as_str(), name);
    Some(index)
}

/// Whether a header is hop-by-hop itself (not counting those a Connection header names).
pub(crate) fn is_hop_by_hop(name: &HeaderName) -> bool {
    hop_by_hop_index(name.as_str()).is_some()
}

/// Remove hop-by-hop headers, including those the Connection header names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // One look over the names present, then a removal (a hash and a probe) only for those
    // that are: most requests carry none, most responses only `Connection: keep-alive`.
    let mut present = [false; HOP_BY_HOP.len()];
    let mut transfer_encoding = false;
    for name in headers.keys() {
        match hop_by_hop_index(name.as_str()) {
            Some(index) => present[index] = true,
            None => transfer_encoding |= name == header::TRANSFER_ENCODING,
        }
    }
    // HOP_BY_HOP[0] is Connection: the names it lists go too. Only names that are not
    // hop-by-hop themselves (`close`, rarer ones) are collected for removal, so the usual
    // answer (`Connection: keep-alive`) allocates nothing.
    let mut listed: Vec<HeaderName> = Vec::new();
    if present[0] {
        for value in headers.get_all(header::CONNECTION) {
            let Ok(value) = value.to_str() else { continue };
            for name in value.split(',').map(str::trim) {
                // A hop-by-hop name goes anyway if present (and it was seen above).
                let hop = HOP_BY_HOP
                    .iter()
                    .any(|hop| name.eq_ignore_ascii_case(hop.as_str()));
                if !hop && let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
                    listed.push(name);
                }
            }
        }
    }
    for name in &listed {
        headers.remove(name);
    }
    for (name, present) in HOP_BY_HOP.iter().zip(present) {
        if present {
            headers.remove(name);
        }
    }
    // The client's framing is not the upstream's: hyper frames the forwarded body itself.
    if transfer_encoding {
        headers.remove(header::TRANSFER_ENCODING);
    }
}

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Rewrite a request's headers for the upstream. The gateway is the edge: whatever a client
/// claims in `Forwarded` or `X-Forwarded-*` is replaced, never passed on, so an upstream can
/// trust these headers to come from wardgate. (A request whose body the gateway holds has
/// the same lines written straight into its encoded head instead: [`UpstreamHead`].)
pub(crate) fn rewrite_request_headers(headers: &mut HeaderMap, forwarding: &Forwarding<'_>) {
    strip_hop_by_hop(headers);
    // The client's Host is replaced by the upstream's when the pool sends the request (an
    // insert: no removal needed here), so virtual hosts on the upstream side work.
    // What the client claimed is replaced (an insert removes every earlier value) or removed.
    let client = forwarding.client;
    let host = client.for_host(forwarding.host);
    for (name, value) in [
        (&X_FORWARDED_HOST, &host.x_forwarded_host),
        (&header::FORWARDED, &host.forwarded),
        (&X_FORWARDED_FOR, &client.x_forwarded_for),
    ] {
        match value {
            Some(value) => headers.insert(name.clone(), value.clone()),
            None => headers.remove(name),
        };
    }
    headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static("https"));
    match forwarding.request_id {
        Some(value) => headers.insert(X_REQUEST_ID.clone(), value.clone()),
        None => headers.remove(&X_REQUEST_ID),
    };
}

/// The header lines of a request as the upstream is sent them, written straight into the
/// encoded head from the client's header map, which is left as it is: the upstream's `Host`,
/// the client's headers without the hop-by-hop ones and without what it claimed in
/// `Host`, `Forwarded`, `X-Forwarded-*` and `X-Request-Id`, then the gateway's own forwarding
/// headers. The same lines as [`rewrite_request_headers`] and the pool's `Host` give the
/// map (the headers a Connection header names are stripped from the map before, in the
/// rare request that has one), without a hash, an insert or a removal per header.
pub(crate) struct UpstreamHead<'a> {
    /// The upstream's `Host`.
    pub host: &'a HeaderValue,
    /// What the upstream is told about the client.
    pub forwarding: &'a Forwarding<'a>,
}

/// Whether a client's header is left out of the request to the upstream: hop-by-hop,
/// framing (the body is framed anew), or one the gateway writes itself.
fn replaced_or_hop_by_hop(name: &str) -> bool {
    // One match on the text (the hop-by-hop names are those of `HOP_BY_HOP`).
    matches!(
        name,
        "host"
            | "forwarded"
            | "x-forwarded-for"
            | "x-forwarded-proto"
            | "x-forwarded-host"
            | "x-request-id"
            | "transfer-encoding"
            | "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "upgrade"
    )
}

impl crate::h1_client::HeaderLines for UpstreamHead<'_> {
    fn write_lines(&self, headers: &HeaderMap, dst: &mut Vec<u8>) {
        use crate::h1_client::header_line;
        // Host first, as RFC 9112 (3.2) asks of a client.
        header_line(dst, b"host", self.host.as_bytes());
        for (name, value) in headers {
            if !replaced_or_hop_by_hop(name.as_str()) {
                header_line(dst, name.as_str().as_bytes(), value.as_bytes());
            }
        }
        let client = self.forwarding.client;
        let host = client.for_host(self.forwarding.host);
        for (name, value) in [
            (&X_FORWARDED_HOST, &host.x_forwarded_host),
            (&header::FORWARDED, &host.forwarded),
            (&X_FORWARDED_FOR, &client.x_forwarded_for),
        ] {
            if let Some(value) = value {
                header_line(dst, name.as_str().as_bytes(), value.as_bytes());
            }
        }
        header_line(dst, X_FORWARDED_PROTO.as_str().as_bytes(), b"https");
        if let Some(value) = self.forwarding.request_id {
            header_line(dst, X_REQUEST_ID.as_str().as_bytes(), value.as_bytes());
        }
    }
}

/// A host name is repeated to the upstream only if it is plainly a host (and optional port),
/// so it cannot break out of the quoted `Forwarded` value.
pub fn safe_host(host: &str) -> Option<&str> {
    let plain = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    plain.then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_target_keeps_the_base_path_and_the_query() {
        let base: Uri = "http://127.0.0.1:8080/base/".parse().unwrap();
        assert_eq!(
            upstream_target(&base, "/fhir/Patient?name=x").unwrap(),
            "/base/fhir/Patient?name=x"
        );
        let root: Uri = "http://127.0.0.1:8080".parse().unwrap();
        assert_eq!(
            upstream_target(&root, "/fhir/metadata").unwrap(),
            "/fhir/metadata"
        );
        assert_eq!(
            upstream_target(&root, "/fhir/Patient?").unwrap(),
            "/fhir/Patient?"
        );
        assert_eq!(upstream_target(&root, "/fhir/Pat ient"), None);
    }

    #[test]
    fn every_hop_by_hop_name_is_found_by_its_text() {
        for (index, name) in HOP_BY_HOP.iter().enumerate() {
            assert_eq!(hop_by_hop_index(name.as_str()), Some(index));
            assert!(replaced_or_hop_by_hop(name.as_str()));
        }
        assert_eq!(hop_by_hop_index("transfer-encoding"), None);
        assert_eq!(hop_by_hop_index("user-agent"), None);
    }

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_are_removed() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "connection",
            HeaderValue::from_static("keep-alive, x-secret-hop"),
        );
        headers.insert("x-secret-hop", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert("upgrade", HeaderValue::from_static("websocket"));
        headers.insert("accept", HeaderValue::from_static("application/fhir+json"));
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key("accept"));

        // Several Connection headers, names in any case, framing, and nothing else touched.
        let mut headers = HeaderMap::new();
        headers.append("connection", HeaderValue::from_static("close"));
        headers.append("connection", HeaderValue::from_static(" X-Other-Hop ,,"));
        headers.insert("x-other-hop", HeaderValue::from_static("1"));
        headers.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        headers.insert("te", HeaderValue::from_static("trailers"));
        headers.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1, "{headers:?}");
        assert!(headers.contains_key("x-kept"));

        // The usual answer's `Connection: keep-alive` (with its Keep-Alive header), a listed
        // hop-by-hop name, `close`, and names in any case.
        let mut headers = HeaderMap::new();
        headers.insert("connection", HeaderValue::from_static("Keep-Alive"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert("content-length", HeaderValue::from_static("71"));
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1, "{headers:?}");
        assert!(headers.contains_key("content-length"));
        let mut headers = HeaderMap::new();
        headers.insert(
            "connection",
            HeaderValue::from_static("close, Upgrade, X-Hop"),
        );
        headers.insert("upgrade", HeaderValue::from_static("h2c"));
        headers.insert("x-hop", HeaderValue::from_static("1"));
        headers.insert(
            "close",
            HeaderValue::from_static("a field the option names"),
        );
        headers.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1, "{headers:?}");
        assert!(headers.contains_key("x-kept"));

        // None of them: nothing removed.
        let mut headers = HeaderMap::new();
        headers.insert("accept", HeaderValue::from_static("*/*"));
        headers.insert("x-request-id", HeaderValue::from_static("r1"));
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 2);
    }

    /// The header lines of `head` written for `headers` (the map stripped first when it
    /// has a Connection header, as the pool does), as sorted (name, value) pairs, and the
    /// first line's name.
    fn written_lines(
        headers: &HeaderMap,
        head: &UpstreamHead<'_>,
    ) -> (Vec<(String, String)>, String) {
        use crate::h1_client::HeaderLines;
        let mut headers = headers.clone();
        if headers.contains_key(header::CONNECTION) {
            strip_hop_by_hop(&mut headers);
        }
        let mut written = Vec::new();
        head.write_lines(&headers, &mut written);
        let text = String::from_utf8(written).unwrap();
        let mut lines: Vec<(String, String)> = text
            .split_terminator("\r\n")
            .map(|line| {
                let (name, value) = line.split_once(": ").unwrap();
                (name.to_owned(), value.to_owned())
            })
            .collect();
        let first = lines[0].0.clone();
        lines.sort();
        (lines, first)
    }

    #[test]
    fn the_written_head_has_the_headers_the_rewritten_map_has() {
        let client = ClientForwarding::new("10.1.2.3:4000".parse().unwrap());
        let request_id = HeaderValue::from_static("r-7");
        let upstream_host = HeaderValue::from_static("records.internal:8080");
        let mut maps = Vec::new();
        // A plain request, as curl and wrk send it.
        let mut plain = HeaderMap::new();
        plain.insert("host", HeaderValue::from_static("gw.example"));
        plain.insert("user-agent", HeaderValue::from_static("curl/8"));
        plain.insert("authorization", HeaderValue::from_static("Bearer t"));
        maps.push(plain.clone());
        // Forged forwarding claims (repeated), hop-by-hop and framing headers, a body's
        // length, a header named by Connection, and repeated ordinary values.
        let mut forged = plain;
        for (name, value) in [
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "7.7.7.7"),
            ("forwarded", "for=6.6.6.6"),
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-proto", "http"),
            ("x-request-id", "forged"),
            ("te", "trailers"),
            ("proxy-authorization", "Basic secret"),
            ("keep-alive", "timeout=5"),
            ("upgrade", "h2c"),
            ("trailer", "x-checksum"),
            ("transfer-encoding", "chunked"),
            ("accept", "application/fhir+json"),
            ("accept", "application/json"),
            ("content-length", "7"),
        ] {
            forged.append(name, HeaderValue::from_static(value));
        }
        maps.push(forged.clone());
        let mut with_connection = forged;
        with_connection.append("connection", HeaderValue::from_static("keep-alive, x-hop"));
        with_connection.append("x-hop", HeaderValue::from_static("1"));
        maps.push(with_connection);
        maps.push(HeaderMap::new());

        for host in [Some("gw.example:8443"), None] {
            for request_id in [Some(&request_id), None] {
                let forwarding = Forwarding {
                    client: &client,
                    host,
                    request_id,
                };
                let head = UpstreamHead {
                    host: &upstream_host,
                    forwarding: &forwarding,
                };
                for headers in &maps {
                    // The map way: the rewrite, then the pool's Host.
                    let mut rewritten = headers.clone();
                    rewrite_request_headers(&mut rewritten, &forwarding);
                    rewritten.insert(header::HOST, upstream_host.clone());
                    let mut expected: Vec<(String, String)> = rewritten
                        .iter()
                        .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
                        .collect();
                    expected.sort();
                    let (written, first) = written_lines(headers, &head);
                    assert_eq!(written, expected, "{headers:?} {host:?} {request_id:?}");
                    assert_eq!(first, "host");
                }
            }
        }
    }

    #[test]
    fn client_forwarding_claims_are_replaced() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("10.9.9.9"));
        headers.insert("forwarded", HeaderValue::from_static("for=10.9.9.9"));
        let client = ClientForwarding::new("127.0.0.1:5555".parse().unwrap());
        let request_id = HeaderValue::from_static("r1");
        let forwarding = Forwarding {
            client: &client,
            host: Some("gw.example:8443"),
            request_id: Some(&request_id),
        };
        rewrite_request_headers(&mut headers, &forwarding);
        assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
        assert_eq!(
            headers["forwarded"],
            "for=\"127.0.0.1:5555\";proto=https;host=\"gw.example:8443\""
        );
        assert_eq!(headers["x-request-id"], "r1");
        assert_eq!(headers["x-forwarded-host"], "gw.example:8443");
        assert_eq!(safe_host("evil\";for=1"), None);

        // Another request on the same connection, without a host: its own values.
        headers.insert("x-forwarded-host", HeaderValue::from_static("evil.example"));
        let forwarding = Forwarding {
            client: &client,
            host: None,
            request_id: None,
        };
        rewrite_request_headers(&mut headers, &forwarding);
        assert_eq!(headers["forwarded"], "for=\"127.0.0.1:5555\";proto=https");
        assert!(!headers.contains_key("x-forwarded-host"));
        assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
    }
}
