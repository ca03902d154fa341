//! HostedSuite's answer back to the caller: only JSON is relayed, a refused
//! login becomes 502 (so callers never mistake it for their own 401), and
//! the profile's password is cut out of anything HostedSuite echoes. The
//! body bytes are relayed untouched unless something had to be redacted.

use bytes::Bytes;
use hyper::header::HeaderValue;
use hyper::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use crate::upstream::UpstreamAnswer;

/// ServiceStack error codes that mean "the login was refused".
const LOGIN_REFUSED_CODES: [&str; 4] =
    ["SecurityException", "AuthenticationException", "UnauthorizedAccessException", "Unauthorized"];

/// What replaces each occurrence of the password.
pub const REDACTED: &str = "[redacted]";

/// An answer fit to relay.
#[derive(Debug)]
pub struct Relayed {
    pub status: StatusCode,
    pub content_type: HeaderValue,
    pub body: Bytes,
    pub redacted: bool,
    /// `ResponseStatus.ErrorCode`, when HostedSuite reported an error.
    pub error_code: Option<String>,
    /// The audit's summary of a CallRecordInfo (`Id, ClientId, CenterId, Type, Flagged`).
    pub result: Option<Value>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    #[error("HostedSuite refused the login")]
    LoginRefused,
    #[error("HostedSuite's answer is not JSON")]
    NotJson,
}

/// Classifies and, where needed, redacts HostedSuite's answer.
pub fn relay(answer: UpstreamAnswer, password: &SecretString) -> Result<Relayed, RelayError> {
    if answer.status == StatusCode::UNAUTHORIZED || answer.status == StatusCode::FORBIDDEN {
        return Err(RelayError::LoginRefused);
    }
    let mut doc: Value = serde_json::from_slice(&answer.body).map_err(|_| RelayError::NotJson)?;
    if error_code(&doc).is_some_and(|c| LOGIN_REFUSED_CODES.iter().any(|r| r.eq_ignore_ascii_case(c))) {
        return Err(RelayError::LoginRefused);
    }
    let forms = password_forms(password.expose_secret());
    let redacted = redact(&mut doc, &forms);
    // Read after redaction: the code goes into the audit record.
    let error_code = error_code(&doc).map(str::to_owned);
    let body =
        if redacted { Bytes::from(serde_json::to_vec(&doc).map_err(|_| RelayError::NotJson)?) } else { answer.body };
    let result = (answer.status.is_success() && doc.is_object()).then(|| summary(&doc));
    Ok(Relayed {
        status: answer.status,
        content_type: answer.content_type.unwrap_or(HeaderValue::from_static("application/json")),
        body,
        redacted,
        error_code,
        result,
    })
}

/// `ResponseStatus.ErrorCode`, matching the names case-insensitively
/// (ServiceStack may be configured to emit camelCase).
fn error_code(doc: &Value) -> Option<&str> {
    fn field<'v>(v: &'v Value, name: &str) -> Option<&'v Value> {
        v.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }
    field(field(doc, "ResponseStatus")?, "ErrorCode")?.as_str()
}

fn summary(doc: &Value) -> Value {
    let pick = |k: &str| doc.get(k).cloned().unwrap_or(Value::Null);
    let mut m = Map::new();
    for k in ["Id", "ClientId", "CenterId", "Type", "Flagged"] {
        m.insert(k.to_owned(), pick(k));
    }
    Value::Object(m)
}

/// The password as it may stand inside a decoded JSON string: as is, and as
/// JSON text (escaped, and escaped to ASCII) for an upstream that embeds the
/// request as JSON inside a message. Escaped forms come first: they contain
/// the raw characters' neighbours, the raw form does not contain them.
fn password_forms(password: &str) -> Vec<String> {
    let escaped = serde_json::to_string(password).unwrap_or_default();
    let escaped = escaped.get(1..escaped.len().saturating_sub(1)).unwrap_or_default().to_owned();
    let mut forms =
        vec![escaped.clone(), ascii_escaped(&escaped, false), ascii_escaped(&escaped, true), password.to_owned()];
    forms.retain(|f| !f.is_empty());
    forms.dedup();
    forms
}

/// `text` with every non-ASCII character as `\\uXXXX` (hex digits in upper or lower case).
fn ascii_escaped(text: &str, upper: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&if upper { format!("\\u{unit:04X}") } else { format!("\\u{unit:04x}") });
            }
        }
    }
    out
}

/// Replaces every form in every string, keys included; true if anything changed.
fn redact(value: &mut Value, forms: &[String]) -> bool {
    match value {
        Value::String(s) => redact_str(s, forms),
        Value::Array(items) => items.iter_mut().fold(false, |acc, v| redact(v, forms) | acc),
        Value::Object(map) => {
            let mut changed = false;
            let entries = std::mem::take(map);
            for (mut k, mut v) in entries {
                changed |= redact_str(&mut k, forms);
                changed |= redact(&mut v, forms);
                map.insert(k, v);
            }
            changed
        }
        _ => false,
    }
}

fn redact_str(s: &mut String, forms: &[String]) -> bool {
    let mut changed = false;
    for form in forms {
        if s.contains(form.as_str()) {
            *s = s.replace(form.as_str(), REDACTED);
            changed = true;
        }
    }
    changed
}

#[cfg(test)]
mod tests;
