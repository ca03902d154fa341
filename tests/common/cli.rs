//! Running the real `hsgate` binary: to completion, or as `serve` with its
//! addresses taken from its "hsgate serving" log line.

use std::path::Path;
use std::process::{ExitStatus, Stdio};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::*;
use hsgate::sim::TestPki;

pub const BIN: &str = env!("CARGO_BIN_EXE_hsgate");

pub struct Out {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the binary to completion (killed after the deadline).
pub async fn run(args: &[&str]) -> Out {
    run_env(args, &[]).await
}

pub async fn run_env(args: &[&str], vars: &[(&str, &str)]) -> Out {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove("HSGATE_CONFIG").env_remove("RUST_LOG").kill_on_drop(true);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(WAIT, cmd.output()).await.expect("hsgate did not exit in time").unwrap();
    Out {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill").args([sig, &pid.to_string()]).status().unwrap();
    assert!(ok.success(), "kill {sig} {pid} failed");
}

/// A fixture whose config is valid; nothing listens at its upstream.
pub fn fixture(tweak: impl FnOnce(&mut Setup)) -> Fixture {
    let mut setup = Setup::default();
    tweak(&mut setup);
    Fixture::new(setup, TestPki::generate().unwrap(), "https://localhost:1")
}

pub fn write_config(fx: &Fixture, name: &str, text: &str) -> String {
    let p = fx.path(name);
    std::fs::write(&p, text).unwrap();
    path_str(&p)
}

/// A running `hsgate serve`, its addresses from the "hsgate serving" log line.
pub struct Served {
    pub child: Child,
    pub addr: std::net::SocketAddr,
    pub admin: std::net::SocketAddr,
    pub logs: mpsc::UnboundedReceiver<String>,
    pub stdout: Option<tokio::process::ChildStdout>,
    /// The `hsgate serving` log line.
    pub serving: Value,
}

/// The binary running with `args`, stdout and stderr piped, killed on drop.
pub fn spawn_piped(args: &[&str]) -> Child {
    Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

pub async fn serve(config: &Path) -> Served {
    serve_with(config, &[]).await
}

/// `hsgate serve --config CONFIG ARGS...`, logging JSON (`ARGS` may not change that).
pub async fn serve_with(config: &Path, args: &[&str]) -> Served {
    let config = path_str(config);
    let mut all = vec!["serve", "--config", config.as_str()];
    all.extend_from_slice(args);
    let mut child = spawn_piped(&all);
    let stdout = child.stdout.take();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let (tx, mut logs) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + WAIT;
    loop {
        let line = tokio::time::timeout_at(deadline, logs.recv())
            .await
            .expect("no `hsgate serving` log line in time")
            .expect("hsgate serve exited before serving");
        let Ok(v) = serde_json::from_str::<Value>(&line) else { continue };
        if v["message"] == "hsgate serving" {
            let addr = v["addr"].as_str().expect("addr field").parse().unwrap();
            let admin = v["admin_addr"].as_str().expect("admin_addr field").parse().unwrap();
            return Served { child, addr, admin, logs, stdout, serving: v };
        }
    }
}

pub async fn wait_exit(child: &mut Child) -> ExitStatus {
    tokio::time::timeout(WAIT, child.wait()).await.expect("hsgate did not exit in time").unwrap()
}
