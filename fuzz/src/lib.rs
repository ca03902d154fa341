//! Fixtures and oracles shared by hsgate's fuzz targets and the seed
//! generator. The targets call hsgate's real functions; what lives here is
//! only what a target needs to judge their results: fixed keys, settings and
//! profiles, and independent readings of JSON (every string, duplicates
//! kept; a string's escapes resolved again) written from the README's words,
//! not from the code under test.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hsgate::auth::{keys, KeySet, VerifyKey};
use hsgate::config::{AuthSettings, Profile};
use hsgate::routes::{Field, FieldRule, Route, Routes};
use jsonwebtoken::{Algorithm, EncodingKey};
use secrecy::SecretString;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// The fixed clock of the token targets (2027-01-15).
pub const NOW: f64 = 1_800_000_000.0;
pub const ISS: &str = "https://idp.fuzz.internal";
pub const AUD: &str = "hsgate";
pub const LEEWAY: u64 = 30;
/// `max_token_lifetime` of the strict settings.
pub const MAX_LIFETIME: u64 = 3600;
pub const HMAC_SECRET: &str = "fuzz-hmac-secret-0123456789abcdef";
pub const HMAC512_SECRET: &str = "fuzz-hmac512-secret-fedcba9876543210";

/// Test-only key pairs (generated with openssl for the fuzz corpus; they
/// protect nothing).
pub mod pem {
    pub const RSA_KEY: &[u8] = include_bytes!("../keys/rsa.key.pem");
    pub const RSA_PUB: &[u8] = include_bytes!("../keys/rsa.pub.pem");
    pub const EC_KEY: &[u8] = include_bytes!("../keys/ec.key.pem");
    pub const EC_PUB: &[u8] = include_bytes!("../keys/ec.pub.pem");
    pub const EC384_KEY: &[u8] = include_bytes!("../keys/ec384.key.pem");
    pub const EC384_PUB: &[u8] = include_bytes!("../keys/ec384.pub.pem");
    pub const ED_KEY: &[u8] = include_bytes!("../keys/ed.key.pem");
    pub const ED_PUB: &[u8] = include_bytes!("../keys/ed.pub.pem");
}

/// Algorithms the token targets' settings allow (ES384 is left out on purpose:
/// its key is configured, so "key present, algorithm refused" is reachable).
pub const ALLOWED: [Algorithm; 5] =
    [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA, Algorithm::HS256, Algorithm::HS512];

/// The configured keys: `rsa` RS256, `ec` ES256, `ec384` ES384, `ed` EdDSA
/// (PEM), `hs` HS256 and `hs512` HS512 (HMAC), and the EC key once more
/// from a JWKS entry without `kid`.
pub fn configured_keys() -> Vec<Arc<VerifyKey>> {
    let mut out = vec![
        keys::from_pem("rsa", "RS256", pem::RSA_PUB).expect("rsa fixture"),
        keys::from_pem("ec", "ES256", pem::EC_PUB).expect("ec fixture"),
        keys::from_pem("ec384", "ES384", pem::EC384_PUB).expect("ec384 fixture"),
        keys::from_pem("ed", "EdDSA", pem::ED_PUB).expect("ed fixture"),
        keys::from_hmac("hs", Algorithm::HS256, &SecretString::from(HMAC_SECRET)),
        keys::from_hmac("hs512", Algorithm::HS512, &SecretString::from(HMAC512_SECRET)),
    ];
    let mut no_kid = public_jwk(Algorithm::ES256, None);
    if let Value::Object(m) = &mut no_kid {
        m.remove("kid");
    }
    let doc = serde_json::json!({ "keys": [no_kid] }).to_string();
    let (found, skipped) = keys::from_jwks(&doc).expect("jwks fixture");
    assert!(skipped.is_empty() && found.len() == 1, "jwks fixture: {skipped:?}");
    out.extend(found);
    out.into_iter().map(Arc::new).collect()
}

/// Token rules: `lenient` has no lifetime bound and requires `sub`; strict
/// bounds the lifetime and requires `sub` and `jti`.
pub fn auth_settings(strict: bool) -> AuthSettings {
    AuthSettings {
        issuers: vec![ISS.into(), "https://idp.other.internal".into()],
        audiences: vec![AUD.into(), "hsgate-admin".into()],
        algorithms: ALLOWED.to_vec(),
        leeway: Duration::from_secs(LEEWAY),
        max_token_lifetime: strict.then(|| Duration::from_secs(MAX_LIFETIME)),
        required_claims: if strict { vec!["sub".into(), "jti".into()] } else { vec!["sub".into()] },
        keys: configured_keys(),
        jwks: None,
    }
}

