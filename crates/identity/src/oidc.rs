//! Trusted external OpenID Connect issuers (Keycloak, Entra ID, ...): their tokens verified
//! against their JWKS and their claims mapped to wardgate roles and departments.
//!
//! The JWKS is cached per issuer. A token whose `kid` is not in the cache triggers a refresh
//! (the issuer rotated), at most once per [`MIN_REFRESH_SECONDS`] so a stream of tokens with
//! made-up `kid`s cannot turn wardgate into a load generator against the issuer.

use std::collections::HashMap;

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use sha2::Digest;
use tokio::sync::Mutex;

use crate::auth_error::AuthError;
use crate::policy::{JwksSource, TrustedIssuer};
use crate::principal::{Principal, PrincipalKind};
use crate::scopes::ScopeSet;
use crate::service::Identity;
use crate::tokens::{MAX_TOKEN_LEN, TokenError};

/// The shortest interval between two JWKS refreshes of one issuer.
pub const MIN_REFRESH_SECONDS: i64 = 30;
/// A cached JWKS older than this is refreshed on use even if the `kid` is known.
pub const MAX_JWKS_AGE_SECONDS: i64 = 3600;

struct CachedJwks {
    set: JwkSet,
    fetched_at: i64,
}

/// The most verified external tokens remembered (as for wardgate's own tokens).
const VERIFIED_CAPACITY: usize = 50_000;

/// The JWKS caches of the trusted issuers, and the external tokens already verified.
#[derive(Default)]
pub struct ExternalIssuers {
    cache: Mutex<HashMap<String, CachedJwks>>,
    last_attempt: Mutex<HashMap<String, i64>>,
    /// SHA-256 of a verified token -> (its principal, its expiry): a token is verified and
    /// mapped once, not on every request. Cleared when the policy (the mapping) changes.
    verified: std::sync::RwLock<HashMap<[u8; 32], (Principal, i64)>>,
}

impl ExternalIssuers {
    /// Forget verified tokens (the role mapping changed).
    pub(crate) fn forget_verified(&self) {
        if let Ok(mut verified) = self.verified.write() {
            verified.clear();
        }
    }
}

async fn load(source: &JwksSource) -> Result<JwkSet, String> {
    let bytes = match source {
        JwksSource::Url(url) => crate::fetch::get(url)
            .await
            .map_err(|e| e.to_string())?
            .to_vec(),
        JwksSource::File(path) => std::fs::read(path).map_err(|e| e.to_string())?,
    };
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

impl ExternalIssuers {
    /// The key `kid` of `issuer`, refreshing the cache if needed and allowed.
    async fn key(
        &self,
        issuer: &TrustedIssuer,
        kid: &str,
        now: i64,
    ) -> Result<(DecodingKey, Option<Algorithm>), TokenError> {
        {
            let cache = self.cache.lock().await;
            if let Some(cached) = cache.get(&issuer.issuer)
                && now - cached.fetched_at < MAX_JWKS_AGE_SECONDS
                && let Some(jwk) = cached.set.find(kid)
            {
                return decoding(jwk);
            }
        }
        {
            let mut attempts = self.last_attempt.lock().await;
            let last = attempts
                .get(&issuer.issuer)
                .copied()
                .unwrap_or(i64::MIN / 2);
            if now - last < MIN_REFRESH_SECONDS {
                return self.cached_key(issuer, kid).await;
            }
            attempts.insert(issuer.issuer.clone(), now);
        }
        // An unreachable issuer keeps its last keys: its tokens keep working until expiry.
        if let Ok(set) = load(&issuer.jwks).await {
            let mut cache = self.cache.lock().await;
            cache.insert(
                issuer.issuer.clone(),
                CachedJwks {
                    set,
                    fetched_at: now,
                },
            );
        }
        self.cached_key(issuer, kid).await
    }

    async fn cached_key(
        &self,
        issuer: &TrustedIssuer,
        kid: &str,
    ) -> Result<(DecodingKey, Option<Algorithm>), TokenError> {
        let cache = self.cache.lock().await;
        let jwk = cache
            .get(&issuer.issuer)
            .and_then(|c| c.set.find(kid))
            .ok_or(TokenError::UnknownKey)?;
        decoding(jwk)
    }
}

fn decoding(jwk: &jsonwebtoken::jwk::Jwk) -> Result<(DecodingKey, Option<Algorithm>), TokenError> {
    if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
        // A symmetric key in a public JWKS would let anyone who reads it mint tokens.
        return Err(TokenError::Algorithm);
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|_| TokenError::UnknownKey)?;
    let alg = jwk
        .common
        .key_algorithm
        .and_then(|a| a.to_string().parse::<Algorithm>().ok());
    Ok((key, alg))
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// Read a claim that may be nested (`realm_access.roles`).
fn claim<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut value = claims.get(parts.next()?)?;
    for part in parts {
        value = value.get(part)?;
    }
    Some(value)
}

