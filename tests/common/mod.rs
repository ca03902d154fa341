//! Shared harness for the integration tests: key and secret files in a
//! temporary folder, the HostedSuite simulator over TLS, an in-process
//! gateway, a raw HTTP/1.1 client (so requests can be malformed on purpose),
//! token helpers, audit-file readers and a leak check.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hsgate::server::Running;
use hsgate::sim::{Account, SimOptions, Simulator, TestPki};
use jsonwebtoken::{Algorithm, EncodingKey};
use secrecy::SecretString;
use serde_json::{json, Map, Value};
use tokio::time::Instant;

pub const ISSUER: &str = "https://idp.test.internal";
pub const AUDIENCE: &str = "hsgate";
pub const ED_KID: &str = "ed1";
pub const HS_KID: &str = "hs1";
pub const PATH: &str = "/api/calls/update";
pub const ALIAS: &str = "/api/json/reply/UpdateCallRecordRequest";
pub const ACME_CUSTOMER: &str = "Acme Answering";
pub const ACME_USER: &str = "api-gateway";
pub const GLOBEX_CUSTOMER: &str = "Globex Corp";
pub const GLOBEX_USER: &str = "gw-globex";
/// Subject matched by grant `notes-service` (profile acme only).
pub const SUB: &str = "svc-notes";
/// Subject matched by grant `multi` (profiles acme and globex).
pub const SUB_MULTI: &str = "svc-multi";
/// How long any single wait in a test may take before it fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// Random lowercase hex of `n` bytes.
pub fn hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Knobs a test may turn before the environment starts.
pub struct Setup {
    /// Stored password of profile `acme`.
    pub acme_password: String,
    /// What the simulator accepts for acme (default: the stored one).
    pub sim_acme_password: Option<String>,
    /// Stored (and accepted) password of profile `globex`.
    pub globex_password: String,
    /// Delay of Id `fault-slow`.
    pub slow: Duration,
    /// Extra lines for `[server]`, `[upstream]`, `[audit]`.
    pub server: String,
    pub upstream: String,
    pub audit: String,
    /// Extra lines for `[auth]` (before the key tables).
    pub auth: String,
    /// `upstream.url` (default: the simulator's).
    pub upstream_url: Option<String>,
    /// `audit.path` (default: `audit.jsonl` in the temp folder).
    pub audit_path: Option<String>,
    /// TOML appended at the end (more grants, routes...).
    pub extra: String,
    /// The simulator's PKI (default: a fresh one); `ca.pem` is its CA.
    pub pki: Option<TestPki>,
    /// Write the `[[auth.pem]]` (ed1) and `[[auth.hmac]]` (hs1) keys (default true).
    pub local_keys: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            // Characters that need JSON escaping, and a non-ASCII one.
            acme_password: format!("Acme\"pw\\{}✓", hex(8)),
            sim_acme_password: None,
            globex_password: format!("globex-{}", hex(8)),
            slow: Duration::from_secs(2),
            server: String::new(),
            upstream: String::new(),
            audit: String::new(),
            auth: String::new(),
            upstream_url: None,
            audit_path: None,
            extra: String::new(),
            pki: None,
            local_keys: true,
        }
    }
}

/// The `[auth]` key tables of the test config (EdDSA `ed1`, HMAC `hs1`).
const LOCAL_KEYS: &str = r#"
[[auth.pem]]
kid = "ed1"
alg = "EdDSA"
file = "ed.pub.pem"

[[auth.hmac]]
kid = "hs1"
secret_file = "hmac.secret"
"#;

/// Key files, secrets and a config file on disk; nothing running.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub pki: TestPki,
    pub config_path: PathBuf,
    pub config_text: String,
    pub audit_path: PathBuf,
    pub ed_private_pem: String,
    pub ed_private_path: PathBuf,
    pub hmac_path: PathBuf,
    pub hmac_secret: String,
    pub audit_key: String,
    pub acme_password: String,
    pub sim_acme_password: String,
    pub globex_password: String,
    pub slow: Duration,
    ed_key: EncodingKey,
    hs_key: EncodingKey,
    tokens: Mutex<Vec<String>>,
}

