#![allow(clippy::unwrap_used, clippy::expect_used)]
//! SPEC §2 and §7: the real `hsgate` binary.

mod common;

use std::path::Path;
use std::time::Duration;

use common::cli::*;
use common::*;
use hsgate::sim::TestPki;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_subcommand_has_help() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["check", "--help"],
        vec!["demo", "--help"],
        vec!["simulate", "--help"],
        vec!["token", "--help"],
        vec!["explain", "--help"],
        vec!["completions", "--help"],
        vec!["man", "--help"],
        vec!["help", "serve"],
    ] {
        let out = run(&args).await;
        assert!(out.status.success(), "{args:?}: {}", out.stderr);
        assert!(out.stdout.contains("Usage"), "{args:?}: {}", out.stdout);
    }
    let top = run(&["--help"]).await.stdout;
    for sub in ["serve", "check", "demo", "simulate", "token", "explain", "completions", "man"] {
        assert!(top.contains(sub), "top-level help lacks {sub}");
    }
    let token = run(&["token", "--help"]).await.stdout.to_lowercase();
    assert!(token.contains("development") && token.contains("test"), "token --help: {token}");
    let serve = run(&["serve", "--help"]).await.stdout;
    assert!(serve.contains("--config") && serve.contains("HSGATE_CONFIG"), "{serve}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_accepts_a_good_config_and_prints_no_secret() {
    let fx = fixture(|_| {});
    let config = path_str(&fx.config_path);
    let out = run(&["check", "--config", &config]).await;
    assert_eq!(out.status.code(), Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("valid"), "{}", out.stdout);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert_no_secret("check output", all.as_bytes(), &fx.secrets());

    // The config path may come from HSGATE_CONFIG.
    let out = run_env(&["check"], &[("HSGATE_CONFIG", &config)]).await;
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);

    // An inline secret is accepted with a warning, and still not printed.
    let inline = format!("inline-pw-{}", hex(8));
    let text = fx.config_text.replacen("password_file = \"acme.password\"", &format!("password = \"{inline}\""), 1);
    let path = write_config(&fx, "inline.toml", &text);
    let out = run(&["check", "--config", &path]).await;
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(all.to_lowercase().contains("warn"), "no warning for an inline secret: {all}");
    assert!(!all.contains(&inline), "check printed the inline password");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_every_problem_with_file_and_key() {
    let fx = fixture(|s| {
        s.server = "bogus_key = 1".into();
        s.upstream = "timeout = \"soon\"".into();
    });
    let config = path_str(&fx.config_path);
    let out = run(&["check", "--config", &config]).await;
    assert_eq!(out.status.code(), Some(2), "{}{}", out.stdout, out.stderr);
    for needle in ["server.bogus_key", "upstream.timeout", config.as_str()] {
        assert!(out.stderr.contains(needle), "stderr lacks {needle}:\n{}", out.stderr);
    }
    assert_no_secret("check errors", format!("{}{}", out.stdout, out.stderr).as_bytes(), &fx.secrets());
}

