#![allow(clippy::unwrap_used, clippy::expect_used)]
//! HTTP/2 to HostedSuite, against a scripted host built on the `h2` crate's
//! server: concurrent requests share one connection and arrive whole, a
//! stream the host refused unseen goes again on a new connection, a
//! connection the host closes is replaced, and a request the host took is
//! never sent twice.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use hsgate::sim::TestPki;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

/// What the host does with the n-th stream it is sent (0-based, over all connections).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Act {
    /// Reads the request, waits, answers a small CallRecordInfo.
    Answer,
    /// Resets the stream with REFUSED_STREAM before reading it.
    Refuse,
    /// Reads the whole request, then closes the connection without an answer.
    ReadAndClose,
    /// Answers, then says GOAWAY (last stream: this one) and closes once idle.
    AnswerThenGoAway,
    /// Answers 200 with a body of [`HUGE`] bytes.
    AnswerHuge,
    /// Reads the request and never answers.
    Silent,
    /// Stops driving the connection: no frame is read or answered, PINGs included.
    Freeze,
    /// Reads the request, then says GOAWAY with an error (last stream: this
    /// one, so it was taken) and closes.
    ReadThenGoAwayError,
}

/// Larger than the gateway reads of an answer (4 MiB).
const HUGE: usize = 6 * 1024 * 1024;

/// One stream as the host saw it.
#[derive(Debug, Clone)]
struct Stream {
    connection: usize,
    request_id: String,
    content_length: Option<String>,
    /// Empty for a refused stream (never read).
    body: Vec<u8>,
}

#[derive(Default)]
struct Host {
    connections: AtomicUsize,
    streams: Mutex<Vec<Stream>>,
    /// Streams being answered now, and the most at once.
    in_flight: AtomicUsize,
    most_at_once: AtomicUsize,
}

impl Host {
    fn streams(&self) -> Vec<Stream> {
        self.streams.lock().unwrap().clone()
    }
}

/// A TLS host offering only `h2`, acting on its streams as `script` says.
async fn host(pki: &TestPki, delay: Duration, script: fn(usize) -> Act) -> (String, Arc<Host>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://localhost:{}", listener.local_addr().unwrap().port());
    let mut tls = (*pki.server_config().unwrap()).clone();
    tls.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let seen = Arc::new(Host::default());
    let state = seen.clone();
    let counter = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, state, counter) = (acceptor.clone(), state.clone(), counter.clone());
            let connection = state.connections.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let Ok(mut conn) = h2::server::handshake(tls).await else { return };
                let (close, go_away) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
                loop {
                    let next = tokio::select! {
                        next = conn.accept() => next,
                        () = close.notified() => return,
                        () = go_away.notified() => {
                            conn.abrupt_shutdown(h2::Reason::INTERNAL_ERROR);
                            continue;
                        }
                    };
                    let Some(Ok((req, mut respond))) = next else { return };
                    let n = counter.fetch_add(1, Ordering::SeqCst);
                    let act = script(n);
                    let request_id =
                        req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                    let content_length =
                        req.headers().get("content-length").and_then(|v| v.to_str().ok()).map(str::to_owned);
                    if act == Act::Refuse {
                        respond.send_reset(h2::Reason::REFUSED_STREAM);
                        state.streams.lock().unwrap().push(Stream {
                            connection,
                            request_id,
                            content_length,
                            body: vec![],
                        });
                        continue;
                    }
                    if act == Act::Freeze {
                        state.streams.lock().unwrap().push(Stream {
                            connection,
                            request_id,
                            content_length,
                            body: vec![],
                        });
                        return std::future::pending().await;
                    }
                    if act == Act::AnswerThenGoAway {
                        conn.graceful_shutdown();
                    }
                    let (state, close, go_away) = (state.clone(), close.clone(), go_away.clone());
                    tokio::spawn(async move {
                        let mut body = req.into_body();
                        let mut bytes = Vec::new();
                        while let Some(chunk) = body.data().await {
                            let chunk = chunk.unwrap();
                            let _ = body.flow_control().release_capacity(chunk.len());
                            bytes.extend_from_slice(&chunk);
                        }
                        state.streams.lock().unwrap().push(Stream {
                            connection,
                            request_id,
                            content_length,
                            body: bytes,
                        });
                        match act {
                            Act::ReadAndClose => return close.notify_one(),
                            Act::ReadThenGoAwayError => return go_away.notify_one(),
                            // Held open until the gateway gives up on it.
                            Act::Silent => return std::future::pending().await,
                            Act::Answer | Act::Refuse | Act::AnswerThenGoAway | Act::AnswerHuge | Act::Freeze => {}
                        }
                        let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        state.most_at_once.fetch_max(now, Ordering::SeqCst);
                        tokio::time::sleep(delay).await;
                        state.in_flight.fetch_sub(1, Ordering::SeqCst);
                        let head =
                            hyper::Response::builder().header("content-type", "application/json").body(()).unwrap();
                        let mut send = respond.send_response(head, false).unwrap();
                        if act == Act::AnswerHuge {
                            // Queued whole; the connection sends it as the gateway's windows allow.
                            let _ = send.send_data(Bytes::from(vec![b' '; HUGE]), true);
                            return;
                        }
                        let _ = send.send_data(Bytes::from_static(br#"{"Id":"call-1001"}"#), true);
                    });
                }
            });
        }
    });
    (url, seen)
}