/// The key set of the configured keys.
pub fn key_set(auth: &AuthSettings) -> KeySet {
    KeySet::new(auth.keys.iter().cloned())
}

/// The private key of a fixture key, through hsgate's own `token` helpers.
pub fn signing_key(alg: Algorithm) -> Option<EncodingKey> {
    let material: &[u8] = match alg {
        Algorithm::HS256 => HMAC_SECRET.as_bytes(),
        Algorithm::HS512 => HMAC512_SECRET.as_bytes(),
        Algorithm::RS256 => pem::RSA_KEY,
        Algorithm::ES256 => pem::EC_KEY,
        Algorithm::ES384 => pem::EC384_KEY,
        Algorithm::EdDSA => pem::ED_KEY,
        _ => return None,
    };
    hsgate::token::encoding_key(alg, material).ok()
}

/// The `kid` a fixture key is configured under.
pub fn fixture_kid(alg: Algorithm) -> Option<&'static str> {
    Some(match alg {
        Algorithm::HS256 => "hs",
        Algorithm::HS512 => "hs512",
        Algorithm::RS256 => "rsa",
        Algorithm::ES256 => "ec",
        Algorithm::ES384 => "ec384",
        Algorithm::EdDSA => "ed",
        _ => return None,
    })
}

/// The public JWK of a fixture key (asymmetric algorithms only).
pub fn public_jwk(alg: Algorithm, kid: Option<&str>) -> Value {
    let key = signing_key(alg).expect("fixture key");
    let jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&key, alg).expect("public jwk");
    let mut v = serde_json::to_value(jwk).expect("jwk json");
    if let (Value::Object(m), Some(kid)) = (&mut v, kid) {
        m.insert("kid".into(), kid.into());
    }
    v
}

/// Passwords chosen to be awkward for redaction: JSON's short escapes and
/// the characters System.Text.Json writes as `\uXXXX`, non-ASCII and a
/// surrogate pair, a password that is part of `[redacted]`, one that looks
/// like an escape itself, and control characters.
pub const PASSWORDS: [&str; 6] =
    ["s3cr3t-Pa55", "p\"a\\ss/w<o>r&d+'", "Grüße-€-😀-pw", "dact", "\\u0041BC", "tab\there\nnl"];

/// The profile names of [`profiles`], in order.
pub fn profile_name(i: usize) -> String {
    format!("p{i}")
}

/// One profile per [`PASSWORDS`] entry, loaded through the real config code,
/// with awkward customer and user names too.
pub fn profiles() -> Vec<Profile> {
    let mut text = String::from(
        "[upstream]\nurl = \"https://evo.hostedsuite.com\"\n\
         [auth]\nissuers = [\"https://idp.fuzz\"]\naudiences = [\"hsgate\"]\n\
         [[auth.hmac]]\nkid = \"k1\"\nsecret = \"hmac-secret\"\n",
    );
    let customers = ["Acme Answering", "Ünïcødé \"Customer\"", "c\\u0022", "x", "A&B <Call> Center", "tab\tname"];
    let mut names = Vec::new();
    for (i, password) in PASSWORDS.iter().enumerate() {
        let name = profile_name(i);
        text.push_str(&format!(
            "[[profile]]\nname = {}\ncustomer_name = {}\nuser_name = {}\npassword = {}\n",
            toml::Value::from(name.as_str()),
            toml::Value::from(customers[i]),
            toml::Value::from(format!("api-gateway-{i}-\u{e9}")),
            toml::Value::from(*password),
        ));
        names.push(name);
    }
    text.push_str(&format!(
        "[[grant]]\nname = \"all\"\nclaims = {{ sub = \"svc\" }}\nprofiles = {}\nroutes = [\"calls.update\"]\n",
        toml::Value::from(names)
    ));
    let config = hsgate::config::load_str(&text, Path::new("/nonexistent/hsgate.toml")).expect("profile fixture");
    assert_eq!(config.profiles.len(), PASSWORDS.len());
    config.profiles
}

