//! Built-in simulator of the HostedSuite call-center API (a ServiceStack service) served over TLS.
//!
//! Used by `hsgate demo`, `hsgate simulate` and integration tests as an in-process upstream.

mod binding;
pub mod cli;
mod data;
pub mod pki;
mod response;
mod service;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

pub use pki::TestPki;

/// How many requests [`Simulator::requests`] remembers.
const MAX_SEEN: usize = 1000;
/// Give up on a TLS handshake (or a request head) after this long.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A HostedSuite login the simulator accepts.
#[derive(Debug, Clone)]
pub struct Account {
    pub customer_name: String,
    pub user_name: String,
    pub password: secrecy::SecretString,
}

/// Simulator settings.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub accounts: Vec<Account>,
    /// Status of a refused login (default 500, like HostedSuite).
    pub refusal_status: u16,
    /// `ResponseStatus.ErrorCode` of a refused login (default `SecurityException`).
    pub refusal_code: String,
    /// Delay before answering Id `fault-slow` (default 3 s).
    pub slow: Duration,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            accounts: Vec::new(),
            refusal_status: 500,
            refusal_code: "SecurityException".to_owned(),
            slow: Duration::from_secs(3),
        }
    }
}

/// One API request the simulator received, with what it answered.
///
/// `status` is 0 (and `response` empty) when the connection was dropped without an answer.
#[derive(Clone, Debug)]
pub struct SeenRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub status: u16,
    pub response: Bytes,
}

/// Errors of the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("certificate generation failed: {0}")]
    Cert(#[from] rcgen::Error),
    #[error("TLS configuration failed: {0}")]
    Tls(#[from] rustls::Error),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("{context}: {source}")]
    IoAt { context: String, source: std::io::Error },
    #[error("{0}")]
    Config(String),
}

/// State shared by the handle and the connection tasks.
struct Shared {
    accounts: Vec<Account>,
    slow: Duration,
    refusal: Mutex<(u16, String)>,
    records: Mutex<Vec<data::CallRecord>>,
    seen: Mutex<VecDeque<SeenRequest>>,
    connections: AtomicUsize,
}

/// Lock a mutex, ignoring poisoning (the data stays usable for a simulator).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    fn record(&self, seen: SeenRequest) {
        let mut q = lock(&self.seen);
        while q.len() >= MAX_SEEN {
            q.pop_front();
        }
        q.push_back(seen);
    }
}

/// A running simulator. Stops accepting (and drops open connections) on
/// [`Simulator::shutdown`] or drop.
pub struct Simulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Simulator {
    /// Serve on an already-bound listener with TLS. Spawns a tokio task; returns at once.
    pub fn start(
        listener: TcpListener,
        tls: Arc<rustls::ServerConfig>,
        options: SimOptions,
    ) -> Result<Simulator, SimError> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| SimError::Config("Simulator::start must be called inside a tokio runtime".into()))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            accounts: options.accounts,
            slow: options.slow,
            refusal: Mutex::new((options.refusal_status, options.refusal_code)),
            records: Mutex::new(data::initial_records()),
            seen: Mutex::new(VecDeque::new()),
            connections: AtomicUsize::new(0),
        });
        let (stop, stopped) = watch::channel(false);
        let acceptor = TlsAcceptor::from(tls);
        runtime.spawn(accept_loop(listener, acceptor, Arc::clone(&shared), stopped));
        tracing::debug!(%addr, "HostedSuite simulator started");
        Ok(Simulator { addr, shared, stop })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://localhost:PORT`.
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    /// Every API request received (the last 1000), oldest first.
    pub fn requests(&self) -> Vec<SeenRequest> {
        lock(&self.shared.seen).iter().cloned().collect()
    }

    /// Forget the recorded requests.
    pub fn clear(&self) {
        lock(&self.shared.seen).clear();
    }

    /// Change how refused logins are answered (status and `ErrorCode`).
    pub fn set_refusal(&self, status: u16, code: &str) {
        *lock(&self.shared.refusal) = (status, code.to_owned());
    }

    /// Accepted TCP connections so far (whether or not the TLS handshake succeeded).
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Stop accepting connections and close open ones (also happens on drop).
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            _ = stopped.wait_for(|s| *s) => break,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((tcp, peer)) => {
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let conn = serve_connection(tcp, acceptor.clone(), Arc::clone(&shared));
                let mut stopped = stopped.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = stopped.wait_for(|s| *s) => {}
                        () = conn => {}
                    }
                    tracing::debug!(%peer, "simulator connection closed");
                });
            }
            Err(e) => {
                tracing::debug!(error = %e, "simulator accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    tracing::debug!("HostedSuite simulator stopped accepting");
}

async fn serve_connection(tcp: TcpStream, acceptor: TlsAcceptor, shared: Arc<Shared>) {
    let _ = tcp.set_nodelay(true);
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "simulator TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!("simulator TLS handshake timed out");
            return;
        }
    };
    let svc = hyper::service::service_fn(move |req| {
        let shared = Arc::clone(&shared);
        async move { service::handle(&shared, req).await }
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http1().keep_alive(true).timer(TokioTimer::new()).header_read_timeout(HANDSHAKE_TIMEOUT);
    if let Err(e) = builder.serve_connection(TokioIo::new(tls), svc).await {
        tracing::debug!(error = %e, "simulator connection error");
    }
}
