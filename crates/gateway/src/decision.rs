//! Decisions that end an exchange: status, stable code, and the reason for the record.

use std::borrow::Cow;
use std::time::Duration;

use http::StatusCode;
use wardgate_fhir::outcome::IssueCode;

/// Why the gateway answered a request itself instead of forwarding it. The `code` is stable
/// (clients and scripts match on it); `diagnostics` is what the client reads; `reason` is for
/// the exchange record only and may be more precise, but never holds secrets or payloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The HTTP status answered.
    pub status: StatusCode,
    /// The stable wardgate code (`wardgate.rate-limited`).
    pub code: &'static str,
    /// The FHIR issue type.
    pub issue: IssueCode,
    /// What the client is told.
    pub diagnostics: Cow<'static, str>,
    /// What the record says.
    pub reason: String,
    /// For 429: when to come back.
    pub retry_after: Option<Duration>,
    /// Whether the connection must be closed after the answer (the rest of its bytes cannot
    /// be trusted to be framed as the client meant).
    pub close_connection: bool,
    /// For 401: the `WWW-Authenticate` challenge (RFC 6750).
    pub www_authenticate: Option<&'static str>,
}

impl Decision {
    fn new(
        status: StatusCode,
        code: &'static str,
        issue: IssueCode,
        diagnostics: impl Into<Cow<'static, str>>,
        reason: String,
    ) -> Self {
        Decision {
            status,
            code,
            issue,
            diagnostics: diagnostics.into(),
            reason,
            retry_after: None,
            close_connection: false,
            www_authenticate: None,
        }
    }

    /// The request head (request line and headers) is larger than allowed.
    pub fn header_too_large(size: usize, limit: u64) -> Self {
        let mut d = Decision::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "wardgate.limit.header-too-large",
            IssueCode::TooLong,
            "The request headers are larger than this gateway accepts.",
            format!("request head of {size} bytes exceeds the limit of {limit}"),
        );
        d.close_connection = true;
        d
    }

    /// The body is (or declares itself) larger than the route allows.
    pub fn body_too_large(limit: u64) -> Self {
        let mut d = Decision::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "wardgate.limit.body-too-large",
            IssueCode::TooLong,
            "The request body is larger than this route accepts.",
            format!("request body exceeds the route's limit of {limit} bytes"),
        );
        d.close_connection = true;
        d
    }

    /// The body did not arrive within the route's body read timeout.
    pub fn body_timeout(timeout: Duration) -> Self {
        let mut d = Decision::new(
            StatusCode::REQUEST_TIMEOUT,
            "wardgate.limit.body-timeout",
            IssueCode::Timeout,
            "The request body was not received in time.",
            format!(
                "request body not complete within {} ms",
                timeout.as_millis()
            ),
        );
        d.close_connection = true;
        d
    }

    /// The request's framing is ambiguous (both Content-Length and Transfer-Encoding).
    pub fn ambiguous_length() -> Self {
        let mut d = Decision::new(
            StatusCode::BAD_REQUEST,
            "wardgate.request.ambiguous-length",
            IssueCode::Structure,
            "The request has both Content-Length and Transfer-Encoding.",
            "request framing is ambiguous (Content-Length with Transfer-Encoding)".to_owned(),
        );
        d.close_connection = true;
        d
    }

    /// The client has sent more requests than its rate limit allows.
    pub fn rate_limited(retry_after: Duration, key_scope: &str) -> Self {
        let mut d = Decision::new(
            StatusCode::TOO_MANY_REQUESTS,
            "wardgate.rate-limited",
            IssueCode::Throttled,
            "Too many requests from this client; retry after the time in Retry-After.",
            format!("rate limit of {key_scope} exceeded"),
        );
        d.retry_after = Some(retry_after);
        d
    }

    /// No department claims the path, or the path is not in normal form.
    pub fn unknown_route() -> Self {
        Decision::new(
            StatusCode::NOT_FOUND,
            "wardgate.route.unknown",
            IssueCode::NotFound,
            "No department API is served at this path.",
            "no department claims this path (or it is not in normal form)".to_owned(),
        )
    }

    /// The route needs a device certificate and the client presented none.
    pub fn mtls_required(department: &str) -> Self {
        Decision::new(
            StatusCode::FORBIDDEN,
            "wardgate.mtls.required",
            IssueCode::Security,
            "This department requires a device certificate (mutual TLS).",
            format!("department {department} requires a device certificate; none presented"),
        )
    }

    /// The client's device certificate belongs to a zone the department does not allow.
    pub fn zone_denied(department: &str, zone: Option<&str>) -> Self {
        Decision::new(
            StatusCode::FORBIDDEN,
            "wardgate.zone.denied",
            IssueCode::Forbidden,
            "Devices of this zone may not reach this department.",
            format!(
                "device zone {} not allowed in department {department}",
                zone.unwrap_or("(none)")
            ),
        )
    }

    /// The client's device certificate has been revoked.
    pub fn device_revoked() -> Self {
        Decision::new(
            StatusCode::FORBIDDEN,
            "wardgate.device.revoked",
            IssueCode::Security,
            "This device's certificate has been revoked.",
            "device certificate revoked".to_owned(),
        )
    }

    /// The department is built in and no built-in service is running.
    pub fn builtin_unavailable(department: &str) -> Self {
        Decision::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "wardgate.department.unavailable",
            IssueCode::Transient,
            "The built-in service of this department is not available.",
            format!("department {department} is builtin and no built-in service is running"),
        )
    }

    /// The upstream could not be reached or broke the exchange.
    pub fn upstream_unavailable(detail: String) -> Self {
        Decision::new(
            StatusCode::BAD_GATEWAY,
            "wardgate.upstream.unavailable",
            IssueCode::Transient,
            "The department service could not be reached.",
            detail,
        )
    }

    /// The department answered a batch whose denied entries the gateway took out with
    /// something it cannot put the 403s back into.
    pub fn batch_unmergeable(detail: String) -> Self {
        Decision::new(
            StatusCode::BAD_GATEWAY,
            "wardgate.upstream.batch-unmergeable",
            IssueCode::Exception,
            "The department's answer to the batch could not be completed with the denied entries.",
            detail,
        )
    }

    /// The upstream did not answer in time.
    pub fn upstream_timeout(timeout: Duration) -> Self {
        Decision::new(
            StatusCode::GATEWAY_TIMEOUT,
            "wardgate.upstream.timeout",
            IssueCode::Timeout,
            "The department service did not answer in time.",
            format!("no response head within {} ms", timeout.as_millis()),
        )
    }

    /// The gateway is shutting down and takes no new exchanges.
    pub fn shutting_down() -> Self {
        let mut d = Decision::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "wardgate.shutting-down",
            IssueCode::Transient,
            "The gateway is restarting; retry shortly.",
            "received while draining for shutdown".to_owned(),
        );
        d.close_connection = true;
        d
    }
}

