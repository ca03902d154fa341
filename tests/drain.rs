#![allow(clippy::unwrap_used, clippy::expect_used)]
//! SPEC §7, shutdown (the path SIGTERM takes, run in process): `/readyz`
//! turns 503, the listener stops accepting, in-flight requests finish within
//! `shutdown_grace`, those still running after it are ended with their
//! response records written, and the audit is flushed.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Connects, sends `bytes`, reads until the server closes or resets; what arrived.
async fn send_raw(addr: SocketAddr, bytes: Vec<u8>) -> (Vec<u8>, SocketAddr) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let local = stream.local_addr().unwrap();
    if stream.write_all(&bytes).await.is_err() {
        return (Vec::new(), local);
    }
    (until_closed(&mut stream).await, local)
}

/// A slow request (`fault-slow`) sent from its own task.
fn spawn_slow(env: &TestEnv, rid: &str) -> JoinHandle<(Vec<u8>, SocketAddr)> {
    let bytes =
        env.req(&env.token(SUB), &json!({"Id": "fault-slow", "Notes": "x"})).header("X-Request-Id", rid).to_bytes();
    tokio::spawn(send_raw(env.addr, bytes))
}

fn records(env: &TestEnv, rid: &str, phase: &str) -> Vec<Value> {
    env.audit_for(rid).into_iter().filter(|r| r["phase"] == phase).collect()
}

/// Waits until the request is really in flight: its request record written
/// (the gate before upstream) and HostedSuite holding it.
async fn wait_in_flight(env: &TestEnv, rid: &str) {
    wait_until("the request record of the slow request", || !records(env, rid, "request").is_empty()).await;
    wait_until("HostedSuite to receive the slow request", || {
        env.sim.requests().iter().any(|r| r.headers.iter().any(|(k, v)| k == "x-request-id" && v == rid))
    })
    .await;
}

/// `GET path` on the admin port: the status, or `None` if it cannot be reached.
async fn try_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    stream.write_all(&Req::new("GET", path).to_bytes()).await.ok()?;
    let mut raw = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(WAIT, read).await.ok()?;
    let line = String::from_utf8_lossy(&raw).lines().next()?.to_owned();
    line.split(' ').nth(1)?.parse().ok()
}

