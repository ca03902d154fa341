#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The verified-token cache never outlives what it remembers: a cached token
//! expires on time, and a key removed by a reload verifies nothing more.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

fn counter(metrics: &str, name: &str) -> u64 {
    metrics.lines().find_map(|l| l.strip_prefix(&format!("{name} "))).map_or(0, |v| v.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_token_expires_on_time() {
    let env = TestEnv::start(|s| s.auth = "leeway = \"0s\"".into()).await;
    let mut claims = env.claims(SUB);
    let exp = now() + 2;
    claims.insert("exp".into(), json!(exp));
    let token = env.sign_ed(&claims);
    let body = json!({"Id": "call-1001", "Notes": "cached"});
    assert_eq!(env.post(&token, &body).await.status, 200);
    assert_eq!(env.post(&token, &body).await.status, 200);
    let m = env.metrics().await;
    assert_eq!((counter(&m, "hsgate_token_cache_misses_total"), counter(&m, "hsgate_token_cache_hits_total")), (1, 1));

    // Once `exp` has passed (leeway 0), the cached token is refused like any other.
    let wait = (exp + 1).saturating_sub(now());
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let resp = env.post(&token, &body).await;
    assert_error(&resp, 401, "InvalidToken", "expired while cached");
    assert!(resp.json()["ResponseStatus"]["Message"].as_str().unwrap().contains("expired"));
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_removed_by_a_reload_verifies_no_cached_token() {
    let env = TestEnv::start(|_| {}).await;
    let token = env.sign_hs(&env.claims(SUB));
    let body = json!({"Id": "call-1001", "Notes": "hmac"});
    assert_eq!(env.post(&token, &body).await.status, 200);
    assert_eq!(env.post(&token, &body).await.status, 200, "cached");

    let without_hmac = env.config_text.replace("[[auth.hmac]]\nkid = \"hs1\"\nsecret_file = \"hmac.secret\"\n", "");
    assert_ne!(without_hmac, env.config_text);
    std::fs::write(&env.config_path, without_hmac).unwrap();
    assert!(env.reload().await);
    assert_error(&env.post(&token, &body).await, 401, "InvalidToken", "the HMAC key is gone");
    // Tokens of the keys that stayed still verify.
    assert_eq!(env.update(SUB, "call-1001", "ed25519").await.status, 200);
}
