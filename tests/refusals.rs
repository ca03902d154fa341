#![allow(clippy::unwrap_used, clippy::expect_used)]
//! SPEC §4: every check of the table, in order; the first failure answers
//! and nothing reaches the upstream.

mod common;

use common::*;
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};

const WWW_MISSING: &str = "Bearer realm=\"hsgate\"";
const WWW_INVALID: &str = "Bearer realm=\"hsgate\", error=\"invalid_token\"";

type Check = Box<dyn Fn(&Resp)>;

struct Row {
    name: &'static str,
    req: Req,
    status: u16,
    code: &'static str,
    check: Option<Check>,
}

fn row(name: &'static str, req: Req, status: u16, code: &'static str) -> Row {
    Row { name, req, status, code, check: None }
}

fn row_with(name: &'static str, req: Req, status: u16, code: &'static str, check: impl Fn(&Resp) + 'static) -> Row {
    Row { name, req, status, code, check: Some(Box::new(check)) }
}

fn www(expected: &'static str) -> impl Fn(&Resp) {
    move |r: &Resp| assert_eq!(r.header("www-authenticate"), Some(expected), "WWW-Authenticate")
}

fn field_errors(r: &Resp) -> Vec<Value> {
    r.json()["ResponseStatus"]["Errors"].as_array().cloned().unwrap_or_default()
}

fn has_field(name: &'static str) -> impl Fn(&Resp) {
    move |r: &Resp| {
        let errors = field_errors(r);
        assert!(errors.iter().any(|e| e["FieldName"] == name), "no Errors[] entry with FieldName {name}: {}", r.text());
    }
}

async fn run(env: &TestEnv, rows: Vec<Row>) {
    for row in rows {
        env.sim.clear();
        let resp = env.send(&row.req).await;
        assert_error(&resp, row.status, row.code, row.name);
        if let Some(check) = &row.check {
            check(&resp);
        }
        assert!(env.sim.requests().is_empty(), "{}: the request reached the upstream", row.name);
    }
}

