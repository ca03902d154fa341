#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Keys from the IdP's `jwks_url` (SPEC §7), against a real JWKS server over
//! TLS (rcgen certificates): start-up fetch, rotation through an unknown
//! `kid`, one fetch for a burst, failed fetches keeping the last good set,
//! and readiness when the IdP is down at start.

mod common;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use common::*;
use hsgate::sim::TestPki;
use http_body_util::Full;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Value};
use tokio::time::Instant;

/// An Ed25519 signing key and its JWK.
struct IdpKey {
    kid: String,
    encoding: EncodingKey,
    jwk: Value,
}

impl IdpKey {
    fn new(kid: &str) -> IdpKey {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let encoding = EncodingKey::from_ed_pem(pair.serialize_pem().as_bytes()).unwrap();
        let x = URL_SAFE_NO_PAD.encode(pair.public_key_raw());
        IdpKey { kid: kid.into(), encoding, jwk: json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": x}) }
    }

    fn token(&self, env: &TestEnv) -> String {
        let t = hsgate::token::sign(Algorithm::EdDSA, Some(&self.kid), &self.encoding, &env.claims(SUB)).unwrap();
        env.remember(&t);
        t
    }
}

/// What the JWKS server answers.
#[derive(Clone)]
struct Answer {
    status: u16,
    body: String,
    delay: Duration,
}

impl Answer {
    fn keys(keys: &[&IdpKey]) -> Answer {
        let doc = json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()});
        Answer { status: 200, body: doc.to_string(), delay: Duration::ZERO }
    }
}

/// A JWKS endpoint over TLS on loopback; counts the fetches it gets.
struct JwksServer {
    url: String,
    answer: Arc<Mutex<Answer>>,
    fetches: Arc<AtomicUsize>,
    first_fetch: Arc<Mutex<Option<Instant>>>,
    last_fetch: Arc<Mutex<Option<Instant>>>,
}

/// The gateway's `jwks_min_refetch` in these tests (the smallest it accepts).
const MIN_REFETCH: Duration = Duration::from_secs(1);

/// Waits until `jwks_min_refetch` has passed since the server's last fetch,
/// so that the next unknown kid may refetch (time, not an event, is the rule).
async fn after_min_refetch(server: &JwksServer) {
    let last = server.last_fetch.lock().unwrap().expect("fetched before");
    tokio::time::sleep_until(last + MIN_REFETCH + Duration::from_millis(50)).await;
}

