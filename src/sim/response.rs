//! HTTP answers in the style of ServiceStack on IIS: headers, `ResponseStatus` errors, session cookies.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, SERVER, SET_COOKIE};
use hyper::{Response, StatusCode};
use serde_json::{json, Value};

pub const JSON: &str = "application/json; charset=utf-8";
pub const JSONP: &str = "text/javascript; charset=utf-8";
pub const HTML: &str = "text/html";
const POWERED_BY: &str = "ServiceStack/8.0 NET45 Win32NT/.NET";

/// What to answer.
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Bytes,
    pub delay: Option<Duration>,
    pub reset: bool,
}

impl Answer {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Bytes>) -> Answer {
        Answer { status, content_type, body: body.into(), delay: None, reset: false }
    }

    pub fn error(status: u16, code: &str, message: &str) -> Answer {
        Answer::error_with(status, code, message, json!([]))
    }

    pub fn error_with(status: u16, code: &str, message: &str, errors: Value) -> Answer {
        let body = json!({"ResponseStatus": {"ErrorCode": code, "Message": message, "Errors": errors}});
        Answer::new(status, JSON, body.to_string())
    }
}

pub fn build_response(answer: Answer) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let len = answer.body.len();
    let mut resp = Response::new(Full::new(answer.body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(answer.content_type));
    h.insert(CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(SERVER, HeaderValue::from_static("Microsoft-IIS/10.0"));
    h.insert("x-powered-by", HeaderValue::from_static(POWERED_BY));
    if status == StatusCode::OK {
        let id = format!("ss-id={}; path=/; HttpOnly", session_id());
        let pid = format!("ss-pid={}; expires=Fri, 01 Jan 2044 00:00:00 GMT; path=/; HttpOnly", session_id());
        for cookie in [id, pid] {
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                h.append(SET_COOKIE, v);
            }
        }
    }
    resp
}

/// A 20-character random session id.
fn session_id() -> String {
    use aws_lc_rs::rand::SecureRandom;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 20];
    if aws_lc_rs::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        tracing::debug!("random source failed; using a fixed session id");
    }
    bytes.iter().map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_random_alphanumeric() {
        let (a, b) = (session_id(), session_id());
        assert_eq!(a.len(), 20);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn error_shape_and_headers() {
        let r = build_response(Answer::error(404, "NotFound", "gone"));
        assert_eq!(r.status(), 404);
        assert_eq!(r.headers()["content-length"], "72");
        assert!(r.headers().get("set-cookie").is_none());
        let body = Answer::error(404, "NotFound", "gone").body;
        assert_eq!(&body[..], br#"{"ResponseStatus":{"ErrorCode":"NotFound","Message":"gone","Errors":[]}}"#);
        let r = build_response(Answer::new(200, JSON, "{}"));
        assert_eq!(r.headers().get_all("set-cookie").iter().count(), 2);
    }
}
