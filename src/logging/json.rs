//! The JSON log line, written straight from the event's fields.
//!
//! The same line as tracing-subscriber's `json().flatten_event(true)`
//! (`timestamp`, `level`, the event's fields in order with `message` first,
//! `target`; numbers as serde_json writes them; events of the `log` crate,
//! such as rustls's, under their own target), without building a map of the
//! fields first, which cost more than everything else the gateway does for a
//! log line. Spans are not written: hsgate opens none (a dependency's debug-
//! and trace-level spans are left out of the lines).

use std::fmt::{self, Write};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent as _;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// One JSON object a line.
pub struct JsonLine;

impl<S, N> FormatEvent<S, N> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _: &FmtContext<'_, S, N>, mut w: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        w.write_str("{\"timestamp\":\"")?;
        write!(w, "{}", timestamp())?;
        w.write_str("\",\"level\":\"")?;
        w.write_str(meta.level().as_str())?;
        w.write_char('"')?;
        let mut fields = Fields { w: &mut w, result: Ok(()) };
        event.record(&mut fields);
        fields.result?;
        w.write_str(",\"target\":")?;
        string(&mut w, meta.target())?;
        w.write_str("}\n")
    }
}

/// Now, as RFC 3339 with microseconds (a clock before 1970 says 1970).
pub fn timestamp() -> humantime::Rfc3339Timestamp {
    humantime::format_rfc3339_micros(std::time::SystemTime::now().max(std::time::UNIX_EPOCH))
}

/// Writes each field as `,"name":value`; the first error is kept.
struct Fields<'w, 'a> {
    w: &'w mut Writer<'a>,
    result: fmt::Result,
}

impl Fields<'_, '_> {
    fn field(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.result.is_ok() {
            self.result = (|| {
                self.w.write_char(',')?;
                string(self.w, field.name())?;
                self.w.write_char(':')?;
                value(self.w)
            })();
        }
    }
}

impl Visit for Fields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field, |w| string(w, value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, |w| w.write_str(if value { "true" } else { "false" }));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, |w| w.write_str(itoa::Buffer::new().format(value)));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, |w| w.write_str(itoa::Buffer::new().format(value)));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // serde_json's text for a number; `null` for what JSON cannot hold.
        self.field(field, |w| match serde_json::Number::from_f64(value) {
            Some(n) => write!(w, "{n}"),
            None => w.write_str("null"),
        });
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.field(field, |w| quoted(w, |e| write!(e, "{value}")));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.field(field, |w| quoted(w, |e| write!(e, "{value:?}")));
    }
}

/// A JSON string of text made by `make`, escaped as it is written.
fn quoted<W: Write>(w: &mut W, make: impl FnOnce(&mut Escaped<'_, W>) -> fmt::Result) -> fmt::Result {
    w.write_char('"')?;
    make(&mut Escaped(w))?;
    w.write_char('"')
}

fn string<W: Write>(w: &mut W, text: &str) -> fmt::Result {
    quoted(w, |e| e.write_str(text))
}

/// Escapes what goes through it as serde_json does inside a string.
struct Escaped<'a, W: Write>(&'a mut W);

impl<W: Write> Write for Escaped<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        if !crate::jsonstr::needs_escape(text.as_bytes()) {
            return self.0.write_str(text);
        }
        let mut plain = 0;
        for (i, b) in text.bytes().enumerate() {
            let escape = match b {
                b'"' => Some("\\\""),
                b'\\' => Some("\\\\"),
                b'\n' => Some("\\n"),
                b'\r' => Some("\\r"),
                b'\t' => Some("\\t"),
                0x08 => Some("\\b"),
                0x0c => Some("\\f"),
                0..0x20 => None,
                0x20..=0xff => continue,
            };
            // `b` is ASCII: `i` is a character boundary.
            self.0.write_str(&text[plain..i])?;
            match escape {
                Some(short) => self.0.write_str(short)?,
                None => write!(self.0, "\\u{b:04x}")?,
            }
            plain = i + 1;
        }
        self.0.write_str(&text[plain..])
    }
}

#[cfg(test)]
mod tests;
