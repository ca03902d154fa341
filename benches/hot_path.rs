//! The per-request work of the gateway, stage by stage: token verification
//! per algorithm (signature checked, or found in the verified-token cache),
//! body parse + credential injection, relay with and without redaction, and
//! the audit record's serialisation. Run: `cargo bench --bench hot_path`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use hsgate::auth::{self, keys, KeySet, TokenCache};
use hsgate::config::{load_str, AuthSettings, Config};
use hsgate::relay::{relay, Redactor};
use hsgate::upstream::UpstreamAnswer;
use jsonwebtoken::{Algorithm, EncodingKey};
use secrecy::SecretString;

const ISS: &str = "https://idp.bench";
const AUD: &str = "hsgate";
const HMAC: &str = "bench-hmac-secret-0123456789abcdef";
const PASSWORD: &str = "p@ss\"w✓rd-bench";

/// A CallRecordInfo of the usual size (about 820 bytes).
const RECORD: &str = r#"{"Id":"call-1001","ClientId":"cl-0042","ClientName":"Acme Answering","CenterId":"ctr-7","StartTime":"2026-11-30T14:02:11Z","CallerName":"Jane Doe","CallerNumber":"+1 555 0100","TransferToName":"Front desk","TransferToNumber":"+1 555 0199","Notes":"Called back, moved to Tue 10:30","DurationInSeconds":182.5,"RingTimeInSeconds":4.0,"HoldTimeInSeconds":12.0,"TalkTimeInSeconds":150.5,"TransferTimeInSeconds":0.0,"WorkTimeInSeconds":16.0,"HoldCount":1,"Interactions":[{"StartTime":"2026-11-30T14:02:15Z","Type":"Answer","Description":"Answered by agent 12"},{"StartTime":"2026-11-30T14:04:40Z","Type":"Hold","Description":"Hold 12 s"}],"AnsweredBy":"agent-12","Server":"evo-7","ScreenPop":"https://crm.example/acme/4411","CompletedFormIds":["f-1","f-9"],"Flagged":false,"FlagNotes":"","Type":"Inbound"}"#;

fn config() -> Config {
    let text = format!(
        r#"
[upstream]
url = "https://evo.hostedsuite.com"
[auth]
issuers = ["{ISS}"]
audiences = ["{AUD}"]
algorithms = ["RS256", "ES256", "EdDSA", "HS256"]
[[auth.hmac]]
kid = "hs"
secret = "{HMAC}"
[[profile]]
name = "acme"
customer_name = "Acme Answering"
user_name = "api-gateway"
password = {password}
[[grant]]
name = "g"
claims = {{ sub = "svc" }}
profiles = ["acme"]
routes = ["calls.update"]
"#,
        password = toml::Value::String(PASSWORD.to_owned())
    );
    load_str(&text, Path::new("/nonexistent/hsgate.toml")).unwrap()
}

/// (alg, kid, private key for signing, public verification key)
fn key(alg: Algorithm) -> (EncodingKey, keys::VerifyKey) {
    let (encoding, key, _) = key_and_raw(alg);
    (encoding, key)
}

/// [`key`], with the public key's raw bytes (an EC point, an Ed25519 key).
fn key_and_raw(alg: Algorithm) -> (EncodingKey, keys::VerifyKey, Vec<u8>) {
    let (rcgen_alg, name) = match alg {
        Algorithm::ES256 => (&rcgen::PKCS_ECDSA_P256_SHA256, "ES256"),
        Algorithm::EdDSA => (&rcgen::PKCS_ED25519, "EdDSA"),
        Algorithm::RS256 => (&rcgen::PKCS_RSA_SHA256, "RS256"),
        _ => {
            let secret = SecretString::from(HMAC.to_owned());
            let key = keys::from_hmac("hs", Algorithm::HS256, &secret);
            return (EncodingKey::from_secret(HMAC.as_bytes()), key, Vec::new());
        }
    };
    let pair = rcgen::KeyPair::generate_for(rcgen_alg).unwrap();
    let private = pair.serialize_pem();
    let encoding = hsgate::token::encoding_key(alg, private.as_bytes()).unwrap();
    let key = keys::from_pem(name, name, pair.public_key_pem().as_bytes()).unwrap();
    (encoding, key, pair.public_key_raw().to_vec())
}

fn token(alg: Algorithm, encoding: &EncodingKey, kid: &str) -> String {
    let claims = hsgate::token::claims(ISS, AUD, "svc", Duration::from_secs(3600));
    hsgate::token::sign(alg, Some(kid), encoding, &claims).unwrap()
}

