//! Token rules of SPEC §4, one table row per rule, each asserting the exact
//! `TokenError`. Keys are generated at test time (RSA once per binary).

use std::sync::OnceLock;
use std::time::Duration;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::signature::KeyPair as _;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::EncodingKey;
use secrecy::SecretString;
use serde_json::json;

use super::*;
use crate::auth::keys;

/// `super::verify` with the settings' own keys as the key set.
fn verify(auth: &AuthSettings, token: &str, now: f64) -> Result<Claims, TokenError> {
    super::verify(auth, &KeySet::new(auth.keys.iter().cloned()), token, now)
}
use crate::token::{claims, encoding_key, sign};

const ISS: &str = "https://idp.test.internal";
const AUD: &str = "hsgate";
const HMAC_SECRET: &str = "hmac-secret-for-unit-tests-0123456789";
/// A fixed clock for the claim rows.
const NOW: f64 = 1_700_000_000.0;
const LEEWAY: u64 = 30;

/// A generated key pair as PEM: private PKCS#8, public SubjectPublicKeyInfo.
struct Pair {
    private_pem: Vec<u8>,
    public_pem: Vec<u8>,
    /// Raw public key (uncompressed EC point or Ed25519 bytes), for JWKs.
    raw_public: Vec<u8>,
}

fn pem(label: &str, der: &[u8]) -> Vec<u8> {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out.into_bytes()
}

fn rcgen_pair(alg: &'static rcgen::SignatureAlgorithm) -> Pair {
    let kp = rcgen::KeyPair::generate_for(alg).unwrap();
    Pair {
        private_pem: kp.serialize_pem().into_bytes(),
        public_pem: kp.public_key_pem().into_bytes(),
        raw_public: kp.public_key_raw().to_vec(),
    }
}

fn rsa() -> &'static Pair {
    static KEY: OnceLock<Pair> = OnceLock::new();
    KEY.get_or_init(|| {
        let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let private: Pkcs8V1Der<'static> = kp.as_der().unwrap();
        let public: PublicKeyX509Der<'static> = kp.public_key().as_der().unwrap();
        Pair {
            private_pem: pem("PRIVATE KEY", private.as_ref()),
            public_pem: pem("PUBLIC KEY", public.as_ref()),
            raw_public: Vec::new(),
        }
    })
}

macro_rules! cached_pair {
    ($name:ident, $alg:expr) => {
        fn $name() -> &'static Pair {
            static KEY: OnceLock<Pair> = OnceLock::new();
            KEY.get_or_init(|| rcgen_pair($alg))
        }
    };
}
cached_pair!(ec, &rcgen::PKCS_ECDSA_P256_SHA256);
cached_pair!(ed, &rcgen::PKCS_ED25519);
cached_pair!(jwks_ec, &rcgen::PKCS_ECDSA_P256_SHA256);
cached_pair!(jwks_ed, &rcgen::PKCS_ED25519);
cached_pair!(attacker_ec, &rcgen::PKCS_ECDSA_P256_SHA256);

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn ec_jwk(pair: &Pair, kid: &str) -> Value {
    let point = &pair.raw_public;
    assert_eq!(point.len(), 65, "uncompressed P-256 point");
    json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": b64(&point[1..33]), "y": b64(&point[33..])})
}

fn ed_jwk(pair: &Pair, kid: &str) -> Value {
    json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64(&pair.raw_public)})
}

/// Keys in this order: rsa (pem), ec (pem), ed (pem), hs (hmac), jw-ec, jw-ed (jwks).
fn settings() -> AuthSettings {
    let jwks = json!({"keys": [ec_jwk(jwks_ec(), "jw-ec"), ed_jwk(jwks_ed(), "jw-ed")]}).to_string();
    let (from_jwks, skipped) = keys::from_jwks(&jwks).unwrap();
    assert!(skipped.is_empty(), "{skipped:?}");
    assert_eq!(from_jwks.len(), 2);
    let mut keys = vec![
        keys::from_pem("rsa", "RS256", &rsa().public_pem).unwrap(),
        keys::from_pem("ec", "ES256", &ec().public_pem).unwrap(),
        keys::from_pem("ed", "EdDSA", &ed().public_pem).unwrap(),
        keys::from_hmac("hs", Algorithm::HS256, &SecretString::from(HMAC_SECRET)),
    ];
    keys.extend(from_jwks);
    let keys = keys.into_iter().map(std::sync::Arc::new).collect();
    AuthSettings {
        issuers: vec![ISS.into()],
        audiences: vec![AUD.into()],
        algorithms: vec![Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA, Algorithm::HS256],
        leeway: Duration::from_secs(LEEWAY),
        max_token_lifetime: None,
        required_claims: vec!["sub".into()],
        keys,
        jwks: None,
    }
}

