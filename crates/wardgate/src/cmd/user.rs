//! `wardgate user ...`: staff accounts (add, list, disable, roles, MFA reset, unlock,
//! training) in the identity store.

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use wardgate_identity::policy::AccessPolicy;
use wardgate_identity::store::StoreLocation;
use wardgate_identity::{Identity, IdentityConfig, NewUser};
use zeroize::Zeroizing;

/// Where the identity store is: shared by `user` and `service`.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The data directory (identity store, data key, security events).
    #[arg(
        long,
        env = "WARDGATE_DATA_DIR",
        default_value = "wardgate-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// A PostgreSQL URL for a multi-node deployment (default: SQLite in the data directory).
    #[arg(long, env = "WARDGATE_IDENTITY_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// The PostgreSQL schema to use.
    #[arg(long, env = "WARDGATE_IDENTITY_DATABASE_SCHEMA", global = true)]
    pub database_schema: Option<String>,
    /// The policy file (roles and departments are checked against it; default:
    /// `$WARDGATE_CONFIG`, else `./wardgate.toml`, else the built-in default policy).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// The public origin of the gateway (token issuer).
    #[arg(
        long,
        env = "WARDGATE_PUBLIC_URL",
        default_value = "https://127.0.0.1:8443",
        global = true
    )]
    pub issuer: String,
}

impl StoreArgs {
    /// Open the identity service on this store.
    pub async fn open(&self) -> anyhow::Result<Identity> {
        let store = match &self.database_url {
            Some(url) => StoreLocation::Postgres {
                url: url.clone(),
                schema: self.database_schema.clone(),
            },
            None => StoreLocation::Sqlite(self.data_dir.join("identity.sqlite")),
        };
        let mut config = IdentityConfig::new(store, self.data_dir.clone(), self.issuer.clone());
        let path = wardgate_policy::config_path(self.config.clone());
        if path.exists() {
            let validated = wardgate_policy::Policy::load(&path).map_err(|diagnostics| {
                anyhow::anyhow!(
                    "{}; run `wardgate check` for details",
                    wardgate_policy::summary(&path.display().to_string(), &diagnostics)
                )
            })?;
            config.policy =
                AccessPolicy::from_policy(&validated.policy).with_default_system_roles();
        }
        Identity::open(config)
            .await
            .with_context(|| format!("opening the identity store in {}", self.data_dir.display()))
    }
}

/// `wardgate user`.
#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: UserCommand,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a staff account; prints its initial password (unless given), TOTP enrolment
    /// URI and recovery codes, once.
    Add {
        /// Login name (lowercase letters, digits, '.', '_', '-').
        name: String,
        /// Role (physician, nurse, radiologist, laboratory_technician, pharmacist,
        /// admissions_clerk, security_officer, auditor, administrator).
        #[arg(long, required = true)]
        role: Vec<String>,
        /// Department membership (repeatable).
        #[arg(long)]
        department: Vec<String>,
        /// Read the initial password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
        /// A sealed emergency account: its password goes in a sealed envelope; every login
        /// alerts the security officer.
        #[arg(long)]
        sealed: bool,
        /// Also write the TOTP QR code as a PNG to this file.
        #[arg(long)]
        qr: Option<PathBuf>,
    },
    /// List accounts (staff and services).
    List,
    /// Disable an account and revoke its tokens on every node.
    Disable {
        /// Login name.
        name: String,
    },
    /// Re-enable a disabled account.
    Enable {
        /// Login name.
        name: String,
    },
    /// Add or remove a role.
    Role {
        /// Login name.
        name: String,
        /// Role to add.
        #[arg(long, conflicts_with = "remove", required_unless_present = "remove")]
        add: Option<String>,
        /// Role to remove (revokes the account's tokens, which carry its scopes).
        #[arg(long)]
        remove: Option<String>,
    },
    /// Issue a new TOTP secret and recovery codes (lost phone); old ones stop working.
    ResetMfa {
        /// Login name.
        name: String,
        /// Also write the TOTP QR code as a PNG to this file.
        #[arg(long)]
        qr: Option<PathBuf>,
    },
    /// Lift a lockout before its cool-down ends.
    Unlock {
        /// Login name.
        name: String,
    },
    /// Record until when the account's security training is current.
    Training {
        /// Login name.
        name: String,
        /// Last day of validity (YYYY-MM-DD, inclusive).
        #[arg(long, conflicts_with = "clear", required_unless_present = "clear")]
        until: Option<String>,
        /// Forget the training record.
        #[arg(long)]
        clear: bool,
    },
}