/// The built-in route and a configured one (fields of any JSON value, one of
/// them spelled like the built-in's).
pub fn routes() -> Vec<Route> {
    let any = |name: &str| Field { name: name.into(), rule: FieldRule::Any };
    vec![
        Routes::builtin_route(),
        Route {
            name: "calls.list".into(),
            path: "/api/calls".into(),
            operation: Some("ListCallRecordsRequest".into()),
            aliases: vec!["/v1/calls".into()],
            fields: vec![
                any("StartDate"),
                any("EndDate"),
                any("CallRecordId"),
                any("Page"),
                any("ItemsPerPage"),
                any("Id"),
            ],
        },
    ]
}

/// Computed once per process.
pub fn once<T: Send + Sync + 'static>(cell: &'static OnceLock<T>, f: impl FnOnce() -> T) -> &'static T {
    cell.get_or_init(f)
}

// ---------------------------------------------------------------------------
// Oracles

/// A login field as SPEC §4 defines it: `CustomerName`, `UserName` or
/// `Password` in any letter case, `_` and `-` ignored. (ServiceStack binds
/// with .NET's OrdinalIgnoreCase, which maps no non-ASCII character onto
/// these ASCII letters.)
pub fn is_credential(key: &str) -> bool {
    let folded: String = key.chars().filter(|c| *c != '_' && *c != '-').collect();
    ["CustomerName", "UserName", "Password"].iter().any(|name| folded.eq_ignore_ascii_case(name))
}

/// The members of a top-level JSON object in document order, duplicates
/// kept; `None` unless `body` is exactly one JSON object.
pub fn object_members(body: &[u8]) -> Option<Vec<(String, Value)>> {
    struct Members;
    impl<'de> Visitor<'de> for Members {
        type Value = Vec<(String, Value)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(entry) = map.next_entry::<String, Value>()? {
                out.push(entry);
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let members = de.deserialize_map(Members).ok()?;
    de.end().ok()?;
    Some(members)
}

/// Every string of a JSON document, keys included, at any depth, every one
/// of duplicate keys too, as decoded; `None` if `body` is not one JSON document.
pub fn all_strings(body: &[u8]) -> Option<Vec<String>> {
    struct Collect<'a>(&'a mut Vec<String>);
    impl<'de> DeserializeSeed<'de> for Collect<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Collect<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("JSON")
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, s: &str) -> Result<(), E> {
            self.0.push(s.to_owned());
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element_seed(Collect(&mut *self.0))?.is_some() {}
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while map.next_key_seed(Collect(&mut *self.0))?.is_some() {
                map.next_value_seed(Collect(&mut *self.0))?;
            }
            Ok(())
        }
    }
    let mut out = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(body);
    Collect(&mut out).deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(out)
}

/// Every string literal of a JSON text, keys included, every one of
/// duplicate keys too, decoded; read lexically, so that numbers of any size
/// are no obstacle (the grammar has no range, serde_json's `Value` has).
/// A lone surrogate escape decodes to U+FFFD. `None` if `text` is not one
/// JSON document or a literal is malformed.
pub fn json_strings(text: &str) -> Option<Vec<String>> {
    serde_json::from_str::<serde::de::IgnoredAny>(text).ok()?;
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'"' {
            i += 1;
            continue;
        }
        let mut s = String::new();
        i += 1;
        loop {
            match *bytes.get(i)? {
                b'"' => break,
                b'\\' => {
                    let (c, len) = match *bytes.get(i + 1)? {
                        b'"' => ('"', 2),
                        b'\\' => ('\\', 2),
                        b'/' => ('/', 2),
                        b'b' => ('\u{8}', 2),
                        b'f' => ('\u{c}', 2),
                        b'n' => ('\n', 2),
                        b'r' => ('\r', 2),
                        b't' => ('\t', 2),
                        b'u' => {
                            let hex = |at: usize| u32::from_str_radix(text.get(at..at + 4)?, 16).ok();
                            let unit = hex(i + 2)?;
                            let low = (text.get(i + 6..i + 8) == Some("\\u")).then(|| hex(i + 8)).flatten();
                            match (unit, low) {
                                (0xD800..=0xDBFF, Some(low @ 0xDC00..=0xDFFF)) => {
                                    (char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))?, 12)
                                }
                                _ => (char::from_u32(unit).unwrap_or('\u{fffd}'), 6),
                            }
                        }
                        _ => return None,
                    };
                    s.push(c);
                    i += len;
                }
                _ => {
                    let c = text.get(i..)?.chars().next()?;
                    s.push(c);
                    i += c.len_utf8();
                }
            }
        }
        out.push(s);
        i += 1;
    }
    Some(out)
}

