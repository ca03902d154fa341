#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Wycheproof's JSON Web Signature vectors through the real `verify`.
//!
//! The vector file is not in this repository (see
//! `tests/vectors/wycheproof/README.md` for its source, commit, digest and
//! where the test looks for it), so both tests are `#[ignore]`d, which
//! `cargo test` lists by name; run them with
//! `cargo test --test wycheproof_jws -- --include-ignored`. A missing file
//! then fails the run (it is never a silent pass), every vector is run,
//! counted and asserted, and the file's SHA-256 is pinned.
//!
//! **Signature verdict and claims verdict.** Wycheproof's payloads are not
//! JWT claims (`foo`, `123400`, RFC 7520's text), and SPEC §4 requires `exp`,
//! `iss`, `aud` and `sub`, so no vector can pass the whole of `verify`: every
//! one is asserted refused. What Wycheproof judges is the signature, and
//! `verify` checks it (header, allowlist, key choice, signature) before it
//! reads a byte of the payload. The test tells the two apart with the real
//! code alone: a refusal that is a claim rule, or `Malformed` where the same
//! token against an *empty* key set is refused for its key (`UnknownKey`),
//! came after the signature verified (the header was fine, a key matched,
//! and only the payload was left to fail). Every other refusal is a signature
//! verdict. That verdict must equal Wycheproof's `result`, except for the
//! classes listed in `Expected` below, each with its reason and its count.
//!
//! **Keys.** Each group's key is its `public` JWK, or its `private` one with
//! every private member stripped. Asymmetric keys go through the project's
//! own JWKS parser (`keys::from_jwks`); a key it skips gives an empty key set.
//! Symmetric keys: the project never takes them from a JWKS and takes
//! `[[auth.hmac]]` secrets as UTF-8 text (SPEC §3); a key whose bytes are
//! UTF-8 goes through `keys::from_hmac`, the others are built as the same
//! `VerifyKey` (`DecodingKey::from_secret` over the key bytes, the JWK's
//! `alg`), since a config cannot spell them.
//!
//! **Allowlist.** Two test configs, loaded by the real config loader: every
//! algorithm the project can be configured with (the crypto verdicts), and
//! the default allowlist (RS256, ES256, EdDSA), where a vector of another
//! `alg` is refused as `AlgorithmNotAllowed` whatever its signature.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hsgate::auth::{jwt, keys, KeySet, TokenError, VerifyKey};
use hsgate::config::AuthSettings;
use jsonwebtoken::{Algorithm, DecodingKey};
use secrecy::SecretString;
use serde_json::{json, Value};

const FILE: &str = "json_web_signature_test.json";
/// SHA-256 of the file at C2SP/wycheproof dac1dd4729fd1f8dd9e1e9f3dce51d783da6c166.
const SHA256: &str = "8e687a06fe8359f4ec51480f1a9f73c8faebd6f4c01b818b843b44eee54fd5d9";
const VECTORS: usize = 401;
/// A fixed clock (the vectors carry no time claims; this only pins the run).
const NOW: f64 = 1_700_000_000.0;

/// Where the vectors are looked for: `HSGATE_WYCHEPROOF_DIR`, this
/// repository's `tests/vectors/wycheproof/`, then `shared/vectors/wycheproof/`
/// beside the checkout (where CI lays the project's shared folder).
fn vector_file() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("HSGATE_WYCHEPROOF_DIR") {
        dirs.push(dir.into());
    }
    dirs.push(root.join("tests/vectors/wycheproof"));
    dirs.push(root.join("../shared/vectors/wycheproof"));
    for dir in &dirs {
        let file = dir.join(FILE);
        if file.is_file() {
            return file;
        }
    }
    panic!(
        "Wycheproof vectors not found: {FILE} is in none of {dirs:?}. All {VECTORS} vectors would be skipped, \
         so this test fails instead; tests/vectors/wycheproof/README.md says where the file comes from."
    );
}

fn load_vectors() -> Value {
    let path = vector_file();
    let bytes = std::fs::read(&path).unwrap();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, SHA256, "{} is not the pinned Wycheproof file", path.display());
    serde_json::from_slice(&bytes).unwrap()
}

