#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Reload while serving (SPEC §7), in process through the same function
//! SIGHUP and file changes call: success and failure, a password rotated by
//! a Kubernetes-style symlink swap (which also resets the refused-login
//! count, and only then), rate-limit state and the upstream pool kept.

mod common;

use common::*;

const NEW_GRANT: &str =
    "\n[[grant]]\nname = \"new\"\nclaims = { sub = \"svc-new\" }\nprofiles = [\"acme\"]\nroutes = [\"calls.update\"]\n";

async fn reloads_counted(env: &TestEnv, result: &str) -> String {
    let m = env.metrics().await;
    let prefix = format!("hsgate_config_reloads_total{{result=\"{result}\"}} ");
    m.lines().find_map(|l| l.strip_prefix(&prefix)).unwrap_or("0").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_config_is_swapped_in_and_a_bad_one_keeps_the_old() {
    let env = TestEnv::start(|_| {}).await;
    assert_error(&env.update("svc-new", "call-1001", "x").await, 403, "Forbidden", "before the reload");

    std::fs::write(&env.config_path, format!("{}{NEW_GRANT}", env.config_text)).unwrap();
    assert!(env.reload().await, "a valid config reloads");
    assert_eq!(env.update("svc-new", "call-1001", "x").await.status, 200, "the new grant is in force");
    assert_eq!(reloads_counted(&env, "success").await, "1");

    // Every kind of broken file keeps the config in force.
    for broken in [
        "this is not toml".to_owned(),
        format!("{}\n[server]\nnope = 1\n", env.config_text),
        env.config_text.replace("acme.password", "missing.password"),
    ] {
        std::fs::write(&env.config_path, &broken).unwrap();
        assert!(!env.reload().await, "a broken config does not load");
        assert_eq!(env.update("svc-new", "call-1001", "x").await.status, 200, "the old config keeps serving");
    }
    assert_eq!(reloads_counted(&env, "failure").await, "3");
    assert_eq!(get(env.admin_addr, "/readyz").await.status, 200);

    // Removing the grant again takes effect too.
    std::fs::write(&env.config_path, &env.config_text).unwrap();
    assert!(env.reload().await);
    assert_error(&env.update("svc-new", "call-1001", "x").await, 403, "Forbidden", "grant removed");
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_password_is_used_and_resets_the_refusal_count_only_when_it_changed() {
    // HostedSuite already has the new password; the stored one is old.
    let env = TestEnv::start(|s| {
        s.sim_acme_password = Some(format!("new-{}", hex(8)));
        s.upstream = "login_failure_threshold = 2\nlogin_failure_cooldown = \"1h\"".into();
    })
    .await;
    let secrets = env.path("secrets");
    k8s_secret(&secrets, "2026_11_01", "acme.password", &env.acme_password);
    let config =
        env.config_text.replace("password_file = \"acme.password\"", "password_file = \"secrets/acme.password\"");
    assert_ne!(config, env.config_text);
    std::fs::write(&env.config_path, &config).unwrap();
    assert!(env.reload().await);

    for _ in 0..2 {
        assert_error(&env.update(SUB, "call-1001", "x").await, 502, "UpstreamCredentialsRejected", "old password");
    }
    env.sim.clear();
    assert_error(&env.update(SUB, "call-1001", "x").await, 502, "UpstreamCredentialsRejected", "suspended");
    assert!(env.sim.requests().is_empty(), "a suspended profile is not sent upstream");

    // A reload that keeps the password keeps the suspension.
    assert!(env.reload().await);
    assert_error(&env.update(SUB, "call-1001", "x").await, 502, "UpstreamCredentialsRejected", "still suspended");
    assert!(env.sim.requests().is_empty());

    // The Secret is rotated in place; the reload reads the new password and lifts the suspension.
    k8s_secret(&secrets, "2026_12_01", "acme.password", &env.sim_acme_password);
    assert!(env.reload().await);
    let resp = env.update(SUB, "call-1001", "after the rotation").await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(env.sim.requests().len(), 1);
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_state_survives_a_reload_that_keeps_grant_and_rate() {
    let limited = |rate: &str| {
        format!("\n[[grant]]\nname = \"limited\"\nclaims = {{ sub = \"svc-limited\" }}\nprofiles = [\"acme\"]\nroutes = [\"calls.update\"]\nrate_limit = \"{rate}\"\n")
    };
    let env = TestEnv::start(|s| s.extra = limited("2/m")).await;
    for _ in 0..2 {
        assert_eq!(env.update("svc-limited", "call-1001", "x").await.status, 200);
    }
    assert!(env.reload().await, "same grant, same rate");
    let resp = env.update("svc-limited", "call-1001", "x").await;
    assert_error(&resp, 429, "RateLimited", "the limit survived the reload");
    let retry: u64 = resp.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");

    std::fs::write(&env.config_path, env.config_text.replace(&limited("2/m"), &limited("3/m"))).unwrap();
    assert!(env.reload().await, "a new rate");
    assert_eq!(env.update("svc-limited", "call-1001", "x").await.status, 200, "a new rate starts afresh");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_keeps_the_upstream_pool_warm() {
    let env = TestEnv::start(|_| {}).await;
    assert_eq!(env.update(SUB, "call-1001", "one").await.status, 200);
    std::fs::write(&env.config_path, format!("{}{NEW_GRANT}", env.config_text)).unwrap();
    assert!(env.reload().await);
    assert_eq!(env.update(SUB, "call-1001", "two").await.status, 200);
    assert_eq!(env.sim.connections(), 1, "the pooled connection was reused across the reload");

    // New TLS settings build a new client.
    std::fs::write(&env.config_path, env.config_text.replace("[upstream]", "[upstream]\nconnect_timeout = \"4s\""))
        .unwrap();
    assert!(env.reload().await);
    assert_eq!(env.update(SUB, "call-1001", "three").await.status, 200);
    assert_eq!(env.sim.connections(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reopens_the_audit_file_even_when_the_new_config_fails() {
    let env = TestEnv::start(|_| {}).await;
    let first = env.update(SUB, "call-1001", "before rotation").await;
    env.wait_response_record(&first.request_id()).await;
    let rotated = env.path("audit.jsonl.1");
    std::fs::rename(&env.audit_path, &rotated).unwrap();
    std::fs::write(&env.config_path, "broken = [").unwrap();
    assert!(!env.reload().await, "the broken config does not load");
    let second = env.update(SUB, "call-1001", "after rotation").await;
    assert_eq!(second.status, 200, "the old config keeps serving");
    let record = env.wait_response_record(&second.request_id()).await;
    assert_eq!(record["status"], 200, "written to a fresh file at audit.path");
    let old = std::fs::read_to_string(&rotated).unwrap();
    assert!(old.contains(&first.request_id()) && !old.contains(&second.request_id()));
}
