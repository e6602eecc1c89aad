//! `wardgate service ...`: system accounts (lab analysers, interface engines) bound to a
//! client certificate or a JWKS for `private_key_jwt`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use wardgate_identity::NewService;

use super::user::StoreArgs;

/// `wardgate service`.
#[derive(Debug, Args)]
pub struct ServiceArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: ServiceCommand,
}

#[derive(Debug, Subcommand)]
enum ServiceCommand {
    /// Create a service account.
    Add {
        /// Name, also its OAuth client_id.
        name: String,
        /// SHA-256 fingerprint of its client certificate (hex, ':' allowed).
        #[arg(long, required_unless_present = "jwks_file")]
        cert_fingerprint: Option<String>,
        /// Its public keys (JWKS, RS384 or ES384) for signed client assertions.
        #[arg(long)]
        jwks_file: Option<PathBuf>,
        /// Role (e.g. lab_analyser, interface_engine; repeatable).
        #[arg(long, required = true)]
        role: Vec<String>,
        /// Department it may reach (repeatable).
        #[arg(long)]
        department: Vec<String>,
        /// Its device zone.
        #[arg(long)]
        zone: Option<String>,
    },
}

/// Run `wardgate service ...`.
pub fn run(args: ServiceArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let identity = args.store.open().await?;
        match args.command {
            ServiceCommand::Add {
                name,
                cert_fingerprint,
                jwks_file,
                role,
                department,
                zone,
            } => {
                let jwks = match jwks_file {
                    Some(path) => Some(
                        std::fs::read_to_string(&path)
                            .with_context(|| format!("reading {}", path.display()))?,
                    ),
                    None => None,
                };
                let id = identity
                    .add_service(NewService {
                        name: name.clone(),
                        roles: role,
                        departments: department,
                        zone,
                        cert_fingerprint,
                        jwks,
                    })
                    .await?;
                println!("created service {name} ({id})");
                println!("token endpoint: {}", identity.token_endpoint());
            }
        }
        Ok(())
    })
}
