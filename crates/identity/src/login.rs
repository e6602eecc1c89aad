//! The login flow: password, then second factor, then tokens; with failure counting,
//! growing delays and lockout per account and per client address.
//!
//! No user enumeration: an unknown name costs a dummy Argon2id verification with the same
//! parameters, counts failures under its name like a real account, and gets the same answer
//! as a wrong password or a disabled account.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::accounts::{TOTP_SEAL_PURPOSE, account_key, address_key};
use crate::auth_error::AuthError;
use crate::events::{SecurityEvent, SecurityEventKind};
use crate::issue::{TokenRequest, TokenResponse};
use crate::mfa;
use crate::password::MAX_PASSWORD_LEN;
use crate::service::Identity;
use crate::store::{AccountKind, AccountRecord, ChallengeRecord, FailureState};

/// How long the second step may take after the password.
const CHALLENGE_SECONDS: i64 = 300;

/// The result of the password step.
#[derive(Debug)]
pub enum LoginStep {
    /// Send the second factor with this ticket to `/auth/mfa`.
    MfaRequired {
        /// The one-time ticket.
        ticket: String,
        /// Seconds the ticket stays valid.
        expires_in: i64,
    },
    /// No second factor needed (a role with optional MFA, no enrolment): tokens.
    Tokens(TokenResponse),
}

pub(crate) fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub(crate) fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

impl Identity {
    /// The delay before answering after `count` failures.
    fn delay_for(&self, count: i64) -> Duration {
        let policy = &self.inner.lockout;
        if count < policy.free_failures {
            return Duration::ZERO;
        }
        let doublings = u32::try_from((count - policy.free_failures).min(16)).unwrap_or(16);
        policy
            .base_delay
            .saturating_mul(1u32 << doublings)
            .min(policy.max_delay)
    }

    /// The state of `key`, refusing it while locked; an expired lock starts it afresh.
    async fn check_lock(&self, key: &str) -> Result<FailureState, AuthError> {
        let state = self.inner.store.failure_state(key).await?;
        let now = self.now();
        if state.locked_until > now {
            return Err(AuthError::Locked {
                retry_after: state.locked_until - now,
            });
        }
        if state.locked_until != 0 {
            // The cool-down is over: forget the old failures.
            self.inner.store.clear_failures(key).await?;
            return Ok(FailureState::default());
        }
        Ok(state)
    }

    /// Count a failure; lock and raise an event at the threshold.
    pub(crate) async fn note_failure(
        &self,
        key: &str,
        threshold: i64,
        account: Option<&str>,
        address: Option<&str>,
    ) -> Result<(), AuthError> {
        let now = self.now();
        let state = self.inner.store.record_failure(key, now).await?;
        if state.count >= threshold && state.locked_until <= now {
            let until = now + self.inner.lockout.lock_seconds;
            self.inner.store.lock(key, until).await?;
            let mut event = SecurityEvent::new(
                SecurityEventKind::Lockout,
                now,
                format!("{} failures; locked until {until}", state.count),
            );
            if let Some(a) = account {
                event = event.account(a);
            }
            if let Some(a) = address {
                event = event.address(a);
            }
            self.emit(event);
        }
        Ok(())
    }

    async fn note_login_failure(&self, name: &str, address: &str) -> Result<(), AuthError> {
        let lockout = self.inner.lockout;
        self.note_failure(
            &account_key(name),
            lockout.account_threshold,
            Some(name),
            None,
        )
        .await?;
        self.note_failure(
            &address_key(address),
            lockout.address_threshold,
            None,
            Some(address),
        )
        .await
    }

    /// Step one: the password. `address` is the client's IP address.
    pub async fn login_password(
        &self,
        name: &str,
        password: &str,
        address: &str,
        request: &TokenRequest,
    ) -> Result<LoginStep, AuthError> {
        if name.is_empty() || name.len() > 64 || password.len() > MAX_PASSWORD_LEN {
            return Err(AuthError::InvalidCredentials);
        }
        let account_state = self.check_lock(&account_key(name)).await?;
        let address_state = self.check_lock(&address_key(address)).await?;
        let delay = self
            .delay_for(account_state.count)
            .max(self.delay_for(address_state.count / 5));
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let account = self.inner.store.account_by_name(name).await?;
        let verified = match &account {
            Some(a) if a.kind == AccountKind::Human => match &a.password_hash {
                Some(phc) => self.inner.hashing.verify(password, phc),
                None => {
                    self.inner.hashing.verify_dummy(password);
                    false
                }
            },
            _ => {
                self.inner.hashing.verify_dummy(password);
                false
            }
        };
        let account = match account {
            Some(a) if verified && !a.disabled => a,
            _ => {
                self.note_login_failure(name, address).await?;
                return Err(AuthError::InvalidCredentials);
            }
        };
        self.inner.store.clear_failures(&account_key(name)).await?;
        let policy = self.policy();
        let needs_mfa =
            account.mfa_required && (policy.mfa_required(&account.roles) || account.totp_confirmed);
        if !needs_mfa {
            let now = self.now();
            let tokens = self
                .start_session(&account, vec!["pwd".to_owned()], now, request, None)
                .await?;
            self.note_sealed_use(&account);
            return Ok(LoginStep::Tokens(tokens));
        }
        let ticket = random_token();
        let challenge = ChallengeRecord {
            account_id: account.id.clone(),
            purpose: "login".to_owned(),
            attempts: 0,
            expires_at: self.now() + CHALLENGE_SECONDS,
        };
        self.inner
            .store
            .put_challenge(&hash_secret(&ticket), &challenge)
            .await?;
        Ok(LoginStep::MfaRequired {
            ticket,
            expires_in: CHALLENGE_SECONDS,
        })
    }