/// An `[auth]` section loaded by the real config loader; `algorithms` is the
/// TOML line (empty: the default allowlist).
fn auth_settings(algorithms: &str) -> AuthSettings {
    let text = format!(
        r#"
[upstream]
url = "https://hostedsuite.invalid"

[auth]
issuers = ["https://idp.test.internal"]
audiences = ["hsgate"]
{algorithms}

[[auth.hmac]]
kid = "config-needs-a-key"
secret = "unused-secret-for-the-vector-test"

[[profile]]
name = "acme"
customer_name = "Acme"
user_name = "gw"
password = "unused-password"

[[grant]]
name = "g"
claims = {{ sub = "x" }}
profiles = ["acme"]
routes = ["calls.update"]
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let config = hsgate::config::load_str(&text, &dir.path().join("hsgate.toml")).unwrap_or_else(|e| panic!("{e}"));
    config.auth
}

/// Every algorithm `auth.algorithms` accepts.
const ALL_ALGORITHMS: &str = r#"algorithms = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512",
  "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"]"#;

/// The group's key, public members only.
fn public_jwk(group: &Value) -> Value {
    let mut jwk = group.get("public").or_else(|| group.get("private")).cloned().expect("a key");
    if jwk["kty"] != "oct" {
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth"] {
            jwk.as_object_mut().unwrap().remove(private);
        }
    }
    jwk
}

/// The key set the project would build from the group's key.
fn key_set(jwk: &Value) -> KeySet {
    if jwk["kty"] == "oct" {
        let bytes = URL_SAFE_NO_PAD.decode(jwk["k"].as_str().unwrap()).unwrap();
        let kid = jwk["kid"].as_str().unwrap();
        let alg: Algorithm = jwk["alg"].as_str().unwrap().parse().unwrap();
        let key = match String::from_utf8(bytes.clone()) {
            Ok(text) => keys::from_hmac(kid, alg, &SecretString::from(text)),
            Err(_) => VerifyKey { kid: Some(kid.into()), alg, key: DecodingKey::from_secret(&bytes), source: "hmac" },
        };
        return KeySet::new([Arc::new(key)]);
    }
    let (found, _skipped) = keys::from_jwks(&json!({ "keys": [jwk] }).to_string()).unwrap();
    KeySet::new(found.into_iter().map(Arc::new))
}

/// Refused before the payload was looked at, or only by the payload/claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Verdict {
    /// The signature verified; the payload (not JWT claims) was refused.
    SignatureValid,
    SignatureRefused,
}

fn is_claim_rule(e: &TokenError) -> bool {
    match e {
        TokenError::Expired
        | TokenError::NotYetValid
        | TokenError::IssuedInFuture
        | TokenError::LifetimeTooLong
        | TokenError::BadTimeClaim(_)
        | TokenError::BadIssuer
        | TokenError::BadAudience
        | TokenError::MissingClaim(_) => true,
        TokenError::TooLarge
        | TokenError::Malformed
        | TokenError::AlgorithmNotAllowed
        | TokenError::CriticalHeader
        | TokenError::UnknownKey
        | TokenError::BadSignature => false,
    }
}

/// Runs `jws` through `verify`; `Err` if `verify` accepted it (no vector may).
fn judge(auth: &AuthSettings, keys: &KeySet, jws: &str) -> Result<(Verdict, TokenError), String> {
    let err = match jwt::verify(auth, keys, jws, NOW) {
        Ok(claims) => return Err(format!("accepted with claims {:?}", claims.map())),
        Err(e) => e,
    };
    let after_signature = is_claim_rule(&err)
        || (err == TokenError::Malformed
            && jwt::verify(auth, &KeySet::default(), jws, NOW).err() == Some(TokenError::UnknownKey));
    let verdict = if after_signature { Verdict::SignatureValid } else { Verdict::SignatureRefused };
    Ok((verdict, err))
}

