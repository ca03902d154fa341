//! Verified tokens, remembered so that the same token is not verified again
//! on every request (a P-256 or RSA signature check is most of a request's
//! CPU). Keyed by a SHA-256 of the whole token; bounded in entries and bytes;
//! each entry belongs to the key set it was verified with and is void once
//! that set changes (reload, JWKS fetch). Only the signature is remembered:
//! the time rules (`exp`, `nbf`, `iat`) and the claim rules are checked
//! again at every use, so a cached token expires on time and an expired
//! entry is dropped when it is next looked up.

use std::sync::Arc;

use aws_lc_rs::digest;
use jsonwebtoken::Algorithm;
use quick_cache::sync::Cache;
use quick_cache::Weighter;

use super::Claims;

/// Entries at most (about).
const MAX_ENTRIES: usize = 10_000;
/// Bytes at most (estimated from the token sizes).
const MAX_BYTES: u64 = 16 * 1024 * 1024;

/// The cache key: SHA-256 of the token.
pub type TokenKey = [u8; 32];

pub struct Cached {
    claims: Arc<Claims>,
    /// The key set generation it was verified with.
    generation: u64,
    /// Its `alg`, checked against the allowlist in force at every use.
    alg: Algorithm,
    weight: u64,
}

#[derive(Clone)]
struct ByBytes;

impl Weighter<TokenKey, Arc<Cached>> for ByBytes {
    fn weight(&self, _key: &TokenKey, value: &Arc<Cached>) -> u64 {
        value.weight
    }
}

pub struct TokenCache {
    cache: Cache<TokenKey, Arc<Cached>, ByBytes>,
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache { cache: Cache::with_weighter(MAX_ENTRIES, MAX_BYTES, ByBytes) }
    }
}

impl TokenCache {
    pub fn key(token: &str) -> TokenKey {
        let mut key = [0u8; 32];
        key.copy_from_slice(digest::digest(&digest::SHA256, token.as_bytes()).as_ref());
        key
    }

    /// The claims and `alg` of a token verified with key set `generation`.
    pub fn get(&self, key: &TokenKey, generation: u64) -> Option<(Arc<Claims>, Algorithm)> {
        let hit = self.cache.get(key)?;
        if hit.generation != generation {
            self.cache.remove(key);
            return None;
        }
        Some((hit.claims.clone(), hit.alg))
    }

    pub fn insert(&self, key: TokenKey, claims: Arc<Claims>, alg: Algorithm, generation: u64, token_len: usize) {
        // Decoded claims take about what their base64 took, plus the map's overhead.
        let weight = u64::try_from(token_len).unwrap_or(u64::MAX).saturating_mul(2).saturating_add(256);
        self.cache.insert(key, Arc::new(Cached { claims, generation, alg, weight }));
    }

    pub fn remove(&self, key: &TokenKey) {
        self.cache.remove(key);
    }

    pub fn len(&self) -> usize {
        self.cache.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims() -> Arc<Claims> {
        Arc::new(Claims(json!({"sub": "svc"}).as_object().unwrap().clone()))
    }

    #[test]
    fn entries_belong_to_their_key_set_generation() {
        let cache = TokenCache::default();
        let key = TokenCache::key("a.b.c");
        assert_ne!(key, TokenCache::key("a.b.d"));
        cache.insert(key, claims(), Algorithm::EdDSA, 7, 5);
        assert!(cache.get(&key, 7).is_some());
        assert!(cache.get(&key, 8).is_none(), "another key set: void");
        assert!(cache.get(&key, 7).is_none(), "and gone");
    }

    #[test]
    fn bounded_by_bytes() {
        let cache = TokenCache::default();
        let big = usize::try_from(MAX_BYTES / 4).unwrap();
        for i in 0..16 {
            cache.insert(TokenCache::key(&format!("t{i}")), claims(), Algorithm::EdDSA, 1, big);
        }
        assert!(cache.len() <= 4, "{} entries of a quarter of the budget each", cache.len());
    }
}
