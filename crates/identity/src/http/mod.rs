//! The HTTP face of identity: SMART discovery, JWKS and the `/auth/...` endpoints, as a
//! function from `http::Request<Bytes>` to `http::Response<Bytes>` the gateway mounts.
//!
//! | method and path | what |
//! | --- | --- |
//! | `GET /.well-known/smart-configuration`, `GET /{department}/fhir/.well-known/smart-configuration` | SMART discovery |
//! | `GET /auth/jwks` | the public signing keys |
//! | `POST /auth/login` (`username`, `password`) | step 1: `mfa_ticket`, or tokens if no MFA is required |
//! | `POST /auth/mfa` (`mfa_ticket`, `code`, `scope`?, `patient`?) | step 2: tokens |
//! | `POST /auth/token` (`grant_type=refresh_token` or `client_credentials`) | tokens |
//! | `POST /auth/revoke` (`token`) | revoke the token's session (RFC 7009) |
//! | `POST /auth/step-up` (bearer, `code`) | a token with a fresh `auth_time` |
//! | `POST /auth/break-glass` (bearer, `reason`, `patient`?, `code`?) | an emergency token |
//! | `POST /auth/break-glass/end` (bearer) | end the emergency |
//!
//! OAuth endpoints (`login`, `mfa`, `token`, `revoke`) answer errors as OAuth JSON; the others
//! as FHIR `OperationOutcome`.

pub mod form;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use serde_json::{Value, json};
use wardgate_fhir::outcome::{IssueCode, OperationOutcome};

use crate::auth_error::AuthError;
use crate::authenticate::bearer_token;
use crate::client_assertion::ClientAuth;
use crate::issue::TokenRequest;
use crate::login::LoginStep;
use crate::principal::Principal;
use crate::service::Identity;
use form::Form;

/// What the gateway knows about the connection an `/auth` request came on.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// The client's IP address (for per-address failure counting).
    pub peer_address: String,
    /// SHA-256 fingerprint of the verified client certificate, if any.
    pub client_cert_fingerprint: Option<String>,
    /// The exchange's request id (echoed in OperationOutcome bodies).
    pub request_id: Option<String>,
}

/// Whether `path` is one identity answers (so the gateway can route it here).
pub fn handles(path: &str) -> bool {
    path == "/.well-known/smart-configuration"
        || path.starts_with("/auth/")
        || smart_department(path).is_some()
}

fn smart_department(path: &str) -> Option<&str> {
    let rest = path.strip_prefix('/')?;
    let (department, tail) = rest.split_once('/')?;
    (tail == "fhir/.well-known/smart-configuration" && !department.is_empty()).then_some(department)
}