    /// Step two: the TOTP or recovery code for a ticket; tokens on success.
    pub async fn login_mfa(
        &self,
        ticket: &str,
        code: &str,
        address: &str,
        request: &TokenRequest,
    ) -> Result<TokenResponse, AuthError> {
        let ticket_hash = hash_secret(ticket);
        let now = self.now();
        let challenge = self
            .inner
            .store
            .challenge(&ticket_hash, now)
            .await?
            .ok_or(AuthError::ChallengeExpired)?;
        let account = self
            .inner
            .store
            .account_by_id(&challenge.account_id)
            .await?
            .filter(|a| !a.disabled)
            .ok_or(AuthError::ChallengeExpired)?;
        self.check_lock(&account_key(&account.name)).await?;
        if !self.verify_second_factor(&account, code).await? {
            let attempts = self.inner.store.fail_challenge(&ticket_hash).await?;
            if attempts >= self.inner.lockout.challenge_attempts {
                self.inner.store.take_challenge(&ticket_hash).await?;
            }
            self.note_login_failure(&account.name, address).await?;
            return Err(AuthError::InvalidCode);
        }
        if !self.inner.store.take_challenge(&ticket_hash).await? {
            return Err(AuthError::ChallengeExpired);
        }
        let tokens = self
            .start_session(
                &account,
                vec!["pwd".to_owned(), "otp".to_owned()],
                now,
                request,
                None,
            )
            .await?;
        self.note_sealed_use(&account);
        Ok(tokens)
    }

    /// Check (and spend) a TOTP code or a recovery code.
    pub(crate) async fn verify_second_factor(
        &self,
        account: &AccountRecord,
        code: &str,
    ) -> Result<bool, AuthError> {
        let code = code.trim();
        if mfa::is_recovery_code(code) {
            return Ok(self
                .inner
                .store
                .spend_recovery_code(&account.id, &mfa::recovery_code_hash(code))
                .await?);
        }
        let Some(sealed) = &account.totp_secret else {
            return Ok(false);
        };
        let secret = self
            .inner
            .data_key
            .open(TOTP_SEAL_PURPOSE, sealed)
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        let now = u64::try_from(self.now()).unwrap_or(0);
        let Some(step) = mfa::matching_step(&secret, code, now) else {
            return Ok(false);
        };
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        Ok(self.inner.store.spend_totp_step(&account.id, step).await?)
    }

    fn note_sealed_use(&self, account: &AccountRecord) {
        if account.sealed {
            self.emit(
                SecurityEvent::new(
                    SecurityEventKind::SealedAccountUsed,
                    self.now(),
                    "a sealed emergency account logged in: rotate its password after the emergency",
                )
                .account(&account.name),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::service::{IdentityConfig, LockoutPolicy};
    use crate::store::StoreLocation;

    #[tokio::test]
    async fn delays_grow_with_failures_up_to_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = IdentityConfig::new(
            StoreLocation::Sqlite(dir.path().join("identity.sqlite")),
            dir.path().to_path_buf(),
            "https://wardgate.test",
        );
        config.lockout = LockoutPolicy::default();
        config.events = Some(std::sync::Arc::new(
            crate::events::JsonLinesSink::open(dir.path(), false).unwrap(),
        ));
        let identity = crate::Identity::open(config).await.unwrap();
        let delays: Vec<Duration> = (0..10).map(|n| identity.delay_for(n)).collect();
        assert_eq!(
            delays[..3],
            [Duration::ZERO; 3],
            "the first failures are free"
        );
        assert_eq!(delays[3], Duration::from_millis(250));
        assert_eq!(delays[4], Duration::from_millis(500));
        assert_eq!(delays[5], Duration::from_secs(1));
        assert_eq!(delays[9], Duration::from_secs(8), "capped");
        assert!(delays.windows(2).all(|w| w[0] <= w[1]));
    }
}
