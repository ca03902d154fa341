#![allow(clippy::unwrap_used, clippy::expect_used)]
//! SPEC `server.tls_cert_file`, `tls_key_file`, `client_ca_file`: the
//! listener serves HTTPS, optionally requires client certificates (mTLS),
//! and takes a renewed certificate on reload without dropping connections.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use hsgate::sim::TestPki;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// Listener certificate, key and (optionally) client CA files, in a folder the test holds.
struct Files {
    _dir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
    client_ca: PathBuf,
}

impl Files {
    fn new(listener: &TestPki) -> Files {
        let dir = tempfile::Builder::new().prefix("hsgate-tls-").tempdir().unwrap();
        let files = Files {
            cert: dir.path().join("listener.crt.pem"),
            key: dir.path().join("listener.key.pem"),
            client_ca: dir.path().join("client-ca.pem"),
            _dir: dir,
        };
        files.set_listener(listener);
        files
    }

    /// (Over)writes the listener certificate and key with `pki`'s server leaf.
    fn set_listener(&self, pki: &TestPki) {
        let (cert, key) = pki.server_cert_pem().unwrap();
        std::fs::write(&self.cert, cert).unwrap();
        std::fs::write(&self.key, key).unwrap();
    }

    fn set_client_ca(&self, pki: &TestPki) {
        std::fs::write(&self.client_ca, &pki.ca_pem).unwrap();
    }

    /// `[server]` lines: HTTPS, and mTLS when `mtls`.
    fn server_lines(&self, mtls: bool) -> String {
        let mut s = format!("tls_cert_file = \"{}\"\ntls_key_file = \"{}\"\n", path(&self.cert), path(&self.key));
        if mtls {
            s.push_str(&format!("client_ca_file = \"{}\"\n", path(&self.client_ca)));
        }
        s
    }
}

fn path(p: &Path) -> String {
    let s = path_str(p);
    assert!(!s.contains('"') && !s.contains('\\'), "temp path needs TOML escaping: {s}");
    s
}

