//! Configuration: the TOML file (`raw`) is read section by section so that
//! every problem in it is reported at once, then checked and turned into a
//! `Config` holding ready-to-use runtime values (`validate`). `hsgate check`
//! and `hsgate serve` run exactly this code.

mod access;
mod raw;
mod secret;
mod tls;
mod validate;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use rustls::pki_types::CertificateDer;
use secrecy::SecretString;
use serde::de::DeserializeOwned;

use crate::auth::VerifyKey;
use crate::ratelimit::Rate;
use crate::relay::Redactor;
use crate::routes::Routes;

pub use tls::{provider as tls_provider, root_store, ServerTls};

/// A validated configuration.
#[derive(Debug)]
pub struct Config {
    pub file: PathBuf,
    /// Every file it was built from, this one first (for reload on change).
    pub files: Vec<PathBuf>,
    pub server: ServerSettings,
    pub admin_listen: SocketAddr,
    pub upstream: UpstreamSettings,
    pub auth: AuthSettings,
    pub audit: AuditSettings,
    pub profiles: Vec<Profile>,
    pub grants: Vec<Grant>,
    pub routes: Routes,
    /// Things that work but deserve the operator's attention (`check` prints them).
    pub warnings: Vec<Problem>,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    /// HTTPS (and mTLS) on the listener.
    pub tls: Option<ServerTls>,
    pub max_body_bytes: usize,
    pub header_read_timeout: Duration,
    pub request_timeout: Duration,
    pub idle_timeout: Duration,
    pub write_timeout: Duration,
    pub max_connections: usize,
    pub max_in_flight: usize,
    pub shutdown_grace: Duration,
}

#[derive(Debug)]
pub struct UpstreamSettings {
    pub url: BaseUrl,
    /// `None`: the built-in web roots; `Some`: exactly these roots.
    pub roots: Option<Vec<CertificateDer<'static>>>,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub allow_plaintext: bool,
    /// Offer HTTP/2 (ALPN) to HostedSuite.
    pub http2: bool,
    /// Requests in progress to one host at most.
    pub max_connections: usize,
    /// Send a valid caller `traceparent` on to HostedSuite.
    pub forward_traceparent: bool,
    pub login_failure_threshold: u32,
    pub login_failure_cooldown: Duration,
}

/// `scheme://host[:port]` of a HostedSuite host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(String);

impl BaseUrl {
    /// The full URL of `path` on this host.
    pub fn join(&self, path: &str) -> String {
        format!("{}{}", self.0, path)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug)]
pub struct AuthSettings {
    pub issuers: Vec<String>,
    pub audiences: Vec<String>,
    pub algorithms: Vec<Algorithm>,
    pub leeway: Duration,
    pub max_token_lifetime: Option<Duration>,
    pub required_claims: Vec<String>,
    /// Keys from the config itself (PEM, HMAC, `jwks_file`).
    pub keys: Vec<Arc<VerifyKey>>,
    pub jwks: Option<JwksSettings>,
}

/// `auth.jwks_url` and its companions.
#[derive(Debug, Clone, PartialEq)]
pub struct JwksSettings {
    pub url: hyper::Uri,
    /// `None`: the built-in web roots.
    pub roots: Option<Vec<CertificateDer<'static>>>,
    pub refresh: Duration,
    pub min_refetch: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditSinkKind {
    Stdout,
    File(PathBuf),
}

#[derive(Debug)]
pub struct AuditSettings {
    pub sink: AuditSinkKind,
    pub hmac_key: Option<SecretString>,
    pub include_notes: bool,
    /// `fdatasync` each batch before acknowledging it.
    pub fsync: bool,
}

/// A stored HostedSuite login.
#[derive(Debug)]
pub struct Profile {
    pub name: String,
    pub customer_name: String,
    pub user_name: String,
    pub password: SecretString,
    /// Finds this password in HostedSuite's answers (built once, here).
    pub redactor: Redactor,
    pub upstream: BaseUrl,
}

/// Who may use which login on which route.
#[derive(Debug)]
pub struct Grant {
    pub name: String,
    pub claims: Vec<(String, serde_json::Value)>,
    pub profiles: Vec<String>,
    pub routes: Vec<String>,
    pub rate: Option<Rate>,
}

/// One problem in the file: the key it is about and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Errors and warnings collected while loading, and the files read.
#[derive(Debug, Default)]
pub struct Problems {
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
    /// Every file the config made us read (watched for changes by `serve`).
    pub files: Vec<PathBuf>,
}

impl Problems {
    pub fn read(&mut self, path: &Path) {
        if !self.files.iter().any(|f| f == path) {
            self.files.push(path.to_owned());
        }
    }
    pub fn error(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.errors.push(Problem { key: key.into(), message: message.into() });
    }
    pub fn warn(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Problem { key: key.into(), message: message.into() });
    }
}

/// The file could not be loaded; every problem found is listed.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub file: PathBuf,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "config error in {} ({} problem(s)):", self.file.display(), self.problems.len())?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

