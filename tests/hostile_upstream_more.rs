#![allow(clippy::unwrap_used, clippy::expect_used)]
//! More hostile upstreams: answers too big to read to the end, bodies and
//! heads that never finish, a head of 1,000 fields, gzip nobody asked for,
//! 1xx and 101, impossible status lines, an answer nobody asked for on a
//! pooled keep-alive connection, and an HTTP/2-only host. A scripted raw TLS
//! peer (certificates made at test time) writes each answer byte for byte,
//! chosen by the request's `Id`, and reports what became of its connection.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use hsgate::sim::TestPki;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;
use tokio_rustls::server::TlsStream;

/// Size the 100 MB answer announces.
const HUGE: u64 = 100 * 1024 * 1024;
/// The gateway's answer-size bound (README: 4 MiB).
const ANSWER_BOUND: u64 = 4 * 1024 * 1024;
/// The upstream timeout of these tests.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(1);
/// Delay between two drip-fed bytes.
const DRIP: Duration = Duration::from_millis(100);

/// What became of a connection the upstream was writing to.
#[derive(Debug)]
enum Event {
    /// A streamed answer ended: bytes of body written, and whether a write failed (the peer hung up).
    Streamed { written: u64, failed: bool },
    /// The gateway closed a connection; `last` is the `Id` of the last request it carried.
    Closed { last: String },
}

/// What the scripted upstream saw.
struct Peer {
    url: String,
    /// Request bodies, in arrival order.
    bodies: Mutex<Vec<Value>>,
    /// Request heads, in arrival order.
    heads: Mutex<Vec<String>>,
    connections: AtomicUsize,
    /// Lets a held connection (`stale-later`) write its unsolicited answer.
    go: Notify,
    events: mpsc::UnboundedSender<Event>,
}

/// A raw HTTP/1.1 response.
fn raw(status_line: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status_line}\r\nContent-Type: application/json\r\n{headers}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// CRC-32 (IEEE), as gzip's trailer has it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A real gzip member holding `data` in one stored (uncompressed) deflate block.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let len = u16::try_from(data.len()).unwrap();
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 0x01];
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_le_bytes());
    out
}

/// Reads one request (head, then Content-Length bytes); `None` once the peer closed.
async fn read_request(tls: &mut TlsStream<TcpStream>, buf: &mut Vec<u8>) -> Option<(String, Vec<u8>)> {
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let len: usize = head
                .to_ascii_lowercase()
                .lines()
                .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                let body = buf[end + 4..end + 4 + len].to_vec();
                buf.drain(..end + 4 + len);
                return Some((head, body));
            }
        }
        match tls.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Writes `body_chunk` until `total` bytes (or for ever with `None`), after `head`.
async fn stream(tls: &mut TlsStream<TcpStream>, head: &[u8], chunk: &[u8], total: Option<u64>) -> Event {
    let mut written = 0u64;
    if tls.write_all(head).await.is_err() {
        return Event::Streamed { written, failed: true };
    }
    while total.is_none_or(|t| written < t) {
        if tls.write_all(chunk).await.is_err() {
            return Event::Streamed { written, failed: true };
        }
        written += chunk.len() as u64;
    }
    Event::Streamed { written, failed: false }
}

/// Writes `head` at once, then `drip` one byte per [`DRIP`] until a write fails.
async fn drip(tls: &mut TlsStream<TcpStream>, head: &[u8], drip: &[u8]) -> Event {
    let mut written = 0u64;
    if tls.write_all(head).await.is_ok() {
        for b in drip.iter().cycle() {
            tokio::time::sleep(DRIP).await;
            if tls.write_all(&[*b]).await.is_err() || tls.flush().await.is_err() {
                break;
            }
            written += 1;
        }
    }
    Event::Streamed { written, failed: true }
}

async fn send(tls: &mut TlsStream<TcpStream>, bytes: Vec<u8>) {
    let _ = tls.write_all(&bytes).await;
    let _ = tls.flush().await;
}

/// What the connection does after an answer.
enum Then {
    KeepAlive,
    /// Say nothing more; wait for the gateway to hang up.
    Hold,
}

