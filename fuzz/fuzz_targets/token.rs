//! Bearer tokens: `hsgate::auth::verify` (header and claims parsing, key
//! choice, signature, claim rules) with a fixed key set and a fixed clock.
//!
//! Each input is verified as it is, then once more with its signature
//! replaced by a valid one for the `alg` its header names (HS256, HS512,
//! ES256, ES384, EdDSA fixture keys), so that mutated headers and claims get
//! past the signature and reach the claim rules. An accepted token must obey
//! SPEC §4's token rules, read here from the token itself.

#![no_main]

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hsgate::auth::{verify, KeySet};
use hsgate::config::AuthSettings;
use hsgate_fuzz::{auth_settings, key_set, once, signing_key, NOW};
use jsonwebtoken::Algorithm;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

struct Fixture {
    settings: [AuthSettings; 2],
    keys: KeySet,
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

fn fixture() -> &'static Fixture {
    once(&FIXTURE, || {
        let settings = [auth_settings(false), auth_settings(true)];
        let keys = key_set(&settings[0]);
        Fixture { settings, keys }
    })
}

fn decode(part: &str) -> Option<Map<String, Value>> {
    match serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// The token with a valid signature for the algorithm its header names.
fn resigned(token: &str) -> Option<String> {
    let (message, _) = token.rsplit_once('.')?;
    let head = message.split('.').next()?;
    let alg: Algorithm = decode(head)?.get("alg")?.as_str()?.parse().ok()?;
    if alg == Algorithm::RS256 {
        return None; // RSA signing is too slow to do per input; raw RS256 tokens still run.
    }
    let key = signing_key(alg)?;
    let sig = jsonwebtoken::crypto::sign(message.as_bytes(), &key, alg).ok()?;
    Some(format!("{message}.{sig}"))
}

fn number(claims: &Map<String, Value>, name: &str) -> Option<f64> {
    claims.get(name).map(|v| v.as_f64().unwrap_or_else(|| panic!("accepted a non-numeric {name}: {v}")))
}

/// SPEC §4's token rules, for a token `verify` accepted.
fn check_accepted(auth: &AuthSettings, token: &str, claims: &Map<String, Value>) {
    assert!(token.len() <= hsgate::auth::jwt::MAX_TOKEN_BYTES, "accepted a token over 16 KiB");
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "accepted a token that is not three parts");
    let header = decode(parts[0]).expect("accepted a header that is not base64url JSON");
    let alg = header.get("alg").and_then(Value::as_str).expect("accepted a header without alg");
    let alg: Algorithm = alg.parse().expect("accepted an unknown alg");
    assert!(auth.algorithms.contains(&alg), "accepted alg {alg:?}, which is not allowed");
    assert!(!header.contains_key("crit"), "accepted a crit header");
    assert!(header.get("kid").is_none_or(Value::is_string), "accepted a non-string kid");
    let body = decode(parts[1]).expect("accepted claims that are not base64url JSON");
    assert_eq!(&body, claims, "the claims returned are not the token's");

    let leeway = auth.leeway.as_secs_f64();
    let exp = number(claims, "exp").expect("accepted a token without exp");
    assert!(NOW <= exp + leeway, "accepted an expired token");
    if let Some(nbf) = number(claims, "nbf") {
        assert!(nbf <= NOW + leeway, "accepted a token not valid yet");
    }
    let iat = number(claims, "iat");
    if let Some(iat) = iat {
        assert!(iat <= NOW + leeway, "accepted a token issued in the future");
    }
    if let Some(max) = auth.max_token_lifetime {
        let iat = iat.expect("accepted a token without iat under max_token_lifetime");
        assert!(exp - iat <= max.as_secs_f64(), "accepted a token living too long");
    }
    let iss = claims.get("iss").and_then(Value::as_str).expect("accepted a token without iss");
    assert!(auth.issuers.iter().any(|i| i == iss), "accepted issuer {iss:?}");
    let audience_ok = match claims.get("aud") {
        Some(Value::String(a)) => auth.audiences.contains(a),
        Some(Value::Array(list)) => {
            list.iter().any(|a| a.as_str().is_some_and(|a| auth.audiences.iter().any(|x| x == a)))
        }
        _ => false,
    };
    assert!(audience_ok, "accepted audience {:?}", claims.get("aud"));
    for name in &auth.required_claims {
        assert!(claims.get(name).is_some_and(|v| !v.is_null()), "accepted a token without {name}");
    }
}

fn run(fixture: &Fixture, token: &str) {
    for auth in &fixture.settings {
        match verify(auth, &fixture.keys, token, NOW) {
            Ok(claims) => check_accepted(auth, token, claims.map()),
            Err(e) => assert!(!e.to_string().is_empty() && !e.reason().is_empty()),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // A header value the gateway reads as a token is text.
    let Ok(token) = std::str::from_utf8(data) else { return };
    let fixture = fixture();
    run(fixture, token);
    if let Some(token) = resigned(token) {
        run(fixture, &token);
    }
});
