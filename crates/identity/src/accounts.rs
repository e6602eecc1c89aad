//! Account administration: what `wardgate user ...` and `wardgate service ...` do.

use zeroize::Zeroizing;

use crate::events::{SecurityEvent, SecurityEventKind};
use crate::mfa::{self, MfaError, TotpEnrolment};
use crate::password::{self, HashError, PasswordRejection};
use crate::service::Identity;
use crate::store::{AccountKind, AccountRecord, StoreError, is_plain_name};

/// The sealing purpose of TOTP secrets.
pub(crate) const TOTP_SEAL_PURPOSE: &str = "wardgate-identity-totp";

/// An account administration failure (safe to show to the operator).
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The name is taken.
    #[error("an account named '{0}' already exists")]
    Exists(String),
    /// No such account.
    #[error("no account named '{0}'")]
    Unknown(String),
    /// The name does not follow the account name rules.
    #[error(
        "'{0}' is not a valid account name (lowercase letters, digits, '.', '_', '-'; at most 64)"
    )]
    InvalidName(String),
    /// The role is not in the policy.
    #[error("role '{0}' is not in the policy")]
    UnknownRole(String),
    /// The department is not in the policy.
    #[error("department '{0}' is not in the policy")]
    UnknownDepartment(String),
    /// The password was refused.
    #[error(transparent)]
    WeakPassword(#[from] PasswordRejection),
    /// The operation applies to people only.
    #[error("'{0}' is a service account")]
    NotHuman(String),
    /// The certificate fingerprint is not a SHA-256 in hex.
    #[error("the certificate fingerprint must be a SHA-256 in hex (64 digits, ':' allowed)")]
    InvalidFingerprint,
    /// The JWKS is not usable for client assertions.
    #[error("the JWKS is not valid: {0}")]
    InvalidJwks(String),
    /// A service needs a certificate fingerprint or a JWKS.
    #[error("a service account needs --cert-fingerprint or --jwks-file")]
    NoCredential,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing failed.
    #[error(transparent)]
    Hash(#[from] HashError),
    /// TOTP setup failed.
    #[error(transparent)]
    Mfa(#[from] MfaError),
}

/// A new member of staff.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    /// Login name.
    pub name: String,
    /// Roles.
    pub roles: Vec<String>,
    /// Department memberships.
    pub departments: Vec<String>,
    /// The initial password; `None`: generate one.
    pub password: Option<Zeroizing<String>>,
    /// A sealed emergency account (every login alerts the security officer).
    pub sealed: bool,
}

/// What creating a user hands to the operator, once.
#[derive(Debug)]
pub struct CreatedUser {
    /// Account id.
    pub id: String,
    /// The generated initial password, if none was given.
    pub initial_password: Option<Zeroizing<String>>,
    /// TOTP enrolment (URI and QR code).
    pub enrolment: TotpEnrolment,
    /// One-time recovery codes.
    pub recovery_codes: Vec<Zeroizing<String>>,
}

/// A new system account.
#[derive(Debug, Clone, Default)]
pub struct NewService {
    /// Name (also its OAuth `client_id`).
    pub name: String,
    /// Roles (their scopes are the ceiling; services use `system/` scopes).
    pub roles: Vec<String>,
    /// Departments it may reach.
    pub departments: Vec<String>,
    /// Its device zone.
    pub zone: Option<String>,
    /// SHA-256 fingerprint of its client certificate.
    pub cert_fingerprint: Option<String>,
    /// Its JWKS (JSON) for `private_key_jwt`.
    pub jwks: Option<String>,
}

/// An account as listed (no secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSummary {
    /// Name.
    pub name: String,
    /// Person or system.
    pub kind: AccountKind,
    /// Roles.
    pub roles: Vec<String>,
    /// Departments.
    pub departments: Vec<String>,
    /// Disabled?
    pub disabled: bool,
    /// Sealed emergency account?
    pub sealed: bool,
    /// TOTP enrolled and confirmed?
    pub mfa_confirmed: bool,
    /// Locked until (Unix seconds), if locked now.
    pub locked_until: Option<i64>,
    /// Training valid until.
    pub training_valid_until: Option<i64>,
}

/// Whether `name` is a valid account name.
pub fn is_account_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'0'..=b'9'))
        && name.len() <= 64
        && bytes.all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

/// Normalise a certificate fingerprint to 64 lowercase hex digits.
pub fn normalise_fingerprint(text: &str) -> Option<String> {
    let hex: String = text
        .chars()
        .filter(|c| *c != ':')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hex)
}

pub(crate) fn account_key(name: &str) -> String {
    format!("account:{name}")
}

pub(crate) fn address_key(address: &str) -> String {
    format!("address:{address}")
}

impl Identity {
    fn check_roles_and_departments(
        &self,
        roles: &[String],
        departments: &[String],
    ) -> Result<(), AccountError> {
        let policy = self.policy();
        if let Some(r) = roles.iter().find(|r| !policy.has_role(r)) {
            return Err(AccountError::UnknownRole(r.clone()));
        }
        if let Some(d) = departments.iter().find(|d| !policy.has_department(d)) {
            return Err(AccountError::UnknownDepartment(d.clone()));
        }
        Ok(())
    }

