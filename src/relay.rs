//! HostedSuite's answer back to the caller: only JSON is relayed, a refused
//! login becomes 502 (so callers never mistake it for their own 401), and
//! the profile's password is cut out of anything HostedSuite echoes
//! (`redact`). The body bytes are relayed untouched unless something had to
//! be redacted.

use bytes::Bytes;
use hyper::header::HeaderValue;
use hyper::StatusCode;
use serde_json::Value;

use crate::upstream::{TooLarge, UpstreamAnswer, MAX_UPSTREAM_BODY};

mod probe;
mod redact;

use probe::Probe;

pub use probe::Summary;

pub use redact::{Redactor, REDACTED};

/// ServiceStack error codes that mean "the login was refused".
const LOGIN_REFUSED_CODES: [&str; 4] =
    ["SecurityException", "AuthenticationException", "UnauthorizedAccessException", "Unauthorized"];

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
    pub result: Option<Summary>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    #[error("HostedSuite refused the login")]
    LoginRefused,
    #[error("HostedSuite's answer is not JSON")]
    NotJson,
    #[error("HostedSuite answered with a status outside 200-599")]
    BadStatus,
    #[error("HostedSuite's answer is larger than {MAX_UPSTREAM_BODY} bytes")]
    TooLarge,
}

/// Classifies and, where needed, redacts HostedSuite's answer.
pub fn relay(answer: UpstreamAnswer, redactor: &Redactor) -> Result<Relayed, RelayError> {
    // A final answer has a status of 200-599: 1xx cannot carry one, and
    // hyper's client accepts anything up to 999.
    if !(200..=599).contains(&answer.status.as_u16()) {
        return Err(RelayError::BadStatus);
    }
    if answer.status == StatusCode::UNAUTHORIZED || answer.status == StatusCode::FORBIDDEN {
        return Err(RelayError::LoginRefused);
    }
    let body = answer.body.map_err(|TooLarge| RelayError::TooLarge)?;
    let probe = Probe::read(&body).ok_or(RelayError::NotJson)?;
    if probe.error_code.as_deref().is_some_and(|c| LOGIN_REFUSED_CODES.iter().any(|r| r.eq_ignore_ascii_case(c))) {
        return Err(RelayError::LoginRefused);
    }
    // The common case ends here: the byte scan (or, failing that, a walk over
    // the raw text that sees duplicate keys too) shows the password is not there.
    let redacted = redactor.may_occur(&body) && redactor.found_in(&body);
    let (body, probe) = if redacted {
        let mut doc: Value = serde_json::from_slice(&body).map_err(|_| RelayError::NotJson)?;
        redactor.redact(&mut doc);
        let body = Bytes::from(serde_json::to_vec(&doc).map_err(|_| RelayError::NotJson)?);
        // Read again after redaction: the code goes into the audit record.
        let probe = Probe::read(&body).ok_or(RelayError::NotJson)?;
        (body, probe)
    } else {
        (body, probe)
    };
    let with_result = answer.status.is_success() && probe.is_object;
    let (error_code, result) = probe.into_parts(with_result);
    Ok(Relayed {
        status: answer.status,
        content_type: answer.content_type.unwrap_or(HeaderValue::from_static("application/json")),
        body,
        redacted,
        error_code,
        result,
    })
}

#[cfg(test)]
mod tests;
