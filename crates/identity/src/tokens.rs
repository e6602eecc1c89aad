//! wardgate's own access tokens: short-lived `EdDSA` JWTs with SMART claims.
//!
//! Verification is on every request, so it is cached: a token whose signature and claims were
//! verified once is remembered (the whole token, compared byte for byte) until it expires, and
//! later requests only redo the cheap checks (expiry, audience, revocation). The cache never
//! outlives the token.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::{Arc, OnceLock, RwLock};

use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::keys::KeyRing;

/// The most verified tokens remembered; past this the cache starts over (a flood of distinct
/// valid tokens is not a realistic load, and clearing is cheaper than tracking order).
const CACHE_CAPACITY: usize = 50_000;

/// The longest token accepted (JWTs of ours are well under 2 KiB).
pub const MAX_TOKEN_LEN: usize = 8192;

/// A break-the-glass grant carried in a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakGlassClaim {
    /// Grant id.
    pub id: String,
    /// End of the grant.
    pub exp: i64,
    /// Patient, if declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
}

/// The claims of a wardgate access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Account id.
    pub sub: String,
    /// The FHIR bases the token is for.
    pub aud: Vec<String>,
    /// Expiry.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Token id.
    pub jti: String,
    /// Granted scopes.
    pub scope: String,
    /// Session (refresh family), absent for client-credentials tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Last authentication.
    pub auth_time: i64,
    /// Authentication methods.
    pub amr: Vec<String>,
    /// Authentication context class.
    pub acr: String,
    /// Login name.
    pub name: String,
    /// `user` or `service`.
    pub kind: String,
    /// Roles.
    pub roles: Vec<String>,
    /// Department memberships.
    pub departments: Vec<String>,
    /// Service zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// In-context patient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    /// Training validity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_valid_until: Option<i64>,
    /// Break-the-glass grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub btg: Option<BreakGlassClaim>,
    /// OAuth client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// Why a token was refused (the client hears only "invalid token"; the record gets this).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a well-formed JWT, or too long.
    #[error("the token is malformed")]
    Malformed,
    /// The header names an algorithm other than the one we sign with (`none`, `HS256`, ...).
    #[error("the token's algorithm is not accepted")]
    Algorithm,
    /// No key with the token's `kid`.
    #[error("the token's key is unknown")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the token's signature is invalid")]
    Signature,
    /// Expired.
    #[error("the token has expired")]
    Expired,
    /// Another issuer.
    #[error("the token's issuer is not trusted")]
    Issuer,
    /// Not for this FHIR base.
    #[error("the token is not for this department")]
    Audience,
    /// Revoked (session, account or grant).
    #[error("the token has been revoked")]
    Revoked,
    /// The account is disabled or gone.
    #[error("the account is disabled")]
    Disabled,
}

impl From<jsonwebtoken::errors::Error> for TokenError {
    fn from(e: jsonwebtoken::errors::Error) -> Self {
        use jsonwebtoken::errors::ErrorKind;
        match e.kind() {
            ErrorKind::ExpiredSignature => TokenError::Expired,
            ErrorKind::InvalidIssuer => TokenError::Issuer,
            ErrorKind::InvalidAudience => TokenError::Audience,
            ErrorKind::InvalidSignature => TokenError::Signature,
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => TokenError::Algorithm,
            _ => TokenError::Malformed,
        }
    }
}

/// Sign `claims` with the ring's current signer.
pub fn sign(ring: &KeyRing, now: i64, claims: &AccessClaims) -> Option<String> {
    let key = ring.signer(now)?;
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(key.kid.clone());
    header.typ = Some("at+jwt".to_owned());
    jsonwebtoken::encode(&header, claims, &key.encoding).ok()
}

/// Verifies wardgate access tokens, with a cache of verified ones.
#[derive(Debug, Default)]
pub struct TokenVerifier {
    /// Verified tokens, whole: a lookup hashes the token's end and compares it whole, so no
    /// token is ever taken for another (a SHA-256 of the ~1 KB token as the key cost more than
    /// the rest of the lookup on every request).
    cache: RwLock<HashMap<Box<str>, Arc<Verified>, TailHash>>,
}

