//! The life of a request, in order (design.md, section 2). Read this file top to bottom:
//!
//! ```text
//! accept        (listener.rs, once per connection) per-address limit, TLS, device identity
//! read          request head limits, framing checks, body limit by Content-Length
//! admit         rate limit per client address and route (guard crate); login endpoints stricter
//! authenticate  bearer token or service certificate -> principal, or anonymous (identity)
//! route         path -> department and route, or identity's endpoints; unknown paths refused
//! authorize     device (revoked, mTLS, zone), then identity's decision: deny by default;
//!               the patient filter and constraints applied; then the body is read
//!               (forward.rs) and a batch's entries or a POST search's form authorized
//! inspect       the firewall (waf crate) over path, query, headers and the read body
//! observe       NOT ENFORCED YET (behaviour analytics)
//! forward       to identity, the built-in department or the upstream URL (forward.rs)
//! respond       security headers, request id
//! record        one JSON line per exchange, written when the response body is done
//! ```
//!
//! Each phase is a function of the [`Exchange`] that returns `Ok` to go on or a [`Decision`]
//! that ends the exchange. Phases know nothing of sockets; hyper types appear only where the
//! request and its body are handed on.

use std::borrow::Cow;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Request, Response};
use hyper::body::Incoming;
use wardgate_fhir::outcome::OperationOutcome;
use wardgate_guard::{RateDecision, RateLimit};
use wardgate_policy::{Policy, ResolvedRoute, WafSettings};

use crate::access::Asked;
use crate::access_control::{self, Authorized, BodyCheck};
use crate::batch;
use crate::body::{BodyProgress, RecordedBody, ResponseBody};
use crate::decision::Decision;
use crate::exchange::{Exchange, Phase, PhaseVerdict};
use crate::firewall::{Firewall, Inspected, Placement};
use crate::forward::{self, ReadRequest};
use crate::record::{PendingRecord, PrincipalText};
use crate::server::Shared;
use crate::upstream::ClientForwarding;
use wardgate_pki::DeviceIdentity;

/// The phases whose checks are not implemented yet; the record lists them so nobody reads
/// an allowed exchange as observed.
pub const NOT_ENFORCED_YET: [&str; 1] = ["observe"];

/// What one connection tells every exchange on it (set once, at accept).
#[derive(Debug)]
pub struct ConnectionInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// The verified device certificate's identity, if the client presented one.
    pub device: Option<Arc<DeviceIdentity>>,
    /// The client's rate-limit identity ([`client_key`]).
    client_key: String,
    /// The rate-limit key of the scope the connection's first request was counted in (one
    /// scope on nearly every connection; another scope has its key built per request).
    first_rate_key: OnceLock<RateKey>,
    /// What the upstream is told about the client.
    pub(crate) forwarding: ClientForwarding,
    /// The exchange record's text of the connection's last principal.
    pub(crate) principal_text: PrincipalText,
    /// The exchange record's text of the client's address.
    pub(crate) client_text: Box<[u8]>,
}

impl ConnectionInfo {
    /// A connection from `peer`, with its device certificate's identity if it presented one.
    pub fn new(peer: SocketAddr, device: Option<Arc<DeviceIdentity>>) -> Self {
        ConnectionInfo {
            peer,
            device,
            client_key: client_key(peer.ip()),
            first_rate_key: OnceLock::new(),
            forwarding: ClientForwarding::new(peer),
            principal_text: PrincipalText::default(),
            client_text: crate::record::client_text(peer),
        }
    }

    /// The rate-limit key of this client in `scope`: `"{client_key} {scope}"`.
    fn rate_key(&self, scope: &str) -> Cow<'_, str> {
        let first = self.first_rate_key.get_or_init(|| RateKey {
            scope: scope.into(),
            key: self.build_rate_key(scope).into(),
        });
        if *first.scope == *scope {
            Cow::Borrowed(&first.key)
        } else {
            Cow::Owned(self.build_rate_key(scope))
        }
    }

    fn build_rate_key(&self, scope: &str) -> String {
        let mut key = String::with_capacity(self.client_key.len() + 1 + scope.len());
        key.push_str(&self.client_key);
        key.push(' ');
        key.push_str(scope);
        key
    }
}

/// A rate-limit scope and the client's key in it.
#[derive(Debug)]
struct RateKey {
    scope: Box<str>,
    key: Box<str>,
}

