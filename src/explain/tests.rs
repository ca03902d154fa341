//! `explain` against a small config: each refusal names its rule and its
//! SPEC status/ErrorCode, a forwarded request names grant, profile, route and
//! URL, and no secret is printed.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tempfile::TempDir;

use super::*;

const SECRET: &str = "explain-hmac-secret-0123456789abcdef";
const PASSWORD: &str = "acme-explain-Pa55word";
const NOW: f64 = 1_800_000_000.0;

struct Setup {
    _dir: TempDir,
    config: Config,
    keys: KeySet,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hmac.txt"), SECRET).unwrap();
    std::fs::write(dir.path().join("acme.pw"), PASSWORD).unwrap();
    std::fs::write(dir.path().join("globex.pw"), "globex-explain-pw").unwrap();
    let text = r#"
[upstream]
url = "https://evo.hostedsuite.com"
[auth]
issuers = ["https://idp.example.internal"]
audiences = ["hsgate"]
algorithms = ["HS256"]
[[auth.hmac]]
kid = "k1"
secret_file = "hmac.txt"
[[profile]]
name = "acme"
customer_name = "Acme Answering"
user_name = "api-gateway"
password_file = "acme.pw"
[[profile]]
name = "globex"
customer_name = "Globex"
user_name = "gx"
password_file = "globex.pw"
[[grant]]
name = "ops"
claims = { sub = "svc-ops", team = "ops" }
profiles = ["acme"]
routes = ["calls.update"]
[[grant]]
name = "notes"
claims = { sub = "svc-notes" }
profiles = ["acme", "globex"]
routes = ["calls.update"]
"#;
    let file = dir.path().join("hsgate.toml");
    let config = config::load_str(text, &file).unwrap();
    let keys = KeySet::new(config.auth.keys.iter().cloned());
    Setup { _dir: dir, config, keys }
}

fn token(claims: Value, secret: &str) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

fn claims(sub: &str) -> Value {
    json!({"iss": "https://idp.example.internal", "aud": "hsgate", "sub": sub,
           "iat": NOW as u64 - 10, "exp": NOW as u64 + 300})
}

fn run(s: &Setup, token: &str, profile: Option<&str>, path: Option<&str>) -> Report {
    let report = explain(&s.config, &s.keys, token, profile, path, NOW);
    for secret in [SECRET, PASSWORD, token] {
        assert!(!report.text.contains(secret), "a secret in:\n{}", report.text);
    }
    report
}

#[test]
fn a_forwarded_request_names_key_grant_profile_route_and_url() {
    let s = setup();
    let r = run(&s, &token(claims("svc-notes"), SECRET), Some("globex"), None);
    assert_eq!(r.verdict, Verdict::Forwarded, "{}", r.text);
    assert_eq!(r.verdict.exit_code(), 0);
    assert!(r.text.contains("verified by  k1"), "{}", r.text);
    assert!(
        r.text.contains("ops          no: claim sub must be \"svc-ops\", the token has \"svc-notes\""),
        "{}",
        r.text
    );
    assert!(r.text.contains("notes        matched"), "{}", r.text);
    assert!(r.text.contains("/api/calls/update -> route calls.update"), "{}", r.text);
    assert!(r.text.contains("globex       Globex / gx"), "{}", r.text);
    assert!(r.text.contains("POST         https://evo.hostedsuite.com/api/calls/update"), "{}", r.text);
    assert!(r.text.contains("claim exp    1800000300 (in 5m)"), "{}", r.text);
}

#[test]
fn each_refusal_names_its_rule_and_its_answer() {
    let s = setup();
    let good = token(claims("svc-notes"), SECRET);
    // token, --profile, --path, status, ErrorCode, what the text says
    type Case<'a> = (String, Option<&'a str>, Option<&'a str>, u16, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (
            token(claims("svc-notes"), "another-secret-entirely-0123456789"),
            None,
            None,
            401,
            "InvalidToken",
            "signature",
        ),
        (
            token(json!({"sub": "svc-notes", "exp": NOW as u64 - 600}), SECRET),
            None,
            None,
            401,
            "InvalidToken",
            "expired",
        ),
        ("not.a.token".into(), None, None, 401, "InvalidToken", "malformed"),
        (token(claims("svc-nobody"), SECRET), None, None, 403, "Forbidden", "ops"),
        (good.clone(), None, None, 400, "ProfileRequired", "may use [acme, globex]"),
        (good.clone(), Some("initech"), None, 403, "Forbidden", "may use [acme, globex]"),
        (good.clone(), Some("acme"), Some("/api/calls/delete"), 404, "NotFound", "no route"),
    ];
    for (token, profile, path, status, code, says) in cases {
        let r = run(&s, &token, profile, path);
        let Verdict::Refused(got_status, got_code) = r.verdict else { panic!("forwarded:\n{}", r.text) };
        assert_eq!(r.verdict.exit_code(), 3);
        assert_eq!(got_status, status, "{}", r.text);
        assert_eq!(got_code, code, "{}", r.text);
        assert!(r.text.contains(says), "expected {says:?} in:\n{}", r.text);
        assert!(r.text.contains(&format!("would be refused: {status}")), "{}", r.text);
    }
}

#[test]
fn an_unknown_key_is_named_as_such() {
    let s = setup();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k9".into());
    let t = jsonwebtoken::encode(&header, &claims("svc-notes"), &EncodingKey::from_secret(SECRET.as_bytes())).unwrap();
    let r = run(&s, &t, None, None);
    assert!(r.text.contains("kid \"k9\""), "{}", r.text);
    assert!(r.text.contains("no configured key matches"), "{}", r.text);
    assert_eq!(r.verdict.exit_code(), 3);
}