fn json_response(status: StatusCode, body: &Value) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(body.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn oauth_error(error: &AuthError) -> Response<Bytes> {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = json_response(
        status,
        &json!({ "error": error.oauth_code(), "error_description": error.public_description() }),
    );
    if let AuthError::Locked { retry_after } = error
        && let Ok(v) = HeaderValue::from_str(&retry_after.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

fn outcome(
    status: StatusCode,
    code: IssueCode,
    wardgate_code: &str,
    text: &str,
    ctx: &RequestContext,
) -> Response<Bytes> {
    let mut outcome = OperationOutcome::error(code, text).with_code(wardgate_code);
    if let Some(id) = &ctx.request_id {
        outcome = outcome.with_request_id(id.clone());
    }
    let mut response = Response::new(Bytes::from(outcome.to_json_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(wardgate_fhir::FHIR_JSON),
    );
    response
}

fn outcome_for(error: &AuthError, ctx: &RequestContext) -> Response<Bytes> {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let code = match error.status() {
        401 => IssueCode::Login,
        403 => IssueCode::Forbidden,
        429 => IssueCode::Throttled,
        500 => IssueCode::Exception,
        _ => IssueCode::Invalid,
    };
    let mut response = outcome(
        status,
        code,
        &format!("wardgate.auth.{}", error.oauth_code()),
        &error.public_description(),
        ctx,
    );
    if error.status() == 401 {
        let challenge = match error {
            AuthError::StepUpRequired => "Bearer error=\"insufficient_user_authentication\"",
            _ => "Bearer error=\"invalid_token\"",
        };
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
    response
}

impl Identity {
    /// The SMART configuration document (for the whole gateway or one department).
    pub fn smart_configuration(&self, department: Option<&str>) -> Value {
        let issuer = &self.inner.issuer;
        let policy = self.policy();
        let mut scopes: Vec<String> =
            vec!["openid".into(), "fhirUser".into(), "offline_access".into()];
        for role in policy.roles.values() {
            for s in &role.scopes {
                if !scopes.contains(s) {
                    scopes.push(s.clone());
                }
            }
        }
        let mut doc = json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/auth/jwks"),
            "token_endpoint": self.token_endpoint(),
            "revocation_endpoint": format!("{issuer}/auth/revoke"),
            "grant_types_supported": ["refresh_token", "client_credentials"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt", "tls_client_auth"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
            "scopes_supported": scopes,
            "response_types_supported": [],
            "capabilities": [
                "permission-v2",
                "permission-v1",
                "permission-user",
                "permission-patient",
                "permission-offline",
                "client-confidential-asymmetric"
            ],
            "wardgate_login_endpoint": format!("{issuer}/auth/login"),
            "wardgate_mfa_endpoint": format!("{issuer}/auth/mfa"),
            "wardgate_break_glass_endpoint": format!("{issuer}/auth/break-glass"),
        });
        if let Some(d) = department {
            doc["fhir_base"] = json!(crate::tokens::fhir_base(issuer, d));
        }
        doc
    }

    /// Answer one request under `/auth/...` or a SMART discovery path.
    pub async fn handle(&self, request: Request<Bytes>, ctx: &RequestContext) -> Response<Bytes> {
        let path = request.uri().path().to_owned();
        let method = request.method().clone();
        let not_found = || {
            outcome(
                StatusCode::NOT_FOUND,
                IssueCode::NotFound,
                "wardgate.auth.not-found",
                "no such endpoint",
                ctx,
            )
        };
        if method == Method::GET {
            if path == "/.well-known/smart-configuration" {
                return json_response(StatusCode::OK, &self.smart_configuration(None));
            }
            if let Some(department) = smart_department(&path) {
                if !self.policy().has_department(department) {
                    return not_found();
                }
                return json_response(StatusCode::OK, &self.smart_configuration(Some(department)));
            }
            if path == "/auth/jwks" {
                let mut r = json_response(StatusCode::OK, &self.jwks());
                // Relying parties may cache the JWKS briefly; rotation pre-publishes keys.
                r.headers_mut().insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=300"),
                );
                r.headers_mut().remove(header::PRAGMA);
                return r;
            }
            return not_found();
        }
        if method != Method::POST {
            return outcome(
                StatusCode::METHOD_NOT_ALLOWED,
                IssueCode::NotSupported,
                "wardgate.auth.method",
                "method not allowed",
                ctx,
            );
        }
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let authorization = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let form = match form::parse_body(content_type.as_deref(), request.body()) {
            Ok(form) => form,
            Err(_) => {
                let e = AuthError::InvalidRequest(
                    "the body must be form-encoded or a JSON object of strings",
                );
                return if is_oauth(&path) {
                    oauth_error(&e)
                } else {
                    outcome_for(&e, ctx)
                };
            }
        };
        match path.as_str() {
            "/auth/login" => self.post_login(&form, ctx).await,
            "/auth/mfa" => self.post_mfa(&form, ctx).await,
            "/auth/token" => self.post_token(&form, ctx).await,
            "/auth/revoke" => match form.get("token") {
                Some(token) => match self.revoke_token(token).await {
                    Ok(()) => json_response(StatusCode::OK, &json!({})),
                    Err(e) => oauth_error(&e),
                },
                None => oauth_error(&AuthError::InvalidRequest("token is required")),
            },
            "/auth/step-up" | "/auth/break-glass" | "/auth/break-glass/end" => {
                let principal = match self.bearer_principal(authorization.as_deref()) {
                    Ok(p) => p,
                    Err(e) => return outcome_for(&e, ctx),
                };
                let result = match path.as_str() {
                    "/auth/step-up" => match form.get("code") {
                        Some(code) => self
                            .step_up(&principal, code, &token_request(&form))
                            .await
                            .map(|t| t.to_json()),
                        None => Err(AuthError::InvalidRequest("code is required")),
                    },
                    "/auth/break-glass" => self
                        .declare_break_glass(
                            &principal,
                            form.get("reason").unwrap_or_default(),
                            form.get("patient"),
                            form.get("code"),
                        )
                        .await
                        .map(|t| t.to_json()),
                    _ => self
                        .end_break_glass(&principal)
                        .await
                        .map(|()| json!({ "ended": true })),
                };
                match result {
                    Ok(body) => json_response(StatusCode::OK, &body),
                    Err(e) => outcome_for(&e, ctx),
                }
            }
            _ => not_found(),
        }
    }

    fn bearer_principal(&self, authorization: Option<&str>) -> Result<Principal, AuthError> {
        let token = authorization
            .and_then(bearer_token)
            .ok_or(AuthError::InvalidToken(
                crate::tokens::TokenError::Malformed,
            ))?;
        self.verify_access_token(token, None)
    }

    async fn post_login(&self, form: &Form, ctx: &RequestContext) -> Response<Bytes> {
        let (Some(name), Some(password)) = (form.get("username"), form.get("password")) else {
            return oauth_error(&AuthError::InvalidRequest(
                "username and password are required",
            ));
        };
        match self
            .login_password(name, password, &ctx.peer_address, &token_request(form))
            .await
        {
            Ok(LoginStep::MfaRequired { ticket, expires_in }) => json_response(
                StatusCode::OK,
                &json!({ "mfa_required": true, "mfa_ticket": ticket, "expires_in": expires_in }),
            ),
            Ok(LoginStep::Tokens(tokens)) => json_response(StatusCode::OK, &tokens.to_json()),
            Err(e) => oauth_error(&e),
        }
    }

    async fn post_mfa(&self, form: &Form, ctx: &RequestContext) -> Response<Bytes> {
        let (Some(ticket), Some(code)) = (form.get("mfa_ticket"), form.get("code")) else {
            return oauth_error(&AuthError::InvalidRequest(
                "mfa_ticket and code are required",
            ));
        };
        match self
            .login_mfa(ticket, code, &ctx.peer_address, &token_request(form))
            .await
        {
            Ok(tokens) => json_response(StatusCode::OK, &tokens.to_json()),
            Err(e) => oauth_error(&e),
        }
    }

    async fn post_token(&self, form: &Form, ctx: &RequestContext) -> Response<Bytes> {
        let result = match form.get("grant_type") {
            Some("refresh_token") => match form.get("refresh_token") {
                Some(token) => self.refresh(token, &token_request(form)).await,
                None => Err(AuthError::InvalidRequest("refresh_token is required")),
            },
            Some("client_credentials") => {
                let auth = ClientAuth {
                    client_id: form.get("client_id"),
                    assertion_type: form.get("client_assertion_type"),
                    assertion: form.get("client_assertion"),
                    cert_fingerprint: ctx.client_cert_fingerprint.as_deref(),
                };
                self.client_credentials(auth, form.get("scope")).await
            }
            Some(_) => Err(AuthError::UnsupportedGrant),
            None => Err(AuthError::InvalidRequest("grant_type is required")),
        };
        match result {
            Ok(tokens) => json_response(StatusCode::OK, &tokens.to_json()),
            Err(e) => oauth_error(&e),
        }
    }
}

fn is_oauth(path: &str) -> bool {
    matches!(
        path,
        "/auth/login" | "/auth/mfa" | "/auth/token" | "/auth/revoke"
    )
}

fn token_request(form: &Form) -> TokenRequest {
    TokenRequest {
        scope: form.get("scope").map(str::to_owned),
        patient: form.get("patient").map(str::to_owned),
        client_id: form.get("client_id").map(str::to_owned),
    }
}