/// Go on, or end the exchange with a decision.
type Flow<T = ()> = Result<T, Decision>;

/// Where a routed request goes.
enum Destination<'p> {
    /// Identity's endpoints: `/auth/...` and SMART discovery (public; identity checks the
    /// credentials its endpoints take).
    Identity,
    /// A department.
    Department(ResolvedRoute<'p>),
}

/// Run one exchange through every phase and answer it.
pub(crate) async fn run(
    shared: &Shared,
    connection: Arc<ConnectionInfo>,
    request: Request<Incoming>,
) -> Result<Response<RecordedBody>, Infallible> {
    // One policy snapshot for the whole exchange: a reload never mixes two policies.
    let active = shared.policy.current();
    let derived = shared.derived(&active);
    let received_at = SystemTime::now();
    let request_id = request_id(request.headers(), received_at);
    // The record is allocated once, here, with the exchange in it: the phases work on it in
    // place, and it is handed to the response body as it is (the exchange is several hundred
    // bytes; moved into a record at the end, it was copied three times).
    let mut pending = Box::new(PendingRecord {
        exchange: Exchange::begin(
            (request_id, received_at),
            connection,
            (request.method(), request.uri(), request.version()),
            active.version,
        ),
        status: 0,
        request_body: None,
        log: shared.log.clone(),
        metrics: Arc::clone(&shared.metrics),
    });
    let PendingRecord {
        exchange,
        request_body,
        ..
    } = &mut *pending;
    let response = match phases(
        shared,
        &active.policy,
        &derived.firewall,
        exchange,
        request,
        request_body,
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
    let response = respond(exchange, response);
    exchange.conclude(Phase::Respond, PhaseVerdict::Passed);
    Ok(record(pending, response))
}

/// The phases from read to forward; the first refusal ends the exchange.
async fn phases(
    shared: &Shared,
    policy: &Policy,
    firewall: &Firewall,
    exchange: &mut Exchange,
    request: Request<Incoming>,
    request_body: &mut Option<Arc<BodyProgress>>,
) -> Flow<Response<ResponseBody>> {
    let head = read(policy, &request);
    let resolved = conclude(exchange, Phase::Read, head)?;
    let identity_endpoint = wardgate_identity::http::handles(request.uri().path());

    let admitted = admit(
        shared,
        policy,
        exchange,
        resolved.as_ref(),
        identity_endpoint,
    )
    .await;
    conclude(exchange, Phase::Admit, admitted)?;

    // Identity's endpoints check their own credentials; an unknown path is refused anyway.
    let audience = resolved
        .as_ref()
        .filter(|_| !identity_endpoint)
        .map(|r| r.department_name());
    let authenticated = match audience {
        Some(department) => {
            let authorization = request.headers().get(header::AUTHORIZATION);
            access_control::authenticate(
                &shared.identity,
                exchange,
                authorization,
                Some(department),
            )
            .await
        }
        None => Ok(()),
    };
    conclude(exchange, Phase::Authenticate, authenticated)?;

    let routed = route(exchange, resolved, identity_endpoint);
    let destination = conclude(exchange, Phase::Route, routed)?;

    match destination {
        Destination::Identity => {
            exchange.conclude(Phase::Authorize, PhaseVerdict::Passed);
            let limits = policy.limits.route_limits();
            let read = read_body(exchange, request, limits, request_body).await?;
            let global = WafSettings {
                mode: policy.waf.mode,
                paranoia: policy.waf.paranoia,
            };
            let placement = Placement {
                department: None,
                settings: global,
                fhir: false,
            };
            inspect(shared, firewall, exchange, &read, placement, false)?;
            exchange.not_enforced(Phase::Observe);
            let response = forward::to_identity(shared, exchange, read).await;
            exchange.conclude(Phase::Forward, PhaseVerdict::Passed);
            Ok(response)
        }
        Destination::Department(resolved) => {
            department(
                shared,
                policy,
                firewall,
                exchange,
                &resolved,
                request,
                request_body,
            )
            .await
        }
    }
}

/// From authorize to forward, for a request to a department.
async fn department(
    shared: &Shared,
    policy: &Policy,
    firewall: &Firewall,
    exchange: &mut Exchange,
    resolved: &ResolvedRoute<'_>,
    request: Request<Incoming>,
    request_body: &mut Option<Arc<BodyProgress>>,
) -> Flow<Response<ResponseBody>> {
    let revoked = exchange
        .device
        .as_ref()
        .is_some_and(|d| shared.revocations.load().is_revoked(&d.fingerprint));
    let authorized = access_control::authorize(
        &shared.identity,
        exchange,
        revoked,
        resolved,
        relative_path(request.uri().path(), &resolved.department.prefix),
        request.uri().query(),
    );
    let authorized: Authorized = conclude(exchange, Phase::Authorize, authorized)?;

    let mut read = read_body(exchange, request, resolved.settings.limits, request_body).await?;

    // Only a body the authorization reads (a batch, a search form) needs its type.
    let content_type = (authorized.check_body != BodyCheck::None)
        .then(|| read.parts.headers.get(header::CONTENT_TYPE))
        .flatten()
        .and_then(|v| v.to_str().ok());
    let body_checked = access_control::authorize_body(
        &shared.identity,
        exchange,
        resolved,
        &authorized,
        read.parts.uri.query(),
        content_type,
        read.buffered(),
    );
    exchange.add_time(Phase::Authorize);
    let batch = match body_checked {
        Ok(batch) => batch,
        Err(decision) => {
            exchange.verdicts[Phase::Authorize as usize] = PhaseVerdict::Refused;
            return Err(decision);
        }
    };
    if let (Some(batch), Some(record)) = (&batch, exchange.authorization.as_mut()) {
        record.reason = batch.summary();
    }

    let placement = Placement {
        department: Some(resolved.department_name()),
        settings: resolved.settings.waf,
        fhir: matches!(authorized.asked, Asked::Fhir(_)),
    };
    let verified = token_verified(exchange);
    inspect(shared, firewall, exchange, &read, placement, verified)?;

    // observe: NOT ENFORCED YET (behaviour analytics): the principal's and device's profile
    // is updated here and may answer with a block or a step-up.
    exchange.not_enforced(Phase::Observe);

    // A batch with denied entries: only the others are forwarded (see batch.rs).
    if let Some(batch) = &batch {
        if batch.all_denied() {
            exchange.conclude(Phase::Forward, PhaseVerdict::Skipped);
            return Ok(batch::refused(batch, &exchange.request_id));
        }
        let forwarded = batch
            .forwarded_bundle(read.buffered())
            .map_err(Decision::bundle_unreadable)?;
        read.replace_body(forwarded);
        // The answer is read to put the 403s back: ask for it unencoded.
        read.parts.headers.remove(header::ACCEPT_ENCODING);
    }
    let progress = request_body
        .clone()
        .unwrap_or_else(|| Arc::new(BodyProgress::default()));
    let forwarded = forward::to_department(
        shared,
        policy,
        exchange,
        resolved,
        read,
        authorized.added_query.as_deref(),
        &progress,
    )
    .await;
    let forwarded = match (forwarded, &batch) {
        (Ok(response), Some(batch)) => {
            let timeout = policy.upstream.response_timeout;
            batch::answer(batch, response, &exchange.request_id, timeout).await
        }
        (forwarded, _) => forwarded,
    };
    conclude(exchange, Phase::Forward, forwarded)
}

/// The path below the department prefix, from its final slash (`/fhir/Patient/1`).
fn relative_path<'a>(path: &'a str, prefix: &str) -> &'a str {
    path.get(prefix.len() - 1..).unwrap_or("/")
}