impl Fixture {
    /// Writes every file; `upstream_url` is used unless the setup overrides it.
    pub fn new(setup: Setup, pki: TestPki, upstream_url: &str) -> Fixture {
        let dir = tempfile::Builder::new().prefix("hsgate-it-").tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let ed = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let ed_private_pem = ed.serialize_pem();
        let ed_private_path = write("ed.key.pem", &ed_private_pem);
        write("ed.pub.pem", &ed.public_key_pem());
        let hmac_secret = format!("hs-secret-{}", hex(16));
        // A trailing newline, as secret files usually have: it must be trimmed.
        let hmac_path = write("hmac.secret", &format!("{hmac_secret}\n"));
        let audit_key = format!("audit-key-{}", hex(16));
        write("audit.key", &format!("{audit_key}\n"));
        write("acme.password", &setup.acme_password);
        write("globex.password", &format!("{}\n", setup.globex_password));
        write("ca.pem", &pki.ca_pem);
        let audit_path = match &setup.audit_path {
            Some(p) => PathBuf::from(p),
            None => dir.path().join("audit.jsonl"),
        };
        let url = setup.upstream_url.clone().unwrap_or_else(|| upstream_url.to_owned());
        let config_text = format!(
            r#"[server]
listen = "127.0.0.1:0"
{server}

[admin]
listen = "127.0.0.1:0"

[upstream]
url = "{url}"
ca_file = "ca.pem"
{upstream}

[auth]
issuers = ["{ISSUER}"]
audiences = ["{AUDIENCE}", "other-audience"]
algorithms = ["EdDSA", "HS256"]
{auth}
{local_keys}

[audit]
sink = "file"
path = "{audit}"
hmac_key_file = "audit.key"
{audit_extra}

[[profile]]
name = "acme"
customer_name = "{ACME_CUSTOMER}"
user_name = "{ACME_USER}"
password_file = "acme.password"

[[profile]]
name = "globex"
customer_name = "{GLOBEX_CUSTOMER}"
user_name = "{GLOBEX_USER}"
password_file = "globex.password"

[[grant]]
name = "notes-service"
claims = {{ sub = "{SUB}" }}
profiles = ["acme"]
routes = ["calls.update"]

[[grant]]
name = "multi"
claims = {{ sub = "{SUB_MULTI}" }}
profiles = ["acme", "globex"]
routes = ["calls.update"]
{extra}
"#,
            server = setup.server,
            upstream = setup.upstream,
            audit = audit_path.display(),
            audit_extra = setup.audit,
            auth = setup.auth,
            extra = setup.extra,
            local_keys = if setup.local_keys { LOCAL_KEYS } else { "" },
        );
        let config_path = write("hsgate.toml", &config_text);
        let ed_key = EncodingKey::from_ed_pem(ed_private_pem.as_bytes()).unwrap();
        let hs_key = EncodingKey::from_secret(hmac_secret.as_bytes());
        Fixture {
            dir,
            pki,
            config_path,
            config_text,
            audit_path,
            ed_private_pem,
            ed_private_path,
            hmac_path,
            hmac_secret,
            audit_key,
            sim_acme_password: setup.sim_acme_password.unwrap_or_else(|| setup.acme_password.clone()),
            acme_password: setup.acme_password,
            globex_password: setup.globex_password,
            slow: setup.slow,
            ed_key,
            hs_key,
            tokens: Mutex::new(Vec::new()),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Remembers a token so that the leak check looks for it.
    pub fn remember(&self, token: &str) {
        self.tokens.lock().unwrap().push(token.to_owned());
    }

    /// Standard claims for `sub`, valid for 10 minutes, with a `jti`.
    pub fn claims(&self, sub: &str) -> Map<String, Value> {
        hsgate::token::claims(ISSUER, AUDIENCE, sub, Duration::from_secs(600))
    }

    /// A valid EdDSA token for `sub`.
    pub fn token(&self, sub: &str) -> String {
        self.sign_ed(&self.claims(sub))
    }

    pub fn sign_ed(&self, claims: &Map<String, Value>) -> String {
        let t = hsgate::token::sign(Algorithm::EdDSA, Some(ED_KID), &self.ed_key, claims).unwrap();
        self.remember(&t);
        t
    }

    pub fn sign_hs(&self, claims: &Map<String, Value>) -> String {
        let t = hsgate::token::sign(Algorithm::HS256, Some(HS_KID), &self.hs_key, claims).unwrap();
        self.remember(&t);
        t
    }

    /// A hand-made token: any header, any payload, signed with the configured
    /// EdDSA key (EdDSA) or HMAC secret (HS*).
    pub fn craft(&self, header: &Value, payload: &Value, alg: Algorithm) -> String {
        let key = if alg == Algorithm::EdDSA { &self.ed_key } else { &self.hs_key };
        let t = craft(header, payload, key, alg);
        self.remember(&t);
        t
    }

    /// Every secret of this fixture (passwords, HMAC secret, audit key, tokens minted).
    pub fn secrets(&self) -> Vec<String> {
        let mut s = vec![
            self.acme_password.clone(),
            self.sim_acme_password.clone(),
            self.globex_password.clone(),
            self.hmac_secret.clone(),
            self.audit_key.clone(),
        ];
        s.extend(self.tokens.lock().unwrap().iter().cloned());
        s.sort();
        s.dedup();
        s
    }

    /// The audit file's bytes (missing file or a device such as /dev/full: none).
    pub fn audit_bytes(&self) -> Vec<u8> {
        match std::fs::metadata(&self.audit_path) {
            Ok(m) if m.is_file() => std::fs::read(&self.audit_path).unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// The audit file as JSON records (missing file: none). A last line with
    /// no newline yet is a write still under way (a read may see part of a
    /// write(2) to a regular file): left for the next read.
    pub fn audit_records(&self) -> Vec<Value> {
        let mut bytes = self.audit_bytes();
        bytes.truncate(bytes.iter().rposition(|&b| b == b'\n').map_or(0, |at| at + 1));
        let text = String::from_utf8(bytes).expect("the audit file is UTF-8");
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("audit line is not JSON ({e}): {l}")))
            .collect()
    }

    /// Audit records of one request id.
    pub fn audit_for(&self, request_id: &str) -> Vec<Value> {
        self.audit_records().into_iter().filter(|r| r["request_id"] == request_id).collect()
    }

    /// Waits (with a deadline) until the response record of `request_id` is in the file.
    pub async fn wait_response_record(&self, request_id: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let found: Vec<Value> =
                self.audit_for(request_id).into_iter().filter(|r| r["phase"] == "response").collect();
            if let Some(r) = found.into_iter().next() {
                return r;
            }
            assert!(Instant::now() < deadline, "no audit response record for {request_id}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// base64url(header).base64url(payload).signature
pub fn craft(header: &Value, payload: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let h = URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).unwrap());
    let p = URL_SAFE_NO_PAD.encode(serde_json::to_vec(payload).unwrap());
    let message = format!("{h}.{p}");
    let sig = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).unwrap();
    format!("{message}.{sig}")
}

/// An unsigned (`alg: none`) token.
pub fn unsigned(payload: &Value) -> String {
    let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let p = URL_SAFE_NO_PAD.encode(serde_json::to_vec(payload).unwrap());
    format!("{h}.{p}.")
}

/// Unix seconds now.
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// The forms a secret may take in text: as is, JSON-escaped once and twice, ASCII-escaped.
pub fn secret_forms(secret: &str) -> Vec<String> {
    let esc = |s: &str| {
        let j = serde_json::to_string(s).unwrap();
        j[1..j.len() - 1].to_owned()
    };
    let ascii = |s: &str| {
        let mut out = String::new();
        for c in s.chars() {
            if c.is_ascii() {
                out.push(c);
            } else {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
        }
        out
    };
    let once = esc(secret);
    let twice = esc(&once);
    let mut forms = vec![secret.to_owned(), once.clone(), twice, ascii(&once), ascii(&once).to_uppercase()];
    forms.sort();
    forms.dedup();
    forms
}

/// Panics if `haystack` holds any form of any secret.
pub fn assert_no_secret(what: &str, haystack: &[u8], secrets: &[String]) {
    let text = String::from_utf8_lossy(haystack);
    for s in secrets {
        for form in secret_forms(s) {
            assert!(!text.contains(&form), "{what} leaks a secret ({form:?}):\n{text}");
        }
    }
}

pub mod cli;
mod http;
pub use http::*;

// ---------------------------------------------------------------- environment

/// Fixture + simulator + running gateway.
pub struct TestEnv {
    pub fx: Fixture,
    pub sim: Simulator,
    pub running: Option<Running>,
    pub addr: SocketAddr,
    pub admin_addr: SocketAddr,
    responses: Mutex<Vec<Vec<u8>>>,
}

impl std::ops::Deref for TestEnv {
    type Target = Fixture;
    fn deref(&self) -> &Fixture {
        &self.fx
    }
}

/// Starts a simulator on loopback TLS with the acme and globex accounts.
pub async fn start_sim(pki: &TestPki, acme_password: &str, globex_password: &str, slow: Duration) -> Simulator {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let accounts = vec![
        Account {
            customer_name: ACME_CUSTOMER.into(),
            user_name: ACME_USER.into(),
            password: SecretString::from(acme_password.to_owned()),
        },
        Account {
            customer_name: GLOBEX_CUSTOMER.into(),
            user_name: GLOBEX_USER.into(),
            password: SecretString::from(globex_password.to_owned()),
        },
    ];
    Simulator::start(listener, pki.server_config().unwrap(), SimOptions { accounts, slow, ..SimOptions::default() })
        .unwrap()
}

impl TestEnv {
    /// Starts everything; panics on any error.
    pub async fn start(tweak: impl FnOnce(&mut Setup)) -> TestEnv {
        match TestEnv::try_start(tweak).await {
            Ok(env) => env,
            Err(e) => panic!("{e}"),
        }
    }

    /// Starts everything; a config that does not load is returned as the error.
    pub async fn try_start(tweak: impl FnOnce(&mut Setup)) -> Result<TestEnv, hsgate::config::ConfigError> {
        let mut setup = Setup::default();
        tweak(&mut setup);
        let pki = setup.pki.take().unwrap_or_else(|| TestPki::generate().unwrap());
        let sim_pw = setup.sim_acme_password.clone().unwrap_or_else(|| setup.acme_password.clone());
        let sim = start_sim(&pki, &sim_pw, &setup.globex_password, setup.slow).await;
        let fx = Fixture::new(setup, pki, &sim.url());
        let config = hsgate::config::load_str(&fx.config_text, &fx.config_path)?;
        let running = hsgate::server::start(config).await.unwrap_or_else(|e| panic!("start: {e}"));
        Ok(TestEnv {
            addr: running.addr,
            admin_addr: running.admin_addr,
            running: Some(running),
            fx,
            sim,
            responses: Mutex::new(Vec::new()),
        })
    }

    /// `POST /api/calls/update` with a bearer token and a JSON body.
    pub fn req(&self, token: &str, body: &Value) -> Req {
        Req::new("POST", PATH)
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .json(body)
    }

    /// Sends a request to the gateway; every answer is kept for the leak check.
    pub async fn send(&self, req: &Req) -> Resp {
        let resp = exchange(self.addr, &req.to_bytes()).await;
        self.keep(&resp);
        resp
    }

    pub fn keep(&self, resp: &Resp) {
        self.responses.lock().unwrap().push(resp.raw.clone());
    }

    /// `POST /api/calls/update` with `token` and `body`.
    pub async fn post(&self, token: &str, body: &Value) -> Resp {
        self.send(&self.req(token, body)).await
    }

    /// A valid update of `id` as `sub` (fresh token).
    pub async fn update(&self, sub: &str, id: &str, notes: &str) -> Resp {
        let token = self.token(sub);
        self.post(&token, &json!({"Id": id, "Notes": notes})).await
    }

    pub async fn metrics(&self) -> String {
        let r = get(self.admin_addr, "/metrics").await;
        assert_eq!(r.status, 200);
        r.text()
    }

    /// The audit file, every answer received so far and /metrics hold no secret.
    pub async fn assert_no_leaks(&self) {
        let secrets = self.secrets();
        let audit = self.audit_bytes();
        assert_no_secret("audit file", &audit, &secrets);
        for raw in self.responses.lock().unwrap().iter() {
            assert_no_secret("a response", raw, &secrets);
        }
        let metrics = self.metrics().await;
        assert_no_secret("/metrics", metrics.as_bytes(), &secrets);
    }

    /// The running gateway's process state.
    pub fn shared(&self) -> std::sync::Arc<hsgate::state::Shared> {
        self.running.as_ref().expect("the gateway is running").shared.clone()
    }

    /// Reloads the config file as SIGHUP does; true if the new config is in force.
    pub async fn reload(&self) -> bool {
        hsgate::reload::reload(&self.shared(), &self.config_path, hsgate::reload::Trigger::Signal).await
    }

    /// Graceful shutdown (flushes the audit sink).
    pub async fn shutdown(&mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }
}

/// Asserts a gateway-made error: status, ErrorCode, ServiceStack shape, headers.
pub fn assert_error(resp: &Resp, status: u16, code: &str, what: &str) {
    assert_eq!(resp.status, status, "{what}: status; body {}", resp.text());
    let v = resp.json();
    assert_eq!(v["ResponseStatus"]["ErrorCode"], code, "{what}: ErrorCode; body {}", resp.text());
    assert!(v["ResponseStatus"]["Message"].is_string(), "{what}: Message; body {}", resp.text());
    assert!(v["ResponseStatus"]["Errors"].is_array(), "{what}: Errors; body {}", resp.text());
    let ct = resp.header("content-type").unwrap_or_default().to_ascii_lowercase();
    assert!(ct.starts_with("application/json"), "{what}: content-type {ct}");
    assert!(!resp.request_id().is_empty(), "{what}: X-Request-Id missing");
}

/// Every string in a JSON document, keys included.
pub fn all_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| all_strings(x, out)),
        Value::Object(m) => {
            for (k, x) in m {
                out.push(k.clone());
                all_strings(x, out);
            }
        }
        _ => {}
    }
}

/// Hex HMAC-SHA256.
pub fn hmac_hex(key: &str, data: &str) -> String {
    let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key.as_bytes());
    aws_lc_rs::hmac::sign(&k, data.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Polls `cond` until it holds or the deadline passes.
pub async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// Kubernetes' atomic writer for a Secret volume: `name -> ..data/name`,
/// `..data -> ..<version>`, the `..data` link swapped by a rename.
pub fn k8s_secret(dir: &Path, version: &str, name: &str, value: &str) {
    let versioned = dir.join(format!("..{version}"));
    std::fs::create_dir_all(&versioned).unwrap();
    std::fs::write(versioned.join(name), value).unwrap();
    let tmp = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(format!("..{version}"), &tmp).unwrap();
    std::fs::rename(&tmp, dir.join("..data")).unwrap();
    let link = dir.join(name);
    if std::fs::symlink_metadata(&link).is_err() {
        std::os::unix::fs::symlink(format!("..data/{name}"), &link).unwrap();
    }
}