/// `s` with its JSON escapes resolved as the README defines a view: `\"`,
/// `\\`, `\/`, `\b\f\n\r\t`, `\uXXXX` in either case and surrogate pairs; a
/// backslash that starts no valid escape stands for itself. `None` when no
/// escape was resolved.
pub fn unescape(s: &str) -> Option<String> {
    let chars: Vec<char> = s.chars().collect();
    let hex = |at: usize| -> Option<u32> {
        let digits: String = chars.get(at..at + 4)?.iter().collect();
        if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(&digits, 16).ok()
    };
    let mut out = String::with_capacity(s.len());
    let mut resolved = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let short = match chars.get(i + 1) {
            Some('"') => Some('"'),
            Some('\\') => Some('\\'),
            Some('/') => Some('/'),
            Some('b') => Some('\u{8}'),
            Some('f') => Some('\u{c}'),
            Some('n') => Some('\n'),
            Some('r') => Some('\r'),
            Some('t') => Some('\t'),
            _ => None,
        };
        if let Some(decoded) = short {
            out.push(decoded);
            resolved = true;
            i += 2;
            continue;
        }
        if chars.get(i + 1) == Some(&'u') {
            if let Some(unit) = hex(i + 2) {
                if (0xD800..0xDC00).contains(&unit) && chars.get(i + 6) == Some(&'\\') && chars.get(i + 7) == Some(&'u')
                {
                    if let Some(low) = hex(i + 8).filter(|l| (0xDC00..0xE000).contains(l)) {
                        if let Some(c) = char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)) {
                            out.push(c);
                            resolved = true;
                            i += 12;
                            continue;
                        }
                    }
                } else if let Some(c) = char::from_u32(unit) {
                    out.push(c);
                    resolved = true;
                    i += 6;
                    continue;
                }
            }
        }
        out.push('\\');
        i += 1;
    }
    resolved.then_some(out)
}

/// `s` and its views, `depth` levels deep.
pub fn views(s: &str, depth: usize) -> Vec<String> {
    let mut out = vec![s.to_owned()];
    for _ in 0..depth {
        let Some(next) = out.last().and_then(|last| unescape(last)) else { break };
        out.push(next);
    }
    out
}

/// The first string of `body` (or view of one) holding `password`, if any.
pub fn leaked(body: &[u8], password: &str, depth: usize) -> Option<String> {
    if password.is_empty() {
        return None;
    }
    let strings = json_strings(std::str::from_utf8(body).ok()?)?;
    strings.into_iter().find(|s| views(s, depth).iter().any(|v| v.contains(password)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_follows_the_readme() {
        assert_eq!(unescape("plain"), None);
        assert_eq!(unescape(r"a\u0022b\/c\\d").as_deref(), Some("a\"b/c\\d"));
        assert_eq!(unescape(r"\uD83D\uDE00 \uDE00 \q").as_deref(), Some("😀 \\uDE00 \\q"));
        assert_eq!(views(r"\\u0070w", 3), vec![r"\\u0070w".to_owned(), r"\u0070w".to_owned(), "pw".to_owned()]);
    }

    #[test]
    fn fixtures_load() {
        assert_eq!(profiles().len(), PASSWORDS.len());
        assert_eq!(configured_keys().len(), 7);
        assert!(is_credential("pass_WORD") && is_credential("Customer-Name") && !is_credential("Passwords"));
        assert_eq!(all_strings(br#"{"a":"b","a":["c"]}"#).unwrap(), ["a", "b", "a", "c"]);
        let text = r#"{"k\"":1e999,"a":["\ud83d\ude00\ud800x", "\u00e9\/"]}"#;
        assert_eq!(json_strings(text).unwrap(), ["k\"", "a", "😀\u{fffd}x", "é/"]);
        assert!(json_strings("{\"a\":}").is_none());
    }
}
