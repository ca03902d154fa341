//! The config file as written: plain serde structs, one per TOML table, with
//! the SPEC's defaults. Nothing here is checked beyond its type; `validate`
//! turns these into a `Config`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// `[server]`: the gateway listener.
#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct Server {
    /// Address the gateway listens on.
    pub listen: String,
    /// PEM certificate chain: serve HTTPS (with `tls_key_file`).
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of `tls_cert_file`.
    pub tls_key_file: Option<PathBuf>,
    /// PEM CA certificates: require a client certificate they issued (mTLS).
    pub client_ca_file: Option<PathBuf>,
    /// Largest request body accepted, in bytes (also when chunked).
    pub max_body_bytes: u64,
    /// Time a client has to send the request head.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Whole request, from the head's arrival to the answer (upstream included).
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// A connection with no request in progress is closed after this long.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Time the client has to take an answer (a stalled write, or an HTTP/2
    /// stream whose flow-control window stays shut) before the connection is closed.
    #[serde(with = "humantime_serde")]
    pub write_timeout: Duration,
    /// Open gateway connections at most.
    pub max_connections: u64,
    /// Requests in progress at most; more are answered 503 `Overloaded` at once.
    pub max_in_flight: u64,
    /// How long in-flight requests may take to finish on SIGTERM/SIGINT.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
}

impl Default for Server {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:8080".into(),
            tls_cert_file: None,
            tls_key_file: None,
            client_ca_file: None,
            max_body_bytes: 65536,
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(30),
            max_connections: 4096,
            max_in_flight: 1024,
            shutdown_grace: Duration::from_secs(25),
        }
    }
}

/// `[admin]`: health and metrics listener.
#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct Admin {
    /// Address of `/healthz`, `/readyz` and `/metrics`.
    pub listen: String,
}

impl Default for Admin {
    fn default() -> Self {
        Self { listen: "127.0.0.1:9090".into() }
    }
}

/// `[upstream]`: the HostedSuite host.
#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct Upstream {
    /// `scheme://host[:port]`, no path. Required.
    pub url: Option<String>,
    /// PEM roots to trust instead of the built-in web roots.
    pub ca_file: Option<PathBuf>,
    /// TCP connect (and TLS handshake start) limit; also how long an HTTP/2
    /// connection has to answer a PING after a request on it timed out.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Limit for HostedSuite's whole answer.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Allow an `http://` upstream (never in production).
    pub allow_plaintext: bool,
    /// `auto`: HTTP/2 where the host offers it (ALPN; one multiplexed connection
    /// per host), else HTTP/1.1; `never`: HTTP/1.1 only.
    pub http2: String,
    /// Requests in progress to one HostedSuite host at most.
    pub max_connections: u64,
    /// Send the caller's W3C `traceparent` header on to HostedSuite (it is always recorded).
    pub forward_traceparent: bool,
    /// Refused logins in a row that suspend a profile.
    pub login_failure_threshold: u32,
    /// How long a suspended profile is not sent upstream.
    #[serde(with = "humantime_serde")]
    pub login_failure_cooldown: Duration,
}

impl Default for Upstream {
    fn default() -> Self {
        Self {
            url: None,
            ca_file: None,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            allow_plaintext: false,
            http2: "auto".into(),
            max_connections: 256,
            forward_traceparent: false,
            login_failure_threshold: 3,
            login_failure_cooldown: Duration::from_secs(60),
        }
    }
}

/// `[auth]`: how bearer tokens are verified.
#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct Auth {
    /// Accepted `iss` values. Required, non-empty.
    pub issuers: Vec<String>,
    /// Accepted `aud` values. Required, non-empty.
    pub audiences: Vec<String>,
    /// Allowed JWS algorithms; `none` is never allowed.
    pub algorithms: Vec<String>,
    /// Clock skew allowed for `exp`, `nbf` and `iat`.
    #[serde(with = "humantime_serde")]
    pub leeway: Duration,
    /// Refuse tokens whose `exp - iat` is longer (and then require `iat`).
    #[serde(with = "humantime_serde::option")]
    pub max_token_lifetime: Option<Duration>,
    /// Claims every token must carry (`exp` always is).
    pub required_claims: Vec<String>,
    /// A JWKS document with public keys.
    pub jwks_file: Option<PathBuf>,
    /// The IdP's JWKS URL (https), fetched at start and refreshed.
    pub jwks_url: Option<String>,
    /// How often `jwks_url` is fetched again.
    #[serde(with = "humantime_serde")]
    pub jwks_refresh: Duration,
    /// PEM roots for `jwks_url` instead of the built-in web roots.
    pub jwks_ca_file: Option<PathBuf>,
    /// A token with an unknown `kid` refetches `jwks_url` at most this often.
    #[serde(with = "humantime_serde")]
    pub jwks_min_refetch: Duration,
    /// Shared HMAC secrets (HS256/384/512).
    pub hmac: Vec<HmacKey>,
    /// Public keys in PEM files.
    pub pem: Vec<PemKey>,
}

