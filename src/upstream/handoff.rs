//! The HTTP/1.1 pool's connector. It dials as [`Connector`] does, except
//! that a connection [`super::multiplexed`] opened, only to learn from its
//! TLS handshake that the host speaks HTTP/1.1, is handed to the pool
//! instead of being closed: learning the protocol costs the host no extra
//! handshake.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::http::uri::{Authority, Scheme};
use hyper::Uri;
use tokio::time::Instant;
use tower_service::Service;

use crate::tls_client::Connector;

/// A connection the connector makes.
pub type Stream = <Connector as Service<Uri>>::Response;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A host: the scheme and authority of its URIs.
pub type HostKey = (Scheme, Authority);

/// A handed-over connection not taken within this is closed instead.
const KEPT_FOR: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct Handoff {
    dial: Connector,
    /// At most one connection per host (scheme and authority), waiting for
    /// the pool's next dial there.
    parked: Arc<Mutex<HashMap<HostKey, (Stream, Instant)>>>,
}

impl Handoff {
    pub fn new(dial: Connector) -> Handoff {
        Handoff { dial, parked: Arc::default() }
    }

    /// The plain connector, which dials every time.
    pub fn dialer(&self) -> &Connector {
        &self.dial
    }

    /// Keeps `stream` to `origin` for the pool's next connection there
    /// (closing any kept too long, to this host or another).
    pub fn park(&self, origin: &Uri, stream: Stream) {
        let Some(host) = host_of(origin) else { return };
        let mut parked = self.parked.lock().unwrap_or_else(PoisonError::into_inner);
        parked.retain(|_, (_, at)| at.elapsed() < KEPT_FOR);
        parked.insert(host, (stream, Instant::now()));
    }

    fn take(&self, uri: &Uri) -> Option<Stream> {
        let host = host_of(uri)?;
        let mut parked = self.parked.lock().unwrap_or_else(PoisonError::into_inner);
        let (stream, at) = parked.remove(&host)?;
        (at.elapsed() < KEPT_FOR).then_some(stream)
    }
}

/// The host `uri` names; `None` without a scheme or an authority.
pub fn host_of(uri: &Uri) -> Option<HostKey> {
    Some((uri.scheme()?.clone(), uri.authority()?.clone()))
}

impl Service<Uri> for Handoff {
    type Response = Stream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Stream, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.dial.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        match self.take(&uri) {
            Some(stream) => Box::pin(std::future::ready(Ok(stream))),
            None => Box::pin(self.dial.call(uri)),
        }
    }
}
