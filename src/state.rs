//! What request handling reads: the long-lived `Shared` (metrics, breakers,
//! readiness) and the swappable `Runtime` built from one loaded config (the
//! config itself, the upstream client, the audit writer). A reload builds a
//! new `Runtime` off to the side and swaps it in whole.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::audit::{AuditError, AuditLog, NotesHasher};
use crate::breaker::LoginBreakers;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::upstream::{self, Upstream};

/// Everything built from one config.
pub struct Runtime {
    pub config: Config,
    pub upstream: Upstream,
    pub audit: Arc<AuditLog>,
    pub notes: NotesHasher,
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Upstream(#[from] upstream::BuildError),
}

impl RuntimeError {
    /// The config key whose value could not be put to use.
    pub fn key(&self) -> &'static str {
        match self {
            RuntimeError::Audit(_) => "audit.path",
            RuntimeError::Upstream(_) => "upstream.ca_file",
        }
    }
}

impl Runtime {
    pub fn build(config: Config, metrics: &Arc<Metrics>) -> Result<Runtime, RuntimeError> {
        let upstream = Upstream::new(&config.upstream)?;
        let audit = Arc::new(AuditLog::open(&config.audit.sink, metrics.clone())?);
        let notes = NotesHasher::new(config.audit.hmac_key.as_ref(), config.audit.include_notes);
        Ok(Runtime { config, upstream, audit, notes })
    }
}

/// State that lives as long as the process.
pub struct Shared {
    pub runtime: ArcSwap<Runtime>,
    pub metrics: Arc<Metrics>,
    pub breakers: LoginBreakers,
    /// `/readyz`: config loaded and not shutting down.
    pub ready: AtomicBool,
}

impl Shared {
    pub fn new(runtime: Runtime, metrics: Arc<Metrics>) -> Arc<Shared> {
        Arc::new(Shared {
            runtime: ArcSwap::from_pointee(runtime),
            metrics,
            breakers: LoginBreakers::default(),
            ready: AtomicBool::new(false),
        })
    }
}
