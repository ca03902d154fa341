//! Listeners and lifecycle: bind both listeners, accept under a connection
//! cap, serve each connection in its own task (`conn`, with every state
//! under a deadline: `activity`, `io`, `body`), and drain gracefully on
//! shutdown.
//!
//! At the cap, the accept loop stops accepting (new clients wait in the
//! kernel's backlog) and idle keep-alive connections are closed to make
//! room; a connection that never sends a request is closed after
//! `header_read_timeout`, so no client waits behind silent ones for longer
//! than that. The wait for a free slot is raced against shutdown.

mod activity;
mod body;
mod conn;
mod io;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::admin;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimits;
use crate::state::{Runtime, RuntimeError, Shared};

pub use activity::{Expiry, Limits};

/// Largest request head hyper buffers (SPEC: heads up to 32 KiB are accepted).
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Header fields per HTTP/1 head: as many as fit in 32 KiB (`a:\r\n` is the smallest field).
const MAX_HEAD_FIELDS: usize = 32 * 1024 / 4;
/// HTTP/2 header list (name + value + 32 bytes per field, RFC 9113): a 32 KiB head of up to 1,024 fields.
const MAX_HEADER_LIST: u32 = 32 * 1024 + 32 * 1024;
/// While at the cap, how often idle connections are asked again to make room.
const EVICT_EVERY: Duration = Duration::from_secs(1);
/// How often "connection cap reached" is logged at most.
const CAP_LOG_EVERY: Duration = Duration::from_secs(10);
/// Concurrent HTTP/2 streams per connection.
const MAX_STREAMS: u32 = 128;
/// HTTP/2 keep-alive: a ping after this long without a frame from the client ...
const H2_PING_INTERVAL: Duration = Duration::from_secs(20);
/// ... unanswered for this long closes the connection.
const H2_PING_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind { what: &'static str, addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

/// After the shutdown grace, how long the connections of the requests it
/// ended have to send their 503 `ShuttingDown` before they are closed.
const ANSWER_ENDED_WITHIN: std::time::Duration = std::time::Duration::from_millis(500);

/// A started gateway: both listeners bound and serving.
pub struct Running {
    pub addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    force: watch::Sender<bool>,
    slots: Arc<Semaphore>,
    max_connections: usize,
    gateway: JoinHandle<()>,
    admin: JoinHandle<()>,
}

/// Builds the runtime from `config`, binds the listeners and starts serving.
pub async fn start(config: Config) -> Result<Running, StartError> {
    let metrics = Arc::new(Metrics::new());
    let settings = config.server.clone();
    let admin_listen = config.admin_listen;
    let rate_limits = RateLimits::default();
    let runtime = Runtime::build(config, &metrics, &rate_limits, None)?;
    let bind = |what, addr| async move {
        TcpListener::bind(addr).await.map_err(|source| StartError::Bind { what, addr, source })
    };
    let listener = bind("server.listen", settings.listen).await?;
    let admin_listener = bind("admin.listen", admin_listen).await?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        what: "server.listen",
        addr: settings.listen,
        source,
    })?;
    let admin_addr = admin_listener.local_addr().map_err(|source| StartError::Bind {
        what: "admin.listen",
        addr: admin_listen,
        source,
    })?;

    let shared = Shared::new(runtime, metrics, rate_limits)?;
    let (stop, stopped) = watch::channel(false);
    let (force, forced) = watch::channel(false);
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    let context = conn::Listener {
        shared: shared.clone(),
        builder: Arc::new(http_builder()),
        stop: stopped.clone(),
        force: forced,
        evict: watch::channel(0).1,
        tls: settings.tls.is_some(),
    };
    let gateway = tokio::spawn(accept_loop(listener, context, stopped, slots.clone(), settings.max_connections));
    let admin = tokio::spawn(admin::serve(admin_listener, shared.clone()));
    shared.set_started();
    let scheme = if settings.tls.is_some() { "https" } else { "http" };
    let worker_threads = tokio::runtime::Handle::current().metrics().num_workers();
    tracing::info!(%addr, %admin_addr, scheme, worker_threads, "hsgate serving");
    Ok(Running {
        addr,
        admin_addr,
        shared,
        stop,
        force,
        slots,
        max_connections: settings.max_connections,
        gateway,
        admin,
    })
}

