//! End-to-end tests: a real rustls client talking to the simulator over TLS.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use secrecy::SecretString;
use serde_json::Value;

use super::*;

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

const GOOD: &str = r#"{"CustomerName":"Acme Answering","UserName":"api-gateway","Password":"pa\"ss wörd"}"#;

fn client(pki: &TestPki) -> HttpsClient {
    let mut roots = rustls::RootCertStore::empty();
    let der = rustls::pki_types::pem::PemObject::from_pem_slice(pki.ca_pem.as_bytes()).unwrap();
    roots.add(der).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config).https_only().enable_http1().build();
    Client::builder(TokioExecutor::new()).build(https)
}

async fn start(pki: &TestPki) -> Simulator {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let options = SimOptions {
        accounts: vec![Account {
            customer_name: "Acme Answering".into(),
            user_name: "api-gateway".into(),
            password: SecretString::from("pa\"ss wörd"),
        }],
        slow: Duration::from_millis(200),
        ..SimOptions::default()
    };
    Simulator::start(listener, pki.server_config().unwrap(), options).unwrap()
}

/// Merge `extra` (a JSON object text) into the good login body.
fn body_with(extra: &str) -> String {
    let mut v: Value = serde_json::from_str(GOOD).unwrap();
    let e: Value = serde_json::from_str(extra).unwrap();
    for (k, val) in e.as_object().unwrap() {
        v[k] = val.clone();
    }
    v.to_string()
}

