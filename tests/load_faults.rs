#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Load and faults against the real server and the in-process HostedSuite
//! simulator, on loopback: 10,000 requests over 64 keep-alive connections,
//! shutdown (the path SIGTERM takes) in the middle of load, and HostedSuite
//! killed and restarted on the same port under load. The clients are hyper
//! HTTP/1.1 connections kept alive, each request bounded in time.

mod common;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use hsgate::sim::{Account, SimOptions, Simulator, TestPki};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use secrecy::SecretString;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;

/// The longest any one request may take before the test calls it a hang.
const CALL_LIMIT: Duration = Duration::from_secs(10);

type Sender = SendRequest<Full<Bytes>>;

/// A keep-alive HTTP/1.1 connection to the gateway; `None` if it cannot be made.
async fn connect(addr: SocketAddr) -> Option<Sender> {
    let tcp = TcpStream::connect(addr).await.ok()?;
    let _ = tcp.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.ok()?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Some(sender)
}

/// What became of one request.
#[derive(Debug)]
enum Outcome {
    Answer {
        status: u16,
        request_id: String,
        body: Bytes,
    },
    /// The connection failed before an answer (refused, closed, reset).
    Failed(String),
    /// No answer within [`CALL_LIMIT`].
    Hung,
}

/// `POST /api/calls/update` with `Id` and `Notes` (and an `X-Request-Id` if given).
async fn call(sender: &mut Sender, token: &str, id: &str, notes: &str, rid: Option<&str>) -> Outcome {
    let body = serde_json::to_vec(&json!({"Id": id, "Notes": notes})).unwrap();
    let mut req = hyper::Request::post(PATH)
        .header("host", "hsgate.test")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json");
    if let Some(rid) = rid {
        req = req.header("x-request-id", rid);
    }
    let req = req.body(Full::new(Bytes::from(body))).unwrap();
    let exchange = async {
        sender.ready().await?;
        let resp = sender.send_request(req).await?;
        let status = resp.status().as_u16();
        let request_id = resp.headers().get("x-request-id").map(|v| v.to_str().unwrap().to_owned());
        let body = resp.into_body().collect().await?.to_bytes();
        Ok::<_, hyper::Error>(Outcome::Answer { status, request_id: request_id.unwrap_or_default(), body })
    };
    match tokio::time::timeout(CALL_LIMIT, exchange).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(e)) => Outcome::Failed(e.to_string()),
        Err(_) => Outcome::Hung,
    }
}

fn error_code(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    v["ResponseStatus"]["ErrorCode"].as_str().unwrap_or_default().to_owned()
}

/// Asserts a 200 carrying this request's own call record.
fn assert_own_answer(status: u16, body: &[u8], id: &str, notes: &str) {
    assert_eq!(status, 200, "{id}: {}", String::from_utf8_lossy(body));
    let v: Value = serde_json::from_slice(body).unwrap();
    assert_eq!((v["Id"].as_str(), v["Notes"].as_str()), (Some(id), Some(notes)), "{id} got another answer");
}

/// Audit records by request id: (request records, response records).
fn by_request_id(records: &[Value]) -> HashMap<String, (Vec<&Value>, Vec<&Value>)> {
    let mut out: HashMap<String, (Vec<&Value>, Vec<&Value>)> = HashMap::new();
    for r in records {
        let entry = out.entry(r["request_id"].as_str().unwrap().to_owned()).or_default();
        match r["phase"].as_str() {
            Some("request") => entry.0.push(r),
            Some("response") => entry.1.push(r),
            other => panic!("audit phase {other:?}"),
        }
    }
    out
}

/// The audit file and every answer body hold no secret.
fn assert_no_leak_in(env: &TestEnv, bodies: &[u8]) {
    let secrets = env.secrets();
    assert_no_secret("the audit file", &env.audit_bytes(), &secrets);
    assert_no_secret("the answers", bodies, &secrets);
}

