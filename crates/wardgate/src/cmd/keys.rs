//! `wardgate keys ...`: the encryption keys of the built-in departments.
//!
//! `status` shows every department's data and index keys and how many sealed rows each data
//! key still protects; `rotate DEPARTMENT` adds a new data key and re-encrypts in the
//! background while the gateway keeps serving; `rotate-master` re-wraps every department's
//! keys under a new master key file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use wardgate_departments::crypto::{MASTER_KEY_FILE, MasterKey};
use wardgate_departments::keys::{
    KEYRING_REFRESH, add_data_key, reencrypt, reload_keyring, rewrap, status,
};
use wardgate_departments::store::DepartmentStore;
use wardgate_departments::{DEFAULT_DEPARTMENTS, StoreConfig};

/// `wardgate keys`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    /// The data directory (master key, department databases).
    #[arg(
        long,
        env = "WARDGATE_DATA_DIR",
        default_value = "wardgate-data",
        global = true
    )]
    data_dir: PathBuf,
    /// A PostgreSQL URL when departments live in PostgreSQL (one schema each).
    #[arg(long, env = "WARDGATE_DEPARTMENTS_DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// The prefix of each department's PostgreSQL schema.
    #[arg(
        long,
        env = "WARDGATE_DEPARTMENTS_SCHEMA_PREFIX",
        default_value = "wardgate_",
        global = true
    )]
    schema_prefix: String,
    /// Read the master key from a passphrase in this environment variable (Argon2id) instead
    /// of the key file.
    #[arg(long, global = true)]
    passphrase_env: Option<String>,
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Show each department's keys and the rows each data key seals.
    Status {
        /// Only these departments (default: every department found).
        departments: Vec<String>,
    },
    /// Add a new data key to a department and re-encrypt everything under it, online.
    Rotate {
        /// The department.
        department: String,
        /// How many rows to re-seal per batch.
        #[arg(long, default_value_t = 500)]
        batch: i64,
        /// How long to wait for running gateways to switch to the new key, in seconds.
        #[arg(long, default_value_t = 2 * KEYRING_REFRESH.as_secs() + 2)]
        wait_seconds: u64,
    },
    /// Replace the master key file and re-wrap every department's keys under the new one.
    RotateMaster {
        /// The departments whose keys are re-wrapped (default: every department found).
        departments: Vec<String>,
    },
}

/// Run `wardgate keys`.
pub fn run(args: KeysArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run_async(args))
}

fn stores(args: &KeysArgs) -> StoreConfig {
    match &args.database_url {
        Some(url) => StoreConfig::Postgres {
            url: url.clone(),
            schema_prefix: args.schema_prefix.clone(),
        },
        None => StoreConfig::Sqlite {
            data_dir: args.data_dir.clone(),
        },
    }
}

fn master(args: &KeysArgs) -> anyhow::Result<MasterKey> {
    match &args.passphrase_env {
        Some(var) => MasterKey::from_env_passphrase(&args.data_dir, var)
            .with_context(|| format!("deriving the master key from the passphrase in ${var}")),
        None => {
            let path = args.data_dir.join(MASTER_KEY_FILE);
            MasterKey::load(&path)
                .with_context(|| format!("reading the master key {}", path.display()))
        }
    }
}

/// The departments to act on: those named, or every one that has a store.
fn departments(args: &KeysArgs, named: &[String]) -> Vec<String> {
    if !named.is_empty() {
        return named.to_vec();
    }
    if args.database_url.is_some() {
        return DEFAULT_DEPARTMENTS.iter().map(|d| d.to_string()).collect();
    }
    let mut found: Vec<String> = std::fs::read_dir(args.data_dir.join("departments"))
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.strip_suffix(".db").map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

async fn open(args: &KeysArgs, department: &str) -> anyhow::Result<Arc<dyn DepartmentStore>> {
    if args.database_url.is_none()
        && !wardgate_departments::service::sqlite_path(&args.data_dir, department).exists()
    {
        bail!(
            "department '{department}' has no store in {}",
            args.data_dir.display()
        );
    }
    stores(args)
        .open(department)
        .await
        .with_context(|| format!("opening the store of department '{department}'"))
}

async fn run_async(args: KeysArgs) -> anyhow::Result<()> {
    match &args.command {
        KeysCommand::Status { departments: named } => {
            let names = departments(&args, named);
            if names.is_empty() {
                println!("no department stores in {}", args.data_dir.display());
            }
            for department in names {
                let store = open(&args, &department).await?;
                println!("{department}");
                println!(
                    "  {:<6} {:>3}  {:<9} {:<17} {:>8}  created",
                    "key", "id", "state", "master", "rows"
                );
                for key in status(store.as_ref()).await? {
                    // Index keys seal no rows: they make blind tokens.
                    let rows = if key.purpose == "data" {
                        key.rows.to_string()
                    } else {
                        "-".to_owned()
                    };
                    println!(
                        "  {:<6} {:>3}  {:<9} {:<17} {:>8}  {}",
                        key.purpose, key.key_id, key.state, key.master_id, rows, key.created_at
                    );
                }
            }
        }
        KeysCommand::Rotate {
            department,
            batch,
            wait_seconds,
        } => {
            let master = master(&args)?;
            let store = open(&args, department).await?;
            let new_key = add_data_key(store.as_ref(), &master, department).await?;
            println!(
                "{department}: data key {new_key} is active; waiting {wait_seconds}s for running gateways to switch"
            );
            tokio::time::sleep(Duration::from_secs(*wait_seconds)).await;
            let keyring = reload_keyring(store.as_ref(), &master, department).await?;
            let count = reencrypt(store.as_ref(), &keyring, (*batch).max(1)).await?;
            println!(
                "{department}: re-encrypted {count} rows under data key {new_key}; older data keys retired"
            );
        }
        KeysCommand::RotateMaster { departments: named } => {
            if args.passphrase_env.is_some() {
                bail!(
                    "rotate-master replaces the key file; a passphrase-derived master key changes with its passphrase"
                );
            }
            let old = master(&args)?;
            let (new, bytes) = MasterKey::generate();
            let next = args.data_dir.join(format!("{MASTER_KEY_FILE}.next"));
            write_key(&next, bytes.as_slice())?;
            for department in departments(&args, named) {
                let store = open(&args, &department).await?;
                let count = rewrap(store.as_ref(), &old, &new, &department).await?;
                println!(
                    "{department}: re-wrapped {count} keys under master key {}",
                    new.id()
                );
            }
            let current = args.data_dir.join(MASTER_KEY_FILE);
            std::fs::rename(&next, &current).context("installing the new master key file")?;
            println!(
                "master key {} replaced by {}; restart gateways to use it",
                old.id(),
                new.id()
            );
        }
    }
    Ok(())
}

fn write_key(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).with_context(|| {
        format!(
            "creating {} (remove a stale one from an interrupted rotation)",
            path.display()
        )
    })?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}
