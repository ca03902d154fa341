#![allow(clippy::unwrap_used, clippy::expect_used)]
//! SPEC §6: the audit trail.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const FIELDS: [&str; 26] = [
    "time",
    "kind",
    "phase",
    "request_id",
    "client_addr",
    "method",
    "path",
    "route",
    "subject",
    "issuer",
    "token_id",
    "grant",
    "profile",
    "customer_name",
    "user_name",
    "call_id",
    "notes_length",
    "redacted",
    "notes_hmac",
    "decision",
    "error_code",
    "status",
    "upstream_status",
    "duration_ms",
    "upstream_ms",
    "result",
];

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`
fn is_rfc3339_millis_utc(t: &str) -> bool {
    let b = t.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.into_iter().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    b.len() == 24
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..23)
        && b[23] == b'Z'
}

fn assert_shape(r: &Value) {
    let obj = r.as_object().unwrap_or_else(|| panic!("record is not an object: {r}"));
    for f in FIELDS {
        assert!(obj.contains_key(f), "record lacks key {f}: {r}");
    }
    assert_eq!(r["kind"], "hsgate.audit");
    let t = r["time"].as_str().unwrap();
    assert!(is_rfc3339_millis_utc(t), "time {t:?} is not RFC 3339 UTC with milliseconds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_request_gets_a_request_and_a_response_record() {
    let env = TestEnv::start(|_| {}).await;
    let notes = "Rückruf ✓ 📞 morgen 10:30";
    let claims = env.claims(SUB);
    let jti = claims["jti"].as_str().unwrap().to_owned();
    let token = env.sign_ed(&claims);
    let resp = env
        .send(&env.req(&token, &json!({"Id": "call-1002", "Notes": notes})).header("X-Request-Id", "audit-allow-1"))
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let answer = resp.json();
    let response = env.wait_response_record("audit-allow-1").await;
    let records = env.audit_for("audit-allow-1");
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0]["phase"], "request", "the request record comes first");
    assert_eq!(records[1]["phase"], "response");
    let request = &records[0];
    for r in [request, &response] {
        assert_shape(r);
        assert_eq!(r["request_id"], "audit-allow-1");
        assert_eq!(r["client_addr"], resp.local.to_string());
        assert!(r["client_addr"].as_str().unwrap().starts_with("127.0.0.1:"));
        assert_eq!(r["method"], "POST");
        assert_eq!(r["path"], PATH);
        assert_eq!(r["route"], "calls.update");
        assert_eq!(r["subject"], SUB);
        assert_eq!(r["issuer"], ISSUER);
        assert_eq!(r["token_id"], jti.as_str());
        assert_eq!(r["grant"], "notes-service");
        assert_eq!(r["profile"], "acme");
        assert_eq!(r["customer_name"], ACME_CUSTOMER);
        assert_eq!(r["user_name"], ACME_USER);
        assert_eq!(r["call_id"], "call-1002");
        assert_eq!(r["notes_length"], notes.chars().count());
        assert_eq!(r["notes_hmac"], hmac_hex(&env.audit_key, notes));
        assert_eq!(r["decision"], "allow");
        assert_eq!(r["error_code"], Value::Null);
        assert!(!r.as_object().unwrap().contains_key("notes"), "notes text without include_notes: {r}");
    }
    assert_eq!(request["status"], Value::Null);
    assert_eq!(request["upstream_status"], Value::Null);
    assert_eq!(request["result"], Value::Null);
    assert_eq!(response["status"], 200);
    assert_eq!(response["upstream_status"], 200);
    assert_eq!(response["redacted"], false);
    assert!(response["duration_ms"].is_number(), "{response}");
    assert!(response["upstream_ms"].is_number(), "{response}");
    assert!(response["duration_ms"].as_f64().unwrap() >= response["upstream_ms"].as_f64().unwrap());
    let result = response["result"].as_object().expect("result object");
    let keys: Vec<&str> = result.keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 5, "{keys:?}");
    for k in ["Id", "ClientId", "CenterId", "Type", "Flagged"] {
        assert!(result.contains_key(k), "result lacks {k}");
        assert_eq!(result[k], answer[k], "result.{k}");
    }
    assert_eq!(result["Id"], "call-1002");

    // The alias is recorded as the caller sent it.
    let resp = env
        .send(
            &env.req(&env.token(SUB), &json!({"Id": "call-1003", "Notes": ""}))
                .target(ALIAS)
                .header("X-Request-Id", "audit-alias"),
        )
        .await;
    assert_eq!(resp.status, 200);
    let r = env.wait_response_record("audit-alias").await;
    assert_eq!(r["path"], ALIAS);
    assert_eq!(r["route"], "calls.update");
    assert_eq!(r["notes_length"], 0);
    assert_eq!(r["notes_hmac"], hmac_hex(&env.audit_key, ""));
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_and_failed_requests_are_recorded() {
    let mut env = TestEnv::start(|_| {}).await;
    let ok = env.token(SUB);
    let body = json!({"Id": "call-1001", "Notes": "refused"});
    let base = env.req(&ok, &body);
    let cases: Vec<(&str, Req, u16, &str)> = vec![
        ("rid-404", base.clone().target("/api/nope"), 404, "NotFound"),
        ("rid-405", base.clone().method("GET").body(""), 405, "MethodNotAllowed"),
        ("rid-401", base.clone().set("Authorization", "Bearer a.b.c"), 401, "InvalidToken"),
        ("rid-403", env.req(&env.token("svc-stranger"), &body), 403, "Forbidden"),
        ("rid-400q", base.clone().target("/api/calls/update?x=1"), 400, "QueryNotAllowed"),
        (
            "rid-400c",
            base.clone().json(&json!({"Id": "call-1001", "Notes": "x", "Password": "p"})),
            400,
            "CredentialsNotAllowed",
        ),
    ];
    for (rid, req, status, code) in &cases {
        let resp = env.send(&req.clone().header("X-Request-Id", rid)).await;
        assert_error(&resp, *status, code, rid);
        let r = env.wait_response_record(rid).await;
        assert_shape(&r);
        assert_eq!(r["decision"], "deny", "{rid}");
        assert_eq!(r["error_code"], *code, "{rid}");
        assert_eq!(r["status"], *status, "{rid}");
        assert_eq!(r["upstream_status"], Value::Null, "{rid}");
        assert_eq!(r["result"], Value::Null, "{rid}");
        assert_eq!(r["client_addr"], resp.local.to_string());
    }
    assert!(env.sim.requests().is_empty());
    let by = |rid: &str| env.audit_for(rid).into_iter().find(|r| r["phase"] == "response").unwrap();
    assert_eq!(by("rid-404")["route"], Value::Null);
    assert_eq!(by("rid-404")["path"], "/api/nope");
    assert_eq!(by("rid-405")["route"], "calls.update");
    assert_eq!(by("rid-405")["method"], "GET");
    assert_eq!(by("rid-401")["subject"], Value::Null);
    assert_eq!(by("rid-403")["subject"], "svc-stranger");
    assert_eq!(by("rid-403")["grant"], Value::Null);
    assert_eq!(by("rid-400q")["grant"], "notes-service");
    assert_eq!(by("rid-400q")["profile"], "acme");

    // Forwarded but failed upstream: allow, with the upstream's or the gateway's code.
    for (rid, id, status, code, upstream) in [
        ("rid-up404", "call-9999", 404, "NotFound", json!(404)),
        ("rid-badjson", "fault-badjson", 502, "UpstreamBadResponse", json!(200)),
        ("rid-reset", "fault-reset", 502, "UpstreamUnavailable", Value::Null),
    ] {
        let resp =
            env.send(&env.req(&env.token(SUB), &json!({"Id": id, "Notes": "n"})).header("X-Request-Id", rid)).await;
        assert_eq!(resp.status, status, "{rid}");
        let r = env.wait_response_record(rid).await;
        assert_shape(&r);
        assert_eq!(r["decision"], "allow", "{rid}");
        assert_eq!(r["error_code"], code, "{rid}");
        assert_eq!(r["status"], status, "{rid}");
        assert_eq!(r["upstream_status"], upstream, "{rid}");
        assert_eq!(r["call_id"], id, "{rid}");
    }
    env.assert_no_leaks().await;

    // After a flush: exactly one response record each, request records only when forwarded.
    env.shutdown().await;
    for (rid, ..) in &cases {
        let recs = env.audit_for(rid);
        assert_eq!(recs.len(), 1, "{rid}: {recs:?}");
        assert_eq!(recs[0]["phase"], "response");
    }
    for rid in ["rid-up404", "rid-badjson", "rid-reset"] {
        let phases: Vec<Value> = env.audit_for(rid).iter().map(|r| r["phase"].clone()).collect();
        assert_eq!(phases, vec![json!("request"), json!("response")], "{rid}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn include_notes_controls_the_notes_text() {
    let on = TestEnv::start(|s| s.audit = "include_notes = true".into()).await;
    let off = TestEnv::start(|s| s.audit = "include_notes = false".into()).await;
    let notes = "private note ✓";
    for (env, want) in [(&on, true), (&off, false)] {
        let resp = env
            .send(
                &env.req(&env.token(SUB), &json!({"Id": "call-1001", "Notes": notes}))
                    .header("X-Request-Id", "notes-1"),
            )
            .await;
        assert_eq!(resp.status, 200);
        env.wait_response_record("notes-1").await;
        for r in env.audit_for("notes-1") {
            if want {
                assert_eq!(r["notes"], notes, "{r}");
            } else {
                assert!(!r.as_object().unwrap().contains_key("notes"), "{r}");
            }
            assert_eq!(r["notes_hmac"], hmac_hex(&env.audit_key, notes));
        }
        if !want {
            let text = std::fs::read_to_string(&env.audit_path).unwrap();
            assert!(!text.contains("private note"), "notes text in the audit file");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwritable_audit_refuses_with_503() {
    let env = TestEnv::start(|s| s.audit_path = Some("/dev/full".into())).await;
    let resp = env.update(SUB, "call-1001", "must not be forwarded").await;
    assert_error(&resp, 503, "AuditUnavailable", "/dev/full");
    assert!(env.sim.requests().is_empty(), "forwarded without an audit record");
    let m = env.metrics().await;
    assert!(m.lines().any(|l| l.starts_with("hsgate_audit_write_failures_total") && !l.ends_with(" 0")), "{m}");
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_hanging_up_still_gets_one_response_record() {
    let mut env = TestEnv::start(|s| s.slow = Duration::from_secs(1)).await;
    let req =
        env.req(&env.token(SUB), &json!({"Id": "fault-slow", "Notes": "hang up"})).header("X-Request-Id", "hangup-1");
    let mut stream = TcpStream::connect(env.addr).await.unwrap();
    stream.write_all(&req.to_bytes()).await.unwrap();
    wait_until("the upstream to receive the request", || !env.sim.requests().is_empty()).await;
    drop(stream);
    let r = env.wait_response_record("hangup-1").await;
    assert_shape(&r);
    assert_eq!(r["call_id"], "fault-slow");
    env.shutdown().await;
    let recs = env.audit_for("hangup-1");
    let responses = recs.iter().filter(|r| r["phase"] == "response").count();
    let requests = recs.iter().filter(|r| r["phase"] == "request").count();
    assert_eq!((requests, responses), (1, 1), "{recs:?}");
    assert_eq!(env.sim.requests().len(), 1, "sent upstream exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_audit_answers_or_metrics() {
    let env = TestEnv::start(|s| s.upstream = "login_failure_threshold = 100".into()).await;
    let pw = env.acme_password.clone();
    let body = json!({"Id": "call-1001", "Notes": "leak check"});
    let mut answers = Vec::new();
    // A success, an echo, a refused login, a JSON 500.
    for (id, status) in [("call-1001", 200), ("fault-echo", 500), ("fault-403", 502), ("fault-500json", 500)] {
        let r = env.update(SUB, id, "leak check").await;
        assert_eq!(r.status, status, "{id}");
        answers.push(r);
    }
    // Expired, wrong audience (HS256), tampered tokens.
    let mut expired = env.claims(SUB);
    expired.insert("exp".into(), json!(now() - 3600));
    let mut wrong_aud = env.claims(SUB);
    wrong_aud.insert("aud".into(), json!("nope"));
    let t = env.token(SUB);
    let tampered = format!("{}x", &t[..t.len() - 1]);
    env.remember(&tampered);
    for t in [env.sign_ed(&expired), env.sign_hs(&wrong_aud), tampered] {
        let r = env.send(&env.req(&t, &body)).await;
        assert_error(&r, 401, "InvalidToken", "bad token");
        answers.push(r);
    }
    // Secrets smuggled in the body are refused without being echoed.
    for smuggle in [
        json!({"Id": "call-1001", "Notes": "x", "Password": env.hmac_secret}),
        json!({"Id": "call-1001", "Notes": "x", "password": pw}),
    ] {
        let r = env.send(&env.req(&env.token(SUB), &smuggle)).await;
        assert_error(&r, 400, "CredentialsNotAllowed", "smuggled");
        answers.push(r);
    }
    // A token sent as the request id is not echoed.
    let t = env.token(SUB);
    let r = env.send(&env.req(&t, &body).header("X-Request-Id", &t)).await;
    assert_eq!(r.status, 200);
    assert_ne!(r.request_id(), t);
    answers.push(r);
    for r in &answers {
        env.wait_response_record(&r.request_id()).await;
    }
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_id_comes_from_a_valid_traceparent_only() {
    let env = TestEnv::start(|_| {}).await;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    for (rid, traceparent, want) in [
        ("trace-ok", format!("00-{trace}-00f067aa0ba902b7-01"), serde_json::json!(trace)),
        ("trace-bad", format!("00-{}-00f067aa0ba902b7-01", "0".repeat(32)), serde_json::Value::Null),
    ] {
        let req = env
            .req(&env.token(SUB), &serde_json::json!({"Id": "call-1001", "Notes": "traced"}))
            .header("X-Request-Id", rid)
            .header("traceparent", &traceparent);
        assert_eq!(env.send(&req).await.status, 200);
        let records = {
            env.wait_response_record(rid).await;
            env.audit_for(rid)
        };
        assert_eq!(records.len(), 2, "request and response records");
        for r in &records {
            assert_eq!(r["trace_id"], want, "{rid}: {r}");
            assert!(r["client_cert"].is_null(), "no mTLS: client_cert is null");
        }
    }
}
