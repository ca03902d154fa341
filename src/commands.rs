//! `hsgate serve` and `hsgate check`: load the config with the same code,
//! then either serve until a signal or print a summary.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use std::time::Duration;

use crate::config::{self, AuditSinkKind, Config, ConfigError, Problem};
use crate::metrics::Metrics;
use crate::ratelimit::RateLimits;
use crate::reload::{self, Trigger};
use crate::server::{self, StartError};
use crate::state::{Runtime, RuntimeError};
use crate::tls_client;
use crate::watch::FileWatch;

/// A fatal error and the exit code SPEC §2 gives it.
#[derive(Debug, thiserror::Error)]
pub enum Fatal {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("{0}")]
    Other(String),
}

impl Fatal {
    pub fn exit_code(&self) -> u8 {
        match self {
            Fatal::Config(_) | Fatal::Start(StartError::Runtime(_)) => 2,
            Fatal::Start(StartError::Bind { .. }) | Fatal::Other(_) => 1,
        }
    }
}

/// How long a burst of file events must be quiet before the reload runs ...
const DEBOUNCE: Duration = Duration::from_millis(250);
/// ... but a reload runs at the latest this long after the first event.
const DEBOUNCE_MAX: Duration = Duration::from_secs(2);

/// Runs the gateway until SIGTERM/SIGINT; reloads on SIGHUP and when a loaded file changes.
pub async fn serve(file: &Path) -> Result<(), Fatal> {
    // First: a signal that comes while the gateway starts is then acted on
    // once it has started, not left to its default action (ending the process).
    let signals = Signals::new()?;
    let config = config::load(file)?;
    for w in &config.warnings {
        tracing::warn!(key = %w.key, "{}", w.message);
    }
    let mut watch = FileWatch::new().map_err(|e| Fatal::Other(format!("cannot watch files: {e}")))?;
    watch.set(&config.files);
    let running = server::start(config).await.map_err(|e| as_config_error(file, e))?;
    loop {
        let trigger = tokio::select! {
            why = signals.stop() => {
                tracing::info!(signal = why, "shutting down");
                break;
            }
            () = signals.hangup() => Trigger::Signal,
            () = watch.changed.notified() => Trigger::FileChange,
        };
        // Kubernetes swaps several entries at once: wait for the burst to end
        // (bounded), then reload; a stop signal meanwhile wins.
        let work = async {
            if trigger == Trigger::FileChange {
                let latest = tokio::time::Instant::now() + DEBOUNCE_MAX;
                while tokio::time::timeout_at(
                    latest.min(tokio::time::Instant::now() + DEBOUNCE),
                    watch.changed.notified(),
                )
                .await
                .is_ok()
                {}
            }
            reload::reload(&running.shared, file, trigger).await;
        };
        tokio::select! {
            why = signals.stop() => {
                tracing::info!(signal = why, "shutting down (a reload was under way)");
                break;
            }
            () = work => {}
        }
        watch.set(&running.shared.runtime.load().config.files);
    }
    running.shutdown().await;
    Ok(())
}

#[cfg(unix)]
pub(crate) struct Signals {
    term: tokio::sync::Mutex<tokio::signal::unix::Signal>,
    int: tokio::sync::Mutex<tokio::signal::unix::Signal>,
    hup: tokio::sync::Mutex<tokio::signal::unix::Signal>,
}

#[cfg(unix)]
impl Signals {
    pub(crate) fn new() -> Result<Signals, Fatal> {
        use tokio::signal::unix::{signal, SignalKind};
        let mk = |kind| {
            signal(kind)
                .map(tokio::sync::Mutex::new)
                .map_err(|e| Fatal::Other(format!("cannot install signal handler: {e}")))
        };
        Ok(Signals {
            term: mk(SignalKind::terminate())?,
            int: mk(SignalKind::interrupt())?,
            hup: mk(SignalKind::hangup())?,
        })
    }

    /// SIGTERM or SIGINT.
    pub(crate) async fn stop(&self) -> &'static str {
        let (mut term, mut int) = (self.term.lock().await, self.int.lock().await);
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    }

    async fn hangup(&self) {
        let _ = self.hup.lock().await.recv().await;
    }
}

#[cfg(not(unix))]
pub(crate) struct Signals;

#[cfg(not(unix))]
impl Signals {
    pub(crate) fn new() -> Result<Signals, Fatal> {
        Ok(Signals)
    }
    pub(crate) async fn stop(&self) -> &'static str {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
    async fn hangup(&self) {
        std::future::pending::<()>().await
    }
}

