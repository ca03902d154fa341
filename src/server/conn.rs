//! One client connection: HTTP/1.1 or h2c over a watched socket, each
//! request in its own task (so a caller hanging up cannot cut a forwarded
//! request short of its audit record), and every connection state under a
//! deadline ([`super::activity`]).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpStream;
use tokio::sync::{watch, OwnedSemaphorePermit};
use tokio::task::JoinError;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_util::task::AbortOnDropHandle;

use super::activity::{Activity, Expiry, Limits};
use super::body::TrackedBody;
use super::io::WatchedIo;
use crate::error::GatewayError;
use crate::gateway::{self, Caller};
use crate::state::Shared;

/// How long an idle connection asked to close (HTTP/2 GOAWAY) may take to do so.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// What every connection of a listener shares.
#[derive(Clone)]
pub struct Listener {
    pub shared: Arc<Shared>,
    pub builder: Arc<auto::Builder<TokioExecutor>>,
    /// `true` once shutdown begins: finish in-flight requests, take no new ones.
    pub stop: watch::Receiver<bool>,
    /// `true` once the shutdown grace has run out: close now.
    pub force: watch::Receiver<bool>,
    /// Bumped when the listener is at its connection cap: idle connections close.
    pub evict: watch::Receiver<u64>,
    /// The listener serves HTTPS (fixed at start; certificates reload).
    pub tls: bool,
}

/// Serves one accepted connection until it ends; `_slot` is its place under the cap.
pub async fn serve(stream: TcpStream, peer: SocketAddr, listener: Listener, _slot: OwnedSemaphorePermit) {
    let activity = Activity::new(Instant::now());
    let limits = limits(&listener.shared);
    let watched = WatchedIo::new(stream, activity.clone());
    if !listener.tls {
        let caller = Caller::new(peer, None);
        return drive(TokioIo::new(watched), caller, &activity, limits, &listener).await;
    }
    let expired = activity.expired(limits, listener.evict.clone());
    tokio::pin!(expired);
    let Some(config) = listener.shared.listener_tls.load_full() else { return };
    // The handshake is part of the first request's head: same deadline.
    let handshake = TlsAcceptor::from(config).accept(watched);
    let tls = tokio::select! {
        done = handshake => match done {
            Ok(tls) => tls,
            Err(e) => {
                tracing::debug!(error = %e, %peer, "TLS handshake failed");
                return;
            }
        },
        why = &mut expired => {
            tracing::debug!(%peer, reason = why.reason(), "closing connection during the TLS handshake");
            listener.shared.metrics.connection_closed(why.label());
            return;
        }
        () = signalled(listener.force.clone()) => return,
    };
    let client_cert = tls.get_ref().1.peer_certificates().and_then(|chain| chain.first()).and_then(|c| subject(c));
    let caller = Caller::new(peer, client_cert);
    drive(TokioIo::new(tls), caller, &activity, limits, &listener).await;
}

/// The subject of a client certificate as x509-parser writes it: attributes
/// in certificate order, `, `-separated (`CN=svc-notes, O=Acme`).
fn subject(cert: &[u8]) -> Option<Arc<str>> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert).ok()?;
    Some(Arc::from(parsed.subject().to_string()))
}

