//! The life of a request, in order (design.md, section 2). Read this file top to bottom:
//!
//! ```text
//! accept        (listener.rs, once per connection) per-address limit, TLS, device identity
//! read          request head limits, framing checks, body limit by Content-Length
//! admit         rate limit per client address and route (guard crate)
//! authenticate  NOT ENFORCED YET (identity, issue 4): every principal is anonymous
//! route         path -> department and route; unknown paths refused
//! authorize     device segmentation (mTLS required, zone allowed); scopes NOT ENFORCED YET
//! inspect       NOT ENFORCED YET (the waf crate, issue 3)
//! observe       NOT ENFORCED YET (behaviour analytics)
//! forward       to the built-in department or the upstream URL, body streamed under limits
//! respond       security headers, request id
//! record        one JSON line per exchange, written when the response body is done
//! ```
//!
//! Each phase is a function of the [`Exchange`] that returns `Ok` to go on or a [`Decision`]
//! that ends the exchange. Phases know nothing of sockets; hyper types appear only where the
//! request and its body are handed on.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Request, Response, Uri};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use wardgate_fhir::outcome::OperationOutcome;
use wardgate_guard::{RateDecision, RateLimit};
use wardgate_policy::{DeviceRefusal, Policy, ResolvedRoute, UpstreamTarget};

use crate::body::{BodyError, BodyProgress, GuardedBody, RecordedBody, ResponseBody};
use crate::decision::Decision;
use crate::exchange::{Exchange, Phase, PhaseVerdict};
use crate::record::PendingRecord;
use crate::server::Shared;
use crate::upstream::{ForwardError, Forwarding, safe_host};
use wardgate_pki::DeviceIdentity;

/// The phases whose checks are not implemented yet; the record lists them so nobody reads
/// an allowed exchange as authenticated or inspected.
pub const NOT_ENFORCED_YET: [&str; 4] = ["authenticate", "authorize.scopes", "inspect", "observe"];

/// What one connection tells every exchange on it (set once, at accept).
#[derive(Debug)]
pub struct ConnectionInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// The verified device certificate's identity, if the client presented one.
    pub device: Option<Arc<DeviceIdentity>>,
}

/// Go on, or end the exchange with a decision.
type Flow<T = ()> = Result<T, Decision>;

/// Run one exchange through every phase and answer it.
pub(crate) async fn run(
    shared: &Shared,
    connection: &ConnectionInfo,
    request: Request<Incoming>,
) -> Result<Response<RecordedBody>, Infallible> {
    // One policy snapshot for the whole exchange: a reload never mixes two policies.
    let active = shared.policy.current();
    let request_id = request_id(request.headers());
    let mut exchange = Exchange::begin(
        request_id,
        connection.peer,
        connection.device.clone(),
        (request.method(), request.uri(), request.version()),
        active.version,
    );
    let mut request_body = None;
    let response = match phases(
        shared,
        &active.policy,
        &mut exchange,
        request,
        &mut request_body,
    )
    .await
    {
        Ok(response) => response,
        Err(decision) => {
            let response = refusal(&decision, &exchange.request_id);
            exchange.decision = Some(decision);
            response
        }
    };
    let started = Instant::now();
    let response = respond(&exchange, response);
    exchange.conclude(Phase::Respond, PhaseVerdict::Passed, started);
    Ok(record(shared, exchange, request_body, response))
}

