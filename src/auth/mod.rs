//! Authentication: the bearer token from the request, verified against the
//! configured keys and claim rules.

pub mod cache;
pub mod jwks;
pub mod jwt;
pub mod keys;
pub mod store;

use hyper::header::{HeaderMap, AUTHORIZATION};

pub use cache::TokenCache;
pub use jwt::{verify, Claims};
pub use keys::VerifyKey;
pub use store::{KeySet, KeyStore};

/// Why a token was refused. The `Display` text goes to the caller, so it
/// names the rule that failed and never echoes the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is larger than 16 KiB")]
    TooLarge,
    #[error("token is malformed")]
    Malformed,
    #[error("token algorithm is not allowed")]
    AlgorithmNotAllowed,
    #[error("token has a crit header, which is not supported")]
    CriticalHeader,
    #[error("no configured key matches the token's kid and alg")]
    UnknownKey,
    #[error("token signature does not verify")]
    BadSignature,
    #[error("token expired")]
    Expired,
    #[error("token is not valid yet (nbf)")]
    NotYetValid,
    #[error("token issued in the future (iat)")]
    IssuedInFuture,
    #[error("token lifetime (exp - iat) is longer than allowed")]
    LifetimeTooLong,
    #[error("token claim {0} is not a number")]
    BadTimeClaim(&'static str),
    #[error("token issuer is not accepted")]
    BadIssuer,
    #[error("token audience is not accepted")]
    BadAudience,
    #[error("token lacks required claim {0}")]
    MissingClaim(String),
}

impl TokenError {
    /// Short label for `hsgate_auth_failures_total{reason}`.
    pub fn reason(&self) -> &'static str {
        match self {
            TokenError::TooLarge => "too_large",
            TokenError::Malformed => "malformed",
            TokenError::AlgorithmNotAllowed => "algorithm",
            TokenError::CriticalHeader => "crit",
            TokenError::UnknownKey => "unknown_key",
            TokenError::BadSignature => "signature",
            TokenError::Expired => "expired",
            TokenError::NotYetValid => "not_yet_valid",
            TokenError::IssuedInFuture => "iat_future",
            TokenError::LifetimeTooLong => "lifetime",
            TokenError::BadTimeClaim(_) => "malformed",
            TokenError::BadIssuer => "issuer",
            TokenError::BadAudience => "audience",
            TokenError::MissingClaim(_) => "missing_claim",
        }
    }
}

/// The bearer token: exactly one `Authorization` header, scheme `Bearer` in
/// any case, a non-empty token. `Err` holds the caller-facing reason.
pub fn bearer(headers: &HeaderMap) -> Result<&str, &'static str> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = match (values.next(), values.next()) {
        (None, _) => return Err("Authorization header missing"),
        (Some(_), Some(_)) => return Err("more than one Authorization header"),
        (Some(v), None) => v,
    };
    let text = value.to_str().map_err(|_| "Authorization header is not ASCII")?;
    let (scheme, token) = text.trim().split_once(' ').ok_or("Authorization is not a Bearer token")?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err("Authorization scheme is not Bearer");
    }
    let token = token.trim();
    if token.is_empty() {
        return Err("Bearer token is empty");
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn bearer_rules() {
        assert_eq!(bearer(&headers(&["Bearer abc"])), Ok("abc"));
        assert_eq!(bearer(&headers(&["bEaReR abc"])), Ok("abc"));
        for bad in [&[][..], &["Bearer a", "Bearer b"], &["Basic abc"], &["Bearer "], &["Bearer"], &["abc"]] {
            assert!(bearer(&headers(bad)).is_err(), "{bad:?}");
        }
    }
}