/// A verified token: its claims, and what the caller builds from them once per token (the
/// principal), kept with them in the cache instead of being rebuilt for every request.
#[derive(Debug)]
pub struct Verified {
    /// The token's claims.
    pub claims: AccessClaims,
    principal: OnceLock<Arc<crate::principal::Principal>>,
}

impl Verified {
    fn new(claims: AccessClaims) -> Self {
        Verified {
            claims,
            principal: OnceLock::new(),
        }
    }

    /// The principal the claims name, built by `build` the first time it is asked for.
    pub fn principal(
        &self,
        build: impl FnOnce(&AccessClaims) -> crate::principal::Principal,
    ) -> Arc<crate::principal::Principal> {
        Arc::clone(self.principal.get_or_init(|| Arc::new(build(&self.claims))))
    }
}

/// How many bytes of a token its cache hash reads: the end of its signature, which nobody
/// can choose for a token that verifies (only verified tokens are cached), and which differs
/// between any two tokens.
const HASHED_TAIL: usize = 32;

/// SipHash with a random key (as `HashMap`'s default) over the last [`HASHED_TAIL`] bytes of
/// a key and its length, instead of over all of it.
#[derive(Debug, Default, Clone)]
struct TailHash(RandomState);

impl BuildHasher for TailHash {
    type Hasher = TailHasher;

    fn build_hasher(&self) -> TailHasher {
        TailHasher(self.0.build_hasher())
    }
}

/// The hasher of [`TailHash`].
struct TailHasher(std::hash::DefaultHasher);

impl Hasher for TailHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.write_usize(bytes.len());
        self.0
            .write(&bytes[bytes.len().saturating_sub(HASHED_TAIL)..]);
    }

    fn finish(&self) -> u64 {
        self.0.finish()
    }
}

impl TokenVerifier {
    /// Verify `token` (signature, issuer, expiry) or find it verified in the cache. The
    /// audience and revocation are the caller's, since they change per request.
    pub fn verify(
        &self,
        ring: &KeyRing,
        issuer: &str,
        token: &str,
        now: i64,
    ) -> Result<Arc<Verified>, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        if let Ok(cache) = self.cache.read()
            && let Some(verified) = cache.get(token)
        {
            return if verified.claims.exp <= now {
                Err(TokenError::Expired)
            } else {
                Ok(Arc::clone(verified))
            };
        }
        let verified = Arc::new(Verified::new(verify_uncached(ring, issuer, token)?));
        if verified.claims.exp <= now {
            return Err(TokenError::Expired);
        }
        if let Ok(mut cache) = self.cache.write() {
            if cache.len() >= CACHE_CAPACITY {
                cache.retain(|_, c| c.claims.exp > now);
                if cache.len() >= CACHE_CAPACITY {
                    cache.clear();
                }
            }
            cache.insert(Box::from(token), Arc::clone(&verified));
        }
        Ok(verified)
    }
}

/// Full verification of a wardgate token, without the cache.
pub fn verify_uncached(
    ring: &KeyRing,
    issuer: &str,
    token: &str,
) -> Result<AccessClaims, TokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::InvalidAlgorithmName => TokenError::Algorithm,
        _ => TokenError::Malformed,
    })?;
    if header.alg != Algorithm::EdDSA {
        return Err(TokenError::Algorithm);
    }
    let kid = header.kid.ok_or(TokenError::UnknownKey)?;
    let key = ring.decoding(&kid).ok_or(TokenError::UnknownKey)?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[issuer]);
    // The audience is checked per request against the department's FHIR base.
    validation.validate_aud = false;
    // Expiry is checked against the service's clock by the caller (drills move it).
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    let data = jsonwebtoken::decode::<AccessClaims>(token, key, &validation)?;
    Ok(data.claims)
}

/// The FHIR base of `department` under `issuer` (the public origin).
pub fn fhir_base(issuer: &str, department: &str) -> String {
    format!("{}/{department}/fhir", issuer.trim_end_matches('/'))
}