impl Identity {
    /// Verify a token of a trusted external issuer and map it to a principal.
    pub(crate) async fn verify_external_token(&self, token: &str) -> Result<Principal, AuthError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed.into());
        }
        let now = self.now();
        let digest: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        if let Ok(verified) = self.inner.external.verified.read()
            && let Some((principal, exp)) = verified.get(&digest)
        {
            return if exp + 30 <= now {
                Err(TokenError::Expired.into())
            } else {
                Ok(principal.clone())
            };
        }
        let (principal, exp) = self.verify_external_uncached(token, now).await?;
        if let Ok(mut verified) = self.inner.external.verified.write() {
            if verified.len() >= VERIFIED_CAPACITY {
                verified.retain(|_, (_, e)| *e + 30 > now);
                if verified.len() >= VERIFIED_CAPACITY {
                    verified.clear();
                }
            }
            verified.insert(digest, (principal.clone(), exp));
        }
        Ok(principal)
    }

    async fn verify_external_uncached(
        &self,
        token: &str,
        now: i64,
    ) -> Result<(Principal, i64), AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if !matches!(
            header.alg,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
                | Algorithm::ES256
                | Algorithm::ES384
                | Algorithm::EdDSA
        ) {
            return Err(TokenError::Algorithm.into());
        }
        let unverified: Map<String, Value> = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|_| TokenError::Malformed)?;
        let iss = unverified
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let policy = self.policy();
        let trusted = policy
            .trusted_issuers
            .iter()
            .find(|t| t.issuer == iss)
            .ok_or(TokenError::Issuer)?;
        if iss == self.inner.issuer {
            // Our own issuer with a kid we do not have: a forged or foreign-signed token.
            return Err(TokenError::UnknownKey.into());
        }
        let kid = header.kid.as_deref().ok_or(TokenError::UnknownKey)?;
        let (key, key_alg) = self.inner.external.key(trusted, kid, now).await?;
        if key_alg.is_some_and(|a| a != header.alg) {
            return Err(TokenError::Algorithm.into());
        }
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&trusted.issuer]);
        validation.set_audience(&[&trusted.audience]);
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(TokenError::from)?
            .claims;
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or(TokenError::Malformed)?;
        if exp + 30 <= now {
            return Err(TokenError::Expired.into());
        }
        Ok((self.map_external(trusted, &claims), exp))
    }

    fn map_external(&self, trusted: &TrustedIssuer, claims: &Map<String, Value>) -> Principal {
        let policy = self.policy();
        let roles: Vec<String> = strings(claim(claims, &trusted.role_claim))
            .iter()
            .filter_map(|r| trusted.role_map.get(r).cloned())
            .filter(|r| policy.has_role(r))
            .collect();
        let departments: Vec<String> = match &trusted.department_claim {
            Some(c) => strings(claim(claims, c))
                .iter()
                .filter_map(|d| trusted.department_map.get(d).cloned())
                .filter(|d| policy.has_department(d))
                .collect(),
            None => Vec::new(),
        };
        let ceiling = ScopeSet::from_policy(&policy.scopes_of(&roles));
        let scopes = match claims.get("scope").and_then(Value::as_str) {
            Some(text) => ScopeSet::parse(text)
                .map(|s| s.grant(&ceiling))
                .unwrap_or_default(),
            None => ceiling,
        };
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default();
        Principal {
            subject: sub.to_owned(),
            name: claim(claims, &trusted.username_claim)
                .and_then(Value::as_str)
                .unwrap_or(sub)
                .to_owned(),
            kind: PrincipalKind::User,
            issuer: trusted.issuer.clone(),
            roles,
            departments,
            scopes,
            patient: None,
            zone: None,
            auth_time: claims.get("auth_time").and_then(Value::as_i64).unwrap_or(0),
            amr: strings(claims.get("amr")),
            training_valid_until: None,
            break_glass: None,
            token_id: claims.get("jti").and_then(Value::as_str).map(str::to_owned),
            session_id: None,
            client_id: claims
                .get("azp")
                .or_else(|| claims.get("client_id"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        }
    }
}