async fn flush_audit(env: &TestEnv) {
    env.running.as_ref().unwrap().shared.flush_audit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_requests_over_64_keep_alive_connections() {
    const REQUESTS: usize = 10_000;
    const CONNECTIONS: usize = 64;
    let env = TestEnv::start(|_| {}).await;
    let token = Arc::new(env.token(SUB));
    let next = Arc::new(AtomicUsize::new(0));
    let began = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..CONNECTIONS {
        let (token, next, addr) = (token.clone(), next.clone(), env.addr);
        clients.push(tokio::spawn(async move {
            let mut sender = connect(addr).await.expect("connect");
            let mut answers = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= REQUESTS {
                    return answers;
                }
                let (id, notes) = (format!("fault-load-{i}"), format!("n{i}"));
                match call(&mut sender, &token, &id, &notes, None).await {
                    Outcome::Answer { status, request_id, body } => {
                        assert_own_answer(status, &body, &id, &notes);
                        answers.push((id, request_id, body));
                    }
                    other => panic!("{id}: {other:?}"),
                }
            }
        }));
    }
    let mut answers = Vec::new();
    for c in clients {
        answers.extend(c.await.unwrap());
    }
    eprintln!("{REQUESTS} requests in {:?}", began.elapsed());
    assert_eq!(answers.len(), REQUESTS);
    // Kept alive upstream too (a few more than 64 may be opened when a request races a returning one).
    assert!(env.sim.connections() < REQUESTS / 20, "{} upstream connections", env.sim.connections());

    let ids: HashSet<&str> = answers.iter().map(|(_, rid, _)| rid.as_str()).collect();
    assert_eq!(ids.len(), REQUESTS, "request ids are distinct");
    assert!(!ids.contains(""), "every answer has an X-Request-Id");
    // Response records are queued before the answer goes out: flushed, all are in the file.
    flush_audit(&env).await;
    let records = env.audit_records();
    assert_eq!(records.len(), 2 * REQUESTS);
    let audit = by_request_id(&records);
    assert_eq!(audit.len(), REQUESTS);
    for (id, rid, _) in &answers {
        let (requests, responses) = &audit[rid.as_str()];
        assert_eq!((requests.len(), responses.len()), (1, 1), "{rid}");
        assert_eq!(requests[0]["call_id"], id.as_str(), "{rid}");
        let r = responses[0];
        assert_eq!((r["status"].as_u64(), r["upstream_status"].as_u64()), (Some(200), Some(200)), "{r}");
        assert_eq!(r["call_id"], id.as_str(), "{r}");
    }
    let bodies: Vec<u8> = answers.iter().flat_map(|(_, _, b)| b.iter().copied()).collect();
    assert_no_leak_in(&env, &bodies);
}