async fn post(c: &HttpsClient, url: String, ct: &str, body: String) -> (Response<()>, String) {
    let req = Request::post(url).header("content-type", ct).body(Full::new(Bytes::from(body))).unwrap();
    let resp = c.request(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (Response::from_parts(parts, ()), String::from_utf8(bytes.to_vec()).unwrap())
}

fn error_code(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap();
    v["ResponseStatus"]["ErrorCode"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn end_to_end() {
    let pki = TestPki::generate().unwrap();
    let sim = start(&pki).await;
    let c = client(&pki);
    let base = sim.url();
    let json = "application/json";

    // Good login updates the notes.
    let body = body_with(r#"{"Id":"call-1003","Notes":"Call back at 5"}"#);
    let (r, text) = post(&c, format!("{base}/api/calls/update"), json, body).await;
    assert_eq!(r.status(), 200, "{text}");
    assert_eq!(r.headers()["server"], "Microsoft-IIS/10.0");
    assert_eq!(r.headers()["x-powered-by"], "ServiceStack/8.0 NET45 Win32NT/.NET");
    assert_eq!(r.headers()["content-type"], "application/json; charset=utf-8");
    let cookies: Vec<&str> = r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
    assert_eq!(cookies.len(), 2);
    assert!(cookies[0].starts_with("ss-id=") && cookies[0].ends_with("; path=/; HttpOnly"));
    assert!(cookies[1].starts_with("ss-pid=") && cookies[1].contains("expires=Fri, 01 Jan 2044"));
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["Id"], "call-1003");
    assert_eq!(v["Notes"], "Call back at 5");
    // The state persists; /api/calls/get does not change it.
    let body = body_with(r#"{"Id":"call-1003","Notes":"ignored"}"#);
    let (r, text) = post(&c, format!("{base}/api/calls/get"), json, body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["Notes"], "Call back at 5");

    // Wrong password.
    let body = body_with(r#"{"Id":"call-1001","Password":"nope"}"#);
    let (r, text) = post(&c, format!("{base}/api/calls/update"), json, body).await;
    assert_eq!(r.status(), 500);
    assert_eq!(error_code(&text), "SecurityException");
    assert!(r.headers().get("set-cookie").is_none());

    // The query string overrides the (good) body password.
    let body = body_with(r#"{"Id":"call-1001"}"#);
    let (r, _) = post(&c, format!("{base}/api/calls/update?Password=x"), json, body).await;
    assert_eq!(r.status(), 500);

    // JSONP, via the alias route and a form body.
    let form = "customer_name=Acme+Answering&user-name=api-gateway&password=pa%22ss%20w%C3%B6rd&id=call-1002";
    let url = format!("{base}/api/json/reply/UpdateCallRecordRequest?CallBack=cb");
    let (r, text) = post(&c, url, "application/x-www-form-urlencoded", form.into()).await;
    assert_eq!(r.status(), 200, "{text}");
    assert_eq!(r.headers()["content-type"], "text/javascript; charset=utf-8");
    assert!(text.starts_with("cb({\"Id\":\"call-1002\"") && text.ends_with("})"), "{text}");
    assert!(text.contains("José Müller"));

    // Unknown id and unknown route.
    let (r, text) = post(&c, format!("{base}/api/calls/update"), json, body_with(r#"{"Id":"call-9"}"#)).await;
    assert_eq!((r.status().as_u16(), error_code(&text)), (404, "NotFound".into()));
    let (r, text) = post(&c, format!("{base}/x"), json, "{}".into()).await;
    assert_eq!(r.status(), 404);
    assert!(text.contains("Handler for Request not found: POST /x"), "{text}");

    // Unsupported content type and non-object JSON.
    let (r, text) = post(&c, format!("{base}/api/calls/get"), "text/plain", "hi".into()).await;
    assert_eq!((r.status().as_u16(), error_code(&text)), (415, "NotSupported".into()));
    let (r, text) = post(&c, format!("{base}/api/calls/get"), json, "[1]".into()).await;
    assert_eq!((r.status().as_u16(), error_code(&text)), (400, "SerializationException".into()));

    // fault-echo leaks the password, JSON-escaped inside a string.
    let (r, text) = post(&c, format!("{base}/api/calls/update"), json, body_with(r#"{"Id":"fault-echo"}"#)).await;
    assert_eq!(r.status(), 500);
    assert!(text.contains(r#"\"Password\":\"pa\\\"ss wörd\""#), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["ResponseStatus"]["Errors"][0]["Message"], "'pa\"ss wörd' expired");

    // Faults.
    let (r, text) = post(&c, format!("{base}/api/calls/update"), json, body_with(r#"{"Id":"fault-html500"}"#)).await;
    assert_eq!((r.status().as_u16(), r.headers()["content-type"].to_str().unwrap()), (500, "text/html"));
    assert!(text.contains("Server Error"));
    let (r, text) = post(&c, format!("{base}/api/calls/update"), json, body_with(r#"{"Id":"fault-badjson"}"#)).await;
    assert_eq!(r.status(), 200);
    assert!(serde_json::from_str::<Value>(&text).is_err());
    let (r, _) = post(&c, format!("{base}/api/calls/update"), json, body_with(r#"{"Id":"fault-403"}"#)).await;
    assert_eq!(r.status(), 403);
    let started = std::time::Instant::now();
    let (r, text) = post(&c, format!("{base}/api/calls/update"), json, body_with(r#"{"Id":"fault-slow"}"#)).await;
    assert_eq!(r.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(text.starts_with(r#"{"Id":"fault-slow","ClientId":"cl-2001""#), "{text}");
    let req = Request::post(format!("{base}/api/calls/update"))
        .header("content-type", json)
        .body(Full::new(Bytes::from(body_with(r#"{"Id":"fault-reset"}"#))))
        .unwrap();
    assert!(c.request(req).await.is_err());

    // set_refusal switches the refusal answer.
    sim.set_refusal(401, "Unauthorized");
    let (r, text) = post(&c, format!("{base}/api/calls/update"), json, r#"{"Id":"call-1001"}"#.into()).await;
    assert_eq!((r.status().as_u16(), error_code(&text)), (401, "Unauthorized".into()));

    // Everything was recorded.
    let seen = sim.requests();
    assert_eq!(seen.len(), 16);
    assert_eq!(seen[0].path, "/api/calls/update");
    assert_eq!(seen[0].status, 200);
    assert!(seen[0].headers.iter().any(|(k, v)| k == "content-type" && v == json));
    assert_eq!(seen[3].query.as_deref(), Some("Password=x"));
    assert_eq!(seen[6].path, "/x");
    assert_eq!(seen[6].status, 404);
    assert_eq!(seen[14].status, 0);
    assert!(String::from_utf8_lossy(&seen[15].response).contains("Unauthorized"));
    assert!(sim.connections() >= 1);
    sim.clear();
    assert!(sim.requests().is_empty());
}

#[tokio::test]
async fn survives_bad_handshakes_and_stops_on_shutdown() {
    use tokio::io::AsyncWriteExt;
    let pki = TestPki::generate().unwrap();
    let sim = start(&pki).await;
    let addr = sim.addr();
    let mut raw = tokio::net::TcpStream::connect(addr).await.unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    drop(raw);
    // Another CA's client fails the handshake.
    let other = TestPki::generate().unwrap();
    let req = Request::post(format!("{}/api/calls/get", sim.url())).body(Full::new(Bytes::new())).unwrap();
    assert!(client(&other).request(req).await.is_err());
    // A GET on a good connection is a ServiceStack 404.
    let req = Request::get(format!("{}/api/calls/get", sim.url())).body(Full::new(Bytes::new())).unwrap();
    let resp = client(&pki).request(req).await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(sim.connections(), 3);
    assert_eq!(sim.requests().len(), 1);

    let debug = format!(
        "{:?}",
        SimOptions {
            accounts: vec![Account {
                customer_name: "c".into(),
                user_name: "u".into(),
                password: SecretString::from("hunter2")
            }],
            ..SimOptions::default()
        }
    );
    assert!(!debug.contains("hunter2"), "{debug}");

    sim.shutdown();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
