#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Hostile HTTP/1 clients: framing that must be refused or read one way only
//! (RFC 9112 §6), malformed header lines, targets that must reach neither
//! another host nor a route by normalisation, pipelining, `Expect:
//! 100-continue` only once the checks pass, and odd chunked bodies. Each
//! case checks the answer, that nothing of it reached the upstream, and that
//! a normal request is served afterwards.

mod common;

use common::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The caller's body of every request here (`Notes` tells them apart upstream).
fn body(notes: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"Id": "call-1001", "Notes": notes})).unwrap()
}

/// `POST {target} HTTP/1.1` to `host` with `token`, a JSON type, the further
/// header `lines` (each ending in CRLF), then `body` as is.
fn post_to(target: &str, host: &str, token: &str, lines: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "POST {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n{lines}\r\n"
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

fn post(target: &str, token: &str, lines: &str, body: &[u8]) -> Vec<u8> {
    post_to(target, "hsgate.test", token, lines, body)
}

/// `body` as one chunk with extension `ext`, then the last chunk.
fn chunked(body: &[u8], ext: &str) -> Vec<u8> {
    let mut out = format!("{:x}{ext}\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out.extend_from_slice(b"\r\n0\r\n\r\n");
    out
}

/// Sends `bytes` on a new connection and reads until the gateway closes it.
async fn send_raw(env: &TestEnv, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(env.addr).await.unwrap();
    // A head refused early may be answered and closed before all of it is written.
    let _ = stream.write_all(bytes).await;
    until_closed(&mut stream).await
}

/// The answers in `raw`, in order (interim ones included: they have no body).
fn answers(raw: &[u8]) -> Vec<Resp> {
    let local = "127.0.0.1:0".parse().unwrap();
    let mut out = Vec::new();
    let mut rest = raw;
    while !rest.is_empty() {
        let end = rest.windows(4).position(|w| w == b"\r\n\r\n").expect("an answer head") + 4;
        let head = String::from_utf8_lossy(&rest[..end]).to_ascii_lowercase();
        let len: usize =
            head.lines().find_map(|l| l.strip_prefix("content-length:")).map_or(0, |v| v.trim().parse().unwrap());
        out.push(parse_response(rest[..end + len].to_vec(), local));
        rest = &rest[end + len..];
    }
    out
}

/// Exactly one answer in `raw`.
fn one_answer(raw: &[u8], what: &str) -> Resp {
    let mut all = answers(raw);
    assert_eq!(all.len(), 1, "{what}: one answer expected: {:?}", String::from_utf8_lossy(raw));
    all.remove(0)
}

/// An answer hyper made itself: the head never became a request (no request id, no audit record).
fn assert_bare(resp: &Resp, status: u16, what: &str) {
    assert_eq!(resp.status, status, "{what}: {:?}", String::from_utf8_lossy(&resp.raw));
    assert!(resp.header("x-request-id").is_none(), "{what}: the head reached the gateway");
}

/// `Notes` of every request the upstream received since it was last cleared, in order.
fn upstream_notes(env: &TestEnv) -> Vec<String> {
    let notes = |r: &hsgate::sim::SeenRequest| {
        let v: Value = serde_json::from_slice(&r.body).unwrap_or_default();
        v["Notes"].as_str().unwrap_or_default().to_owned()
    };
    env.sim.requests().iter().map(notes).collect()
}

/// A normal request is served, and it is all the upstream saw since it was last cleared.
async fn still_serves(env: &TestEnv, after: &str) {
    let notes = format!("after {after}");
    let resp = env.update(SUB, "call-1001", &notes).await;
    assert_eq!(resp.status, 200, "{after}: a normal request afterwards: {}", resp.text());
    assert_eq!(upstream_notes(env), [notes], "{after}: what reached the upstream");
    env.sim.clear();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicting_or_malformed_lengths_are_refused_before_the_gateway() {
    let env = TestEnv::start(|_| {}).await;
    let token = env.token(SUB);
    let b = body("length");
    let n = b.len();
    let rows: Vec<(&str, String, u16)> = vec![
        ("two differing Content-Length", format!("Content-Length: {n}\r\nContent-Length: {}\r\n", n + 1), 400),
        ("a Content-Length list of two values", format!("Content-Length: {n}, {}\r\n", n + 1), 400),
        ("a signed Content-Length", format!("Content-Length: +{n}\r\n"), 400),
        ("a negative Content-Length", "Content-Length: -1\r\n".into(), 400),
        ("a hex Content-Length", format!("Content-Length: 0x{n:x}\r\n"), 400),
        ("a Content-Length beyond u64", "Content-Length: 99999999999999999999999\r\n".into(), 400),
        // hyper cannot represent u64::MAX as a length and says so with 431.
        ("Content-Length u64::MAX", "Content-Length: 18446744073709551615\r\n".into(), 431),
        ("an empty Content-Length", "Content-Length: \r\n".into(), 400),
        ("a Content-Length of two numbers", "Content-Length: 4 2\r\n".into(), 400),
        ("Transfer-Encoding not ending in chunked", "Transfer-Encoding: gzip\r\n".into(), 400),
        ("Transfer-Encoding: chunked, identity", "Transfer-Encoding: chunked, identity\r\n".into(), 400),
        ("Transfer-Encoding with a space before the colon", "Transfer-Encoding : chunked\r\n".into(), 400),
    ];
    for (name, lines, status) in rows {
        let raw = send_raw(&env, &post(PATH, &token, &format!("{lines}Connection: close\r\n"), &b)).await;
        assert_bare(&one_answer(&raw, name), status, name);
        assert!(upstream_notes(&env).is_empty(), "{name}: reached the upstream");
    }
    // HTTP/1.0 has no Transfer-Encoding (RFC 9112 §6.1).
    let http10 = String::from_utf8(post(PATH, &token, "Transfer-Encoding: chunked\r\n", &chunked(&b, "")))
        .unwrap()
        .replacen("HTTP/1.1", "HTTP/1.0", 1);
    assert_bare(&one_answer(&send_raw(&env, http10.as_bytes()).await, "HTTP/1.0"), 400, "chunked HTTP/1.0");
    // A length just below u64::MAX is a length: refused on its value, before any body byte is read.
    let huge = post(PATH, &token, "Content-Length: 18446744073709551613\r\nConnection: close\r\n", b"{");
    let resp = one_answer(&send_raw(&env, &huge).await, "huge Content-Length");
    assert_error(&resp, 413, "PayloadTooLarge", "Content-Length u64::MAX - 2");
    assert!(upstream_notes(&env).is_empty());
    still_serves(&env, "malformed lengths").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_length_beside_transfer_encoding_reads_chunked_and_closes() {
    let env = TestEnv::start(|_| {}).await;
    let token = env.token(SUB);
    // RFC 9112 §6.1: the body is read as chunked and the connection closed after the answer,
    // so bytes after the chunked body (a request a Content-Length reader would see) are never read.
    for (i, lines) in
        ["Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "Transfer-Encoding: chunked\r\nContent-Length: 500\r\n"]
            .into_iter()
            .enumerate()
    {
        let smuggled_id = format!("smuggled-{i}");
        let smuggled = body("smuggled");
        let second = format!("Content-Length: {}\r\nX-Request-Id: {smuggled_id}\r\n", smuggled.len());
        let mut bytes = post(PATH, &token, lines, &chunked(&body("chunked"), ""));
        bytes.extend(post(PATH, &token, &second, &smuggled));
        let raw = send_raw(&env, &bytes).await;
        let resp = one_answer(&raw, lines);
        assert_eq!(resp.status, 200, "{lines}: {}", resp.text());
        assert_eq!(resp.header("connection"), Some("close"), "{lines}");
        assert_eq!(upstream_notes(&env), ["chunked"], "{lines}: only the chunked body is a request");
        assert!(env.audit_for(&smuggled_id).is_empty(), "{lines}: the smuggled request was audited");
        env.sim.clear();
    }
    // The same length twice is one length (RFC 9110 §8.6).
    let b = body("same length twice");
    let lines = format!("Content-Length: {0}\r\nContent-Length: {0}\r\nConnection: close\r\n", b.len());
    let resp = one_answer(&send_raw(&env, &post(PATH, &token, &lines, &b)).await, "same length twice");
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(upstream_notes(&env), ["same length twice"]);
    env.sim.clear();
    still_serves(&env, "Content-Length with Transfer-Encoding").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_header_lines_are_refused_before_the_gateway() {
    let env = TestEnv::start(|_| {}).await;
    let token = env.token(SUB);
    let b = body("header lines");
    let rows: &[(&str, &str)] = &[
        ("an obs-fold continuation", "X-Pad: a\r\n b\r\n"),
        ("a token folded onto a continuation line", "X-Token: Bearer\r\n\tx.y.z\r\n"),
        ("a bare CR in a value", "X-Pad: a\rb\r\n"),
        ("a NUL in a value", "X-Pad: a\0b\r\n"),
        ("a NUL in a name", "X-P\0ad: a\r\n"),
        ("a line without a colon", "X-Pad\r\n"),
        ("a space before the colon", "X-Pad : a\r\n"),
        ("a separator in a name", "X(Pad): a\r\n"),
    ];
    for (name, line) in rows {
        let lines = format!("{line}Content-Length: {}\r\nConnection: close\r\n", b.len());
        let raw = send_raw(&env, &post(PATH, &token, &lines, &b)).await;
        assert_bare(&one_answer(&raw, name), 400, name);
        assert!(upstream_notes(&env).is_empty(), "{name}: reached the upstream");
    }
    // NUL in the target.
    let raw = send_raw(&env, &post("/api/calls/up\0date", &token, "Connection: close\r\n", &b)).await;
    assert_bare(&one_answer(&raw, "NUL in the target"), 400, "NUL in the target");
    still_serves(&env, "malformed header lines").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absolute_form_targets_and_hosts_never_choose_the_upstream() {
    let env = TestEnv::start(|_| {}).await;
    let token = env.token(SUB);
    // The route comes from the path alone; the upstream is the configured one (the simulator),
    // whatever host the target or the Host header names.
    let forwarded: &[(&str, &str)] = &[
        ("https://evil.example/api/calls/update", "hsgate.test"),
        ("http://127.0.0.1:1/api/calls/update", "hsgate.test"),
        (PATH, "evil.example"),
        ("https://evil.example/api/calls/update", "evil.example:443"),
    ];
    for (target, host) in forwarded {
        let notes = format!("{target} via {host}");
        let b = body(&notes);
        let lines = format!("Content-Length: {}\r\nConnection: close\r\n", b.len());
        let resp = one_answer(&send_raw(&env, &post_to(target, host, &token, &lines, &b)).await, target);
        assert_eq!(resp.status, 200, "{target} (Host {host}): {}", resp.text());
        let seen = env.sim.requests();
        assert_eq!(seen.len(), 1, "{target}: the configured upstream got it");
        assert_eq!((seen[0].path.as_str(), seen[0].query.as_deref()), (PATH, None), "{target}");
        for (k, v) in &seen[0].headers {
            assert!(!v.contains("evil.example") && !v.contains("127.0.0.1:1"), "{target}: upstream header {k}: {v}");
        }
        assert_eq!(upstream_notes(&env), [notes]);
        env.sim.clear();
    }
    let b = body("absolute");
    let refused: &[(&str, &str)] = &[
        ("POST https://evil.example/api/calls/nope HTTP/1.1", "another path on another host"),
        ("POST https://evil.example HTTP/1.1", "a host and no path"),
        ("CONNECT evil.example:443 HTTP/1.1", "CONNECT is never a tunnel"),
        ("OPTIONS * HTTP/1.1", "asterisk-form"),
    ];
    for (line, name) in refused {
        let bytes = format!(
            "{line}\r\nHost: evil.example:443\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            b.len(),
            String::from_utf8_lossy(&b)
        );
        let resp = one_answer(&send_raw(&env, bytes.as_bytes()).await, name);
        assert_error(&resp, 404, "NotFound", name);
        assert!(upstream_notes(&env).is_empty(), "{name}: reached the upstream");
    }
    still_serves(&env, "absolute-form targets").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_are_matched_exactly_never_normalised() {
    let env = TestEnv::start(|_| {}).await;
    let token = env.token(SUB);
    let b = body("paths");
    let lines = format!("Content-Length: {}\r\nConnection: close\r\n", b.len());
    // SPEC §4: exact match, no normalisation: each of these is an unknown path (404 NotFound).
    for target in [
        "/api/x/../calls/update",
        "/api/calls/%2e%2e/calls/update",
        "/api/calls/%2E%2E/calls/update",
        "/api/calls/.%2e/calls/update",
        "/api/./calls/update",
        "/api/calls/./update",
        "/api/calls/update/.",
        "/api/calls/update/..",
        "//api/calls/update",
        "/api//calls/update",
        "/api/calls//update",
        "/api/calls/update;",
        "/api/calls/update;jsessionid=1",
        "/api/calls;x=1/update",
        "/api/calls\\update",
        "/api\\calls\\update",
        "/api/calls/update\\",
        "/api/calls/update%00",
        "/api/calls/update%20",
        "/api%2fcalls%2fupdate",
        "/api/calls%2Fupdate",
        "/api/calls/updat%65",
        "/api/calls/update\u{e9}",
        "/api/json/reply/../reply/UpdateCallRecordRequest",
        "/api/json/reply/UpdateCallRecordRequest;",
        "/json//reply/UpdateCallRecordRequest",
    ] {
        let resp = one_answer(&send_raw(&env, &post(target, &token, &lines, &b)).await, target);
        assert_error(&resp, 404, "NotFound", target);
        let record = env.wait_response_record(&resp.request_id()).await;
        assert_eq!(record["route"], Value::Null, "{target}: audited as no route");
        assert!(upstream_notes(&env).is_empty(), "{target}: reached the upstream");
    }
    // A target not starting with `/` is not a path at all.
    let raw = send_raw(&env, &post("\\api\\calls\\update", &token, &lines, &b)).await;
    assert_bare(&one_answer(&raw, "backslash first"), 400, "a target starting with a backslash");
    still_serves(&env, "non-normalised paths").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fragment_in_the_target_cannot_carry_a_query_upstream() {
    let env = TestEnv::start(|_| {}).await;
    let token = env.token(SUB);
    // The `http` crate drops a fragment (and all after it) before the gateway sees the target;
    // whatever the answer, the upstream gets the route's path and no query.
    for target in ["/api/calls/update#x", "/api/calls/update#?Id=call-1002&callback=cb"] {
        let b = body(target);
        let lines = format!("Content-Length: {}\r\nConnection: close\r\n", b.len());
        let resp = one_answer(&send_raw(&env, &post(target, &token, &lines, &b)).await, target);
        match resp.status {
            400 | 404 => assert!(env.sim.requests().is_empty(), "{target}: refused, yet forwarded"),
            200 => {
                let seen = env.sim.requests();
                assert_eq!(seen.len(), 1, "{target}");
                assert_eq!((seen[0].path.as_str(), seen[0].query.as_deref()), (PATH, None), "{target}");
                let sent: Value = serde_json::from_slice(&seen[0].body).unwrap();
                assert_eq!(sent["Id"], "call-1001", "{target}: the caller's Id, not the fragment's");
            }
            other => panic!("{target}: status {other}: {}", resp.text()),
        }
        env.sim.clear();
    }
    still_serves(&env, "fragments").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_answered_in_order_and_each_audited() {
    let env = TestEnv::start(|_| {}).await;
    let token = env.token(SUB);
    let req = |id: &str, token: &str, last: bool, body: &[u8]| {
        let close = if last { "Connection: close\r\n" } else { "" };
        post(PATH, token, &format!("Content-Length: {}\r\nX-Request-Id: {id}\r\n{close}", body.len()), body)
    };
    // Two requests in one write.
    let mut bytes = req("pipe-1", &token, false, &body("first"));
    bytes.extend(req("pipe-2", &token, true, &body("second")));
    let all = answers(&send_raw(&env, &bytes).await);
    let got: Vec<(u16, String)> = all.iter().map(|r| (r.status, r.request_id())).collect();
    assert_eq!(got, [(200, "pipe-1".to_owned()), (200, "pipe-2".to_owned())], "in order");
    assert_eq!(upstream_notes(&env), ["first", "second"]);
    for id in ["pipe-1", "pipe-2"] {
        let record = env.wait_response_record(id).await;
        assert_eq!(record["status"], 200, "{id}");
        assert_eq!(env.audit_for(id).iter().filter(|r| r["phase"] == "request").count(), 1, "{id}");
    }
    env.sim.clear();

    // A refused request whose unread body is itself a request: the body is skipped, not parsed.
    let inner = req("pipe-inner", &token, false, &body("inner"));
    let mut bytes = req("pipe-3", "not-a-token", false, &inner);
    bytes.extend(req("pipe-4", &token, true, &body("fourth")));
    let all = answers(&send_raw(&env, &bytes).await);
    let got: Vec<(u16, String)> = all.iter().map(|r| (r.status, r.request_id())).collect();
    assert_eq!(got, [(401, "pipe-3".to_owned()), (200, "pipe-4".to_owned())], "in order");
    assert_error(&all[0], 401, "InvalidToken", "pipe-3");
    assert_eq!(upstream_notes(&env), ["fourth"]);
    assert_eq!(env.wait_response_record("pipe-3").await["status"], 401);
    assert_eq!(env.wait_response_record("pipe-4").await["status"], 200);
    assert!(env.audit_for("pipe-inner").is_empty(), "the body was parsed as a request");
    env.sim.clear();
    for r in &all {
        env.keep(r);
    }
    still_serves(&env, "pipelining").await;
    env.assert_no_leaks().await;
}

/// Reads until a whole head has arrived; returns all that arrived.
async fn read_head(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before a head: {:?}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(WAIT, read).await.expect("no head in time");
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expect_100_continue_is_sent_only_after_the_checks_pass() {
    let env = TestEnv::start(|_| {}).await;
    let token = env.token(SUB);
    let b = body("expect");
    let expect = format!("Content-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n", b.len());
    // Refused before the body is wanted: the refusal, with no 100 before it. The body is never sent.
    let too_large = "Content-Length: 70000\r\nExpect: 100-continue\r\nConnection: close\r\n";
    let no_token = String::from_utf8(post(PATH, "x", &expect, b"")).unwrap().replace("Authorization: Bearer x\r\n", "");
    let rows: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("bad token", post(PATH, "not-a-token", &expect, b""), 401, "InvalidToken"),
        ("no token", no_token.into_bytes(), 401, "MissingToken"),
        ("unknown path", post("/api/calls/nope", &token, &expect, b""), 404, "NotFound"),
        ("query string", post("/api/calls/update?x=1", &token, &expect, b""), 400, "QueryNotAllowed"),
        ("over max_body_bytes", post(PATH, &token, too_large, b""), 413, "PayloadTooLarge"),
    ];
    for (name, bytes, status, code) in rows {
        let mut stream = TcpStream::connect(env.addr).await.unwrap();
        stream.write_all(&bytes).await.unwrap();
        let raw = until_closed(&mut stream).await;
        let resp = one_answer(&raw, name);
        assert_error(&resp, status, code, name);
        env.keep(&resp);
        assert!(upstream_notes(&env).is_empty(), "{name}: reached the upstream");
    }
    // Every check passed: 100 Continue, then (once the body is sent) the answer.
    let mut stream = TcpStream::connect(env.addr).await.unwrap();
    stream.write_all(&post(PATH, &token, &expect, b"")).await.unwrap();
    let interim = read_head(&mut stream).await;
    assert_eq!(String::from_utf8_lossy(&interim), "HTTP/1.1 100 Continue\r\n\r\n");
    assert!(upstream_notes(&env).is_empty(), "nothing is forwarded before the body");
    stream.write_all(&b).await.unwrap();
    let resp = one_answer(&until_closed(&mut stream).await, "after 100 Continue");
    assert_eq!(resp.status, 200, "{}", resp.text());
    env.keep(&resp);
    assert_eq!(upstream_notes(&env), ["expect"]);
    env.sim.clear();
    still_serves(&env, "Expect: 100-continue").await;
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_bodies_with_extensions_trailers_and_hostile_sizes() {
    let env = TestEnv::start(|_| {}).await;
    let token = env.token(SUB);
    let te = "Transfer-Encoding: chunked\r\nConnection: close\r\n";
    // Extensions are ignored; trailers never cross (the upstream request is built from scratch).
    let mut with_trailers = format!("{:x}\r\n", body("trailers").len()).into_bytes();
    with_trailers.extend(body("trailers"));
    with_trailers.extend_from_slice(b"\r\n0\r\nAuthorization: Bearer x\r\nX-Smuggled: 1\r\n\r\n");
    let mut with_extensions = format!("{:x};a=b;c=\"q d\";e\r\n", body("extensions").len()).into_bytes();
    with_extensions.extend(body("extensions"));
    with_extensions.extend_from_slice(b"\r\n0;last=1\r\n\r\n");
    let accepted = [("extensions", with_extensions), ("trailers", with_trailers)];
    for (notes, chunks) in accepted {
        let resp = one_answer(&send_raw(&env, &post(PATH, &token, te, &chunks)).await, notes);
        assert_eq!(resp.status, 200, "{notes}: {}", resp.text());
        assert_eq!(upstream_notes(&env), [notes]);
        let seen = env.sim.requests();
        assert!(!seen[0].headers.iter().any(|(k, _)| k == "x-smuggled" || k == "authorization"), "{notes}");
        env.sim.clear();
    }
    let mut huge_extensions = Vec::new();
    for byte in body("long extensions") {
        huge_extensions.extend(format!("1;{}\r\n", "e".repeat(2000)).into_bytes());
        huge_extensions.extend([byte, b'\r', b'\n']);
    }
    huge_extensions.extend_from_slice(b"0\r\n\r\n");
    let mut big_chunk = b"fffffffffffffff\r\n".to_vec();
    big_chunk.extend(vec![b' '; 70_000]);
    let refused: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("a chunk size beyond u64", b"ffffffffffffffffff\r\nabc".to_vec(), 400, "InvalidRequest"),
        ("a chunk size of 2^60 (over max_body_bytes as it arrives)", big_chunk, 413, "PayloadTooLarge"),
        ("a signed chunk size", b"+5\r\n{\"a\":\r\n0\r\n\r\n".to_vec(), 400, "InvalidRequest"),
        ("a negative chunk size", b"-5\r\n{\"a\":\r\n0\r\n\r\n".to_vec(), 400, "InvalidRequest"),
        ("a hex-prefixed chunk size", b"0x5\r\n{\"a\":\r\n0\r\n\r\n".to_vec(), 400, "InvalidRequest"),
        ("extensions beyond hyper's limit", huge_extensions, 400, "InvalidRequest"),
    ];
    for (name, chunks, status, code) in refused {
        let resp = one_answer(&send_raw(&env, &post(PATH, &token, te, &chunks)).await, name);
        assert_error(&resp, status, code, name);
        env.keep(&resp);
        assert!(upstream_notes(&env).is_empty(), "{name}: reached the upstream");
    }
    still_serves(&env, "hostile chunked bodies").await;
    env.assert_no_leaks().await;
}
