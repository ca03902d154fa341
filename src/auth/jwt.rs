//! Bearer-token verification (SPEC §4 "Token rules"). The header is parsed
//! here, not by a library, so that `crit` can be refused and key-carrying
//! headers (`jku`, `x5u`, `jwk`, `x5c`) are provably never used: only `alg`
//! and `kid` are read. Signatures are checked with jsonwebtoken's crypto.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

use super::{KeySet, TokenError, VerifyKey};
use crate::config::AuthSettings;

/// Largest token accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The verified claims of a token, with a copy of the registered claims the
/// rules read on every request, taken once per token (a cached token is
/// checked again on every use without hashing a claim name).
#[derive(Debug, Clone)]
pub struct Claims {
    map: Map<String, Value>,
    at: Registered,
}

/// `exp`, `nbf`, `iat`, `iss`, `aud`, `sub` and `jti`, as the claims have them.
#[derive(Debug, Clone)]
struct Registered {
    exp: Option<Value>,
    nbf: Option<Value>,
    iat: Option<Value>,
    iss: Option<Value>,
    aud: Option<Value>,
    sub: Option<Value>,
    jti: Option<Value>,
}

impl Claims {
    pub fn new(map: Map<String, Value>) -> Claims {
        let at = |name: &str| map.get(name).cloned();
        let at = Registered {
            exp: at("exp"),
            nbf: at("nbf"),
            iat: at("iat"),
            iss: at("iss"),
            aud: at("aud"),
            sub: at("sub"),
            jti: at("jti"),
        };
        Claims { map, at }
    }

    /// Every claim, as the token has them.
    pub fn map(&self) -> &Map<String, Value> {
        &self.map
    }

    pub fn subject(&self) -> Option<&str> {
        self.at.sub.as_ref().and_then(Value::as_str)
    }
    pub fn issuer(&self) -> Option<&str> {
        self.at.iss.as_ref().and_then(Value::as_str)
    }
    pub fn token_id(&self) -> Option<&str> {
        self.at.jti.as_ref().and_then(Value::as_str)
    }
    /// A claim by name; a registered one from its copy, without hashing the name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        let at = &self.at;
        match name {
            "exp" => at.exp.as_ref(),
            "nbf" => at.nbf.as_ref(),
            "iat" => at.iat.as_ref(),
            "iss" => at.iss.as_ref(),
            "aud" => at.aud.as_ref(),
            "sub" => at.sub.as_ref(),
            "jti" => at.jti.as_ref(),
            other => self.map.get(other),
        }
    }

    fn time(at: Option<&Value>, name: &'static str) -> Result<Option<f64>, TokenError> {
        match at {
            None => Ok(None),
            Some(v) => v.as_f64().map(Some).ok_or(TokenError::BadTimeClaim(name)),
        }
    }
}

fn decode_json(part: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Seconds since the epoch, as a float (NumericDate may have a fraction).
pub fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// A token's decoded header, unverified (for `hsgate explain`).
pub fn decode_header(token: &str) -> Option<Map<String, Value>> {
    decode_json(token.split('.').next()?)
}

/// The `alg` a token's header names (for a token already verified).
pub fn header_alg(token: &str) -> Option<Algorithm> {
    let header = decode_header(token)?;
    header.get("alg")?.as_str()?.parse().ok()
}

/// Verifies `token` against `keys` and the claim rules of `auth` at time `now`.
pub fn verify(auth: &AuthSettings, keys: &KeySet, token: &str, now: f64) -> Result<Claims, TokenError> {
    verify_by(auth, keys, token, now).map(|(claims, _)| claims)
}

/// [`verify`], also naming the key whose signature check passed.
pub fn verify_by<'k>(
    auth: &AuthSettings,
    keys: &'k KeySet,
    token: &str,
    now: f64,
) -> Result<(Claims, &'k VerifyKey), TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(head), Some(body), Some(sig), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(TokenError::Malformed);
    };
    let header = decode_json(head).ok_or(TokenError::Malformed)?;
    let alg_name = header.get("alg").and_then(Value::as_str).ok_or(TokenError::Malformed)?;
    let alg: Algorithm = alg_name.parse().map_err(|_| TokenError::AlgorithmNotAllowed)?;
    if !auth.algorithms.contains(&alg) {
        return Err(TokenError::AlgorithmNotAllowed);
    }
    if header.contains_key("crit") {
        return Err(TokenError::CriticalHeader);
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.as_str()),
        Some(_) => return Err(TokenError::Malformed),
    };
    let candidates = keys.candidates(kid, alg);
    if candidates.is_empty() {
        return Err(TokenError::UnknownKey);
    }
    let message = &token[..head.len() + 1 + body.len()];
    let verified = candidates
        .into_iter()
        .find(|k| jsonwebtoken::crypto::verify(sig, message.as_bytes(), &k.key, alg).unwrap_or(false))
        .ok_or(TokenError::BadSignature)?;
    let claims = Claims::new(decode_json(body).ok_or(TokenError::Malformed)?);
    check_claims(auth, &claims, now)?;
    Ok((claims, verified))
}

/// The claim rules (time, issuer, audience, required claims) at time `now`.
pub fn check_claims(auth: &AuthSettings, claims: &Claims, now: f64) -> Result<(), TokenError> {
    let leeway = auth.leeway.as_secs_f64();
    let exp = Claims::time(claims.at.exp.as_ref(), "exp")?.ok_or_else(|| TokenError::MissingClaim("exp".into()))?;
    if now > exp + leeway {
        return Err(TokenError::Expired);
    }
    if Claims::time(claims.at.nbf.as_ref(), "nbf")?.is_some_and(|nbf| nbf > now + leeway) {
        return Err(TokenError::NotYetValid);
    }
    let iat = Claims::time(claims.at.iat.as_ref(), "iat")?;
    if iat.is_some_and(|iat| iat > now + leeway) {
        return Err(TokenError::IssuedInFuture);
    }
    if let Some(max) = auth.max_token_lifetime {
        let iat = iat.ok_or_else(|| TokenError::MissingClaim("iat".into()))?;
        if exp - iat > max.as_secs_f64() {
            return Err(TokenError::LifetimeTooLong);
        }
    }
    match claims.issuer() {
        Some(iss) if auth.issuers.iter().any(|i| i == iss) => {}
        _ => return Err(TokenError::BadIssuer),
    }
    let audience_ok = match &claims.at.aud {
        Some(Value::String(a)) => auth.audiences.contains(a),
        Some(Value::Array(list)) => {
            list.iter().filter_map(Value::as_str).any(|a| auth.audiences.iter().any(|x| x == a))
        }
        _ => false,
    };
    if !audience_ok {
        return Err(TokenError::BadAudience);
    }
    for name in &auth.required_claims {
        if claims.get(name).is_none_or(Value::is_null) {
            return Err(TokenError::MissingClaim(name.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
