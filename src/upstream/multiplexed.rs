//! HTTP/2 to one HostedSuite host, spoken with the `h2` crate directly: one
//! multiplexed connection per host, opened on first use and again after it
//! closes, and each request's HEADERS and DATA handed to it together, so
//! they leave in one write and the host wakes once per request.
//!
//! hyper's own HTTP/2 client (behind hyper-util's pool) passes every request
//! through a channel to the connection task and starts two more tasks per
//! request (the answer's and the body's), and its body waits for flow-control
//! capacity the stream only gets once its HEADERS are out: two writes per
//! request, the host woken twice. Here the request task sends both frames
//! itself and reads the answer itself.
//!
//! A host whose TLS handshake does not choose `h2` (ALPN) answers HTTP/1.1:
//! the connection goes to the HTTP/1.1 pool ([`super::handoff`]), and so do
//! the host's requests for [`H1_RECHECK`]; then it is asked again. A
//! connection unused for [`POOL_IDLE_TIMEOUT`] is replaced, as the HTTP/1.1
//! pool closes its own.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use bytes::{Bytes, BytesMut};
use h2::client::SendRequest;
use hyper::{Request, Uri};
use hyper_util::client::legacy::connect::Connection as _;
use hyper_util::rt::TokioIo;
use tokio::time::Instant;
use tower_service::Service as _;

use super::handoff::Handoff;
use super::{chain, TooLarge, UpstreamAnswer, UpstreamError, MAX_UPSTREAM_BODY, POOL_IDLE_TIMEOUT};

/// How long a host that answered HTTP/1.1 is not asked for `h2` again.
pub const H1_RECHECK: Duration = Duration::from_secs(300);

/// The HTTP/2 settings of an upstream connection (hyper's client defaults,
/// with the answer's header list bounded as an HTTP/1.1 head is).
const STREAM_WINDOW: u32 = 2 * 1024 * 1024;
const CONNECTION_WINDOW: u32 = 5 * 1024 * 1024;
const MAX_HEADER_LIST: u32 = 16 * 1024;
const MAX_SEND_BUFFER: usize = 1024 * 1024;
/// Streams opened before the host's SETTINGS say how many it takes.
const INITIAL_MAX_STREAMS: usize = 100;

/// One host's HTTP/2 connection, shared by every request to it.
pub struct Host {
    /// `scheme://authority/`: what the connector is asked to reach.
    origin: Uri,
    /// The connection in use, if one is open.
    current: ArcSwapOption<Conn>,
    /// Held while a connection is opened, so concurrent requests open one,
    /// not many; holds why the last attempt failed.
    opening: tokio::sync::Mutex<String>,
    /// Attempts to open a connection that failed so far.
    failures: AtomicU64,
    /// Times below are milliseconds since this (atomics hold no `Instant`).
    epoch: Instant,
    /// Until when the host counts as HTTP/1.1-only (0: it does not).
    h1_until: AtomicU64,
    /// Connections opened so far.
    opened: AtomicU64,
}

struct Conn {
    /// Tells this connection from the host's earlier and later ones.
    id: u64,
    send: SendRequest<Bytes>,
    health: Health,
    /// For asking the host whether the connection still works (one asks at a time).
    ping: tokio::sync::Mutex<Option<h2::PingPong>>,
}

/// Whether a connection may take another request.
struct Health {
    /// Set when the connection's task has ended (closed, failed, or told to go away).
    closed: Arc<AtomicBool>,
    /// When a request last started on it.
    last_used: AtomicU64,
}

impl Health {
    fn usable(&self, now: u64) -> bool {
        let idle = now.saturating_sub(self.last_used.load(Ordering::Relaxed));
        !self.closed.load(Ordering::Acquire) && u128::from(idle) < POOL_IDLE_TIMEOUT.as_millis()
    }
}

/// How a request to a host goes.
pub enum Sender {
    /// A handle on the open connection, and which connection it is.
    H2(SendRequest<Bytes>, u64),
    /// The host answers HTTP/1.1: use the HTTP/1.1 pool.
    Http1,
}

impl Host {
    pub fn new(origin: Uri) -> Host {
        Host {
            origin,
            current: ArcSwapOption::empty(),
            opening: tokio::sync::Mutex::new(String::new()),
            failures: AtomicU64::new(0),
            epoch: Instant::now(),
            h1_until: AtomicU64::new(0),
            opened: AtomicU64::new(0),
        }
    }

    /// A handle on the open connection, opening one first if there is none.
    pub async fn sender(&self, connector: &Handoff) -> Result<Sender, UpstreamError> {
        if let Some(sender) = self.open_one() {
            return Ok(sender);
        }
        let failures = self.failures.load(Ordering::Acquire);
        let mut last_failure = self.opening.lock().await;
        // Another request may have opened it (or found HTTP/1.1) meanwhile.
        if let Some(sender) = self.open_one() {
            return Ok(sender);
        }
        // Or failed to, while this one waited: the same answer, at once.
        if self.failures.load(Ordering::Acquire) != failures {
            return Err(UpstreamError::Unavailable(last_failure.clone()));
        }
        let opened = self.open(connector).await;
        if let Err(UpstreamError::Unavailable(why) | UpstreamError::BadResponse(why)) = &opened {
            last_failure.clone_from(why);
            self.failures.fetch_add(1, Ordering::Release);
        }
        opened
    }