fn enc(alg: Algorithm, pair: &Pair) -> EncodingKey {
    encoding_key(alg, &pair.private_pem).unwrap()
}

fn hmac_key() -> EncodingKey {
    encoding_key(Algorithm::HS256, HMAC_SECRET.as_bytes()).unwrap()
}

/// Claims valid at `NOW`.
fn base_claims() -> Value {
    json!({"iss": ISS, "aud": AUD, "sub": "svc-notes", "iat": NOW, "exp": NOW + 600.0, "jti": "t-1"})
}

/// A hand-made token: any header, any payload text, signed under `alg`.
fn craft_parts(head: &str, body: &str, key: &EncodingKey, alg: Algorithm) -> String {
    let message = format!("{head}.{body}");
    let sig = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).unwrap();
    format!("{message}.{sig}")
}

fn craft(header: &Value, payload: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    craft_parts(&b64(header.to_string().as_bytes()), &b64(payload.to_string().as_bytes()), key, alg)
}

/// ES256 under the pem key "ec" with the given payload.
fn es256(payload: &Value) -> String {
    craft(&json!({"alg": "ES256", "kid": "ec"}), payload, &enc(Algorithm::ES256, ec()), Algorithm::ES256)
}

fn with(mut claims: Value, changes: &[(&str, Option<Value>)]) -> Value {
    let map = claims.as_object_mut().unwrap();
    for (name, value) in changes {
        match value {
            Some(v) => map.insert((*name).to_owned(), v.clone()),
            None => map.remove(*name),
        };
    }
    claims
}

fn check(auth: &AuthSettings, label: &str, token: &str, now: f64, expected: &Result<(), TokenError>) {
    let got = verify(auth, token, now).map(|_| ());
    assert_eq!(&got, expected, "row {label:?}");
}

#[test]
fn valid_tokens_from_every_key_kind_are_accepted() {
    let auth = settings();
    let rows: Vec<(&str, Algorithm, Option<&str>, EncodingKey)> = vec![
        ("RS256 pem", Algorithm::RS256, Some("rsa"), enc(Algorithm::RS256, rsa())),
        ("ES256 pem", Algorithm::ES256, Some("ec"), enc(Algorithm::ES256, ec())),
        ("EdDSA pem", Algorithm::EdDSA, Some("ed"), enc(Algorithm::EdDSA, ed())),
        ("HS256 hmac", Algorithm::HS256, Some("hs"), hmac_key()),
        ("ES256 jwks", Algorithm::ES256, Some("jw-ec"), enc(Algorithm::ES256, jwks_ec())),
        ("EdDSA jwks", Algorithm::EdDSA, Some("jw-ed"), enc(Algorithm::EdDSA, jwks_ed())),
        // No kid: every key pinned to the alg is tried; "ec" comes first and fails, "jw-ec" verifies.
        ("ES256 no kid, second key verifies", Algorithm::ES256, None, enc(Algorithm::ES256, jwks_ec())),
        ("EdDSA no kid, first key verifies", Algorithm::EdDSA, None, enc(Algorithm::EdDSA, ed())),
    ];
    for (label, alg, kid, key) in rows {
        let token = sign(alg, kid, &key, &claims(ISS, AUD, "svc-notes", Duration::from_secs(600))).unwrap();
        let got = verify(&auth, &token, unix_now()).unwrap_or_else(|e| panic!("row {label:?}: refused: {e:?}"));
        assert_eq!(got.subject(), Some("svc-notes"), "row {label:?}");
        assert_eq!(got.issuer(), Some(ISS), "row {label:?}");
        assert!(got.token_id().is_some(), "row {label:?}");
    }
}

