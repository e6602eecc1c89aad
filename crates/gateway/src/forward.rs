//! Reading the request body for inspection, and the forward phase: to identity's endpoints,
//! to a built-in department, or to an upstream URL.
//!
//! Which bodies are read whole before forwarding: every body the firewall can read (JSON and
//! FHIR JSON, forms, multipart/form-data, XML, text, and any type it does not know, which it
//! sniffs), up to the route's body limit and within its body read timeout, so the firewall
//! judges all of it and the department receives exactly the bytes that were judged. Binary
//! media the firewall skips anyway stream through under the same limits: `application/dicom`,
//! `multipart/related` whose `type` is `application/dicom` (DICOMweb STOW-RS), `image/*`,
//! `video/*`, `audio/*` and `application/octet-stream`. Buffering those would hold
//! gigabyte studies in memory for no inspection; their head (path, query, headers) is still
//! inspected.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use http::header;
use http::{Request, Response, Uri};
use http_body::Body;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use wardgate_policy::{Policy, ResolvedRoute, RouteLimits, UpstreamTarget};

use crate::body::{BodyError, BodyProgress, ForwardBody, GuardedBody, ResponseBody};
use crate::decision::Decision;
use crate::exchange::Exchange;
use crate::server::Shared;
use crate::upstream::{ForwardError, Forwarding, safe_host, upstream_target};

/// Go on, or end the exchange with a decision.
type Flow<T = ()> = Result<T, Decision>;

/// A request whose body has been read (or set up to stream) under its route's limits.
pub(crate) struct ReadRequest {
    /// Method, URI, headers.
    pub parts: http::request::Parts,
    /// The body: buffered (and so inspected) or streaming.
    pub body: ForwardBody,
}

impl ReadRequest {
    /// The buffered body, empty when it streams.
    pub(crate) fn buffered(&self) -> &[u8] {
        match &self.body {
            ForwardBody::Buffered(Some(bytes)) => bytes,
            _ => &[],
        }
    }

    /// Forward `body` instead of the buffered body read (a batch without its denied entries),
    /// with its Content-Length.
    pub(crate) fn replace_body(&mut self, body: Bytes) {
        self.parts.headers.insert(
            http::header::CONTENT_LENGTH,
            http::HeaderValue::from(body.len()),
        );
        self.parts.headers.remove(http::header::TRANSFER_ENCODING);
        self.body = ForwardBody::Buffered(Some(body));
    }
}

/// Whether a body of this `Content-Type` streams uninspected (see the module doc).
pub(crate) fn streams(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return false;
    };
    let lower = content_type.trim().to_ascii_lowercase();
    let essence = lower.split(';').next().unwrap_or_default().trim();
    match essence {
        "application/dicom" | "application/octet-stream" => true,
        "multipart/related" => lower.split(';').skip(1).any(|p| {
            p.trim()
                .strip_prefix("type=")
                .is_some_and(|t| t.trim_matches('"') == "application/dicom")
        }),
        _ => ["image/", "video/", "audio/"]
            .iter()
            .any(|m| essence.starts_with(m)),
    }
}

/// Read the body under `limits`: whole if the firewall should see it, else set up to stream.
/// The progress is kept for the exchange record either way.
pub(crate) async fn read_body(
    request: Request<Incoming>,
    limits: RouteLimits,
    request_body: &mut Option<Arc<BodyProgress>>,
) -> Flow<ReadRequest> {
    let (parts, incoming) = request.into_parts();
    let (guarded, progress) = GuardedBody::new(
        incoming,
        limits.max_body_bytes.bytes(),
        limits.body_read_timeout,
    );
    *request_body = Some(Arc::clone(&progress));
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if streams(content_type) {
        return Ok(ReadRequest {
            parts,
            body: ForwardBody::Streamed(guarded),
        });
    }
    // No body (a GET): nothing to wait for.
    if guarded.is_end_stream() {
        return Ok(ReadRequest {
            parts,
            body: ForwardBody::Buffered(None),
        });
    }
    let whole = guarded
        .collect()
        .await
        .map_err(|_| body_refusal(&progress, limits))?
        .to_bytes();
    Ok(ReadRequest {
        parts,
        body: ForwardBody::Buffered((!whole.is_empty()).then_some(whole)),
    })
}

/// The refusal for a body cut off by a limit or by the client.
fn body_refusal(progress: &BodyProgress, limits: RouteLimits) -> Decision {
    match progress.failure() {
        Some(BodyError::TooLarge) => Decision::body_too_large(limits.max_body_bytes.bytes()),
        Some(BodyError::Timeout) => Decision::body_timeout(limits.body_read_timeout),
        _ => Decision::upstream_unavailable("client stopped sending the body".to_owned()),
    }
}

/// The whole body, reading the rest of a streaming one (built-in services take it whole).
async fn whole_body(
    body: ForwardBody,
    progress: &BodyProgress,
    limits: RouteLimits,
) -> Flow<Bytes> {
    match body {
        ForwardBody::Buffered(bytes) => Ok(bytes.unwrap_or_default()),
        ForwardBody::Streamed(guarded) => Ok(guarded
            .collect()
            .await
            .map_err(|_| body_refusal(progress, limits))?
            .to_bytes()),
    }
}

