#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Upstream answers hyper parses but HostedSuite never sends: statuses
//! outside 200-599 and oversized bodies. A raw TLS peer writes them byte for
//! byte, choosing the answer by the request's `Id`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use hsgate::sim::TestPki;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const REFUSED: &str =
    r#"{"ResponseStatus":{"ErrorCode":"SecurityException","Message":"Invalid UserName or Password"}}"#;

/// The raw HTTP/1.1 answer for a request whose body has this `Id`.
fn answer_for(id: &str) -> Vec<u8> {
    let raw = |status: &str, body: &[u8]| {
        let mut out =
            format!("HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len())
                .into_bytes();
        out.extend_from_slice(body);
        out
    };
    match id {
        "status-999" => raw("999 Odd", br#"{"Id":"status-999"}"#),
        "status-600" => raw("600 Odd", br#"{"Id":"status-600"}"#),
        "refuse" => raw("500 Internal Server Error", REFUSED.as_bytes()),
        // One byte over the gateway's 4 MiB answer limit.
        "big" => raw("200 OK", format!("{{\"Notes\":\"{}\"}}", "x".repeat(4 * 1024 * 1024)).as_bytes()),
        "big-401" => raw("401 Unauthorized", format!("{{\"Notes\":\"{}\"}}", "x".repeat(4 * 1024 * 1024)).as_bytes()),
        _ => raw("200 OK", br#"{"Id":"ok"}"#),
    }
}

/// A TLS peer on loopback (trusted through the test CA); counts requests.
async fn raw_upstream(pki: &TestPki) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://localhost:{}", listener.local_addr().unwrap().port());
    let acceptor = tokio_rustls::TlsAcceptor::from(pki.server_config().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let seen = seen.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                // One request per connection: head, then Content-Length bytes.
                let body = loop {
                    let Ok(n) = tls.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        break buf[end + 4..end + 4 + len].to_vec();
                    }
                };
                seen.fetch_add(1, Ordering::SeqCst);
                let id = serde_json::from_slice::<Value>(&body).ok().and_then(|v| v["Id"].as_str().map(str::to_owned));
                let _ = tls.write_all(&answer_for(&id.unwrap_or_default())).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (url, count)
}

async fn env_with_raw_upstream(threshold: u32) -> (TestEnv, Arc<AtomicUsize>) {
    let pki = TestPki::generate().unwrap();
    let (url, count) = raw_upstream(&pki).await;
    let env = TestEnv::start(|s| {
        s.pki = Some(pki);
        s.upstream_url = Some(url);
        s.upstream = format!("login_failure_threshold = {threshold}");
    })
    .await;
    (env, count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_outside_200_to_599_are_bad_responses() {
    let (env, count) = env_with_raw_upstream(3).await;
    for id in ["status-999", "status-600"] {
        let resp = env.post(&env.token(SUB), &json!({"Id": id, "Notes": ""})).await;
        assert_error(&resp, 502, "UpstreamBadResponse", id);
        let record = env.wait_response_record(&resp.request_id()).await;
        assert_eq!(record["status"], 502, "{id}");
        assert_eq!(record["decision"], "allow", "{id}: it was forwarded");
    }
    assert_eq!(count.load(Ordering::SeqCst), 2);
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_answer_is_a_bad_response_that_resets_the_refusal_count() {
    let (env, count) = env_with_raw_upstream(2).await;
    let send = |id: &'static str| {
        let env = &env;
        async move { env.post(&env.token(SUB), &json!({"Id": id, "Notes": ""})).await }
    };
    assert_error(&send("refuse").await, 502, "UpstreamCredentialsRejected", "first refusal");
    assert_error(&send("big").await, 502, "UpstreamBadResponse", "oversized answer");
    // Had the oversized answer not reset the count, this refusal would suspend the profile.
    assert_error(&send("refuse").await, 502, "UpstreamCredentialsRejected", "refusal after the reset");
    assert_eq!(send("ok").await.status, 200, "the profile is not suspended");
    assert_eq!(count.load(Ordering::SeqCst), 4, "every request reached the upstream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_401_is_still_a_refused_login() {
    let (env, count) = env_with_raw_upstream(2).await;
    for i in 0..2 {
        let resp = env.post(&env.token(SUB), &json!({"Id": "big-401", "Notes": ""})).await;
        assert_error(&resp, 502, "UpstreamCredentialsRejected", &format!("oversized 401 #{i}"));
    }
    // Two refusals with threshold 2: suspended, answered without reaching the upstream.
    let resp = env.post(&env.token(SUB), &json!({"Id": "ok", "Notes": ""})).await;
    assert_error(&resp, 502, "UpstreamCredentialsRejected", "suspended");
    assert_eq!(count.load(Ordering::SeqCst), 2);
}