impl Running {
    /// Graceful stop (SPEC §7): `/readyz` turns 503, the listener stops
    /// accepting, connections finish what they are doing, and every request
    /// task gets until `shutdown_grace` to end; then the rest are ended (their
    /// response records written as they drop) and the connections closed.
    /// Last, the audit sink is flushed.
    pub async fn shutdown(self) {
        self.shared.set_stopping();
        let grace = self.shared.runtime.load().config.server.shutdown_grace;
        let deadline = tokio::time::Instant::now() + grace;
        let _ = self.stop.send(true);
        let _ = self.gateway.await;
        let all = u32::try_from(self.max_connections).unwrap_or(u32::MAX);
        let drained = async {
            let _ = self.slots.acquire_many(all).await;
            self.shared.in_flight.finished().await;
        };
        if tokio::time::timeout_at(deadline, drained).await.is_err() {
            let open = self.max_connections - self.slots.available_permits();
            let requests = self.shared.in_flight.len();
            tracing::warn!(connections = open, requests, "shutdown grace elapsed; ending what is left");
            self.shared.in_flight.end_all();
            self.shared.in_flight.finished().await;
            // The ended requests' 503s are answers like any other: connections
            // (all asked to close) get a moment to hand them over, then go.
            let closed = self.slots.acquire_many(all);
            if tokio::time::timeout(ANSWER_ENDED_WITHIN, closed).await.is_err() {
                let _ = self.force.send(true);
                let _ = self.slots.acquire_many(all).await;
            }
        }
        self.shared.flush_audit().await;
        self.admin.abort();
        tracing::info!("hsgate stopped");
    }
}

/// The HTTP/1.1 + h2c server settings every connection uses.
fn http_builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // Head and idle deadlines are the connection's own (`activity`): hyper's
    // header timer would also close idle keep-alive connections early.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEAD_FIELDS);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_LIST)
        .max_concurrent_streams(MAX_STREAMS)
        .keep_alive_interval(H2_PING_INTERVAL)
        .keep_alive_timeout(H2_PING_TIMEOUT);
    builder
}

/// Resolves once shutdown has begun, or the `Running` handle is gone.
async fn stopping(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopping| *stopping).await;
}

async fn accept_loop(
    listener: TcpListener,
    mut context: conn::Listener,
    mut stop: watch::Receiver<bool>,
    slots: Arc<Semaphore>,
    max_connections: usize,
) {
    let (evict, evicted) = watch::channel(0u64);
    context.evict = evicted;
    let mut cap_logged: Option<Instant> = None;
    'accept: loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                // Under a flood the cap is hit once per freed slot: say so now and then, not every time.
                if cap_logged.is_none_or(|at| at.elapsed() >= CAP_LOG_EVERY) {
                    cap_logged = Some(Instant::now());
                    tracing::warn!(limit = max_connections, "connection cap reached; closing idle connections");
                }
                // Ask idle connections to make room, again now and then for those that turn idle later.
                loop {
                    evict.send_modify(|n| *n = n.wrapping_add(1));
                    tokio::select! {
                        slot = slots.clone().acquire_owned() => match slot {
                            Ok(slot) => break slot,
                            Err(_) => break 'accept,
                        },
                        () = stopping(&mut stop) => break 'accept,
                        () = tokio::time::sleep(EVICT_EVERY) => {}
                    }
                }
            }
        };
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    // An IPv4 client of a dual-stack listener reads as 1.2.3.4:5, not [::ffff:1.2.3.4]:5.
                    let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(conn::serve(stream, peer, context.clone(), slot));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = stopping(&mut stop) => break,
        }
    }
}
