//! Throw-away PKI for the simulator: an EC P-256 test CA and a localhost server leaf.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::SimError;

/// Common name of the generated CA.
pub const CA_COMMON_NAME: &str = "hsgate test CA";

/// Names the server leaf is valid for.
const LEAF_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// A generated test CA plus one server certificate it issued.
pub struct TestPki {
    /// The CA certificate (PEM); clients put this in their trust store.
    pub ca_pem: String,
    ca: CertifiedIssuer<'static, KeyPair>,
    leaf: Leaf,
}

/// An issued server certificate and its private key, DER and PEM.
struct Leaf {
    cert: CertificateDer<'static>,
    cert_pem: String,
    key_der: Vec<u8>,
    key_pem: String,
}

impl std::fmt::Debug for TestPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPki").field("ca_pem", &self.ca_pem).finish_non_exhaustive()
    }
}

impl TestPki {
    /// Generate a fresh EC P-256 CA ("hsgate test CA") and a server leaf for
    /// localhost, 127.0.0.1 and ::1.
    pub fn generate() -> Result<TestPki, SimError> {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, CA_COMMON_NAME);
        dn.push(DnType::OrganizationName, "hsgate");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate()?)?;
        let ca_pem = ca.pem();
        let leaf = issue_leaf(&ca, &LEAF_NAMES)?;
        Ok(TestPki { ca_pem, ca, leaf })
    }

    /// A server certificate for localhost + 127.0.0.1 (+ ::1) signed by the CA,
    /// as a rustls ServerConfig (ALPN http/1.1).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, SimError> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.leaf.key_der.clone()));
        let chain = vec![self.leaf.cert.clone(), self.ca.der().clone()];
        let mut config =
            rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_no_client_auth()
                .with_single_cert(chain, key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// A client certificate (`clientAuth`) for `common_name` issued by this CA,
    /// as PEM strings `(cert_pem, key_pem)`: for mTLS tests.
    pub fn issue_client(&self, common_name: &str) -> Result<(String, String), SimError> {
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        dn.push(DnType::OrganizationName, "hsgate tests");
        let leaf = issue(&self.ca, Vec::new(), dn, ExtendedKeyUsagePurpose::ClientAuth)?;
        Ok((leaf.cert_pem, leaf.key_pem))
    }

    /// The same leaf as PEM strings `(cert_pem, key_pem)`, for tests that need files.
    pub fn server_cert_pem(&self) -> Result<(String, String), SimError> {
        Ok((self.leaf.cert_pem.clone(), self.leaf.key_pem.clone()))
    }
}

/// Issue a server-auth leaf for `names` (DNS names or IP literals).
fn issue_leaf(ca: &CertifiedIssuer<'static, KeyPair>, names: &[&str]) -> Result<Leaf, SimError> {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "localhost");
    issue(ca, names, dn, ExtendedKeyUsagePurpose::ServerAuth)
}

/// Issue an end-entity certificate for `names` and `dn`, for one purpose.
fn issue(
    ca: &CertifiedIssuer<'static, KeyPair>,
    names: Vec<String>,
    dn: DistinguishedName,
    purpose: ExtendedKeyUsagePurpose,
) -> Result<Leaf, SimError> {
    let mut params = CertificateParams::new(names)?;
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![purpose];
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, ca)?;
    Ok(Leaf {
        cert: cert.der().clone(),
        cert_pem: cert.pem(),
        key_der: key.serialize_der(),
        key_pem: key.serialize_pem(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn generates_ca_and_leaf() {
        let pki = TestPki::generate().unwrap();
        assert!(pki.ca_pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        let (cert, key) = pki.server_cert_pem().unwrap();
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        // The leaf PEM must round-trip to the same DER.
        let k = KeyPair::from_pem(&key).unwrap();
        assert_eq!(k.serialize_der(), pki.leaf.key_der);
        let config = pki.server_config().unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        assert!(!format!("{pki:?}").contains("PRIVATE"));
    }
}
