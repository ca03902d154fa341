//! State by lifetime. `Shared` lives as long as the process: metrics, the
//! refused-login breakers, rate-limit state, the key store and its JWKS
//! fetcher, readiness, the in-flight request tracker. `Runtime` is built from
//! one loaded config and swapped whole on a reload; the parts of it that are
//! costly or stateful (the upstream client's pool, the audit writer) are
//! carried over from the previous `Runtime` when their own inputs did not
//! change.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arc_swap::{ArcSwap, ArcSwapOption};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::audit::{AuditError, AuditLog, Durability, NotesHasher};
use crate::auth::jwks::JwksSource;
use crate::auth::{KeyStore, TokenCache};
use crate::breaker::LoginBreakers;
use crate::config::Config;
use crate::metrics::{Metrics, RouteMetrics};
use crate::ratelimit::{Limiter, RateLimits};
use crate::tls_client::BuildError;
use crate::upstream::{Target, Upstream, UpstreamKey};

/// Everything built from one config.
pub struct Runtime {
    pub config: Config,
    pub upstream: Arc<Upstream>,
    pub audit: Arc<AuditLog>,
    pub notes: NotesHasher,
    /// The limiter of each grant that has a `rate_limit`, by grant name.
    pub limiters: HashMap<String, Arc<Limiter>>,
    /// The upstream target of every (profile, route), built once here.
    targets: HashMap<String, HashMap<String, Target>>,
    /// The metric handles of every route, and of `none` (no route matched).
    route_metrics: HashMap<String, RouteMetrics>,
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Upstream(BuildError),
    #[error(transparent)]
    Jwks(BuildError),
}

impl RuntimeError {
    /// The config key whose value could not be put to use.
    pub fn key(&self) -> &'static str {
        match self {
            RuntimeError::Audit(_) => "audit.path",
            RuntimeError::Upstream(_) => "upstream.ca_file",
            RuntimeError::Jwks(_) => "auth.jwks_ca_file",
        }
    }
}

impl Runtime {
    /// Builds what `config` needs, taking over from `previous` the upstream
    /// client and the audit writer when their settings are unchanged.
    pub fn build(
        config: Config,
        metrics: &Arc<Metrics>,
        rate_limits: &RateLimits,
        previous: Option<&Runtime>,
    ) -> Result<Runtime, RuntimeError> {
        let upstream = match previous {
            Some(p) if p.upstream.key == UpstreamKey::of(&config.upstream) => p.upstream.clone(),
            _ => Arc::new(Upstream::new(&config.upstream).map_err(RuntimeError::Upstream)?),
        };
        let durability = if config.audit.fsync { Durability::Synced } else { Durability::Written };
        let audit = match previous {
            Some(p) if p.config.audit.sink == config.audit.sink && p.config.audit.fsync == config.audit.fsync => {
                p.audit.clone()
            }
            _ => Arc::new(AuditLog::open(&config.audit.sink, durability, metrics.clone())?),
        };
        let notes = NotesHasher::new(config.audit.hmac_key.as_ref(), config.audit.include_notes);
        let limiters = config
            .grants
            .iter()
            .filter_map(|g| Some((g.name.clone(), rate_limits.limiter(&g.name, g.rate?))))
            .collect();
        let mut targets: HashMap<String, HashMap<String, Target>> = HashMap::new();
        for profile in &config.profiles {
            let by_route = targets.entry(profile.name.clone()).or_default();
            for route in config.routes.iter() {
                // Both halves were validated at load; a pair that still fails is left out (500).
                let uri = profile.upstream.join(&route.path).parse::<hyper::Uri>().ok();
                if let Some(target) = uri.and_then(|uri| upstream.target(uri)) {
                    by_route.insert(route.name.clone(), target);
                }
            }
        }
        let route_metrics = config
            .routes
            .iter()
            .map(|r| r.name.as_str())
            .chain([NO_ROUTE])
            .map(|name| (name.to_owned(), metrics.for_route(name)))
            .collect();
        Ok(Runtime { config, upstream, audit, notes, limiters, targets, route_metrics })
    }

    /// The metric handles of `route` (a route name, or [`NO_ROUTE`]).
    pub fn route_metrics(&self, route: &str) -> Option<&RouteMetrics> {
        self.route_metrics.get(route)
    }

