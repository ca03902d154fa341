#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Hostile HTTP/2 clients on the plain listener (h2c with prior knowledge),
//! frames written by hand (RFC 9113 framing, RFC 7541 literals without
//! Huffman): rapid reset, CONTINUATION floods, HPACK bombs, streams beyond
//! SETTINGS_MAX_CONCURRENT_STREAMS, a window that stops opening, PING and
//! SETTINGS floods. Each case checks the protocol reaction (GOAWAY and its
//! code, RST_STREAM, 431, close), that nothing reached the upstream, and
//! that a new connection is served. A stream window of 0 from the start is
//! `connections.rs`.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinHandle;

// Frame types, flags, settings and error codes (RFC 9113 §6, §7).
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const HEADER_TABLE_SIZE: u16 = 0x1;
const MAX_CONCURRENT_STREAMS: u16 = 0x3;
const INITIAL_WINDOW_SIZE: u16 = 0x4;
const NO_ERROR: u32 = 0x0;
const PROTOCOL_ERROR: u32 = 0x1;
const REFUSED_STREAM: u32 = 0x7;
const CANCEL: u32 = 0x8;
const COMPRESSION_ERROR: u32 = 0x9;
const ENHANCE_YOUR_CALM: u32 = 0xb;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap();
    let mut f = len.to_be_bytes()[1..].to_vec();
    f.extend([kind, flags]);
    f.extend(stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An HPACK integer with an `n`-bit prefix (RFC 7541 §5.1).
fn hpack_int(out: &mut Vec<u8>, flags: u8, n: u32, mut v: usize) {
    let max = (1usize << n) - 1;
    if v < max {
        out.push(flags | v as u8);
        return;
    }
    out.push(flags | max as u8);
    v -= max;
    while v >= 128 {
        out.push((v % 128) as u8 | 0x80);
        v /= 128;
    }
    out.push(v as u8);
}

/// A string literal, no Huffman (§5.2).
fn hpack_str(out: &mut Vec<u8>, s: &[u8]) {
    hpack_int(out, 0, 7, s.len());
    out.extend_from_slice(s);
}

/// A literal field without indexing, new name (§6.2.2).
fn literal(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.push(0);
    hpack_str(out, name.as_bytes());
    hpack_str(out, value);
}

/// `POST path` with a bearer token and a JSON type.
fn request_block(path: &str, token: &str) -> Vec<u8> {
    let mut b = vec![0x83, 0x86]; // :method POST, :scheme http (static table)
    hpack_int(&mut b, 0, 4, 4); // :path, name from the static table
    hpack_str(&mut b, path.as_bytes());
    hpack_int(&mut b, 0, 4, 1); // :authority
    hpack_str(&mut b, b"hsgate.test");
    literal(&mut b, "authorization", format!("Bearer {token}").as_bytes());
    literal(&mut b, "content-type", b"application/json");
    b
}

fn settings(values: &[(u16, u32)]) -> Vec<u8> {
    let payload: Vec<u8> =
        values.iter().flat_map(|(k, v)| [k.to_be_bytes().to_vec(), v.to_be_bytes().to_vec()].concat()).collect();
    frame(SETTINGS, 0, 0, &payload)
}

#[derive(Debug)]
struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

impl Frame {
    fn error_code(&self) -> u32 {
        let at = if self.kind == GOAWAY { 4 } else { 0 };
        u32::from_be_bytes(self.payload[at..at + 4].try_into().unwrap())
    }

    fn last_stream(&self) -> u32 {
        u32::from_be_bytes(self.payload[..4].try_into().unwrap()) & 0x7fff_ffff
    }
}

/// `:status` of a response block from a server told to keep no dynamic table
/// (HEADER_TABLE_SIZE 0): a static-table index, or a literal named `:status`.
fn status(block: &[u8]) -> Option<u16> {
    let int = |at: usize, n: u32| -> Option<(usize, usize)> {
        let max = (1usize << n) - 1;
        let mut v = usize::from(*block.get(at)?) & max;
        let mut used = 1;
        if v == max {
            let mut shift = 0;
            loop {
                let b = *block.get(at + used)?;
                used += 1;
                v += usize::from(b & 0x7f) << shift;
                shift += 7;
                if b & 0x80 == 0 {
                    break;
                }
            }
        }
        Some((v, used))
    };
    let mut at = 0;
    while block.get(at)? & 0xe0 == 0x20 {
        at += int(at, 5)?.1; // dynamic table size updates
    }
    let first = *block.get(at)?;
    let statuses = [200, 204, 206, 304, 400, 404, 500];
    if first & 0x80 != 0 {
        return statuses.get(int(at, 7)?.0.checked_sub(8)?).copied();
    }
    let (name, used) = int(at, if first & 0x40 != 0 { 6 } else { 4 })?;
    if !(8..=14).contains(&name) {
        return None;
    }
    at += used;
    let huffman = block.get(at)? & 0x80 != 0;
    let (len, used) = int(at, 7)?;
    let value = block.get(at + used..at + used + len)?;
    let text = if huffman { huffman_digits(value)? } else { String::from_utf8(value.to_vec()).ok()? };
    text.parse().ok()
}

/// Huffman-coded digits (RFC 7541 Appendix B: '0'-'2' are the 5-bit codes
/// 0-2, '3'-'9' the 6-bit codes 0x19-0x1f; padding is all ones).
fn huffman_digits(bytes: &[u8]) -> Option<String> {
    let bits: Vec<u8> = bytes.iter().flat_map(|b| (0..8).rev().map(move |i| (b >> i) & 1)).collect();
    let take = |at: usize, n: usize| bits.get(at..at + n).map(|b| b.iter().fold(0u8, |v, bit| v << 1 | bit));
    let (mut at, mut out) = (0, String::new());
    while at < bits.len() {
        if bits.len() - at < 8 && bits[at..].iter().all(|&b| b == 1) {
            break;
        }
        match take(at, 5)? {
            v @ 0..=2 => (out.push(char::from(b'0' + v)), at += 5),
            _ => match take(at, 6)? {
                v @ 0x19..=0x1f => (out.push(char::from(b'0' + v - 0x16)), at += 6),
                _ => return None,
            },
        };
    }
    Some(out)
}

#[test]
fn the_status_decoder_reads_static_and_huffman_statuses() {
    assert_eq!(status(&[0x88]), Some(200));
    assert_eq!(status(&[0x20, 0x8c]), Some(400), "after a table size update");
    // "431" is 011010 011001 00001 + padding; "401" is 011010 00000 00001 + padding.
    assert_eq!(status(&[0x48, 0x83, 0x69, 0x90, 0xff]), Some(431));
    assert_eq!(status(&[0x08, 0x82, 0x68, 0x01]), Some(401));
    assert_eq!(status(&[0x08, 0x03, b'5', b'0', b'3']), Some(503));
}

/// One hand-driven h2c connection.
struct H2 {
    r: OwnedReadHalf,
    w: Option<OwnedWriteHalf>,
    /// The server's SETTINGS.
    settings: Vec<(u16, u32)>,
}

impl H2 {
    /// Preface and `values`, then the server's SETTINGS, acknowledged.
    async fn open(env: &TestEnv, values: &[(u16, u32)]) -> H2 {
        H2::over(TcpStream::connect(env.addr).await.unwrap(), values).await
    }

    async fn over(stream: TcpStream, values: &[(u16, u32)]) -> H2 {
        let (r, mut w) = stream.into_split();
        let mut preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        preface.extend(settings(values));
        w.write_all(&preface).await.unwrap();
        let mut h2 = H2 { r, w: Some(w), settings: Vec::new() };
        let server = h2.until(|f| f.kind == SETTINGS && f.flags & ACK == 0).await.expect("the server's SETTINGS");
        h2.settings = server
            .payload
            .chunks(6)
            .map(|c| (u16::from_be_bytes([c[0], c[1]]), u32::from_be_bytes([c[2], c[3], c[4], c[5]])))
            .collect();
        h2.send(&frame(SETTINGS, ACK, 0, &[])).await;
        h2
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.w.as_mut().expect("the write half").write_all(bytes).await.unwrap();
    }

    /// The next frame; `None` once the gateway closed the connection.
    async fn next(&mut self) -> Option<Frame> {
        let read = async {
            let mut head = [0u8; 9];
            self.r.read_exact(&mut head).await.ok()?;
            let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
            let mut payload = vec![0u8; len];
            self.r.read_exact(&mut payload).await.ok()?;
            let stream = u32::from_be_bytes(head[5..9].try_into().unwrap()) & 0x7fff_ffff;
            Some(Frame { kind: head[3], flags: head[4], stream, payload })
        };
        tokio::time::timeout(WAIT, read).await.expect("the gateway neither sent a frame nor closed")
    }

    /// Frames up to the first that `pred` accepts; `None` if the connection closed first.
    async fn until(&mut self, mut pred: impl FnMut(&Frame) -> bool) -> Option<Frame> {
        while let Some(f) = self.next().await {
            if pred(&f) {
                return Some(f);
            }
        }
        None
    }

    /// Reads to the close; the GOAWAY seen on the way, if any.
    async fn goaway_and_close(&mut self) -> Option<Frame> {
        let mut goaway = None;
        while let Some(f) = self.next().await {
            if f.kind == GOAWAY {
                goaway = Some(f);
            }
        }
        goaway
    }

    /// Writes `bytes` in a task, `repeat` times, until done or the gateway hangs up; the task says how much got through.
    fn flood(&mut self, bytes: Vec<u8>, repeat: usize) -> JoinHandle<usize> {
        let mut w = self.w.take().expect("the write half");
        tokio::spawn(async move {
            let mut written = 0;
            for _ in 0..repeat {
                if w.write_all(&bytes).await.is_err() {
                    break;
                }
                written += bytes.len();
            }
            written
        })
    }
}

/// Asserts a GOAWAY with `code` and then the close.
async fn assert_goaway(h2: &mut H2, codes: &[u32], what: &str) -> Frame {
    let goaway = h2.goaway_and_close().await.unwrap_or_else(|| panic!("{what}: closed without GOAWAY"));
    assert!(codes.contains(&goaway.error_code()), "{what}: GOAWAY code {:#x}", goaway.error_code());
    goaway
}

/// A normal request on a new h2c connection is served, and it is all the upstream saw.
async fn still_serves(env: &TestEnv, after: &str) {
    let notes = format!("after {after}");
    let mut h2 = H2::open(env, &[(HEADER_TABLE_SIZE, 0)]).await;
    let body = serde_json::to_vec(&json!({"Id": "call-1001", "Notes": notes})).unwrap();
    let mut bytes = frame(HEADERS, END_HEADERS, 1, &request_block(PATH, &env.token(SUB)));
    bytes.extend(frame(DATA, END_STREAM, 1, &body));
    h2.send(&bytes).await;
    let head = h2.until(|f| f.kind == HEADERS && f.stream == 1).await.expect("an answer");
    assert_eq!(status(&head.payload), Some(200), "{after}: a normal request afterwards");
    let mut answer = Vec::new();
    let mut ended = head.flags & END_STREAM != 0;
    while !ended {
        let f = h2.until(|f| f.kind == DATA && f.stream == 1).await.expect("the answer's body");
        answer.extend_from_slice(&f.payload);
        ended = f.flags & END_STREAM != 0;
    }
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(answer["Notes"], notes.as_str(), "{after}");
    let seen: Vec<Value> = env.sim.requests().iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect();
    assert_eq!(seen.len(), 1, "{after}: only the normal request reached the upstream");
    assert_eq!(seen[0]["Notes"], notes.as_str());
    env.sim.clear();
}

/// Resident memory of this process (the gateway runs in it), in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rapid_reset_is_cut_off_with_goaway() {
    let env = TestEnv::start(|_| {}).await;
    let block = request_block(PATH, &env.token(SUB));
    let mut h2 = H2::open(&env, &[]).await;
    // HEADERS then RST_STREAM, 1,000 times (CVE-2023-44487).
    let mut bytes = Vec::new();
    for i in 0..1000u32 {
        bytes.extend(frame(HEADERS, END_HEADERS, 2 * i + 1, &block));
        bytes.extend(frame(RST_STREAM, 0, 2 * i + 1, &CANCEL.to_be_bytes()));
    }
    let writer = h2.flood(bytes, 1);
    let goaway = assert_goaway(&mut h2, &[ENHANCE_YOUR_CALM], "rapid reset").await;
    assert!(goaway.last_stream() < 1999, "every stream was taken ({})", goaway.last_stream());
    writer.await.unwrap();
    assert!(env.sim.requests().is_empty(), "a reset stream reached the upstream");
    still_serves(&env, "rapid reset").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continuation_floods_are_cut_off_with_goaway() {
    let env = TestEnv::start(|_| {}).await;
    // A field whose value claims 100 MB, sent on in 16 KiB CONTINUATIONs (32 MB offered) ...
    let mut start = vec![0x83, 0x86, 0x00];
    hpack_str(&mut start, b"x-flood");
    hpack_int(&mut start, 0, 7, 100_000_000);
    let mut h2 = H2::open(&env, &[]).await;
    h2.send(&frame(HEADERS, 0, 1, &start)).await;
    let offered = 2000 * (16384 + 9);
    let writer = h2.flood(frame(CONTINUATION, 0, 1, &[b'a'; 16384]), 2000);
    assert_goaway(&mut h2, &[ENHANCE_YOUR_CALM], "large CONTINUATIONs").await;
    assert!(writer.await.unwrap() < offered, "the whole flood was taken in");
    // ... and empty CONTINUATIONs without end (32 MB of frame headers offered).
    let mut h2 = H2::open(&env, &[]).await;
    h2.send(&frame(HEADERS, 0, 1, &request_block(PATH, &env.token(SUB))[..10])).await;
    let empties: Vec<u8> = (0..100_000).flat_map(|_| frame(CONTINUATION, 0, 1, &[])).collect();
    let offered = empties.len() * 36;
    let writer = h2.flood(empties, 36);
    assert_goaway(&mut h2, &[ENHANCE_YOUR_CALM], "empty CONTINUATIONs").await;
    assert!(writer.await.unwrap() < offered, "the whole flood was taken in");
    assert!(env.sim.requests().is_empty());
    still_serves(&env, "CONTINUATION floods").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hpack_bombs_are_refused() {
    let env = TestEnv::start(|_| {}).await;
    let block = request_block(PATH, &env.token(SUB));
    let before = rss_kib();

    // A 4,000-byte value put into the dynamic table, then referenced 10,000 times:
    // 40 MB of header list from a 14 KB frame.
    let mut bomb = block.clone();
    bomb.push(0x40); // literal with incremental indexing, new name
    hpack_str(&mut bomb, b"x-bomb");
    hpack_str(&mut bomb, &[b'b'; 4000]);
    bomb.extend(std::iter::repeat_n(0x80 | 62, 10_000)); // the newest dynamic entry
    let mut h2 = H2::open(&env, &[]).await;
    h2.send(&frame(HEADERS, END_HEADERS | END_STREAM, 1, &bomb)).await;
    assert_goaway(&mut h2, &[ENHANCE_YOUR_CALM], "dynamic table amplification").await;

    // A table size update beyond SETTINGS_HEADER_TABLE_SIZE (4,096) is a decoding error.
    let mut resize = Vec::new();
    hpack_int(&mut resize, 0x20, 5, 1 << 30);
    resize.extend(&block);
    let mut h2 = H2::open(&env, &[]).await;
    h2.send(&frame(HEADERS, END_HEADERS | END_STREAM, 1, &resize)).await;
    assert_goaway(&mut h2, &[COMPRESSION_ERROR, PROTOCOL_ERROR], "table size beyond the limit").await;

    // Over the 64 KiB header list (RFC 9113 counts 32 bytes per field): 431 on the
    // stream, and the connection goes on.
    let mut many_small = block.clone();
    many_small.extend(std::iter::repeat_n(0x80 | 16, 1200)); // accept-encoding: gzip, deflate
    let mut many_large = block.clone();
    for i in 0..200 {
        literal(&mut many_large, &format!("x-large-{i}"), &[b'v'; 300]);
    }
    for (name, fields) in [("1,200 static fields in 1.2 KB", many_small), ("200 fields of 300 bytes", many_large)] {
        let mut h2 = H2::open(&env, &[(HEADER_TABLE_SIZE, 0)]).await;
        let pieces: Vec<&[u8]> = fields.chunks(16384).collect();
        let mut bytes = Vec::new();
        for (i, piece) in pieces.iter().enumerate() {
            let (kind, end) = if i == 0 { (HEADERS, END_STREAM) } else { (CONTINUATION, 0) };
            bytes.extend(frame(kind, end | if i + 1 == pieces.len() { END_HEADERS } else { 0 }, 1, piece));
        }
        h2.send(&bytes).await;
        let answer = h2.until(|f| f.stream == 1 && (f.kind == HEADERS || f.kind == RST_STREAM)).await;
        let answer = answer.unwrap_or_else(|| panic!("{name}: closed without an answer"));
        assert_eq!((answer.kind, status(&answer.payload)), (HEADERS, Some(431)), "{name}");
        // The same connection serves a normal request next.
        let body = serde_json::to_vec(&json!({"Id": "call-1001", "Notes": name})).unwrap();
        let mut bytes = frame(HEADERS, END_HEADERS, 3, &block);
        bytes.extend(frame(DATA, END_STREAM, 3, &body));
        h2.send(&bytes).await;
        let next = h2.until(|f| f.kind == HEADERS && f.stream == 3).await.expect("an answer on stream 3");
        assert_eq!(status(&next.payload), Some(200), "{name}: the next stream");
        assert_eq!(env.sim.requests().len(), 1, "{name}: only the normal request reached the upstream");
        env.sim.clear();
    }
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < 64 * 1024, "RSS grew by {grown} KiB");
    still_serves(&env, "HPACK bombs").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_beyond_max_concurrent_streams_are_refused() {
    let env = TestEnv::start(|_| {}).await;
    let mut h2 = H2::open(&env, &[(HEADER_TABLE_SIZE, 0)]).await;
    assert!(h2.settings.contains(&(MAX_CONCURRENT_STREAMS, 128)), "SETTINGS {:?}", h2.settings);
    // 1,000 requests opened at once, none of them ending its body yet.
    let block = request_block(PATH, &env.token(SUB));
    let ids: Vec<u32> = (0..1000).map(|i| 2 * i + 1).collect();
    let opened: Vec<u8> = ids.iter().flat_map(|&id| frame(HEADERS, END_HEADERS, id, &block)).collect();
    h2.send(&opened).await;
    let mut refused = BTreeSet::new();
    while refused.len() < 1000 - 128 {
        let f = h2.next().await.expect("closed while refusing streams");
        assert_ne!(f.kind, GOAWAY, "GOAWAY {:#x} instead of refusing streams", f.error_code());
        if f.kind == RST_STREAM {
            assert_eq!(f.error_code(), REFUSED_STREAM, "stream {}", f.stream);
            refused.insert(f.stream);
        }
    }
    // The 128 taken are ended now with an empty body: each gets its answer (400, not JSON).
    let taken: Vec<u32> = ids.iter().copied().filter(|id| !refused.contains(id)).collect();
    assert_eq!(taken.len(), 128);
    let ends: Vec<u8> = taken.iter().flat_map(|&id| frame(DATA, END_STREAM, id, &[])).collect();
    h2.send(&ends).await;
    let mut answered = BTreeSet::new();
    while answered.len() < taken.len() {
        let f = h2.next().await.expect("closed before every taken stream was answered");
        assert!(f.kind != GOAWAY && f.kind != RST_STREAM, "{f:?}");
        if f.kind == HEADERS {
            assert_eq!(status(&f.payload), Some(400), "stream {}", f.stream);
            answered.insert(f.stream);
        }
    }
    assert_eq!(answered.into_iter().collect::<Vec<_>>(), taken);
    assert!(env.sim.requests().is_empty());
    still_serves(&env, "1,000 streams").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_the_client_stops_opening_is_closed_after_the_write_timeout() {
    let env = TestEnv::start(|s| {
        s.server = "write_timeout = \"400ms\"\nidle_timeout = \"30s\"\nmax_body_bytes = 1000000".into();
    })
    .await;
    let block = request_block(PATH, &env.token(SUB));
    // The connection window left at its first 65,535 bytes under a 200 KB answer;
    // a stream window of 1,000 bytes under a 6 KB one.
    let cases = [
        ("connection window", INITIAL_WINDOW_SIZE, 0x7fff_ffff, 200_000, 65_535),
        ("stream window", INITIAL_WINDOW_SIZE, 1000, 5000, 1000),
    ];
    for (i, (name, key, value, notes, window)) in cases.into_iter().enumerate() {
        let mut h2 = H2::open(&env, &[(HEADER_TABLE_SIZE, 0), (key, value)]).await;
        // The request body may use the windows the gateway opens.
        h2.until(|f| f.kind == WINDOW_UPDATE && f.stream == 0).await.expect("the gateway's connection window");
        let id = format!("h2-window-{i}");
        let body = serde_json::to_vec(&json!({"Id": "call-1001", "Notes": "n".repeat(notes)})).unwrap();
        let mut bytes = frame(HEADERS, END_HEADERS, 1, &[block.clone(), x_request_id(&id)].concat());
        for piece in body.chunks(16384) {
            bytes.extend(frame(DATA, 0, 1, piece));
        }
        bytes.extend(frame(DATA, END_STREAM, 1, &[]));
        h2.send(&bytes).await;
        let head = h2.until(|f| f.kind == HEADERS && f.stream == 1).await.expect("the answer's head");
        assert_eq!(status(&head.payload), Some(200), "{name}");
        let answered = tokio::time::Instant::now();
        let mut received = 0;
        while let Some(f) = h2.next().await {
            if f.kind == DATA {
                received += f.payload.len();
            }
        }
        let held = answered.elapsed();
        assert_eq!(received, window, "{name}: what the window let through");
        assert!(held < Duration::from_secs(10), "{name}: held {held:?} (write_timeout is 400 ms)");
        let record = env.wait_response_record(&id).await;
        assert_eq!(record["status"], 200, "{name}");
    }
    let metrics = env.metrics().await;
    assert!(metrics.contains("hsgate_connections_closed_total{reason=\"slow_read\"} 2"), "{metrics}");
    env.sim.clear();
    still_serves(&env, "windows kept shut").await;
}

fn x_request_id(id: &str) -> Vec<u8> {
    let mut out = Vec::new();
    literal(&mut out, "x-request-id", id.as_bytes());
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_and_settings_floods_are_bounded() {
    let env = TestEnv::start(|s| {
        s.server = "header_read_timeout = \"500ms\"\nidle_timeout = \"500ms\"\nwrite_timeout = \"500ms\"".into();
    })
    .await;
    let before = rss_kib();
    // PINGs without end from a client that reads every answer: after a request, the
    // connection is idle whatever the pings, so idle_timeout ends it with GOAWAY.
    let mut h2 = H2::open(&env, &[(HEADER_TABLE_SIZE, 0)]).await;
    let body = serde_json::to_vec(&json!({"Id": "call-1001", "Notes": "before the pings"})).unwrap();
    let mut bytes = frame(HEADERS, END_HEADERS, 1, &request_block(PATH, &env.token(SUB)));
    bytes.extend(frame(DATA, END_STREAM, 1, &body));
    h2.send(&bytes).await;
    let head = h2.until(|f| f.kind == HEADERS && f.stream == 1).await.expect("an answer");
    assert_eq!(status(&head.payload), Some(200));
    h2.until(|f| f.kind == DATA && f.stream == 1 && f.flags & END_STREAM != 0).await.expect("the answer's body");
    env.sim.clear();
    let pings: Vec<u8> = (0..10_000u64).flat_map(|i| frame(PING, 0, 0, &i.to_be_bytes())).collect();
    let offered = pings.len() * 1000;
    let writer = h2.flood(pings, 1000);
    let (mut pongs, mut goaway) = (0, None);
    while let Some(f) = h2.next().await {
        match f.kind {
            PING if f.flags & ACK != 0 => pongs += 1,
            GOAWAY => goaway = Some(f.error_code()),
            _ => {}
        }
    }
    assert_eq!(goaway, Some(NO_ERROR), "an idle connection is asked to go");
    let written = writer.await.unwrap();
    assert!(written < offered, "the whole flood was taken in");
    assert!(pongs <= written / 17, "more pongs than pings (17 bytes each)");

    // SETTINGS frames without end from a client that never reads the acknowledgements:
    // the gateway's writes stall, and the connection is dropped.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut h2 = H2::over(socket.connect(env.addr).await.unwrap(), &[]).await;
    let flood: Vec<u8> = (0..10_000).flat_map(|_| settings(&[(INITIAL_WINDOW_SIZE, 100)])).collect();
    let offered = flood.len() * 1000;
    let writer = h2.flood(flood, 1000);
    let written = tokio::time::timeout(WAIT, writer).await.expect("the flood was never cut off").unwrap();
    assert!(written < offered, "the whole flood was taken in");
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < 64 * 1024, "RSS grew by {grown} KiB");
    assert!(env.sim.requests().is_empty());
    still_serves(&env, "PING and SETTINGS floods").await;
}