/// The phases from read to forward; the first refusal ends the exchange.
async fn phases(
    shared: &Shared,
    policy: &Policy,
    exchange: &mut Exchange,
    request: Request<Incoming>,
    request_body: &mut Option<Arc<BodyProgress>>,
) -> Flow<Response<ResponseBody>> {
    let started = Instant::now();
    let head = read(policy, &request);
    let resolved = conclude(exchange, Phase::Read, started, head)?;

    let started = Instant::now();
    let admitted = admit(shared, policy, exchange, resolved.as_ref()).await;
    conclude(exchange, Phase::Admit, started, admitted)?;

    // authenticate: NOT ENFORCED YET (identity, issue 4). The principal stays anonymous and
    // nothing below grants anything on the basis of who the caller is.
    exchange.conclude(
        Phase::Authenticate,
        PhaseVerdict::NotEnforced,
        Instant::now(),
    );

    let started = Instant::now();
    let routed = route(exchange, resolved);
    let resolved = conclude(exchange, Phase::Route, started, routed)?;

    let started = Instant::now();
    let revoked = exchange
        .device
        .as_ref()
        .is_some_and(|d| shared.revocations.load().is_revoked(&d.fingerprint));
    let authorized = authorize(exchange, revoked, &resolved);
    conclude(exchange, Phase::Authorize, started, authorized)?;

    // inspect: NOT ENFORCED YET (the waf crate, issue 3): the WAF's verdict goes here, with
    // `resolved.settings.waf` as its mode and paranoia.
    exchange.conclude(Phase::Inspect, PhaseVerdict::NotEnforced, Instant::now());

    // observe: NOT ENFORCED YET (behaviour analytics): the principal's and device's profile
    // is updated here and may answer with a block or a step-up.
    exchange.conclude(Phase::Observe, PhaseVerdict::NotEnforced, Instant::now());

    let started = Instant::now();
    let forwarded = forward(shared, policy, exchange, &resolved, request, request_body).await;
    conclude(exchange, Phase::Forward, started, forwarded)
}

/// Note a phase's verdict and duration, and pass its result on.
fn conclude<T>(
    exchange: &mut Exchange,
    phase: Phase,
    started: Instant,
    result: Flow<T>,
) -> Flow<T> {
    let verdict = if result.is_ok() {
        PhaseVerdict::Passed
    } else {
        PhaseVerdict::Refused
    };
    exchange.conclude(phase, verdict, started);
    result
}

// ---- read -------------------------------------------------------------------------------

/// Check the request head against the limits, and find the route whose body limit applies.
/// hyper has already refused malformed heads, obsolete line folding, differing
/// Content-Lengths and heads beyond its hard cap (twice our limit).
fn read<'p>(policy: &'p Policy, request: &Request<Incoming>) -> Flow<Option<ResolvedRoute<'p>>> {
    let limit = policy.limits.max_header_bytes.bytes();
    let size = head_size(request);
    if size as u64 > limit {
        return Err(Decision::header_too_large(size, limit));
    }
    let headers = request.headers();
    if headers.contains_key(header::TRANSFER_ENCODING)
        && headers.contains_key(header::CONTENT_LENGTH)
    {
        return Err(Decision::ambiguous_length());
    }
    let resolved = policy.route(request.method().as_str(), request.uri().path());
    let limits = resolved.map_or(policy.limits.route_limits(), |r| r.settings.limits);
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limits.max_body_bytes.bytes()) {
        return Err(Decision::body_too_large(limits.max_body_bytes.bytes()));
    }
    Ok(resolved)
}

/// The size of the request head as the client sent it (request line and header lines).
fn head_size<B>(request: &Request<B>) -> usize {
    let line = request.method().as_str().len()
        + request
            .uri()
            .path_and_query()
            .map_or(1, |pq| pq.as_str().len())
        + " HTTP/1.1\r\n ".len();
    let fields: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    line + fields
}

// ---- admit ------------------------------------------------------------------------------

/// Count the request against its client's rate limit on this route.
async fn admit(
    shared: &Shared,
    policy: &Policy,
    exchange: &Exchange,
    resolved: Option<&ResolvedRoute<'_>>,
) -> Flow {
    let configured = resolved.map_or(policy.rate_limit, |r| r.settings.rate_limit);
    // The policy refuses a zero rate or burst at load, so this only guards the arithmetic.
    let Ok(limit) = RateLimit::new(configured.rate_per_second, configured.burst) else {
        return Ok(());
    };
    let scope = resolved.map_or("(unrouted)", |r| {
        r.route
            .map_or(r.department.prefix.as_str(), |route| route.path.as_str())
    });
    let key = format!("{} {scope}", client_key(exchange.peer.ip()));
    match shared.rate_limits.check(&key, limit).await {
        Ok(RateDecision::Allowed) => Ok(()),
        Ok(RateDecision::Limited { retry_after }) => {
            Err(Decision::rate_limited(retry_after, scope))
        }
        Err(error) => {
            // Availability first: a broken limiter must not stop clinical traffic.
            tracing::warn!(%error, "rate limiter failed; request admitted");
            Ok(())
        }
    }
}