    /// Dials the host and, if its handshake chose `h2`, starts a connection.
    async fn open(&self, connector: &Handoff) -> Result<Sender, UpstreamError> {
        let dial = connector.dialer().clone().call(self.origin.clone());
        let io = dial.await.map_err(|e| UpstreamError::Unavailable(chain(&*e)))?;
        if !io.connected().is_negotiated_h2() {
            self.mark_http1();
            connector.park(&self.origin, io);
            return Ok(Sender::Http1);
        }
        let (send, mut connection) = h2::client::Builder::new()
            .initial_max_send_streams(INITIAL_MAX_STREAMS)
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .max_header_list_size(MAX_HEADER_LIST)
            .max_send_buffer_size(MAX_SEND_BUFFER)
            .enable_push(false)
            .handshake::<_, Bytes>(TokioIo::new(io))
            .await
            .map_err(|e| UpstreamError::Unavailable(chain(&e)))?;
        let ping = tokio::sync::Mutex::new(connection.ping_pong());
        let closed = Arc::new(AtomicBool::new(false));
        let ended = ClosedOnDrop(closed.clone());
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "upstream HTTP/2 connection ended");
            }
            drop(ended);
        });
        let id = self.opened.fetch_add(1, Ordering::Relaxed);
        let health = Health { closed, last_used: AtomicU64::new(self.now()) };
        self.current.store(Some(Arc::new(Conn { id, send: send.clone(), health, ping })));
        Ok(Sender::H2(send, id))
    }

    /// A request on the connection in use went unanswered: if the host does
    /// not answer a PING within `wait` either, the connection is dead (a
    /// firewall may have dropped it silently) and is replaced. A slow host
    /// that answers keeps it.
    pub fn suspect(&self, wait: Duration) {
        let Some(conn) = self.current.load_full() else { return };
        tokio::spawn(async move {
            // One look at a time: others find it under way.
            let Ok(mut ping) = conn.ping.try_lock() else { return };
            let Some(ping) = ping.as_mut() else { return };
            if ping.send_ping(h2::Ping::opaque()).is_err() {
                return; // The connection is gone already.
            }
            let pong = std::future::poll_fn(|cx| ping.poll_pong(cx));
            match tokio::time::timeout(wait, pong).await {
                Ok(Ok(_)) => {} // Alive: the host is only slow.
                Ok(Err(_)) | Err(_) => {
                    tracing::warn!("upstream HTTP/2 connection did not answer a PING; replacing it");
                    conn.health.closed.store(true, Ordering::Release);
                }
            }
        });
    }

    /// Drops connection `id` from use (it did not take a request).
    pub fn retire(&self, id: u64) {
        // Only that connection: a later one may already be in use.
        self.current.rcu(|current| match current {
            Some(c) if c.id == id => None,
            other => other.clone(),
        });
    }

    /// The open connection if it may take a request, or `Http1` while the
    /// host counts as HTTP/1.1-only; `None`: a connection must be opened.
    fn open_one(&self) -> Option<Sender> {
        let now = self.now();
        let current = self.current.load();
        if let Some(conn) = current.as_ref() {
            if conn.health.usable(now) {
                conn.health.last_used.store(now, Ordering::Relaxed);
                return Some(Sender::H2(conn.send.clone(), conn.id));
            }
        }
        let h1_until = self.h1_until.load(Ordering::Relaxed);
        (now < h1_until).then_some(Sender::Http1)
    }

    /// The host answered HTTP/1.1: so it counts for [`H1_RECHECK`].
    fn mark_http1(&self) {
        let until = self.now().saturating_add(u64::try_from(H1_RECHECK.as_millis()).unwrap_or(u64::MAX));
        self.h1_until.store(until, Ordering::Relaxed);
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// A request the host did not take, so nothing of it was acted on and it
/// may go again on another connection: the connection could not open a
/// stream, or the host refused the stream (`REFUSED_STREAM`, or a GOAWAY
/// whose last stream is below it; RFC 9113 §8.7).
pub struct NotTaken(pub h2::Error);

/// Sends `request` with its whole `body` on `send` and reads the answer.
pub async fn exchange(
    mut send: SendRequest<Bytes>,
    request: Request<()>,
    body: Bytes,
) -> Result<Result<UpstreamAnswer, UpstreamError>, NotTaken> {
    let (answer, mut stream) = send.send_request(request, false).map_err(NotTaken)?;
    // Queued behind the HEADERS: the connection writes both at once.
    if let Err(e) = stream.send_data(body, true) {
        return Ok(Err(UpstreamError::Unavailable(chain(&e))));
    }
    let response = match answer.await {
        Ok(response) => response,
        Err(e) if not_taken(&e) => return Err(NotTaken(e)),
        Err(e) => return Ok(Err(stream_error(&e))),
    };
    Ok(read(response).await)
}

/// Whether the host said it did not act on the stream.
fn not_taken(e: &h2::Error) -> bool {
    let refused = e.is_reset() && e.reason() == Some(h2::Reason::REFUSED_STREAM);
    e.is_remote() && (e.is_go_away() || refused)
}

/// A stream error: an answer h2 refused to read (a bad `:status`, a head
/// over the bound, a body that does not match its `content-length`) is a
/// bad answer, as it is over HTTP/1.1; anything else, a failed connection.
fn stream_error(e: &h2::Error) -> UpstreamError {
    if e.is_reset() && e.is_library() && e.reason() == Some(h2::Reason::PROTOCOL_ERROR) {
        UpstreamError::BadResponse(chain(e))
    } else {
        UpstreamError::Unavailable(chain(e))
    }
}

/// Marks the connection closed when its task ends, however it ends.
struct ClosedOnDrop(Arc<AtomicBool>);

impl Drop for ClosedOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// The answer's head and its body, up to [`MAX_UPSTREAM_BODY`].
async fn read(response: hyper::Response<h2::RecvStream>) -> Result<UpstreamAnswer, UpstreamError> {
    let (parts, mut body) = response.into_parts();
    let content_type = parts.headers.get(hyper::header::CONTENT_TYPE).cloned();
    let mut joined = Joined::default();
    let mut whole = Ok(());
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(|e| stream_error(&e))?;
        let _ = body.flow_control().release_capacity(chunk.len());
        whole = joined.push(chunk, MAX_UPSTREAM_BODY);
        if whole.is_err() {
            // Dropping the stream resets it: the rest is not read.
            break;
        }
    }
    let body = whole.map(|()| joined.into_bytes());
    Ok(UpstreamAnswer { status: parts.status, content_type, body })
}

