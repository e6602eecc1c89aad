//! The `wardgate` command: one binary, one subcommand per task an operator performs.
//!
//! Each subcommand lives in its own module under `cmd/`; this file only parses the
//! command line and dispatches.
#![forbid(unsafe_code)]

mod cmd;

use clap::{Parser, Subcommand};

/// wardgate: the security gateway in front of every hospital department API.
#[derive(Debug, Parser)]
#[command(name = "wardgate", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands, in the order an operator meets them.
#[derive(Debug, Subcommand)]
enum Command {
    /// Print the version and the build's feature set.
    Version,
    /// Run the gateway: HTTPS for the department APIs, admin endpoints, reload, drain.
    Serve(cmd::serve::ServeArgs),
    /// Validate the policy file: every error with its line, column and what to write instead.
    Check(cmd::check::CheckArgs),
    /// The hospital CA: issue, list and revoke device certificates; show how to trust the CA.
    Cert(cmd::cert::CertArgs),
    /// Show and rotate the encryption keys of the built-in departments.
    Keys(cmd::keys::KeysArgs),
    /// Run the inspection engine offline: scan corpora, explain a verdict.
    Waf(cmd::waf::WafArgs),
    /// Manage staff accounts: add, list, disable, roles, MFA reset, unlock, training.
    User(cmd::user::UserArgs),
    /// Manage system accounts (mTLS or private_key_jwt).
    Service(cmd::service::ServiceArgs),
}

/// mimalloc instead of the system allocator: a proxied request allocates and frees a few
/// hundred small buffers (headers, the record, the firewall's decoded values), and glibc's
/// malloc/free cost ~12,000 instructions of ~133,000 per request (callgrind,
/// bench/results/gateway-2026-11-29d.md); mimalloc's thread-local free lists cost less and
/// do not contend across the per-core workers.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => cmd::version::run(),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Check(args) => cmd::check::run(args),
        Command::Cert(args) => cmd::cert::run(args),
        Command::Keys(args) => cmd::keys::run(args),
        Command::Waf(args) => cmd::waf::run(args),
        Command::User(args) => cmd::user::run(args),
        Command::Service(args) => cmd::service::run(args),
    }
}
