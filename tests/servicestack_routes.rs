#![allow(clippy::unwrap_used, clippy::expect_used)]
//! SPEC §3/§4: ServiceStack's predefined routes for the built-in operation,
//! `text/plain` on `/api/{operation}` only, and heads with many fields.

mod common;

use common::*;
use serde_json::json;

const API_OPERATION: &str = "/api/UpdateCallRecordRequest";
const JSON_REPLY: &str = "/json/reply/UpdateCallRecordRequest";
const API_JSON_REPLY: &str = "/api/json/reply/UpdateCallRecordRequest";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predefined_routes_forward_to_the_route_path() {
    let env = TestEnv::start(|_| {}).await;
    let rows: &[(&str, &str)] = &[
        (API_OPERATION, "application/json"),
        (API_OPERATION, "text/plain;charset=UTF-8"),
        (API_OPERATION, "text/plain"),
        (JSON_REPLY, "application/json; charset=utf-8"),
        (API_JSON_REPLY, "application/json"),
    ];
    for (i, (path, content_type)) in rows.iter().enumerate() {
        let token = env.token(SUB);
        let notes = format!("predefined {i}");
        let req =
            env.req(&token, &json!({"Id": "call-1002", "Notes": notes})).target(path).set("Content-Type", content_type);
        let resp = env.send(&req).await;
        assert_eq!(resp.status, 200, "{path} {content_type}: {}", resp.text());
        assert_eq!(resp.json()["Notes"], notes.as_str(), "{path}");
        let seen = env.sim.requests();
        let last = seen.last().unwrap();
        assert_eq!(last.path, PATH, "{path} is forwarded to the route's path");
        let ct = last.headers.iter().find(|(k, _)| k == "content-type").map(|(_, v)| v.as_str());
        assert_eq!(ct, Some("application/json"), "{path}: the upstream always gets application/json");
        let record = env.wait_response_record(&resp.request_id()).await;
        assert_eq!(record["path"], *path);
        assert_eq!(record["route"], "calls.update");
    }
    assert_eq!(env.sim.requests().len(), rows.len());
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_plain_is_refused_everywhere_else_and_the_charset_rule_holds() {
    let env = TestEnv::start(|_| {}).await;
    let rows: &[(&str, &str)] = &[
        (PATH, "text/plain"),
        (JSON_REPLY, "text/plain;charset=UTF-8"),
        (API_JSON_REPLY, "text/plain"),
        (API_OPERATION, "text/plain; charset=iso-8859-1"),
        (API_OPERATION, "text/html"),
    ];
    for (path, content_type) in rows {
        let req = env
            .req(&env.token(SUB), &json!({"Id": "call-1002", "Notes": "x"}))
            .target(path)
            .set("Content-Type", content_type);
        assert_error(&env.send(&req).await, 415, "UnsupportedMediaType", &format!("{path} {content_type}"));
    }
    assert!(env.sim.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predefined_paths_are_exact() {
    let env = TestEnv::start(|_| {}).await;
    for path in [
        "/api/updatecallrecordrequest",
        "/API/UpdateCallRecordRequest",
        "/api/UpdateCallRecordRequest/",
        "/json/oneway/UpdateCallRecordRequest",
        "/json/reply/UpdateCallRecordRequest/",
        "/api/UpdateCallRecordRequest[]",
    ] {
        let req = env.req(&env.token(SUB), &json!({"Id": "call-1002", "Notes": "x"})).target(path);
        assert_error(&env.send(&req).await, 404, "NotFound", path);
    }
    // The refusal rules are the route's: a login field is refused there too.
    let req = env
        .req(&env.token(SUB), &json!({"Id": "call-1002", "Notes": "x", "Password": "mine"}))
        .target(API_OPERATION)
        .set("Content-Type", "text/plain");
    assert_error(&env.send(&req).await, 400, "CredentialsNotAllowed", "login field on /api/{operation}");
    assert!(env.sim.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heads_with_many_fields_are_accepted_up_to_32_kib() {
    let env = TestEnv::start(|_| {}).await;
    for (fields, value) in [(150, "v".repeat(20)), (2500, String::from("v"))] {
        let mut req = env.req(&env.token(SUB), &json!({"Id": "call-1001", "Notes": "many fields"}));
        for i in 0..fields {
            req = req.header(&format!("X{i:x}"), &value);
        }
        let head: usize = req.headers.iter().map(|(k, v)| k.len() + v.len() + 4).sum();
        assert!(head < 32 * 1024, "the test head must stay under 32 KiB ({head})");
        let resp = env.send(&req).await;
        assert_eq!(resp.status, 200, "{fields} fields: {}", resp.text());
    }
}