/// Read the body under `limits` (part of the read phase: its time is added there).
async fn read_body(
    exchange: &mut Exchange,
    request: Request<Incoming>,
    limits: wardgate_policy::RouteLimits,
    request_body: &mut Option<Arc<BodyProgress>>,
) -> Flow<ReadRequest> {
    let read = forward::read_body(request, limits, request_body).await;
    exchange.add_time(Phase::Read);
    if read.is_err() {
        exchange.verdicts[Phase::Read as usize] = PhaseVerdict::Refused;
    }
    read
}

/// Note a phase's verdict and duration, and pass its result on.
fn conclude<T>(exchange: &mut Exchange, phase: Phase, result: Flow<T>) -> Flow<T> {
    let verdict = if result.is_ok() {
        PhaseVerdict::Passed
    } else {
        PhaseVerdict::Refused
    };
    exchange.conclude(phase, verdict);
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

/// The stricter limit on identity's endpoints that take credentials, per client address:
/// identity counts failures per account and address; this keeps a guessing client from
/// making the gateway spend Argon2 work at the route's clinical rate.
const CREDENTIAL_RATE: RateLimitPolicy = RateLimitPolicy {
    rate_per_second: 1.0,
    burst: 10,
};

type RateLimitPolicy = wardgate_policy::RateLimit;

/// Whether a path is one of identity's endpoints that check a password or a code.
fn takes_credentials(path: &str) -> bool {
    matches!(
        path,
        "/auth/login" | "/auth/mfa" | "/auth/token" | "/auth/step-up" | "/auth/break-glass"
    )
}

/// Count the request against its client's rate limit on this route.
async fn admit(
    shared: &Shared,
    policy: &Policy,
    exchange: &Exchange,
    resolved: Option<&ResolvedRoute<'_>>,
    identity_endpoint: bool,
) -> Flow {
    let (configured, scope) = if identity_endpoint {
        if takes_credentials(&exchange.path) {
            let stricter = RateLimitPolicy {
                rate_per_second: policy
                    .rate_limit
                    .rate_per_second
                    .min(CREDENTIAL_RATE.rate_per_second),
                burst: policy.rate_limit.burst.min(CREDENTIAL_RATE.burst),
            };
            (stricter, "/auth/ (credentials)")
        } else {
            (policy.rate_limit, "/auth/")
        }
    } else {
        let configured = resolved.map_or(policy.rate_limit, |r| r.settings.rate_limit);
        let scope = resolved.map_or("(unrouted)", |r| {
            r.route
                .map_or(r.department.prefix.as_str(), |route| route.path.as_str())
        });
        (configured, scope)
    };
    // The policy refuses a zero rate or burst at load, so this only guards the arithmetic.
    let Ok(limit) = RateLimit::new(configured.rate_per_second, configured.burst) else {
        return Ok(());
    };
    let key = exchange.connection.rate_key(scope);
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

/// The department that owns the path, or identity's endpoints; deny by default.
fn route<'p>(
    exchange: &mut Exchange,
    resolved: Option<ResolvedRoute<'p>>,
    identity_endpoint: bool,
) -> Flow<Destination<'p>> {
    if identity_endpoint {
        exchange.route = Some("/auth/".to_owned());
        return Ok(Destination::Identity);
    }
    let resolved = resolved.ok_or_else(Decision::unknown_route)?;
    exchange.department = Some(resolved.department_name().to_owned());
    exchange.route = resolved.route.map(|r| r.path.clone());
    Ok(Destination::Department(resolved))
}