/// One request of the shutdown test, as its client saw it.
struct Attempt {
    /// Whether shutdown had begun when the outcome arrived.
    draining: bool,
    rid: String,
    id: String,
    notes: String,
    outcome: Outcome,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_in_the_middle_of_load_fails_no_request_it_accepted() {
    const CONNECTIONS: usize = 64;
    /// Requests per connection at most (the load is cut by shutdown well before).
    const EACH: usize = 100;
    /// Shutdown begins once this many answers arrived.
    const BEFORE: usize = 1_000;
    let mut env = TestEnv::start(|s| s.server = "shutdown_grace = \"15s\"".into()).await;
    let token = Arc::new(env.token(SUB));
    let answered = Arc::new(AtomicUsize::new(0));
    let stopping = Arc::new(AtomicBool::new(false));
    let after_stop = Arc::new(AtomicUsize::new(0));
    let time_to_stop = Arc::new(Notify::new());
    let mut clients = Vec::new();
    for c in 0..CONNECTIONS {
        let (token, addr) = (token.clone(), env.addr);
        let (answered, stopping, after_stop, time_to_stop) =
            (answered.clone(), stopping.clone(), after_stop.clone(), time_to_stop.clone());
        clients.push(tokio::spawn(async move {
            let mut attempts = Vec::new();
            let mut sender = connect(addr).await.expect("connect before shutdown");
            let mut reconnected = false;
            for k in 0..EACH {
                let (rid, id, notes) = (format!("drain-{c}-{k}"), format!("fault-drain-{c}-{k}"), format!("n{c}.{k}"));
                let outcome = call(&mut sender, &token, &id, &notes, Some(&rid)).await;
                let failed = !matches!(outcome, Outcome::Answer { .. });
                if !failed {
                    if stopping.load(Ordering::SeqCst) {
                        after_stop.fetch_add(1, Ordering::SeqCst);
                    }
                    if answered.fetch_add(1, Ordering::SeqCst) + 1 == BEFORE {
                        time_to_stop.notify_one();
                    }
                }
                let draining = stopping.load(Ordering::SeqCst);
                attempts.push(Attempt { draining, rid, id, notes, outcome });
                // A connection closed by the drain: one more try on a new one, which the gateway no longer takes.
                if failed || sender.is_closed() {
                    if reconnected || !stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    reconnected = true;
                    match connect(addr).await {
                        Some(s) => sender = s,
                        None => break,
                    }
                }
            }
            attempts
        }));
    }
    tokio::time::timeout(WAIT, time_to_stop.notified()).await.expect("the load never reached its mark");
    stopping.store(true, Ordering::SeqCst);
    let running = env.running.take().unwrap();
    let addr = running.addr;
    tokio::time::timeout(WAIT, running.shutdown()).await.expect("shutdown did not return");

    let mut attempts = Vec::new();
    for c in clients {
        attempts.extend(tokio::time::timeout(WAIT, c).await.expect("a client hung").unwrap());
    }
    assert!(connect(addr).await.is_none() || refuses(addr).await, "a connection was taken after shutdown");

    // Accepted: the gateway read the request and gave it an id, so it has a
    // response record (SPEC §6: every request answered gets one). Forwarded:
    // it has a request record too. SPEC §7: in-flight requests finish within
    // shutdown_grace (15 s here, far beyond any request). So an accepted
    // request either completed with its real answer (200, its own call
    // record, forwarded once) or was refused before forwarding with 503
    // ShuttingDown (no request record, decision deny); nothing else. A request
    // sent on a keep-alive connection the drain closed before reading it has
    // no record at all: not accepted (its client may retry elsewhere).
    let records = env.audit_records();
    let audit = by_request_id(&records);
    let (mut completed, mut refused, mut not_accepted) = (0, 0, 0);
    let mut bodies = Vec::new();
    for a in &attempts {
        let (requests, responses) = audit.get(&a.rid).map(|(q, r)| (q.len(), r.clone())).unwrap_or_default();
        match &a.outcome {
            Outcome::Answer { status, request_id, body } => {
                bodies.extend_from_slice(body);
                assert_eq!(request_id, &a.rid);
                assert_eq!(responses.len(), 1, "{}: an answered request has one response record", a.rid);
                assert_eq!(responses[0]["status"], *status, "{}", a.rid);
                if *status == 200 {
                    assert_own_answer(*status, body, &a.id, &a.notes);
                    assert_eq!(requests, 1, "{}: forwarded with its request record", a.rid);
                    completed += 1;
                } else {
                    assert_eq!((*status, error_code(body).as_str()), (503, "ShuttingDown"), "{}", a.rid);
                    assert_eq!(requests, 0, "{}: accepted, forwarded, then failed", a.rid);
                    assert_eq!(responses[0]["decision"], "deny", "{}", a.rid);
                    refused += 1;
                }
            }
            Outcome::Failed(e) => {
                assert!(a.draining, "{}: failed before shutdown: {e}", a.rid);
                // Never accepted: the gateway closed the connection before it read the request.
                assert!(responses.is_empty() && requests == 0, "{}: accepted but the answer was lost", a.rid);
                not_accepted += 1;
            }
            Outcome::Hung => panic!("{}: no answer within {CALL_LIMIT:?}", a.rid),
        }
    }
    // No record without a client attempt, none doubled.
    let attempted: HashSet<&str> = attempts.iter().map(|a| a.rid.as_str()).collect();
    for (rid, (requests, responses)) in &audit {
        assert!(attempted.contains(rid.as_str()), "a record nobody sent: {rid}");
        assert!(requests.len() <= 1 && responses.len() == 1, "{rid}: {requests:?} {responses:?}");
    }
    let after = after_stop.load(Ordering::SeqCst);
    eprintln!("{completed} completed ({after} after shutdown began), {refused} refused, {not_accepted} not accepted");
    assert!(completed >= BEFORE, "{completed}");
    assert!(after > 0, "shutdown did not begin in the middle of the load");
    assert!(attempts.len() < CONNECTIONS * EACH, "shutdown did not cut the load");
    assert_no_leak_in(&env, &bodies);
}

/// The gateway port takes no request: connections are refused or closed without an answer.
async fn refuses(addr: SocketAddr) -> bool {
    let Some(mut sender) = connect(addr).await else { return true };
    matches!(call(&mut sender, "t", "x", "", None).await, Outcome::Failed(_))
}

/// A simulator with the acme and globex accounts on `listener`.
fn simulator(listener: TcpListener, tls: Arc<rustls::ServerConfig>, acme: &str, globex: &str) -> Simulator {
    let account = |customer: &str, user: &str, password: &str| Account {
        customer_name: customer.into(),
        user_name: user.into(),
        password: SecretString::from(password.to_owned()),
    };
    let accounts = vec![account(ACME_CUSTOMER, ACME_USER, acme), account(GLOBEX_CUSTOMER, GLOBEX_USER, globex)];
    Simulator::start(listener, tls, SimOptions { accounts, ..SimOptions::default() }).unwrap()
}

/// Phases of the restart test, as a client reads them when it sends.
const UP: u8 = 0;
const DOWN: u8 = 1;
const RESTARTED: u8 = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostedsuite_killed_and_restarted_under_load_the_gateway_recovers_by_itself() {
    const CONNECTIONS: usize = 16;
    let pki = TestPki::generate().unwrap();
    let tls = pki.server_config().unwrap();
    let (acme, globex) = (format!("acme\"pw\\{}✓", hex(8)), format!("globex-{}", hex(8)));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_addr = listener.local_addr().unwrap();
    let mut sim = Some(simulator(listener, tls.clone(), &acme, &globex));
    let env = TestEnv::start(|s| {
        s.pki = Some(pki);
        s.acme_password = acme.clone();
        s.globex_password = globex.clone();
        s.upstream_url = Some(format!("https://localhost:{}", upstream_addr.port()));
        s.upstream = "timeout = \"3s\"\nconnect_timeout = \"1s\"".into();
    })
    .await;
    let token = Arc::new(env.token(SUB));
    let phase = Arc::new(AtomicU8::new(UP));
    let done = Arc::new(AtomicBool::new(false));
    // Answers by the phase their request was sent in: (200s, others).
    let counts: Arc<[(AtomicUsize, AtomicUsize); 3]> = Arc::new(Default::default());
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut clients = Vec::new();
    for c in 0..CONNECTIONS {
        let (token, phase, done, counts, log) =
            (token.clone(), phase.clone(), done.clone(), counts.clone(), log.clone());
        let addr = env.addr;
        clients.push(tokio::spawn(async move {
            let mut sender = connect(addr).await.expect("connect");
            let mut k = 0;
            while !done.load(Ordering::SeqCst) {
                let (id, notes) = (format!("fault-restart-{c}-{k}"), format!("n{c}.{k}"));
                k += 1;
                let sent_in = phase.load(Ordering::SeqCst);
                let outcome = call(&mut sender, &token, &id, &notes, None).await;
                let answered_in = phase.load(Ordering::SeqCst);
                if let Outcome::Answer { status, .. } = &outcome {
                    let (ok, other) = &counts[usize::from(sent_in)];
                    if *status == 200 { ok } else { other }.fetch_add(1, Ordering::SeqCst);
                }
                let hung_or_failed = !matches!(outcome, Outcome::Answer { .. });
                log.lock().unwrap().push((sent_in, answered_in, id, notes, outcome));
                if hung_or_failed {
                    break;
                }
            }
        }));
    }
    wait_until("200 answers before the kill", || counts[0].0.load(Ordering::SeqCst) >= 200).await;

    // Kill HostedSuite: it stops accepting and drops every open connection.
    drop(sim.take());
    phase.store(DOWN, Ordering::SeqCst);
    wait_until("50 failed answers in the outage", || counts[1].1.load(Ordering::SeqCst) >= 50).await;

    // Restart it on the same address, once the old listener is closed.
    let deadline = Instant::now() + WAIT;
    let listener = loop {
        match TcpListener::bind(upstream_addr).await {
            Ok(l) => break l,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => panic!("rebinding {upstream_addr}: {e}"),
        }
    };
    sim = Some(simulator(listener, tls, &acme, &globex));
    phase.store(RESTARTED, Ordering::SeqCst);
    wait_until("300 answers after the restart", || counts[2].0.load(Ordering::SeqCst) >= 300).await;
    done.store(true, Ordering::SeqCst);
    for c in clients {
        tokio::time::timeout(WAIT, c).await.expect("a client hung").unwrap();
    }

    flush_audit(&env).await;
    let records = env.audit_records();
    let audit = by_request_id(&records);
    let log = std::mem::take(&mut *log.lock().unwrap());
    let mut bodies = Vec::new();
    let mut tally: HashMap<(u8, u16), usize> = HashMap::new();
    for (sent_in, answered_in, id, notes, outcome) in &log {
        let Outcome::Answer { status, request_id, body } = outcome else {
            panic!("{id} (sent in phase {sent_in}): {outcome:?}");
        };
        bodies.extend_from_slice(body);
        *tally.entry((*sent_in, *status)).or_default() += 1;
        if *status == 200 {
            assert_own_answer(*status, body, id, notes);
        } else {
            // During the outage: the SPEC's upstream error, at once.
            assert_eq!((*status, error_code(body).as_str()), (502, "UpstreamUnavailable"), "{id}");
        }
        // Sent and answered while HostedSuite was down: it cannot have succeeded.
        if (*sent_in, *answered_in) == (DOWN, DOWN) {
            assert_eq!(*status, 502, "{id}");
        }
        // Sent after the restart: the gateway recovered without help.
        if *sent_in == RESTARTED {
            assert_eq!(*status, 200, "{id} failed after the restart: {}", String::from_utf8_lossy(body));
        }
        let (requests, responses) = &audit[request_id.as_str()];
        assert_eq!((requests.len(), responses.len()), (1, 1), "{request_id}");
        let r = responses[0];
        assert_eq!(r["status"], *status, "{r}");
        if *status != 200 {
            assert_eq!(
                (r["error_code"].as_str(), r["decision"].as_str()),
                (Some("UpstreamUnavailable"), Some("allow"))
            );
            assert!(r["upstream_status"].is_null(), "{r}");
        }
    }
    eprintln!("answers by (phase sent in, status): {tally:?}");
    assert_eq!(audit.len(), log.len(), "a record for every request, no other");
    assert_no_leak_in(&env, &bodies);
    drop(sim);
}
