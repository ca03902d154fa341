//! The HostedSuite client: ONE pooled hyper-util client over rustls, built
//! when the config is loaded, shared by every request. TLS is always
//! verified against the configured roots (or the built-in web roots). A
//! request is written at most once: hyper-util's only retry is for a pooled
//! connection that closed before any byte of the request was written.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderValue, ACCEPT, CONTENT_TYPE, USER_AGENT};
use hyper::{Method, Request, StatusCode};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::RootCertStore;
use tokio::time::Instant;

use crate::config::UpstreamSettings;

/// Largest HostedSuite answer the gateway reads (a CallRecordInfo is a few KiB).
pub const MAX_UPSTREAM_BODY: usize = 4 * 1024 * 1024;

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
}

#[derive(Debug, thiserror::Error)]
#[error("cannot build the upstream TLS client: {0}")]
pub struct BuildError(String);

pub struct Upstream {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl Upstream {
    pub fn new(settings: &UpstreamSettings) -> Result<Self, BuildError> {
        let mut roots = RootCertStore::empty();
        match &settings.roots {
            Some(certs) => {
                for cert in certs {
                    roots.add(cert.clone()).map_err(|e| BuildError(format!("bad CA certificate: {e}")))?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| BuildError(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();

        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(settings.connect_timeout));
        let builder = HttpsConnectorBuilder::new().with_tls_config(tls);
        let https = if settings.allow_plaintext { builder.https_or_http() } else { builder.https_only() }
            .enable_http1()
            .wrap_connector(http);

        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(64)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(https);
        Ok(Upstream { client, timeout: settings.timeout })
    }

    /// POSTs `body` to `url`; gives up at `deadline` or after `upstream.timeout`, whichever is first.
    pub async fn post(
        &self,
        url: &str,
        body: Vec<u8>,
        request_id: &str,
        deadline: Instant,
    ) -> Result<UpstreamAnswer, UpstreamError> {
        let request = Request::builder()
            .method(Method::POST)
            .uri(url)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, USER_AGENT_VALUE)
            .header("x-request-id", request_id)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| UpstreamError::Unavailable(format!("bad request: {e}")))?;
        let until = deadline.min(Instant::now() + self.timeout);
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| UpstreamError::Unavailable(chain(&e)))?;
            let (parts, body) = response.into_parts();
            let body = match Limited::new(body, MAX_UPSTREAM_BODY).collect().await {
                Ok(collected) => Ok(collected.to_bytes()),
                Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(TooLarge),
                Err(e) => return Err(UpstreamError::Unavailable(e.to_string())),
            };
            Ok(UpstreamAnswer { status: parts.status, content_type: parts.headers.get(CONTENT_TYPE).cloned(), body })
        };
        tokio::time::timeout_at(until, exchange).await.unwrap_or(Err(UpstreamError::Timeout))
    }
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