// ---- inspect ----------------------------------------------------------------------------

/// The firewall over the request as read: a block ends the exchange with 403 (the client
/// learns the request id, the record the verdict); detect mode records and goes on.
/// `verified_authorization`: authenticate verified the request's bearer token
/// ([`token_verified`]).
fn inspect(
    shared: &Shared,
    firewall: &Firewall,
    exchange: &mut Exchange,
    request: &ReadRequest,
    placement: Placement<'_>,
    verified_authorization: bool,
) -> Flow {
    let inspected = Inspected {
        method: request.parts.method.as_str(),
        path: request.parts.uri.path(),
        query: request.parts.uri.query(),
        headers: &request.parts.headers,
        verified_authorization,
        body: request.buffered(),
    };
    let Some(verdict) = firewall.inspect(&inspected, placement) else {
        // The policy switched the firewall off on this route.
        exchange.conclude(Phase::Inspect, PhaseVerdict::NotEnforced);
        return Ok(());
    };
    let record = crate::firewall::record_of(&verdict);
    if record.outcome != "allowed" {
        shared
            .metrics
            .waf_verdict(record.class.unwrap_or("none"), record.outcome);
    }
    exchange.waf = Some(record);
    let result = if verdict.is_blocked() {
        Err(Decision::waf_blocked(verdict.explain()))
    } else {
        Ok(())
    };
    conclude(exchange, Phase::Inspect, result)
}

/// Whether the authenticate phase verified the request's `Authorization` header: only a
/// principal that came from a token (not from a certificate alone) had one verified. The
/// firewall then leaves a single such header unread (`firewall::headers_to_inspect`).
fn token_verified(exchange: &Exchange) -> bool {
    exchange
        .principal
        .as_ref()
        .is_some_and(|p| p.token_id.is_some())
}

// ---- respond ----------------------------------------------------------------------------

