//! An audit record as one JSON line, written field by field.
//!
//! This is what `serde_json::to_writer(record)` writes, byte for byte (the
//! tests hold the two together), without its per-field cost: the keys are
//! written as they are (they need no escaping), and a string value is copied
//! whole unless it has a character JSON escapes, which only then goes
//! through serde_json's escaper.

use super::AuditRecord;
use crate::jsonstr::needs_escape;

impl AuditRecord {
    /// Appends the record's JSON line (with its newline) to `out`.
    pub fn write_line(&self, out: &mut Vec<u8>) {
        write(self, out);
    }
}

fn write(record: &AuditRecord, out: &mut Vec<u8>) {
    // Every field named: a field added to the record and not written here does not compile.
    let AuditRecord {
        time,
        kind,
        phase,
        request_id,
        client_addr,
        method,
        path,
        route,
        subject,
        issuer,
        token_id,
        grant,
        profile,
        customer_name,
        user_name,
        call_id,
        notes_length,
        redacted,
        notes_hmac,
        notes,
        decision,
        error_code,
        status,
        upstream_status,
        duration_ms,
        upstream_ms,
        result,
        client_cert,
        trace_id,
    } = record;
    let mut o = Object::open(out);
    o.str("time", time);
    o.str("kind", kind);
    o.str("phase", phase);
    o.str("request_id", request_id);
    o.str("client_addr", client_addr);
    o.str("method", method);
    o.str("path", path);
    o.opt_str("route", route.as_deref());
    o.opt_str("subject", subject.as_deref());
    o.opt_str("issuer", issuer.as_deref());
    o.opt_str("token_id", token_id.as_deref());
    o.opt_str("grant", grant.as_deref());
    o.opt_str("profile", profile.as_deref());
    o.opt_str("customer_name", customer_name.as_deref());
    o.opt_str("user_name", user_name.as_deref());
    o.opt_str("call_id", call_id.as_deref());
    o.opt_uint("notes_length", notes_length.map(|n| n as u64));
    o.opt_bool("redacted", *redacted);
    o.opt_str("notes_hmac", notes_hmac.as_deref());
    if let Some(notes) = notes {
        o.str("notes", notes);
    }
    o.str("decision", decision);
    o.opt_str("error_code", error_code.as_deref());
    o.opt_uint("status", status.map(u64::from));
    o.opt_uint("upstream_status", upstream_status.map(u64::from));
    o.opt_float("duration_ms", *duration_ms);
    o.opt_float("upstream_ms", *upstream_ms);
    o.opt_value("result", result.as_ref());
    o.opt_str("client_cert", client_cert.as_deref());
    o.opt_str("trace_id", trace_id.as_deref());
    o.close();
    out.push(b'\n');
}

/// A JSON object being written.
struct Object<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Object<'a> {
    fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Object { out, first: true }
    }

    fn key(&mut self, key: &'static str) {
        if !std::mem::take(&mut self.first) {
            self.out.push(b',');
        }
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    fn null(&mut self) {
        self.out.extend_from_slice(b"null");
    }

    fn str(&mut self, key: &'static str, value: &str) {
        self.key(key);
        string(self.out, value);
    }

    fn opt_str(&mut self, key: &'static str, value: Option<&str>) {
        self.key(key);
        match value {
            Some(v) => string(self.out, v),
            None => self.null(),
        }
    }

    fn opt_uint(&mut self, key: &'static str, value: Option<u64>) {
        self.key(key);
        match value {
            Some(n) => self.out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
            None => self.null(),
        }
    }

    fn opt_bool(&mut self, key: &'static str, value: Option<bool>) {
        self.key(key);
        self.out.extend_from_slice(match value {
            Some(true) => b"true",
            Some(false) => b"false",
            None => b"null",
        });
    }

    fn opt_float(&mut self, key: &'static str, value: Option<f64>) {
        self.key(key);
        match value {
            // serde_json's own number format (and `null` for what JSON cannot hold).
            Some(x) => serialize(self.out, &x),
            None => self.null(),
        }
    }

    fn opt_value(&mut self, key: &'static str, value: Option<&impl serde::Serialize>) {
        self.key(key);
        match value {
            Some(v) => serialize(self.out, v),
            None => self.null(),
        }
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

/// A JSON string: copied whole when nothing in it needs an escape.
fn string(out: &mut Vec<u8>, value: &str) {
    if !needs_escape(value.as_bytes()) {
        out.push(b'"');
        out.extend_from_slice(value.as_bytes());
        out.push(b'"');
    } else {
        serialize(out, value);
    }
}

fn serialize<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing to a Vec fails only for a value serde_json cannot express,
    // which these (strings, finite-or-not floats, the summary's parsed `Value`s) are not.
    let _ = serde_json::to_writer(out, value);
}

#[cfg(test)]
mod tests;
