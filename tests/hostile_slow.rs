#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Slow and numerous clients (README, Connections): a head or a body
//! drip-fed byte by byte is cut by its deadline however steadily the bytes
//! come, and a flood of connections beyond `server.max_connections` waits in
//! the backlog while idle keep-alive connections make room. Silent sockets,
//! idle connections, clients that stop reading and shut HTTP/2 windows are in
//! `connections.rs`.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::Instant;

const HEAD_TIMEOUT: Duration = Duration::from_millis(400);
/// One byte per tick: a 500-byte head takes 10 s, far beyond every deadline here.
const DRIP: Duration = Duration::from_millis(20);

/// Writes `bytes` one at a time, a `DRIP` apart, until done or the gateway
/// hangs up; returns how many were written.
fn drip(mut w: OwnedWriteHalf, bytes: Vec<u8>) -> JoinHandle<usize> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(DRIP);
        for (i, b) in bytes.iter().enumerate() {
            tick.tick().await;
            if w.write_all(&[*b]).await.is_err() {
                return i;
            }
        }
        bytes.len()
    })
}

fn update_head(token: &str, lines: &str) -> String {
    format!(
        "POST {PATH} HTTP/1.1\r\nHost: hsgate.test\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n{lines}\r\n"
    )
}

fn closed_by(metrics: &str, reason: &str) -> u64 {
    let series = format!("hsgate_connections_closed_total{{reason=\"{reason}\"}} ");
    metrics.lines().find_map(|l| l.strip_prefix(&series)).map_or(0, |v| v.trim().parse().unwrap())
}

