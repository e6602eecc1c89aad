//! Where exchange records go: standard output, standard error or a file (appended).
//!
//! A worker thread never writes to the sink itself while the log keeps up: it appends its
//! line to memory, and the gateway's upkeep task writes what has gathered every 100 ms (and
//! at shutdown), in one write. A file write can stall for milliseconds (the kernel writing
//! back dirty pages, a slow disk); a worker that waited for it would hold up every
//! connection it serves, and, the sink being shared, the other workers too. Records are
//! never dropped: once `MAX_PENDING` bytes wait (the sink has stalled for a while), the
//! worker that adds to them writes them out itself, which holds the traffic back to the
//! speed of the disk rather than losing the audit trail.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use wardgate_policy::AuditSink;

use crate::error::GatewayError;

/// How many bytes of records may wait in memory before the worker adding to them writes them
/// out itself: over a second of records at 40,000 exchanges per second.
const MAX_PENDING: usize = 64 * 1024 * 1024;

/// The most room the written buffer keeps between writes: after a stall has grown it, the
/// memory goes back (100 ms of records at 40,000 exchanges per second fit in it).
const MAX_KEPT: usize = 8 * 1024 * 1024;

/// The exchange log, shared by every worker.
#[derive(Clone)]
pub struct ExchangeLog {
    shared: Arc<Shared>,
}

struct Shared {
    /// Records not yet written, in the order they were added.
    pending: Mutex<Vec<u8>>,
    /// The sink, and the buffer the pending records are swapped into to be written. Taken
    /// before `pending` by whoever writes, so that records reach the sink in order.
    sink: Mutex<Sink>,
    max_pending: usize,
}

struct Sink {
    out: Box<dyn Write + Send>,
    writing: Vec<u8>,
}

impl ExchangeLog {
    /// Open the sink the policy names.
    pub fn open(sink: &AuditSink) -> Result<Self, GatewayError> {
        let out: Box<dyn Write + Send> = match sink {
            AuditSink::Stdout => Box::new(std::io::stdout()),
            AuditSink::Stderr => Box::new(std::io::stderr()),
            AuditSink::File(path) => Box::new(open_append(path)?),
        };
        Ok(Self::with_limit(out, MAX_PENDING))
    }

    fn with_limit(out: Box<dyn Write + Send>, max_pending: usize) -> Self {
        ExchangeLog {
            shared: Arc::new(Shared {
                pending: Mutex::new(Vec::new()),
                sink: Mutex::new(Sink {
                    out,
                    writing: Vec::new(),
                }),
                max_pending,
            }),
        }
    }

    /// Add one record line (with its newline) to the log.
    pub fn write_line(&self, line: &[u8]) {
        let mut pending = lock(&self.shared.pending);
        pending.extend_from_slice(line);
        if pending.len() >= self.shared.max_pending {
            drop(pending);
            self.flush();
        }
    }

    /// Write the records gathered so far to the sink.
    pub fn flush(&self) {
        let mut sink = lock(&self.shared.sink);
        let sink = &mut *sink;
        std::mem::swap(&mut *lock(&self.shared.pending), &mut sink.writing);
        if sink.writing.is_empty() {
            return;
        }
        // A full disk must not stop clinical traffic; the failure is logged.
        if let Err(error) = sink
            .out
            .write_all(&sink.writing)
            .and_then(|()| sink.out.flush())
        {
            tracing::error!(%error, "cannot write the exchange log");
        }
        sink.writing.clear();
        if sink.writing.capacity() > MAX_KEPT {
            sink.writing = Vec::new();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn open_append(path: &Path) -> Result<std::fs::File, GatewayError> {
    let failed = |source| GatewayError::ExchangeLog {
        path: path.display().to_string(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(failed)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_log(dir: &Path, max_pending: usize) -> (ExchangeLog, std::path::PathBuf) {
        let path = dir.join("exchanges.jsonl");
        let out = Box::new(open_append(&path).unwrap());
        (ExchangeLog::with_limit(out, max_pending), path)
    }

    #[test]
    fn records_reach_the_file_when_flushed_not_when_added() {
        let dir = tempfile::tempdir().unwrap();
        let (log, path) = file_log(dir.path(), MAX_PENDING);
        log.write_line(b"{\"n\":1}\n");
        log.write_line(b"{\"n\":2}\n");
        assert_eq!(std::fs::read(&path).unwrap(), b"");
        log.flush();
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"n\":1}\n{\"n\":2}\n");
        log.flush();
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"n\":1}\n{\"n\":2}\n");
    }

    #[test]
    fn a_worker_writes_the_records_itself_once_too_many_wait() {
        let dir = tempfile::tempdir().unwrap();
        let (log, path) = file_log(dir.path(), 16);
        log.write_line(b"{\"n\":1}\n");
        assert_eq!(std::fs::read(&path).unwrap(), b"");
        log.write_line(b"{\"n\":2}\n");
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"n\":1}\n{\"n\":2}\n");
    }

    #[test]
    fn the_room_a_stall_took_is_given_back_after_the_write() {
        let dir = tempfile::tempdir().unwrap();
        let (log, path) = file_log(dir.path(), 2 * MAX_KEPT);
        let line = vec![b'x'; MAX_KEPT + 1];
        log.write_line(&line);
        log.flush();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), line.len() as u64);
        assert!(lock(&log.shared.sink).writing.capacity() <= MAX_KEPT);
    }

    #[test]
    fn every_line_of_every_thread_arrives_whole_and_in_its_thread_s_order() {
        let dir = tempfile::tempdir().unwrap();
        // A small limit, so that workers write while the upkeep flushes too.
        let (log, path) = file_log(dir.path(), 4096);
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let log = log.clone();
                std::thread::spawn(move || {
                    for n in 0..5_000 {
                        log.write_line(format!("{{\"t\":{t},\"n\":{n}}}\n").as_bytes());
                        if n % 700 == 0 {
                            log.flush();
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        log.flush();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut next = [0u32; 4];
        for line in text.lines() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            let t = value["t"].as_u64().unwrap() as usize;
            assert_eq!(value["n"].as_u64().unwrap(), u64::from(next[t]), "{line}");
            next[t] += 1;
        }
        assert_eq!(next, [5_000; 4]);
    }
}