/// An answer's DATA frames joined, up to a bound. One frame (the usual
/// answer) is kept as it came, without a copy.
#[derive(Default)]
struct Joined {
    first: Bytes,
    rest: Option<BytesMut>,
}

impl Joined {
    fn len(&self) -> usize {
        self.rest.as_ref().map_or(self.first.len(), BytesMut::len)
    }

    fn push(&mut self, chunk: Bytes, bound: usize) -> Result<(), TooLarge> {
        if self.len() + chunk.len() > bound {
            return Err(TooLarge);
        }
        match &mut self.rest {
            Some(rest) => rest.extend_from_slice(&chunk),
            None if self.first.is_empty() => self.first = chunk,
            None => {
                let mut rest = BytesMut::from(&self.first[..]);
                rest.extend_from_slice(&chunk);
                self.rest = Some(rest);
            }
        }
        Ok(())
    }

    fn into_bytes(self) -> Bytes {
        self.rest.map_or(self.first, BytesMut::freeze)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(closed: bool, last_used: u64) -> Health {
        Health { closed: Arc::new(AtomicBool::new(closed)), last_used: AtomicU64::new(last_used) }
    }

    #[test]
    fn a_connection_is_usable_until_it_closes_or_idles_for_the_timeout() {
        let idle = u64::try_from(POOL_IDLE_TIMEOUT.as_millis()).unwrap_or(u64::MAX);
        assert!(health(false, 1_000).usable(1_000));
        assert!(health(false, 1_000).usable(1_000 + idle - 1));
        assert!(!health(false, 1_000).usable(1_000 + idle), "idle for the whole timeout");
        assert!(!health(true, 1_000).usable(1_000), "its task ended");
        // A clock read before another request's stamp is not "idle".
        assert!(health(false, 2_000).usable(1_999));
    }

    #[test]
    fn frames_are_joined_in_order_and_one_frame_is_not_copied() {
        let one = Bytes::from_static(b"{\"Id\":1}");
        let mut joined = Joined::default();
        assert!(joined.push(one.clone(), 64).is_ok());
        let kept = joined.into_bytes();
        assert_eq!(kept.as_ptr(), one.as_ptr(), "the one frame, not a copy");

        let mut joined = Joined::default();
        for part in ["{\"Id\"", ":", "", "1}"] {
            assert!(joined.push(Bytes::from_static(part.as_bytes()), 64).is_ok());
        }
        assert_eq!(joined.into_bytes(), "{\"Id\":1}");
    }

    #[test]
    fn an_answer_over_the_bound_is_too_large() {
        let mut joined = Joined::default();
        assert!(joined.push(Bytes::from_static(b"12345"), 8).is_ok());
        assert!(joined.push(Bytes::from_static(b"678"), 8).is_ok(), "exactly the bound");
        assert_eq!(joined.push(Bytes::from_static(b"9"), 8), Err(TooLarge));
    }

    #[tokio::test(start_paused = true)]
    async fn an_http1_only_host_is_asked_for_h2_again_after_the_recheck_interval() {
        let host = Host::new(Uri::from_static("https://hs.example/"));
        assert!(host.open_one().is_none(), "nothing known: open a connection");
        host.mark_http1();
        assert!(matches!(host.open_one(), Some(Sender::Http1)));
        tokio::time::advance(H1_RECHECK - Duration::from_millis(1)).await;
        assert!(matches!(host.open_one(), Some(Sender::Http1)));
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(host.open_one().is_none(), "asked again");
    }
}