/// A normal request is served, and it is all the upstream saw so far.
async fn still_serves(env: &TestEnv, after: &str) {
    let notes = format!("after {after}");
    let resp = env.update(SUB, "call-1001", &notes).await;
    assert_eq!(resp.status, 200, "{after}: a normal request afterwards: {}", resp.text());
    let seen = env.sim.requests();
    let sent: Vec<Value> = seen.iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect();
    assert_eq!(sent.len(), 1, "{after}: only the normal request reached the upstream");
    assert_eq!(sent[0]["Notes"], notes.as_str());
    env.sim.clear();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_head_drip_fed_byte_by_byte_is_closed_at_the_head_timeout() {
    let env = TestEnv::start(|s| s.server = format!("header_read_timeout = \"{}ms\"", HEAD_TIMEOUT.as_millis())).await;
    let head = update_head(&env.token(SUB), "Content-Length: 2\r\n") + "{}";
    // Before connecting: the gateway's clock starts at its accept, which can
    // come before `connect` returns here.
    let opened = Instant::now();
    let (mut r, w) = TcpStream::connect(env.addr).await.unwrap().into_split();
    let writer = drip(w, head.clone().into_bytes());
    let got = until_closed(&mut r).await;
    let held = opened.elapsed();
    assert!(got.is_empty(), "a head that never completed was answered: {:?}", String::from_utf8_lossy(&got));
    assert!(held >= HEAD_TIMEOUT, "closed before header_read_timeout ({held:?})");
    let written = writer.await.unwrap();
    assert!(written < head.len(), "the whole head got through ({written} bytes over {held:?})");
    assert_eq!(closed_by(&env.metrics().await, "no_request"), 1);
    assert!(env.audit_records().is_empty(), "no request was formed");
    still_serves(&env, "a drip-fed first head").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_head_drip_fed_on_a_kept_alive_connection_is_closed_at_the_head_timeout() {
    let env = TestEnv::start(|s| {
        s.server = format!("header_read_timeout = \"{}ms\"\nidle_timeout = \"60s\"", HEAD_TIMEOUT.as_millis());
    })
    .await;
    let token = env.token(SUB);
    let body = serde_json::to_vec(&json!({"Id": "call-1001", "Notes": "first"})).unwrap();
    let mut stream = TcpStream::connect(env.addr).await.unwrap();
    stream.write_all(update_head(&token, &format!("Content-Length: {}\r\n", body.len())).as_bytes()).await.unwrap();
    stream.write_all(&body).await.unwrap();
    let first = parse_response(read_one_answer(&mut stream).await, stream.local_addr().unwrap());
    assert_eq!(first.status, 200, "{}", first.text());
    env.sim.clear();
    // Idle (idle_timeout is 60 s); now the next head comes a byte at a time.
    let (mut r, w) = stream.into_split();
    let head = update_head(&token, "Content-Length: 2\r\n") + "{}";
    let started = Instant::now();
    let writer = drip(w, head.clone().into_bytes());
    let got = until_closed(&mut r).await;
    let held = started.elapsed();
    assert!(got.is_empty(), "answered: {:?}", String::from_utf8_lossy(&got));
    assert!(held >= HEAD_TIMEOUT, "closed before header_read_timeout ({held:?})");
    assert!(writer.await.unwrap() < head.len(), "the whole head got through");
    assert_eq!(closed_by(&env.metrics().await, "slow_head"), 1);
    still_serves(&env, "a drip-fed later head").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_drip_fed_past_the_request_timeout_is_408_and_never_forwarded() {
    let env = TestEnv::start(|s| s.server = "request_timeout = \"1s\"".into()).await;
    let token = env.token(SUB);
    let body = serde_json::to_vec(&json!({"Id": "call-1001", "Notes": "d".repeat(500)})).unwrap();
    let mut one_byte_chunks = Vec::new();
    for b in &body {
        one_byte_chunks.extend_from_slice(b"1\r\n");
        one_byte_chunks.extend([*b, b'\r', b'\n']);
    }
    one_byte_chunks.extend_from_slice(b"0\r\n\r\n");
    let cases = [
        ("Content-Length", format!("Content-Length: {}\r\nX-Request-Id: drip-length\r\n", body.len()), body.clone()),
        ("chunked", "Transfer-Encoding: chunked\r\nX-Request-Id: drip-chunked\r\n".to_owned(), one_byte_chunks),
    ];
    for (name, lines, payload) in cases {
        let mut stream = TcpStream::connect(env.addr).await.unwrap();
        // Before the head is sent: the request's deadline starts when the gateway has it.
        let started = Instant::now();
        stream.write_all(update_head(&token, &lines).as_bytes()).await.unwrap();
        let local = stream.local_addr().unwrap();
        let (mut r, w) = stream.into_split();
        let writer = drip(w, payload.clone());
        // Read while the body still drips in, so the answer is taken before the close.
        let resp = parse_response(until_closed(&mut r).await, local);
        let answered = started.elapsed();
        env.keep(&resp);
        assert_error(&resp, 408, "RequestTimeout", name);
        assert!(answered >= Duration::from_secs(1), "{name}: 408 before request_timeout ({answered:?})");
        writer.abort();
        let written = writer.await.unwrap_or(0);
        assert!(written < payload.len(), "{name}: the whole body got through");
        let record = env.wait_response_record(&resp.request_id()).await;
        assert_eq!(record["status"], 408, "{name}");
        assert!(env.sim.requests().is_empty(), "{name}: reached the upstream");
    }
    still_serves(&env, "drip-fed bodies").await;
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_at_the_cap_make_room_for_a_new_client() {
    // Deadlines far away: only eviction can make room.
    let env = TestEnv::start(|s| {
        s.server = "max_connections = 4\nidle_timeout = \"60s\"\nheader_read_timeout = \"30s\"".into();
    })
    .await;
    let token = env.token(SUB);
    let body = serde_json::to_vec(&json!({"Id": "call-1001", "Notes": "kept alive"})).unwrap();
    // Every slot taken, then each connection served once and left idle.
    let mut kept = Vec::new();
    for _ in 0..4 {
        kept.push(TcpStream::connect(env.addr).await.unwrap());
    }
    for stream in &mut kept {
        stream.write_all(update_head(&token, &format!("Content-Length: {}\r\n", body.len())).as_bytes()).await.unwrap();
        stream.write_all(&body).await.unwrap();
        let resp = parse_response(read_one_answer(stream).await, stream.local_addr().unwrap());
        assert_eq!(resp.status, 200, "{}", resp.text());
    }
    env.sim.clear();
    let started = Instant::now();
    let resp = env.update(SUB, "call-1001", "a fifth client").await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(started.elapsed() < Duration::from_secs(10), "served only after {:?}", started.elapsed());
    assert!(closed_by(&env.metrics().await, "evicted") >= 1, "no idle connection was closed to make room");
    assert_eq!(env.sim.requests().len(), 1);
    env.sim.clear();
    still_serves(&env, "eviction at the cap").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_beyond_the_cap_waits_in_the_backlog_and_is_served() {
    let env = TestEnv::start(|s| s.server = "max_connections = 4".into()).await;
    let token = env.token(SUB);
    let flood: Vec<_> = (0..40)
        .map(|i| {
            let req = env.req(&token, &json!({"Id": "call-1001", "Notes": format!("flood {i}")}));
            let addr = env.addr;
            tokio::spawn(async move { exchange(addr, &req.to_bytes()).await })
        })
        .collect();
    for (i, client) in flood.into_iter().enumerate() {
        let resp = client.await.unwrap();
        assert_eq!(resp.status, 200, "client {i}: {}", resp.text());
        env.keep(&resp);
    }
    assert_eq!(env.sim.requests().len(), 40, "every client of the flood was served once");
    env.sim.clear();
    still_serves(&env, "a connection flood").await;
    env.assert_no_leaks().await;
}