    async fn account(&self, name: &str) -> Result<AccountRecord, AccountError> {
        self.inner
            .store
            .account_by_name(name)
            .await?
            .ok_or_else(|| AccountError::Unknown(name.to_owned()))
    }

    /// Create a member of staff with a TOTP enrolment and recovery codes.
    pub async fn add_user(&self, new: NewUser) -> Result<CreatedUser, AccountError> {
        if !is_account_name(&new.name) {
            return Err(AccountError::InvalidName(new.name));
        }
        self.check_roles_and_departments(&new.roles, &new.departments)?;
        if self.inner.store.account_by_name(&new.name).await?.is_some() {
            return Err(AccountError::Exists(new.name));
        }
        let (password, generated) = match new.password {
            Some(p) => {
                password::check_new_password(&new.name, &p)?;
                (p, false)
            }
            None => (password::generate_password(), true),
        };
        let secret = mfa::new_totp_secret();
        let enrolment = mfa::enrolment(&secret, &new.name, "wardgate")?;
        let codes = mfa::new_recovery_codes();
        let hashes: Vec<String> = codes.iter().map(|c| mfa::recovery_code_hash(c)).collect();
        let now = self.now();
        let record = AccountRecord {
            id: uuid::Uuid::now_v7().to_string(),
            name: new.name.clone(),
            kind: AccountKind::Human,
            password_hash: Some(self.inner.hashing.hash(&password)?),
            disabled: false,
            sealed: new.sealed,
            mfa_required: true,
            totp_secret: Some(self.inner.data_key.seal(TOTP_SEAL_PURPOSE, &secret)),
            totp_confirmed: false,
            totp_last_step: None,
            training_valid_until: None,
            cert_fingerprint: None,
            jwks: None,
            zone: None,
            roles: new.roles,
            departments: new.departments,
            revoked_before: 0,
            created_at: now,
        };
        self.inner.store.create_account(&record).await?;
        self.inner
            .store
            .set_recovery_codes(&record.id, &hashes)
            .await?;
        Ok(CreatedUser {
            id: record.id,
            initial_password: generated.then_some(password),
            enrolment,
            recovery_codes: codes,
        })
    }

    /// Create a system account bound to a client certificate and/or a JWKS.
    pub async fn add_service(&self, new: NewService) -> Result<String, AccountError> {
        if !is_account_name(&new.name) {
            return Err(AccountError::InvalidName(new.name));
        }
        self.check_roles_and_departments(&new.roles, &new.departments)?;
        if let Some(zone) = &new.zone
            && !is_plain_name(zone)
        {
            return Err(AccountError::InvalidName(zone.clone()));
        }
        let fingerprint = match &new.cert_fingerprint {
            Some(f) => Some(normalise_fingerprint(f).ok_or(AccountError::InvalidFingerprint)?),
            None => None,
        };
        if let Some(jwks) = &new.jwks {
            crate::client_assertion::check_client_jwks(jwks).map_err(AccountError::InvalidJwks)?;
        }
        if fingerprint.is_none() && new.jwks.is_none() {
            return Err(AccountError::NoCredential);
        }
        if self.inner.store.account_by_name(&new.name).await?.is_some() {
            return Err(AccountError::Exists(new.name));
        }
        let record = AccountRecord {
            id: uuid::Uuid::now_v7().to_string(),
            name: new.name,
            kind: AccountKind::Service,
            password_hash: None,
            disabled: false,
            sealed: false,
            mfa_required: false,
            totp_secret: None,
            totp_confirmed: false,
            totp_last_step: None,
            training_valid_until: None,
            cert_fingerprint: fingerprint,
            jwks: new.jwks,
            zone: new.zone,
            roles: new.roles,
            departments: new.departments,
            revoked_before: 0,
            created_at: self.now(),
        };
        self.inner.store.create_account(&record).await?;
        Ok(record.id)
    }

    /// Every account, without secrets.
    pub async fn list_accounts(&self) -> Result<Vec<AccountSummary>, AccountError> {
        let now = self.now();
        let mut out = Vec::new();
        for a in self.inner.store.list_accounts().await? {
            let lock = self
                .inner
                .store
                .failure_state(&account_key(&a.name))
                .await?;
            out.push(AccountSummary {
                locked_until: (lock.locked_until > now).then_some(lock.locked_until),
                name: a.name,
                kind: a.kind,
                roles: a.roles,
                departments: a.departments,
                disabled: a.disabled,
                sealed: a.sealed,
                mfa_confirmed: a.totp_confirmed,
                training_valid_until: a.training_valid_until,
            });
        }
        Ok(out)
    }

    /// Disable an account and revoke every token it holds, on every node.
    pub async fn disable_account(&self, name: &str) -> Result<(), AccountError> {
        let account = self.account(name).await?;
        self.inner.store.set_disabled(&account.id, true).await?;
        self.revoke_account_tokens(&account.id).await?;
        self.emit(
            SecurityEvent::new(
                SecurityEventKind::AccountDisabled,
                self.now(),
                "account disabled",
            )
            .account(name),
        );
        Ok(())
    }

