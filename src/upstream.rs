//! The HostedSuite client, built when the config is loaded and shared by
//! every request: one multiplexed HTTP/2 connection per host
//! (`upstream/multiplexed.rs`) where the host offers `h2`, else ONE pooled hyper-util
//! HTTP/1.1 client over rustls. TLS is always verified against the
//! configured roots (or the built-in web roots). A request is written at
//! most once, unless the host provably did not take it: a connection that
//! closed before any byte of it was written, or (HTTP/2) a stream the host
//! refused or left above its GOAWAY's last stream.

mod handoff;
mod multiplexed;

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderName, HeaderValue, ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, USER_AGENT};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::time::Instant;

use crate::config::UpstreamSettings;
use crate::tls_client::{self, Http2, Plaintext};
use handoff::{Handoff, HostKey};
use multiplexed::{Host, NotTaken, Sender};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Largest HostedSuite answer the gateway reads (a CallRecordInfo is a few KiB).
pub const MAX_UPSTREAM_BODY: usize = 4 * 1024 * 1024;

/// A connection unused this long is closed (HTTP/1.1) or replaced (HTTP/2)
/// rather than used again: a firewall may have dropped it silently.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The request id header: the caller's (when well-formed) or the gateway's, sent on upstream.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The W3C trace context header: recorded from the caller, sent upstream only when configured.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The `User-Agent` sent upstream.
pub const USER_AGENT_VALUE: &str = concat!("hsgate/", env!("CARGO_PKG_VERSION"));

/// HostedSuite's answer, fully read.
#[derive(Debug)]
pub struct UpstreamAnswer {
    pub status: StatusCode,
    pub content_type: Option<HeaderValue>,
    /// The body, unless it was larger than [`MAX_UPSTREAM_BODY`] (the status
    /// still tells whether the login was refused).
    pub body: Result<Bytes, TooLarge>,
}

/// An upstream body over [`MAX_UPSTREAM_BODY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// Connect, TLS or reset; the detail is for logs only.
    #[error("upstream unavailable: {0}")]
    Unavailable(String),
    #[error("upstream did not answer in time")]
    Timeout,
    /// An answer hyper could not parse (status line, head); the detail is for logs only.
    #[error("upstream answer malformed: {0}")]
    BadResponse(String),
}

pub use crate::tls_client::BuildError;

/// The HostedSuite client. Built from the upstream's TLS settings only, so a
/// reload that keeps them keeps the pool warm; timeouts come per request
/// from the config in force.
pub struct Upstream {
    /// HTTP/1.1, to the hosts [`multiplexed`] finds speak only that (and to
    /// every host with `upstream.http2 = "never"`).
    client: Client<Handoff, Full<Bytes>>,
    /// What both open their connections with.
    connector: Handoff,
    /// What it was built from.
    pub key: UpstreamKey,
    /// Per host (scheme and authority) of any config this client served
    /// (shared by all its targets).
    per_host: std::sync::Mutex<std::collections::HashMap<HostKey, PerHost>>,
}

/// What the requests to one host share.
#[derive(Clone)]
struct PerHost {
    /// Requests in progress (`upstream.max_connections`).
    slots: Arc<Semaphore>,
    /// Its HTTP/2 connection (`None` with `upstream.http2 = "never"`).
    h2: Option<Arc<Host>>,
}

/// One upstream URI (a profile's `upstream` joined with a route's path) and
/// what it shares with every other URI on that host.
pub struct Target {
    pub uri: hyper::Uri,
    host: PerHost,
}

/// The settings the client is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamKey {
    roots: Option<Vec<rustls::pki_types::CertificateDer<'static>>>,
    connect_timeout: Duration,
    allow_plaintext: bool,
    http2: bool,
    max_per_host: usize,
}

impl UpstreamKey {
    pub fn of(settings: &UpstreamSettings) -> UpstreamKey {
        UpstreamKey {
            roots: settings.roots.clone(),
            connect_timeout: settings.connect_timeout,
            allow_plaintext: settings.allow_plaintext,
            http2: settings.http2,
            max_per_host: settings.max_connections,
        }
    }
}