/// The answer to a request whose body has this `Id`. `password` is the one the gateway injected.
async fn act(peer: &Peer, tls: &mut TlsStream<TcpStream>, id: &str, password: &str) -> Then {
    let echo = serde_json::to_vec(&json!({"Id": id, "Notes": format!("echo: {password}")})).unwrap();
    match id {
        "huge" => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {HUGE}\r\n\r\n{{\"Notes\":\""
            );
            let event = stream(tls, head.as_bytes(), &[b'x'; 65536], Some(HUGE)).await;
            let _ = peer.events.send(event);
            Then::Hold
        }
        "endless-chunked" => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
            let mut chunk = b"10000\r\n".to_vec();
            chunk.extend_from_slice(&[b' '; 0x10000]);
            chunk.extend_from_slice(b"\r\n");
            let event = stream(tls, head.as_bytes(), &chunk, None).await;
            let _ = peer.events.send(event);
            Then::Hold
        }
        "drip-head" => {
            let event = drip(tls, b"HTTP/1.1 200 OK\r\n", b"X-Drip: aaaaaaaaaaaaaaaa\r\n").await;
            let _ = peer.events.send(event);
            Then::Hold
        }
        "drip-body" => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n";
            let event = drip(tls, head.as_bytes(), b"{\"Notes\":\"aaaaaaaaaaaaaaaa").await;
            let _ = peer.events.send(event);
            Then::Hold
        }
        "many-headers" => {
            let fields: String = (0..1000).map(|i| format!("X-Field-{i}: v{i}\r\n")).collect();
            send(tls, raw("200 OK", &fields, &echo)).await;
            Then::KeepAlive
        }
        "gzip" => {
            send(tls, raw("200 OK", "Content-Encoding: gzip\r\n", &gzip_stored(&echo))).await;
            Then::KeepAlive
        }
        "gzip-label-only" => {
            send(tls, raw("200 OK", "Content-Encoding: gzip\r\n", br#"{"Id":"gzip-label-only"}"#)).await;
            Then::KeepAlive
        }
        "informational-then-200" => {
            let mut out =
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n".to_vec();
            out.extend_from_slice(&raw("200 OK", "", br#"{"Id":"informational-then-200"}"#));
            send(tls, out).await;
            Then::KeepAlive
        }
        "informational-only" => {
            send(tls, b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n".to_vec()).await;
            let _ = peer.events.send(Event::Streamed { written: 0, failed: false });
            Then::Hold
        }
        "switching-protocols" => {
            let mut out =
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n".to_vec();
            out.extend_from_slice(&echo);
            send(tls, out).await;
            Then::Hold
        }
        status if status.starts_with("status-") => {
            let code = &status["status-".len()..];
            send(tls, raw(&format!("{code} Odd"), "", &echo)).await;
            Then::KeepAlive
        }
        "stale-same-write" => {
            // The answer, and at once a second one nobody asked for (echoing the password).
            let mut out = raw("200 OK", "", br#"{"Id":"stale-same-write"}"#);
            out.extend_from_slice(&raw("200 OK", "", &echo.clone()));
            send(tls, out).await;
            Then::KeepAlive
        }
        "stale-later" => {
            send(tls, raw("200 OK", "", br#"{"Id":"stale-later"}"#)).await;
            // Once the caller has its answer (the connection is idle in the pool), speak out of turn.
            peer.go.notified().await;
            send(tls, raw("200 OK", "", &echo)).await;
            Then::KeepAlive
        }
        _ => {
            send(tls, raw("200 OK", "", serde_json::to_vec(&json!({"Id": id})).unwrap().as_slice())).await;
            Then::KeepAlive
        }
    }
}

/// A scripted TLS peer on loopback (trusted through the test CA), HTTP/1.1 keep-alive.
async fn scripted(pki: &TestPki) -> (Arc<Peer>, mpsc::UnboundedReceiver<Event>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (events, received) = mpsc::unbounded_channel();
    let peer = Arc::new(Peer {
        url: format!("https://localhost:{}", listener.local_addr().unwrap().port()),
        bodies: Mutex::default(),
        heads: Mutex::default(),
        connections: AtomicUsize::new(0),
        go: Notify::new(),
        events,
    });
    let acceptor = tokio_rustls::TlsAcceptor::from(pki.server_config().unwrap());
    let state = peer.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, peer) = (acceptor.clone(), state.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                peer.connections.fetch_add(1, Ordering::SeqCst);
                let mut buf = Vec::new();
                let mut last = String::new();
                while let Some((head, body)) = read_request(&mut tls, &mut buf).await {
                    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let id = body["Id"].as_str().unwrap_or_default().to_owned();
                    let password = body["Password"].as_str().unwrap_or_default().to_owned();
                    peer.heads.lock().unwrap().push(head);
                    peer.bodies.lock().unwrap().push(body);
                    last.clone_from(&id);
                    if let Then::Hold = act(&peer, &mut tls, &id, &password).await {
                        let mut sink = [0u8; 4096];
                        while matches!(tls.read(&mut sink).await, Ok(n) if n > 0) {}
                        break;
                    }
                }
                let _ = peer.events.send(Event::Closed { last });
            });
        }
    });
    (peer, received)
}

/// An env whose upstream is `url` (trusted through `pki`'s CA), with `[upstream]` lines.
async fn env_with(pki: TestPki, url: String, upstream: String) -> TestEnv {
    TestEnv::start(move |s| {
        s.pki = Some(pki);
        s.upstream_url = Some(url);
        s.upstream = upstream;
    })
    .await
}

/// An env in front of the scripted peer, with a 1 s upstream timeout.
async fn env_scripted() -> (TestEnv, Arc<Peer>, mpsc::UnboundedReceiver<Event>) {
    let pki = TestPki::generate().unwrap();
    let (peer, events) = scripted(&pki).await;
    let url = peer.url.clone();
    let env = env_with(pki, url, format!("timeout = \"{}ms\"", UPSTREAM_TIMEOUT.as_millis())).await;
    (env, peer, events)
}

async fn next_event(events: &mut mpsc::UnboundedReceiver<Event>, what: &str) -> Event {
    tokio::time::timeout(WAIT, events.recv()).await.unwrap_or_else(|_| panic!("{what}: no event")).unwrap()
}

/// The next `Streamed` event (skipping `Closed` ones).
async fn streamed(events: &mut mpsc::UnboundedReceiver<Event>, what: &str) -> (u64, bool) {
    loop {
        if let Event::Streamed { written, failed } = next_event(events, what).await {
            return (written, failed);
        }
    }
}

async fn send_id(env: &TestEnv, id: &str) -> Resp {
    env.post(&env.token(SUB), &json!({"Id": id, "Notes": ""})).await
}

/// The caller's answer and both audit records: a gateway error `code` with
/// `status` (or a relayed answer with `code` None), forwarded (`allow`), with
/// `upstream_status` as HostedSuite's answer had it.
async fn assert_outcome(
    env: &TestEnv,
    resp: &Resp,
    status: u16,
    code: Option<&str>,
    upstream: Option<u16>,
    what: &str,
) {
    match code {
        Some(code) => assert_error(resp, status, code, what),
        None => assert_eq!(resp.status, status, "{what}: {}", resp.text()),
    }
    let rid = resp.request_id();
    let record = env.wait_response_record(&rid).await;
    assert_eq!(record["status"], status, "{what}: {record}");
    assert_eq!(record["error_code"], code.map_or(Value::Null, Value::from), "{what}: {record}");
    assert_eq!(record["decision"], "allow", "{what}: it was forwarded: {record}");
    assert_eq!(record["upstream_status"], upstream.map_or(Value::Null, Value::from), "{what}: {record}");
    let records = env.audit_for(&rid);
    let phases: Vec<&str> = records.iter().map(|r| r["phase"].as_str().unwrap()).collect();
    assert_eq!(phases, ["request", "response"], "{what}: one record of each phase");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mb_answer_is_refused_at_the_bound_without_being_read_to_the_end() {
    let (env, _peer, mut events) = env_scripted().await;
    let began = Instant::now();
    let resp = send_id(&env, "huge").await;
    assert_outcome(&env, &resp, 502, Some("UpstreamBadResponse"), Some(200), "100 MB answer").await;
    let (written, failed) = streamed(&mut events, "the 100 MB writer").await;
    assert!(failed, "the gateway read all {written} bytes");
    // The bound plus what the socket buffers on both sides held.
    assert!(written < HUGE / 4, "{written} bytes of {HUGE} were taken");
    assert!(written >= ANSWER_BOUND - 16, "refused before the bound: {written} bytes");
    assert!(began.elapsed() < UPSTREAM_TIMEOUT * 10, "it took {:?}", began.elapsed());
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_chunked_answer_is_cut_off_at_the_bound() {
    let (env, _peer, mut events) = env_scripted().await;
    let resp = send_id(&env, "endless-chunked").await;
    assert_outcome(&env, &resp, 502, Some("UpstreamBadResponse"), Some(200), "endless chunked").await;
    let (written, failed) = streamed(&mut events, "the endless writer").await;
    assert!(failed && written < HUGE / 4, "{written} bytes taken");
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drip_fed_heads_and_bodies_end_at_the_upstream_timeout() {
    let (env, _peer, mut events) = env_scripted().await;
    for id in ["drip-head", "drip-body"] {
        let began = Instant::now();
        let resp = send_id(&env, id).await;
        let took = began.elapsed();
        // No answer arrived in full: the audit has no upstream status.
        assert_outcome(&env, &resp, 504, Some("UpstreamTimeout"), None, id).await;
        assert!(took >= UPSTREAM_TIMEOUT && took < UPSTREAM_TIMEOUT * 5, "{id}: answered after {took:?}");
        // The gateway hung up on the dripping connection.
        let (written, failed) = streamed(&mut events, id).await;
        assert!(failed, "{id}: {written} bytes");
    }
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_head_of_1000_fields_is_a_bad_response() {
    let (env, peer, _events) = env_scripted().await;
    let resp = send_id(&env, "many-headers").await;
    assert_outcome(&env, &resp, 502, Some("UpstreamBadResponse"), None, "1,000 header fields").await;
    assert_eq!(peer.bodies.lock().unwrap().len(), 1, "sent once, not retried");
    // The connection is not reused: the next request is answered normally.
    assert_eq!(send_id(&env, "after-many").await.json()["Id"], "after-many");
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_answer_is_not_decoded_and_not_relayed() {
    let (env, peer, _events) = env_scripted().await;
    // hsgate asks for no encoding ...
    let resp = send_id(&env, "gzip").await;
    let head = peer.heads.lock().unwrap()[0].to_ascii_lowercase();
    assert!(!head.contains("accept-encoding"), "{head}");
    // ... so a gzip body (here echoing the password) is a body that is not JSON.
    assert_outcome(&env, &resp, 502, Some("UpstreamBadResponse"), Some(200), "gzip answer").await;
    // A JSON body merely labelled gzip is JSON: relayed, the upstream header not.
    let resp = send_id(&env, "gzip-label-only").await;
    assert_outcome(&env, &resp, 200, None, Some(200), "gzip label on JSON").await;
    assert_eq!(resp.body, br#"{"Id":"gzip-label-only"}"#);
    assert_eq!(resp.header("content-encoding"), None);
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn informational_answers_are_skipped_and_101_is_a_bad_response() {
    let (env, _peer, mut events) = env_scripted().await;
    let resp = send_id(&env, "informational-then-200").await;
    assert_outcome(&env, &resp, 200, None, Some(200), "100 and 103 before 200").await;
    assert_eq!(resp.body, br#"{"Id":"informational-then-200"}"#);

    let began = Instant::now();
    let resp = send_id(&env, "informational-only").await;
    assert_outcome(&env, &resp, 504, Some("UpstreamTimeout"), None, "1xx and nothing after").await;
    assert!(began.elapsed() >= UPSTREAM_TIMEOUT);
    let _ = streamed(&mut events, "informational-only").await;

    let resp = send_id(&env, "switching-protocols").await;
    assert_outcome(&env, &resp, 502, Some("UpstreamBadResponse"), Some(101), "unasked 101").await;
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impossible_status_lines_are_bad_responses() {
    let (env, _peer, _events) = env_scripted().await;
    // Parsed by hyper, outside 200-599: the status is in the audit record.
    for (id, status) in [("status-600", 600), ("status-999", 999)] {
        let resp = send_id(&env, id).await;
        assert_outcome(&env, &resp, 502, Some("UpstreamBadResponse"), Some(status), id).await;
    }
    // Not a status at all (HTTP wants 100-999, three digits).
    for id in ["status-099", "status-000", "status-1000", "status-2x0"] {
        let resp = send_id(&env, id).await;
        assert_outcome(&env, &resp, 502, Some("UpstreamBadResponse"), None, id).await;
    }
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsolicited_answer_on_a_pooled_connection_never_reaches_the_next_caller() {
    let (env, peer, mut events) = env_scripted().await;
    // Both answers in one write: the second is in the gateway's buffer when the first ends.
    let resp = send_id(&env, "stale-same-write").await;
    assert_outcome(&env, &resp, 200, None, Some(200), "first caller").await;
    assert_eq!(resp.body, br#"{"Id":"stale-same-write"}"#);
    let resp = send_id(&env, "next-1").await;
    assert_outcome(&env, &resp, 200, None, Some(200), "second caller").await;
    assert_eq!(resp.json()["Id"], "next-1", "the second caller got the stale answer");

    // The unsolicited answer arrives later, while the connection sits idle in the pool.
    let resp = send_id(&env, "stale-later").await;
    assert_eq!(resp.json()["Id"], "stale-later");
    peer.go.notify_one();
    // The gateway drops the connection that spoke out of turn (had it been
    // sent the next request first, no client could tell the answers apart) ...
    loop {
        match next_event(&mut events, "close of the connection that spoke out of turn").await {
            Event::Closed { last } if last == "stale-later" => break,
            _ => {}
        }
    }
    // ... and the next caller gets its own answer.
    let resp = send_id(&env, "next-2").await;
    assert_outcome(&env, &resp, 200, None, Some(200), "caller after the late stale answer").await;
    assert_eq!(resp.json()["Id"], "next-2");
    assert_eq!(peer.bodies.lock().unwrap().len(), 4, "each request sent once");
    env.assert_no_leaks().await;
}

/// An HTTP/2-only TLS host (ALPN `h2` alone); counts requests.
async fn h2_only(pki: &TestPki) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://localhost:{}", listener.local_addr().unwrap().port());
    let mut tls = (*pki.server_config().unwrap()).clone();
    tls.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, seen) = (acceptor.clone(), seen.clone());
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(tcp).await else { return };
                let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let seen = seen.clone();
                    async move {
                        assert_eq!(req.version(), hyper::Version::HTTP_2);
                        seen.fetch_add(1, Ordering::SeqCst);
                        let body = http_body_util::Full::new(bytes::Bytes::from_static(br#"{"Id":"call-h2"}"#));
                        let mut r = hyper::Response::new(body);
                        r.headers_mut()
                            .insert("content-type", hyper::header::HeaderValue::from_static("application/json"));
                        Ok::<_, std::convert::Infallible>(r)
                    }
                });
                let _ = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h2_only_host_works_with_http2_auto_and_fails_cleanly_with_never() {
    for (setting, works) in [("auto", true), ("never", false)] {
        let pki = TestPki::generate().unwrap();
        let (url, count) = h2_only(&pki).await;
        let env = env_with(pki, url, format!("http2 = \"{setting}\"")).await;
        let resp = send_id(&env, "call-h2").await;
        if works {
            assert_outcome(&env, &resp, 200, None, Some(200), "h2-only, http2 = auto").await;
            assert_eq!(resp.body, br#"{"Id":"call-h2"}"#);
            assert_eq!(count.load(Ordering::SeqCst), 1);
        } else {
            // No common ALPN protocol: the TLS handshake fails, nothing is sent.
            assert_outcome(&env, &resp, 502, Some("UpstreamUnavailable"), None, "h2-only, http2 = never").await;
            assert_eq!(count.load(Ordering::SeqCst), 0);
        }
        env.assert_no_leaks().await;
    }
}