/// Validates the config and builds what `serve` would build from it (the
/// upstream TLS client, the audit sink — a file sink is opened for append,
/// as `nginx -t` opens its logs), then returns the summary `check` prints.
pub fn check(file: &Path) -> Result<String, Fatal> {
    let config = config::load(file)?;
    let text = summary(&config);
    if let Some(jwks) = &config.auth.jwks {
        // Not fetched (check stays offline), but its TLS client must build.
        tls_client::connector(
            jwks.roots.as_deref(),
            jwks.refresh,
            tls_client::Plaintext::Refused,
            tls_client::Http2::Never,
        )
        .map_err(|e| as_config_error(file, StartError::Runtime(RuntimeError::Jwks(e))))?;
    }
    Runtime::build(config, &Arc::new(Metrics::new()), &RateLimits::default(), None)
        .map_err(|e| as_config_error(file, StartError::Runtime(e)))?;
    Ok(text)
}

/// A value that validated but could not be used (an audit file that cannot
/// be opened, say) is a config error: exit 2, naming the file and the key.
fn as_config_error(file: &Path, e: StartError) -> Fatal {
    match e {
        StartError::Runtime(e) => Fatal::Config(ConfigError {
            file: file.to_owned(),
            problems: vec![Problem { key: e.key().to_owned(), message: e.to_string() }],
        }),
        other => Fatal::Start(other),
    }
}

/// A human summary of a loaded config, with no secret in it.
pub fn summary(c: &Config) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "config {} is valid", c.file.display());
    let tls = match &c.server.tls {
        Some(t) if t.mtls => "HTTPS, client certificates required",
        Some(_) => "HTTPS",
        None => "plain HTTP",
    };
    let _ = writeln!(s, "  listen        {} ({tls}; admin {})", c.server.listen, c.admin_listen);
    let roots = match &c.upstream.roots {
        Some(r) => format!("{} CA certificate(s) from upstream.ca_file", r.len()),
        None => "built-in web roots".into(),
    };
    let _ = writeln!(s, "  upstream      {} ({roots})", c.upstream.url.as_str());
    let _ = writeln!(s, "  issuers       {}", c.auth.issuers.join(", "));
    let _ = writeln!(s, "  audiences     {}", c.auth.audiences.join(", "));
    let algs: Vec<String> = c.auth.algorithms.iter().map(|a| format!("{a:?}")).collect();
    let _ = writeln!(s, "  algorithms    {}", algs.join(", "));
    let keys: Vec<String> = c.auth.keys.iter().map(|k| format!("{} {:?}", k.label(), k.alg)).collect();
    let _ = writeln!(s, "  keys          {}", if keys.is_empty() { "(none)".into() } else { keys.join("; ") });
    if let Some(j) = &c.auth.jwks {
        let _ = writeln!(
            s,
            "  jwks_url      {} (every {}, not fetched by check)",
            j.url,
            humantime::format_duration(j.refresh)
        );
    }
    let sink = match &c.audit.sink {
        AuditSinkKind::Stdout => "stdout".to_owned(),
        AuditSinkKind::File(p) => format!("file {}", p.display()),
    };
    let hmac = if c.audit.hmac_key.is_some() { "notes_hmac on" } else { "notes_hmac off" };
    let _ = writeln!(s, "  audit         {sink} ({hmac}, include_notes = {})", c.audit.include_notes);
    for p in &c.profiles {
        let _ = writeln!(
            s,
            "  profile       {}: {} / {} -> {} (password resolved)",
            p.name,
            p.customer_name,
            p.user_name,
            p.upstream.as_str()
        );
    }
    for g in &c.grants {
        let claims: Vec<String> = g.claims.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let rate = g.rate.map(|r| format!(", rate {r}")).unwrap_or_default();
        let _ = writeln!(
            s,
            "  grant         {}: {} -> profiles [{}], routes [{}]{rate}",
            g.name,
            claims.join(" "),
            g.profiles.join(", "),
            g.routes.join(", ")
        );
    }
    for r in c.routes.iter() {
        let extra: Vec<&str> = c.routes.extra_paths(r).collect();
        let _ = writeln!(s, "  route         {}: POST {} (also {})", r.name, r.path, extra.join(", "));
    }
    for f in &c.files {
        let _ = writeln!(s, "  watches       {} (a change reloads)", f.display());
    }
    for w in &c.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    s
}
