//! JWKS documents, as a `jwks_url` answer (or `jwks_file`) may hold them:
//! `hsgate::auth::keys::from_jwks` (UTF-8 text, as the fetcher hands it
//! over), then the keys put in a key set and used to verify fixed tokens
//! signed with the fixture keys, so that odd key material reaches the
//! signature code.
//!
//! Asserts: every entry of the `keys` array is either a key or a skip note;
//! no key is symmetric (an HMAC secret from the IdP would let anyone holding
//! the public document sign tokens); every key's algorithm fits its type;
//! a token verifies only under an algorithm some key of the document has.

#![no_main]

use std::sync::{Arc, OnceLock};

use hsgate::auth::{keys, verify, KeySet};
use hsgate::config::AuthSettings;
use hsgate_fuzz::{auth_settings, once, signing_key, NOW};
use jsonwebtoken::{Algorithm, AlgorithmFamily};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

struct Fixture {
    auth: AuthSettings,
    /// One token per asymmetric fixture algorithm, without `kid` (so the
    /// document's keys of that algorithm are the candidates), and with the
    /// fixture `kid`.
    tokens: Vec<(Algorithm, String)>,
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

fn fixture() -> &'static Fixture {
    once(&FIXTURE, || {
        let mut auth = auth_settings(false);
        auth.algorithms.push(Algorithm::ES384);
        let mut claims = serde_json::Map::new();
        claims.insert("iss".into(), hsgate_fuzz::ISS.into());
        claims.insert("aud".into(), hsgate_fuzz::AUD.into());
        claims.insert("sub".into(), "svc-notes".into());
        claims.insert("exp".into(), (NOW as u64 + 600).into());
        let mut tokens = Vec::new();
        for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::ES384, Algorithm::EdDSA] {
            let key = signing_key(alg).expect("fixture key");
            for kid in [None, hsgate_fuzz::fixture_kid(alg)] {
                let token = hsgate::token::sign(alg, kid, &key, &claims).expect("fixture token");
                tokens.push((alg, token));
            }
        }
        Fixture { auth, tokens }
    })
}

fn implied_family(kty: Option<&str>) -> Option<AlgorithmFamily> {
    match kty? {
        "RSA" => Some(AlgorithmFamily::Rsa),
        "EC" => Some(AlgorithmFamily::Ec),
        "OKP" => Some(AlgorithmFamily::Ed),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (found, skipped) = match keys::from_jwks(text) {
        Ok(k) => k,
        Err(why) => {
            assert!(!why.is_empty());
            return;
        }
    };
    let doc: Value = serde_json::from_str(text).expect("a document from_jwks took is JSON");
    let entries = doc.get("keys").and_then(Value::as_array).expect("a document from_jwks took has a keys array");
    assert_eq!(found.len() + skipped.len(), entries.len(), "every entry is a key or a skip note");
    assert!(skipped.iter().all(|s| !s.is_empty()));
    for key in &found {
        assert_ne!(key.alg.family(), AlgorithmFamily::Hmac, "a symmetric key was taken from a JWKS");
        assert_eq!(key.source, "jwks");
        let fits = |e: &Value| {
            e.get("kid").and_then(Value::as_str) == key.kid.as_deref()
                && implied_family(e.get("kty").and_then(Value::as_str)) == Some(key.alg.family())
                && e.get("use").and_then(Value::as_str) != Some("enc")
        };
        assert!(entries.iter().any(fits), "{:?} key {:?} fits no entry of the document", key.alg, key.kid);
    }
    let algs: Vec<Algorithm> = found.iter().map(|k| k.alg).collect();
    let set = KeySet::new(found.into_iter().map(Arc::new));
    let fixture = fixture();
    for (alg, token) in &fixture.tokens {
        if verify(&fixture.auth, &set, token, NOW).is_ok() {
            assert!(algs.contains(alg), "a {alg:?} token verified with no {alg:?} key in the document");
        }
    }
});