impl Default for Auth {
    fn default() -> Self {
        Self {
            issuers: Vec::new(),
            audiences: Vec::new(),
            algorithms: vec!["RS256".into(), "ES256".into(), "EdDSA".into()],
            leeway: Duration::from_secs(30),
            max_token_lifetime: None,
            required_claims: vec!["sub".into()],
            jwks_file: None,
            jwks_url: None,
            jwks_refresh: Duration::from_secs(300),
            jwks_ca_file: None,
            jwks_min_refetch: Duration::from_secs(30),
            hmac: Vec::new(),
            pem: Vec::new(),
        }
    }
}

/// `[[auth.hmac]]`: one shared secret.
#[derive(Debug, Deserialize)]
pub struct HmacKey {
    /// Key id tokens name in their `kid` header.
    pub kid: String,
    /// HS256 (default), HS384 or HS512.
    #[serde(default)]
    pub alg: Option<String>,
    /// Inline secret (discouraged).
    #[serde(default)]
    pub secret: Option<String>,
    /// Environment variable holding the secret.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// File holding the secret (trailing whitespace trimmed).
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
}

/// `[[auth.pem]]`: one public key file.
#[derive(Debug, Deserialize)]
pub struct PemKey {
    /// Key id tokens name in their `kid` header.
    pub kid: String,
    /// The one algorithm this key verifies.
    pub alg: String,
    /// PEM file with the public key (SubjectPublicKeyInfo).
    pub file: PathBuf,
}

/// `[audit]`: where audit records go.
#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct Audit {
    /// `stdout` or `file`.
    pub sink: String,
    /// File to append to when `sink = "file"`.
    pub path: Option<PathBuf>,
    /// Inline audit HMAC key (discouraged).
    pub hmac_key: Option<String>,
    /// Environment variable holding the audit HMAC key.
    pub hmac_key_env: Option<String>,
    /// File holding the audit HMAC key.
    pub hmac_key_file: Option<PathBuf>,
    /// Put the Notes text itself into the record.
    pub include_notes: bool,
    /// `fdatasync` each batch of records before acknowledging it (file sink).
    pub fsync: bool,
}

impl Default for Audit {
    fn default() -> Self {
        Self {
            sink: "stdout".into(),
            path: None,
            hmac_key: None,
            hmac_key_env: None,
            hmac_key_file: None,
            include_notes: false,
            fsync: false,
        }
    }
}

/// `[[profile]]`: one stored HostedSuite login.
#[derive(Debug, Deserialize)]
pub struct Profile {
    /// Name grants and the `HostedSuite-Profile` header use.
    pub name: String,
    /// HostedSuite `CustomerName`.
    pub customer_name: String,
    /// HostedSuite `UserName`.
    pub user_name: String,
    /// Inline password (discouraged).
    #[serde(default)]
    pub password: Option<String>,
    /// Environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// File holding the password (trailing whitespace trimmed).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// This customer's HostedSuite host, if not `upstream.url`.
    #[serde(default)]
    pub upstream_url: Option<String>,
}

/// `[[grant]]`: who may use which login on which route.
#[derive(Debug, Deserialize)]
pub struct Grant {
    /// Name shown in the audit trail.
    pub name: String,
    /// Claims that must all match (an array claim must contain the value).
    pub claims: toml::Table,
    /// Profiles this grant may use.
    pub profiles: Vec<String>,
    /// Routes this grant may call.
    pub routes: Vec<String>,
    /// Requests per second or minute (`"20/s"`, `"600/m"`); the burst equals the count.
    #[serde(default)]
    pub rate_limit: Option<String>,
}

/// `[[route]]`: a further HostedSuite endpoint.
#[derive(Debug, Deserialize)]
pub struct Route {
    /// Name grants list.
    pub name: String,
    /// The caller's path and the upstream path.
    pub path: String,
    /// The ServiceStack request DTO's name: its predefined routes are answered too.
    #[serde(default)]
    pub operation: Option<String>,
    /// Further exact paths for this route.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Body fields callers may send (any JSON value).
    pub fields: Vec<String>,
}
