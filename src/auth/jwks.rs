//! Keys from the IdP's `jwks_url` (SPEC §7): fetched at start over verified
//! TLS, refreshed every `jwks_refresh`, fetched again for a token with an
//! unknown `kid` (at most once per `jwks_min_refetch`, every fetch counting,
//! one fetch at a time however many requests wait), the last good set kept
//! when a fetch fails. An answer over 1 MiB, slower than 5 s, not 200, not a
//! JWKS document, or with no usable key is a failed fetch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::header::{ACCEPT, USER_AGENT};
use hyper::{Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::{keys, KeyStore};
use crate::config::JwksSettings;
use crate::metrics::Metrics;
use crate::tls_client::{self, BuildError, Http2, Plaintext};
use crate::upstream::USER_AGENT_VALUE;

/// Largest JWKS answer read.
pub const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// Longest a fetch may take, connect to last byte.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// First retry after a failed fetch; doubled up to `jwks_refresh`.
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// Why a fetch failed (for the log and the metric label).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot reach the JWKS URL: {0}")]
    Unavailable(String),
    #[error("no complete answer within 5 s")]
    Timeout,
    #[error("answer larger than 1 MiB")]
    TooLarge,
    #[error("answer status {0}")]
    Status(StatusCode),
    #[error("not a usable JWKS document: {0}")]
    Invalid(String),
    #[error("a reload replaced this jwks_url while it was being fetched")]
    Replaced,
}

impl FetchError {
    fn label(&self) -> &'static str {
        match self {
            FetchError::Unavailable(_) => "unavailable",
            FetchError::Timeout => "timeout",
            FetchError::TooLarge => "too_large",
            FetchError::Status(_) => "status",
            FetchError::Invalid(_) => "invalid",
            FetchError::Replaced => "replaced",
        }
    }
}

#[derive(Debug, Default)]
struct History {
    /// Start of the last fetch, whatever its outcome.
    last_fetch: Option<Instant>,
    /// End of the last successful fetch.
    last_success: Option<Instant>,
}

/// One `jwks_url` and its fetching.
pub struct Jwks {
    pub settings: JwksSettings,
    client: Client<tls_client::Connector, Empty<Bytes>>,
    store: Arc<KeyStore>,
    metrics: Arc<Metrics>,
    history: Mutex<History>,
    /// Held while a fetch runs: one at a time.
    gate: tokio::sync::Mutex<()>,
    /// Bumped when a fetch ends, so waiters know one happened while they waited.
    fetches: AtomicU64,
    /// This fetcher's id in the key store (see `KeyStore::hand_over_fetching`).
    owner: AtomicU64,
}

impl Jwks {
    pub fn new(settings: JwksSettings, store: Arc<KeyStore>, metrics: Arc<Metrics>) -> Result<Jwks, BuildError> {
        let https = tls_client::connector(settings.roots.as_deref(), FETCH_TIMEOUT, Plaintext::Refused, Http2::Never)?;
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(1)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(https);
        Ok(Jwks {
            settings,
            client,
            store,
            metrics,
            history: Mutex::new(History::default()),
            gate: tokio::sync::Mutex::new(()),
            fetches: AtomicU64::new(0),
            owner: AtomicU64::new(0),
        })
    }

    fn history(&self) -> std::sync::MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Seconds since the last successful fetch, if any.
    pub fn age(&self) -> Option<Duration> {
        self.history().last_success.map(|t| t.elapsed())
    }