/// HTTP/1.1 or h2 over `io` until the connection ends or a deadline passes.
async fn drive<I>(io: I, caller: Caller, activity: &Arc<Activity>, limits: Limits, listener: &Listener)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let peer = caller.peer;
    let shared = listener.shared.clone();
    let watched = activity.clone();
    let service = service_fn(move |req: Request<Incoming>| {
        let guard = watched.request(req.version() == Version::HTTP_2);
        let request_id = gateway::request_id(req.headers());
        // Kept for the count of a request whose task ends without its answer.
        let (uri, started) = (req.uri().clone(), Instant::now());
        // Boxed: the request's state is large, and a task moves its future around.
        let handling = Box::pin(gateway::handle(shared.clone(), req, caller.clone(), request_id.clone()));
        let task = shared.in_flight.spawn(handling);
        let shared = shared.clone();
        async move {
            let response = answer_of(task.await, &request_id, |status| {
                gateway::count_unanswered(&shared, uri.path(), status, started.elapsed());
            });
            let guard = guard.answered(Instant::now());
            Ok::<_, Infallible>(response.map(|body| TrackedBody::new(body, guard)))
        }
    });
    let conn = listener.builder.serve_connection(io, service);
    tokio::pin!(conn);
    let spawn_watcher = |closing, close_by| {
        // Only what comes after this moment counts: a bump made before it was
        // for connections that were idle then.
        let mut evict = listener.evict.clone();
        evict.mark_unchanged();
        let signals = Signals { evict, stop: listener.stop.clone(), force: listener.force.clone() };
        AbortOnDropHandle::new(tokio::spawn(next_event(activity.clone(), limits, signals, closing, close_by)))
    };
    let mut watching = spawn_watcher(false, None);
    let mut closing = false;
    let mut close_by: Option<Instant> = None;
    loop {
        tokio::select! {
            ended = conn.as_mut() => {
                if let Err(e) = ended {
                    tracing::debug!(error = %e, %peer, "connection ended with an error");
                }
                return;
            }
            event = &mut watching => {
                // A watcher that panicked, or was cancelled by the runtime's
                // shutdown, leaves the connection without deadlines: close it.
                let Ok(event) = event else { return };
                match event {
                    Event::Expired(why) => {
                        tracing::debug!(%peer, reason = why.reason(), "closing connection");
                        listener.shared.metrics.connection_closed(why.label());
                        match why {
                            // Nothing in progress: say goodbye (HTTP/2 GOAWAY), briefly.
                            Expiry::Idle | Expiry::Evicted => {
                                if !closing {
                                    closing = true;
                                    conn.as_mut().graceful_shutdown();
                                }
                                close_by = Some(Instant::now() + CLOSE_GRACE);
                            }
                            // A client that does not send or does not read gets no goodbye.
                            Expiry::NoRequest | Expiry::SlowHead | Expiry::SlowRead => return,
                        }
                    }
                    Event::Stopping => {
                        closing = true;
                        conn.as_mut().graceful_shutdown();
                    }
                    Event::Forced => return,
                    Event::GraceOver => {
                        if activity.is_idle() {
                            return;
                        }
                        // A request arrived before the client saw the goodbye: it runs
                        // to its end under the usual deadlines, then the connection closes.
                        close_by = None;
                    }
                }
                watching = spawn_watcher(closing, close_by);
            }
        }
    }
}

/// The listener's signals one connection watches.
struct Signals {
    evict: watch::Receiver<u64>,
    stop: watch::Receiver<bool>,
    force: watch::Receiver<bool>,
}

/// What ends a connection, or changes how it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    /// A deadline passed, or the listener evicts idle connections.
    Expired(Expiry),
    /// Shutdown began: finish what is in progress, take nothing new.
    Stopping,
    /// The shutdown grace ran out.
    Forced,
    /// The goodbye's grace ran out.
    GraceOver,
}

/// The connection's next event, given what it is doing: `closing` once it
/// said goodbye, `close_by` while it waits for the client to go.
///
/// It runs in a task of its own. A connection's task is polled several
/// times per request, and `tokio::select!` polls every branch each time: a
/// timer and three watch channels, ~3% of a request's instructions, for
/// events that come once in a connection's life. Awaiting this task costs
/// one look at its state.
async fn next_event(
    activity: Arc<Activity>,
    limits: Limits,
    signals: Signals,
    closing: bool,
    close_by: Option<Instant>,
) -> Event {
    let Signals { evict, stop, force } = signals;
    tokio::select! {
        why = activity.expired(limits, evict), if close_by.is_none() => Event::Expired(why),
        () = signalled(stop), if !closing => Event::Stopping,
        () = signalled(force) => Event::Forced,
        () = sleep_until_opt(close_by) => Event::GraceOver,
    }
}

/// The request task's answer; if it panicked, a 500 carrying the request id
/// its audit record carries. An answer made here is given to `count`.
fn answer_of(
    joined: Result<Option<gateway::GatewayResponse>, JoinError>,
    request_id: &str,
    count: impl FnOnce(u16),
) -> gateway::GatewayResponse {
    // The task's own log line and count did not happen: these answers get theirs here.
    let error = match joined {
        Ok(Some(response)) => return response,
        // Ended by shutdown after the grace: the connection is being closed too.
        Ok(None) => GatewayError::ShuttingDown,
        Err(_) => GatewayError::Internal,
    };
    let answer = error.answer();
    let status = answer.status.as_u16();
    tracing::warn!(request_id, status, error_code = answer.code, "request ended before its answer");
    count(status);
    gateway::error_response(answer, request_id)
}

/// The connection deadlines of the config in force when the connection was accepted.
fn limits(shared: &Shared) -> Limits {
    let runtime = shared.runtime.load();
    let server = &runtime.config.server;
    Limits {
        header_read_timeout: server.header_read_timeout,
        idle_timeout: server.idle_timeout,
        write_timeout: server.write_timeout,
    }
}

/// Resolves once `rx` holds `true` (at once if it already does), or its sender is gone.
async fn signalled(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|v| *v).await;
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_request_task_answers_500_with_its_request_id() {
        let joined = tokio::spawn(async { panic!("handler bug") }).await;
        let joined: Result<Option<gateway::GatewayResponse>, JoinError> = joined.map(Some);
        let response = answer_of(joined, "rid-of-the-request", |_| {});
        assert_eq!(response.status(), 500);
        assert_eq!(response.headers()["x-request-id"], "rid-of-the-request");
    }
}