/// The gateway port takes no new connection: refused, or closed without a byte of answer.
async fn refuses_new_connections(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr).await else { return true };
    let _ = stream.write_all(&Req::new("GET", "/readyz").to_bytes()).await;
    let mut buf = [0u8; 64];
    matches!(tokio::time::timeout(WAIT, stream.read(&mut buf)).await, Ok(Ok(0) | Err(_)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_flight_request_finishes_while_readyz_says_503() {
    // The slow answer is the window in which /readyz must already say 503.
    let slow = Duration::from_secs(2);
    let mut env = TestEnv::start(|s| {
        s.slow = slow;
        s.server = "shutdown_grace = \"10s\"".into();
    })
    .await;
    assert_eq!(try_status(env.admin_addr, "/readyz").await, Some(200));

    let inflight = spawn_slow(&env, "drain-slow-1");
    wait_in_flight(&env, "drain-slow-1").await;

    let running = env.running.take().unwrap();
    let admin = running.admin_addr;
    let stopping = tokio::spawn(running.shutdown());

    let deadline = Instant::now() + WAIT;
    loop {
        let status = try_status(admin, "/readyz").await;
        if status == Some(503) {
            break;
        }
        assert_eq!(status, Some(200), "/readyz during the drain");
        assert!(Instant::now() < deadline, "/readyz never turned 503 during shutdown");
    }
    assert!(!inflight.is_finished(), "the slow answer arrived before /readyz turned 503");
    assert!(!stopping.is_finished(), "shutdown returned before the in-flight request was answered");

    let (raw, local) = inflight.await.unwrap();
    let resp = parse_response(raw, local);
    env.keep(&resp);
    assert_eq!(resp.status, 200, "the in-flight request was cut short: {}", resp.text());
    assert_eq!(resp.json()["Id"], "fault-slow");
    tokio::time::timeout(WAIT, stopping).await.expect("shutdown did not return").unwrap();

    // Flushed by shutdown: exactly one record of each phase, read once, no waiting.
    let requests = records(&env, "drain-slow-1", "request");
    let responses = records(&env, "drain-slow-1", "response");
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(responses.len(), 1, "{responses:?}");
    assert_eq!(responses[0]["status"], 200);
    assert_eq!(responses[0]["upstream_status"], 200);
    assert!(responses[0]["error_code"].is_null(), "{}", responses[0]);
    let secrets = env.secrets();
    assert_no_secret("audit file", &env.audit_bytes(), &secrets);
    assert_no_secret("the answer", &resp.raw, &secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_slower_than_the_grace_is_ended_with_its_response_record() {
    let slow = Duration::from_secs(10);
    let mut env = TestEnv::start(|s| {
        s.slow = slow;
        s.server = "shutdown_grace = \"300ms\"".into();
    })
    .await;
    let inflight = spawn_slow(&env, "drain-cut-1");
    wait_in_flight(&env, "drain-cut-1").await;

    let running = env.running.take().unwrap();
    let shared = running.shared.clone();
    let began = Instant::now();
    tokio::time::timeout(WAIT, running.shutdown()).await.expect("shutdown did not return after the grace");
    let took = began.elapsed();
    assert!(took >= Duration::from_millis(300), "shutdown did not give the request its grace ({took:?})");
    assert!(took < slow, "shutdown waited for the slow answer ({took:?})");

    // Counted once, with the answer the caller got, under the route its path names.
    let metrics = shared.metrics.render();
    let counted: Vec<&str> = metrics.lines().filter(|l| l.starts_with("hsgate_requests_total{")).collect();
    assert_eq!(counted, ["hsgate_requests_total{route=\"calls.update\",status=\"503\"} 1"], "{metrics}");

    // The response record was written when the request was ended, and flushed.
    let responses = records(&env, "drain-cut-1", "response");
    assert_eq!(responses.len(), 1, "{responses:?}");
    let r = &responses[0];
    assert_eq!(r["status"], 503, "{r}");
    assert_eq!(r["error_code"], "ShuttingDown", "{r}");
    assert_eq!(r["call_id"], "fault-slow", "{r}");
    assert!(r["upstream_status"].is_null(), "no upstream answer arrived: {r}");
    assert_eq!(records(&env, "drain-cut-1", "request").len(), 1);

    // The caller gets the 503 the record says it got, never the slow answer.
    let (raw, local) = tokio::time::timeout(WAIT, inflight).await.expect("the caller was left hanging").unwrap();
    assert!(!raw.is_empty(), "the caller's connection was closed without its 503");
    let resp = parse_response(raw, local);
    env.keep(&resp);
    assert_error(&resp, 503, "ShuttingDown", "a request ended by shutdown");
    assert_eq!(resp.request_id(), "drain-cut-1");
    assert_no_secret("the answer", &resp.raw, &env.secrets());
    assert_no_secret("audit file", &env.audit_bytes(), &env.secrets());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_new_connection_is_taken_once_draining() {
    let slow = Duration::from_secs(3);
    let mut env = TestEnv::start(|s| {
        s.slow = slow;
        s.server = "shutdown_grace = \"10s\"\nidle_timeout = \"60s\"".into();
    })
    .await;
    let addr = env.addr;
    // An idle keep-alive connection, and a request in flight.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    let token = env.token(SUB);
    let body = serde_json::to_vec(&json!({"Id": "call-1002", "Notes": "keep-alive"})).unwrap();
    let head = format!(
        "POST {PATH} HTTP/1.1\r\nHost: hsgate.test\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nX-Request-Id: drain-idle-1\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    idle.write_all(head.as_bytes()).await.unwrap();
    idle.write_all(&body).await.unwrap();
    let first = read_one_answer(&mut idle).await;
    assert!(first.starts_with(b"HTTP/1.1 200"), "{:?}", String::from_utf8_lossy(&first));
    let inflight = spawn_slow(&env, "drain-gate-1");
    wait_in_flight(&env, "drain-gate-1").await;

    let running = env.running.take().unwrap();
    let stopping = tokio::spawn(running.shutdown());

    // The listener closes while the slow request is still running ...
    let deadline = Instant::now() + WAIT;
    while !refuses_new_connections(addr).await {
        assert!(Instant::now() < deadline, "new connections still accepted during the drain");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!inflight.is_finished(), "the listener closed only after the in-flight request ended");
    // ... the idle connection is closed, without waiting for the grace ...
    let rest = until_closed(&mut idle).await;
    assert!(rest.is_empty(), "an idle connection got more than its answer: {:?}", String::from_utf8_lossy(&rest));
    assert!(!inflight.is_finished(), "the idle connection was closed only after the in-flight request ended");
    // ... and the in-flight request still gets its answer.
    let (raw, local) = inflight.await.unwrap();
    let resp = parse_response(raw, local);
    assert_eq!(resp.status, 200, "{}", resp.text());
    tokio::time::timeout(WAIT, stopping).await.expect("shutdown did not return").unwrap();

    // After shutdown: still nothing is taken.
    assert!(refuses_new_connections(addr).await, "a connection was taken after shutdown");
    assert_eq!(records(&env, "drain-gate-1", "response").len(), 1);
}