impl Upstream {
    pub fn new(settings: &UpstreamSettings) -> Result<Self, BuildError> {
        let key = UpstreamKey::of(settings);
        let plaintext = if key.allow_plaintext { Plaintext::Allowed } else { Plaintext::Refused };
        let http2 = if key.http2 { Http2::Offered } else { Http2::Never };
        let https = Handoff::new(tls_client::connector(key.roots.as_deref(), key.connect_timeout, plaintext, http2)?);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            // As many idle connections as requests may be in progress: none is closed only to be handshaken again.
            .pool_max_idle_per_host(key.max_per_host)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(https.clone());
        Ok(Upstream { client, connector: https, key, per_host: std::sync::Mutex::default() })
    }

    /// Where requests for `uri` go, with its host's share of
    /// `upstream.max_connections` and its HTTP/2 connection; `None` for a
    /// URI without a host. Built once per config, not per request.
    pub fn target(&self, uri: hyper::Uri) -> Option<Target> {
        let (scheme, authority) = handoff::host_of(&uri)?;
        let origin = Uri::builder().scheme(scheme.clone()).authority(authority.clone()).path_and_query("/");
        let origin = origin.build().ok()?;
        let mut map = self.per_host.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let host = map
            .entry((scheme, authority))
            .or_insert_with(|| PerHost {
                slots: Arc::new(Semaphore::new(self.key.max_per_host)),
                h2: self.key.http2.then(|| Arc::new(Host::new(origin))),
            })
            .clone();
        Some(Target { uri, host })
    }

    /// POSTs `body` to `target`; gives up at `deadline` or after `timeout`
    /// (`upstream.timeout`), whichever is first.
    pub async fn post(
        &self,
        target: &Target,
        body: Vec<u8>,
        request_id: &str,
        traceparent: Option<&HeaderValue>,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<UpstreamAnswer, UpstreamError> {
        let body = Bytes::from(body);
        let head = || head(&target.uri, body.len(), request_id, traceparent);
        let until = deadline.min(Instant::now() + timeout);
        let exchange = async {
            // Waiting for a slot is part of the wait for HostedSuite (504 at the deadline).
            let _slot = target.host.slots.acquire().await.map_err(|_| UpstreamError::Unavailable("closed".into()))?;
            if let Some(host) = &target.host.h2 {
                if let Some(answer) = self.over_h2(host, head, &body).await {
                    return answer;
                }
            }
            self.over_http1(head()?.map(|()| Full::new(body.clone()))).await
        };
        let answer = tokio::time::timeout_at(until, exchange).await.unwrap_or(Err(UpstreamError::Timeout));
        if let (Err(UpstreamError::Timeout), Some(host)) = (&answer, &target.host.h2) {
            host.suspect(self.key.connect_timeout);
        }
        answer
    }

    /// The exchange through the HTTP/1.1 pool.
    async fn over_http1(&self, request: Request<Full<Bytes>>) -> Result<UpstreamAnswer, UpstreamError> {
        let response = self.client.request(request).await.map_err(|e| {
            if malformed(&e) {
                UpstreamError::BadResponse(chain(&e))
            } else {
                UpstreamError::Unavailable(chain(&e))
            }
        })?;
        let (parts, body) = response.into_parts();
        let body = match Limited::new(body, MAX_UPSTREAM_BODY).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(TooLarge),
            Err(e) => return Err(UpstreamError::Unavailable(e.to_string())),
        };
        Ok(UpstreamAnswer { status: parts.status, content_type: parts.headers.get(CONTENT_TYPE).cloned(), body })
    }

