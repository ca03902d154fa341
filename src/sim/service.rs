//! Request handling: routing, ServiceStack binding, login check and the `fault-*` behaviours.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::{Request, Response};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use super::binding::{as_text, form_pairs, json_pairs, CallRequest};
use super::response::{build_response, Answer, HTML, JSON, JSONP};
use super::{lock, SeenRequest, Shared};

/// Request body limit.
/// IIS/ASP.NET's default `maxRequestLength` (4 MB).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// Returned by the service to make hyper drop the connection without answering.
#[derive(Debug, thiserror::Error)]
#[error("simulated connection reset")]
pub struct Reset;

/// Handle one HTTP request.
pub async fn handle(shared: &Shared, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Reset> {
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().map(str::to_owned);
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let content_type = parts.headers.get(CONTENT_TYPE).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());

    let (body, answer) = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => {
            let body = collected.to_bytes();
            let answer = answer(shared, &method, &path, query.as_deref(), content_type.as_deref(), &body);
            (body, answer)
        }
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            let a = Answer::error(413, "RequestEntityTooLarge", "Request body is larger than 4 MiB");
            (Bytes::new(), a)
        }
        Err(e) => {
            tracing::debug!(error = %e, "simulator failed to read request body");
            return Err(Reset);
        }
    };

    let (status, response) = if answer.reset { (0, Bytes::new()) } else { (answer.status, answer.body.clone()) };
    shared.record(SeenRequest { method, path, query, headers, body, status, response });

    if let Some(delay) = answer.delay {
        tokio::time::sleep(delay).await;
    }
    if answer.reset {
        return Err(Reset);
    }
    Ok(build_response(answer))
}

/// Decide the answer for a fully read request.
fn answer(
    shared: &Shared,
    method: &str,
    path: &str,
    query: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Answer {
    let update = match (method, path) {
        ("POST", "/api/calls/update" | "/api/json/reply/UpdateCallRecordRequest") => true,
        ("POST", "/api/calls/get") => false,
        _ => {
            let msg = format!("Handler for Request not found: {method} {path}");
            return Answer::error(404, "NotFound", &msg);
        }
    };

    let mut dto = CallRequest::default();
    let media = content_type.map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    match media.as_deref() {
        Some("application/json") => match json_pairs(body) {
            Ok(pairs) => pairs.into_iter().for_each(|(k, v)| dto.bind(&k, v)),
            Err(e) => {
                return Answer::error(
                    400,
                    "SerializationException",
                    &format!("Could not deserialize 'application/json' request: {e}"),
                )
            }
        },
        Some("application/x-www-form-urlencoded") => {
            for (k, v) in form_pairs(&String::from_utf8_lossy(body)) {
                dto.bind(&k, Value::String(v));
            }
        }
        None if body.is_empty() => {}
        other => {
            let msg = format!("The request Content-Type '{}' is not supported", other.unwrap_or(""));
            return Answer::error(415, "NotSupported", &msg);
        }
    }
    let mut callback = None;
    for (k, v) in form_pairs(query.unwrap_or("")) {
        if k.eq_ignore_ascii_case("callback") {
            callback = Some(v).filter(|c| !c.is_empty());
        } else {
            dto.bind(&k, Value::String(v));
        }
    }

    let mut answer = dispatch(shared, &dto, update);
    if let Some(cb) = callback {
        if answer.status == 200 && answer.content_type == JSON {
            let mut wrapped = Vec::with_capacity(answer.body.len() + cb.len() + 2);
            wrapped.extend_from_slice(cb.as_bytes());
            wrapped.push(b'(');
            wrapped.extend_from_slice(&answer.body);
            wrapped.push(b')');
            answer.body = Bytes::from(wrapped);
            answer.content_type = JSONP;
        }
    }
    answer
}

/// Login check, then the per-Id behaviour.
fn dispatch(shared: &Shared, dto: &CallRequest, update: bool) -> Answer {
    let text = |v: &Option<Value>| v.as_ref().and_then(as_text);
    let (customer, user, password) = (text(&dto.customer_name), text(&dto.user_name), text(&dto.password));
    let authenticated = shared.accounts.iter().any(|a| {
        Some(a.customer_name.as_str()) == customer.as_deref()
            && Some(a.user_name.as_str()) == user.as_deref()
            && Some(a.password.expose_secret()) == password.as_deref()
    });
    if !authenticated {
        let (status, code) = lock(&shared.refusal).clone();
        let status = if (200..=599).contains(&status) { status } else { 500 };
        return Answer::error(status, &code, "Invalid UserName or Password");
    }

    let id = match &dto.id {
        Some(Value::String(s)) => s.clone(),
        other => {
            let shown = other.as_ref().and_then(as_text).unwrap_or_default();
            return Answer::error(404, "NotFound", &format!("Call '{shown}' not found"));
        }
    };
    let notes = if update { text(&dto.notes) } else { None };
    let mut delay = None;
    match id.as_str() {
        "fault-echo" => {
            let msg = format!("Could not update call record. Request: {}", dto.to_json());
            let err = json!([{"ErrorCode": "NotValid", "FieldName": "Password",
                "Message": format!("'{}' expired", password.unwrap_or_default())}]);
            return Answer::error_with(500, "ArgumentException", &msg, err);
        }
        "fault-reset" => return Answer { reset: true, ..Answer::new(0, JSON, Bytes::new()) },
        "fault-html500" => {
            return Answer::new(500, HTML, "<html><body><h1>Server Error in '/' Application.</h1></body></html>");
        }
        "fault-badjson" => return Answer::new(200, JSON, r#"{"Id":"fault-badjson","Notes":"#),
        "fault-403" => return Answer::error(403, "Forbidden", "User does not have access to this call center"),
        "fault-500json" => {
            return Answer::error(
                500,
                "NullReferenceException",
                "Object reference not set to an instance of an object.",
            );
        }
        "fault-slow" => delay = Some(shared.slow),
        _ => {}
    }

    let mut records = lock(&shared.records);
    let record = if id.starts_with("fault-") {
        let Some(template) = records.iter().find(|r| r.id == "call-1001") else {
            return Answer::error(500, "NullReferenceException", "Template record missing");
        };
        let mut r = template.clone();
        r.id.clone_from(&id);
        if let Some(n) = notes {
            r.notes = Some(n);
        }
        r
    } else if let Some(r) = records.iter_mut().find(|r| r.id == id) {
        if let Some(n) = notes {
            r.notes = Some(n);
        }
        r.clone()
    } else {
        return Answer::error(404, "NotFound", &format!("Call '{id}' not found"));
    };
    drop(records);
    match serde_json::to_string(&record) {
        Ok(body) => Answer { delay, ..Answer::new(200, JSON, body) },
        Err(e) => Answer::error(500, "SerializationException", &e.to_string()),
    }
}