fn verification(c: &mut Criterion) {
    let config = config();
    let auth: &AuthSettings = &config.auth;
    let mut verify_keys = Vec::new();
    let mut tokens = Vec::new();
    for alg in [Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256, Algorithm::HS256] {
        let (encoding, key) = key(alg);
        let kid = key.kid.clone().unwrap();
        tokens.push((alg, token(alg, &encoding, &kid)));
        verify_keys.push(Arc::new(key));
    }
    let set = KeySet::new(verify_keys);
    let mut group = c.benchmark_group("verify");
    for (alg, token) in &tokens {
        group.bench_function(format!("{alg:?}/signature"), |b| {
            b.iter(|| auth::verify(auth, &set, token, auth::jwt::unix_now()).unwrap())
        });
    }
    // What the ES256 signature check alone costs in aws-lc, with the public
    // key parsed for every check (as jsonwebtoken does) or once.
    let (encoding, _, raw) = key_and_raw(Algorithm::ES256);
    let es = token(Algorithm::ES256, &encoding, "es");
    let (message, sig) = es.rsplit_once('.').unwrap();
    let sig = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig).unwrap();
    let p256 = &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED;
    group.bench_function("ES256/aws-lc, key parsed per check", |b| {
        b.iter(|| aws_lc_rs::signature::UnparsedPublicKey::new(p256, &raw).verify(message.as_bytes(), &sig).unwrap())
    });
    let parsed = aws_lc_rs::signature::ParsedPublicKey::new(p256, &raw).unwrap();
    group.bench_function("ES256/aws-lc, key parsed once", |b| {
        b.iter(|| parsed.verify_sig(message.as_bytes(), &sig).unwrap())
    });
    // The cached path as the gateway takes it: hash, look up, check the rules again.
    let cache = TokenCache::default();
    let (alg, token) = &tokens[0];
    let claims = Arc::new(auth::verify(auth, &set, token, auth::jwt::unix_now()).unwrap());
    cache.insert(cache.key(token).unwrap(), claims, *alg, set.generation(), token.len());
    group.bench_function("cached", |b| {
        b.iter(|| {
            let (claims, alg) = cache.get(&cache.key(token).unwrap(), set.generation()).unwrap();
            assert!(auth.algorithms.contains(&alg));
            auth::jwt::check_claims(auth, &claims, auth::jwt::unix_now()).unwrap();
        })
    });
    group.finish();
}

fn body(c: &mut Criterion) {
    let config = config();
    let route = config.routes.by_name("calls.update").unwrap();
    let profile = &config.profiles[0];
    let body = br#"{"Id":"call-1001","Notes":"Called back, moved to Tue 10:30"}"#;
    c.bench_function("body/parse+inject", |b| {
        b.iter(|| {
            let fields = hsgate::inject::parse(body, route).unwrap();
            hsgate::inject::inject(&fields, profile).unwrap()
        })
    });
}

fn answer(status: u16, body: &str) -> UpstreamAnswer {
    UpstreamAnswer {
        status: hyper::StatusCode::from_u16(status).unwrap(),
        content_type: Some(hyper::header::HeaderValue::from_static("application/json; charset=utf-8")),
        body: Ok(Bytes::from(body.to_owned())),
    }
}

fn relaying(c: &mut Criterion) {
    let redactor = Redactor::new(&SecretString::from(PASSWORD.to_owned()));
    let echo = serde_json::json!({"ResponseStatus": {"ErrorCode": "ArgumentException",
        "Message": format!("Request: {}", serde_json::json!({"Id": "call-1001", "Password": PASSWORD}))}})
    .to_string();
    let mut group = c.benchmark_group("relay");
    group.bench_function("CallRecordInfo", |b| {
        b.iter_batched(|| answer(200, RECORD), |a| relay(a, &redactor).unwrap(), BatchSize::SmallInput)
    });
    group.bench_function("echo/redacted", |b| {
        b.iter_batched(|| answer(500, &echo), |a| assert!(relay(a, &redactor).unwrap().redacted), BatchSize::SmallInput)
    });
    group.finish();
}

fn audit(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let sink = hsgate::config::AuditSinkKind::File(dir.path().join("audit.jsonl"));
    let metrics = Arc::new(hsgate::metrics::Metrics::new());
    let log = Arc::new(hsgate::audit::AuditLog::open(&sink, hsgate::audit::Durability::Written, metrics).unwrap());
    let mut exchange = hsgate::audit::Exchange::new(
        log,
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "10.0.0.7:51234",
        "POST",
        "/api/calls/update",
    );
    let r = &mut exchange.record;
    r.time = "2026-12-01T08:00:00.000Z".into();
    r.route = Some("calls.update".into());
    r.subject = Some("svc-notes".into());
    r.issuer = Some(ISS.into());
    r.token_id = Some("a1b2c3d4".into());
    r.grant = Some("notes-service".into());
    r.profile = Some("acme".into());
    r.customer_name = Some("Acme Answering".into());
    r.user_name = Some("api-gateway".into());
    r.call_id = Some("call-1001".into());
    r.notes_length = Some(31);
    r.notes_hmac = Some("ab".repeat(32));
    r.redacted = Some(false);
    r.status = Some(200);
    r.upstream_status = Some(200);
    r.duration_ms = Some(1.234);
    r.upstream_ms = Some(0.987);
    let v = |s: &str| Some(serde_json::Value::from(s));
    let flagged = Some(serde_json::Value::Bool(false));
    r.result = Some(hsgate::relay::Summary([v("call-1001"), v("cl-0042"), v("ctr-7"), v("Inbound"), flagged]));
    // As the gateway writes it: into a buffer sized for a record.
    let mut line = Vec::with_capacity(1024);
    c.bench_function("audit/serialize", |b| {
        b.iter(|| {
            line.clear();
            exchange.record.write_line(&mut line);
        })
    });
}

criterion_group!(benches, verification, body, relaying, audit);
criterion_main!(benches);
