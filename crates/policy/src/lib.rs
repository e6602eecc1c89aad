//! The central policy: departments, zones, roles, routes, limits; load, validate, reload.
//!
//! Owns: the policy file (`wardgate.toml`): its schema as typed values ([`Policy`]), the
//! commented default file ([`DEFAULT_POLICY`]), validation that reports every problem with
//! its line, column and what to write instead ([`Diagnostic`]), the resolution of a request
//! path to the department and settings that apply ([`Policy::route`]), and atomic reload
//! ([`PolicyHandle`], [`watch_file`]).
//!
//! Must not know about: sockets, TLS, HTTP servers, tokens or storage. The gateway asks it
//! questions; identity and the WAF read its values.
//!
//! Loading does not use serde's `Deserialize`: derive-based deserialization stops at the
//! first error, and an operator fixing a policy wants all of them. The recovering TOML parser
//! gives a spanned tree which `decode` walks by hand. The model derives `Serialize` so the
//! effective policy can be shown as JSON (`wardgate check --effective`, the admin API).
#![forbid(unsafe_code)]

mod decode;
mod default;
mod diagnostic;
mod handle;
pub mod model;
mod paths;
mod route;
pub mod scope;
pub mod units;

pub use decode::{MAX_NESTING, MAX_POLICY_BYTES};
pub use default::{DEFAULT_POLICY, write_default_policy};
pub use diagnostic::{Diagnostic, Severity, Snippet, summary};
pub use handle::{ActivePolicy, Fingerprint, PolicyHandle, ReloadEvent, ReloadOutcome, watch_file};
pub use model::*;
pub use paths::{CONFIG_ENV, DEFAULT_CONFIG_FILE, config_path};
pub use route::{DeviceRefusal, ResolvedRoute, is_normal_path};
pub use units::{ByteSize, UnitError};

use std::path::Path;

/// A policy that passed validation, with the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Validated {
    /// The policy.
    pub policy: Policy,
    /// Problems that do not refuse the policy but that an operator should see.
    pub warnings: Vec<Diagnostic>,
}

impl Policy {
    /// Validates policy text. `file` names the file in diagnostics, and relative paths in
    /// the policy (TLS files, the audit log) are resolved against its folder.
    ///
    /// On failure, every error and warning found, in file order.
    pub fn parse(text: &str, file: &Path) -> Result<Validated, Vec<Diagnostic>> {
        let base_dir = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        decode::decode(text, &file.display().to_string(), base_dir)
            .map(|(policy, warnings)| Validated { policy, warnings })
    }

    /// Reads and validates the policy file at `path`.
    pub fn load(path: &Path) -> Result<Validated, Vec<Diagnostic>> {
        let bytes = read_policy_file(path)?;
        let text = policy_text(path, &bytes)?;
        Policy::parse(text, path)
    }

    /// The built-in default policy (the text of [`DEFAULT_POLICY`]), validated.
    pub fn hospital_default() -> Result<Validated, Vec<Diagnostic>> {
        Policy::parse(DEFAULT_POLICY, Path::new(DEFAULT_CONFIG_FILE))
    }
}

/// Reads a policy file, refusing one larger than [`MAX_POLICY_BYTES`] before reading it all.
pub(crate) fn read_policy_file(path: &Path) -> Result<Vec<u8>, Vec<Diagnostic>> {
    let name = path.display().to_string();
    let unreadable = |e: std::io::Error| {
        vec![Diagnostic::for_file(
            &name,
            format!("cannot read the policy file: {e}"),
            Some(format!(
                "check the path, or run `wardgate serve` once to write the default policy \
                 (or set {CONFIG_ENV})"
            )),
        )]
    };
    let size = std::fs::metadata(path).map_err(unreadable)?.len();
    if size > MAX_POLICY_BYTES as u64 {
        return Err(vec![Diagnostic::for_file(
            &name,
            format!("the policy file is {size} bytes, more than the {MAX_POLICY_BYTES} accepted"),
            Some("a policy is a few kilobytes: check that this is the right file".to_owned()),
        )]);
    }
    std::fs::read(path).map_err(unreadable)
}

/// The bytes of a policy file as text.
pub(crate) fn policy_text<'b>(path: &Path, bytes: &'b [u8]) -> Result<&'b str, Vec<Diagnostic>> {
    std::str::from_utf8(bytes).map_err(|e| {
        vec![Diagnostic::for_file(
            &path.display().to_string(),
            format!(
                "the policy file is not UTF-8 text (invalid byte at offset {})",
                e.valid_up_to()
            ),
            Some("save the file as UTF-8".to_owned()),
        )]
    })
}