/// A client trusting only `trust`'s CA, presenting `client` (cert PEM, key PEM) if given.
fn client_config(trust: &TestPki, client: Option<&(String, String)>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(trust.ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match client {
        Some((cert_pem, key_pem)) => {
            let chain: Vec<CertificateDer<'static>> =
                CertificateDer::pem_slice_iter(cert_pem.as_bytes()).map(Result::unwrap).collect();
            let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// A TLS connection to the gateway (server name `localhost`).
async fn connect(addr: SocketAddr, config: &Arc<rustls::ClientConfig>) -> Result<TlsStream<TcpStream>, String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
    let name = ServerName::try_from("localhost").unwrap();
    let connecting = TlsConnector::from(config.clone()).connect(name, tcp);
    match tokio::time::timeout(WAIT, connecting).await {
        Ok(done) => done.map_err(|e| format!("handshake: {e}")),
        Err(_) => panic!("the TLS handshake did not end in time"),
    }
}

/// Connects over TLS, sends `bytes`, reads until the server closes. `Err`
/// says where it failed (handshake, write, read) if no answer arrived.
async fn attempt(addr: SocketAddr, config: &Arc<rustls::ClientConfig>, bytes: &[u8]) -> Result<Resp, String> {
    let mut tls = connect(addr, config).await?;
    let local = tls.get_ref().0.local_addr().unwrap();
    let run = async {
        tls.write_all(bytes).await.map_err(|e| format!("write: {e}"))?;
        let mut raw = Vec::new();
        let mut buf = [0u8; 16384];
        loop {
            match tls.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
                // A close without close_notify after the answer still leaves the answer.
                Err(_) if !raw.is_empty() => break,
                Err(e) => return Err(format!("read: {e}")),
            }
        }
        if raw.is_empty() {
            return Err("closed without an answer".to_owned());
        }
        Ok(raw)
    };
    let raw = tokio::time::timeout(WAIT, run).await.expect("no end of the TLS exchange in time")?;
    Ok(parse_response(raw, local))
}

/// An HTTPS exchange that must produce an answer; kept for the leak check.
async fn https(env: &TestEnv, config: &Arc<rustls::ClientConfig>, req: &Req) -> Resp {
    let resp = attempt(env.addr, config, &req.to_bytes()).await.unwrap_or_else(|e| panic!("no HTTPS answer: {e}"));
    env.keep(&resp);
    resp
}

/// An exchange that must not produce an HTTP answer (the handshake or the first read fails).
async fn assert_refused(env: &TestEnv, config: &Arc<rustls::ClientConfig>, req: &Req, what: &str) {
    match attempt(env.addr, config, &req.to_bytes()).await {
        Err(e) => eprintln!("{what}: refused as expected ({e})"),
        Ok(resp) => {
            env.keep(&resp);
            panic!("{what}: got an HTTP answer ({}): {}", resp.status, resp.text());
        }
    }
}

fn update(env: &TestEnv, rid: &str, notes: &str) -> Req {
    env.req(&env.token(SUB), &json!({"Id": "call-1001", "Notes": notes})).header("X-Request-Id", rid)
}

fn assert_call_record(resp: &Resp, notes: &str) {
    assert_eq!(resp.status, 200, "{}", resp.text());
    let v = resp.json();
    assert_eq!(v["Id"], "call-1001", "{v}");
    assert_eq!(v["Notes"], notes, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_serves_requests_and_plain_http_gets_no_answer() {
    let listener = TestPki::generate().unwrap();
    let files = Files::new(&listener);
    let env = TestEnv::start(|s| s.server = files.server_lines(false)).await;
    let client = client_config(&listener, None);

    let resp = https(&env, &client, &update(&env, "tls-plain-1", "over https")).await;
    assert_call_record(&resp, "over https");
    assert_eq!(resp.request_id(), "tls-plain-1");
    let record = env.wait_response_record("tls-plain-1").await;
    assert_eq!(record["status"], 200);
    assert!(record["client_cert"].is_null(), "no client certificate without mTLS: {record}");

    // Plain HTTP to the HTTPS port: no HTTP answer of any kind.
    let mut plain = TcpStream::connect(env.addr).await.unwrap();
    let _ = plain.write_all(&update(&env, "tls-plain-2", "cleartext").to_bytes()).await;
    let got = until_closed(&mut plain).await;
    assert!(!got.starts_with(b"HTTP/"), "plain HTTP was answered: {:?}", String::from_utf8_lossy(&got));
    assert!(env.audit_for("tls-plain-2").is_empty(), "a cleartext request was audited");
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_requires_a_client_certificate_from_the_client_ca_and_still_a_token() {
    let listener = TestPki::generate().unwrap();
    let clients = TestPki::generate().unwrap();
    let strangers = TestPki::generate().unwrap();
    let files = Files::new(&listener);
    files.set_client_ca(&clients);
    let env = TestEnv::start(|s| s.server = files.server_lines(true)).await;

    let good = clients.issue_client("svc-notes-client").unwrap();
    let with_cert = client_config(&listener, Some(&good));
    let resp = https(&env, &with_cert, &update(&env, "mtls-ok", "with a client cert")).await;
    assert_call_record(&resp, "with a client cert");
    let record = env.wait_response_record("mtls-ok").await;
    assert_eq!(record["status"], 200);
    let subject = record["client_cert"].as_str().unwrap_or_else(|| panic!("client_cert missing: {record}"));
    assert!(subject.contains("CN=svc-notes-client"), "client_cert {subject:?}");

    // No certificate at all.
    let no_cert = client_config(&listener, None);
    assert_refused(&env, &no_cert, &update(&env, "mtls-none", "no cert"), "no client certificate").await;
    // A certificate from another CA, same name.
    let stranger = strangers.issue_client("svc-notes-client").unwrap();
    let foreign = client_config(&listener, Some(&stranger));
    assert_refused(&env, &foreign, &update(&env, "mtls-foreign", "foreign"), "certificate of another CA").await;

    // A valid certificate does not replace the bearer token.
    let untokened = update(&env, "mtls-notoken", "no token").without("Authorization");
    let resp = https(&env, &with_cert, &untokened).await;
    assert_error(&resp, 401, "MissingToken", "mTLS without a token");
    let record = env.wait_response_record("mtls-notoken").await;
    assert_eq!(record["status"], 401);
    assert!(record["client_cert"].as_str().is_some_and(|s| s.contains("CN=svc-notes-client")), "{record}");

    // The refused handshakes formed no request: nothing audited, nothing sent upstream.
    assert!(env.audit_for("mtls-none").is_empty());
    assert!(env.audit_for("mtls-foreign").is_empty());
    let upstream: Vec<_> = env
        .sim
        .requests()
        .into_iter()
        .filter_map(|r| r.headers.iter().find(|(k, _)| k == "x-request-id").map(|(_, v)| v.clone()))
        .collect();
    assert_eq!(upstream, ["mtls-ok"], "only the authorised request reached HostedSuite");
    env.assert_no_leaks().await;
}

/// One request without `Connection: close` on `stream`, its answer read exactly (Content-Length).
async fn keep_alive<S>(env: &TestEnv, stream: &mut S, local: SocketAddr, rid: &str, notes: &str) -> Resp
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let token = env.token(SUB);
    let body = serde_json::to_vec(&json!({"Id": "call-1001", "Notes": notes})).unwrap();
    let head = format!(
        "POST {PATH} HTTP/1.1\r\nHost: hsgate.test\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nX-Request-Id: {rid}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&body);
    tokio::time::timeout(WAIT, stream.write_all(&bytes)).await.expect("request not sent in time").unwrap();
    let raw = read_one_answer(stream).await;
    let resp = parse_response(raw, local);
    assert!(
        !resp.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close")),
        "the gateway asked to close a keep-alive connection"
    );
    env.keep(&resp);
    resp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_certificate_is_used_after_reload_and_open_connections_keep_working() {
    let pki_a = TestPki::generate().unwrap();
    let pki_b = TestPki::generate().unwrap();
    let files = Files::new(&pki_a);
    let env = TestEnv::start(|s| s.server = files.server_lines(false)).await;
    let trust_a = client_config(&pki_a, None);
    let trust_b = client_config(&pki_b, None);

    // Before the renewal only A's CA is accepted.
    assert_refused(&env, &trust_b, &update(&env, "reload-0", "too early"), "B trusted before the reload").await;
    let mut old = connect(env.addr, &trust_a).await.unwrap();
    let old_local = old.get_ref().0.local_addr().unwrap();
    let first = keep_alive(&env, &mut old, old_local, "reload-old-1", "before reload").await;
    assert_call_record(&first, "before reload");

    files.set_listener(&pki_b);
    assert!(env.reload().await, "the reload with the renewed certificate failed");

    // New connections get B's certificate ...
    let resp = https(&env, &trust_b, &update(&env, "reload-new-b", "after reload")).await;
    assert_call_record(&resp, "after reload");
    assert_refused(&env, &trust_a, &update(&env, "reload-new-a", "old CA"), "A trusted after the reload").await;
    // ... and the connection opened before the reload still serves.
    let second = keep_alive(&env, &mut old, old_local, "reload-old-2", "same connection").await;
    assert_call_record(&second, "same connection");
    assert_eq!(env.wait_response_record("reload-old-2").await["status"], 200);
    assert!(env.audit_for("reload-0").is_empty() && env.audit_for("reload-new-a").is_empty());
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_starts_the_handshake_is_closed_after_the_head_timeout() {
    const HEAD_TIMEOUT: Duration = Duration::from_millis(300);
    let listener = TestPki::generate().unwrap();
    let files = Files::new(&listener);
    let env = TestEnv::start(|s| {
        s.server = format!("{}header_read_timeout = \"{}ms\"\n", files.server_lines(false), HEAD_TIMEOUT.as_millis());
    })
    .await;
    let opened = Instant::now();
    let mut silent = TcpStream::connect(env.addr).await.unwrap();
    let got = until_closed(&mut silent).await;
    assert!(opened.elapsed() >= HEAD_TIMEOUT, "closed before header_read_timeout");
    assert!(got.is_empty(), "something was sent to a client that sent nothing: {got:?}");
    let metrics = env.metrics().await;
    assert!(metrics.contains("hsgate_connections_closed_total{reason=\"no_request\"} 1"), "{metrics}");

    // The listener still serves a client that does speak.
    let resp = https(&env, &client_config(&listener, None), &update(&env, "tls-after-silent", "fine")).await;
    assert_call_record(&resp, "fine");
}
