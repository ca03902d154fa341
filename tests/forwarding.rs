#![allow(clippy::unwrap_used, clippy::expect_used)]
//! SPEC §4: what the upstream receives, what the caller receives back, the
//! upstream failure mapping, password redaction and the refused-login breaker.

mod common;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use hsgate::sim::{Account, SimOptions, Simulator, TestPki};
use secrecy::SecretString;
use serde_json::{json, Value};

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn well_formed_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_receives_only_the_injected_request() {
    let env = TestEnv::start(|_| {}).await;
    for target in [PATH, ALIAS] {
        env.sim.clear();
        let token = env.token(SUB_MULTI);
        let req = env
            .req(&token, &json!({"id": "call-1003", "NOTES": "call back at 10", "UserName": null}))
            .set("Content-Type", "application/json; charset=utf-8")
            .target(target)
            .header("HostedSuite-Profile", "acme")
            .header("Cookie", "ss-id=abc; ss-pid=def")
            .header("X-Custom", "leak-me")
            .header("X-Forwarded-For", "10.0.0.1")
            .header("Accept", "text/html")
            .header("User-Agent", "curl/8.0")
            .header("X-Request-Id", "fwd-test-1");
        let resp = env.send(&req).await;
        assert_eq!(resp.status, 200, "{target}: {}", resp.text());

        let seen = env.sim.requests();
        assert_eq!(seen.len(), 1, "{target}: sent upstream exactly once");
        let up = &seen[0];
        assert_eq!(up.method, "POST");
        assert_eq!(up.path, PATH, "{target}: upstream path is the route's path");
        assert_eq!(up.query, None);
        let body: Value = serde_json::from_slice(&up.body).unwrap();
        assert_eq!(
            body,
            json!({
                "Id": "call-1003",
                "Notes": "call back at 10",
                "CustomerName": ACME_CUSTOMER,
                "UserName": ACME_USER,
                "Password": env.acme_password,
            }),
            "{target}: upstream body"
        );
        assert_eq!(body.as_object().unwrap().len(), 5);
        let h = &up.headers;
        assert_eq!(header(h, "content-type"), Some("application/json"));
        assert_eq!(header(h, "accept"), Some("application/json"));
        assert_eq!(header(h, "user-agent"), Some(concat!("hsgate/", env!("CARGO_PKG_VERSION"))));
        assert_eq!(header(h, "x-request-id"), Some("fwd-test-1"));
        for (name, _) in h {
            assert!(
                ["content-type", "accept", "user-agent", "x-request-id", "host", "content-length"]
                    .contains(&name.to_ascii_lowercase().as_str()),
                "{target}: caller or unexpected header {name} forwarded: {h:?}"
            );
        }
        for name in ["authorization", "cookie", "hostedsuite-profile", "x-custom", "x-forwarded-for"] {
            assert!(header(h, name).is_none(), "{name} forwarded");
        }
    }
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_receives_the_upstream_answer_verbatim() {
    let env = TestEnv::start(|_| {}).await;
    // 200, 404 (relayed, not the gateway's) and a JSON 500.
    for (id, status, code) in [
        ("call-1004", 200, None),
        ("call-9999", 404, Some("NotFound")),
        ("fault-500json", 500, Some("NullReferenceException")),
    ] {
        env.sim.clear();
        let resp = env.update(SUB, id, "verbatim ✓").await;
        let seen = env.sim.requests();
        assert_eq!(seen.len(), 1, "{id}");
        assert_eq!(resp.status, status, "{id}: {}", resp.text());
        assert_eq!(seen[0].status, status);
        assert_eq!(resp.body, seen[0].response.to_vec(), "{id}: body bytes must be the upstream's");
        assert_eq!(resp.header("content-type"), Some("application/json; charset=utf-8"), "{id}");
        let rid = resp.request_id();
        assert!(well_formed_id(&rid), "{id}: X-Request-Id {rid:?}");
        assert_eq!(header(&seen[0].headers, "x-request-id"), Some(rid.as_str()));
        for name in ["set-cookie", "server", "x-powered-by"] {
            assert!(resp.header(name).is_none(), "{id}: upstream header {name} relayed");
        }
        for (name, _) in &resp.headers {
            assert!(
                ["content-type", "content-length", "x-request-id", "date", "connection"].contains(&name.as_str()),
                "{id}: unexpected header {name}"
            );
        }
        if let Some(code) = code {
            assert_eq!(resp.error_code(), code);
        } else {
            assert_eq!(resp.json()["Notes"], "verbatim ✓");
        }
    }
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_id_is_kept_when_valid_and_replaced_when_not() {
    let env = TestEnv::start(|_| {}).await;
    let body = json!({"Id": "call-1001", "Notes": "rid"});
    let long_ok = "r".repeat(128);
    for given in ["abc.DEF_1-2", long_ok.as_str()] {
        env.sim.clear();
        let resp = env.send(&env.req(&env.token(SUB), &body).header("X-Request-Id", given)).await;
        assert_eq!(resp.status, 200);
        assert_eq!(resp.request_id(), given);
        assert_eq!(header(&env.sim.requests()[0].headers, "x-request-id"), Some(given));
        env.wait_response_record(given).await;
    }
    let too_long = "r".repeat(129);
    for given in ["bad id!", "a/b", "ümlaut", too_long.as_str()] {
        env.sim.clear();
        let resp = env.send(&env.req(&env.token(SUB), &body).header("X-Request-Id", given)).await;
        assert_eq!(resp.status, 200);
        let rid = resp.request_id();
        assert_ne!(rid, given);
        assert!(well_formed_id(&rid), "{rid:?}");
        assert_eq!(header(&env.sim.requests()[0].headers, "x-request-id"), Some(rid.as_str()));
        env.wait_response_record(&rid).await;
    }
    // Two X-Request-Id headers: replaced too.
    let resp =
        env.send(&env.req(&env.token(SUB), &body).header("X-Request-Id", "one").header("X-Request-Id", "two")).await;
    assert!(resp.request_id() != "one" && resp.request_id() != "two" && well_formed_id(&resp.request_id()));
    // Gateway-made answers carry the caller's id as well.
    let resp = env.send(&env.req(&env.token(SUB), &body).target("/nope").header("X-Request-Id", "err-rid-1")).await;
    assert_error(&resp, 404, "NotFound", "unknown path");
    assert_eq!(resp.request_id(), "err-rid-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_failures_map_to_502_and_504() {
    let env = TestEnv::start(|s| {
        s.upstream = "timeout = \"300ms\"".into();
        s.slow = Duration::from_secs(2);
    })
    .await;
    for (id, status, code) in [
        ("fault-html500", 502, "UpstreamBadResponse"),
        ("fault-badjson", 502, "UpstreamBadResponse"),
        ("fault-reset", 502, "UpstreamUnavailable"),
        ("fault-slow", 504, "UpstreamTimeout"),
        ("fault-403", 502, "UpstreamCredentialsRejected"),
    ] {
        env.sim.clear();
        let resp = env.update(SUB, id, "failure").await;
        assert_error(&resp, status, code, id);
        assert!(!resp.text().contains("<html"), "{id}: upstream body relayed");
        let seen = env.sim.requests();
        assert_eq!(seen.len(), 1, "{id}: a request is sent upstream at most once (no retry): {}", seen.len());
    }
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_logins_are_502_whatever_the_upstream_status() {
    let env = TestEnv::start(|s| {
        s.sim_acme_password = Some("the-password-was-rotated".into());
        s.upstream = "login_failure_threshold = 100".into();
    })
    .await;
    for (status, code) in [
        (500, "SecurityException"),
        (401, "Unauthorized"),
        (403, "Forbidden"),
        (200, "AuthenticationException"),
        (400, "UnauthorizedAccessException"),
    ] {
        env.sim.clear();
        env.sim.set_refusal(status, code);
        let resp = env.update(SUB, "call-1001", "x").await;
        assert_error(&resp, 502, "UpstreamCredentialsRejected", &format!("refusal {status} {code}"));
        assert!(!resp.text().contains("Invalid UserName"), "upstream message relayed");
        assert_eq!(env.sim.requests().len(), 1);
        assert_eq!(env.sim.requests()[0].status, status);
    }
    // globex still logs in.
    let resp = env
        .send(
            &env.req(&env.token(SUB_MULTI), &json!({"Id": "call-1001", "Notes": "g"}))
                .header("HostedSuite-Profile", "globex"),
        )
        .await;
    assert_eq!(resp.status, 200);
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaker_suspends_a_profile_after_threshold_refusals() {
    let env = TestEnv::start(|s| {
        s.sim_acme_password = Some("wrong-on-purpose".into());
        s.upstream = "login_failure_threshold = 2".into();
    })
    .await;
    for n in 1..=2 {
        let resp = env.update(SUB, "call-1001", "x").await;
        assert_error(&resp, 502, "UpstreamCredentialsRejected", &format!("refusal {n}"));
        assert_eq!(env.sim.requests().len(), n);
    }
    for n in 3..=4 {
        let resp = env.update(SUB, "call-1001", "x").await;
        assert_error(&resp, 502, "UpstreamCredentialsRejected", &format!("suspended {n}"));
        assert_eq!(env.sim.requests().len(), 2, "a suspended profile must not reach HostedSuite");
        let r = env.wait_response_record(&resp.request_id()).await;
        assert_eq!(r["decision"], "deny");
        assert_eq!(r["error_code"], "UpstreamCredentialsRejected");
        assert_eq!(r["upstream_status"], Value::Null);
        assert_eq!(env.audit_for(&resp.request_id()).len(), 1, "no request record for a suspended profile");
    }
    // Same profile through another grant: still suspended (per profile).
    let multi = env.req(&env.token(SUB_MULTI), &json!({"Id": "call-1001", "Notes": "m"}));
    let resp = env.send(&multi.clone().header("HostedSuite-Profile", "acme")).await;
    assert_error(&resp, 502, "UpstreamCredentialsRejected", "acme via multi");
    assert_eq!(env.sim.requests().len(), 2);
    // A fresh profile is unaffected.
    let resp = env.send(&multi.header("HostedSuite-Profile", "globex")).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(env.sim.requests().len(), 3);
    let r = env.wait_response_record(&resp.request_id()).await;
    assert_eq!(r["profile"], "globex");
    assert_eq!(r["decision"], "allow");
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaker_count_resets_on_any_other_answer() {
    let env = TestEnv::start(|s| s.upstream = "login_failure_threshold = 2".into()).await;
    let step = |id: &'static str| {
        let env = &env;
        async move { env.update(SUB, id, "x").await }
    };
    assert_error(&step("fault-403").await, 502, "UpstreamCredentialsRejected", "first refusal");
    // A relayed 404 is not a refused login: it resets the count.
    assert_eq!(step("call-9999").await.status, 404);
    assert_error(&step("fault-403").await, 502, "UpstreamCredentialsRejected", "refusal after reset");
    assert_eq!(step("call-1001").await.status, 200, "one refusal in a row must not suspend");
    assert_error(&step("fault-403").await, 502, "UpstreamCredentialsRejected", "1");
    assert_error(&step("fault-403").await, 502, "UpstreamCredentialsRejected", "2");
    let before = env.sim.requests().len();
    assert_error(&step("call-1001").await, 502, "UpstreamCredentialsRejected", "suspended");
    assert_eq!(env.sim.requests().len(), before, "suspended profile reached HostedSuite");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_is_502_unavailable() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let env = TestEnv::start(|s| s.upstream_url = Some(format!("https://localhost:{port}"))).await;
    let resp = env.update(SUB, "call-1001", "x").await;
    assert_error(&resp, 502, "UpstreamUnavailable", "closed port");
    assert!(env.sim.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_certificate_fails_before_anything_is_sent() {
    let other_pki = TestPki::generate().unwrap();
    let other = start_sim(&other_pki, "pw", "pw", Duration::from_secs(1)).await;
    let env = TestEnv::start(|s| s.upstream_url = Some(other.url())).await;
    let resp = env.update(SUB, "call-1001", "x").await;
    assert_error(&resp, 502, "UpstreamUnavailable", "untrusted CA");
    assert!(other.requests().is_empty(), "the untrusted upstream received a request");
    assert!(env.sim.requests().is_empty());
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_upstream_needs_allow_plaintext() {
    let err = TestEnv::try_start(|s| s.upstream_url = Some("http://localhost:1".into()))
        .await
        .err()
        .expect("http:// upstream must be a config error");
    assert!(err.problems.iter().any(|p| p.key == "upstream.url"), "{err}");
    assert!(err.to_string().contains("hsgate.toml"), "{err}");
    let env = TestEnv::try_start(|s| {
        s.upstream_url = Some("http://localhost:1".into());
        s.upstream = "allow_plaintext = true".into();
    })
    .await;
    assert!(env.is_ok(), "allow_plaintext = true must accept http://");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echoed_password_is_redacted() {
    let env = TestEnv::start(|_| {}).await;
    let pw = env.acme_password.clone();
    assert!(pw.contains('"') && pw.contains('\\') && pw.contains('✓'));
    let resp = env
        .send(&env.req(&env.token(SUB), &json!({"Id": "fault-echo", "Notes": "echo"})).header("X-Request-Id", "echo-1"))
        .await;
    // The simulator did echo it.
    let seen = env.sim.requests();
    assert_eq!(seen.len(), 1);
    assert!(String::from_utf8_lossy(&seen[0].response).contains("expired"));
    assert_eq!(resp.status, 500, "{}", resp.text());
    assert_eq!(resp.error_code(), "ArgumentException");
    assert!(resp.text().contains("[redacted]"), "{}", resp.text());
    assert_no_secret("echo body", &resp.raw, std::slice::from_ref(&pw));
    let mut strings = Vec::new();
    all_strings(&resp.json(), &mut strings);
    for s in &strings {
        for form in secret_forms(&pw) {
            assert!(!s.contains(&form), "decoded string {s:?} holds the password ({form:?})");
        }
    }
    let r = env.wait_response_record("echo-1").await;
    assert_eq!(r["redacted"], true);
    assert_eq!(r["error_code"], "ArgumentException");
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_connections_are_pooled() {
    let env = TestEnv::start(|_| {}).await;
    for i in 0..5 {
        let resp = env.update(SUB, "call-1005", &format!("pooled {i}")).await;
        assert_eq!(resp.status, 200);
    }
    assert_eq!(env.sim.requests().len(), 5);
    assert_eq!(env.sim.connections(), 1, "5 sequential requests should share one pooled connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_upstream_url_picks_the_host() {
    let pki = TestPki::generate().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let cpo = Simulator::start(
        listener,
        pki.server_config().unwrap(),
        SimOptions {
            accounts: vec![Account {
                customer_name: "Initech".into(),
                user_name: "gw-initech".into(),
                password: SecretString::from("initech-pw".to_owned()),
            }],
            ..SimOptions::default()
        },
    )
    .unwrap();
    let extra = format!(
        r#"
[[profile]]
name = "initech"
customer_name = "Initech"
user_name = "gw-initech"
password = "initech-pw"
upstream_url = "{}"

[[grant]]
name = "initech"
claims = {{ sub = "svc-initech" }}
profiles = ["initech"]
routes = ["calls.update"]
"#,
        cpo.url()
    );
    let env = match TestEnv::try_start(|s| {
        s.pki = Some(pki);
        s.extra = extra;
    })
    .await
    {
        Ok(env) => env,
        Err(e) => panic!("profile upstream_url does not load: {e}"),
    };
    let resp = env.update("svc-initech", "call-1001", "x").await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(cpo.requests().len(), 1);
    assert!(env.sim.requests().is_empty());
    assert_eq!(env.update(SUB, "call-1001", "x").await.status, 200);
    assert_eq!(env.sim.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_timeout_while_waiting_upstream_is_504() {
    let env = TestEnv::start(|s| {
        s.server = "request_timeout = \"1s\"".into();
        s.slow = Duration::from_secs(3);
    })
    .await;
    let started = tokio::time::Instant::now();
    let resp = env.update(SUB, "fault-slow", "x").await;
    assert_error(&resp, 504, "UpstreamTimeout", "request_timeout during upstream");
    assert!(started.elapsed() < Duration::from_millis(2500), "took {:?}", started.elapsed());
    assert_eq!(env.sim.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaker_cooldown_ends_and_the_count_starts_afresh() {
    let env = TestEnv::start(|s| {
        s.sim_acme_password = Some("wrong-on-purpose".into());
        s.upstream = "login_failure_threshold = 2\nlogin_failure_cooldown = \"500ms\"".into();
    })
    .await;
    for _ in 0..2 {
        assert_error(&env.update(SUB, "call-1001", "x").await, 502, "UpstreamCredentialsRejected", "refusal");
    }
    assert_eq!(env.sim.requests().len(), 2);
    assert_error(&env.update(SUB, "call-1001", "x").await, 502, "UpstreamCredentialsRejected", "suspended");
    assert_eq!(env.sim.requests().len(), 2, "suspended right after the threshold");
    // Poll until the cooldown is over: the next request reaches HostedSuite again.
    let deadline = tokio::time::Instant::now() + WAIT;
    while env.sim.requests().len() == 2 {
        assert!(tokio::time::Instant::now() < deadline, "the profile was never let through again");
        assert_error(&env.update(SUB, "call-1001", "x").await, 502, "UpstreamCredentialsRejected", "cooling down");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(env.sim.requests().len(), 3);
    // One refusal after the cooldown does not suspend again (threshold 2, count afresh).
    assert_error(&env.update(SUB, "call-1001", "x").await, 502, "UpstreamCredentialsRejected", "after cooldown");
    assert_eq!(env.sim.requests().len(), 4, "count did not start afresh after the cooldown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaker_ignores_resets_and_timeouts() {
    let env = TestEnv::start(|s| {
        s.upstream = "login_failure_threshold = 2\ntimeout = \"300ms\"".into();
        s.slow = Duration::from_secs(2);
    })
    .await;
    assert_error(&env.update(SUB, "fault-403", "x").await, 502, "UpstreamCredentialsRejected", "refusal 1");
    assert_error(&env.update(SUB, "fault-reset", "x").await, 502, "UpstreamUnavailable", "reset");
    assert_error(&env.update(SUB, "fault-slow", "x").await, 504, "UpstreamTimeout", "timeout");
    assert_error(&env.update(SUB, "fault-403", "x").await, 502, "UpstreamCredentialsRejected", "refusal 2");
    let before = env.sim.requests().len();
    assert_eq!(before, 4);
    assert_error(&env.update(SUB, "call-1001", "x").await, 502, "UpstreamCredentialsRejected", "suspended");
    assert_eq!(env.sim.requests().len(), before, "resets and timeouts must not reset the refusal count");
    // Answers count by their status; the reset and the timeout got none.
    let metrics = env.metrics().await;
    for series in [
        "hsgate_upstream_requests_total{route=\"calls.update\",status=\"403\"} 2",
        "hsgate_upstream_failures_total{route=\"calls.update\",reason=\"error\"} 1",
        "hsgate_upstream_failures_total{route=\"calls.update\",reason=\"timeout\"} 1",
    ] {
        assert!(metrics.contains(series), "missing {series} in\n{metrics}");
    }
    assert!(!metrics.contains("hsgate_upstream_requests_total{route=\"calls.update\",status=\"timeout\""));
}

/// A TLS "HostedSuite" that refuses every login after `delay`, counting requests.
async fn slow_refuser(pki: &TestPki, delay: Duration) -> (String, Arc<AtomicUsize>) {
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
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let service = hyper::service::service_fn(move |_req| {
                    seen.fetch_add(1, Ordering::SeqCst);
                    async move {
                        tokio::time::sleep(delay).await;
                        let body = r#"{"ResponseStatus":{"ErrorCode":"SecurityException","Message":"Invalid UserName or Password","Errors":[]}}"#;
                        let mut r = hyper::Response::new(http_body_util::Full::new(bytes::Bytes::from(body)));
                        *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
                        r.headers_mut()
                            .insert("content-type", hyper::header::HeaderValue::from_static("application/json"));
                        Ok::<_, Infallible>(r)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (url, count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn breaker_bounds_concurrent_refusals() {
    let pki = TestPki::generate().unwrap();
    let (url, count) = slow_refuser(&pki, Duration::from_millis(300)).await;
    let env = TestEnv::start(|s| {
        s.pki = Some(pki);
        s.upstream_url = Some(url);
        s.upstream = "login_failure_threshold = 2".into();
    })
    .await;
    let env = Arc::new(env);
    let mut tasks = Vec::new();
    for i in 0..6 {
        let env = env.clone();
        tasks.push(tokio::spawn(async move { env.update(SUB, "call-1001", &format!("concurrent {i}")).await }));
    }
    for t in tasks {
        let resp = t.await.unwrap();
        assert_error(&resp, 502, "UpstreamCredentialsRejected", "concurrent refusal");
    }
    let reached = count.load(Ordering::SeqCst);
    assert!(reached <= 2, "{reached} refused logins reached HostedSuite with login_failure_threshold = 2");
}

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// The caller's traceparent is recorded always, and sent upstream only with
/// `upstream.forward_traceparent = true` (and only when it is valid).
#[tokio::test]
async fn traceparent_goes_upstream_only_when_asked_for() {
    let trace = Some("4bf92f3577b34da6a3ce929d0e0e4736");
    // forward_traceparent, the caller's header, the upstream's header, the record's trace_id
    // None: the key left out (the default).
    for (forward, sent, expected, recorded) in [
        (None, TRACEPARENT, None, trace),
        (Some(false), TRACEPARENT, None, trace),
        (Some(true), TRACEPARENT, Some(TRACEPARENT), trace),
        (Some(true), "00-00000000000000000000000000000000-00f067aa0ba902b7-01", None, None),
    ] {
        let env = TestEnv::start(|s| {
            if let Some(on) = forward {
                s.upstream = format!("forward_traceparent = {on}");
            }
        })
        .await;
        let token = env.fx.token(SUB);
        let req = env.req(&token, &json!({"Id": "call-1001", "Notes": "traced"})).header("traceparent", sent);
        let resp = env.send(&req).await;
        assert_eq!(resp.status, 200, "{}", resp.text());
        let seen = env.sim.requests();
        assert_eq!(header(&seen[0].headers, "traceparent"), expected, "forward = {forward:?}, sent {sent}");
        let record = env.fx.wait_response_record(&resp.request_id()).await;
        assert_eq!(record["trace_id"].as_str(), recorded);
    }
}