/// Reads, parses and validates the config file.
pub fn load(file: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(file).map_err(|e| ConfigError {
        file: file.to_owned(),
        problems: vec![Problem { key: "(file)".into(), message: format!("cannot read: {e}") }],
    })?;
    load_str(&text, file)
}

/// Parses and validates config text; `file` names it in messages and anchors relative paths.
pub fn load_str(text: &str, file: &Path) -> Result<Config, ConfigError> {
    let mut problems = Problems::default();
    let table: toml::Table = match toml::from_str(text) {
        Ok(t) => t,
        Err(e) => {
            problems.error("(syntax)", e.message().to_owned() + &line_of(text, e.span()));
            return Err(ConfigError { file: file.to_owned(), problems: problems.errors });
        }
    };
    let raw = validate::split(table, &mut problems);
    let base = file.parent().map(Path::to_owned).unwrap_or_default();
    problems.read(file);
    let config = validate::build(raw, file, &base, &mut problems);
    match config {
        Some(mut config) if problems.errors.is_empty() => {
            if let AuditSinkKind::File(audit) = &config.audit.sink {
                // `serve` watches the folders of the files it read; a write there wakes the watcher.
                let folder = audit.parent();
                if problems.files.iter().any(|f| f.parent() == folder) {
                    problems.warn(
                        "audit.path",
                        "is in a folder hsgate watches for config changes: every audit write wakes the \
                         watcher; put the audit file in a folder of its own",
                    );
                }
            }
            config.warnings = problems.warnings;
            config.files = problems.files;
            Ok(config)
        }
        _ => Err(ConfigError { file: file.to_owned(), problems: problems.errors }),
    }
}

fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    span.map(|s| format!(" (line {})", text[..s.start.min(text.len())].matches('\n').count() + 1)).unwrap_or_default()
}

/// Deserializes one table (or array element) and reports every problem in
/// it: all unknown keys, and every bad value (after each type error the
/// offending key is set aside and the table is read again). `key` is the
/// table's path.
fn section<T: DeserializeOwned>(key: &str, mut value: toml::Value, problems: &mut Problems) -> Option<T> {
    let mut clean = true;
    // Each round removes one bad key, so this ends; the bound is a backstop.
    for _ in 0..64 {
        let mut unknown = Vec::new();
        let mut note = |path: serde_ignored::Path<'_>| unknown.push(key_path(&path));
        let result: Result<T, _> =
            serde_path_to_error::deserialize(serde_ignored::Deserializer::new(value.clone(), &mut note));
        for path in unknown {
            problems.error(format!("{key}.{path}"), "unknown key");
            clean = false;
        }
        let error = match result {
            Ok(v) => return clean.then_some(v),
            Err(e) => e,
        };
        clean = false;
        let segments: Vec<_> = error.path().iter().cloned().collect();
        let at = segments.iter().fold(key.to_owned(), |acc, s| match s {
            serde_path_to_error::Segment::Seq { index } => format!("{acc}[{index}]"),
            serde_path_to_error::Segment::Map { key } => format!("{acc}.{}", toml_key(key)),
            _ => acc,
        });
        let message = error.inner().to_string();
        let message = message.lines().next().unwrap_or_default();
        let message = if is_secret_key(&at) { "invalid value (not shown)" } else { message };
        problems.error(at, message);
        if !remove(&mut value, &segments) {
            return None;
        }
    }
    None
}

/// Removes the value at `path` (for another round of `section`); false if there is nothing to remove.
fn remove(value: &mut toml::Value, path: &[serde_path_to_error::Segment]) -> bool {
    use serde_path_to_error::Segment as S;
    let Some((last, parents)) = path.split_last() else { return false };
    let mut at = value;
    for segment in parents {
        at = match (segment, at) {
            (S::Map { key }, toml::Value::Table(t)) => match t.get_mut(key) {
                Some(v) => v,
                None => return false,
            },
            (S::Seq { index }, toml::Value::Array(a)) => match a.get_mut(*index) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match (last, at) {
        (S::Map { key }, toml::Value::Table(t)) => t.remove(key).is_some(),
        (S::Seq { index }, toml::Value::Array(a)) if *index < a.len() => {
            a.remove(*index);
            true
        }
        _ => false,
    }
}

/// `a.b[0].c` for a path serde_ignored reports as `a.b.0.c`.
fn key_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path as P;
    match path {
        P::Root => String::new(),
        P::Seq { parent, index } => format!("{}[{index}]", key_path(parent)),
        P::Map { parent, key } => match key_path(parent) {
            p if p.is_empty() => toml_key(key),
            p => format!("{p}.{}", toml_key(key)),
        },
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => key_path(parent),
    }
}

/// A key as TOML writes it: bare where it can be, else quoted (`""`,
/// `"a.b"`), so that a problem's key path names it unambiguously.
fn toml_key(key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        key.to_owned()
    } else {
        toml::Value::from(key).to_string()
    }
}

fn is_secret_key(key: &str) -> bool {
    let leaf = key.rsplit('.').next().unwrap_or(key);
    ["password", "secret", "hmac_key"].contains(&leaf)
}

#[cfg(test)]
mod tests;
