//! `hsgate token`: mint a signed test token from a local key. For
//! development and tests only — production tokens come from your identity
//! provider.

use std::path::PathBuf;
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value};

/// Mint a signed TEST token from a local key (development and tests only; real tokens come from your IdP).
#[derive(clap::Args, Debug)]
pub struct TokenArgs {
    /// Private key: PEM (PKCS#8, or PKCS#1 for RSA) for RS*/PS*/ES*/EdDSA; for HS* a file holding the shared secret.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Signing algorithm (RS256, ES256, EdDSA, HS256, ...).
    #[arg(long, default_value = "RS256")]
    pub alg: String,
    /// `kid` header (the key id the gateway knows the key by).
    #[arg(long)]
    pub kid: Option<String>,
    /// `iss` claim.
    #[arg(long)]
    pub iss: String,
    /// `aud` claim.
    #[arg(long)]
    pub aud: String,
    /// `sub` claim (the calling service).
    #[arg(long)]
    pub sub: String,
    /// Lifetime (`exp - iat`), e.g. 10m or 1h.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub ttl: Duration,
    /// Extra claim NAME=VALUE (VALUE parsed as JSON when it is JSON, else a string); repeatable.
    #[arg(long = "claim", value_name = "NAME=VALUE")]
    pub claims: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MintError {
    #[error("cannot read key file {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("unknown algorithm {0:?}")]
    Algorithm(String),
    #[error("bad key for {0:?}: {1}")]
    Key(Algorithm, jsonwebtoken::errors::Error),
    #[error("--claim {0:?} is not NAME=VALUE")]
    Claim(String),
    #[error("cannot sign: {0}")]
    Sign(jsonwebtoken::errors::Error),
}

/// The key as jsonwebtoken wants it for `alg`.
pub fn encoding_key(alg: Algorithm, material: &[u8]) -> Result<EncodingKey, MintError> {
    use jsonwebtoken::AlgorithmFamily as F;
    let key = match alg.family() {
        F::Hmac => {
            let text = String::from_utf8_lossy(material);
            Ok(EncodingKey::from_secret(text.trim_end().as_bytes()))
        }
        F::Rsa => EncodingKey::from_rsa_pem(material),
        F::Ec => EncodingKey::from_ec_pem(material),
        F::Ed => EncodingKey::from_ed_pem(material),
    };
    key.map_err(|e| MintError::Key(alg, e))
}

/// Signs `claims` with `key`.
pub fn sign(
    alg: Algorithm,
    kid: Option<&str>,
    key: &EncodingKey,
    claims: &Map<String, Value>,
) -> Result<String, MintError> {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).map_err(MintError::Sign)
}

/// Standard claims for a token valid from now for `ttl`.
pub fn claims(iss: &str, aud: &str, sub: &str, ttl: Duration) -> Map<String, Value> {
    let now = crate::auth::jwt::unix_now() as u64;
    let mut jti = [0u8; 12];
    let _ = aws_lc_rs::rand::fill(&mut jti);
    let mut m = Map::new();
    m.insert("iss".into(), iss.into());
    m.insert("aud".into(), aud.into());
    m.insert("sub".into(), sub.into());
    m.insert("iat".into(), now.into());
    m.insert("exp".into(), (now + ttl.as_secs()).into());
    m.insert("jti".into(), hex::encode(jti).into());
    m
}

/// `hsgate token`: returns the token.
pub fn run(args: &TokenArgs) -> Result<String, MintError> {
    let alg: Algorithm = args.alg.parse().map_err(|_| MintError::Algorithm(args.alg.clone()))?;
    let material = std::fs::read(&args.key).map_err(|e| MintError::Read(args.key.clone(), e))?;
    let key = encoding_key(alg, &material)?;
    let mut claims = claims(&args.iss, &args.aud, &args.sub, args.ttl);
    for c in &args.claims {
        let (name, value) = c.split_once('=').ok_or_else(|| MintError::Claim(c.clone()))?;
        let value = serde_json::from_str(value).unwrap_or_else(|_| Value::from(value));
        claims.insert(name.to_owned(), value);
    }
    sign(alg, args.kid.as_deref(), &key, &claims)
}
