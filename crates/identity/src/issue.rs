//! Issuing tokens: sessions, access tokens, rotating refresh tokens, revocation.
//!
//! A session is one authentication; its refresh tokens form a family. Each refresh spends the
//! presented token and issues the next; presenting a spent token again means it was copied,
//! so the whole session is revoked (OAuth 2.0 Security BCP, section 4.14).

use serde_json::json;

use crate::auth_error::AuthError;
use crate::events::{SecurityEvent, SecurityEventKind};
use crate::login::{hash_secret, random_token};
use crate::revocation::RevocationState;
use crate::scopes::{ScopeContext, ScopeSet};
use crate::service::Identity;
use crate::store::{AccountKind, AccountRecord, RefreshUse, SessionRecord};
use crate::tokens::{self, AccessClaims, BreakGlassClaim};

/// What the client asked for with its token request.
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    /// Requested scopes (`None`: everything the roles allow).
    pub scope: Option<String>,
    /// The patient in context for `patient/` scopes.
    pub patient: Option<String>,
    /// The OAuth client.
    pub client_id: Option<String>,
}

/// A successful token response (RFC 6749 section 5.1, with SMART's `patient`).
#[derive(Debug, Clone)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// The granted scopes.
    pub scope: String,
    /// The refresh token, if any.
    pub refresh_token: Option<String>,
    /// The patient in context.
    pub patient: Option<String>,
    /// The session id (for records; not sent).
    pub session_id: String,
}

impl TokenResponse {
    /// The JSON body.
    pub fn to_json(&self) -> serde_json::Value {
        let mut body = json!({
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
        });
        if let Some(r) = &self.refresh_token {
            body["refresh_token"] = json!(r);
        }
        if let Some(p) = &self.patient {
            body["patient"] = json!(p);
        }
        body
    }
}

/// The break-the-glass state a session carries into its tokens.
#[derive(Debug, Clone)]
pub(crate) struct SessionGrant {
    pub(crate) claim: BreakGlassClaim,
}

impl Identity {
    /// The scopes to grant `account`: the request narrowed by its roles' scopes.
    pub(crate) fn grant_scopes(
        &self,
        account: &AccountRecord,
        requested: Option<&str>,
    ) -> Result<ScopeSet, AuthError> {
        let policy = self.policy();
        let ceiling = ScopeSet::from_policy(&policy.scopes_of(&account.roles));
        let context = match account.kind {
            AccountKind::Human => ScopeContext::User,
            AccountKind::Service => ScopeContext::System,
        };
        match requested {
            None => {
                let other = match account.kind {
                    AccountKind::Human => {
                        vec!["openid".into(), "fhirUser".into(), "offline_access".into()]
                    }
                    AccountKind::Service => Vec::new(),
                };
                Ok(ScopeSet {
                    clinical: ceiling
                        .clinical
                        .into_iter()
                        .filter(|s| s.context == context)
                        .collect(),
                    other,
                })
            }
            Some(text) => {
                let asked =
                    ScopeSet::parse(text).map_err(|e| AuthError::InvalidScope(e.to_string()))?;
                let granted = asked.grant(&ceiling);
                if !asked.clinical.is_empty() && granted.clinical.is_empty() {
                    return Err(AuthError::InvalidScope(
                        "none of the requested scopes is allowed for this account".to_owned(),
                    ));
                }
                Ok(granted)
            }
        }
    }

    /// The departments a token of `account` is for (its `aud`).
    fn audience(&self, account: &AccountRecord, break_glass: bool) -> Vec<String> {
        let policy = self.policy();
        let departments: Vec<&String> = if break_glass {
            policy.departments.keys().collect()
        } else {
            account
                .departments
                .iter()
                .filter(|d| {
                    account
                        .roles
                        .iter()
                        .filter_map(|r| policy.roles.get(r))
                        .any(|r| r.departments.contains(d))
                })
                .collect()
        };
        departments
            .into_iter()
            .map(|d| tokens::fhir_base(&self.inner.issuer, d))
            .collect()
    }

