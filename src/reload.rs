//! Reloading while serving (SPEC §7): on SIGHUP, or when a file the config
//! was built from changes. The new config is loaded off the async runtime
//! with exactly the code `check` runs, then swapped in whole; a config that
//! fails to load is logged and the old one keeps serving. What a reload
//! cannot change (listen addresses, HTTPS on or off) is logged as needing a
//! restart.

use std::path::Path;
use std::sync::Arc;

use secrecy::ExposeSecret;

use crate::config::{self, Config};
use crate::state::{Runtime, RuntimeError, Shared};

/// What asked for the reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// SIGHUP: also reopens a file audit sink (log rotation), whatever the config does.
    Signal,
    /// A loaded file changed.
    FileChange,
}

/// Reloads `file`; true if the new config is in force.
pub async fn reload(shared: &Arc<Shared>, file: &Path, trigger: Trigger) -> bool {
    if trigger == Trigger::Signal {
        shared.runtime.load().audit.reopen().await;
    }
    let path = file.to_owned();
    let loaded = match tokio::task::spawn_blocking(move || config::load(&path)).await {
        Ok(loaded) => loaded,
        Err(e) => {
            tracing::error!(error = %e, "config reload task failed");
            shared.metrics.config_reload("failure");
            return false;
        }
    };
    let config = match loaded {
        Ok(config) => config,
        Err(e) => {
            tracing::error!(?trigger, error = %e, "config reload failed; the old config keeps serving");
            shared.metrics.config_reload("failure");
            return false;
        }
    };
    match apply(shared, config) {
        Ok(()) => {
            tracing::info!(?trigger, file = %file.display(), "config reloaded");
            shared.metrics.config_reload("success");
            true
        }
        Err(e) => {
            tracing::error!(?trigger, key = e.key(), error = %e, "config reload failed; the old config keeps serving");
            shared.metrics.config_reload("failure");
            false
        }
    }
}

/// Builds the runtime of `config` (reusing what did not change) and swaps it in.
fn apply(shared: &Arc<Shared>, config: Config) -> Result<(), RuntimeError> {
    let old = shared.runtime.load_full();
    let before = &old.config;
    if config.server.listen != before.server.listen || config.admin_listen != before.admin_listen {
        tracing::warn!("listen addresses are not reloaded; restart hsgate to apply the change");
    }
    if config.server.max_connections != before.server.max_connections
        || config.server.max_in_flight != before.server.max_in_flight
    {
        tracing::warn!("server.max_connections and max_in_flight are not reloaded; restart hsgate to apply the change");
    }
    if config.server.tls.is_some() != before.server.tls.is_some() {
        tracing::warn!("turning HTTPS on the listener on or off is not reloaded; restart hsgate to apply it");
    }
    for w in &config.warnings {
        tracing::warn!(key = %w.key, "{}", w.message);
    }
    let runtime = Runtime::build(config, &shared.metrics, &shared.rate_limits, Some(&old))?;
    let new = &runtime.config;
    shared.jwks.configure(new.auth.jwks.as_ref(), &shared.keys, &shared.metrics).map_err(RuntimeError::Jwks)?;
    // A changed password gets a fresh count (SPEC §4); an unchanged one keeps it.
    for profile in &new.profiles {
        let changed = before
            .profiles
            .iter()
            .find(|p| p.name == profile.name)
            .is_some_and(|p| p.password.expose_secret() != profile.password.expose_secret());
        if changed {
            shared.breakers.reset(&profile.name);
            tracing::info!(profile = %profile.name, "password changed: refused-login count reset");
        }
    }
    if let (Some(tls), Some(_)) = (&new.server.tls, shared.listener_tls.load_full()) {
        shared.listener_tls.store(Some(tls.config.clone()));
    }
    let rated: Vec<_> = new.grants.iter().filter_map(|g| Some((g.name.clone(), g.rate?))).collect();
    shared.rate_limits.retain(&rated);
    if !Arc::ptr_eq(&runtime.audit, &old.audit) {
        let mut retired = shared.retired_audit.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // A writer no runtime holds any more drains on its own and ends.
        retired.retain(|log| Arc::strong_count(log) > 1);
        retired.push(old.audit.clone());
    }
    let keys = runtime.config.auth.keys.clone();
    shared.runtime.store(Arc::new(runtime));
    // After the swap: a token verified under the old rules cannot be cached
    // under the new key set's generation.
    shared.keys.set_configured(keys);
    Ok(())
}