    /// One fetch (the caller holds the gate): on success the fetched keys are replaced.
    async fn fetch(&self) -> Result<usize, FetchError> {
        self.history().last_fetch = Some(Instant::now());
        let request = Request::get(self.settings.url.clone())
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, USER_AGENT_VALUE)
            .body(Empty::new())
            .map_err(|e| FetchError::Unavailable(e.to_string()))?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| FetchError::Unavailable(e.to_string()))?;
            if response.status() != StatusCode::OK {
                return Err(FetchError::Status(response.status()));
            }
            match Limited::new(response.into_body(), MAX_JWKS_BYTES).collect().await {
                Ok(body) => Ok(body.to_bytes()),
                Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(FetchError::TooLarge),
                Err(e) => Err(FetchError::Unavailable(e.to_string())),
            }
        };
        let body = tokio::time::timeout(FETCH_TIMEOUT, exchange).await.map_err(|_| FetchError::Timeout)??;
        let text = std::str::from_utf8(&body).map_err(|_| FetchError::Invalid("not UTF-8".into()))?;
        let (found, skipped) = keys::from_jwks(text).map_err(FetchError::Invalid)?;
        for why in &skipped {
            tracing::warn!(url = %self.settings.url, "JWKS {why}");
        }
        // A valid document is the IdP's word, even with no usable key: keys it
        // removed stop verifying (fail closed), whatever that does to readiness.
        let n = found.len();
        if !self.store.set_fetched(self.owner.load(Ordering::SeqCst), found.into_iter().map(Arc::new).collect()) {
            return Err(FetchError::Replaced);
        }
        self.history().last_success = Some(Instant::now());
        Ok(n)
    }

    /// A fetch under the gate, counted and logged (with the id of the
    /// request that asked for it, if one did); true on success.
    async fn fetch_counted(&self, request_id: Option<&str>) -> bool {
        let result = self.fetch().await;
        self.fetches.fetch_add(1, Ordering::SeqCst);
        match result {
            Ok(n) => {
                self.metrics.jwks_fetch("success");
                self.metrics.jwks_keys.set(i64::try_from(n).unwrap_or(i64::MAX));
                tracing::info!(url = %self.settings.url, keys = n, request_id, "JWKS fetched");
                true
            }
            Err(e) => {
                self.metrics.jwks_fetch(e.label());
                tracing::warn!(url = %self.settings.url, error = %e, request_id, "JWKS fetch failed; keeping the last good keys");
                false
            }
        }
    }

    /// For a token whose `kid` no key has: fetch again, unless a fetch ran
    /// within `jwks_min_refetch`. True if the key set may have changed.
    pub async fn refetch(&self, request_id: Option<&str>) -> bool {
        let seen = self.fetches.load(Ordering::SeqCst);
        let _gate = self.gate.lock().await;
        if self.fetches.load(Ordering::SeqCst) != seen {
            return true; // a fetch ended while we waited for the gate
        }
        if self.history().last_fetch.is_some_and(|t| t.elapsed() < self.settings.min_refetch) {
            return false;
        }
        self.fetch_counted(request_id).await
    }

    /// Fetches at start, then every `jwks_refresh`; after a failure, again
    /// after 1 s, 2 s, 4 s ... but never later than `jwks_refresh`.
    async fn run(self: Arc<Self>) {
        let mut retry = FIRST_RETRY;
        loop {
            let ok = {
                let _gate = self.gate.lock().await;
                self.fetch_counted(None).await
            };
            let wait = if ok {
                retry = FIRST_RETRY;
                self.settings.refresh
            } else {
                let wait = retry.min(self.settings.refresh);
                retry = retry.saturating_mul(2);
                wait
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// The `jwks_url` in force and its fetch task; replaced when a reload changes its settings.
#[derive(Default)]
pub struct JwksSource {
    current: ArcSwapOption<Jwks>,
    task: Mutex<Option<AbortHandle>>,
}

impl JwksSource {
    pub fn current(&self) -> Option<Arc<Jwks>> {
        self.current.load_full()
    }

    /// Starts, keeps or replaces the fetcher for `settings`. The new fetcher
    /// is built before the old one is stopped, so a failure changes nothing;
    /// a new URL or CA drops the old keys, other changes keep them; a fetch
    /// of a replaced fetcher that ends late is ignored. Needs a Tokio runtime.
    pub fn configure(
        &self,
        settings: Option<&JwksSettings>,
        store: &Arc<KeyStore>,
        metrics: &Arc<Metrics>,
    ) -> Result<(), BuildError> {
        let old = self.current();
        if old.as_ref().map(|j| &j.settings) == settings {
            return Ok(());
        }
        let fresh = match settings {
            Some(s) => Some(Arc::new(Jwks::new(s.clone(), store.clone(), metrics.clone())?)),
            None => None,
        };
        let mut task = self.task.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = task.take() {
            old.abort();
        }
        match fresh {
            None => {
                store.stop_fetching();
                self.current.store(None);
            }
            Some(jwks) => {
                let same_source = old
                    .as_ref()
                    .is_some_and(|o| o.settings.url == jwks.settings.url && o.settings.roots == jwks.settings.roots);
                jwks.owner.store(store.hand_over_fetching(same_source), Ordering::SeqCst);
                if let (true, Some(o)) = (same_source, &old) {
                    *jwks.history() =
                        History { last_fetch: o.history().last_fetch, last_success: o.history().last_success };
                }
                self.current.store(Some(jwks.clone()));
                *task = Some(tokio::spawn(jwks.run()).abort_handle());
            }
        }
        Ok(())
    }
}

impl Drop for JwksSource {
    fn drop(&mut self) {
        if let Some(task) = self.task.get_mut().ok().and_then(Option::take) {
            task.abort();
        }
    }
}