    /// Sign an access token for a session.
    pub(crate) fn sign_access(
        &self,
        account: &AccountRecord,
        session: &SessionRecord,
        scopes: &ScopeSet,
        patient: Option<&str>,
        grant: Option<&SessionGrant>,
        client_id: Option<&str>,
    ) -> Result<(String, i64), AuthError> {
        let now = self.now();
        let mut exp = now + self.inner.access_token_seconds;
        if let Some(g) = grant {
            exp = exp.min(g.claim.exp);
        }
        let amr: Vec<String> = session
            .amr
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let acr = if amr.iter().any(|m| m == "otp") {
            "urn:wardgate:acr:mfa"
        } else {
            "urn:wardgate:acr:single-factor"
        };
        let claims = AccessClaims {
            iss: self.inner.issuer.clone(),
            sub: account.id.clone(),
            aud: self.audience(account, grant.is_some()),
            exp,
            iat: now,
            jti: uuid::Uuid::now_v7().simple().to_string(),
            scope: scopes.to_string(),
            sid: Some(session.id.clone()),
            auth_time: session.auth_time,
            amr,
            acr: acr.to_owned(),
            name: account.name.clone(),
            kind: match account.kind {
                AccountKind::Human => "user".to_owned(),
                AccountKind::Service => "service".to_owned(),
            },
            roles: account.roles.clone(),
            departments: account.departments.clone(),
            zone: account.zone.clone(),
            patient: patient
                .filter(|_| scopes.has_patient_context())
                .map(str::to_owned),
            training_valid_until: account.training_valid_until,
            btg: grant.map(|g| g.claim.clone()),
            client_id: client_id.map(str::to_owned),
        };
        let token = tokens::sign(&self.ring(), now, &claims)
            .ok_or_else(|| AuthError::Internal("no signing key".to_owned()))?;
        Ok((token, exp - now))
    }

    /// Open a session for `account` after it authenticated with `amr` at `auth_time`.
    pub(crate) async fn start_session(
        &self,
        account: &AccountRecord,
        amr: Vec<String>,
        auth_time: i64,
        request: &TokenRequest,
        grant: Option<SessionGrant>,
    ) -> Result<TokenResponse, AuthError> {
        let scopes = self.grant_scopes(account, request.scope.as_deref())?;
        if let Some(patient) = &request.patient
            && !wardgate_fhir::is_valid_id(patient)
        {
            return Err(AuthError::InvalidRequest("patient must be a FHIR id"));
        }
        let now = self.now();
        let mut expires_at = now + self.inner.session_seconds;
        if let Some(g) = &grant {
            expires_at = expires_at.min(g.claim.exp);
        }
        let session = SessionRecord {
            id: uuid::Uuid::now_v7().simple().to_string(),
            account_id: account.id.clone(),
            scope: scopes.to_string(),
            amr: amr.join(" "),
            auth_time,
            created_at: now,
            expires_at,
            break_glass_id: grant.as_ref().map(|g| g.claim.id.clone()),
            revoked_at: None,
        };
        self.inner.store.create_session(&session).await?;
        let refresh_token = if account.kind == AccountKind::Human {
            let token = random_token();
            let until = (now + self.inner.refresh_token_seconds).min(expires_at);
            self.inner
                .store
                .put_refresh(&hash_secret(&token), &session.id, until)
                .await?;
            Some(token)
        } else {
            None
        };
        let (access_token, expires_in) = self.sign_access(
            account,
            &session,
            &scopes,
            request.patient.as_deref(),
            grant.as_ref(),
            request.client_id.as_deref(),
        )?;
        Ok(TokenResponse {
            access_token,
            expires_in,
            scope: scopes.to_string(),
            refresh_token,
            patient: request
                .patient
                .clone()
                .filter(|_| scopes.has_patient_context()),
            session_id: session.id,
        })
    }