/// The challenge for a missing or refused bearer token (RFC 6750 section 3).
const INVALID_TOKEN: &str = "Bearer error=\"invalid_token\"";
/// The challenge for a token whose second factor is too old (RFC 9470).
const STEP_UP: &str = "Bearer error=\"insufficient_user_authentication\"";

/// Decisions of the authenticate, authorize and inspect phases.
impl Decision {
    /// A department API was called without credentials (deny by default).
    pub fn authentication_required(department: &str) -> Self {
        let mut d = Decision::new(
            StatusCode::UNAUTHORIZED,
            "wardgate.auth.required",
            IssueCode::Login,
            "This department API needs an access token (Authorization: Bearer ...).",
            format!("anonymous request to department {department}"),
        );
        d.www_authenticate = Some("Bearer");
        d
    }

    /// The credentials presented were refused (expired, revoked, wrong audience, forged...).
    pub fn invalid_token(code: &'static str, reason: String) -> Self {
        let mut d = Decision::new(
            StatusCode::UNAUTHORIZED,
            code,
            IssueCode::Login,
            "The access token is invalid or expired.",
            reason,
        );
        d.www_authenticate = Some(INVALID_TOKEN);
        d
    }

    /// The identity service failed while checking the credentials.
    pub fn authentication_unavailable() -> Self {
        Decision::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "wardgate.auth.unavailable",
            IssueCode::Transient,
            "Credentials cannot be checked right now; retry shortly.",
            "the identity store failed while authenticating".to_owned(),
        )
    }

    /// The authorize phase denied the exchange; `rule` is identity's stable rule code and
    /// `reason` its sentence (which names no secret and no internal).
    pub fn access_denied(rule: &'static str, reason: String) -> Self {
        Decision::new(
            StatusCode::FORBIDDEN,
            rule,
            IssueCode::Forbidden,
            reason.clone(),
            reason,
        )
    }

    /// The interaction needs a recent second factor: the client steps up and retries.
    pub fn step_up_required(rule: &'static str, reason: String) -> Self {
        let mut d = Decision::new(
            StatusCode::UNAUTHORIZED,
            rule,
            IssueCode::Login,
            reason.clone(),
            reason,
        );
        d.www_authenticate = Some(STEP_UP);
        d
    }

    /// A path under a FHIR base that is not a FHIR interaction (the classification said why).
    pub fn not_a_fhir_interaction(reason: String) -> Self {
        Decision::new(
            StatusCode::BAD_REQUEST,
            "wardgate.fhir.not-an-interaction",
            IssueCode::NotSupported,
            "The request does not address a FHIR interaction.",
            reason,
        )
    }

    /// A DICOMweb request this gateway does not authorize (only QIDO, WADO and STOW are).
    pub fn dicom_not_supported(reason: String) -> Self {
        Decision::new(
            StatusCode::FORBIDDEN,
            "wardgate.dicomweb.not-authorized",
            IssueCode::Forbidden,
            "Only DICOMweb search, retrieve and store are allowed through this gateway.",
            reason,
        )
    }

    /// A batch or transaction Bundle that cannot be read entry by entry. The client is told
    /// why (`entry 3's url is not below this FHIR base`): the reason names only the client's
    /// own Bundle, bounded, never the payload of an entry.
    pub fn bundle_unreadable(reason: String) -> Self {
        Decision::new(
            StatusCode::BAD_REQUEST,
            "wardgate.fhir.bundle-unreadable",
            IssueCode::Structure,
            format!("The batch or transaction Bundle cannot be read entry by entry: {reason}."),
            reason,
        )
    }

    /// The firewall judged the request an attack. The client learns no more than that (the
    /// verdict, with the excerpt, stays in the exchange record).
    pub fn waf_blocked(reason: String) -> Self {
        Decision::new(
            StatusCode::FORBIDDEN,
            "wardgate.waf.blocked",
            IssueCode::Security,
            "The request was refused by the web application firewall. Quote the request id \
             to the hospital's security team if this is an error.",
            reason,
        )
    }
}