/// Whether `audience` is [`fhir_base`]`(issuer, department)`, without building it.
pub fn is_fhir_base(audience: &str, issuer: &str, department: &str) -> bool {
    audience
        .strip_prefix(issuer.trim_end_matches('/'))
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(|rest| rest.strip_prefix(department))
        .is_some_and(|rest| rest == "/fhir")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyRing, generate};
    use crate::seal::DataKey;

    const ISSUER: &str = "https://wardgate.test";
    const NOW: i64 = 1_800_000_000;

    fn claims(name: &str) -> AccessClaims {
        AccessClaims {
            iss: ISSUER.to_owned(),
            sub: "u1".to_owned(),
            aud: vec![fhir_base(ISSUER, "emergency")],
            exp: NOW + 300,
            iat: NOW,
            jti: "t1".to_owned(),
            scope: "user/*.rs".to_owned(),
            sid: None,
            auth_time: NOW,
            amr: vec!["pwd".to_owned(), "otp".to_owned()],
            acr: "mfa".to_owned(),
            name: name.to_owned(),
            kind: "user".to_owned(),
            roles: vec!["nurse".to_owned()],
            departments: vec!["emergency".to_owned()],
            zone: None,
            patient: None,
            training_valid_until: None,
            btg: None,
            client_id: None,
        }
    }

    /// The cache hashes only a token's end: a token that shares that end (and its length)
    /// with a cached one is still verified whole, never taken for the cached one.
    #[test]
    fn a_cached_token_is_found_only_by_the_whole_token() {
        let data_key = DataKey::from_bytes(&[7u8; 32]).unwrap();
        let ring =
            KeyRing::from_records(&[generate(&data_key, NOW, NOW).unwrap()], &data_key).unwrap();
        let verifier = TokenVerifier::default();
        let token = sign(&ring, NOW, &claims("nurse.aaaa")).unwrap();
        let verified = verifier.verify(&ring, ISSUER, &token, NOW).unwrap();
        assert_eq!(verified.claims.name, "nurse.aaaa");
        // From the cache: the same claims.
        let again = verifier.verify(&ring, ISSUER, &token, NOW).unwrap();
        assert!(Arc::ptr_eq(&verified, &again));

        // Another payload (same length) under the cached token's signature.
        let other = sign(&ring, NOW, &claims("nurse.bbbb")).unwrap();
        let (_, other_payload) = other.rsplit_once('.').unwrap().0.split_once('.').unwrap();
        let (header, rest) = token.split_once('.').unwrap();
        let (_, signature) = rest.split_once('.').unwrap();
        let forged = format!("{header}.{other_payload}.{signature}");
        assert_eq!(forged.len(), token.len());
        assert_eq!(
            forged[forged.len() - HASHED_TAIL..],
            token[token.len() - HASHED_TAIL..]
        );
        assert_eq!(
            verifier.verify(&ring, ISSUER, &forged, NOW).unwrap_err(),
            TokenError::Signature
        );

        // The cache still answers for the token itself, and expiry still applies.
        assert_eq!(
            verifier
                .verify(&ring, ISSUER, &token, NOW)
                .unwrap()
                .claims
                .name,
            "nurse.aaaa"
        );
        assert_eq!(
            verifier
                .verify(&ring, ISSUER, &token, NOW + 300)
                .unwrap_err(),
            TokenError::Expired
        );
    }

    #[test]
    fn an_audience_is_the_departments_fhir_base_exactly() {
        for issuer in [ISSUER, "https://wardgate.test/"] {
            for (audience, department) in [
                ("https://wardgate.test/emergency/fhir", "emergency"),
                ("https://wardgate.test/emergency/fhir", "emergenc"),
                ("https://wardgate.test/emergency/fhir/", "emergency"),
                ("https://wardgate.test/emergencyx/fhir", "emergency"),
                ("https://wardgate.testx/emergency/fhir", "emergency"),
                ("https://wardgate.test//emergency/fhir", "emergency"),
                ("https://wardgate.test/emergency/fhirx", "emergency"),
            ] {
                assert_eq!(
                    is_fhir_base(audience, issuer, department),
                    audience == fhir_base(issuer, department),
                    "{audience} {issuer} {department}"
                );
            }
        }
    }
}
