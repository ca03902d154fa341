//! The audit writer: a dedicated thread owns the file (or stdout) so no
//! blocking write happens on the async runtime. Requests wait for their
//! "request" record to be written (fail closed); "response" records are
//! queued. The queue is bounded: when it is full, senders wait.
//!
//! Group commit: the thread takes everything queued, writes it with one
//! `write` (and, with `audit.fsync`, one `fdatasync`), then acknowledges every
//! record of the batch; under load that is one syscall and one wake-up of
//! the thread per batch, not per record.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::config::AuditSinkKind;
use crate::metrics::Metrics;

const QUEUE: usize = 4096;
/// Records written together at most.
const MAX_BATCH: usize = 512;
/// Longest wait for room in a full queue before a response record is given up.
const QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot open audit file {path}: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("audit record not written")]
    NotWritten,
}

enum Msg {
    /// A serialized record (with its newline); `ack` reports whether it was written.
    Line(Vec<u8>, Option<oneshot::Sender<bool>>),
    /// Reply once everything queued before has been written.
    Flush(oneshot::Sender<()>),
    /// Reopen a file sink (log rotation: SIGHUP).
    Reopen,
}

/// Handle to the writer thread.
pub struct AuditLog {
    tx: mpsc::Sender<Msg>,
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

impl Out {
    /// Opens the file again (after log rotation moved it away); the old one stays in use if that fails.
    fn reopen(&mut self) {
        if let Out::File(file, path) = self {
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

    /// Writes a batch of whole lines at once.
    fn write_batch(&mut self, bytes: &[u8], durability: Durability) -> io::Result<()> {
        match self {
            Out::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(bytes)?;
                out.flush()
            }
            // An unbuffered File: one write(2) for the batch, nothing held back.
            Out::File(f, _) => {
                f.write_all(bytes)?;
                match durability {
                    Durability::Synced => f.sync_data(),
                    Durability::Written => Ok(()),
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
        let (tx, rx) = mpsc::channel(QUEUE);
        // The thread ends when the last sender is gone; `flush` is how shutdown waits for it.
        std::thread::Builder::new()
            .name("hsgate-audit".into())
            .spawn({
                let metrics = metrics.clone();
                move || writer(out, rx, durability, metrics)
            })
            .map_err(|source| AuditError::Open { path: "(audit thread)".into(), source })?;
        Ok(AuditLog { tx, metrics })
    }

    /// Writes a line and waits until it is written.
    pub async fn write_acked(&self, line: Vec<u8>) -> Result<(), AuditError> {
        let (ack, done) = oneshot::channel();
        self.tx.send(Msg::Line(line, Some(ack))).await.map_err(|_| AuditError::NotWritten)?;
        match done.await {
            Ok(true) => Ok(()),
            _ => Err(AuditError::NotWritten),
        }
    }

    /// Queues a line, waiting at most `QUEUE_WAIT` while the queue is full
    /// (a sink that stopped draining must not hang every request).
    pub async fn write(&self, line: Vec<u8>, request_id: &str) {
        match tokio::time::timeout(QUEUE_WAIT, self.tx.send(Msg::Line(line, None))).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => self.lost(request_id),
        }
    }

    fn lost(&self, request_id: &str) {
        self.metrics.audit_write_failures.inc();
        tracing::error!(request_id, "audit sink not draining: a response record was lost");
    }

    /// Queues a line without waiting (for drop paths).
    pub fn try_write(&self, line: Vec<u8>, request_id: &str) {
        if self.tx.try_send(Msg::Line(line, None)).is_err() {
            self.lost(request_id);
        }
    }

    /// Reopens a file sink once the records queued so far are written
    /// (SIGHUP); gives up after `QUEUE_WAIT` if the sink is not draining.
    pub async fn reopen(&self) {
        if tokio::time::timeout(QUEUE_WAIT, self.tx.send(Msg::Reopen)).await.is_err() {
            tracing::error!("audit sink not draining: not reopened");
        }
    }

    /// Waits until every record queued so far is written, at most `QUEUE_WAIT`
    /// (a sink that stopped draining must not hang shutdown).
    pub async fn flush(&self) {
        let (ack, done) = oneshot::channel();
        let flushed = async {
            if self.tx.send(Msg::Flush(ack)).await.is_ok() {
                let _ = done.await;
            }
        };
        if tokio::time::timeout(QUEUE_WAIT, flushed).await.is_err() {
            tracing::error!("audit sink not draining: records still queued at shutdown may be lost");
        }
    }
}

fn writer(mut out: Out, mut rx: mpsc::Receiver<Msg>, durability: Durability, metrics: Arc<Metrics>) {
    let mut bytes = Vec::with_capacity(64 * 1024);
    let mut acks = Vec::with_capacity(MAX_BATCH);
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(msg) => batch.push(msg),
                Err(_) => break,
            }
        }
        // Lines up to a control message are written together; control messages keep their place.
        for msg in batch.drain(..) {
            match msg {
                Msg::Line(line, ack) => {
                    bytes.extend_from_slice(&line);
                    acks.extend(ack);
                }
                Msg::Flush(done) => {
                    commit(&mut out, &mut bytes, &mut acks, durability, &metrics);
                    let _ = done.send(());
                }
                Msg::Reopen => {
                    commit(&mut out, &mut bytes, &mut acks, durability, &metrics);
                    out.reopen();
                }
            }
        }
        commit(&mut out, &mut bytes, &mut acks, durability, &metrics);
    }
}

/// Writes the pending lines at once and acknowledges them with the outcome.
fn commit(
    out: &mut Out,
    bytes: &mut Vec<u8>,
    acks: &mut Vec<oneshot::Sender<bool>>,
    durability: Durability,
    metrics: &Metrics,
) {
    if bytes.is_empty() {
        return;
    }
    let ok = match out.write_batch(bytes, durability) {
        Ok(()) => true,
        Err(e) => {
            metrics.audit_write_failures.inc();
            tracing::error!(error = %e.kind(), "audit records could not be written");
            false
        }
    };
    bytes.clear();
    for ack in acks.drain(..) {
        let _ = ack.send(ok);
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
