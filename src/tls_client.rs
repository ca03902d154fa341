//! Verified TLS client connectors (HostedSuite, the IdP's JWKS URL): rustls
//! over the tree's one crypto provider, trusting exactly the configured
//! roots, or the built-in web roots when none are configured.

use std::time::Duration;

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::pki_types::CertificateDer;

use crate::config::root_store;
use crate::dns::CachedResolver;

/// The connector every outbound client uses: verified TLS over TCP, names
/// resolved through [`CachedResolver`].
pub type Connector = HttpsConnector<HttpConnector<CachedResolver>>;

#[derive(Debug, thiserror::Error)]
#[error("cannot build the TLS client: {0}")]
pub struct BuildError(String);

/// How the connector may speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plaintext {
    Refused,
    /// `http://` allowed too (`upstream.allow_plaintext`, testing only).
    Allowed,
}

/// Whether HTTP/2 is offered (ALPN `h2`, falling back to HTTP/1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Http2 {
    Offered,
    Never,
}

/// An HTTP/1.1 (and, if offered, HTTP/2) connector over verified TLS.
pub fn connector(
    roots: Option<&[CertificateDer<'static>]>,
    connect_timeout: Duration,
    plaintext: Plaintext,
    http2: Http2,
) -> Result<Connector, BuildError> {
    let roots = root_store(roots).map_err(|e| BuildError(format!("bad CA certificate: {e}")))?;
    let tls = rustls::ClientConfig::builder_with_provider(crate::config::tls_provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| BuildError(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = HttpConnector::new_with_resolver(CachedResolver::default());
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    let builder = HttpsConnectorBuilder::new().with_tls_config(tls);
    let builder = match plaintext {
        Plaintext::Allowed => builder.https_or_http(),
        Plaintext::Refused => builder.https_only(),
    };
    Ok(match http2 {
        Http2::Offered => builder.enable_http1().enable_http2().wrap_connector(http),
        Http2::Never => builder.enable_http1().wrap_connector(http),
    })
}