/// Run `wardgate user ...`.
pub fn run(args: UserArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: UserArgs) -> anyhow::Result<()> {
    let identity = args.store.open().await?;
    match args.command {
        UserCommand::Add {
            name,
            role,
            department,
            password_stdin,
            sealed,
            qr,
        } => {
            let password = if password_stdin {
                let mut line = Zeroizing::new(String::new());
                std::io::stdin().lock().read_line(&mut line)?;
                Some(Zeroizing::new(
                    line.trim_end_matches(['\r', '\n']).to_owned(),
                ))
            } else {
                None
            };
            let created = identity
                .add_user(NewUser {
                    name: name.clone(),
                    roles: role,
                    departments: department,
                    password,
                    sealed,
                })
                .await?;
            println!("created {name} ({})", created.id);
            if let Some(p) = &created.initial_password {
                println!("initial password: {}", p.as_str());
            }
            print_enrolment(&created.enrolment, &created.recovery_codes, qr.as_deref())?;
            if sealed {
                println!(
                    "sealed account: print this once, seal it in an envelope, store it with the emergency procedure"
                );
            }
        }
        UserCommand::List => {
            let now = identity.now();
            println!(
                "{:<24} {:<8} {:<28} {:<32} state",
                "name", "kind", "roles", "departments"
            );
            for a in identity.list_accounts().await? {
                let mut state = Vec::new();
                if a.disabled {
                    state.push("disabled".to_owned());
                }
                if let Some(until) = a.locked_until {
                    state.push(format!("locked {}s", until - now));
                }
                if a.sealed {
                    state.push("sealed".to_owned());
                }
                if a.kind == wardgate_identity::store::AccountKind::Human && !a.mfa_confirmed {
                    state.push("mfa-not-yet-used".to_owned());
                }
                if a.training_valid_until.is_some_and(|t| t < now) {
                    state.push("training-expired".to_owned());
                }
                if state.is_empty() {
                    state.push("active".to_owned());
                }
                println!(
                    "{:<24} {:<8} {:<28} {:<32} {}",
                    a.name,
                    a.kind.code(),
                    a.roles.join(","),
                    a.departments.join(","),
                    state.join(",")
                );
            }
        }
        UserCommand::Disable { name } => {
            identity.disable_account(&name).await?;
            println!("disabled {name}; its tokens are revoked");
        }
        UserCommand::Enable { name } => {
            identity.enable_account(&name).await?;
            println!("enabled {name}");
        }
        UserCommand::Role { name, add, remove } => match (add, remove) {
            (Some(role), None) => {
                identity.add_role(&name, &role).await?;
                println!("{name}: role {role} added");
            }
            (None, Some(role)) => {
                identity.remove_role(&name, &role).await?;
                println!("{name}: role {role} removed; tokens revoked");
            }
            _ => bail!("give exactly one of --add or --remove"),
        },
        UserCommand::ResetMfa { name, qr } => {
            let (enrolment, codes) = identity.reset_mfa(&name).await?;
            println!("{name}: MFA reset; tokens revoked");
            print_enrolment(&enrolment, &codes, qr.as_deref())?;
        }
        UserCommand::Unlock { name } => {
            identity.unlock(&name).await?;
            println!("unlocked {name}");
        }
        UserCommand::Training { name, until, clear } => {
            let until = match (until, clear) {
                (Some(day), false) => Some(end_of_day(&day)?),
                _ => None,
            };
            identity.set_training(&name, until).await?;
            println!("{name}: training record updated");
        }
    }
    Ok(())
}

/// Print what the user needs to set up the authenticator app.
pub fn print_enrolment(
    enrolment: &wardgate_identity::mfa::TotpEnrolment,
    codes: &[Zeroizing<String>],
    qr: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    use base64::Engine;
    println!("TOTP enrolment URI: {}", enrolment.otpauth_uri.as_str());
    if let Some(path) = qr {
        let png = base64::engine::general_purpose::STANDARD.decode(&enrolment.qr_png_base64)?;
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))?;
        println!("TOTP QR code written to {}", path.display());
    }
    println!("recovery codes (each works once):");
    for code in codes {
        println!("  {}", code.as_str());
    }
    Ok(())
}

/// The last second of `day` (YYYY-MM-DD, UTC) in Unix seconds.
fn end_of_day(day: &str) -> anyhow::Result<i64> {
    let parts: Vec<&str> = day.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        bail!("dates are YYYY-MM-DD");
    };
    let (y, m, d): (i64, i64, i64) = (y.parse()?, m.parse()?, d.parse()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        bail!("dates are YYYY-MM-DD");
    }
    // Days from the civil date (Howard Hinnant's algorithm), to avoid a date library here.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok(days * 86_400 + 86_399)
}

#[cfg(test)]
mod tests {
    use super::end_of_day;

    #[test]
    fn dates_become_the_end_of_their_day() {
        assert_eq!(end_of_day("1970-01-01").unwrap(), 86_399);
        assert_eq!(end_of_day("2026-11-28").unwrap(), 1_795_910_399);
        assert!(end_of_day("2026-13-01").is_err());
        assert!(end_of_day("yesterday").is_err());
    }
}