/// Why the project's verdict differs from Wycheproof's `result`, by class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Expected {
    /// Wycheproof's verdict, held.
    AsWycheproof,
    /// The key is of a kind the project does not load (P-521, `use: enc`,
    /// `key_ops` without `verify`): `from_jwks` skips it, nothing verifies.
    KeyNotLoaded,
    /// The token's `alg` is one the project does not implement (ES512).
    AlgorithmUnsupported,
    /// The key's JWK says one algorithm and the token another (RFC 7520's
    /// PS384 example against a JWK with `alg: PS256`): the project pins the
    /// algorithm by the key (SPEC §4), Wycheproof lets the token choose
    /// within the family. Refused: stricter than the vector.
    AlgorithmPinnedByKey,
    /// `?` inserted into the header or payload segment, the signature that
    /// of the text without it: a verifier that accepts it must have dropped
    /// a character of the signed input. Refused: stricter than the vector
    /// (RFC 7515 §5.2 verifies over the segments as sent).
    StrictSegments,
    /// The token is byte for byte tcId 357 (valid) though labelled invalid:
    /// the `=` padding its name speaks of is not in the file. The signature
    /// verifies, as for 357; claims still refuse it.
    MislabelledInFile,
    /// The payload segment is not base64url (spaces, `#`, `?`, non-zero
    /// trailing bits) and the MAC is that of the segments as sent, so the
    /// signature verifies (RFC 7515 §5.2 signs the text, not the bytes it
    /// encodes); the payload is refused when it is decoded (`Malformed`).
    PayloadNotBase64url,
    /// Not in the default allowlist.
    NotAllowedByDefault,
}

fn expected_class(group: &Value, test: &Value, keys: &KeySet, header_alg: Option<&str>, default: bool) -> Expected {
    let tc = test["tcId"].as_u64().unwrap();
    if header_alg.is_some_and(|a| a.parse::<Algorithm>().is_err() && a.starts_with("ES")) {
        return Expected::AlgorithmUnsupported;
    }
    // Only where the token has its three segments, so that its alg is read.
    let three_segments = test["jws"].as_str().is_some_and(|t| t.split('.').count() == 3);
    if default && three_segments && header_alg.is_some_and(|a| !matches!(a, "RS256" | "ES256" | "EdDSA")) {
        return Expected::NotAllowedByDefault;
    }
    if matches!(tc, 372 | 373) {
        return Expected::StrictSegments;
    }
    if matches!(tc, 367 | 370) {
        return Expected::MislabelledInFile;
    }
    if matches!(tc, 368 | 369 | 371 | 375) {
        return Expected::PayloadNotBase64url;
    }
    if keys.is_empty() {
        return Expected::KeyNotLoaded;
    }
    let key_alg = public_jwk(group)["alg"].as_str().map(str::to_owned);
    if test["result"] == "valid" && key_alg.as_deref() != header_alg {
        return Expected::AlgorithmPinnedByKey;
    }
    Expected::AsWycheproof
}

fn header_alg(jws: &str) -> Option<String> {
    let head = jws.split('.').next()?;
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(head).ok()?).ok()?;
    header.get("alg")?.as_str().map(str::to_owned)
}

