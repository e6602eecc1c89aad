//! Answers of the FHIR service: resources, Bundles and OperationOutcome errors.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use wardgate_fhir::outcome::{IssueCode, OperationOutcome};

/// A refusal or failure, answered as an OperationOutcome with a stable wardgate code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FhirError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The FHIR issue type.
    pub code: IssueCode,
    /// The stable wardgate code.
    pub wardgate_code: &'static str,
    /// What went wrong, for the client: never internals, never the offending payload.
    pub diagnostics: String,
    /// The element concerned, as a FHIRPath expression.
    pub expression: Option<String>,
}

impl FhirError {
    /// A new error.
    pub fn new(
        status: StatusCode,
        code: IssueCode,
        wardgate_code: &'static str,
        diagnostics: impl Into<String>,
    ) -> Self {
        FhirError {
            status,
            code,
            wardgate_code,
            diagnostics: diagnostics.into(),
            expression: None,
        }
    }

    /// Name the element concerned.
    pub fn at(mut self, expression: impl Into<String>) -> Self {
        self.expression = Some(expression.into());
        self
    }

    /// 400 invalid content.
    pub fn invalid(wardgate_code: &'static str, diagnostics: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            IssueCode::Invalid,
            wardgate_code,
            diagnostics,
        )
    }

    /// 400 for a feature this department does not offer.
    pub fn not_supported(wardgate_code: &'static str, diagnostics: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            IssueCode::NotSupported,
            wardgate_code,
            diagnostics,
        )
    }

    /// 404.
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            IssueCode::NotFound,
            "wardgate.departments.not-found",
            "no such resource",
        )
    }

    /// 410 for a deleted resource.
    pub fn gone() -> Self {
        Self::new(
            StatusCode::GONE,
            IssueCode::Deleted,
            "wardgate.departments.deleted",
            "the resource was deleted",
        )
    }

    /// 412.
    pub fn precondition(diagnostics: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            IssueCode::Conflict,
            "wardgate.departments.precondition-failed",
            diagnostics,
        )
    }

    /// 409 when a concurrent write won.
    pub fn conflict() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            IssueCode::Conflict,
            "wardgate.departments.conflict",
            "the resource was changed by another request; read it again and retry",
        )
    }

    /// 413.
    pub fn too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            IssueCode::TooLong,
            "wardgate.departments.too-large",
            "the body is larger than this department accepts",
        )
    }

    /// 500, with no detail for the client (the cause goes to the operator's log).
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            IssueCode::Exception,
            "wardgate.departments.internal",
            "the department could not complete the request",
        )
    }

    /// The OperationOutcome of this error.
    pub fn outcome(&self) -> OperationOutcome {
        let mut outcome = OperationOutcome::error(self.code, self.diagnostics.clone())
            .with_code(self.wardgate_code);
        if let Some(expression) = &self.expression {
            outcome = outcome.with_expression(expression.clone());
        }
        outcome
    }

    /// The error as an HTTP answer.
    pub fn into_response(self) -> Response<Bytes> {
        fhir_response(
            self.status,
            self.outcome().to_json_string().into_bytes(),
            &[],
        )
    }

    /// The error as an HTTP answer carrying the request's `X-Request-Id` (set by the gateway),
    /// so a clinician's report can be matched to the exchange record.
    pub fn into_response_for(self, headers: &http::HeaderMap) -> Response<Bytes> {
        let request_id = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|id| {
                !id.is_empty()
                    && id.len() <= 128
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
            });
        let outcome = match request_id {
            Some(id) => self.outcome().with_request_id(id),
            None => self.outcome(),
        };
        fhir_response(self.status, outcome.to_json_string().into_bytes(), &[])
    }
}

impl From<crate::store::StoreError> for FhirError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Conflict => FhirError::conflict(),
            other => {
                tracing_log(&other);
                FhirError::internal()
            }
        }
    }
}

impl From<crate::crypto::CryptoError> for FhirError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        tracing_log(&e);
        FhirError::internal()
    }
}

/// Where a department reports failures the client does not see.
pub(crate) fn tracing_log(error: &dyn std::fmt::Display) {
    // The error texts here name tables or keys, never patient data or key material.
    tracing::error!(%error, "department request failed");
}

/// A FHIR JSON answer with extra headers.
pub fn fhir_response(
    status: StatusCode,
    body: Vec<u8>,
    headers: &[(header::HeaderName, String)],
) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(body));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(wardgate_fhir::FHIR_JSON),
    );
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(value) {
            h.insert(name.clone(), value);
        }
    }
    response
}

/// An answer with no body.
pub fn empty_response(status: StatusCode) -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = status;
    response
}
