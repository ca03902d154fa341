//! The audit writer: a dedicated thread owns the file (or stdout) so no
//! blocking write happens on the async runtime (`crate::batch`). Requests
//! wait for their "request" record to be written (fail closed); "response"
//! records are appended without waking the writer and go out with the next
//! request record's batch, or within `LINGER`. The buffer is bounded: when
//! it is full, appenders wait up to `QUEUE_WAIT` for room, then give up (a
//! request record given up is a 503, a response record a counted loss).
//!
//! Group commit: the thread takes everything pending, writes it with one
//! `write` (and, with `audit.fsync`, one `fdatasync`), then acknowledges every
//! record of the batch; under load that is one syscall and one wake-up of
//! the thread per batch, not per record.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::batch::{self, Lines, Sink, Urgency};
use crate::config::AuditSinkKind;
use crate::metrics::Metrics;

/// Bytes of records that may wait for the writer (some thousands of records).
const CAPACITY: usize = 4 << 20;
/// Pending bytes that wake the writer even without a request record.
const HIGH_WATER: usize = 256 << 10;
/// Longest a response record waits for a batch to join.
const LINGER: Duration = Duration::from_millis(10);
/// Longest wait for room in a full buffer before a record is given up.
const QUEUE_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot open audit file {path}: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("audit record not written")]
    NotWritten,
}

/// Handle to the writer thread.
pub struct AuditLog {
    lines: Lines,
    metrics: Arc<Metrics>,
}

enum Out {
    Stdout,
    File(File, PathBuf),
}

/// Whether a batch is made durable before it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Written to the kernel (page cache, or the pipe for stdout).
    Written,
    /// Also `fdatasync`ed (file sinks; `audit.fsync = true`).
    Synced,
}

fn open_append(path: &PathBuf) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// The writer thread's end: where batches go, and how durably.
struct AuditSink {
    out: Out,
    durability: Durability,
}

impl Sink for AuditSink {
    /// Writes a batch of whole lines at once.
    fn write_batch(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.out {
            Out::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(bytes)?;
                out.flush()
            }
            // An unbuffered File: one write(2) for the batch, nothing held back.
            Out::File(f, _) => {
                f.write_all(bytes)?;
                match self.durability {
                    Durability::Synced => f.sync_data(),
                    Durability::Written => Ok(()),
                }
            }
        }
    }

    /// Opens the file again (after log rotation moved it away); the old one stays in use if that fails.
    fn reopen(&mut self) {
        if let Out::File(file, path) = &mut self.out {
            match open_append(path) {
                Ok(fresh) => {
                    *file = fresh;
                    tracing::info!(path = %path.display(), "audit file reopened");
                }
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %e.kind(), "audit file not reopened; still writing to the old one")
                }
            }
        }
    }
}

impl AuditLog {
    /// Opens the sink and starts the writer thread.
    pub fn open(kind: &AuditSinkKind, durability: Durability, metrics: Arc<Metrics>) -> Result<AuditLog, AuditError> {
        let out = match kind {
            AuditSinkKind::Stdout => Out::Stdout,
            AuditSinkKind::File(path) => Out::File(
                open_append(path).map_err(|source| AuditError::Open { path: path.clone(), source })?,
                path.clone(),
            ),
        };
        let limits = batch::Limits { capacity: CAPACITY, high_water: HIGH_WATER, linger: LINGER };
        // The thread ends when this handle is gone, after writing what is pending;
        // `flush` is how shutdown waits for it.
        let (lines, _detached) = batch::spawn("hsgate-audit", AuditSink { out, durability }, limits, {
            let metrics = metrics.clone();
            move |e| {
                metrics.audit_write_failures.inc();
                tracing::error!(error = %e.kind(), "audit records could not be written");
            }
        })
        .map_err(|source| AuditError::Open { path: "(audit thread)".into(), source })?;
        Ok(AuditLog { lines, metrics })
    }

    /// Writes a line and waits until it is written.
    pub async fn write_acked(&self, line: Vec<u8>) -> Result<(), AuditError> {
        let batch = self.lines.append_waiting(&line, Urgency::Now, QUEUE_WAIT).await;
        drop(line);
        match batch {
            Ok(batch) if batch.written().await => Ok(()),
            Ok(_) | Err(_) => Err(AuditError::NotWritten),
        }
    }

    /// Queues a line, waiting at most `QUEUE_WAIT` while the buffer is full
    /// (a sink that stopped draining must not hang every request).
    pub async fn write(&self, line: Vec<u8>, request_id: &str) {
        if self.lines.append_waiting(&line, Urgency::Linger, QUEUE_WAIT).await.is_err() {
            self.lost(request_id);
        }
    }

    fn lost(&self, request_id: &str) {
        self.metrics.audit_write_failures.inc();
        tracing::error!(request_id, "audit sink not draining: a response record was lost");
    }

    /// Queues a line without waiting (for drop paths).
    pub fn try_write(&self, line: Vec<u8>, request_id: &str) {
        if self.lines.append(&line, Urgency::Linger).is_err() {
            self.lost(request_id);
        }
    }

    /// Reopens a file sink once the records queued so far are written
    /// (SIGHUP); gives up waiting after `QUEUE_WAIT` if the sink is not draining.
    pub async fn reopen(&self) {
        let reopened = async {
            if let Ok(batch) = self.lines.reopen() {
                batch.written().await;
            }
        };
        if tokio::time::timeout(QUEUE_WAIT, reopened).await.is_err() {
            tracing::error!("audit sink not draining: not reopened yet");
        }
    }

    /// Waits until every record queued so far is written, at most `QUEUE_WAIT`
    /// (a sink that stopped draining must not hang shutdown).
    pub async fn flush(&self) {
        let flushed = async {
            if let Ok(batch) = self.lines.flush() {
                batch.written().await;
            }
        };
        if tokio::time::timeout(QUEUE_WAIT, flushed).await.is_err() {
            tracing::error!("audit sink not draining: records still queued at shutdown may be lost");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_lines_and_reports_failures() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let metrics = Arc::new(Metrics::new());
        let log = AuditLog::open(&AuditSinkKind::File(path.clone()), Durability::Synced, metrics.clone()).unwrap();
        log.write_acked(b"{\"a\":1}\n".to_vec()).await.unwrap();
        log.write(b"{\"a\":2}\n".to_vec(), "t-2").await;
        log.flush().await;
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"a\":1}\n{\"a\":2}\n");

        let full =
            AuditLog::open(&AuditSinkKind::File("/dev/full".into()), Durability::Written, metrics.clone()).unwrap();
        assert!(full.write_acked(b"x\n".to_vec()).await.is_err());
        assert!(metrics.render().contains("hsgate_audit_write_failures_total 1"));
    }
}

#[cfg(test)]
mod batch_tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn records_queued_together_are_written_in_order_and_all_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = Arc::new(
            AuditLog::open(&AuditSinkKind::File(path.clone()), Durability::Written, Arc::new(Metrics::new())).unwrap(),
        );
        let mut tasks = Vec::new();
        for i in 0..200 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move { log.write_acked(format!("{{\"n\":{i}}}\n").into_bytes()).await }));
        }
        for t in tasks {
            assert!(t.await.unwrap().is_ok(), "every record of a batch is acknowledged");
        }
        log.reopen().await;
        log.write(b"{\"n\":\"last\"}\n".to_vec(), "t-last").await;
        log.flush().await;
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 201);
        assert!(text.lines().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()), "whole lines only");
        assert!(text.ends_with("{\"n\":\"last\"}\n"));
    }
}