/// The request id header, echoed to the client and passed to departments.
pub(crate) static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

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
    if let Some(id) = &exchange.request_id_header {
        headers.insert(X_REQUEST_ID.clone(), id.clone());
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
    let body = OperationOutcome::error(decision.issue, decision.diagnostics.clone())
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
    if let Some(challenge) = decision.www_authenticate {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
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
    mut pending: Box<PendingRecord>,
    response: Response<ResponseBody>,
) -> Response<RecordedBody> {
    pending.status = response.status().as_u16();
    response.map(|body| RecordedBody::new(body, pending))
}

/// The client's request id if it is a plain token (echoed, as FHIR servers do), else a new
/// one. A client cannot inject anything into the record or the upstream's headers this way.
fn request_id(headers: &http::HeaderMap, received_at: SystemTime) -> String {
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
        None => new_request_id(received_at),
    }
}

thread_local! {
    /// The UUIDv7 counter of this thread: ids are unique and ordered by time of receipt, and
    /// ordered within a millisecond on a worker (uuid's `now_v7` takes one process-wide mutex
    /// per id, and reads the clock the exchange has just read).
    static REQUEST_IDS: uuid::ContextV7 = const { uuid::ContextV7::new() };
}

/// A new request id: a UUIDv7 of the time the request was received, as lowercase text.
fn new_request_id(received_at: SystemTime) -> String {
    let since_epoch = received_at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let id = REQUEST_IDS.with(|context| {
        uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
            context,
            since_epoch.as_secs(),
            since_epoch.subsec_nanos(),
        ))
    });
    // Written straight into a buffer, without the formatting machinery of `to_string`.
    id.hyphenated()
        .encode_lower(&mut uuid::Uuid::encode_buffer())
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::principal;

    #[test]
    fn ipv6_clients_share_a_bucket_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_eq!(client_key("::ffff:10.0.0.1".parse().unwrap()), "10.0.0.1");
    }

    #[test]
    fn rate_keys_are_the_client_and_the_scope() {
        let connection = ConnectionInfo::new("10.0.0.7:4000".parse().unwrap(), None);
        assert_eq!(connection.rate_key("/bench/"), "10.0.0.7 /bench/");
        // Another scope on the same connection has its own key; the first is kept.
        assert_eq!(connection.rate_key("/auth/"), "10.0.0.7 /auth/");
        assert_eq!(connection.rate_key("/bench/"), "10.0.0.7 /bench/");
    }

    fn exchange(principal: Option<wardgate_identity::Principal>) -> Exchange {
        let mut exchange = Exchange::begin(
            ("r1".to_owned(), std::time::SystemTime::now()),
            Arc::new(ConnectionInfo::new("127.0.0.1:5555".parse().unwrap(), None)),
            (
                &http::Method::GET,
                &"/bench/fhir/Patient/1".parse().unwrap(),
                http::Version::HTTP_11,
            ),
            1,
        );
        exchange.principal = principal.map(Arc::new);
        exchange
    }

    #[test]
    fn only_a_token_principal_had_its_authorization_verified() {
        // Anonymous (refused later anyway) or a certificate-only principal: not verified.
        assert!(!token_verified(&exchange(None)));
        let certificate_only = wardgate_identity::Principal {
            token_id: None,
            ..principal()
        };
        assert!(!token_verified(&exchange(Some(certificate_only))));
        assert!(token_verified(&exchange(Some(principal()))));
    }

    #[test]
    fn only_plain_request_ids_are_echoed() {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-request-id", HeaderValue::from_static("abc-123"));
        let now = SystemTime::now();
        assert_eq!(request_id(&headers, now), "abc-123");
        headers.insert("x-request-id", HeaderValue::from_static("a\"b"));
        let generated = request_id(&headers, now);
        assert_ne!(generated, "a\"b");
        // A new one is a UUIDv7 of the time of receipt, in its usual text form, and ids
        // made in the same millisecond differ and keep their order.
        let parsed = uuid::Uuid::parse_str(&generated).unwrap();
        assert_eq!(generated, parsed.to_string());
        assert_eq!(parsed.get_version_num(), 7);
        let millis = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        let (seconds, nanos) = parsed.get_timestamp().unwrap().to_unix();
        assert_eq!(
            u128::from(seconds) * 1000 + u128::from(nanos / 1_000_000),
            millis
        );
        let ids: Vec<String> = (0..100).map(|_| request_id(&headers, now)).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    }
}
