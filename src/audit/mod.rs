//! The audit trail (SPEC §6): one JSON line per record, on its own sink.
//! `Exchange` follows one request and writes its records; `AuditLog` is the
//! writer behind a bounded queue.

mod line;
mod record;
mod sink;

pub use record::{AuditRecord, Exchange, NotesHasher};
pub use sink::{AuditError, AuditLog, Durability};