/// The rate-limit identity of a client: its IPv4 address, or its IPv6 /64 (one host
/// usually holds a whole /64, and would otherwise get a fresh bucket per address).
fn client_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

// ---- route ------------------------------------------------------------------------------

/// The department that owns the path; deny by default.
fn route<'p>(
    exchange: &mut Exchange,
    resolved: Option<ResolvedRoute<'p>>,
) -> Flow<ResolvedRoute<'p>> {
    let resolved = resolved.ok_or_else(Decision::unknown_route)?;
    exchange.department = Some(resolved.department_name().to_owned());
    exchange.route = resolved.route.map(|r| r.path.clone());
    Ok(resolved)
}

// ---- authorize --------------------------------------------------------------------------

/// Segmentation by device: a revoked certificate is refused everywhere (checked on every
/// request, so revoking cuts off connections already open), a route that requires mTLS needs a device certificate, and a
/// certificate must belong to a zone the department allows. Scopes, roles and the patient
/// compartment are NOT ENFORCED YET (identity, issue 4).
fn authorize(exchange: &Exchange, revoked: bool, resolved: &ResolvedRoute<'_>) -> Flow {
    if revoked {
        return Err(Decision::device_revoked());
    }
    let zone = exchange.device.as_ref().map(|d| d.zone.as_str());
    resolved
        .admit_device(zone)
        .map_err(|refusal| match refusal {
            DeviceRefusal::CertificateRequired => {
                Decision::mtls_required(resolved.department_name())
            }
            DeviceRefusal::ZoneNotAllowed => {
                Decision::zone_denied(resolved.department_name(), zone)
            }
        })
}

// ---- forward ----------------------------------------------------------------------------

/// Hand the request to its department: in process (`builtin`) or to the upstream URL, its
/// body streamed under the route's size limit and read deadline.
async fn forward(
    shared: &Shared,
    policy: &Policy,
    exchange: &Exchange,
    resolved: &ResolvedRoute<'_>,
    request: Request<Incoming>,
    request_body: &mut Option<Arc<BodyProgress>>,
) -> Flow<Response<ResponseBody>> {
    let (mut parts, incoming) = request.into_parts();
    let limits = resolved.settings.limits;
    let (body, progress) = GuardedBody::new(
        incoming,
        limits.max_body_bytes.bytes(),
        limits.body_read_timeout,
    );
    *request_body = Some(Arc::clone(&progress));
    let body_refusal = |progress: &BodyProgress| match progress.failure() {
        Some(BodyError::TooLarge) => Decision::body_too_large(limits.max_body_bytes.bytes()),
        Some(BodyError::Timeout) => Decision::body_timeout(limits.body_read_timeout),
        _ => Decision::upstream_unavailable("client stopped sending the body".to_owned()),
    };

    let host = parts
        .uri
        .authority()
        .map(|a| a.as_str())
        .or_else(|| {
            parts
                .headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
        })
        .and_then(safe_host)
        .map(str::to_owned);
    parts.uri = relative_to_department(&parts.uri, &resolved.department.prefix)?;
    let department = resolved.department_name();

    match resolved.upstream() {
        UpstreamTarget::Builtin => {
            let Some(service) = shared.departments.as_ref() else {
                return Err(Decision::builtin_unavailable(department));
            };
            let whole = body
                .collect()
                .await
                .map_err(|_| body_refusal(&progress))?
                .to_bytes();
            crate::upstream::strip_hop_by_hop(&mut parts.headers);
            if let Ok(id) = HeaderValue::from_str(&exchange.request_id) {
                parts.headers.insert(X_REQUEST_ID.clone(), id);
            }
            let response = service
                .handle(department, Request::from_parts(parts, whole))
                .await;
            Ok(response.map(ResponseBody::full))
        }
        UpstreamTarget::Url(base) => {
            let forwarding = Forwarding {
                peer: exchange.peer,
                host: host.as_deref(),
                request_id: &exchange.request_id,
            };
            let request = Request::from_parts(parts, body);
            match shared
                .upstreams
                .forward(&policy.upstream, base, request, &forwarding, &progress)
                .await
            {
                Ok(response) => Ok(response.map(ResponseBody::Upstream)),
                Err(ForwardError::Timeout(timeout)) => Err(Decision::upstream_timeout(timeout)),
                Err(ForwardError::Body) => Err(body_refusal(&progress)),
                Err(ForwardError::Unavailable(detail)) => match progress.failure() {
                    Some(_) => Err(body_refusal(&progress)),
                    None => Err(Decision::upstream_unavailable(detail)),
                },
            }
        }
    }
}

