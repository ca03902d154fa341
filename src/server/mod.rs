//! Listeners and lifecycle: bind both listeners, serve each connection in
//! its own task (HTTP/1.1 and h2c), each request in its own task so that a
//! caller hanging up cannot cut a forwarded request short of its audit
//! record, and drain gracefully on shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

use crate::config::{Config, ServerSettings};
use crate::error::GatewayError;
use crate::metrics::Metrics;
use crate::state::{Runtime, RuntimeError, Shared};
use crate::{admin, gateway};

/// Open connections at most; further clients wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 4096;
/// Largest request head hyper buffers (SPEC: headers up to 32 KiB are accepted).
const MAX_HEAD_BYTES: usize = 64 * 1024;
const MAX_HEADER_LIST: u32 = 48 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind { what: &'static str, addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

/// A started gateway: both listeners bound and serving.
pub struct Running {
    pub addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    gateway: JoinHandle<()>,
    admin: JoinHandle<()>,
}

/// Builds the runtime from `config`, binds the listeners and starts serving.
pub async fn start(config: Config) -> Result<Running, StartError> {
    let metrics = Arc::new(Metrics::new());
    let settings = config.server.clone();
    let admin_listen = config.admin_listen;
    let runtime = Runtime::build(config, &metrics)?;
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

    let shared = Shared::new(runtime, metrics);
    let (stop, stopped) = watch::channel(false);
    let gateway = tokio::spawn(accept_loop(listener, shared.clone(), stopped, settings));
    let admin = tokio::spawn(admin::serve(admin_listener, shared.clone()));
    shared.ready.store(true, Ordering::SeqCst);
    tracing::info!(%addr, %admin_addr, "hsgate serving");
    Ok(Running { addr, admin_addr, shared, stop, gateway, admin })
}

impl Running {
    /// Graceful stop: not ready, no new connections, in-flight requests
    /// finish within `shutdown_grace`, the audit queue is flushed.
    pub async fn shutdown(self) {
        self.shared.ready.store(false, Ordering::SeqCst);
        let _ = self.stop.send(true);
        let _ = self.gateway.await;
        self.shared.runtime.load().audit.flush().await;
        self.admin.abort();
        tracing::info!("hsgate stopped");
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    settings: ServerSettings,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .max_buf_size(MAX_HEAD_BYTES);
    builder.http2().timer(TokioTimer::new()).max_header_list_size(MAX_HEADER_LIST).max_concurrent_streams(128);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else { break };
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    // An IPv4 client of a dual-stack listener reads as 1.2.3.4:5, not [::ffff:1.2.3.4]:5.
                    let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
                    let _ = stream.set_nodelay(true);
                    let shared = shared.clone();
                    let service = service_fn(move |req| {
                        let task = tokio::spawn(gateway::handle(shared.clone(), req, peer));
                        async move {
                            Ok::<_, Infallible>(task.await.unwrap_or_else(|_| {
                                gateway::error_response(&GatewayError::Internal, "internal")
                            }))
                        }
                    });
                    let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service).into_owned());
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!(error = %e, %peer, "connection ended with an error");
                        }
                        drop(permit);
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    let open = graceful.count();
    if tokio::time::timeout(settings.shutdown_grace, graceful.shutdown()).await.is_err() {
        tracing::warn!(connections = open, "shutdown grace elapsed; remaining connections closed");
    }
}
