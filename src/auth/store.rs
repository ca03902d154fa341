//! The key store: every verification key the gateway trusts, from the
//! config (PEM, HMAC, `jwks_file`) and from `jwks_url`, as one set indexed by
//! `kid` behind an `ArcSwap`. Lives for the process; a reload replaces the
//! config's keys, a JWKS fetch replaces the fetched ones, and each key keeps
//! the verification built for it when it was loaded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use jsonwebtoken::Algorithm;

use super::VerifyKey;

/// Keys a token without `kid` is tried against, at most (a token cannot make
/// the gateway run every signature check it has).
pub const MAX_KEYS_WITHOUT_KID: usize = 4;

/// One immutable set of keys.
#[derive(Debug, Default)]
pub struct KeySet {
    by_kid: HashMap<String, Vec<Arc<VerifyKey>>>,
    all: Vec<Arc<VerifyKey>>,
    /// Which set this is: every change of the store makes a new one.
    generation: u64,
}

impl KeySet {
    pub fn new(keys: impl IntoIterator<Item = Arc<VerifyKey>>) -> KeySet {
        let all: Vec<Arc<VerifyKey>> = keys.into_iter().collect();
        let mut by_kid: HashMap<String, Vec<Arc<VerifyKey>>> = HashMap::new();
        for key in &all {
            if let Some(kid) = &key.kid {
                by_kid.entry(kid.clone()).or_default().push(key.clone());
            }
        }
        KeySet { by_kid, all, generation: 0 }
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The keys a token with this `kid` (or none) and `alg` may be checked against.
    pub fn candidates<'a>(&'a self, kid: Option<&str>, alg: Algorithm) -> Vec<&'a VerifyKey> {
        let pool: &[Arc<VerifyKey>] = match kid {
            Some(kid) => self.by_kid.get(kid).map_or(&[], Vec::as_slice),
            None => &self.all,
        };
        let limit = if kid.is_some() { usize::MAX } else { MAX_KEYS_WITHOUT_KID };
        pool.iter().filter(|k| k.alg == alg).take(limit).map(Arc::as_ref).collect()
    }

    pub fn len(&self) -> usize {
        self.all.len()
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }
}

/// The process's keys.
#[derive(Debug, Default)]
pub struct KeyStore {
    set: ArcSwap<KeySet>,
    parts: Mutex<Parts>,
}

#[derive(Debug, Default)]
struct Parts {
    configured: Vec<Arc<VerifyKey>>,
    fetched: Vec<Arc<VerifyKey>>,
    /// Who may replace `fetched`: the fetcher in force (0: none).
    fetch_owner: u64,
    generation: u64,
}

impl KeyStore {
    /// The set in force.
    pub fn current(&self) -> Arc<KeySet> {
        self.set.load_full()
    }

    /// Replaces the config's keys (a reload: every cached verification is void,
    /// since the claim rules may have changed too).
    pub fn set_configured(&self, keys: Vec<Arc<VerifyKey>>) {
        self.update(|p| p.configured = keys);
    }

    /// Replaces the keys fetched from `jwks_url`, if `owner` is the fetcher in
    /// force: a fetch of a replaced fetcher that ends late changes nothing.
    pub fn set_fetched(&self, owner: u64, keys: Vec<Arc<VerifyKey>>) -> bool {
        let mut applied = false;
        self.update(|p| {
            if p.fetch_owner == owner && owner != 0 {
                p.fetched = keys;
                applied = true;
            }
        });
        applied
    }

    /// Makes a new fetcher the only one whose fetches count and returns its
    /// id; the fetched keys are kept (same URL) or dropped (another source).
    pub fn hand_over_fetching(&self, keep_keys: bool) -> u64 {
        let mut owner = 0;
        self.update(|p| {
            p.fetch_owner += 1;
            owner = p.fetch_owner;
            if !keep_keys {
                p.fetched.clear();
            }
        });
        owner
    }

    /// No fetcher any more: fetched keys are dropped and no late fetch may add any.
    pub fn stop_fetching(&self) {
        self.update(|p| {
            p.fetch_owner += 1;
            p.fetched.clear();
        });
    }

    pub fn fetched_len(&self) -> usize {
        self.parts.lock().unwrap_or_else(PoisonError::into_inner).fetched.len()
    }

    fn update(&self, f: impl FnOnce(&mut Parts)) {
        let mut parts = self.parts.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut parts);
        parts.generation += 1;
        let mut set = KeySet::new(parts.configured.iter().chain(&parts.fetched).cloned());
        set.generation = parts.generation;
        self.set.store(Arc::new(set));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::keys;
    use secrecy::SecretString;

    fn hmac(kid: &str) -> Arc<VerifyKey> {
        Arc::new(keys::from_hmac(kid, Algorithm::HS256, &SecretString::from(format!("secret-{kid}"))))
    }

    #[test]
    fn candidates_by_kid_and_a_bounded_number_without() {
        let store = KeyStore::default();
        store.set_configured((0..6).map(|i| hmac(&format!("k{i}"))).collect());
        let owner = store.hand_over_fetching(false);
        assert!(store.set_fetched(owner, vec![hmac("k1")]));
        let set = store.current();
        assert_eq!(set.len(), 7);
        assert_eq!(set.candidates(Some("k1"), Algorithm::HS256).len(), 2, "configured and fetched k1");
        assert!(set.candidates(Some("k1"), Algorithm::HS384).is_empty());
        assert!(set.candidates(Some("nope"), Algorithm::HS256).is_empty());
        assert_eq!(set.candidates(None, Algorithm::HS256).len(), MAX_KEYS_WITHOUT_KID);
        store.set_fetched(owner, Vec::new());
        assert_eq!(store.current().len(), 6, "fetched keys replaced, configured kept");
        assert_eq!(store.fetched_len(), 0);
    }

    #[test]
    fn only_the_fetcher_in_force_may_set_fetched_keys() {
        let store = KeyStore::default();
        let old = store.hand_over_fetching(false);
        assert!(store.set_fetched(old, vec![hmac("a")]));
        let new = store.hand_over_fetching(true);
        assert_eq!(store.fetched_len(), 1, "same source: keys kept");
        assert!(!store.set_fetched(old, vec![hmac("stale")]), "a late fetch of the replaced fetcher");
        assert_eq!(store.current().candidates(Some("stale"), Algorithm::HS256).len(), 0);
        store.stop_fetching();
        assert!(!store.set_fetched(new, vec![hmac("late")]));
        assert_eq!(store.current().len(), 0);
    }
}
