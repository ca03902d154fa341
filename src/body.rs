//! Reading the caller's body: bounded in size (also when chunked) and in
//! time (the request deadline runs from the head's arrival).

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderMap, CONTENT_LENGTH, CONTENT_TYPE};
use tokio::time::Instant;

use crate::error::GatewayError;

/// `Content-Type: application/json` (or, where `text_plain` is true,
/// `text/plain`), any case, with at most a utf-8 charset.
pub fn is_json(headers: &HeaderMap, text_plain: bool) -> bool {
    let mut values = headers.get_all(CONTENT_TYPE).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return false;
    };
    let Ok(text) = value.to_str() else {
        return false;
    };
    let mut parts = text.split(';');
    let media_type = parts.next().unwrap_or_default().trim();
    let accepted = media_type.eq_ignore_ascii_case("application/json")
        || (text_plain && media_type.eq_ignore_ascii_case("text/plain"));
    if !accepted {
        return false;
    }
    parts.all(|param| {
        let Some((name, value)) = param.split_once('=') else {
            return param.trim().is_empty();
        };
        if !name.trim().eq_ignore_ascii_case("charset") {
            return true;
        }
        let value = value.trim();
        let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
        value.eq_ignore_ascii_case("utf-8") || value.eq_ignore_ascii_case("utf8")
    })
}

/// Reads the whole body, refusing more than `max` bytes or a body still arriving at `deadline`.
pub async fn read(
    headers: &HeaderMap,
    mut body: Incoming,
    max: usize,
    deadline: Instant,
) -> Result<Bytes, GatewayError> {
    if let Some(len) = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok()) {
        if len > max as u64 {
            return Err(GatewayError::PayloadTooLarge);
        }
    }
    let mut buf = BytesMut::new();
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return Err(GatewayError::RequestTimeout),
            Ok(None) => return Ok(buf.freeze()),
            Ok(Some(Err(_))) => return Err(GatewayError::BodyRead),
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > max {
                return Err(GatewayError::PayloadTooLarge);
            }
            buf.extend_from_slice(&data);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn ct(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn content_type_rules() {
        for ok in [
            "application/json",
            "Application/JSON",
            "application/json; charset=UTF-8",
            "application/json;charset=\"utf8\"",
        ] {
            assert!(is_json(&ct(ok), false), "{ok}");
            assert!(is_json(&ct(ok), true), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/json; charset=iso-8859-1",
            "application/jsonx",
            "application/x-www-form-urlencoded",
            "",
        ] {
            assert!(!is_json(&ct(bad), false), "{bad}");
        }
        assert!(!is_json(&HeaderMap::new(), true));
        let mut two = ct("application/json");
        two.append(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert!(!is_json(&two, true));
    }

    #[test]
    fn text_plain_only_where_allowed_and_under_the_same_charset_rule() {
        for ok in ["text/plain", "text/plain;charset=UTF-8", "TEXT/PLAIN; charset=\"utf8\""] {
            assert!(is_json(&ct(ok), true), "{ok}");
            assert!(!is_json(&ct(ok), false), "{ok}");
        }
        for bad in ["text/plain; charset=iso-8859-1", "text/plainx", "text/html", "text/*"] {
            assert!(!is_json(&ct(bad), true), "{bad}");
        }
    }
}
