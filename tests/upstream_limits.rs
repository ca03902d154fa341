#![allow(clippy::unwrap_used, clippy::expect_used)]
//! HTTP/2 to HostedSuite where it offers it, the per-host cap on requests in
//! progress, and the gateway-wide cap that sheds load early.

mod common;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use hsgate::sim::TestPki;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;

/// What the test upstream saw.
#[derive(Default)]
struct Seen {
    versions: Mutex<Vec<hyper::Version>>,
    request_ids: Mutex<Vec<String>>,
    in_flight: AtomicUsize,
    most_at_once: AtomicUsize,
}

/// A TLS upstream offering `alpn`, answering a small JSON record after `delay`.
async fn upstream(pki: &TestPki, alpn: &[&[u8]], delay: Duration) -> (String, Arc<Seen>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://localhost:{}", listener.local_addr().unwrap().port());
    let mut tls = (*pki.server_config().unwrap()).clone();
    tls.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let seen = Arc::new(Seen::default());
    let state = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, state) = (acceptor.clone(), state.clone());
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(tcp).await else { return };
                let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let state = state.clone();
                    async move {
                        state.versions.lock().unwrap().push(req.version());
                        let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
                        state.request_ids.lock().unwrap().push(id.to_owned());
                        let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        state.most_at_once.fetch_max(now, Ordering::SeqCst);
                        tokio::time::sleep(delay).await;
                        state.in_flight.fetch_sub(1, Ordering::SeqCst);
                        let mut r = hyper::Response::new(Full::new(Bytes::from_static(br#"{"Id":"call-1001"}"#)));
                        r.headers_mut()
                            .insert("content-type", hyper::header::HeaderValue::from_static("application/json"));
                        Ok::<_, Infallible>(r)
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, seen)
}

async fn env_for(pki: TestPki, url: String, upstream_lines: &str, server_lines: &str) -> TestEnv {
    let (upstream_lines, server_lines) = (upstream_lines.to_owned(), server_lines.to_owned());
    TestEnv::start(move |s| {
        s.pki = Some(pki);
        s.upstream_url = Some(url);
        s.upstream = upstream_lines;
        s.server = server_lines;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_is_used_where_the_host_offers_it_and_never_when_told_not_to() {
    for (setting, alpn, want) in [
        ("http2 = \"auto\"", &[&b"h2"[..], b"http/1.1"][..], hyper::Version::HTTP_2),
        ("http2 = \"auto\"", &[&b"http/1.1"[..]][..], hyper::Version::HTTP_11),
        ("http2 = \"never\"", &[&b"h2"[..], b"http/1.1"][..], hyper::Version::HTTP_11),
    ] {
        let pki = TestPki::generate().unwrap();
        let (url, seen) = upstream(&pki, alpn, Duration::ZERO).await;
        let env = env_for(pki, url, setting, "").await;
        let mut ids = Vec::new();
        for _ in 0..3 {
            let answer = env.update(SUB, "call-1001", "x").await;
            assert_eq!(answer.status, 200, "{setting}");
            ids.push(answer.request_id());
        }
        let versions = seen.versions.lock().unwrap().clone();
        assert_eq!(versions, vec![want; 3], "{setting} with ALPN {alpn:?}");
        // Over HTTP/2 the ids go as never-indexed literals: each one arrives whole.
        assert_eq!(*seen.request_ids.lock().unwrap(), ids, "{setting}: the upstream saw each request's own id");
    }
}

/// Sends one update per entry of `profiles` at once (`None`: as `SUB`, whose
/// grant has one profile; `Some`: as `SUB_MULTI`, naming the profile) through
/// a gateway with `max_connections = max` to a slow upstream; each must be
/// served. How many the upstream had in progress at most.
async fn most_at_once(max: usize, profiles: &[Option<&'static str>]) -> usize {
    let pki = TestPki::generate().unwrap();
    let (url, seen) = upstream(&pki, &[b"h2", b"http/1.1"], Duration::from_millis(200)).await;
    let env = Arc::new(env_for(pki, url, &format!("max_connections = {max}"), "").await);
    let tasks: Vec<_> = profiles
        .iter()
        .copied()
        .enumerate()
        .map(|(i, profile)| {
            let env = env.clone();
            tokio::spawn(async move {
                let body = json!({"Id": "call-1001", "Notes": format!("n{i}")});
                let req = match profile {
                    None => env.req(&env.token(SUB), &body),
                    Some(name) => env.req(&env.token(SUB_MULTI), &body).header("HostedSuite-Profile", name),
                };
                env.send(&req).await.status
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200, "every request is served, in turn");
    }
    seen.most_at_once.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_to_one_host_are_capped() {
    assert_eq!(most_at_once(2, &[None; 6]).await, 2, "at most upstream.max_connections at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_on_one_host_share_its_cap() {
    // Both profiles' URIs are on the one test host: one cap for the two.
    let alternating = [Some("acme"), Some("globex"), Some("acme"), Some("globex")];
    assert_eq!(most_at_once(1, &alternating).await, 1, "at most upstream.max_connections at once, per host");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_max_in_flight_requests_are_shed_with_503() {
    let pki = TestPki::generate().unwrap();
    let (url, seen) = upstream(&pki, &[b"http/1.1"], Duration::from_millis(600)).await;
    let env = Arc::new(env_for(pki, url, "", "max_in_flight = 1").await);
    let first = {
        let env = env.clone();
        tokio::spawn(async move { env.update(SUB, "call-1001", "first").await.status })
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    while seen.in_flight.load(Ordering::SeqCst) == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the first request never reached the upstream");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let shed = env.update(SUB, "call-1001", "second").await;
    assert_error(&shed, 503, "Overloaded", "over max_in_flight");
    assert_eq!(shed.header("retry-after"), Some("1"));
    let record = env.wait_response_record(&shed.request_id()).await;
    assert_eq!((record["status"].clone(), record["decision"].clone()), (json!(503), json!("deny")));
    assert_eq!(record["route"], "calls.update", "the shed request's route is named");
    assert!(env.metrics().await.contains("hsgate_requests_total{route=\"calls.update\",status=\"503\"} 1"));
    assert_eq!(first.await.unwrap(), 200);
    assert_eq!(env.update(SUB, "call-1001", "third").await.status, 200, "room again");
}