    /// The exchange over `host`'s HTTP/2 connection; `None` when the host
    /// answers HTTP/1.1 only. A request the connection did not take (closed,
    /// or the host refused the stream unseen) goes once more, on a new one.
    async fn over_h2(
        &self,
        host: &Host,
        head: impl Fn() -> Result<Request<()>, UpstreamError>,
        body: &Bytes,
    ) -> Option<Result<UpstreamAnswer, UpstreamError>> {
        let mut refused = None;
        for _ in 0..2 {
            let (send, id) = match host.sender(&self.connector).await {
                Ok(Sender::H2(send, id)) => (send, id),
                Ok(Sender::Http1) => return None,
                Err(e) => return Some(Err(e)),
            };
            let request = match head() {
                Ok(request) => request,
                Err(e) => return Some(Err(e)),
            };
            match multiplexed::exchange(send, request, body.clone()).await {
                Ok(answer) => return Some(answer),
                Err(NotTaken(e)) => {
                    host.retire(id);
                    refused = Some(e);
                }
            }
        }
        let why = refused.map_or_else(String::new, |e| chain(&e));
        Some(Err(UpstreamError::Unavailable(why)))
    }
}

/// The request HostedSuite receives (SPEC §4): the fixed headers are
/// static, and the per-request ones (`X-Request-Id`, `traceparent`) are
/// marked sensitive, which over HTTP/2 sends them as never-indexed literals:
/// a value seen once would otherwise be entered in both sides' HPACK tables,
/// and every later request would compare its id against the ids there.
fn head(
    uri: &hyper::Uri,
    body_len: usize,
    request_id: &str,
    traceparent: Option<&HeaderValue>,
) -> Result<Request<()>, UpstreamError> {
    let mut id =
        HeaderValue::from_str(request_id).map_err(|e| UpstreamError::Unavailable(format!("bad request id: {e}")))?;
    id.set_sensitive(true);
    let mut request = Request::new(());
    *request.method_mut() = Method::POST;
    *request.uri_mut() = uri.clone();
    let headers = request.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(body_len));
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
    headers.insert(X_REQUEST_ID, id);
    if let Some(value) = traceparent {
        let mut value = value.clone();
        value.set_sensitive(true);
        headers.insert(TRACEPARENT, value);
    }
    Ok(request)
}

/// Whether hyper refused an HTTP/1 answer's head: a status line with no
/// status in it (`099`, `1000`), or a head over its limits (100 fields). That
/// is an answer, not a failed connection; a peer not speaking HTTP/1 at all
/// (an HTTP/2-only host spoken to in HTTP/1.1) stays unavailable.
fn malformed(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(e);
    while let Some(s) = source {
        if s.downcast_ref::<hyper::Error>().is_some_and(|h| h.is_parse_status() || h.is_parse_too_large()) {
            return true;
        }
        source = s.source();
    }
    false
}

/// An error and its sources, for the log.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_upstream_request_carries_the_spec_headers_and_marks_the_per_request_ones_sensitive() {
        let uri: hyper::Uri = "https://hs.example/api/calls/update".parse().unwrap();
        let traceparent = HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        let built = head(&uri, 2, "rid-1", Some(&traceparent)).unwrap();
        assert_eq!((built.method(), built.uri()), (&Method::POST, &uri));
        let headers = built.headers();
        let mut names: Vec<&str> = headers.keys().map(|n| n.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["accept", "content-length", "content-type", "traceparent", "user-agent", "x-request-id"]);
        assert_eq!(headers["content-length"], "2");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers["accept"], "application/json");
        assert_eq!(headers["user-agent"], format!("hsgate/{}", env!("CARGO_PKG_VERSION")).as_str());
        assert_eq!(headers["x-request-id"], "rid-1");
        assert_eq!(headers["traceparent"], traceparent);
        let sensitive: Vec<&str> = headers.iter().filter(|(_, v)| v.is_sensitive()).map(|(n, _)| n.as_str()).collect();
        assert_eq!(sensitive.len(), 2, "only the per-request values: {sensitive:?}");
        assert!(sensitive.contains(&"x-request-id") && sensitive.contains(&"traceparent"));
    }

    #[test]
    fn no_traceparent_is_sent_unless_given_and_a_bad_id_is_refused() {
        let uri: hyper::Uri = "https://hs.example/api/calls/update".parse().unwrap();
        let built = head(&uri, 0, "rid-2", None).unwrap();
        assert!(!built.headers().contains_key("traceparent"));
        assert!(head(&uri, 0, "bad\nid", None).is_err());
    }
}
