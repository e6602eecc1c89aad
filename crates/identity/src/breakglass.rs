//! Break-the-glass and step-up: a clinician re-proves a second factor, either to refresh
//! `auth_time` for a sensitive action, or to declare an emergency with a reason.
//!
//! Break-the-glass depends only on wardgate's own accounts and store: it keeps working when
//! an external identity provider is down. The grant is time-boxed, read-mostly (see
//! [`crate::authorize`]), raises a security event at start and at end, and marks every
//! decision taken under it.

use crate::auth_error::AuthError;
use crate::events::{SecurityEvent, SecurityEventKind};
use crate::issue::{SessionGrant, TokenRequest, TokenResponse};
use crate::principal::{Principal, PrincipalKind};
use crate::service::Identity;
use crate::store::{AccountRecord, BreakGlassRecord};
use crate::tokens::BreakGlassClaim;

/// The longest reason accepted.
pub const MAX_REASON_LEN: usize = 500;

impl Identity {
    async fn local_account(&self, principal: &Principal) -> Result<AccountRecord, AuthError> {
        if principal.issuer != self.inner.issuer || principal.kind != PrincipalKind::User {
            return Err(AuthError::NotAllowed(
                "only wardgate staff accounts can do this (not external or service identities)",
            ));
        }
        self.inner
            .store
            .account_by_id(&principal.subject)
            .await?
            .filter(|a| !a.disabled)
            .ok_or(AuthError::InvalidCredentials)
    }

    /// Step-up: prove a second factor again; a new access token with a fresh `auth_time`.
    pub async fn step_up(
        &self,
        principal: &Principal,
        code: &str,
        request: &TokenRequest,
    ) -> Result<TokenResponse, AuthError> {
        let account = self.local_account(principal).await?;
        if !self.verify_second_factor(&account, code).await? {
            self.note_failure(
                &crate::accounts::account_key(&account.name),
                self.inner.lockout.account_threshold,
                Some(&account.name),
                None,
            )
            .await?;
            return Err(AuthError::InvalidCode);
        }
        if let Some(sid) = &principal.session_id {
            self.revoke_session(sid).await?;
        }
        let mut request = request.clone();
        if request.scope.is_none() {
            request.scope = Some(principal.scopes.to_string());
        }
        self.start_session(
            &account,
            vec!["pwd".to_owned(), "otp".to_owned()],
            self.now(),
            &request,
            None,
        )
        .await
    }

    /// Declare an emergency: a time-boxed grant, an alert, and a token carrying it.
    pub async fn declare_break_glass(
        &self,
        principal: &Principal,
        reason: &str,
        patient: Option<&str>,
        code: Option<&str>,
    ) -> Result<TokenResponse, AuthError> {
        let reason = reason.trim();
        if reason.is_empty()
            || reason.len() > MAX_REASON_LEN
            || reason.chars().any(char::is_control)
        {
            return Err(AuthError::InvalidRequest(
                "a reason (at most 500 characters) is required",
            ));
        }
        if let Some(p) = patient
            && !wardgate_fhir::is_valid_id(p)
        {
            return Err(AuthError::InvalidRequest("patient must be a FHIR id"));
        }
        let account = self.local_account(principal).await?;
        let policy = self.policy();
        let allowed = account
            .roles
            .iter()
            .filter_map(|r| policy.roles.get(r))
            .any(|r| r.break_glass);
        if !allowed {
            return Err(AuthError::NotAllowed(
                "no role of this account allows emergency access",
            ));
        }
        let now = self.now();
        let (amr, auth_time) = if policy.break_glass.require_step_up {
            let code = code.ok_or(AuthError::StepUpRequired)?;
            if !self.verify_second_factor(&account, code).await? {
                return Err(AuthError::InvalidCode);
            }
            (vec!["pwd".to_owned(), "otp".to_owned()], now)
        } else {
            (principal.amr.clone(), principal.auth_time)
        };
        let record = BreakGlassRecord {
            id: uuid::Uuid::now_v7().simple().to_string(),
            account_id: account.id.clone(),
            reason: reason.to_owned(),
            patient: patient.map(str::to_owned),
            started_at: now,
            expires_at: now + policy.break_glass.duration_seconds,
            ended_at: None,
        };
        self.inner.store.start_break_glass(&record).await?;
        self.emit(
            SecurityEvent::new(
                SecurityEventKind::BreakGlassStarted,
                now,
                format!(
                    "emergency access declared{}: {reason}",
                    patient
                        .map(|p| format!(" for Patient/{p}"))
                        .unwrap_or_default()
                ),
            )
            .account(&account.name)
            .grant(&record.id),
        );
        let grant = SessionGrant {
            claim: BreakGlassClaim {
                id: record.id.clone(),
                exp: record.expires_at,
                patient: record.patient.clone(),
            },
        };
        let request = TokenRequest {
            scope: Some(principal.scopes.to_string()),
            patient: None,
            client_id: principal.client_id.clone(),
        };
        self.start_session(&account, amr, auth_time, &request, Some(grant))
            .await
    }

    /// End an emergency grant early; its tokens stop working everywhere.
    pub async fn end_break_glass(&self, principal: &Principal) -> Result<(), AuthError> {
        let Some(grant) = &principal.break_glass else {
            return Err(AuthError::InvalidRequest(
                "the token carries no emergency grant",
            ));
        };
        let now = self.now();
        self.inner.store.end_break_glass(&grant.id, now).await?;
        if let Some(sid) = &principal.session_id {
            self.revoke_session(sid).await?;
        }
        self.emit(
            SecurityEvent::new(
                SecurityEventKind::BreakGlassEnded,
                now,
                "emergency access ended by the user",
            )
            .account(&principal.name)
            .grant(&grant.id),
        );
        Ok(())
    }

    /// Close grants that ran out, raising the "stopped" event once per grant (called by the
    /// background task; callable by drills and tests).
    pub async fn expire_break_glass(&self) -> Result<usize, AuthError> {
        let now = self.now();
        let expired = self.inner.store.expire_break_glass(now).await?;
        for grant in &expired {
            let name = self
                .inner
                .store
                .account_by_id(&grant.account_id)
                .await?
                .map(|a| a.name)
                .unwrap_or_default();
            self.emit(
                SecurityEvent::new(
                    SecurityEventKind::BreakGlassEnded,
                    now,
                    "emergency access expired",
                )
                .account(name)
                .grant(&grant.id),
            );
        }
        Ok(expired.len())
    }
}
