//! The policy in force, swapped atomically on reload; and a watcher that reloads on change.
//!
//! Each request takes one [`ActivePolicy`] snapshot ([`PolicyHandle::current`]) and keeps it
//! to the end, so a reload never mixes two policies within one exchange, and in-flight
//! requests are not disturbed. A reload that fails validation changes nothing.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};

use crate::diagnostic::Diagnostic;
use crate::model::Policy;
use crate::{Validated, policy_text, read_policy_file};

/// SHA-256 of the policy file's bytes: which text is in force, for logs and `/metrics`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of a file's bytes.
    pub fn of(bytes: &[u8]) -> Self {
        Fingerprint(Sha256::digest(bytes).into())
    }

    /// The first 12 hex digits, enough to tell versions apart in a log line.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..6])
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.short())
    }
}

/// The policy in force, with which version of it this is.
#[derive(Debug)]
pub struct ActivePolicy {
    /// The validated policy.
    pub policy: Policy,
    /// 1 for the policy loaded at start, +1 at each successful reload.
    pub version: u64,
    /// SHA-256 of the file's bytes.
    pub fingerprint: Fingerprint,
    /// Warnings found when it was validated.
    pub warnings: Vec<Diagnostic>,
    /// When it was put in force.
    pub loaded_at: SystemTime,
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// The new policy is in force.
    Swapped {
        /// Its version.
        version: u64,
        /// Its fingerprint.
        fingerprint: Fingerprint,
        /// Warnings found when validating it.
        warnings: Vec<Diagnostic>,
    },
    /// The file's bytes are those of the policy in force: nothing to do.
    Unchanged {
        /// The version still in force.
        version: u64,
    },
}

/// A shared, atomically swappable handle on the policy in force. Cloning is cheap.
#[derive(Clone)]
pub struct PolicyHandle {
    shared: Arc<Shared>,
}

struct Shared {
    current: ArcSwap<ActivePolicy>,
    /// Serializes reloads (SIGHUP and the watcher may race) so versions stay consecutive.
    reload: Mutex<()>,
}

impl fmt::Debug for PolicyHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let current = self.current();
        f.debug_struct("PolicyHandle")
            .field("version", &current.version)
            .field("fingerprint", &current.fingerprint)
            .finish()
    }
}

impl PolicyHandle {
    /// A handle on an already validated policy, as version 1.
    pub fn new(validated: Validated, fingerprint: Fingerprint) -> Self {
        PolicyHandle {
            shared: Arc::new(Shared {
                current: ArcSwap::from_pointee(active(validated, 1, fingerprint)),
                reload: Mutex::new(()),
            }),
        }
    }

    /// Loads and validates the file at `path` as version 1.
    pub fn load(path: &Path) -> Result<Self, Vec<Diagnostic>> {
        let bytes = read_policy_file(path)?;
        let text = policy_text(path, &bytes)?;
        let validated = Policy::parse(text, path)?;
        Ok(PolicyHandle::new(validated, Fingerprint::of(&bytes)))
    }

    /// The policy in force. Take it once per request and use that snapshot throughout.
    pub fn current(&self) -> Arc<ActivePolicy> {
        self.shared.current.load_full()
    }

    /// The version in force.
    pub fn version(&self) -> u64 {
        self.shared.current.load().version
    }

    /// Re-reads `path` and puts the policy in force if it validates; otherwise the policy in
    /// force stays and the diagnostics say why the new one was refused.
    pub fn reload_from(&self, path: &Path) -> Result<ReloadOutcome, Vec<Diagnostic>> {
        let bytes = read_policy_file(path)?;
        let fingerprint = Fingerprint::of(&bytes);
        // A poisoned lock only means another reload panicked; the swap itself is atomic.
        let _serialized = self.shared.reload.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.current();
        if current.fingerprint == fingerprint {
            return Ok(ReloadOutcome::Unchanged {
                version: current.version,
            });
        }
        let text = policy_text(path, &bytes)?;
        let validated = Policy::parse(text, path)?;
        let version = current.version + 1;
        let warnings = validated.warnings.clone();
        self.shared
            .current
            .store(Arc::new(active(validated, version, fingerprint)));
        Ok(ReloadOutcome::Swapped {
            version,
            fingerprint,
            warnings,
        })
    }
}

fn active(validated: Validated, version: u64, fingerprint: Fingerprint) -> ActivePolicy {
    ActivePolicy {
        policy: validated.policy,
        version,
        fingerprint,
        warnings: validated.warnings,
        loaded_at: SystemTime::now(),
    }
}

/// What the watcher reports: the gateway logs it and counts it in `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadEvent {
    /// The file changed and the new policy is in force.
    Swapped {
        /// Its version.
        version: u64,
        /// Its fingerprint.
        fingerprint: Fingerprint,
        /// Warnings found when validating it.
        warnings: Vec<Diagnostic>,
    },
    /// The file changed but the new policy was refused; the previous one stays in force.
    Refused {
        /// Why.
        diagnostics: Vec<Diagnostic>,
    },
}

/// Size and modification time: what the watcher compares between polls.
type FileStamp = Option<(u64, Option<SystemTime>)>;

async fn stamp(path: &Path) -> FileStamp {
    let meta = tokio::fs::metadata(path).await.ok()?;
    Some((meta.len(), meta.modified().ok()))
}

/// Polls `path` every `period` and reloads `handle` when the file's size or modification
/// time has changed and then stayed the same for one period; `on_event` hears each swap or
/// refusal. A file that changes back and forth
/// to the same bytes is not reloaded (the fingerprint is compared). Stops when the task is
/// aborted (drop the runtime or call `abort` on the returned handle).
///
/// Polling rather than inotify: one `stat` a second costs nothing, works on every
/// filesystem (NFS, container bind mounts, editors that replace the file), and needs no
/// thread of its own.
pub fn watch_file<F>(
    handle: PolicyHandle,
    path: PathBuf,
    period: Duration,
    mut on_event: F,
) -> tokio::task::JoinHandle<()>
where
    F: FnMut(ReloadEvent) + Send + 'static,
{
    // The first stamp is taken before the task starts, so an edit made right after this call
    // returns is seen as a change rather than taken as the starting point.
    let first: FileStamp = std::fs::metadata(&path)
        .ok()
        .map(|meta| (meta.len(), meta.modified().ok()));
    tokio::spawn(async move {
        let mut considered = first;
        let mut previous = considered;
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let now = stamp(&path).await;
            // Reload only once the file has stopped changing for a whole period, so a file
            // caught half-written (truncated, then filled) is not judged.
            let settled = now == previous;
            previous = now;
            if !settled || now == considered {
                continue;
            }
            considered = now;
            let reloading = handle.clone();
            let file = path.clone();
            let outcome = tokio::task::spawn_blocking(move || reloading.reload_from(&file)).await;
            let event = match outcome {
                Ok(Ok(ReloadOutcome::Swapped {
                    version,
                    fingerprint,
                    warnings,
                })) => ReloadEvent::Swapped {
                    version,
                    fingerprint,
                    warnings,
                },
                Ok(Ok(ReloadOutcome::Unchanged { .. })) => continue,
                Ok(Err(diagnostics)) => ReloadEvent::Refused { diagnostics },
                Err(join_error) => ReloadEvent::Refused {
                    diagnostics: vec![Diagnostic::for_file(
                        &path.display().to_string(),
                        format!("the reload task failed: {join_error}"),
                        None,
                    )],
                },
            };
            on_event(event);
        }
    })
}