/// The request URI below its department (`/emergency/fhir/Patient?x` -> `/fhir/Patient?x`).
fn relative_to_department(uri: &Uri, prefix: &str) -> Flow<Uri> {
    let path_and_query = uri.path_and_query().map_or("/", |pq| pq.as_str());
    // The prefix is `/{name}/`: keep its final slash as the start of the relative path.
    let relative = path_and_query
        .get(prefix.len() - 1..)
        .ok_or_else(Decision::unknown_route)?;
    relative.parse().map_err(|_| Decision::unknown_route())
}

// ---- respond ----------------------------------------------------------------------------

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Security headers on every answer, the request id, and no server banner.
fn respond(exchange: &Exchange, mut response: Response<ResponseBody>) -> Response<ResponseBody> {
    let headers = response.headers_mut();
    headers.remove(header::SERVER);
    headers.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Clinical data must not be kept by browsers or shared caches.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if let Ok(id) = HeaderValue::from_str(&exchange.request_id) {
        headers.insert(X_REQUEST_ID.clone(), id);
    }
    if exchange
        .decision
        .as_ref()
        .is_some_and(|d| d.close_connection)
        && response.version() < http::Version::HTTP_2
    {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// The gateway's own answer to a refused exchange: a FHIR OperationOutcome with the stable
/// code and the request id, and nothing about the gateway's internals.
fn refusal(decision: &Decision, request_id: &str) -> Response<ResponseBody> {
    let body = OperationOutcome::error(decision.issue, decision.diagnostics)
        .with_code(decision.code)
        .with_request_id(request_id)
        .to_json_string();
    let mut response = Response::new(ResponseBody::full(Bytes::from(body)));
    *response.status_mut() = decision.status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/fhir+json"),
    );
    if let Some(wait) = decision.retry_after {
        // Whole seconds, rounded up: "0" would invite an immediate retry.
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    }
    response
}

// ---- record -----------------------------------------------------------------------------

/// Arrange for the exchange record to be written once the response body is done.
fn record(
    shared: &Shared,
    exchange: Exchange,
    request_body: Option<Arc<BodyProgress>>,
    response: Response<ResponseBody>,
) -> Response<RecordedBody> {
    let status = response.status().as_u16();
    let pending = PendingRecord {
        exchange,
        status,
        request_body,
        log: shared.log.clone(),
        metrics: Arc::clone(&shared.metrics),
    };
    response.map(|body| RecordedBody::new(body, Box::new(pending)))
}

/// The client's request id if it is a plain token (echoed, as FHIR servers do), else a new
/// one. A client cannot inject anything into the record or the upstream's headers this way.
fn request_id(headers: &http::HeaderMap) -> String {
    let offered = headers
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        });
    match offered {
        Some(id) => id.to_owned(),
        None => uuid::Uuid::now_v7().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_share_a_bucket_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_eq!(client_key("::ffff:10.0.0.1".parse().unwrap()), "10.0.0.1");
    }

    #[test]
    fn the_department_prefix_is_removed_and_the_query_kept() {
        let uri: Uri = "/emergency/fhir/Patient?name=x".parse().unwrap();
        assert_eq!(
            relative_to_department(&uri, "/emergency/").unwrap(),
            "/fhir/Patient?name=x"
        );
    }

    #[test]
    fn only_plain_request_ids_are_echoed() {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-request-id", HeaderValue::from_static("abc-123"));
        assert_eq!(request_id(&headers), "abc-123");
        headers.insert("x-request-id", HeaderValue::from_static("a\"b"));
        assert_ne!(request_id(&headers), "a\"b");
    }
}