#[test]
fn header_and_signature_rules() {
    let auth = settings();
    let claims = base_claims();
    let es = enc(Algorithm::ES256, ec());
    let attacker = enc(Algorithm::ES256, attacker_ec());
    let rsa_pub_as_hmac = EncodingKey::from_secret(&rsa().public_pem);
    let attacker_jwk = ec_jwk(attacker_ec(), "attacker");
    let ok = Ok(());
    let rows: Vec<(&str, String, Result<(), TokenError>)> = vec![
        (
            "alg none with empty signature",
            format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(claims.to_string().as_bytes())),
            Err(TokenError::AlgorithmNotAllowed),
        ),
        (
            "alg NONE (other case) with empty signature",
            format!("{}.{}.", b64(br#"{"alg":"NONE","kid":"ec"}"#), b64(claims.to_string().as_bytes())),
            Err(TokenError::AlgorithmNotAllowed),
        ),
        (
            "alg RS512 not in the allowlist",
            craft(&json!({"alg": "RS512", "kid": "rsa"}), &claims, &enc(Algorithm::RS512, rsa()), Algorithm::RS512),
            Err(TokenError::AlgorithmNotAllowed),
        ),
        (
            "alg confusion: HS256 keyed with the RSA public PEM, kid of the RSA key",
            craft(&json!({"alg": "HS256", "kid": "rsa"}), &claims, &rsa_pub_as_hmac, Algorithm::HS256),
            Err(TokenError::UnknownKey),
        ),
        (
            "alg confusion: HS256 keyed with the RSA public PEM, no kid",
            craft(&json!({"alg": "HS256"}), &claims, &rsa_pub_as_hmac, Algorithm::HS256),
            Err(TokenError::BadSignature),
        ),
        (
            "kid unknown",
            craft(&json!({"alg": "ES256", "kid": "nope"}), &claims, &es, Algorithm::ES256),
            Err(TokenError::UnknownKey),
        ),
        (
            "kid names an EdDSA key but alg is ES256",
            craft(&json!({"alg": "ES256", "kid": "ed"}), &claims, &es, Algorithm::ES256),
            Err(TokenError::UnknownKey),
        ),
        (
            "kid names an ES256 key but alg is HS256 (signed with the HMAC secret)",
            craft(&json!({"alg": "HS256", "kid": "ec"}), &claims, &hmac_key(), Algorithm::HS256),
            Err(TokenError::UnknownKey),
        ),
        (
            "signature by another key",
            craft(&json!({"alg": "ES256", "kid": "ec"}), &claims, &attacker, Algorithm::ES256),
            Err(TokenError::BadSignature),
        ),
        (
            "signature by another key, no kid",
            craft(&json!({"alg": "ES256"}), &claims, &attacker, Algorithm::ES256),
            Err(TokenError::BadSignature),
        ),
        (
            "payload changed after signing",
            {
                let t = es256(&claims);
                let (head, rest) = t.split_once('.').unwrap();
                let (_, sig) = rest.split_once('.').unwrap();
                let forged = with(claims.clone(), &[("sub", Some(json!("admin")))]);
                format!("{head}.{}.{sig}", b64(forged.to_string().as_bytes()))
            },
            Err(TokenError::BadSignature),
        ),
        (
            "signature empty",
            {
                let t = es256(&claims);
                t[..t.rfind('.').unwrap() + 1].to_owned()
            },
            Err(TokenError::BadSignature),
        ),
        (
            "crit header",
            craft(&json!({"alg": "ES256", "kid": "ec", "crit": ["exp"]}), &claims, &es, Algorithm::ES256),
            Err(TokenError::CriticalHeader),
        ),
        (
            "jku/x5u/jwk/x5c headers are ignored on a valid token",
            craft(
                &json!({"alg": "ES256", "kid": "ec", "jku": "https://attacker.example/jwks.json",
                        "x5u": "https://attacker.example/cert.pem", "jwk": attacker_jwk.clone(),
                        "x5c": ["MIIBkTCB+wIJAKHHIG"]}),
                &claims,
                &es,
                Algorithm::ES256,
            ),
            ok.clone(),
        ),
        (
            "attacker key embedded in jwk header, no kid",
            craft(&json!({"alg": "ES256", "jwk": attacker_jwk.clone()}), &claims, &attacker, Algorithm::ES256),
            Err(TokenError::BadSignature),
        ),
        (
            "attacker key embedded in jwk header, kid of a configured key",
            craft(
                &json!({"alg": "ES256", "kid": "ec", "jwk": attacker_jwk.clone()}),
                &claims,
                &attacker,
                Algorithm::ES256,
            ),
            Err(TokenError::BadSignature),
        ),
        (
            "attacker key embedded in jwk header, the attacker's kid",
            craft(
                &json!({"alg": "ES256", "kid": "attacker", "jwk": attacker_jwk}),
                &claims,
                &attacker,
                Algorithm::ES256,
            ),
            Err(TokenError::UnknownKey),
        ),
        (
            "attacker key named by jku/x5u only",
            craft(
                &json!({"alg": "ES256", "jku": "https://attacker.example/jwks.json", "x5u": "https://attacker.example/c"}),
                &claims,
                &attacker,
                Algorithm::ES256,
            ),
            Err(TokenError::BadSignature),
        ),
    ];
    for (label, token, expected) in &rows {
        check(&auth, label, token, NOW, expected);
    }
}

#[test]
fn malformed_tokens_are_refused_as_malformed() {
    let auth = settings();
    let es = enc(Algorithm::ES256, ec());
    let good = es256(&base_claims());
    let head = b64(br#"{"alg":"ES256","kid":"ec"}"#);
    let rows: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("two parts", good[..good.rfind('.').unwrap()].to_owned()),
        ("four parts", format!("{good}.AAAA")),
        ("header bad base64", format!("!!!{good}")),
        ("header padded base64", format!("{}=.{}", head, good.split_once('.').unwrap().1)),
        (
            "header not JSON",
            craft_parts(&b64(b"{alg:ES256"), &b64(base_claims().to_string().as_bytes()), &es, Algorithm::ES256),
        ),
        (
            "header a JSON array",
            craft_parts(&b64(b"[\"ES256\"]"), &b64(base_claims().to_string().as_bytes()), &es, Algorithm::ES256),
        ),
        ("header without alg", craft(&json!({"kid": "ec"}), &base_claims(), &es, Algorithm::ES256)),
        ("alg not a string", craft(&json!({"alg": 256, "kid": "ec"}), &base_claims(), &es, Algorithm::ES256)),
        ("kid not a string", craft(&json!({"alg": "ES256", "kid": 7}), &base_claims(), &es, Algorithm::ES256)),
        ("payload bad base64 (signed)", craft_parts(&head, "e30*", &es, Algorithm::ES256)),
        ("payload not JSON (signed)", craft_parts(&head, &b64(b"{\"iss\":"), &es, Algorithm::ES256)),
        ("payload a JSON array (signed)", craft_parts(&head, &b64(b"[1,2]"), &es, Algorithm::ES256)),
        ("payload a JSON string (signed)", craft_parts(&head, &b64(b"\"sub\""), &es, Algorithm::ES256)),
    ];
    for (label, token) in &rows {
        check(&auth, label, token, NOW, &Err(TokenError::Malformed));
    }
}

#[test]
fn claim_rules() {
    let auth = settings();
    let l = LEEWAY as f64;
    let c = base_claims;
    let ok = Ok(());
    let rows: Vec<(&str, Value, Result<(), TokenError>)> = vec![
        ("all claims valid", c(), ok.clone()),
        ("exp missing", with(c(), &[("exp", None)]), Err(TokenError::MissingClaim("exp".into()))),
        ("exp null", with(c(), &[("exp", Some(Value::Null))]), Err(TokenError::BadTimeClaim("exp"))),
        ("exp past beyond leeway", with(c(), &[("exp", Some(json!(NOW - l - 1.0)))]), Err(TokenError::Expired)),
        ("exp past within leeway", with(c(), &[("exp", Some(json!(NOW - l + 1.0)))]), ok.clone()),
        ("exp with a fraction", with(c(), &[("exp", Some(json!(NOW + 0.5)))]), ok.clone()),
        (
            "exp as a string",
            with(c(), &[("exp", Some(json!((NOW + 600.0).to_string())))]),
            Err(TokenError::BadTimeClaim("exp")),
        ),
        ("nbf future beyond leeway", with(c(), &[("nbf", Some(json!(NOW + l + 1.0)))]), Err(TokenError::NotYetValid)),
        ("nbf future within leeway", with(c(), &[("nbf", Some(json!(NOW + l - 1.0)))]), ok.clone()),
        ("nbf past", with(c(), &[("nbf", Some(json!(NOW - 100.0)))]), ok.clone()),
        ("nbf as a string", with(c(), &[("nbf", Some(json!("soon")))]), Err(TokenError::BadTimeClaim("nbf"))),
        (
            "iat future beyond leeway",
            with(c(), &[("iat", Some(json!(NOW + l + 1.0)))]),
            Err(TokenError::IssuedInFuture),
        ),
        ("iat future within leeway", with(c(), &[("iat", Some(json!(NOW + l - 1.0)))]), ok.clone()),
        ("iat missing (no max lifetime)", with(c(), &[("iat", None)]), ok.clone()),
        ("iat as a string", with(c(), &[("iat", Some(json!("now")))]), Err(TokenError::BadTimeClaim("iat"))),
        ("iss missing", with(c(), &[("iss", None)]), Err(TokenError::BadIssuer)),
        ("iss wrong", with(c(), &[("iss", Some(json!("https://evil.example")))]), Err(TokenError::BadIssuer)),
        ("iss differs in case", with(c(), &[("iss", Some(json!(ISS.to_uppercase())))]), Err(TokenError::BadIssuer)),
        ("iss as an array", with(c(), &[("iss", Some(json!([ISS])))]), Err(TokenError::BadIssuer)),
        ("aud string", with(c(), &[("aud", Some(json!(AUD)))]), ok.clone()),
        ("aud array intersecting", with(c(), &[("aud", Some(json!(["other", AUD])))]), ok.clone()),
        (
            "aud array not intersecting",
            with(c(), &[("aud", Some(json!(["other", "more"])))]),
            Err(TokenError::BadAudience),
        ),
        ("aud empty array", with(c(), &[("aud", Some(json!([])))]), Err(TokenError::BadAudience)),
        ("aud wrong string", with(c(), &[("aud", Some(json!("other")))]), Err(TokenError::BadAudience)),
        ("aud missing", with(c(), &[("aud", None)]), Err(TokenError::BadAudience)),
        ("required sub missing", with(c(), &[("sub", None)]), Err(TokenError::MissingClaim("sub".into()))),
        ("required sub null", with(c(), &[("sub", Some(Value::Null))]), Err(TokenError::MissingClaim("sub".into()))),
    ];
    for (label, payload, expected) in &rows {
        check(&auth, label, &es256(payload), NOW, expected);
    }
}

#[test]
fn max_token_lifetime_requires_iat_and_bounds_exp_minus_iat() {
    let mut auth = settings();
    auth.max_token_lifetime = Some(Duration::from_secs(3600));
    let c = base_claims;
    let rows: Vec<(&str, Value, Result<(), TokenError>)> = vec![
        ("lifetime within the maximum", c(), Ok(())),
        ("lifetime exactly the maximum", with(c(), &[("exp", Some(json!(NOW + 3600.0)))]), Ok(())),
        ("lifetime too long", with(c(), &[("exp", Some(json!(NOW + 3601.0)))]), Err(TokenError::LifetimeTooLong)),
        (
            "lifetime too long via an old iat",
            with(c(), &[("iat", Some(json!(NOW - 7200.0)))]),
            Err(TokenError::LifetimeTooLong),
        ),
        ("iat missing", with(c(), &[("iat", None)]), Err(TokenError::MissingClaim("iat".into()))),
    ];
    for (label, payload, expected) in &rows {
        check(&auth, label, &es256(payload), NOW, expected);
    }
}

#[test]
fn required_claims_are_configurable() {
    let mut auth = settings();
    auth.required_claims = vec!["sub".into(), "tenant".into()];
    let without = es256(&base_claims());
    check(&auth, "tenant missing", &without, NOW, &Err(TokenError::MissingClaim("tenant".into())));
    let with_tenant = es256(&with(base_claims(), &[("tenant", Some(json!("acme")))]));
    check(&auth, "tenant present", &with_tenant, NOW, &Ok(()));
}

#[test]
fn token_size_limit_is_16_kib_inclusive() {
    let auth = settings();
    let key = hmac_key();
    // Find a valid token of exactly MAX_TOKEN_BYTES by varying a header filler and a claim filler
    // (base64url lengths skip one value in four, so one dimension alone may miss it).
    let token_of = |header_fill: usize, pad: usize| {
        let header = json!({"alg": "HS256", "kid": "hs", "x": "h".repeat(header_fill)});
        craft(&header, &with(base_claims(), &[("pad", Some(json!("p".repeat(pad))))]), &key, Algorithm::HS256)
    };
    let mut exact = None;
    'search: for header_fill in 0..4 {
        for pad in 12_000..12_400 {
            let t = token_of(header_fill, pad);
            if t.len() == MAX_TOKEN_BYTES {
                exact = Some((header_fill, pad, t));
                break 'search;
            }
        }
    }
    let (header_fill, pad, at_limit) = exact.expect("a token of exactly 16384 bytes");
    assert_eq!(at_limit.len(), 16384);
    check(&auth, "exactly 16384 bytes", &at_limit, NOW, &Ok(()));

    let over = token_of(header_fill, pad + 1);
    assert!(over.len() > 16384);
    check(&auth, "over 16384 bytes", &over, NOW, &Err(TokenError::TooLarge));
    // The size rule comes first: an oversized token is refused as such whatever else is wrong with it.
    check(&auth, "over 16384 bytes of junk", &"x".repeat(16385), NOW, &Err(TokenError::TooLarge));
}