/// `check` builds what `serve` builds: an audit file that cannot be opened
/// fails both, with exit 2 naming the file and `audit.path`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_audit_path_fails_check_and_serve_alike() {
    let fx = fixture(|s| s.audit_path = Some("/nonexistent-hsgate-dir/audit.jsonl".into()));
    let config = path_str(&fx.config_path);
    for command in ["check", "serve"] {
        let out = run(&[command, "--config", &config]).await;
        assert_eq!(out.status.code(), Some(2), "{command}: {}", out.stderr);
        for needle in ["audit.path", "/nonexistent-hsgate-dir/audit.jsonl", config.as_str()] {
            assert!(out.stderr.contains(needle), "{command}: stderr lacks {needle}: {}", out.stderr);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_exit_codes_for_config_and_bind_errors() {
    let fx = fixture(|_| {});
    let missing = path_str(&fx.path("does-not-exist.toml"));
    let out = run(&["serve", "--config", &missing]).await;
    assert_eq!(out.status.code(), Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("does-not-exist.toml"), "{}", out.stderr);

    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let text =
        fx.config_text.replacen("listen = \"127.0.0.1:0\"", &format!("listen = \"{}\"", busy.local_addr().unwrap()), 1);
    let path = write_config(&fx, "busy.toml", &text);
    let out = run(&["serve", "--config", &path]).await;
    assert_eq!(out.status.code(), Some(1), "port in use: {}", out.stderr);
    drop(busy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_until_sigterm_and_exits_0() {
    let setup = Setup::default();
    let pki = TestPki::generate().unwrap();
    let sim = start_sim(&pki, &setup.acme_password, &setup.globex_password, Duration::from_secs(1)).await;
    let fx = Fixture::new(setup, pki, &sim.url());
    let mut served = serve(&fx.config_path).await;
    assert_eq!(get(served.admin, "/readyz").await.status, 200);
    assert_eq!(get(served.admin, "/healthz").await.status, 200);
    let token = fx.token(SUB);
    let req = Req::new("POST", PATH)
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .header("X-Request-Id", "cli-serve-1")
        .json(&json!({"Id": "call-1001", "Notes": "via the binary"}));
    let resp = exchange(served.addr, &req.to_bytes()).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(sim.requests().len(), 1);

    signal(served.child.id().unwrap(), "-TERM");
    let status = wait_exit(&mut served.child).await;
    assert_eq!(status.code(), Some(0), "exit after SIGTERM");
    // The audit sink was flushed.
    let phases: Vec<Value> = fx.audit_for("cli-serve-1").iter().map(|r| r["phase"].clone()).collect();
    assert_eq!(phases, vec![json!("request"), json!("response")]);
    // Diagnostic logs carry no secret.
    let mut logs = String::new();
    while let Ok(line) = served.logs.try_recv() {
        logs.push_str(&line);
        logs.push('\n');
    }
    assert_no_secret("serve logs", logs.as_bytes(), &fx.secrets());
    assert_no_secret("audit file", &fx.audit_bytes(), &fx.secrets());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_audit_on_stdout_and_logs_on_stderr() {
    let setup = Setup::default();
    let pki = TestPki::generate().unwrap();
    let sim = start_sim(&pki, &setup.acme_password, &setup.globex_password, Duration::from_secs(1)).await;
    let fx = Fixture::new(setup, pki, &sim.url());
    let file_sink = format!("sink = \"file\"\npath = \"{}\"\n", fx.audit_path.display());
    assert!(fx.config_text.contains(&file_sink));
    let text = fx.config_text.replacen(&file_sink, "sink = \"stdout\"\n", 1);
    let config = write_config(&fx, "stdout.toml", &text);
    let mut served = serve(Path::new(&config)).await;
    let token = fx.token(SUB);
    let req = Req::new("POST", PATH)
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .header("X-Request-Id", "cli-stdout-1")
        .json(&json!({"Id": "call-1001", "Notes": "stdout sink"}));
    assert_eq!(exchange(served.addr, &req.to_bytes()).await.status, 200);
    signal(served.child.id().unwrap(), "-TERM");
    assert_eq!(wait_exit(&mut served.child).await.code(), Some(0));

    let mut stdout = String::new();
    tokio::io::AsyncReadExt::read_to_string(served.stdout.as_mut().unwrap(), &mut stdout).await.unwrap();
    let records: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("stdout line is not an audit record ({e}): {l}")))
        .collect();
    assert!(records.iter().all(|r| r["kind"] == "hsgate.audit"), "{stdout}");
    let phases: Vec<&Value> =
        records.iter().filter(|r| r["request_id"] == "cli-stdout-1").map(|r| &r["phase"]).collect();
    assert_eq!(phases, vec!["request", "response"]);
    let mut logs = String::new();
    while let Ok(line) = served.logs.try_recv() {
        logs.push_str(&line);
        logs.push('\n');
    }
    assert!(!logs.contains("hsgate.audit"), "audit records in the diagnostic log");
    assert_no_secret("stdout", stdout.as_bytes(), &fx.secrets());
    assert_no_secret("stderr", logs.as_bytes(), &fx.secrets());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minted_tokens_are_accepted() {
    let env = TestEnv::start(|_| {}).await;
    let hmac = path_str(&env.hmac_path);
    let ed = path_str(&env.ed_private_path);
    let cases = [
        vec!["token", "--key", hmac.as_str(), "--alg", "HS256", "--kid", HS_KID],
        vec!["token", "--key", ed.as_str(), "--alg", "EdDSA", "--kid", ED_KID],
        vec!["token", "--key", ed.as_str(), "--alg", "EdDSA", "--claim", "team=notes", "--ttl", "5m"],
    ];
    for base in cases {
        let mut args = base.clone();
        args.extend(["--iss", ISSUER, "--aud", AUDIENCE, "--sub", SUB]);
        let out = run(&args).await;
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", out.stderr);
        let token = out.stdout.trim().to_owned();
        assert_eq!(token.split('.').count(), 3, "{token}");
        env.remember(&token);
        let resp = env.send(&env.req(&token, &json!({"Id": "call-1001", "Notes": "minted"}))).await;
        assert_eq!(resp.status, 200, "{args:?}: {}", resp.text());
    }
    // A minted token for another audience is refused.
    let out =
        run(&["token", "--key", &ed, "--alg", "EdDSA", "--kid", ED_KID, "--iss", ISSUER, "--aud", "x", "--sub", SUB])
            .await;
    let token = out.stdout.trim().to_owned();
    env.remember(&token);
    let resp = env.send(&env.req(&token, &json!({"Id": "call-1001", "Notes": "minted"}))).await;
    assert_error(&resp, 401, "InvalidToken", "wrong audience");
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_and_reopens_the_audit_file() {
    let setup = Setup::default();
    let pki = TestPki::generate().unwrap();
    let sim = start_sim(&pki, &setup.acme_password, &setup.globex_password, Duration::from_secs(1)).await;
    let fx = Fixture::new(setup, pki, &sim.url());
    let mut served = serve(&fx.config_path).await;
    let send = |rid: &'static str, sub: &'static str| {
        let token = fx.token(sub);
        let req = Req::new("POST", PATH)
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .header("X-Request-Id", rid)
            .json(&json!({"Id": "call-1001", "Notes": "hup"}));
        let addr = served.addr;
        async move { exchange(addr, &req.to_bytes()).await }
    };
    assert_eq!(send("hup-1", SUB).await.status, 200);
    assert_eq!(send("hup-1b", "svc-new").await.status, 403);
    fx.wait_response_record("hup-1b").await;

    // Rotate the audit file and add a grant, then SIGHUP.
    std::fs::rename(&fx.audit_path, fx.path("audit.jsonl.1")).unwrap();
    let text = format!(
        "{}\n[[grant]]\nname = \"new\"\nclaims = {{ sub = \"svc-new\" }}\nprofiles = [\"acme\"]\nroutes = [\"calls.update\"]\n",
        fx.config_text
    );
    std::fs::write(&fx.config_path, text).unwrap();
    signal(served.child.id().unwrap(), "-HUP");
    let deadline = Instant::now() + WAIT;
    loop {
        let m = get(served.admin, "/metrics").await.text();
        if m.contains("hsgate_config_reloads_total{result=\"success\"}") {
            break;
        }
        assert!(Instant::now() < deadline, "no successful reload counted:\n{m}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(send("hup-2", "svc-new").await.status, 200, "the reloaded grant is not in force");
    fx.wait_response_record("hup-2").await;
    assert!(fx.path("audit.jsonl").exists(), "audit file not reopened after SIGHUP");

    signal(served.child.id().unwrap(), "-TERM");
    assert_eq!(wait_exit(&mut served.child).await.code(), Some(0));
}

/// The README's first command: `hsgate demo` prints a curl line whose token
/// works against the gateway it started, and the audit record appears on stdout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_prints_a_working_curl_line() {
    let mut child = spawn_piped(&["demo", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"]);
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let (mut url, mut token, mut config) = (None, None, None);
    let deadline = Instant::now() + WAIT;
    while token.is_none() {
        let line = tokio::time::timeout_at(deadline, stderr.next_line()).await.expect("no curl line in time").unwrap();
        let line = line.expect("demo exited before printing a curl line");
        if let Some(rest) = line.trim().strip_prefix("config ") {
            config = Some(std::path::PathBuf::from(rest.trim()));
        }
        if let Some(rest) = line.strip_prefix("curl -sS ") {
            url = rest.split_whitespace().next().map(str::to_owned);
        }
        if let Some(rest) = line.trim().strip_prefix("-H 'Authorization: Bearer ") {
            token = rest.split('\'').next().map(str::to_owned);
        }
    }
    let url = url.expect("curl line names the gateway URL");
    let addr: std::net::SocketAddr = url.trim_start_matches("http://").split('/').next().unwrap().parse().unwrap();
    let req = Req::new("POST", "/api/calls/update")
        .header("Authorization", &format!("Bearer {}", token.unwrap()))
        .header("Content-Type", "application/json")
        .json(&json!({"Id": "call-1001", "Notes": "demo test"}));
    let resp = exchange(addr, &req.to_bytes()).await;
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    let doc: Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(doc["Notes"], "demo test");

    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut phases = Vec::new();
    while phases.len() < 2 {
        let line = tokio::time::timeout_at(deadline, stdout.next_line()).await.expect("no audit line in time").unwrap();
        let record: Value = serde_json::from_str(&line.expect("stdout closed")).expect("stdout holds JSON audit lines");
        assert_eq!(record["kind"], "hsgate.audit");
        phases.push(record["phase"].as_str().unwrap().to_owned());
    }
    assert_eq!(phases, ["request", "response"]);

    // The demo's folder holds its password: the owner's alone, and so is each file.
    use std::os::unix::fs::PermissionsExt;
    let config = config.expect("the demo names its config");
    let folder = config.parent().unwrap().to_owned();
    assert_eq!(std::fs::metadata(&folder).unwrap().permissions().mode() & 0o777, 0o700, "{folder:?}");
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600, "{path:?}");
    }
    // SIGTERM, like Ctrl-C, stops it and removes the folder.
    signal(child.id().unwrap(), "-TERM");
    assert!(wait_exit(&mut child).await.success(), "demo exits 0 on SIGTERM");
    assert!(!folder.exists(), "{folder:?} is left behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_every_connection_slot_held_by_silent_clients_exits() {
    // Silent clients would hold their slots for a minute; the grace is 1 s.
    let fx = fixture(|s| {
        s.server =
            "max_connections = 2\nheader_read_timeout = \"60s\"\nidle_timeout = \"60s\"\nshutdown_grace = \"1s\""
                .into();
    });
    let mut served = serve(&fx.config_path).await;
    let mut silent = Vec::new();
    for _ in 0..4 {
        silent.push(tokio::net::TcpStream::connect(served.addr).await.unwrap());
    }
    // The cap is reached once the gateway has accepted two of them.
    let deadline = Instant::now() + WAIT;
    loop {
        let line = tokio::time::timeout_at(deadline, served.logs.recv()).await.expect("no cap log line").unwrap();
        if line.contains("connection cap reached") {
            break;
        }
    }
    signal(served.child.id().unwrap(), "-TERM");
    let status = wait_exit(&mut served.child).await;
    assert_eq!(status.code(), Some(0), "exit after SIGTERM with every slot held");
    drop(silent);
}

async fn successful_reloads(admin: std::net::SocketAddr) -> u64 {
    let m = get(admin, "/metrics").await.text();
    m.lines()
        .find_map(|l| l.strip_prefix("hsgate_config_reloads_total{result=\"success\"} "))
        .map_or(0, |n| n.parse().unwrap())
}

async fn wait_reloads(admin: std::net::SocketAddr, at_least: u64) {
    let deadline = Instant::now() + WAIT;
    while successful_reloads(admin).await < at_least {
        assert!(Instant::now() < deadline, "no reload after the files changed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_files_reload_without_a_signal() {
    let setup = Setup { sim_acme_password: Some(format!("rotated-{}", hex(8))), ..Setup::default() };
    let pki = TestPki::generate().unwrap();
    let sim_pw = setup.sim_acme_password.clone().unwrap();
    let sim = start_sim(&pki, &sim_pw, &setup.globex_password, Duration::from_secs(1)).await;
    let fx = Fixture::new(setup, pki, &sim.url());
    // The password as a Kubernetes Secret volume, still holding the old value.
    let secrets = fx.path("secrets");
    k8s_secret(&secrets, "2026_11_01", "acme.password", &fx.acme_password);
    let text = fx.config_text.replace("password_file = \"acme.password\"", "password_file = \"secrets/acme.password\"");
    std::fs::write(&fx.config_path, &text).unwrap();
    let mut served = serve(&fx.config_path).await;
    let send = |sub: &'static str| {
        let token = fx.token(sub);
        let req = Req::new("POST", PATH)
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .json(&json!({"Id": "call-1001", "Notes": "rotation"}));
        let addr = served.addr;
        async move { exchange(addr, &req.to_bytes()).await }
    };
    assert_error(&send(SUB).await, 502, "UpstreamCredentialsRejected", "the old password");

    // The Secret is rotated in place: no signal.
    k8s_secret(&secrets, "2026_12_01", "acme.password", &sim_pw);
    wait_reloads(served.admin, 1).await;
    assert_eq!(send(SUB).await.status, 200, "the rotated password is in force");

    // The config file itself, edited in place: a new grant.
    let with_grant = format!(
        "{text}\n[[grant]]\nname = \"new\"\nclaims = {{ sub = \"svc-new\" }}\nprofiles = [\"acme\"]\nroutes = [\"calls.update\"]\n"
    );
    let before = successful_reloads(served.admin).await;
    std::fs::write(&fx.config_path, with_grant).unwrap();
    wait_reloads(served.admin, before + 1).await;
    assert_eq!(send("svc-new").await.status, 200, "the edited config is in force");

    signal(served.child.id().unwrap(), "-TERM");
    assert_eq!(wait_exit(&mut served.child).await.code(), Some(0));
    assert_no_secret("audit file", &fx.audit_bytes(), &fx.secrets());
}
