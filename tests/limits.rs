#![allow(clippy::unwrap_used, clippy::expect_used)]
//! SPEC §4, the checks that need their own gateway: timeouts and size
//! limits, token lifetime rules, routes a grant lacks, rate limits.

mod common;

use std::time::Duration;

use common::*;
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

fn good_body() -> Value {
    json!({"Id": "call-1001", "Notes": "ok"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_not_received_within_request_timeout_is_408() {
    let env = TestEnv::start(|s| s.server = "request_timeout = \"1s\"".into()).await;
    let token = env.token(SUB);
    let head = format!(
        "POST {PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: 50\r\nConnection: close\r\n\r\n{{\"Id\":\"call-1001\","
    );
    let mut stream = TcpStream::connect(env.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = tokio::time::Instant::now();
    let resp = read_response(stream).await;
    env.keep(&resp);
    assert_error(&resp, 408, "RequestTimeout", "partial body");
    assert!(started.elapsed() < Duration::from_secs(10), "408 came too late: {:?}", started.elapsed());
    assert!(env.sim.requests().is_empty());
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_without_the_route_is_forbidden() {
    let extra = r#"
[[route]]
name = "calls.list"
path = "/api/calls"
fields = ["StartDate", "EndDate"]

[[grant]]
name = "list-only"
claims = { sub = "svc-list" }
profiles = ["acme"]
routes = ["calls.list"]
"#;
    let env = match TestEnv::try_start(|s| s.extra = extra.into()).await {
        Ok(env) => env,
        Err(e) => panic!("a config with [[route]] (SPEC §3) does not load: {e}"),
    };
    let resp = env.update("svc-list", "call-1001", "x").await;
    assert_error(&resp, 403, "Forbidden", "grant without calls.update");
    assert!(env.sim.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_is_429_with_retry_after() {
    let extra = r#"
[[grant]]
name = "limited"
claims = { sub = "svc-limited" }
profiles = ["acme"]
routes = ["calls.update"]
rate_limit = "2/s"
"#;
    let env = match TestEnv::try_start(|s| s.extra = extra.into()).await {
        Ok(env) => env,
        Err(e) => panic!("a grant with rate_limit (SPEC §3) does not load: {e}"),
    };
    for _ in 0..2 {
        assert_eq!(env.update("svc-limited", "call-1001", "x").await.status, 200);
    }
    env.sim.clear();
    let resp = env.update("svc-limited", "call-1001", "x").await;
    assert_error(&resp, 429, "RateLimited", "third request");
    assert!(resp.header("retry-after").is_some(), "Retry-After missing");
    assert!(env.sim.requests().is_empty());
    // Rate limit comes before the query check.
    let q = env.send(&env.req(&env.token("svc-limited"), &good_body()).target("/api/calls/update?x")).await;
    assert_error(&q, 429, "RateLimited", "rate limit before query");
    // Other grants are not limited.
    assert_eq!(env.update(SUB, "call-1001", "x").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_and_edge_cases() {
    let env = TestEnv::start(|s| s.server = "max_body_bytes = 1024".into()).await;
    let sized = |n: usize| {
        let empty = serde_json::to_vec(&json!({"Id": "call-1001", "Notes": ""})).unwrap().len();
        serde_json::to_vec(&json!({"Id": "call-1001", "Notes": "n".repeat(n - empty)})).unwrap()
    };
    // Exactly max_body_bytes passes, one more byte does not (plain and chunked).
    for chunked in [None, Some(100)] {
        env.sim.clear();
        let mut req = env.req(&env.token(SUB), &json!({})).body(sized(1024));
        req.chunked = chunked;
        let resp = env.send(&req).await;
        assert_eq!(resp.status, 200, "1024 bytes, chunked {chunked:?}: {}", resp.text());
        assert_eq!(env.sim.requests().len(), 1);
        env.sim.clear();
        let mut req = env.req(&env.token(SUB), &json!({})).body(sized(1025));
        req.chunked = chunked;
        assert_error(&env.send(&req).await, 413, "PayloadTooLarge", "1025 bytes");
        assert!(env.sim.requests().is_empty());
    }

    // Tokens up to 16 KiB are accepted.
    let body = json!({"Id": "call-1001", "Notes": "big token"});
    let mut claims = env.claims(SUB);
    claims.insert("pad".into(), json!("p".repeat(11_000)));
    let big = env.sign_ed(&claims);
    assert!(big.len() > 14_000 && big.len() <= 16 * 1024, "{}", big.len());
    env.sim.clear();
    let resp = env.send(&env.req(&big, &body)).await;
    assert_eq!(resp.status, 200, "a {}-byte token: {}", big.len(), resp.text());
    // ... also with other headers bringing the head close to 32 KiB.
    let padded = env.req(&big, &body).header("X-Pad-1", &"a".repeat(7_000)).header("X-Pad-2", &"b".repeat(7_000));
    assert!(padded.to_bytes().len() > 29_000 && padded.to_bytes().len() < 32 * 1024);
    let resp = env.send(&padded).await;
    assert_eq!(resp.status, 200, "a ~30 KiB request head: {}", resp.text());
    // ... and a larger one is refused without reaching the upstream.
    claims.insert("pad".into(), json!("p".repeat(13_000)));
    let huge = env.sign_ed(&claims);
    assert!(huge.len() > 16 * 1024);
    env.sim.clear();
    let resp = env.send(&env.req(&huge, &body)).await;
    assert!(resp.status == 401 || resp.status == 431, "a {}-byte token: {}", huge.len(), resp.status);
    assert!(env.sim.requests().is_empty());

    let rows: Vec<(&str, Req, u16, &str)> = vec![
        ("OPTIONS", env.req(&env.token(SUB), &body).method("OPTIONS").body(""), 405, "MethodNotAllowed"),
        (
            "two Content-Type headers",
            env.req(&env.token(SUB), &body).header("Content-Type", "application/json"),
            415,
            "UnsupportedMediaType",
        ),
        (
            "iat in the future",
            {
                let mut c = env.claims(SUB);
                c.insert("iat".into(), json!(now() + 3600));
                env.req(&env.sign_ed(&c), &body)
            },
            401,
            "InvalidToken",
        ),
        (
            "HS256 signed with the wrong secret",
            {
                let key = jsonwebtoken::EncodingKey::from_secret(b"not-the-secret");
                let t = craft(
                    &json!({"alg": "HS256", "kid": HS_KID}),
                    &Value::Object(env.claims(SUB)),
                    &key,
                    Algorithm::HS256,
                );
                env.remember(&t);
                env.req(&t, &body)
            },
            401,
            "InvalidToken",
        ),
        (
            "unknown kid",
            {
                let t = env.craft(
                    &json!({"alg": "EdDSA", "kid": "nope"}),
                    &Value::Object(env.claims(SUB)),
                    Algorithm::EdDSA,
                );
                env.req(&t, &body)
            },
            401,
            "InvalidToken",
        ),
        ("Bearer without a space", env.req("x", &body).set("Authorization", "Bearer"), 401, "MissingToken"),
    ];
    for (name, req, status, code) in rows {
        env.sim.clear();
        assert_error(&env.send(&req).await, status, code, name);
        assert!(env.sim.requests().is_empty(), "{name}");
    }

    // Key-carrying headers on a valid token are ignored, never fetched.
    let mut c = Value::Object(env.claims(SUB));
    c["sub"] = json!(SUB);
    let t = env.craft(
        &json!({"alg": "EdDSA", "kid": ED_KID, "jku": "https://127.0.0.1:1/jwks.json", "x5u": "https://127.0.0.1:1/cert.pem", "x5c": ["MIIB"]}),
        &c,
        Algorithm::EdDSA,
    );
    env.sim.clear();
    let resp = env.send(&env.req(&t, &body)).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_lifetime_leeway_and_required_claims() {
    let env = TestEnv::start(|s| {
        s.auth = "leeway = \"30s\"\nmax_token_lifetime = \"1h\"\nrequired_claims = [\"sub\", \"jti\"]".into();
    })
    .await;
    let body = json!({"Id": "call-1001", "Notes": "lifetime"});
    let t = now();
    let with = |changes: Value| {
        let mut c = env.claims(SUB);
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                c.remove(k);
            } else {
                c.insert(k.clone(), v.clone());
            }
        }
        env.sign_ed(&c)
    };
    let cases = [
        ("exp just past, within leeway", with(json!({"exp": t - 10})), 200),
        ("iat a little ahead, within leeway", with(json!({"iat": t + 10})), 200),
        ("lifetime exactly 1h", with(json!({"iat": t, "exp": t + 3600})), 200),
        ("lifetime over 1h", with(json!({"iat": t, "exp": t + 7200})), 401),
        ("no iat with max_token_lifetime", with(json!({"iat": null})), 401),
        ("no jti (required)", with(json!({"jti": null})), 401),
        ("exp past the leeway", with(json!({"exp": t - 120})), 401),
        ("exp not a number", with(json!({"exp": "tomorrow"})), 401),
    ];
    for (name, token, status) in cases {
        env.sim.clear();
        let resp = env.send(&env.req(&token, &body)).await;
        if status == 200 {
            assert_eq!(resp.status, 200, "{name}: {}", resp.text());
            assert_eq!(env.sim.requests().len(), 1, "{name}");
        } else {
            assert_error(&resp, 401, "InvalidToken", name);
            assert!(env.sim.requests().is_empty(), "{name}");
        }
    }
    env.assert_no_leaks().await;
}
