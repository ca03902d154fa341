//! Verification keys: each key is loaded once with the ONE algorithm it may
//! verify (from the JWK's `alg`, the PEM entry's `alg`, or the HMAC entry),
//! so a token can never choose how its signature is checked.

use std::fmt;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use secrecy::{ExposeSecret, SecretString};

/// A key with its pinned algorithm.
pub struct VerifyKey {
    pub kid: Option<String>,
    pub alg: Algorithm,
    pub key: DecodingKey,
    pub source: &'static str,
}

impl fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key material: for HMAC it is a secret.
        f.debug_struct("VerifyKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("source", &self.source)
            .finish()
    }
}

impl VerifyKey {
    /// How `check` and warnings name the key.
    pub fn label(&self) -> String {
        format!("{} ({})", self.kid.as_deref().unwrap_or("(no kid)"), self.source)
    }
}

/// Keys of a JWKS document. Keys that cannot verify signatures (encryption
/// keys, unknown types, symmetric keys) are skipped and described.
pub fn from_jwks(text: &str) -> Result<(Vec<VerifyKey>, Vec<String>), String> {
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let list = doc.get("keys").and_then(|k| k.as_array()).ok_or("not a JWKS document (no \"keys\" array)")?;
    let mut keys = Vec::new();
    let mut skipped = Vec::new();
    for (i, value) in list.iter().enumerate() {
        let kid = value.get("kid").and_then(|k| k.as_str()).unwrap_or("(no kid)");
        match serde_json::from_value::<Jwk>(value.clone()).map_err(|e| e.to_string()).and_then(|jwk| from_jwk(&jwk)) {
            Ok(k) => keys.push(k),
            Err(why) => skipped.push(format!("key #{i} {kid:?} skipped: {why}")),
        }
    }
    Ok((keys, skipped))
}

fn from_jwk(jwk: &Jwk) -> Result<VerifyKey, String> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return Err("use is \"enc\"".into());
    }
    // RFC 7517 §4.3: a key whose key_ops leave out "verify" is not for verifying signatures.
    if jwk.common.key_operations.as_ref().is_some_and(|ops| !ops.contains(&KeyOperations::Verify)) {
        return Err("key_ops does not include \"verify\"".into());
    }
    let implied = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => Algorithm::ES256,
            EllipticCurve::P384 => Algorithm::ES384,
            _ => return Err("unsupported curve".into()),
        },
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => Algorithm::EdDSA,
        AlgorithmParameters::OctetKeyPair(_) => return Err("unsupported curve".into()),
        AlgorithmParameters::OctetKey(_) => return Err("symmetric keys are not taken from a JWKS".into()),
        _ => return Err("unsupported key type".into()),
    };
    let alg = match &jwk.common.key_algorithm {
        Some(named) => {
            let name = serde_json::to_value(named).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            name.parse::<Algorithm>().map_err(|_| format!("alg {name:?} is not a signature algorithm"))?
        }
        None => implied,
    };
    if alg.family() != implied.family() || (implied != Algorithm::RS256 && alg != implied) {
        return Err(format!("alg {alg:?} does not fit the key type"));
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("bad key: {e}"))?;
    Ok(VerifyKey { kid: jwk.common.key_id.clone(), alg, key, source: "jwks" })
}

/// The HMAC algorithm named in an `[[auth.hmac]]` entry.
pub fn hmac_alg(name: &str) -> Result<Algorithm, String> {
    match name {
        "HS256" => Ok(Algorithm::HS256),
        "HS384" => Ok(Algorithm::HS384),
        "HS512" => Ok(Algorithm::HS512),
        _ => Err(format!("{name:?} is not HS256, HS384 or HS512")),
    }
}

/// A shared secret, used as its UTF-8 bytes.
pub fn from_hmac(kid: &str, alg: Algorithm, secret: &SecretString) -> VerifyKey {
    let key = DecodingKey::from_secret(secret.expose_secret().as_bytes());
    VerifyKey { kid: Some(kid.to_owned()), alg, key, source: "hmac" }
}

/// A public key from a PEM file, for exactly `alg`.
pub fn from_pem(kid: &str, alg: &str, pem: &[u8]) -> Result<VerifyKey, String> {
    let alg: Algorithm = alg.parse().map_err(|_| format!("unknown algorithm {alg:?}"))?;
    let key = match alg.family() {
        jsonwebtoken::AlgorithmFamily::Rsa => DecodingKey::from_rsa_pem(pem),
        jsonwebtoken::AlgorithmFamily::Ec => DecodingKey::from_ec_pem(pem),
        jsonwebtoken::AlgorithmFamily::Ed => DecodingKey::from_ed_pem(pem),
        jsonwebtoken::AlgorithmFamily::Hmac => return Err("HMAC keys go in [[auth.hmac]]".into()),
    }
    .map_err(|e| format!("not a {alg:?} public key in PEM: {e}"))?;
    Ok(VerifyKey { kid: Some(kid.to_owned()), alg, key, source: "pem" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_keys_get_their_algorithm_and_bad_entries_are_skipped() {
        let text = r#"{"keys":[
            {"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"ed"},
            {"kty":"EC","crv":"P-256","kid":"ec","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty":"EC","crv":"P-256","kid":"ec-wrong","alg":"RS256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty":"oct","k":"c2VjcmV0","kid":"sym"},
            {"kty":"EC","crv":"P-256","use":"enc","kid":"enc","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
        ]}"#;
        let (keys, skipped) = from_jwks(text).unwrap();
        let got: Vec<_> = keys.iter().map(|k| (k.kid.clone().unwrap(), k.alg)).collect();
        assert_eq!(got, vec![("ed".into(), Algorithm::EdDSA), ("ec".into(), Algorithm::ES256)]);
        assert_eq!(skipped.len(), 3, "{skipped:?}");
        assert!(from_jwks("{}").is_err());
    }

    #[test]
    fn jwks_keys_whose_key_ops_leave_out_verify_are_skipped() {
        let ec = r#""kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0""#;
        let text = format!(
            r#"{{"keys":[
            {{{ec},"kid":"verify","key_ops":["verify"]}},
            {{{ec},"kid":"sign-verify","key_ops":["sign","verify"]}},
            {{{ec},"kid":"encrypt","key_ops":["encrypt"]}},
            {{{ec},"kid":"sign","key_ops":["sign"]}},
            {{{ec},"kid":"none","key_ops":[]}}
        ]}}"#
        );
        let (keys, skipped) = from_jwks(&text).unwrap();
        let kids: Vec<_> = keys.iter().map(|k| k.kid.clone().unwrap()).collect();
        assert_eq!(kids, ["verify", "sign-verify"]);
        assert_eq!(skipped.len(), 3, "{skipped:?}");
        assert!(skipped.iter().all(|s| s.contains("key_ops")), "{skipped:?}");
    }

    #[test]
    fn hmac_debug_hides_the_secret() {
        let k = from_hmac("k1", Algorithm::HS256, &SecretString::from("super-secret-hmac"));
        assert!(!format!("{k:?}").contains("super-secret"));
        assert!(hmac_alg("RS256").is_err());
    }
}