    /// Re-enable an account.
    pub async fn enable_account(&self, name: &str) -> Result<(), AccountError> {
        let account = self.account(name).await?;
        self.inner.store.set_disabled(&account.id, false).await?;
        Ok(())
    }

    /// Refuse every token of an account issued until now.
    pub(crate) async fn revoke_account_tokens(&self, id: &str) -> Result<(), StoreError> {
        // +1: a token issued in this very second is revoked too.
        let epoch = self.now() + 1;
        self.inner.store.revoke_account(id, epoch).await?;
        let note = crate::revocation::RevocationState::account_announcement(id, epoch);
        self.inner.revocations.apply_announcement(&note);
        self.inner.store.announce_revocation(&note).await
    }

    /// Add a role.
    pub async fn add_role(&self, name: &str, role: &str) -> Result<(), AccountError> {
        self.check_roles_and_departments(&[role.to_owned()], &[])?;
        let account = self.account(name).await?;
        let mut roles = account.roles.clone();
        if !roles.iter().any(|r| r == role) {
            roles.push(role.to_owned());
            self.inner.store.set_roles(&account.id, &roles).await?;
        }
        Ok(())
    }

    /// Remove a role; tokens issued with it are revoked, since they still carry its scopes.
    pub async fn remove_role(&self, name: &str, role: &str) -> Result<(), AccountError> {
        let account = self.account(name).await?;
        let roles: Vec<String> = account
            .roles
            .iter()
            .filter(|r| *r != role)
            .cloned()
            .collect();
        if roles.len() != account.roles.len() {
            self.inner.store.set_roles(&account.id, &roles).await?;
            self.revoke_account_tokens(&account.id).await?;
        }
        Ok(())
    }

    /// Give a new TOTP secret and recovery codes (lost phone); old codes stop working.
    pub async fn reset_mfa(
        &self,
        name: &str,
    ) -> Result<(TotpEnrolment, Vec<Zeroizing<String>>), AccountError> {
        let account = self.account(name).await?;
        if account.kind != AccountKind::Human {
            return Err(AccountError::NotHuman(name.to_owned()));
        }
        let secret = mfa::new_totp_secret();
        let enrolment = mfa::enrolment(&secret, name, "wardgate")?;
        let sealed = self.inner.data_key.seal(TOTP_SEAL_PURPOSE, &secret);
        self.inner
            .store
            .set_totp(&account.id, Some(&sealed))
            .await?;
        let codes = mfa::new_recovery_codes();
        let hashes: Vec<String> = codes.iter().map(|c| mfa::recovery_code_hash(c)).collect();
        self.inner
            .store
            .set_recovery_codes(&account.id, &hashes)
            .await?;
        self.revoke_account_tokens(&account.id).await?;
        self.emit(
            SecurityEvent::new(
                SecurityEventKind::MfaReset,
                self.now(),
                "MFA reset by an administrator",
            )
            .account(name),
        );
        Ok((enrolment, codes))
    }

    /// Lift a lockout before its cool-down ends.
    pub async fn unlock(&self, name: &str) -> Result<(), AccountError> {
        self.account(name).await?;
        self.inner.store.clear_failures(&account_key(name)).await?;
        self.emit(
            SecurityEvent::new(
                SecurityEventKind::Unlock,
                self.now(),
                "unlocked by an administrator",
            )
            .account(name),
        );
        Ok(())
    }

    /// Lift a lockout of a client address.
    pub async fn unlock_address(&self, address: &str) -> Result<(), AccountError> {
        self.inner
            .store
            .clear_failures(&address_key(address))
            .await?;
        Ok(())
    }

    /// Record until when the account's security training is current.
    pub async fn set_training(&self, name: &str, until: Option<i64>) -> Result<(), AccountError> {
        let account = self.account(name).await?;
        self.inner.store.set_training(&account.id, until).await?;
        Ok(())
    }

    /// Set a new password (checked against the rules).
    pub async fn set_password(&self, name: &str, new_password: &str) -> Result<(), AccountError> {
        let account = self.account(name).await?;
        if account.kind != AccountKind::Human {
            return Err(AccountError::NotHuman(name.to_owned()));
        }
        password::check_new_password(name, new_password)?;
        let hash = self.inner.hashing.hash(new_password)?;
        self.inner.store.set_password(&account.id, &hash).await?;
        self.revoke_account_tokens(&account.id).await?;
        Ok(())
    }

    /// The current TOTP code of an account (for the demo printout and tests; an operator
    /// tool, never exposed over HTTP).
    pub async fn current_totp_code(
        &self,
        name: &str,
        at: i64,
    ) -> Result<Option<String>, AccountError> {
        let account = self.account(name).await?;
        let Some(sealed) = account.totp_secret else {
            return Ok(None);
        };
        let secret = self
            .inner
            .data_key
            .open(TOTP_SEAL_PURPOSE, &sealed)
            .map_err(|_| AccountError::Store(StoreError::Corrupt("sealed TOTP secret")))?;
        Ok(Some(mfa::current_code(
            &secret,
            u64::try_from(at).unwrap_or(0),
        )))
    }
}
