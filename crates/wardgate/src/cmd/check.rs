//! `wardgate check [--config FILE]`: validate the policy before it is deployed.
//!
//! Prints every diagnostic (rustc-style, with the source line and a caret) and a one-line
//! summary; exits with 0 when the policy is valid, 1 when it is not. Warnings do not fail.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use wardgate_policy::{Policy, config_path, summary};

/// Validate the policy file.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The policy file (default: $WARDGATE_CONFIG, else ./wardgate.toml).
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// When the policy is valid, also print it as JSON with every default filled in and the
    /// effective settings of each department and route.
    #[arg(long)]
    effective: bool,
}

/// Run `wardgate check`; exits the process with status 1 when the policy is refused.
pub fn run(args: CheckArgs) -> anyhow::Result<()> {
    let path = config_path(args.config);
    let name = path.display().to_string();
    match Policy::load(&path) {
        Ok(validated) => {
            for warning in &validated.warnings {
                println!("{}", warning.render());
            }
            if args.effective {
                let json = serde_json::to_string_pretty(&validated.policy)
                    .context("rendering the effective policy as JSON")?;
                println!("{json}");
            }
            println!("{}", summary(&name, &validated.warnings));
            Ok(())
        }
        Err(diagnostics) => {
            for diagnostic in &diagnostics {
                println!("{}", diagnostic.render());
            }
            println!("{}", summary(&name, &diagnostics));
            std::process::exit(1);
        }
    }
}