/// Answer one of identity's endpoints (`/auth/...`, SMART discovery) in process.
pub(crate) async fn to_identity(
    shared: &Shared,
    exchange: &Exchange,
    request: ReadRequest,
) -> Response<ResponseBody> {
    let body = match request.body {
        ForwardBody::Buffered(bytes) => bytes.unwrap_or_default(),
        // Identity's endpoints take forms and JSON; a binary upload there is not read.
        ForwardBody::Streamed(_) => Bytes::new(),
    };
    let context = wardgate_identity::http::RequestContext {
        peer_address: exchange.connection.peer.ip().to_string(),
        client_cert_fingerprint: exchange.device.as_ref().map(|d| d.fingerprint.to_string()),
        request_id: Some(exchange.request_id.clone()),
    };
    let response = shared
        .identity
        .handle(Request::from_parts(request.parts, body), &context)
        .await;
    response.map(ResponseBody::full)
}

/// Hand the request to its department: in process (`builtin`) or to the upstream URL, with
/// the parameters the authorization added (`added_query`) appended to its query.
pub(crate) async fn to_department(
    shared: &Shared,
    policy: &Policy,
    exchange: &Exchange,
    resolved: &ResolvedRoute<'_>,
    request: ReadRequest,
    added_query: Option<&str>,
    progress: &BodyProgress,
) -> Flow<Response<ResponseBody>> {
    let ReadRequest { mut parts, body } = request;
    let limits = resolved.settings.limits;
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
    let relative = relative_to_department(&parts.uri, &resolved.department.prefix, added_query)?;
    let department = resolved.department_name();

    match resolved.upstream() {
        UpstreamTarget::Builtin => {
            parts.uri = relative.parse().map_err(|_| Decision::unknown_route())?;
            let Some(service) = shared.departments.as_ref() else {
                return Err(Decision::builtin_unavailable(department));
            };
            let whole = whole_body(body, progress, limits).await?;
            crate::upstream::strip_hop_by_hop(&mut parts.headers);
            if let Some(id) = &exchange.request_id_header {
                parts
                    .headers
                    .insert(crate::pipeline::X_REQUEST_ID.clone(), id.clone());
            }
            let response = service
                .handle(department, Request::from_parts(parts, whole))
                .await;
            Ok(response.map(ResponseBody::full))
        }
        UpstreamTarget::Url(base) => {
            // One URI parse: the upstream's target straight from the relative text.
            parts.uri = match upstream_target(base, &relative) {
                Some(target) => target,
                None if relative.parse::<Uri>().is_err() => return Err(Decision::unknown_route()),
                None => {
                    return Err(Decision::upstream_unavailable(
                        "cannot form the upstream URI".to_owned(),
                    ));
                }
            };
            let forwarding = Forwarding {
                client: &exchange.connection.forwarding,
                host: host.as_deref(),
                request_id: exchange.request_id_header.as_ref(),
            };
            let request = Request::from_parts(parts, body);
            match shared
                .upstreams()
                .forward(
                    &policy.upstream,
                    base,
                    request,
                    &forwarding,
                    progress,
                    exchange.phase_start(),
                )
                .await
            {
                Ok(response) => Ok(response),
                Err(ForwardError::Timeout(timeout)) => Err(Decision::upstream_timeout(timeout)),
                Err(ForwardError::Body) => Err(body_refusal(progress, limits)),
                Err(ForwardError::Unavailable(detail)) => match progress.failure() {
                    Some(_) => Err(body_refusal(progress, limits)),
                    None => Err(Decision::upstream_unavailable(detail)),
                },
            }
        }
    }
}

/// The request target below its department (`/emergency/fhir/Patient?x` ->
/// `/fhir/Patient?x`), with `added` parameters appended to the query.
pub(crate) fn relative_to_department<'u>(
    uri: &'u Uri,
    prefix: &str,
    added: Option<&str>,
) -> Flow<Cow<'u, str>> {
    let path_and_query = uri.path_and_query().map_or("/", |pq| pq.as_str());
    // The prefix is `/{name}/`: keep its final slash as the start of the relative path.
    let relative = path_and_query
        .get(prefix.len() - 1..)
        .ok_or_else(Decision::unknown_route)?;
    Ok(match added {
        None => Cow::Borrowed(relative),
        Some(added) => {
            let separator = match uri.query() {
                None => "?",
                Some("") => "",
                Some(_) => "&",
            };
            Cow::Owned(format!("{relative}{separator}{added}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_department_prefix_is_removed_and_the_query_kept() {
        let uri: Uri = "/emergency/fhir/Patient?name=x".parse().unwrap();
        assert_eq!(
            relative_to_department(&uri, "/emergency/", None).unwrap(),
            "/fhir/Patient?name=x"
        );
        let with_empty_query: Uri = "/emergency/fhir/Patient?".parse().unwrap();
        assert_eq!(
            relative_to_department(&with_empty_query, "/emergency/", Some("_id=p1")).unwrap(),
            "/fhir/Patient?_id=p1"
        );
        assert_eq!(
            relative_to_department(&uri, "/emergency/", Some("_id=p1")).unwrap(),
            "/fhir/Patient?name=x&_id=p1"
        );
        let bare: Uri = "/emergency/fhir/Observation".parse().unwrap();
        assert_eq!(
            relative_to_department(&bare, "/emergency/", Some("patient=Patient/p1")).unwrap(),
            "/fhir/Observation?patient=Patient/p1"
        );
    }

    #[test]
    fn binary_media_stream_and_everything_else_is_read() {
        for streamed in [
            "application/dicom",
            "multipart/related; type=\"application/dicom\"; boundary=x",
            "image/png",
            "application/octet-stream",
        ] {
            assert!(streams(Some(streamed)), "{streamed}");
        }
        for read in [
            None,
            Some("application/fhir+json"),
            Some("multipart/related; type=\"application/dicom+json\"; boundary=x"),
            Some("multipart/form-data; boundary=x"),
            Some("text/plain"),
            Some("application/x-unknown"),
        ] {
            assert!(!streams(read), "{read:?}");
        }
    }
}