impl JwksServer {
    async fn start(pki: &TestPki, answer: Answer) -> JwksServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://localhost:{}/.well-known/jwks.json", listener.local_addr().unwrap().port());
        let acceptor = tokio_rustls::TlsAcceptor::from(pki.server_config().unwrap());
        let server = JwksServer {
            url,
            answer: Arc::new(Mutex::new(answer)),
            fetches: Arc::new(AtomicUsize::new(0)),
            first_fetch: Arc::new(Mutex::new(None)),
            last_fetch: Arc::new(Mutex::new(None)),
        };
        let (answer, fetches, first, last) =
            (server.answer.clone(), server.fetches.clone(), server.first_fetch.clone(), server.last_fetch.clone());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, answer, fetches, first, last) =
                    (acceptor.clone(), answer.clone(), fetches.clone(), first.clone(), last.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = hyper::service::service_fn(move |_req| {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        first.lock().unwrap().get_or_insert_with(Instant::now);
                        *last.lock().unwrap() = Some(Instant::now());
                        let a = answer.lock().unwrap().clone();
                        async move {
                            tokio::time::sleep(a.delay).await;
                            let mut r = hyper::Response::new(Full::new(Bytes::from(a.body)));
                            *r.status_mut() = hyper::StatusCode::from_u16(a.status).unwrap();
                            Ok::<_, Infallible>(r)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        server
    }

    fn set(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// A gateway whose `[auth]` takes keys from `server` (with `extra` auth lines).
async fn gateway(pki: TestPki, server: &JwksServer, extra: &str, local_keys: bool) -> TestEnv {
    let auth = format!("jwks_url = \"{}\"\njwks_ca_file = \"ca.pem\"\n{extra}", server.url);
    TestEnv::start(move |s| {
        s.pki = Some(pki);
        s.auth = auth;
        s.local_keys = local_keys;
    })
    .await
}

async fn metric(env: &TestEnv, line: &str) -> bool {
    env.metrics().await.lines().any(|l| l == line)
}

async fn wait_metric(env: &TestEnv, line: &str) {
    let deadline = Instant::now() + WAIT;
    while !metric(env, line).await {
        assert!(Instant::now() < deadline, "metric line {line:?} never appeared:\n{}", env.metrics().await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Everything this test binary logs, as JSON lines (one global subscriber:
/// the gateway's tasks log from the runtime's worker threads).
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: std::sync::OnceLock<Arc<Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let writer = move || Capture(sink.clone());
        let subscriber = tracing_subscriber::fmt().json().with_writer(writer).finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");
        logs
    })
    .clone()
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn post(env: &TestEnv, token: &str) -> Resp {
    env.post(token, &json!({"Id": "call-1001", "Notes": "jwks"})).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_fetched_at_start_and_a_rotated_key_is_found_through_its_unknown_kid() {
    let pki = TestPki::generate().unwrap();
    let (a, b) = (IdpKey::new("idp-a"), IdpKey::new("idp-b"));
    let server = JwksServer::start(&pki, Answer::keys(&[&a])).await;
    let env = gateway(pki, &server, "jwks_min_refetch = \"1s\"\njwks_refresh = \"1h\"", false).await;
    wait_metric(&env, "hsgate_jwks_fetches_total{result=\"success\"} 1").await;
    assert_eq!(get(env.admin_addr, "/readyz").await.status, 200);
    assert!(metric(&env, "hsgate_jwks_keys 1").await);
    assert!(env.metrics().await.contains("hsgate_jwks_age_seconds "));

    let a_token = a.token(&env);
    assert_eq!(post(&env, &a_token).await.status, 200, "a key from the start-up fetch");
    assert_eq!(post(&env, &a_token).await.status, 200, "the same token again: from the cache");
    assert!(metric(&env, "hsgate_token_cache_hits_total 1").await);
    assert_eq!(server.fetches(), 1, "a known kid fetches nothing");

    // The IdP rotates: b replaces a.
    server.set(Answer::keys(&[&b]));
    after_min_refetch(&server).await;
    let logs = captured_logs();
    let rotated = post(&env, &b.token(&env)).await;
    assert_eq!(rotated.status, 200, "b's kid is unknown: one refetch finds it");
    assert_eq!(server.fetches(), 2);
    // The refetch's log line names the request that made it.
    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    let fetched: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["fields"]["message"] == "JWKS fetched")
        .collect();
    let by_request: Vec<&Value> =
        fetched.iter().filter(|l| l["fields"]["request_id"] == rotated.request_id()).collect();
    assert_eq!(by_request.len(), 1, "{fetched:?}");
    assert_eq!(by_request[0]["fields"]["keys"], 1);
    let resp = post(&env, &a.token(&env)).await;
    assert_error(&resp, 401, "InvalidToken", "a's key is gone after the rotation");
    let resp = post(&env, &a_token).await;
    assert_error(&resp, 401, "InvalidToken", "a token verified (and cached) with the revoked key");
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_unknown_kids_makes_one_fetch() {
    let pki = TestPki::generate().unwrap();
    let a = IdpKey::new("idp-a");
    let server = JwksServer::start(&pki, Answer::keys(&[&a])).await;
    let env = gateway(pki, &server, "jwks_min_refetch = \"2s\"\njwks_refresh = \"1h\"", true).await;
    let _ = MIN_REFETCH;
    wait_metric(&env, "hsgate_jwks_fetches_total{result=\"success\"} 1").await;
    // The start-up fetch counts: wait until jwks_min_refetch has passed since it.
    let first = server.first_fetch.lock().unwrap().expect("fetched at start");
    tokio::time::sleep_until(first + Duration::from_millis(2100)).await;

    let env = Arc::new(env);
    let strangers: Vec<IdpKey> = (0..3).map(|i| IdpKey::new(&format!("unknown-{i}"))).collect();
    let tokens: Vec<String> = (0..24).map(|i| strangers[i % 3].token(&env)).collect();
    let mut tasks = Vec::new();
    for token in tokens {
        let env = env.clone();
        tasks.push(tokio::spawn(async move { post(&env, &token).await }));
    }
    for t in tasks {
        assert_error(&t.await.unwrap(), 401, "InvalidToken", "unknown kid");
    }
    assert_eq!(server.fetches(), 2, "24 requests with unknown kids: one refetch in all");
    // Within jwks_min_refetch of that fetch, an unknown kid fetches nothing more.
    assert_error(&post(&env, &strangers[0].token(&env)).await, 401, "InvalidToken", "again");
    assert_eq!(server.fetches(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_or_failing_answer_keeps_the_last_good_keys() {
    let pki = TestPki::generate().unwrap();
    let (a, b) = (IdpKey::new("idp-a"), IdpKey::new("idp-b"));
    let server = JwksServer::start(&pki, Answer::keys(&[&a])).await;
    let env = gateway(pki, &server, "jwks_min_refetch = \"1s\"\njwks_refresh = \"1h\"", false).await;
    wait_metric(&env, "hsgate_jwks_fetches_total{result=\"success\"} 1").await;

    // Over 1 MiB (a valid document padded with white space), holding b.
    let mut big = Answer::keys(&[&b]);
    big.body.push_str(&" ".repeat(1024 * 1024));
    server.set(big);
    after_min_refetch(&server).await;
    assert_error(&post(&env, &b.token(&env)).await, 401, "InvalidToken", "b only in an oversized answer");
    wait_metric(&env, "hsgate_jwks_fetches_total{result=\"too_large\"} 1").await;
    assert_eq!(post(&env, &a.token(&env)).await.status, 200, "the last good set is kept");

    for (answer, label) in [
        (Answer { status: 500, body: "oops".into(), delay: Duration::ZERO }, "status"),
        (Answer { status: 200, body: "{\"keys\": 5}".into(), delay: Duration::ZERO }, "invalid"),
    ] {
        server.set(answer);
        after_min_refetch(&server).await;
        assert_error(&post(&env, &b.token(&env)).await, 401, "InvalidToken", label);
        assert_eq!(post(&env, &a.token(&env)).await.status, 200, "{label}: the last good set is kept");
    }
    assert!(metric(&env, "hsgate_jwks_fetches_total{result=\"status\"} 1").await);
    assert!(metric(&env, "hsgate_jwks_fetches_total{result=\"invalid\"} 1").await);
    assert_eq!(get(env.admin_addr, "/readyz").await.status, 200);

    // A valid document with no key is the IdP's word: its keys stop verifying (fail closed).
    server.set(Answer { status: 200, body: "{\"keys\": []}".into(), delay: Duration::ZERO });
    after_min_refetch(&server).await;
    assert_error(&post(&env, &b.token(&env)).await, 401, "InvalidToken", "empty set fetched");
    assert_error(&post(&env, &a.token(&env)).await, 401, "InvalidToken", "a was withdrawn");
    assert_eq!(get(env.admin_addr, "/readyz").await.status, 503, "no key left to verify with");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_answer_is_a_failed_fetch() {
    let pki = TestPki::generate().unwrap();
    let (a, b) = (IdpKey::new("idp-a"), IdpKey::new("idp-b"));
    let server = JwksServer::start(&pki, Answer::keys(&[&a])).await;
    let env = gateway(pki, &server, "jwks_min_refetch = \"1s\"\njwks_refresh = \"1h\"", false).await;
    wait_metric(&env, "hsgate_jwks_fetches_total{result=\"success\"} 1").await;
    let mut slow = Answer::keys(&[&b]);
    slow.delay = Duration::from_secs(8);
    server.set(slow);
    after_min_refetch(&server).await;
    let started = Instant::now();
    assert_error(&post(&env, &b.token(&env)).await, 401, "InvalidToken", "b only in a slow answer");
    assert!(started.elapsed() < Duration::from_secs(8), "the fetch was not given up at 5 s");
    assert!(metric(&env, "hsgate_jwks_fetches_total{result=\"timeout\"} 1").await);
    assert_eq!(post(&env, &a.token(&env)).await.status, 200, "the last good set is kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idp_down_at_start_leaves_readyz_503_until_a_retry_succeeds() {
    let pki = TestPki::generate().unwrap();
    let a = IdpKey::new("idp-a");
    let server = JwksServer::start(&pki, Answer { status: 503, body: "down".into(), delay: Duration::ZERO }).await;
    let env = gateway(pki, &server, "jwks_refresh = \"1s\"", false).await;
    wait_metric(&env, "hsgate_jwks_fetches_total{result=\"status\"} 1").await;
    assert_eq!(get(env.admin_addr, "/readyz").await.status, 503, "no key to verify with");
    assert_error(&post(&env, &a.token(&env)).await, 401, "InvalidToken", "no key yet");

    server.set(Answer::keys(&[&a]));
    let deadline = Instant::now() + WAIT;
    while get(env.admin_addr, "/readyz").await.status != 200 {
        assert!(Instant::now() < deadline, "never ready after the IdP came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(post(&env, &a.token(&env)).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_other_keys_configured_a_down_idp_does_not_block_readiness() {
    let pki = TestPki::generate().unwrap();
    let server = JwksServer::start(&pki, Answer { status: 503, body: "down".into(), delay: Duration::ZERO }).await;
    let env = gateway(pki, &server, "jwks_refresh = \"1h\"", true).await;
    wait_metric(&env, "hsgate_jwks_fetches_total{result=\"status\"} 1").await;
    assert_eq!(get(env.admin_addr, "/readyz").await.status, 200);
    assert_eq!(env.update(SUB, "call-1001", "local key").await.status, 200);
}
