#![allow(clippy::unwrap_used, clippy::expect_used)]
//! SPEC §5 (admin endpoints) and the graceful stop of §7.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use tokio::net::TcpStream;
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_ready_and_metrics() {
    let env = TestEnv::start(|_| {}).await;
    let h = get(env.admin_addr, "/healthz").await;
    assert_eq!(h.status, 200);
    let r = get(env.admin_addr, "/readyz").await;
    assert_eq!(r.status, 200);
    assert_eq!(get(env.admin_addr, "/nope").await.status, 404);

    let ok = env.update(SUB, "call-1001", "metrics").await;
    assert_eq!(ok.status, 200);
    let mut expired = env.claims(SUB);
    expired.insert("exp".into(), json!(now() - 3600));
    let t = env.sign_ed(&expired);
    let bad = env.send(&env.req(&t, &json!({"Id": "call-1001", "Notes": "x"}))).await;
    assert_eq!(bad.status, 401);
    let missing = env.send(&env.req("x", &json!({})).without("Authorization")).await;
    assert_eq!(missing.status, 401);
    let nf = env.send(&env.req(&env.token(SUB), &json!({})).target("/nope")).await;
    assert_eq!(nf.status, 404);
    let na = env.send(&env.req(&env.token(SUB), &json!({})).method("GET").body("")).await;
    assert_eq!(na.status, 405);

    let m = env.metrics().await;
    for needle in [
        "hsgate_requests_total{route=\"calls.update\",status=\"200\"} 1",
        "hsgate_requests_total{route=\"calls.update\",status=\"401\"} 2",
        "hsgate_requests_total{route=\"calls.update\",status=\"405\"} 1",
        "hsgate_requests_total{route=\"none\",status=\"404\"} 1",
        "hsgate_request_duration_seconds_bucket",
        "hsgate_upstream_requests_total{route=\"calls.update\",status=\"200\"} 1",
        "hsgate_upstream_duration_seconds_bucket",
        "hsgate_auth_failures_total{reason=",
        concat!("hsgate_build_info{version=\"", env!("CARGO_PKG_VERSION"), "\"}"),
    ] {
        assert!(m.contains(needle), "missing {needle} in\n{m}");
    }
    let auth_failures: f64 = m
        .lines()
        .filter(|l| l.starts_with("hsgate_auth_failures_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(auth_failures, 2.0, "two refused tokens:\n{m}");
    // Admin requests are not audited; each gateway request has exactly one response record.
    for resp in [&ok, &bad, &missing, &nf, &na] {
        env.wait_response_record(&resp.request_id()).await;
    }
    let responses = env.audit_records().into_iter().filter(|r| r["phase"] == "response").count();
    assert_eq!(responses, 5);
    env.assert_no_leaks().await;
}

async fn refused(addr: std::net::SocketAddr) -> bool {
    TcpStream::connect(addr).await.is_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_turns_503_while_draining_and_ports_close() {
    let mut env = TestEnv::start(|s| s.slow = Duration::from_secs(1)).await;
    assert_eq!(get(env.admin_addr, "/readyz").await.status, 200);

    // An in-flight request that must be allowed to finish.
    let bytes = env
        .req(&env.token(SUB), &json!({"Id": "fault-slow", "Notes": "in flight"}))
        .header("X-Request-Id", "inflight-1")
        .to_bytes();
    let addr = env.addr;
    let inflight = tokio::spawn(async move { exchange(addr, &bytes).await });
    wait_until("the upstream to receive the in-flight request", || !env.sim.requests().is_empty()).await;

    let running = env.running.take().unwrap();
    let (gateway, admin) = (running.addr, running.admin_addr);
    let stopping = tokio::spawn(running.shutdown());

    let deadline = Instant::now() + WAIT;
    loop {
        let r = get(admin, "/readyz").await;
        if r.status == 503 {
            break;
        }
        assert_eq!(r.status, 200);
        assert!(Instant::now() < deadline, "/readyz never turned 503 during shutdown");
    }
    assert_eq!(get(admin, "/healthz").await.status, 200, "healthz while draining");

    let resp = inflight.await.unwrap();
    assert_eq!(resp.status, 200, "in-flight request cut short: {}", resp.text());
    tokio::time::timeout(WAIT, stopping).await.expect("shutdown did not complete").unwrap();

    let deadline = Instant::now() + WAIT;
    while !(refused(gateway).await && refused(admin).await) {
        assert!(Instant::now() < deadline, "ports still open after shutdown");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let recs = env.audit_for("inflight-1");
    assert_eq!(recs.len(), 2, "audit flushed on shutdown: {recs:?}");
}
