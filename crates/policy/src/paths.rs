//! Where the policy file is when the operator does not say.

use std::path::PathBuf;

/// The environment variable naming the policy file.
pub const CONFIG_ENV: &str = "WARDGATE_CONFIG";

/// The policy file used when neither `--config` nor [`CONFIG_ENV`] names one.
pub const DEFAULT_CONFIG_FILE: &str = "wardgate.toml";

/// The policy file: `--config FILE` if given, else `$WARDGATE_CONFIG` if set and not empty,
/// else `./wardgate.toml`. `wardgate check` and `wardgate serve` both resolve it here.
pub fn config_path(from_command_line: Option<PathBuf>) -> PathBuf {
    from_command_line
        .or_else(|| {
            std::env::var_os(CONFIG_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_FILE))
}
