//! Verified tokens, remembered so that the same token is not verified again
//! on every request (a P-256 or RSA signature check is most of a request's
//! CPU). Keyed by a 128-bit SipHash-2-4 of the whole token under a random
//! key drawn once per process (a keyed hash: nobody who lacks that key can
//! aim a token at another's entry, and the cache holds no usable token; a
//! tenth of SHA-256's cost on the hot path); bounded in entries and bytes;
//! each entry belongs to the key set it was verified with and is void once
//! that set changes (reload, JWKS fetch). Only the signature is remembered:
//! the time rules (`exp`, `nbf`, `iat`) and the claim rules are checked
//! again at every use, so a cached token expires on time and an expired
//! entry is dropped when it is next looked up.

use std::sync::Arc;

use std::hash::Hasher as _;

use jsonwebtoken::Algorithm;
use quick_cache::sync::Cache;
use quick_cache::Weighter;
use siphasher::sip128::{Hasher128 as _, SipHasher24};

use super::Claims;

/// Entries at most (about).
const MAX_ENTRIES: usize = 4_096;
/// Bytes at most (estimated from the token sizes).
const MAX_BYTES: u64 = 8 * 1024 * 1024;

/// The cache key: the token's keyed 128-bit hash.
pub type TokenKey = u128;

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
    /// The hash key; `None` if the system RNG gave none (then nothing is cached).
    hash_key: Option<(u64, u64)>,
}

impl Default for TokenCache {
    fn default() -> Self {
        let (mut k0, mut k1) = ([0u8; 8], [0u8; 8]);
        let drawn = aws_lc_rs::rand::fill(&mut k0).is_ok() && aws_lc_rs::rand::fill(&mut k1).is_ok();
        let hash_key = drawn.then(|| (u64::from_ne_bytes(k0), u64::from_ne_bytes(k1)));
        if hash_key.is_none() {
            tracing::warn!("no randomness for the token cache's key: every token is verified every time");
        }
        TokenCache { cache: Cache::with_weighter(MAX_ENTRIES, MAX_BYTES, ByBytes), hash_key }
    }
}

impl TokenCache {
    /// The cache key of `token`, `None` when nothing is cached.
    pub fn key(&self, token: &str) -> Option<TokenKey> {
        let (k0, k1) = self.hash_key?;
        let mut h = SipHasher24::new_with_keys(k0, k1);
        h.write(token.as_bytes());
        Some(h.finish128().into())
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
        // Decoded claims take about what their base64 took, plus the map's
        // overhead, plus the copy of the registered claims `Claims` keeps.
        let weight = u64::try_from(token_len).unwrap_or(u64::MAX).saturating_mul(3).saturating_add(256);
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
        Arc::new(Claims::new(json!({"sub": "svc"}).as_object().unwrap().clone()))
    }

    #[test]
    fn entries_belong_to_their_key_set_generation() {
        let cache = TokenCache::default();
        let key = cache.key("a.b.c").unwrap();
        assert_ne!(key, cache.key("a.b.d").unwrap());
        assert_ne!(Some(key), TokenCache::default().key("a.b.c"), "each cache has its own hash key");
        cache.insert(key, claims(), Algorithm::EdDSA, 7, 5);
        assert!(cache.get(&key, 7).is_some());
        assert!(cache.get(&key, 8).is_none(), "another key set: void");
        assert!(cache.get(&key, 7).is_none(), "and gone");
    }

    #[test]
    fn bounded_by_bytes() {
        let cache = TokenCache::default();
        // 4 KiB tokens: the byte budget, not the entry count, is what binds.
        let token_len: u64 = 4096;
        for i in 0..MAX_ENTRIES {
            cache.insert(cache.key(&format!("t{i}")).unwrap(), claims(), Algorithm::EdDSA, 1, token_len as usize);
        }
        let held = cache.len() as u64;
        assert!(held > 0, "nothing cached");
        // Each entry stands for its claims, their map and the registered
        // claims' copy: at least three times its token.
        assert!(held * 3 * token_len <= MAX_BYTES, "{held} entries of {token_len}-byte tokens");
    }
}