    /// Where `POST {upstream}{path}` goes for this profile and route.
    pub fn upstream_target(&self, profile: &str, route: &str) -> Option<&Target> {
        self.targets.get(profile)?.get(route)
    }
}

/// The `route` label of a request that matched no route.
pub const NO_ROUTE: &str = "none";

/// Request tasks in flight, so that shutdown can wait for every one of them
/// (not only for connections) and end those still running after the grace.
#[derive(Debug, Default)]
pub struct InFlight {
    tracker: TaskTracker,
    cancel: CancellationToken,
}

impl InFlight {
    /// Runs a request task; it yields `None` if shutdown ended it first.
    pub fn spawn<F>(&self, task: F) -> JoinHandle<Option<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let cancel = self.cancel.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                out = task => Some(out),
                () = cancel.cancelled() => None,
            }
        })
    }

    pub fn len(&self) -> usize {
        self.tracker.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tracker.is_empty()
    }

    /// Resolves when every request task has ended (no new ones are expected).
    pub async fn finished(&self) {
        self.tracker.close();
        self.tracker.wait().await;
    }

    /// Ends every request task still running (their audit records are written as they drop).
    pub fn end_all(&self) {
        self.cancel.cancel();
    }
}

/// State that lives as long as the process.
pub struct Shared {
    pub runtime: ArcSwap<Runtime>,
    pub metrics: Arc<Metrics>,
    pub breakers: LoginBreakers,
    pub rate_limits: RateLimits,
    pub keys: Arc<KeyStore>,
    pub tokens: TokenCache,
    pub jwks: JwksSource,
    pub in_flight: InFlight,
    /// The TLS settings new gateway connections are accepted with (when the listener serves HTTPS).
    pub listener_tls: ArcSwapOption<rustls::ServerConfig>,
    /// Requests in progress at most (`server.max_in_flight`, fixed at start).
    pub admission: Arc<tokio::sync::Semaphore>,
    /// Audit writers a reload replaced (another sink): flushed too at shutdown.
    pub retired_audit: std::sync::Mutex<Vec<Arc<AuditLog>>>,
    started: AtomicBool,
    stopping: AtomicBool,
}

impl Shared {
    /// The process state around a first runtime: its keys in the store, its
    /// `jwks_url` being fetched. Needs a Tokio runtime.
    pub fn new(runtime: Runtime, metrics: Arc<Metrics>, rate_limits: RateLimits) -> Result<Arc<Shared>, RuntimeError> {
        let keys = Arc::new(KeyStore::default());
        keys.set_configured(runtime.config.auth.keys.clone());
        let jwks = JwksSource::default();
        jwks.configure(runtime.config.auth.jwks.as_ref(), &keys, &metrics).map_err(RuntimeError::Jwks)?;
        let listener_tls = ArcSwapOption::from(runtime.config.server.tls.as_ref().map(|t| t.config.clone()));
        let admission = Arc::new(tokio::sync::Semaphore::new(runtime.config.server.max_in_flight));
        Ok(Arc::new(Shared {
            runtime: ArcSwap::from_pointee(runtime),
            metrics,
            breakers: LoginBreakers::default(),
            rate_limits,
            keys,
            tokens: TokenCache::default(),
            jwks,
            in_flight: InFlight::default(),
            listener_tls,
            admission,
            retired_audit: std::sync::Mutex::default(),
            started: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
        }))
    }

    /// Waits until every audit writer, current and replaced, has written what it was given.
    pub async fn flush_audit(&self) {
        let retired: Vec<Arc<AuditLog>> =
            self.retired_audit.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        for log in retired {
            log.flush().await;
        }
        self.runtime.load().audit.flush().await;
    }

    pub fn set_started(&self) {
        self.started.store(true, Ordering::SeqCst);
    }

    pub fn set_stopping(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// `/readyz`: serving, not shutting down, and some key to verify tokens
    /// with (a `jwks_url` whose first fetch failed leaves none when it is the
    /// only key source).
    pub fn is_ready(&self) -> bool {
        self.started.load(Ordering::SeqCst) && !self.is_stopping() && !self.keys.current().is_empty()
    }
}