/// Runs every vector; returns the count per (class, wycheproof result, verdict).
fn run_all(auth: &AuthSettings, default: bool) -> BTreeMap<(Expected, String, Verdict), usize> {
    let doc = load_vectors();
    assert_eq!(doc["numberOfTests"], VECTORS);
    let mut tally = BTreeMap::new();
    let mut run = 0;
    let mut failures = Vec::new();
    for group in doc["testGroups"].as_array().unwrap() {
        assert_eq!(group["type"], "JsonWebSignature");
        let keys = key_set(&public_jwk(group));
        for test in group["tests"].as_array().unwrap() {
            run += 1;
            let tc = &test["tcId"];
            let jws = test["jws"].as_str().expect("every vector is a string (compact or JSON serialisation)");
            let result = test["result"].as_str().unwrap().to_owned();
            assert!(result == "valid" || result == "invalid", "tcId {tc}: result {result}");
            let alg = header_alg(jws);
            let class = expected_class(group, test, &keys, alg.as_deref(), default);
            let (verdict, err) = judge(auth, &keys, jws).unwrap_or_else(|e| panic!("tcId {tc}: {e}"));
            let what =
                format!("tcId {tc} ({}, {}), {class:?}: {verdict:?} by {err:?}", group["comment"], test["comment"]);
            let held = match class {
                Expected::AsWycheproof => {
                    verdict == if result == "valid" { Verdict::SignatureValid } else { Verdict::SignatureRefused }
                }
                Expected::MislabelledInFile => verdict == Verdict::SignatureValid,
                Expected::KeyNotLoaded | Expected::AlgorithmPinnedByKey => err == TokenError::UnknownKey,
                Expected::AlgorithmUnsupported | Expected::NotAllowedByDefault => {
                    err == TokenError::AlgorithmNotAllowed
                }
                Expected::StrictSegments => verdict == Verdict::SignatureRefused,
                Expected::PayloadNotBase64url => verdict == Verdict::SignatureValid && err == TokenError::Malformed,
            };
            if !held {
                failures.push(what);
            }
            *tally.entry((class, result, verdict)).or_insert(0) += 1;
        }
    }
    assert_eq!(run, VECTORS, "every vector is run");
    assert!(failures.is_empty(), "{} vector(s) not as expected:\n{}", failures.len(), failures.join("\n"));
    tally
}

fn tally_of(rows: &[(Expected, &str, Verdict, usize)]) -> BTreeMap<(Expected, String, Verdict), usize> {
    rows.iter().map(|(c, r, v, n)| ((*c, (*r).to_owned(), *v), *n)).collect()
}

use Expected::*;
use Verdict::*;

#[test]
#[ignore = "needs the Wycheproof JWS vector file: see tests/vectors/wycheproof/README.md"]
fn every_vector_with_every_configurable_algorithm() {
    let tally = run_all(&auth_settings(ALL_ALGORITHMS), false);
    let expected = tally_of(&[
        (AsWycheproof, "valid", SignatureValid, 40),
        (AsWycheproof, "invalid", SignatureRefused, 345),
        // tcId 353-356: `use: enc` (2) and `key_ops: ["encrypt"]` (2).
        (KeyNotLoaded, "invalid", SignatureRefused, 4),
        // tcId 347, 350: ES512 over P-521 (RFC 7520 figure 27).
        (AlgorithmUnsupported, "valid", SignatureRefused, 2),
        // tcId 346, 349: a PS384 token against a JWK pinned to PS256.
        (AlgorithmPinnedByKey, "valid", SignatureRefused, 2),
        // tcId 372, 373.
        (StrictSegments, "valid", SignatureRefused, 2),
        // tcId 367, 370.
        (MislabelledInFile, "invalid", SignatureValid, 2),
        // tcId 368, 369, 371, 375.
        (PayloadNotBase64url, "invalid", SignatureValid, 4),
    ]);
    assert_eq!(tally, expected, "{tally:#?}");
    assert_eq!(tally.values().sum::<usize>(), VECTORS);
}

#[test]
#[ignore = "needs the Wycheproof JWS vector file: see tests/vectors/wycheproof/README.md"]
fn every_vector_with_the_default_allowlist() {
    let tally = run_all(&auth_settings(""), true);
    let expected = tally_of(&[
        (AsWycheproof, "valid", SignatureValid, 10),
        (AsWycheproof, "invalid", SignatureRefused, 274),
        (KeyNotLoaded, "invalid", SignatureRefused, 4),
        (AlgorithmUnsupported, "valid", SignatureRefused, 2),
        // tcId 372: its header does not decode, so its alg is never read.
        (StrictSegments, "valid", SignatureRefused, 1),
        // HS256, RS384, RS512, PS256, PS384, PS512 vectors with three segments.
        (NotAllowedByDefault, "invalid", SignatureRefused, 77),
        (NotAllowedByDefault, "valid", SignatureRefused, 33),
    ]);
    assert_eq!(tally, expected, "{tally:#?}");
    assert_eq!(tally.values().sum::<usize>(), VECTORS);
}
