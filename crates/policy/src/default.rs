//! The default policy: a commented TOML document that `wardgate serve` writes on first run.

use std::io::Write;
use std::path::Path;

/// The text of the default policy file: five departments, two zones, the nine staff roles.
pub const DEFAULT_POLICY: &str = include_str!("default-policy.toml");

/// Writes [`DEFAULT_POLICY`] to `path` unless a file is already there. Returns whether it
/// wrote one. An existing policy is never overwritten, even by a concurrent first run.
pub fn write_default_policy(path: &Path) -> std::io::Result<bool> {
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(e),
    };
    file.write_all(DEFAULT_POLICY.as_bytes())?;
    file.sync_all()?;
    Ok(true)
}