#[test]
fn error_text_never_echoes_the_token() {
    let auth = settings();
    let token = es256(&with(base_claims(), &[("iss", Some(json!("https://evil.example/SECRETMARKER")))]));
    let err = verify(&auth, &token, NOW).unwrap_err();
    let text = err.to_string();
    assert!(!text.contains("SECRETMARKER") && !text.contains(&token), "{text}");
}

/// Fuzz-style: every single-character change to valid tokens of each key
/// type (and a few truncations) is refused, and nothing panics.
#[test]
fn mutated_tokens_never_verify() {
    let auth = settings();
    let tokens = [
        craft(&json!({"alg": "ES256", "kid": "ec"}), &base_claims(), &enc(Algorithm::ES256, ec()), Algorithm::ES256),
        craft(&json!({"alg": "EdDSA", "kid": "ed"}), &base_claims(), &enc(Algorithm::EdDSA, ed()), Algorithm::EdDSA),
        craft(&json!({"alg": "HS256"}), &base_claims(), &hmac_key(), Algorithm::HS256),
    ];
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ";
    let mut tried = 0;
    for token in &tokens {
        assert!(verify(&auth, token, NOW).is_ok(), "the unmutated token verifies");
        let bytes = token.as_bytes();
        for at in 0..bytes.len() {
            for &c in &ALPHABET[(at % 7)..][..4] {
                if c == bytes[at] {
                    continue;
                }
                let mut mutated = bytes.to_vec();
                mutated[at] = c;
                let mutated = String::from_utf8(mutated).unwrap();
                assert!(verify(&auth, &mutated, NOW).is_err(), "mutation at {at} to {:?} verified", c as char);
                tried += 1;
            }
        }
        for cut in [1, 2, 10, token.len() / 2] {
            assert!(verify(&auth, &token[..token.len() - cut], NOW).is_err(), "truncated by {cut} verified");
        }
    }
    assert!(tried > 1000, "{tried}");
}

mod hostile;

#[test]
fn every_claim_is_got_as_the_token_has_it() {
    // Duplicate keys: the parsed map keeps the last, and so must the copies.
    let text =
        r#"{"sub":"first","exp":1,"nbf":2,"iat":3,"iss":"i","aud":["a","b"],"jti":"j","sub":"last","groups":["x"]}"#;
    let map: Map<String, Value> = serde_json::from_str(text).unwrap();
    let claims = Claims::new(map.clone());
    for name in ["exp", "nbf", "iat", "iss", "aud", "sub", "jti", "groups", "absent"] {
        assert_eq!(claims.get(name), map.get(name), "{name}");
    }
    assert_eq!(claims.subject(), Some("last"));
    assert_eq!((claims.issuer(), claims.token_id()), (Some("i"), Some("j")));
}