    /// The `refresh_token` grant: rotate, or revoke the family on reuse.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        request: &TokenRequest,
    ) -> Result<TokenResponse, AuthError> {
        let now = self.now();
        let session_id = match self
            .inner
            .store
            .use_refresh(&hash_secret(refresh_token), now)
            .await?
        {
            RefreshUse::Fresh(sid) => sid,
            RefreshUse::Reused(sid) => {
                self.revoke_session(&sid).await?;
                let account = match self.inner.store.session(&sid).await? {
                    Some(s) => self.inner.store.account_by_id(&s.account_id).await?,
                    None => None,
                };
                let mut event = SecurityEvent::new(
                    SecurityEventKind::RefreshTokenReuse,
                    now,
                    "a spent refresh token was presented again; the session was revoked",
                );
                if let Some(a) = account {
                    event = event.account(a.name);
                }
                self.emit(event);
                return Err(AuthError::InvalidRefresh);
            }
            RefreshUse::Unknown => return Err(AuthError::InvalidRefresh),
        };
        let session = self
            .inner
            .store
            .session(&session_id)
            .await?
            .filter(|s| s.revoked_at.is_none() && s.expires_at > now)
            .ok_or(AuthError::InvalidRefresh)?;
        let account = self
            .inner
            .store
            .account_by_id(&session.account_id)
            .await?
            .filter(|a| !a.disabled && a.revoked_before <= session.created_at)
            .ok_or(AuthError::InvalidRefresh)?;
        // The session's scopes, narrowed by any new request and by the roles as they are now
        // (a role removed since login no longer grants anything).
        let session_scopes =
            ScopeSet::parse(&session.scope).map_err(|e| AuthError::Internal(e.to_string()))?;
        let policy = self.policy();
        let ceiling = ScopeSet::from_policy(&policy.scopes_of(&account.roles));
        let mut scopes = match &request.scope {
            Some(text) => ScopeSet::parse(text)
                .map_err(|e| AuthError::InvalidScope(e.to_string()))?
                .grant(&session_scopes),
            None => session_scopes.clone(),
        };
        let other = scopes.other.clone();
        scopes = scopes.grant(&ceiling);
        scopes.other = other;
        let grant = match &session.break_glass_id {
            Some(id) => {
                let record = self
                    .inner
                    .store
                    .break_glass(id)
                    .await?
                    .ok_or(AuthError::InvalidRefresh)?;
                if record.ended_at.is_some() || record.expires_at <= now {
                    return Err(AuthError::InvalidRefresh);
                }
                Some(SessionGrant {
                    claim: BreakGlassClaim {
                        id: record.id,
                        exp: record.expires_at,
                        patient: record.patient,
                    },
                })
            }
            None => None,
        };
        let next = random_token();
        let until = (now + self.inner.refresh_token_seconds).min(session.expires_at);
        self.inner
            .store
            .put_refresh(&hash_secret(&next), &session.id, until)
            .await?;
        let (access_token, expires_in) = self.sign_access(
            &account,
            &session,
            &scopes,
            request.patient.as_deref(),
            grant.as_ref(),
            request.client_id.as_deref(),
        )?;
        Ok(TokenResponse {
            access_token,
            expires_in,
            scope: scopes.to_string(),
            refresh_token: Some(next),
            patient: request
                .patient
                .clone()
                .filter(|_| scopes.has_patient_context()),
            session_id: session.id,
        })
    }

    /// Revoke a session everywhere: its refresh tokens stop working and its access tokens are
    /// refused by every node.
    pub async fn revoke_session(&self, session_id: &str) -> Result<(), AuthError> {
        self.inner
            .store
            .revoke_session(session_id, self.now())
            .await?;
        let note = RevocationState::session_announcement(session_id);
        self.inner.revocations.apply_announcement(&note);
        self.inner.store.announce_revocation(&note).await?;
        Ok(())
    }

    /// RFC 7009 revocation of a refresh or access token: the whole session goes. Unknown
    /// tokens are ignored (the endpoint answers 200 either way).
    pub async fn revoke_token(&self, token: &str) -> Result<(), AuthError> {
        if token.len() > tokens::MAX_TOKEN_LEN {
            return Ok(());
        }
        match self
            .inner
            .store
            .use_refresh(&hash_secret(token), self.now())
            .await?
        {
            RefreshUse::Fresh(sid) | RefreshUse::Reused(sid) => {
                return self.revoke_session(&sid).await;
            }
            RefreshUse::Unknown => {}
        }
        if let Ok(claims) = tokens::verify_uncached(&self.ring(), &self.inner.issuer, token)
            && let Some(sid) = claims.sid
        {
            self.revoke_session(&sid).await?;
        }
        Ok(())
    }
}
