#![allow(clippy::unwrap_used, clippy::expect_used)]
//! What operators reach for first, on the real binary: log format and level
//! on every command, one log line per request, `check`'s listen and watch
//! lines, `explain`'s verdicts, shell completions and the man page.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::cli::*;
use common::*;
use hsgate::sim::TestPki;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{ChildStderr, Command};
use tokio::time::Instant;

/// A config whose upstream is a running simulator.
async fn served_fixture() -> (Fixture, hsgate::sim::Simulator) {
    let setup = Setup::default();
    let pki = TestPki::generate().unwrap();
    let sim = start_sim(&pki, &setup.acme_password, &setup.globex_password, Duration::from_secs(1)).await;
    (Fixture::new(setup, pki, &sim.url()), sim)
}

async fn drain_logs(served: &mut Served) -> Vec<String> {
    signal(served.child.id().unwrap(), "-TERM");
    assert_eq!(wait_exit(&mut served.child).await.code(), Some(0));
    let mut lines = Vec::new();
    while let Some(line) = served.logs.recv().await {
        lines.push(line);
    }
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_logs_one_json_line_per_request() {
    let (fx, _sim) = served_fixture().await;
    let mut served = serve(&fx.config_path).await;
    let token = fx.token(SUB);
    let ok = Req::new("POST", PATH)
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .header("X-Request-Id", "log-line-ok")
        .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        .json(&json!({"Id": "call-1001", "Notes": "logged"}));
    assert_eq!(exchange(served.addr, &ok.to_bytes()).await.status, 200);
    let refused = ok.clone().set("Authorization", "Bearer nope").set("X-Request-Id", "log-line-401");
    assert_eq!(exchange(served.addr, &refused.to_bytes()).await.status, 401);
    let lines = drain_logs(&mut served).await;

    let events: Vec<Value> = lines.iter().map(|l| serde_json::from_str(l).expect("a JSON log line")).collect();
    let of = |id: &str| -> Vec<&Value> {
        events.iter().filter(|e| e["message"] == "request" && e["request_id"] == id).collect()
    };
    let ok_lines = of("log-line-ok");
    assert_eq!(ok_lines.len(), 1, "one line for the request:\n{}", lines.join("\n"));
    let line = ok_lines[0];
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["route"], "calls.update");
    assert_eq!(line["status"], 200);
    assert_eq!(line["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert!(line["duration_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{line}");
    let refused_lines = of("log-line-401");
    assert_eq!(refused_lines.len(), 1, "{}", lines.join("\n"));
    assert_eq!(refused_lines[0]["status"], 401);
    assert_eq!(refused_lines[0]["error_code"], "InvalidToken");
    assert_no_secret("serve logs", lines.join("\n").as_bytes(), &fx.secrets());
}

/// The binary with `args`, no log settings but `vars`, and its stderr lines.
fn with_stderr(args: &[&str], vars: &[(&str, &str)]) -> (tokio::process::Child, Lines<BufReader<ChildStderr>>) {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove("RUST_LOG").env_remove("HSGATE_LOG_FORMAT").env_remove("HSGATE_LOG_LEVEL");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let mut child =
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).kill_on_drop(true).spawn().unwrap();
    let lines = BufReader::new(child.stderr.take().unwrap()).lines();
    (child, lines)
}

/// The binary with `args` and extra environment, its stderr read line by
/// line until `until` matches one (or it exits); then killed.
async fn stderr_until(args: &[&str], vars: &[(&str, &str)], until: &str) -> Vec<String> {
    let (mut child, mut lines) = with_stderr(args, vars);
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    while let Ok(Some(line)) = tokio::time::timeout_at(deadline, lines.next_line()).await.expect("no line in time") {
        let done = line.contains(until);
        seen.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill().await;
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_format_from_the_flag_or_the_environment_and_no_colour_in_a_pipe() {
    let fx = fixture(|_| {});
    let config = path_str(&fx.config_path);
    let serve = ["serve", "--config", config.as_str()];
    let text_flag = stderr_until(&[&serve[..], &["--log-format", "text"]].concat(), &[], "hsgate serving").await;
    let text_env = stderr_until(&serve, &[("HSGATE_LOG_FORMAT", "text")], "hsgate serving").await;
    for lines in [&text_flag, &text_env] {
        let last = lines.last().expect("a log line");
        assert!(last.contains("hsgate serving") && last.contains("INFO"), "{lines:?}");
        assert!(lines.iter().all(|l| !l.starts_with('{')), "JSON in text mode: {lines:?}");
        assert!(lines.iter().all(|l| !l.contains('\u{1b}')), "ANSI codes on a pipe: {lines:?}");
    }
    // The interactive commands log text by default, JSON when asked.
    let demo = ["demo", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"];
    let text = stderr_until(&demo, &[], "hsgate serving").await;
    let last = text.last().expect("a demo log line");
    assert!(!last.starts_with('{') && !last.contains('\u{1b}'), "{text:?}");
    let json = stderr_until(&[&demo[..], &["--log-format", "json"]].concat(), &[], "hsgate serving").await;
    let v: Value = serde_json::from_str(json.last().unwrap()).expect("a JSON line");
    assert_eq!(v["message"], "hsgate serving");
    // A bad value is a usage error naming the flag.
    let out = run(&["check", "--config", &config, "--log-format", "xml"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stderr.contains("--log-format"), "{}", out.stderr);
}

/// `hsgate demo` with `args` and `vars`: waits for its curl line, sends the
/// request it shows, stops it with Ctrl-C and returns all it wrote on stderr.
async fn demo_stderr(args: &[&str], vars: &[(&str, &str)]) -> Vec<String> {
    let demo = ["demo", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"];
    let (mut child, mut lines) = with_stderr(&[&demo[..], args].concat(), vars);
    let deadline = Instant::now() + WAIT;
    let (mut seen, mut url, mut token) = (Vec::new(), None, None);
    while token.is_none() {
        let line = tokio::time::timeout_at(deadline, lines.next_line()).await.expect("no curl line in time").unwrap();
        let line = line.expect("demo exited before its curl line");
        if let Some(rest) = line.strip_prefix("curl -sS ") {
            url = rest.split_whitespace().next().map(str::to_owned);
        }
        if let Some(rest) = line.trim().strip_prefix("-H 'Authorization: Bearer ") {
            token = rest.split('\'').next().map(str::to_owned);
        }
        seen.push(line);
    }
    let url = url.expect("the curl line names the URL");
    let addr: std::net::SocketAddr = url.trim_start_matches("http://").split('/').next().unwrap().parse().unwrap();
    let req = Req::new("POST", PATH)
        .header("Authorization", &format!("Bearer {}", token.unwrap()))
        .header("Content-Type", "application/json")
        .json(&json!({"Id": "call-1001", "Notes": "log level"}));
    assert_eq!(exchange(addr, &req.to_bytes()).await.status, 200);
    signal(child.id().unwrap(), "-INT");
    while let Ok(Some(line)) = tokio::time::timeout_at(deadline, lines.next_line()).await.expect("demo did not exit") {
        seen.push(line);
    }
    assert!(wait_exit(&mut child).await.success());
    seen
}

fn info_lines(lines: &[String]) -> Vec<&String> {
    lines.iter().filter(|l| l.contains(" INFO ")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_level_from_the_flag_or_the_environment_wins_over_rust_log() {
    // The default level shows the per-request line (and the others at info).
    let default = demo_stderr(&[], &[]).await;
    assert!(info_lines(&default).iter().any(|l| l.contains("request") && l.contains("status=200")), "{default:?}");
    for (args, vars) in [
        (vec!["--log-level", "warn"], vec![("RUST_LOG", "info")]),
        (vec![], vec![("HSGATE_LOG_LEVEL", "warn"), ("RUST_LOG", "info")]),
        (vec![], vec![("RUST_LOG", "warn")]),
    ] {
        let lines = demo_stderr(&args, &vars).await;
        assert!(info_lines(&lines).is_empty(), "{args:?} {vars:?}: {lines:?}");
    }
    // The flag wins over the environment, in both directions.
    let lines = demo_stderr(&["--log-level", "info"], &[("HSGATE_LOG_LEVEL", "warn"), ("RUST_LOG", "warn")]).await;
    assert!(!info_lines(&lines).is_empty(), "{lines:?}");
    // A filter with a directive: only the gateway's request lines at info.
    let lines = demo_stderr(&["--log-level", "warn,hsgate::gateway=info"], &[]).await;
    let info = info_lines(&lines);
    assert!(!info.is_empty() && info.iter().all(|l| l.contains("hsgate::gateway")), "{lines:?}");

    let fx = fixture(|_| {});
    let config = path_str(&fx.config_path);
    let out = run(&["check", "--config", &config, "--log-level", "info,[bad"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("--log-level"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_prints_listen_addresses_and_watched_files() {
    let fx = fixture(|_| {});
    let out = run(&["check", "--config", &path_str(&fx.config_path)]).await;
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("listen        127.0.0.1:0"), "{}", out.stdout);
    let watched: Vec<&str> =
        out.stdout.lines().filter_map(|l| l.trim().strip_prefix("watches")).map(str::trim).collect();
    let config = path_str(&fx.config_path);
    let password = path_str(&fx.path("acme.password"));
    for file in [config.as_str(), password.as_str()] {
        assert!(watched.iter().any(|w| w.starts_with(file)), "{file} not in {watched:?}");
    }
}

async fn explain(fx: &Fixture, token: &str, more: &[&str]) -> Out {
    let config = path_str(&fx.config_path);
    let out = run(&[&["explain", "--config", config.as_str(), "--token", token][..], more].concat()).await;
    let all = format!("{}{}", out.stdout, out.stderr);
    assert_no_secret("explain output", all.as_bytes(), &fx.secrets());
    assert!(!all.contains(token) || token.len() < 20, "explain printed the token");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_exit_codes_and_what_it_names() {
    let fx = fixture(|_| {});
    let forwarded = explain(&fx, &fx.token(SUB), &[]).await;
    assert_eq!(forwarded.status.code(), Some(0), "{}{}", forwarded.stdout, forwarded.stderr);
    for needle in ["verified by  ed1", "notes-service", "matched", "route calls.update", ACME_CUSTOMER, PATH] {
        assert!(forwarded.stdout.contains(needle), "lacks {needle}:\n{}", forwarded.stdout);
    }
    assert!(forwarded.stdout.contains("would be forwarded"), "{}", forwarded.stdout);

    let mut expired = fx.claims(SUB);
    expired.insert("exp".into(), json!(now() - 3600));
    let refused = explain(&fx, &fx.sign_ed(&expired), &[]).await;
    assert_eq!(refused.status.code(), Some(3), "{}", refused.stdout);
    assert!(refused.stdout.contains("would be refused: 401 InvalidToken"), "{}", refused.stdout);

    let other = explain(&fx, &fx.token("svc-unknown"), &[]).await;
    assert_eq!(other.status.code(), Some(3));
    assert!(other.stdout.contains("403 Forbidden"), "{}", other.stdout);

    let multi = explain(&fx, &fx.token(SUB_MULTI), &["--profile", "globex"]).await;
    assert_eq!(multi.status.code(), Some(0), "{}", multi.stdout);
    assert!(multi.stdout.contains(GLOBEX_CUSTOMER), "{}", multi.stdout);
    let no_profile = explain(&fx, &fx.token(SUB_MULTI), &[]).await;
    assert_eq!(no_profile.status.code(), Some(3), "{}", no_profile.stdout);

    let wrong_path = explain(&fx, &fx.token(SUB), &["--path", "/api/calls/delete"]).await;
    assert_eq!(wrong_path.status.code(), Some(3));
    assert!(wrong_path.stdout.contains("404 NotFound"), "{}", wrong_path.stdout);

    let missing = run(&["explain", "--config", "/nonexistent/hsgate.toml", "--token", "x"]).await;
    assert_eq!(missing.status.code(), Some(2), "{}", missing.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_reads_the_token_from_stdin() {
    let fx = fixture(|_| {});
    let mut child = Command::new(BIN)
        .args(["explain", "--config", &path_str(&fx.config_path), "--token", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("Bearer {}\n", fx.token(SUB)).as_bytes()).await.unwrap();
    drop(stdin);
    let out = tokio::time::timeout(WAIT, child.wait_with_output()).await.unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("would be forwarded"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_and_man_page_cover_every_command() {
    let commands = ["serve", "check", "explain", "demo", "simulate", "token", "completions", "man"];
    for shell in ["bash", "zsh", "fish"] {
        let out = run(&["completions", shell]).await;
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", out.stderr);
        for c in commands {
            assert!(out.stdout.contains(c), "{shell} completion lacks {c}");
        }
        assert!(out.stdout.contains("log-format"), "{shell} completion lacks the global flags");
    }
    let man = run(&["man"]).await;
    assert_eq!(man.status.code(), Some(0), "{}", man.stderr);
    assert!(man.stdout.contains(".TH hsgate 1"), "not a man page: {}", &man.stdout[..man.stdout.len().min(200)]);
    for c in commands {
        assert!(man.stdout.contains(c), "man page lacks {c}");
    }
    let bad = run(&["completions", "tcsh"]).await;
    assert_eq!(bad.status.code(), Some(2));
}

/// `explain` is a dry run of the gateway: for each request below, its verdict
/// is the (status, ErrorCode) the running gateway gives the same request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_gives_the_gateways_answer_case_by_case() {
    let env = TestEnv::start(|s| {
        s.extra = "[[route]]\nname = \"calls.tag\"\npath = \"/api/calls/tag\"\nfields = [\"Id\"]\n".into();
    })
    .await;
    let shared = env.shared();
    let runtime = shared.runtime.load_full();
    let keys = shared.keys.current();
    let good = env.fx.token(SUB);
    let multi = env.fx.token(SUB_MULTI);
    let mut expired = env.fx.claims(SUB);
    expired.insert("exp".into(), json!(now() - 3600));
    let expired = env.fx.sign_ed(&expired);
    let stranger = env.fx.token("svc-stranger");
    let bad = format!("{good}x");
    // (Authorization value, target, HostedSuite-Profile)
    let cases: Vec<(String, &str, Option<&str>)> = vec![
        (format!("Bearer {good}"), PATH, None),
        (format!("bearer {good}"), PATH, None),
        (format!("Bearer {good}"), ALIAS, None),
        (format!("Bearer {bad}"), PATH, None),
        (format!("Bearer {bad}"), "/api/nothing", None),
        (format!("Bearer {stranger}"), "/api/nothing", None),
        (format!("Bearer {expired}"), PATH, None),
        (format!("Bearer {stranger}"), PATH, None),
        ("Bearer".into(), PATH, None),
        ("Basic dXNlcjpwdw==".into(), PATH, None),
        (format!("Bearer {good}"), "/api/calls/tag", None),
        (format!("Bearer {good}"), "/api/calls/update?x=1", None),
        (format!("Bearer {good}"), "/api/calls/update?", None),
        (format!("Bearer {multi}"), PATH, None),
        (format!("Bearer {multi}"), PATH, Some("globex")),
        (format!("Bearer {multi}"), PATH, Some("initech")),
        (format!("Bearer {good}"), PATH, Some("globex")),
    ];
    for (authorization, target, profile) in cases {
        let mut req = Req::new("POST", target)
            .header("Authorization", &authorization)
            .header("Content-Type", "application/json")
            .json(&json!({"Id": "call-1001", "Notes": "explained"}));
        if let Some(p) = profile {
            req = req.header("HostedSuite-Profile", p);
        }
        let resp = env.send(&req).await;
        let gateway = match resp.status {
            200 => None,
            status => Some((status, resp.error_code())),
        };
        let report =
            hsgate::explain::explain(&runtime.config, &keys, &authorization, profile, Some(target), now() as f64);
        let explained = match report.verdict {
            hsgate::explain::Verdict::Forwarded => None,
            hsgate::explain::Verdict::Refused(status, code) => Some((status, code.to_owned())),
        };
        assert_eq!(explained, gateway, "{authorization:.20} {target} {profile:?}:\n{}", report.text);
    }
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_threads_are_the_flags_or_the_cpus_this_process_may_use() {
    let (fx, _sim) = served_fixture().await;
    let mut one = serve_with(&fx.config_path, &["--worker-threads", "1"]).await;
    assert_eq!(one.serving["worker_threads"], 1, "{}", one.serving);
    let ok = Req::new("POST", PATH)
        .header("Authorization", &format!("Bearer {}", fx.token(SUB)))
        .header("Content-Type", "application/json")
        .json(&json!({"Id": "call-1001", "Notes": "one worker"}));
    assert_eq!(exchange(one.addr, &ok.to_bytes()).await.status, 200, "one worker serves");
    drain_logs(&mut one).await;

    let mut default = serve(&fx.config_path).await;
    let cpus = std::thread::available_parallelism().unwrap().get();
    assert_eq!(default.serving["worker_threads"], cpus, "{}", default.serving);
    drain_logs(&mut default).await;

    let zero = run(&["serve", "--config", &path_str(&fx.config_path), "--worker-threads", "0"]).await;
    assert_eq!(zero.status.code(), Some(2), "{}", zero.stderr);
    assert!(zero.stderr.contains("--worker-threads"), "{}", zero.stderr);
}