/// A gateway (with `upstream_lines` in its `[upstream]`) in front of a
/// scripted host that answers at once.
async fn scripted(script: fn(usize) -> Act, upstream_lines: &str) -> (TestEnv, Arc<Host>) {
    let pki = TestPki::generate().unwrap();
    let (url, host) = host(&pki, Duration::ZERO, script).await;
    (env_with(pki, url, upstream_lines).await, host)
}

async fn env_for(pki: TestPki, url: String) -> TestEnv {
    env_with(pki, url, "").await
}

async fn env_with(pki: TestPki, url: String, upstream_lines: &str) -> TestEnv {
    let upstream_lines = upstream_lines.to_owned();
    TestEnv::start(move |s| {
        s.pki = Some(pki);
        s.upstream_url = Some(url);
        s.upstream = upstream_lines;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_share_one_connection_and_arrive_whole() {
    let pki = TestPki::generate().unwrap();
    let (url, host) = host(&pki, Duration::from_millis(150), |_| Act::Answer).await;
    let env = Arc::new(env_for(pki, url).await);
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let env = env.clone();
            tokio::spawn(async move {
                let resp = env.update(SUB, "call-1001", &format!("note {i}")).await;
                (resp.status, resp.request_id(), i)
            })
        })
        .collect();
    let mut sent = Vec::new();
    for t in tasks {
        let (status, id, i) = t.await.unwrap();
        assert_eq!(status, 200);
        sent.push((id, i));
    }
    assert_eq!(host.connections.load(Ordering::SeqCst), 1, "one multiplexed connection");
    assert!(host.most_at_once.load(Ordering::SeqCst) >= 2, "the requests were on it at once");
    let streams = host.streams();
    assert_eq!(streams.len(), 6);
    for (id, i) in sent {
        let stream = streams.iter().find(|s| s.request_id == id).expect("the host saw the request's id");
        let body: Value = serde_json::from_slice(&stream.body).expect("the whole JSON body");
        assert_eq!(body["Id"], "call-1001");
        assert_eq!(body["Notes"], format!("note {i}"));
        assert_eq!(body["CustomerName"], ACME_CUSTOMER);
        assert_eq!(body["UserName"], ACME_USER);
        assert_eq!(body["Password"], env.acme_password.as_str());
        assert_eq!(stream.content_length.as_deref(), Some(stream.body.len().to_string().as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_the_host_refused_unseen_goes_again_on_a_new_connection() {
    let (env, host) = scripted(|n| if n == 0 { Act::Refuse } else { Act::Answer }, "").await;
    let resp = env.update(SUB, "call-1001", "refused once").await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let streams = host.streams();
    assert_eq!(streams.len(), 2, "refused, then sent again: {streams:?}");
    assert!(streams.iter().all(|s| s.request_id == resp.request_id()));
    assert_eq!((streams[0].connection, streams[1].connection), (0, 1), "again on a new connection");
    let body: Value = serde_json::from_slice(&streams[1].body).unwrap();
    assert_eq!(body["Notes"], "refused once");
    env.wait_response_record(&resp.request_id()).await;
    let records = env.audit_for(&resp.request_id());
    let phases: Vec<&str> = records.iter().filter_map(|r| r["phase"].as_str()).collect();
    assert_eq!(phases, ["request", "response"], "one request record for the one request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_the_host_closes_is_replaced_and_no_request_fails() {
    let (env, host) = scripted(|_| Act::AnswerThenGoAway, "").await;
    for i in 0..4 {
        let resp = env.update(SUB, "call-1001", &format!("after goaway {i}")).await;
        assert_eq!(resp.status, 200, "request {i}: {}", resp.text());
    }
    let streams = host.streams();
    let answered: Vec<&Stream> = streams.iter().filter(|s| !s.body.is_empty()).collect();
    assert_eq!(answered.len(), 4, "each request read once: {streams:?}");
    assert!(host.connections.load(Ordering::SeqCst) >= 2, "closed connections were replaced");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_the_host_took_is_never_sent_twice() {
    let (env, host) = scripted(|_| Act::ReadAndClose, "").await;
    let resp = env.update(SUB, "call-1001", "taken, then the connection dropped").await;
    assert_error(&resp, 502, "UpstreamUnavailable", "connection closed after the host read the request");
    let streams = host.streams();
    assert_eq!(streams.len(), 1, "sent once, not again: {streams:?}");
    let next = json!({"Id": "call-1001", "Notes": "next"});
    let resp = env.post(&env.token(SUB), &next).await;
    assert_eq!(resp.status, 502, "the next request gets a new connection (and this host drops it too)");
    assert_eq!(host.connections.load(Ordering::SeqCst), 2);
}

/// The first request, which `script` answers badly, fails with `status`
/// and `code`; the next one is served on the same connection. The host.
async fn fails_then_the_connection_serves_on(
    script: fn(usize) -> Act,
    upstream_lines: &str,
    (status, code, what): (u16, &str, &str),
) -> Arc<Host> {
    let (env, host) = scripted(script, upstream_lines).await;
    assert_error(&env.update(SUB, "call-1001", what).await, status, code, what);
    let resp = env.update(SUB, "call-1001", "next").await;
    assert_eq!(resp.status, 200, "after {what}: {}", resp.text());
    assert_eq!(host.connections.load(Ordering::SeqCst), 1, "{what}: the stream was reset, not the connection");
    host
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_over_the_bound_is_refused_and_the_connection_serves_on() {
    let script = |n| if n == 0 { Act::AnswerHuge } else { Act::Answer };
    fails_then_the_connection_serves_on(script, "", (502, "UpstreamBadResponse", "an answer over 4 MiB")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_not_given_in_time_is_504_and_the_connection_serves_on() {
    let script = |n| if n == 0 { Act::Silent } else { Act::Answer };
    let host = fails_then_the_connection_serves_on(
        script,
        "timeout = \"300ms\"",
        (504, "UpstreamTimeout", "an answer not given in time"),
    )
    .await;
    assert_eq!(host.streams().len(), 2, "the timed-out request was not sent again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_taken_before_a_goaway_with_an_error_is_not_sent_again() {
    let (env, host) = scripted(|_| Act::ReadThenGoAwayError, "").await;
    let resp = env.update(SUB, "call-1001", "taken, then GOAWAY(INTERNAL_ERROR)").await;
    assert_error(&resp, 502, "UpstreamUnavailable", "the host took the request, then went away");
    assert_eq!(host.streams().len(), 1, "sent once: {:?}", host.streams());
    assert_eq!(host.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_stops_answering_even_pings_is_replaced_after_a_timeout() {
    let (env, host) = scripted(
        |n| if n == 0 { Act::Freeze } else { Act::Answer },
        "timeout = \"300ms\"\nconnect_timeout = \"300ms\"",
    )
    .await;
    let resp = env.update(SUB, "call-1001", "into the void").await;
    assert_error(&resp, 504, "UpstreamTimeout", "the connection went dead");
    // Until the unanswered PING retires it, requests still go to the dead
    // connection (504); then a new one serves them.
    let mut statuses = Vec::new();
    loop {
        let status = env.update(SUB, "call-1001", "again").await.status;
        statuses.push(status);
        if status == 200 || statuses.len() == 10 {
            break;
        }
        assert_eq!(status, 504);
    }
    assert_eq!(statuses.last(), Some(&200), "{statuses:?}");
    assert_eq!(host.connections.load(Ordering::SeqCst), 2, "the dead connection was replaced");
}

/// Writes one HTTP/2 frame (RFC 9113 §4.1).
async fn frame<W: AsyncWriteExt + Unpin>(out: &mut W, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
    let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
    let mut bytes = vec![len[1], len[2], len[3], kind, flags];
    bytes.extend_from_slice(&stream.to_be_bytes());
    bytes.extend_from_slice(payload);
    out.write_all(&bytes).await.unwrap();
    out.flush().await.unwrap();
}

/// A TLS host written frame by frame, so that it can say what the `h2`
/// crate's server does not: on each connection it answers the first stream,
/// and on any later one says GOAWAY with last stream 1 (NO_ERROR) and
/// closes, so the later stream was provably not processed (RFC 9113 §6.8).
/// What it saw: (connection, stream) of every HEADERS frame.
async fn goaway_host(pki: &TestPki) -> (String, Arc<Mutex<Vec<(usize, u32)>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://localhost:{}", listener.local_addr().unwrap().port());
    let mut tls = (*pki.server_config().unwrap()).clone();
    tls.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let state = seen.clone();
    tokio::spawn(async move {
        let mut connection = 0;
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, state) = (acceptor.clone(), state.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut preface = [0u8; 24];
                tls.read_exact(&mut preface).await.unwrap();
                assert_eq!(&preface, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
                frame(&mut tls, 0x4, 0, 0, &[]).await; // SETTINGS, all defaults
                let mut answered = false;
                loop {
                    let mut head = [0u8; 9];
                    if tls.read_exact(&mut head).await.is_err() {
                        return;
                    }
                    let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
                    let (kind, flags) = (head[3], head[4]);
                    let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
                    let mut payload = vec![0u8; len];
                    tls.read_exact(&mut payload).await.unwrap();
                    match kind {
                        0x4 if flags & 0x1 == 0 => frame(&mut tls, 0x4, 0x1, 0, &[]).await, // SETTINGS ACK
                        0x6 if flags & 0x1 == 0 => frame(&mut tls, 0x6, 0x1, 0, &payload).await, // PING ACK
                        0x1 => {
                            state.lock().unwrap().push((connection, stream));
                            if answered {
                                let mut go_away = 1u32.to_be_bytes().to_vec();
                                go_away.extend_from_slice(&0u32.to_be_bytes()); // NO_ERROR
                                frame(&mut tls, 0x7, 0, 0, &go_away).await;
                                let _ = tls.shutdown().await;
                                return;
                            }
                        }
                        // The first stream's body is whole: `:status: 200`
                        // (static index 8) and `content-type` (static name 31,
                        // a literal value), then the body.
                        0x0 if flags & 0x1 == 0x1 && !answered => {
                            answered = true;
                            let mut block = vec![0x88, 0x0f, 0x10, 16];
                            block.extend_from_slice(b"application/json");
                            frame(&mut tls, 0x1, 0x4, stream, &block).await;
                            frame(&mut tls, 0x0, 0x1, stream, br#"{"Id":"call-1001"}"#).await;
                        }
                        _ => {}
                    }
                }
            });
            connection += 1;
        }
    });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_above_a_goaways_last_stream_goes_again_on_a_new_connection() {
    let pki = TestPki::generate().unwrap();
    let (url, seen) = goaway_host(&pki).await;
    let env = env_for(pki, url).await;
    for notes in ["first, answered", "second, above the GOAWAY's last stream"] {
        let resp = env.update(SUB, "call-1001", notes).await;
        assert_eq!(resp.status, 200, "{notes}: {}", resp.text());
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [(0, 1), (0, 3), (1, 1)],
        "stream 3 refused by GOAWAY, sent again as stream 1 of a new connection"
    );
}
