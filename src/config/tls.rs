//! TLS material from the config: trust roots (upstream, JWKS, client CAs)
//! and the gateway listener's certificate, built into rustls objects at load.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;

use super::Problems;

/// The listener's TLS settings, ready to accept with.
#[derive(Clone)]
pub struct ServerTls {
    pub config: Arc<rustls::ServerConfig>,
    /// Client certificates are required (`client_ca_file`).
    pub mtls: bool,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("ServerTls").field("mtls", &self.mtls).finish_non_exhaustive()
    }
}

/// PEM certificates to trust; at least one.
pub fn load_roots(key: &str, path: &Path, problems: &mut Problems) -> Option<Vec<CertificateDer<'static>>> {
    problems.read(path);
    let certs: Result<Vec<_>, _> = match CertificateDer::pem_file_iter(path) {
        Ok(iter) => iter.collect(),
        Err(e) => {
            problems.error(key, format!("cannot read {}: {e}", path.display()));
            return None;
        }
    };
    match certs {
        Ok(certs) if !certs.is_empty() => match root_store(Some(&certs)) {
            Ok(_) => Some(certs),
            Err(e) => {
                problems.error(key, format!("{}: not a usable CA certificate: {e}", path.display()));
                None
            }
        },
        Ok(_) => {
            problems.error(key, format!("{} holds no PEM certificate", path.display()));
            None
        }
        Err(e) => {
            problems.error(key, format!("{}: bad PEM: {e}", path.display()));
            None
        }
    }
}

/// A root store of exactly `certs`, or of the built-in web roots.
pub fn root_store(certs: Option<&[CertificateDer<'static>]>) -> Result<RootCertStore, rustls::Error> {
    let mut roots = RootCertStore::empty();
    match certs {
        Some(certs) => {
            for cert in certs {
                roots.add(cert.clone())?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    Ok(roots)
}

/// The one crypto provider of the tree.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// `server.tls_cert_file` + `tls_key_file` (+ `client_ca_file`): HTTPS, and mTLS.
pub fn server_tls(
    cert: Option<&Path>,
    key: Option<&Path>,
    client_ca: Option<&Path>,
    problems: &mut Problems,
) -> Option<Option<ServerTls>> {
    let (cert, key) = match (cert, key) {
        (None, None) => {
            if client_ca.is_some() {
                problems.error("server.client_ca_file", "needs server.tls_cert_file and server.tls_key_file");
                return None;
            }
            return Some(None);
        }
        (Some(_), None) => {
            problems.error("server.tls_key_file", "required with server.tls_cert_file");
            return None;
        }
        (None, Some(_)) => {
            problems.error("server.tls_cert_file", "required with server.tls_key_file");
            return None;
        }
        (Some(c), Some(k)) => (c, k),
    };
    problems.read(cert);
    problems.read(key);
    let chain: Vec<CertificateDer<'static>> = match CertificateDer::pem_file_iter(cert).map(Iterator::collect) {
        Ok(Ok(chain)) => chain,
        Ok(Err(e)) => {
            problems.error("server.tls_cert_file", format!("{}: bad PEM: {e}", cert.display()));
            return None;
        }
        Err(e) => {
            problems.error("server.tls_cert_file", format!("cannot read {}: {e}", cert.display()));
            return None;
        }
    };
    if chain.is_empty() {
        problems.error("server.tls_cert_file", format!("{} holds no PEM certificate", cert.display()));
        return None;
    }
    let private = match PrivateKeyDer::from_pem_file(key) {
        Ok(k) => k,
        // The error may quote the file; say only that it is unusable.
        Err(_) => {
            problems.error("server.tls_key_file", format!("{} holds no usable PEM private key", key.display()));
            return None;
        }
    };
    let roots = match client_ca {
        Some(path) => Some(load_roots("server.client_ca_file", path, problems)?),
        None => None,
    };
    let builder = match rustls::ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions() {
        Ok(b) => b,
        Err(e) => {
            problems.error("server.tls_cert_file", format!("TLS setup failed: {e}"));
            return None;
        }
    };
    let builder = match &roots {
        Some(certs) => {
            let verifier = root_store(Some(certs)).map_err(|e| e.to_string()).and_then(|store| {
                WebPkiClientVerifier::builder_with_provider(Arc::new(store), provider())
                    .build()
                    .map_err(|e| e.to_string())
            });
            match verifier {
                Ok(v) => builder.with_client_cert_verifier(v),
                Err(e) => {
                    problems.error("server.client_ca_file", format!("unusable CA certificates: {e}"));
                    return None;
                }
            }
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = match builder.with_single_cert(chain, private) {
        Ok(c) => c,
        Err(e) => {
            problems.error("server.tls_key_file", format!("the key does not fit the certificate: {e}"));
            return None;
        }
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Some(Some(ServerTls { config: Arc::new(config), mtls: roots.is_some() }))
}
