//! Demo accounts for a first run: one per role, so a new installation can be tried at once.

use zeroize::Zeroizing;

use crate::accounts::{AccountError, NewUser};
use crate::service::Identity;

/// One demo account, with what its user needs to log in.
#[derive(Debug)]
pub struct DemoAccount {
    /// Login name (`demo.<role>`).
    pub name: String,
    /// Its role.
    pub role: String,
    /// Its departments.
    pub departments: Vec<String>,
    /// The generated password.
    pub password: Zeroizing<String>,
    /// The TOTP enrolment URI for an authenticator app.
    pub otpauth_uri: Zeroizing<String>,
}

impl Identity {
    /// Create `demo.<role>` for every role of the policy if the store has no account yet
    /// (`wardgate serve` calls this on first run and prints the result). Returns nothing on
    /// later runs.
    pub async fn create_demo_accounts(&self) -> Result<Vec<DemoAccount>, AccountError> {
        if !self.store().list_accounts().await?.is_empty() {
            return Ok(Vec::new());
        }
        let policy = self.policy();
        let mut created = Vec::new();
        for (role, access) in &policy.roles {
            let system_only =
                !access.scopes.is_empty() && access.scopes.iter().all(|s| s.starts_with("system/"));
            if system_only {
                // A role for systems: demo staff accounts would be of no use with it.
                continue;
            }
            let departments: Vec<String> = if access.departments.is_empty() {
                Vec::new()
            } else {
                // The first department the role reaches, as its home department; the record
                // too where the role reaches it, as clinicians usually need both.
                let mut d = vec![access.departments[0].clone()];
                if access.departments.iter().any(|x| x == "record") && d[0] != "record" {
                    d.push("record".to_owned());
                }
                d
            };
            let name = format!("demo.{}", role.replace('_', "-"));
            let user = self
                .add_user(NewUser {
                    name: name.clone(),
                    roles: vec![role.clone()],
                    departments: departments.clone(),
                    password: None,
                    sealed: false,
                })
                .await?;
            created.push(DemoAccount {
                name,
                role: role.clone(),
                departments,
                password: user.initial_password.unwrap_or_default(),
                otpauth_uri: user.enrolment.otpauth_uri,
            });
        }
        Ok(created)
    }
}
