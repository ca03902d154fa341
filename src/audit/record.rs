//! One request's audit records. An `Exchange` is created when the request
//! head arrives, filled in stage by stage, and writes exactly one
//! "response" record: from `finish`, or from `Drop` if the request's task
//! ended some other way. Nothing secret is ever put into a record: the
//! Notes text only with `include_notes`, and otherwise its length and HMAC.

use std::sync::Arc;
use std::time::SystemTime;

use aws_lc_rs::hmac;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use tokio::time::Instant;

use super::{AuditError, AuditLog};
use crate::relay::Summary;

/// Bytes reserved for one audit line (a typical record is 700-900 bytes).
const LINE_CAPACITY: usize = 1024;

/// The record, field for field as SPEC §6 lists them; unknown fields are null.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    pub time: String,
    pub kind: &'static str,
    pub phase: &'static str,
    pub request_id: String,
    pub client_addr: String,
    pub method: String,
    pub path: String,
    pub route: Option<String>,
    pub subject: Option<String>,
    pub issuer: Option<String>,
    pub token_id: Option<String>,
    pub grant: Option<String>,
    pub profile: Option<String>,
    pub customer_name: Option<String>,
    pub user_name: Option<String>,
    pub call_id: Option<String>,
    pub notes_length: Option<usize>,
    pub redacted: Option<bool>,
    pub notes_hmac: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    pub decision: &'static str,
    pub error_code: Option<String>,
    pub status: Option<u16>,
    pub upstream_status: Option<u16>,
    pub duration_ms: Option<f64>,
    pub upstream_ms: Option<f64>,
    pub result: Option<Summary>,
    /// Subject of the caller's TLS client certificate (mTLS).
    pub client_cert: Option<String>,
    /// From a valid W3C `traceparent` header.
    pub trace_id: Option<String>,
}

/// HMAC-SHA256 of Notes under the audit key, and whether to keep the text.
pub struct NotesHasher {
    key: Option<hmac::Key>,
    include_notes: bool,
}

impl NotesHasher {
    pub fn new(key: Option<&SecretString>, include_notes: bool) -> Self {
        let key = key.map(|k| hmac::Key::new(hmac::HMAC_SHA256, k.expose_secret().as_bytes()));
        NotesHasher { key, include_notes }
    }

    fn hex(&self, notes: &str) -> Option<String> {
        let tag = hmac::sign(self.key.as_ref()?, notes.as_bytes());
        Some(crate::hexstr::lower(tag.as_ref()))
    }
}

/// Audit state of one request.
pub struct Exchange {
    log: Arc<AuditLog>,
    pub record: AuditRecord,
    started: Instant,
    finished: bool,
}

fn now_rfc3339() -> String {
    // A clock before 1970 says 1970 (humantime cannot write earlier times).
    humantime::format_rfc3339_millis(SystemTime::now().max(SystemTime::UNIX_EPOCH)).to_string()
}

fn millis(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

impl Exchange {
    pub fn new(log: Arc<AuditLog>, request_id: &str, client_addr: &str, method: &str, path: &str) -> Self {
        let record = AuditRecord {
            time: String::new(),
            kind: "hsgate.audit",
            phase: "response",
            request_id: request_id.to_owned(),
            client_addr: client_addr.to_owned(),
            method: method.to_owned(),
            path: path.to_owned(),
            route: None,
            subject: None,
            issuer: None,
            token_id: None,
            grant: None,
            profile: None,
            customer_name: None,
            user_name: None,
            call_id: None,
            notes_length: None,
            redacted: None,
            notes_hmac: None,
            notes: None,
            decision: "allow",
            error_code: None,
            status: None,
            upstream_status: None,
            duration_ms: None,
            upstream_ms: None,
            result: None,
            client_cert: None,
            trace_id: None,
        };
        Exchange { log, record, started: Instant::now(), finished: false }
    }

    /// Records what the audit may know of the Notes text.
    pub fn notes(&mut self, notes: &str, hasher: &NotesHasher) {
        self.record.notes_length = Some(notes.chars().count());
        self.record.notes_hmac = hasher.hex(notes);
        if hasher.include_notes {
            self.record.notes = Some(notes.to_owned());
        }
    }

    fn line(record: &AuditRecord) -> Vec<u8> {
        // Sized for a whole record at once: growing from serde_json's default reallocates several times.
        let mut line = Vec::with_capacity(LINE_CAPACITY);
        record.write_line(&mut line);
        line
    }

    /// Writes the "request" record and waits for it (until `deadline`): the
    /// fail-closed gate before upstream.
    pub async fn write_request(&mut self, deadline: Instant) -> Result<(), AuditError> {
        // Serialised in place (no copy of the record): the phase and time are
        // the request record's only while its line is made.
        self.record.phase = "request";
        self.record.time = now_rfc3339();
        let line = Self::line(&self.record);
        self.record.phase = "response";
        let write = self.log.write_acked(line);
        tokio::time::timeout_at(deadline, write).await.unwrap_or(Err(AuditError::NotWritten))
    }

    /// Writes the "response" record. The line is made at once, when this is
    /// called, and the exchange dropped: what waits (for room in the queue)
    /// holds only the line, not the record, which keeps the request's task
    /// small. Await it at once: a future dropped unpolled loses the record.
    pub fn finish(mut self, status: u16) -> impl std::future::Future<Output = ()> + Send {
        self.complete(status);
        self.finished = true;
        let line = Self::line(&self.record);
        let request_id = std::mem::take(&mut self.record.request_id);
        let log = self.log.clone();
        async move { log.write(line, &request_id).await }
    }

    fn complete(&mut self, status: u16) {
        self.record.phase = "response";
        self.record.time = now_rfc3339();
        self.record.status = (status != 0).then_some(status);
        self.record.duration_ms = Some(millis(self.started.elapsed()));
        // The caller got no password back unless relay redacted one.
        self.record.redacted.get_or_insert(false);
    }

    /// Milliseconds since the request arrived.
    pub fn upstream_ms(&mut self, since: Instant) {
        self.record.upstream_ms = Some(millis(since.elapsed()));
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        if !self.finished {
            // The request's task ended without an answer: it panicked (the
            // caller gets 500) or shutdown ended it after the grace (503, if
            // the connection is still there to carry it).
            let (status, code) = if std::thread::panicking() { (500, "InternalError") } else { (503, "ShuttingDown") };
            self.complete(status);
            self.record.error_code = Some(code.to_owned());
            self.log.try_write(Self::line(&self.record), &self.record.request_id);
        }
    }
}