fn good_body() -> Value {
    json!({"Id": "call-1001", "Notes": "refusal test"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_check_in_order() {
    let env = TestEnv::start(|s| s.server = "max_body_bytes = 1024".into()).await;
    let ok = env.token(SUB);
    let base = env.req(&ok, &good_body());
    let c = |sub_claims: Value| {
        let mut m = env.claims(SUB);
        for (k, v) in sub_claims.as_object().unwrap() {
            if v.is_null() {
                m.remove(k);
            } else {
                m.insert(k.clone(), v.clone());
            }
        }
        Value::Object(m)
    };
    let ed_header = json!({"alg": "EdDSA", "typ": "JWT", "kid": ED_KID});
    let other_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let other_enc = jsonwebtoken::EncodingKey::from_ed_pem(other_key.serialize_pem().as_bytes()).unwrap();
    let forged = craft(&ed_header, &c(json!({})), &other_enc, Algorithm::EdDSA);
    env.remember(&forged);
    let public_pem = std::fs::read(env.path("ed.pub.pem")).unwrap();
    let confused = craft(
        &json!({"alg": "HS256", "kid": ED_KID}),
        &c(json!({})),
        &jsonwebtoken::EncodingKey::from_secret(&public_pem),
        Algorithm::HS256,
    );
    env.remember(&confused);
    let with_jwk = craft(
        &json!({"alg": "EdDSA", "jwk": {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}),
        &c(json!({})),
        &other_enc,
        Algorithm::EdDSA,
    );
    env.remember(&with_jwk);
    let none = unsigned(&c(json!({})));
    env.remember(&none);
    let bearer = |t: &str| base.clone().set("Authorization", &format!("Bearer {t}"));
    let t = now();
    let big = "x".repeat(3000);

    let rows = vec![
        // path known
        row("unknown path", base.clone().target("/api/calls/nope"), 404, "NotFound"),
        row("trailing slash", base.clone().target("/api/calls/update/"), 404, "NotFound"),
        row("other case", base.clone().target("/API/calls/update"), 404, "NotFound"),
        row("dot segments", base.clone().target("/api/calls/../calls/update"), 404, "NotFound"),
        row("encoded", base.clone().target("/api/calls/%75pdate"), 404, "NotFound"),
        row("404 before 405", base.clone().method("GET").target("/nope").body(""), 404, "NotFound"),
        row("404 before token", base.clone().without("Authorization").target("/nope"), 404, "NotFound"),
        // method allowed
        row_with("GET", base.clone().method("GET").body(""), 405, "MethodNotAllowed", |r| {
            assert_eq!(r.header("allow"), Some("POST"))
        }),
        row_with("PUT", base.clone().method("PUT"), 405, "MethodNotAllowed", |r| {
            assert_eq!(r.header("allow"), Some("POST"))
        }),
        row_with("GET on the alias", base.clone().method("GET").target(ALIAS).body(""), 405, "MethodNotAllowed", |r| {
            assert_eq!(r.header("allow"), Some("POST"))
        }),
        row("405 before token", base.clone().method("DELETE").without("Authorization"), 405, "MethodNotAllowed"),
        // exactly one Authorization header, Bearer, non-empty
        row_with("no Authorization", base.clone().without("Authorization"), 401, "MissingToken", www(WWW_MISSING)),
        row_with(
            "two Authorization headers",
            base.clone().header("Authorization", &format!("Bearer {ok}")),
            401,
            "MissingToken",
            www(WWW_MISSING),
        ),
        row_with(
            "Basic scheme",
            base.clone().set("Authorization", "Basic dXNlcjpwYXNzd29yZA=="),
            401,
            "MissingToken",
            www(WWW_MISSING),
        ),
        row_with("empty Bearer", base.clone().set("Authorization", "Bearer "), 401, "MissingToken", www(WWW_MISSING)),
        row_with(
            "Bearer, spaces only",
            base.clone().set("Authorization", "Bearer    "),
            401,
            "MissingToken",
            www(WWW_MISSING),
        ),
        // token valid
        row_with(
            "expired",
            bearer(&env.sign_ed(c(json!({"iat": t - 7200, "exp": t - 3600})).as_object().unwrap())),
            401,
            "InvalidToken",
            www(WWW_INVALID),
        ),
        row_with("bad signature", bearer(&forged), 401, "InvalidToken", www(WWW_INVALID)),
        row_with(
            "wrong aud",
            bearer(&env.sign_ed(c(json!({"aud": "someone-else"})).as_object().unwrap())),
            401,
            "InvalidToken",
            www(WWW_INVALID),
        ),
        row_with(
            "wrong aud (array)",
            bearer(&env.sign_ed(c(json!({"aud": ["a", "b"]})).as_object().unwrap())),
            401,
            "InvalidToken",
            www(WWW_INVALID),
        ),
        row_with(
            "wrong iss",
            bearer(&env.sign_ed(c(json!({"iss": "https://evil.example"})).as_object().unwrap())),
            401,
            "InvalidToken",
            www(WWW_INVALID),
        ),
        row_with("alg none", bearer(&none), 401, "InvalidToken", www(WWW_INVALID)),
        row_with(
            "crit header",
            bearer(&env.craft(
                &json!({"alg": "EdDSA", "kid": ED_KID, "crit": ["exp"]}),
                &c(json!({})),
                Algorithm::EdDSA,
            )),
            401,
            "InvalidToken",
            www(WWW_INVALID),
        ),
        row_with("HS256 with the public key as secret", bearer(&confused), 401, "InvalidToken", www(WWW_INVALID)),
        row_with("key carried in jwk header", bearer(&with_jwk), 401, "InvalidToken", www(WWW_INVALID)),
        row_with(
            "no exp",
            bearer(&env.sign_ed(c(json!({"exp": null})).as_object().unwrap())),
            401,
            "InvalidToken",
            www(WWW_INVALID),
        ),
        row_with(
            "nbf in the future",
            bearer(&env.sign_ed(c(json!({"nbf": t + 3600})).as_object().unwrap())),
            401,
            "InvalidToken",
            www(WWW_INVALID),
        ),
        row_with(
            "no sub (required claim)",
            bearer(&env.sign_ed(c(json!({"sub": null})).as_object().unwrap())),
            401,
            "InvalidToken",
            www(WWW_INVALID),
        ),
        row_with("garbage token", bearer("not.a.token"), 401, "InvalidToken", www(WWW_INVALID)),
        // a grant matches and lists this route
        row("no grant matches", bearer(&env.token("svc-stranger")), 403, "Forbidden"),
        // profile
        row("two profiles, no header", bearer(&env.token(SUB_MULTI)), 400, "ProfileRequired"),
        row("profile not granted", base.clone().header("HostedSuite-Profile", "globex"), 403, "Forbidden"),
        row(
            "unknown profile",
            bearer(&env.token(SUB_MULTI)).header("HostedSuite-Profile", "initech"),
            403,
            "Forbidden",
        ),
        // no query string
        row("callback query", base.clone().target("/api/calls/update?callback=x"), 400, "QueryNotAllowed"),
        row("bare ?", base.clone().target("/api/calls/update?"), 400, "QueryNotAllowed"),
        row("override query", base.clone().target("/api/calls/update?Id=call-1002"), 400, "QueryNotAllowed"),
        // Content-Type
        row("text/plain", base.clone().set("Content-Type", "text/plain"), 415, "UnsupportedMediaType"),
        row("no Content-Type", base.clone().without("Content-Type"), 415, "UnsupportedMediaType"),
        row(
            "charset latin1",
            base.clone().set("Content-Type", "application/json; charset=latin1"),
            415,
            "UnsupportedMediaType",
        ),
        row(
            "form",
            base.clone().set("Content-Type", "application/x-www-form-urlencoded").body("Id=call-1001&Notes=x"),
            415,
            "UnsupportedMediaType",
        ),
        // size
        row("too large (Content-Length)", base.clone().body(big.clone()), 413, "PayloadTooLarge"),
        row("too large (chunked)", base.clone().body(big.clone()).chunked(500), 413, "PayloadTooLarge"),
        // one UTF-8 JSON object
        row("not JSON", base.clone().body(r#"{"Id": "call-1001", "#), 400, "InvalidRequest"),
        row("array", base.clone().body(r#"[{"Id":"call-1001","Notes":"x"}]"#), 400, "InvalidRequest"),
        row("string", base.clone().body(r#""call-1001""#), 400, "InvalidRequest"),
        row("empty body", base.clone().body(""), 400, "InvalidRequest"),
        row(
            "not UTF-8",
            base.clone().body(b"{\"Id\":\"call-1001\",\"Notes\":\"\xff\xfe\"}".to_vec()),
            400,
            "InvalidRequest",
        ),
        // no credential key
        row(
            "Password",
            base.clone().json(&json!({"Id": "call-1001", "Notes": "x", "Password": "guess"})),
            400,
            "CredentialsNotAllowed",
        ),
        row(
            "user_name",
            base.clone().json(&json!({"Id": "call-1001", "Notes": "x", "user_name": "admin"})),
            400,
            "CredentialsNotAllowed",
        ),
        row(
            "CUSTOMER-NAME",
            base.clone().json(&json!({"Id": "call-1001", "Notes": "x", "CUSTOMER-NAME": "Other"})),
            400,
            "CredentialsNotAllowed",
        ),
        row(
            "credential before duplicate",
            base.clone().body(r#"{"Id":"call-1001","Notes":"x","password":"a","Password":"b"}"#),
            400,
            "CredentialsNotAllowed",
        ),
        // no duplicate, no unknown keys, types
        row_with(
            "duplicate Id/id",
            base.clone().body(r#"{"Id":"call-1001","Notes":"x","id":"call-1002"}"#),
            400,
            "InvalidRequest",
            has_field("id"),
        ),
        row(
            "duplicate null credential",
            base.clone().body(r#"{"Id":"call-1001","Notes":"x","Password":null,"password":null}"#),
            400,
            "InvalidRequest",
        ),
        row_with(
            "unknown key",
            base.clone().json(&json!({"Id": "call-1001", "Notes": "x", "Flagged": true})),
            400,
            "InvalidRequest",
            has_field("Flagged"),
        ),
        row_with(
            "Notes null",
            base.clone().json(&json!({"Id": "call-1001", "Notes": null})),
            400,
            "InvalidRequest",
            |r| {
                let errors = field_errors(r);
                let e = errors.iter().find(|e| e["FieldName"] == "Notes").expect("an Errors[] entry for Notes");
                assert!(e["Message"].as_str().unwrap().contains("\"\""), "message should say to send \"\": {e}");
            },
        ),
        row_with(
            "Notes missing",
            base.clone().json(&json!({"Id": "call-1001"})),
            400,
            "InvalidRequest",
            has_field("Notes"),
        ),
        row_with(
            "Id empty",
            base.clone().json(&json!({"Id": "", "Notes": "x"})),
            400,
            "InvalidRequest",
            has_field("Id"),
        ),
        row_with(
            "Id a number",
            base.clone().json(&json!({"Id": 1001, "Notes": "x"})),
            400,
            "InvalidRequest",
            has_field("Id"),
        ),
        // ordering across rows
        row_with(
            "bad token AND query string",
            bearer(&forged).target("/api/calls/update?callback=x"),
            401,
            "InvalidToken",
            www(WWW_INVALID),
        ),
        row(
            "no grant AND query string",
            bearer(&env.token("svc-stranger")).target("/api/calls/update?x=1"),
            403,
            "Forbidden",
        ),
        row(
            "query AND text/plain",
            base.clone().target("/api/calls/update?callback=x").set("Content-Type", "text/plain"),
            400,
            "QueryNotAllowed",
        ),
        row(
            "text/plain AND too large",
            base.clone().set("Content-Type", "text/plain").body(big.clone()),
            415,
            "UnsupportedMediaType",
        ),
        row(
            "too large AND credentials",
            base.clone().json(&json!({"Id": "call-1001", "Notes": big, "Password": "x"})),
            413,
            "PayloadTooLarge",
        ),
        row(
            "profile required AND query",
            bearer(&env.token(SUB_MULTI)).target("/api/calls/update?"),
            400,
            "ProfileRequired",
        ),
    ];
    run(&env, rows).await;
    env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_variants_reach_the_upstream() {
    let env = TestEnv::start(|_| {}).await;
    let body = json!({"Id": "call-1002", "Notes": "accepted"});
    let cases: Vec<(&str, Req)> = vec![
        (
            "lowercase bearer",
            env.req(&env.token(SUB), &body).set("Authorization", &format!("bearer {}", env.token(SUB))),
        ),
        ("BEARER", env.req(&env.token(SUB), &body).set("Authorization", &format!("BEARER {}", env.token(SUB)))),
        ("HS256 token", env.req(&env.sign_hs(&env.claims(SUB)), &body)),
        (
            "charset utf-8 quoted, mixed case type",
            env.req(&env.token(SUB), &body).set("Content-Type", "Application/JSON; charset=\"UTF-8\""),
        ),
        ("chunked body", env.req(&env.token(SUB), &body).chunked(7)),
        ("alias path", env.req(&env.token(SUB), &body).target(ALIAS)),
        (
            "profile header on a one-profile grant",
            env.req(&env.token(SUB), &body).header("HostedSuite-Profile", "acme"),
        ),
        ("second profile", env.req(&env.token(SUB_MULTI), &body).header("HostedSuite-Profile", "globex")),
        (
            "null credential dropped",
            env.req(&env.token(SUB), &json!({"Id": "call-1002", "Notes": "n", "Password": null})),
        ),
        ("aud in an array", {
            let mut c = env.claims(SUB);
            c.insert("aud".into(), json!(["x", AUDIENCE]));
            env.req(&env.sign_ed(&c), &body)
        }),
        ("jwk header ignored", {
            let c = Value::Object(env.claims(SUB));
            let t = env.craft(
                &json!({"alg": "EdDSA", "kid": ED_KID, "jwk": {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}),
                &c,
                Algorithm::EdDSA,
            );
            env.req(&t, &body)
        }),
    ];
    for (name, req) in cases {
        env.sim.clear();
        let resp = env.send(&req).await;
        assert_eq!(resp.status, 200, "{name}: {}", resp.text());
        assert_eq!(resp.json()["Id"], "call-1002", "{name}");
        assert_eq!(env.sim.requests().len(), 1, "{name}: the upstream should see exactly one request");
    }
    env.assert_no_leaks().await;
}
