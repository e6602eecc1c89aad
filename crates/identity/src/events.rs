//! Security events: lockouts, break-the-glass, refresh-token reuse, sealed accounts.
//!
//! The security officer must hear of these at once. Until the audit crate exists, the
//! [`JsonLinesSink`] appends one JSON object per line to `security-events.jsonl` in the data
//! directory and echoes it to stderr; the audit crate will provide another
//! [`SecurityEventSink`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::json;

/// The file name of the JSON-lines security event log in the data directory.
pub const SECURITY_EVENTS_FILE: &str = "security-events.jsonl";

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityEventKind {
    /// An account or a client address was locked after repeated failures.
    Lockout,
    /// An administrator unlocked an account.
    Unlock,
    /// A break-the-glass grant began (DICOM 110127 "Emergency Override Started").
    BreakGlassStarted,
    /// A break-the-glass grant ended (DICOM 110138 "Emergency Override Stopped").
    BreakGlassEnded,
    /// A rotated refresh token was presented again: the session was revoked.
    RefreshTokenReuse,
    /// A sealed emergency account logged in.
    SealedAccountUsed,
    /// An account's MFA was reset.
    MfaReset,
    /// An account was disabled.
    AccountDisabled,
    /// A client assertion `jti` was replayed.
    AssertionReplay,
}

impl SecurityEventKind {
    /// The stable event code.
    pub fn code(self) -> &'static str {
        match self {
            SecurityEventKind::Lockout => "identity.lockout",
            SecurityEventKind::Unlock => "identity.unlock",
            SecurityEventKind::BreakGlassStarted => "identity.break-glass.started",
            SecurityEventKind::BreakGlassEnded => "identity.break-glass.ended",
            SecurityEventKind::RefreshTokenReuse => "identity.refresh-token-reuse",
            SecurityEventKind::SealedAccountUsed => "identity.sealed-account-used",
            SecurityEventKind::MfaReset => "identity.mfa-reset",
            SecurityEventKind::AccountDisabled => "identity.account-disabled",
            SecurityEventKind::AssertionReplay => "identity.assertion-replay",
        }
    }

    /// The DICOM audit event type: 110113 Security Alert for all of these.
    pub fn dicom_type(self) -> &'static str {
        "110113"
    }
}

/// One security event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityEvent {
    /// What happened.
    pub kind: SecurityEventKind,
    /// When (Unix seconds).
    pub at: i64,
    /// The account concerned, by name.
    pub account: Option<String>,
    /// The client address concerned.
    pub address: Option<String>,
    /// A break-the-glass grant id, when relevant.
    pub grant: Option<String>,
    /// Human-readable detail (reasons, counts), never secrets.
    pub detail: String,
}

impl SecurityEvent {
    /// An event with no account, address or grant yet.
    pub fn new(kind: SecurityEventKind, at: i64, detail: impl Into<String>) -> Self {
        SecurityEvent {
            kind,
            at,
            account: None,
            address: None,
            grant: None,
            detail: detail.into(),
        }
    }

    /// Name the account.
    pub fn account(mut self, name: impl Into<String>) -> Self {
        self.account = Some(name.into());
        self
    }

    /// Name the client address.
    pub fn address(mut self, address: impl Into<String>) -> Self {
        self.address = Some(address.into());
        self
    }

    /// Name the break-the-glass grant.
    pub fn grant(mut self, id: impl Into<String>) -> Self {
        self.grant = Some(id.into());
        self
    }

    /// The event as one JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "event": self.kind.code(),
            "type": self.kind.dicom_type(),
            "at": self.at,
            "account": self.account,
            "address": self.address,
            "grant": self.grant,
            "detail": self.detail,
        })
    }
}

/// Where security events go.
pub trait SecurityEventSink: Send + Sync {
    /// Record one event. Must not block for long: it runs on the request path.
    fn record(&self, event: &SecurityEvent);
}

/// Appends events as JSON lines to a file and echoes them to stderr.
#[derive(Debug)]
pub struct JsonLinesSink {
    path: PathBuf,
    file: Mutex<std::fs::File>,
    echo: bool,
}

impl JsonLinesSink {
    /// Append to `dir/security-events.jsonl`, echoing to stderr if `echo`.
    pub fn open(dir: &Path, echo: bool) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(SECURITY_EVENTS_FILE);
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&path)?;
        Ok(JsonLinesSink {
            path,
            file: Mutex::new(file),
            echo,
        })
    }

    /// The file written to.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl SecurityEventSink for JsonLinesSink {
    fn record(&self, event: &SecurityEvent) {
        let line = event.to_json().to_string();
        if let Ok(mut file) = self.file.lock() {
            // A failing disk must not take authentication down; stderr still gets the event.
            let _ = writeln!(file, "{line}");
            let _ = file.flush();
        }
        if self.echo {
            eprintln!("wardgate security event: {line}");
        }
    }
}
