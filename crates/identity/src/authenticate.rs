//! The authenticate phase: bearer token or client certificate -> [`Principal`].

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use crate::auth_error::AuthError;
use crate::principal::{BreakGlassGrant, Principal, PrincipalKind};
use crate::scopes::ScopeSet;
use crate::service::Identity;
use crate::store::AccountKind;
use crate::tokens::{self, AccessClaims, TokenError};

/// What the gateway knows about the caller of one exchange.
#[derive(Debug, Clone, Copy, Default)]
pub struct Credentials<'a> {
    /// The `Authorization` header value.
    pub authorization: Option<&'a str>,
    /// SHA-256 fingerprint (hex) of the verified client certificate, if any.
    pub client_cert_fingerprint: Option<&'a str>,
    /// The department the request is for (the token's audience must include its FHIR base).
    pub department: Option<&'a str>,
}

/// The bearer token of an `Authorization` header, if it has one.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl Identity {
    /// Authenticate an exchange: a bearer token (wardgate's or a trusted issuer's), else a
    /// client certificate bound to a service account. `Ok(None)`: anonymous.
    pub async fn authenticate(
        &self,
        credentials: Credentials<'_>,
    ) -> Result<Option<Principal>, AuthError> {
        Ok(self
            .authenticate_shared(credentials)
            .await?
            .map(Arc::unwrap_or_clone))
    }

    /// [`Identity::authenticate`], with the principal shared: for one of wardgate's tokens it
    /// is built once per token and kept with the verified token.
    pub async fn authenticate_shared(
        &self,
        credentials: Credentials<'_>,
    ) -> Result<Option<Arc<Principal>>, AuthError> {
        self.authenticate_shared_at(credentials, SystemTime::now())
            .await
    }

    /// [`Identity::authenticate_shared`] for a request that arrived at `arrived` (a reading of
    /// the system clock its caller took then): a token is judged as of that moment, so the
    /// gateway reads the clock once per request instead of once per phase (its path).
    pub async fn authenticate_shared_at(
        &self,
        credentials: Credentials<'_>,
        arrived: SystemTime,
    ) -> Result<Option<Arc<Principal>>, AuthError> {
        if let Some(header) = credentials.authorization {
            let token =
                bearer_token(header).ok_or(AuthError::InvalidToken(TokenError::Malformed))?;
            let now = self.at(arrived);
            let principal = match self.verify_shared_at(token, credentials.department, now) {
                // Not signed by a key of ours (or not with our algorithm): another node's new
                // key, or a trusted external issuer's token.
                Err(AuthError::InvalidToken(TokenError::UnknownKey | TokenError::Algorithm)) => {
                    Arc::new(
                        self.verify_foreign_token(token, credentials.department)
                            .await?,
                    )
                }
                other => other?,
            };
            return Ok(Some(principal));
        }
        if let Some(fingerprint) = credentials.client_cert_fingerprint {
            return Ok(Some(Arc::new(
                self.service_by_certificate(fingerprint).await?,
            )));
        }
        Ok(None)
    }

    /// Verify one of wardgate's access tokens for `department` (synchronous: the signature is
    /// verified once per token and cached; revocation is an in-memory lookup).
    pub fn verify_access_token(
        &self,
        token: &str,
        department: Option<&str>,
    ) -> Result<Principal, AuthError> {
        self.verify_access_token_shared(token, department)
            .map(Arc::unwrap_or_clone)
    }

    /// [`Identity::verify_access_token`], with the principal built once per token and shared.
    pub fn verify_access_token_shared(
        &self,
        token: &str,
        department: Option<&str>,
    ) -> Result<Arc<Principal>, AuthError> {
        self.verify_shared_at(token, department, self.now())
    }

    /// [`Identity::verify_access_token_shared`] as of `now` (Unix seconds by the service's
    /// clock).
    fn verify_shared_at(
        &self,
        token: &str,
        department: Option<&str>,
        now: i64,
    ) -> Result<Arc<Principal>, AuthError> {
        let ring = self.ring();
        let verified = self
            .inner
            .verifier
            .verify(&ring, &self.inner.issuer, token, now)?;
        let claims = &verified.claims;
        if let Some(department) = department
            && !claims
                .aud
                .iter()
                .any(|aud| tokens::is_fhir_base(aud, &self.inner.issuer, department))
        {
            return Err(TokenError::Audience.into());
        }
        if self
            .inner
            .revocations
            .is_revoked(&claims.sub, claims.sid.as_deref(), claims.iat)
        {
            return Err(TokenError::Revoked.into());
        }
        Ok(verified.principal(principal_from_claims))
    }

    /// A token whose key we do not know: another node's new key (reload, rate limited), or a
    /// trusted external issuer's token.
    async fn verify_foreign_token(
        &self,
        token: &str,
        department: Option<&str>,
    ) -> Result<Principal, AuthError> {
        let now = self.now();
        let last = self.inner.ring_loaded_at.load(Ordering::Relaxed);
        if now - last >= 5 {
            self.reload_keys()
                .await
                .map_err(|e| AuthError::Internal(e.to_string()))?;
            match self.verify_access_token(token, department) {
                Err(AuthError::InvalidToken(TokenError::UnknownKey | TokenError::Algorithm)) => {}
                other => return other,
            }
        }
        self.verify_external_token(token).await
    }

    async fn service_by_certificate(&self, fingerprint: &str) -> Result<Principal, AuthError> {
        let fingerprint = crate::accounts::normalise_fingerprint(fingerprint).ok_or(
            AuthError::InvalidClient("malformed certificate fingerprint"),
        )?;
        let account = self
            .inner
            .store
            .account_by_fingerprint(&fingerprint)
            .await?
            .filter(|a| a.kind == AccountKind::Service && !a.disabled)
            .ok_or(AuthError::InvalidClient(
                "certificate not bound to an active service",
            ))?;
        let scopes = self.grant_scopes(&account, None)?;
        Ok(Principal {
            subject: account.id,
            name: account.name,
            kind: PrincipalKind::Service,
            issuer: "mtls".to_owned(),
            roles: account.roles,
            departments: account.departments,
            scopes,
            patient: None,
            zone: account.zone,
            auth_time: self.now(),
            amr: vec!["mtls".to_owned()],
            training_valid_until: None,
            break_glass: None,
            token_id: None,
            session_id: None,
            client_id: None,
        })
    }
}

fn principal_from_claims(claims: &AccessClaims) -> Principal {
    Principal {
        subject: claims.sub.clone(),
        name: claims.name.clone(),
        kind: if claims.kind == "service" {
            PrincipalKind::Service
        } else {
            PrincipalKind::User
        },
        issuer: claims.iss.clone(),
        roles: claims.roles.clone(),
        departments: claims.departments.clone(),
        // Signed by us from a validated set: a parse failure means no scopes, never more.
        scopes: ScopeSet::parse(&claims.scope).unwrap_or_default(),
        patient: claims.patient.clone(),
        zone: claims.zone.clone(),
        auth_time: claims.auth_time,
        amr: claims.amr.clone(),
        training_valid_until: claims.training_valid_until,
        break_glass: claims.btg.as_ref().map(|b| BreakGlassGrant {
            id: b.id.clone(),
            expires_at: b.exp,
            patient: b.patient.clone(),
        }),
        token_id: Some(claims.jti.clone()),
        session_id: claims.sid.clone(),
        client_id: claims.client_id.clone(),
    }
}
