//! The `client_credentials` grant for services: authenticated by mTLS (certificate
//! fingerprint bound to the account) or by a `private_key_jwt` client assertion (RFC 7523,
//! SMART Backend Services: RS384 or ES384, `aud` = the token endpoint, `jti` used once).

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::auth_error::AuthError;
use crate::events::{SecurityEvent, SecurityEventKind};
use crate::issue::{TokenRequest, TokenResponse};
use crate::service::Identity;
use crate::store::{AccountKind, AccountRecord};

/// The `client_assertion_type` of RFC 7523.
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The longest lifetime a client assertion may claim (SMART: at most five minutes).
const MAX_ASSERTION_SECONDS: i64 = 300;

/// Check that a JWKS is usable for client assertions: parses, and every key is RSA or EC
/// P-384 (the keys for RS384 / ES384).
pub fn check_client_jwks(text: &str) -> Result<JwkSet, String> {
    let set: JwkSet = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if set.keys.is_empty() {
        return Err("it has no keys".to_owned());
    }
    for key in &set.keys {
        match &key.algorithm {
            AlgorithmParameters::RSA(_) => {}
            AlgorithmParameters::EllipticCurve(ec)
                if matches!(ec.curve, jsonwebtoken::jwk::EllipticCurve::P384) => {}
            _ => return Err("keys must be RSA (RS384) or EC P-384 (ES384)".to_owned()),
        }
        if key.common.key_id.is_none() {
            return Err("every key needs a 'kid'".to_owned());
        }
    }
    Ok(set)
}

/// The credentials a `client_credentials` request came with.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientAuth<'a> {
    /// `client_id` parameter.
    pub client_id: Option<&'a str>,
    /// `client_assertion_type` parameter.
    pub assertion_type: Option<&'a str>,
    /// `client_assertion` parameter.
    pub assertion: Option<&'a str>,
    /// Fingerprint of the verified client certificate of the connection.
    pub cert_fingerprint: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    exp: i64,
    jti: String,
}

impl Identity {
    /// The token endpoint URL (the `aud` client assertions must carry).
    pub fn token_endpoint(&self) -> String {
        format!("{}/auth/token", self.inner.issuer)
    }

    /// The `client_credentials` grant.
    pub async fn client_credentials(
        &self,
        auth: ClientAuth<'_>,
        scope: Option<&str>,
    ) -> Result<TokenResponse, AuthError> {
        let (account, method) = match (auth.assertion, auth.cert_fingerprint) {
            (Some(assertion), _) => {
                if auth.assertion_type != Some(JWT_BEARER_ASSERTION) {
                    return Err(AuthError::InvalidClient(
                        "unsupported client_assertion_type",
                    ));
                }
                (
                    self.verify_assertion(assertion, auth.client_id).await?,
                    "private_key_jwt",
                )
            }
            (None, Some(fingerprint)) => {
                let fp = crate::accounts::normalise_fingerprint(fingerprint).ok_or(
                    AuthError::InvalidClient("malformed certificate fingerprint"),
                )?;
                let account = self.inner.store.account_by_fingerprint(&fp).await?.ok_or(
                    AuthError::InvalidClient("certificate not bound to a service"),
                )?;
                if auth.client_id.is_some_and(|id| id != account.name) {
                    return Err(AuthError::InvalidClient(
                        "client_id does not match the certificate",
                    ));
                }
                (account, "mtls")
            }
            (None, None) => return Err(AuthError::InvalidClient("no client authentication")),
        };
        if account.kind != AccountKind::Service || account.disabled {
            return Err(AuthError::InvalidClient("not an active service account"));
        }
        let request = TokenRequest {
            scope: scope.map(str::to_owned),
            patient: None,
            client_id: Some(account.name.clone()),
        };
        let now = self.now();
        self.start_session(&account, vec![method.to_owned()], now, &request, None)
            .await
    }

    async fn verify_assertion(
        &self,
        assertion: &str,
        client_id: Option<&str>,
    ) -> Result<AccountRecord, AuthError> {
        let bad = AuthError::InvalidClient;
        if assertion.len() > crate::tokens::MAX_TOKEN_LEN {
            return Err(bad("assertion too long"));
        }
        let header =
            jsonwebtoken::decode_header(assertion).map_err(|_| bad("malformed assertion"))?;
        if !matches!(header.alg, Algorithm::RS384 | Algorithm::ES384) {
            return Err(bad("assertion algorithm must be RS384 or ES384"));
        }
        let unverified: AssertionClaims =
            jsonwebtoken::dangerous::insecure_decode::<AssertionClaims>(assertion)
                .map_err(|_| bad("malformed assertion"))?
                .claims;
        if unverified.iss != unverified.sub || client_id.is_some_and(|c| c != unverified.iss) {
            return Err(bad("iss, sub and client_id must name the same client"));
        }
        let account = self
            .inner
            .store
            .account_by_name(&unverified.iss)
            .await?
            .filter(|a| a.kind == AccountKind::Service && !a.disabled)
            .ok_or(bad("unknown client"))?;
        let jwks = account
            .jwks
            .as_deref()
            .ok_or(bad("the client has no JWKS"))?;
        let set = check_client_jwks(jwks).map_err(|_| bad("the client's JWKS is unusable"))?;
        let kid = header.kid.as_deref().ok_or(bad("assertion without kid"))?;
        let jwk = set
            .find(kid)
            .ok_or(bad("assertion key not in the client's JWKS"))?;
        let key = DecodingKey::from_jwk(jwk).map_err(|_| bad("unusable key"))?;
        let mut validation = Validation::new(header.alg);
        validation.set_audience(&[self.token_endpoint()]);
        validation.set_issuer(&[&account.name]);
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud", "jti"]);
        let claims = jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &validation)
            .map_err(|_| bad("assertion signature or claims invalid"))?
            .claims;
        let now = self.now();
        if claims.exp <= now || claims.exp > now + MAX_ASSERTION_SECONDS {
            return Err(bad("assertion expired or valid for too long"));
        }
        if claims.jti.is_empty() || claims.jti.len() > 256 {
            return Err(bad("assertion jti missing or too long"));
        }
        let key = format!("{}\u{1f}{}", account.name, claims.jti);
        if !self.inner.store.remember_jti(&key, claims.exp, now).await? {
            self.emit(
                SecurityEvent::new(
                    SecurityEventKind::AssertionReplay,
                    now,
                    "a client assertion jti was replayed",
                )
                .account(&account.name),
            );
            return Err(bad("assertion jti already used"));
        }
        Ok(account)
    }
}
