//! HostedSuite's answer: `hsgate::relay::relay` (status and refused-login
//! classification, the one-pass probe, the byte scan and the redaction).
//!
//! Input: an answer body, or `password NUL body` (a NUL cannot stand in a
//! JSON text, so the split is unambiguous) to fuzz the password too. Every
//! body is relayed under each fixture password (see
//! `hsgate_fuzz::PASSWORDS`), plus the input's own one, at a few statuses.
//!
//! Asserts, on every relayed answer: no decoded string (key or value, every
//! one of duplicate keys) holds the password, nor does any of its views
//! (the string's JSON escapes resolved, then that view's, four levels
//! deep); the body is one JSON document; an answer not redacted is relayed
//! byte for byte; the status is the upstream's and no refused login is
//! relayed.

#![no_main]

use std::sync::OnceLock;

use bytes::Bytes;
use hsgate::relay::{relay, Redactor, RelayError};
use hsgate::upstream::UpstreamAnswer;
use hsgate_fuzz::{json_strings, leaked, once, PASSWORDS};
use hyper::header::HeaderValue;
use hyper::StatusCode;
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;

/// Views looked at by the oracle (the gateway looks deeper).
const DEPTH: usize = 4;

static REDACTORS: OnceLock<Vec<(String, Redactor)>> = OnceLock::new();

fn redactors() -> &'static Vec<(String, Redactor)> {
    once(&REDACTORS, || PASSWORDS.iter().map(|p| ((*p).to_owned(), Redactor::new(&SecretString::from(*p)))).collect())
}

const STATUSES: [u16; 3] = [200, 500, 401];

fn check(status: u16, body: &[u8], password: &str, redactor: &Redactor) {
    let answer = UpstreamAnswer {
        status: StatusCode::from_u16(status).expect("status"),
        content_type: Some(HeaderValue::from_static("application/json; charset=utf-8")),
        body: Ok(Bytes::copy_from_slice(body)),
    };
    match relay(answer, redactor) {
        Ok(relayed) => {
            assert_eq!(relayed.status.as_u16(), status);
            assert!(status != 401 && status != 403, "relayed a refused login ({status})");
            let text = std::str::from_utf8(&relayed.body).expect("the relayed body is UTF-8");
            let strings = json_strings(text).expect("the relayed body is one JSON document");
            if let Some(s) = leaked(&relayed.body, password, DEPTH) {
                panic!("password {password:?} relayed in {s:?} (redacted: {})", relayed.redacted);
            }
            if !relayed.redacted {
                assert_eq!(&relayed.body[..], body, "an answer not redacted must be relayed as is");
            }
            if let Some(code) = &relayed.error_code {
                assert!(strings.contains(code), "error code {code:?} is not in the relayed body");
            }
        }
        Err(RelayError::LoginRefused | RelayError::NotJson) => {}
        Err(e) => panic!("relay answered {e:?} for a small body with status {status}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let (own, body) = match data.iter().position(|b| *b == 0) {
        Some(at) => (std::str::from_utf8(&data[..at]).ok().filter(|p| !p.is_empty()), &data[at + 1..]),
        None => (None, data),
    };
    let own = own.map(|p| (p.to_owned(), Redactor::new(&SecretString::from(p))));
    for (password, redactor) in redactors().iter().chain(own.as_ref()) {
        for status in STATUSES {
            check(status, body, password, redactor);
        }
    }
});
