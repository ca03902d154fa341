#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Every connection state has a deadline: silent sockets, idle keep-alive
//! and HTTP/2 connections, clients that do not read, and the connection cap.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

const HEAD_TIMEOUT: Duration = Duration::from_millis(300);

fn limits(setup: &mut Setup, extra: &str) {
    setup.server = format!("header_read_timeout = \"{}ms\"\n{extra}", HEAD_TIMEOUT.as_millis());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_socket_is_closed_after_the_head_timeout() {
    let env = TestEnv::start(|s| limits(s, "idle_timeout = \"60s\"")).await;
    let opened = Instant::now();
    let mut silent = TcpStream::connect(env.addr).await.unwrap();
    let got = until_closed(&mut silent).await;
    assert!(got.is_empty(), "nothing is answered to a client that sent nothing");
    assert!(opened.elapsed() >= HEAD_TIMEOUT, "closed before header_read_timeout");

    // A head that starts but never ends is cut the same way.
    let mut partial = TcpStream::connect(env.addr).await.unwrap();
    partial.write_all(b"POST /api/calls/update HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    until_closed(&mut partial).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sockets_at_the_cap_do_not_starve_a_normal_request() {
    let env = TestEnv::start(|s| limits(s, "max_connections = 4")).await;
    let mut silent = Vec::new();
    for _ in 0..6 {
        silent.push(TcpStream::connect(env.addr).await.unwrap());
    }
    // Queued behind the silent ones (in the backlog), served once they time out.
    let resp = env.update(SUB, "call-1001", "after the silent ones").await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    for s in &mut silent {
        until_closed(s).await;
    }
    env.assert_no_leaks().await;
}

/// `POST /api/calls/update` without `Connection: close`, and its answer (read exactly).
async fn keep_alive_request(env: &TestEnv, stream: &mut TcpStream) -> u16 {
    let token = env.token(SUB);
    let body = serde_json::to_vec(&json!({"Id": "call-1002", "Notes": "keep-alive"})).unwrap();
    let head = format!(
        "POST {PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body).await.unwrap();
    let raw = read_one_answer(stream).await;
    parse_response(raw, stream.local_addr().unwrap()).status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let env = TestEnv::start(|s| limits(s, "idle_timeout = \"400ms\"")).await;
    let mut stream = TcpStream::connect(env.addr).await.unwrap();
    assert_eq!(keep_alive_request(&env, &mut stream).await, 200);
    // The same connection serves a second request: keep-alive works ...
    // (the clock starts before it is sent: the gateway's idle time starts after its answer).
    let idle_since = Instant::now();
    assert_eq!(keep_alive_request(&env, &mut stream).await, 200);
    // ... and is closed once idle.
    let rest = until_closed(&mut stream).await;
    assert!(rest.is_empty());
    assert!(idle_since.elapsed() >= Duration::from_millis(400), "closed before idle_timeout");
}

async fn h2_client(
    env: &TestEnv,
    window: Option<u32>,
) -> (http2::SendRequest<Full<Bytes>>, tokio::task::JoinHandle<()>) {
    let stream = TcpStream::connect(env.addr).await.unwrap();
    let mut builder = http2::Builder::new(TokioExecutor::new());
    if let Some(w) = window {
        builder.initial_stream_window_size(w);
    }
    let (send, conn) = builder.handshake(TokioIo::new(stream)).await.unwrap();
    let conn = tokio::spawn(async move {
        let _ = conn.await;
    });
    (send, conn)
}

fn h2_update(env: &TestEnv, request_id: &str, notes: &str) -> hyper::Request<Full<Bytes>> {
    let body = serde_json::to_vec(&json!({"Id": "call-1003", "Notes": notes})).unwrap();
    hyper::Request::post(format!("http://{}{PATH}", env.addr))
        .header("authorization", format!("Bearer {}", env.token(SUB)))
        .header("content-type", "application/json")
        .header("x-request-id", request_id)
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_h2_connection_is_closed() {
    let env = TestEnv::start(|s| limits(s, "idle_timeout = \"400ms\"")).await;
    let (mut send, conn) = h2_client(&env, None).await;
    let resp = send.send_request(h2_update(&env, "h2-idle-1", "over h2")).await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.into_body().collect().await.unwrap();
    tokio::time::timeout(WAIT, conn).await.expect("the idle h2 connection stayed open").unwrap();
}

/// An h2 client whose bytes pass through the test: after its first answer the
/// test stops passing them, so the client never sees the gateway's GOAWAY and
/// never closes. Returns the gateway's side of the connection.
async fn h2_client_that_goes_deaf(env: &TestEnv) -> TcpStream {
    let mut socket = TcpStream::connect(env.addr).await.unwrap();
    let (client_io, mut relay_io) = tokio::io::duplex(64 * 1024);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let relay = tokio::spawn(async move {
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut relay_io, &mut socket) => panic!("the connection ended early"),
            _ = stopped => socket,
        }
    });
    let (mut send, conn) = http2::handshake(TokioExecutor::new(), TokioIo::new(client_io)).await.unwrap();
    tokio::spawn(conn);
    let resp = send.send_request(h2_update(env, "h2-deaf-1", "then deaf")).await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.into_body().collect().await.unwrap();
    stop.send(()).unwrap();
    relay.await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_h2_client_that_ignores_the_goaway_is_closed_after_its_grace() {
    // A second of idle time: the relay must stop before the GOAWAY comes.
    let env = TestEnv::start(|s| limits(s, "idle_timeout = \"1s\"")).await;
    let idle_since = Instant::now();
    let mut socket = h2_client_that_goes_deaf(&env).await;
    // The GOAWAY arrives, the client does nothing, and the gateway closes anyway.
    until_closed(&mut socket).await;
    assert!(idle_since.elapsed() >= Duration::from_secs(1), "closed before idle_timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h2_connection_silent_after_its_preface_is_closed() {
    let env = TestEnv::start(|s| limits(s, "idle_timeout = \"60s\"")).await;
    let mut stream = TcpStream::connect(env.addr).await.unwrap();
    // The client preface and an empty SETTINGS frame, then nothing.
    stream.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await.unwrap();
    stream.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await.unwrap();
    until_closed(&mut stream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h2_stream_whose_window_stays_shut_is_cut_off_with_its_audit_record() {
    let env = TestEnv::start(|s| limits(s, "write_timeout = \"400ms\"\nidle_timeout = \"60s\"")).await;
    let (mut send, conn) = h2_client(&env, Some(0)).await;
    let resp = send.send_request(h2_update(&env, "h2-shut-1", "window shut")).await.unwrap();
    assert_eq!(resp.status(), 200, "the head is not flow-controlled");
    let body = tokio::time::timeout(WAIT, resp.into_body().collect()).await.expect("the stream was never cut off");
    assert!(body.is_err(), "no body can arrive through a shut window");
    tokio::time::timeout(WAIT, conn).await.expect("the connection stayed open").unwrap();
    let record = env.wait_response_record("h2-shut-1").await;
    assert_eq!(record["status"], 200);
    assert_eq!(record["upstream_status"], 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http1_client_that_stops_reading_is_cut_off() {
    let env = TestEnv::start(|s| {
        limits(s, "write_timeout = \"400ms\"\nidle_timeout = \"60s\"\nmax_body_bytes = 4000000");
    })
    .await;
    let notes = "n".repeat(3_500_000);
    let req = env.req(&env.token(SUB), &json!({"Id": "call-1004", "Notes": notes})).set("X-Request-Id", "h1-slow-read");
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(env.addr).await.unwrap();
    stream.write_all(&req.to_bytes()).await.unwrap();
    // The answer (3.5 MB) cannot all fit in the socket buffers; nobody reads it.
    let record = env.wait_response_record("h1-slow-read").await;
    assert_eq!(record["status"], 200);
    let closed = "hsgate_connections_closed_total{reason=\"slow_read\"} 1";
    let deadline = Instant::now() + WAIT;
    while !env.metrics().await.contains(closed) {
        assert!(Instant::now() < deadline, "the slow reader was never cut off");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Reading now finds the connection cut: far less than the answer arrives.
    let got = until_closed(&mut stream).await;
    assert!(got.len() < notes.len(), "the whole answer arrived ({} bytes): the client was not cut off", got.len());
}
