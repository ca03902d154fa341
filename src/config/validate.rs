//! Raw sections -> validated `Config`: every rule of SPEC §3, all problems
//! collected, runtime values (keys, roots, URLs) built here at load time.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;

use jsonwebtoken::Algorithm;

use super::secret::{self, SecretSource};
use super::{access, raw, tls};
use super::{
    section, toml_key, AuditSettings, AuditSinkKind, AuthSettings, BaseUrl, Config, JwksSettings, Problems, Profile,
    ServerSettings, UpstreamSettings,
};
use crate::auth::keys;
use crate::relay::Redactor;

/// The file's tables, each deserialized on its own so one bad table does not hide the others.
#[derive(Default)]
pub(super) struct Raw {
    server: Option<raw::Server>,
    admin: Option<raw::Admin>,
    upstream: Option<raw::Upstream>,
    auth: Option<raw::Auth>,
    audit: Option<raw::Audit>,
    profiles: Vec<raw::Profile>,
    grants: Vec<raw::Grant>,
    routes: Vec<raw::Route>,
    /// Tables present in the file (parsed or not), so that a table that failed
    /// to parse is not also reported as missing.
    present: HashSet<String>,
    /// `[[profile]]` entries and their names, read before parsing them, for the same reason.
    profile_entries: usize,
    profile_names: HashSet<String>,
    grant_entries: usize,
    /// A section failed to deserialize: its problems are recorded, build nothing from it.
    broken: bool,
}

fn entries(value: &toml::Value) -> usize {
    value.as_array().map_or(0, Vec::len)
}

pub(super) fn split(table: toml::Table, problems: &mut Problems) -> Raw {
    let mut raw = Raw::default();
    let before = problems.errors.len();
    for (name, value) in table {
        raw.present.insert(name.clone());
        match name.as_str() {
            "server" => raw.server = section("server", value, problems),
            "admin" => raw.admin = section("admin", value, problems),
            "upstream" => raw.upstream = section("upstream", value, problems),
            "auth" => raw.auth = section("auth", value, problems),
            "audit" => raw.audit = section("audit", value, problems),
            "profile" => {
                raw.profile_entries = entries(&value);
                let names = value.as_array().into_iter().flatten();
                raw.profile_names = names.filter_map(|p| p.get("name")?.as_str().map(str::to_owned)).collect();
                raw.profiles = array("profile", value, problems);
            }
            "grant" => {
                raw.grant_entries = entries(&value);
                raw.grants = array("grant", value, problems);
            }
            "route" => raw.routes = array("route", value, problems),
            other => problems.error(toml_key(other), "unknown key"),
        }
    }
    raw.broken = problems.errors.len() > before;
    raw
}

fn array<T: serde::de::DeserializeOwned>(key: &str, value: toml::Value, problems: &mut Problems) -> Vec<T> {
    match value {
        toml::Value::Array(items) => items
            .into_iter()
            .enumerate()
            .filter_map(|(i, item)| section(&format!("{key}[{i}]"), item, problems))
            .collect(),
        _ => {
            problems.error(key, format!("must be an array of tables ([[{key}]])"));
            Vec::new()
        }
    }
}

pub(super) fn build(raw: Raw, file: &Path, base: &Path, problems: &mut Problems) -> Option<Config> {
    // A table that is present but failed to parse has reported its problems; build nothing from it.
    fn or_default<T: Default>(parsed: Option<T>, present: bool) -> Option<T> {
        match parsed {
            Some(t) => Some(t),
            None if present => None,
            None => Some(T::default()),
        }
    }
    let present = |name: &str| raw.present.contains(name);
    let server = or_default(raw.server, present("server")).and_then(|s| server(s, base, problems));
    let admin = or_default(raw.admin, present("admin"));
    let admin_listen = admin.and_then(|a| addr("admin.listen", &a.listen, problems));
    let upstream = or_default(raw.upstream, present("upstream")).and_then(|u| upstream(u, base, problems));
    let auth = match (raw.auth, present("auth")) {
        (Some(a), _) => auth(a, base, problems),
        (None, true) => None,
        (None, false) => {
            problems.error("auth", "required: [auth] with issuers, audiences and keys");
            None
        }
    };
    let audit = or_default(raw.audit, present("audit")).and_then(|a| audit(a, base, problems));
    let routes = access::routes(raw.routes, problems);
    if raw.profile_entries == 0 {
        problems.error("profile", "at least one [[profile]] is required");
    }
    if raw.grant_entries == 0 {
        problems.error("grant", "at least one [[grant]] is required");
    }
    let allow_plaintext = upstream.as_ref().is_some_and(|u| u.allow_plaintext);
    let profiles = profiles(raw.profiles, upstream.as_ref().map(|u| &u.url), allow_plaintext, base, problems);
    let grants = access::grants(raw.grants, &raw.profile_names, routes.as_ref(), problems);
    if raw.broken {
        return None;
    }
    Some(Config {
        file: file.to_owned(),
        files: Vec::new(),
        server: server?,
        admin_listen: admin_listen?,
        upstream: upstream?,
        auth: auth?,
        audit: audit?,
        profiles,
        grants,
        routes: routes?,
        warnings: Vec::new(),
    })
}

fn addr(key: &str, text: &str, problems: &mut Problems) -> Option<SocketAddr> {
    match text.parse() {
        Ok(a) => Some(a),
        Err(_) => {
            problems.error(key, format!("{text:?} is not an address like 0.0.0.0:8080"));
            None
        }
    }
}

fn positive(key: &str, d: std::time::Duration, problems: &mut Problems) {
    if d.is_zero() {
        problems.error(key, "must be longer than zero");
    }
}

/// Upper bound for `max_body_bytes`: the gateway buffers bodies in memory.
const MAX_BODY_LIMIT: u64 = 16 * 1024 * 1024;

/// Upper bound for `max_connections` (each one holds a file descriptor and buffers).
const MAX_CONNECTIONS_LIMIT: u64 = 1_000_000;

fn server(s: raw::Server, base: &Path, problems: &mut Problems) -> Option<ServerSettings> {
    let listen = addr("server.listen", &s.listen, problems);
    let resolve = |p: &Option<std::path::PathBuf>| p.as_deref().map(|p| secret::resolve_path(base, p));
    let (cert, key, ca) = (resolve(&s.tls_cert_file), resolve(&s.tls_key_file), resolve(&s.client_ca_file));
    let tls = tls::server_tls(cert.as_deref(), key.as_deref(), ca.as_deref(), problems);
    if s.max_body_bytes == 0 || s.max_body_bytes > MAX_BODY_LIMIT {
        problems.error("server.max_body_bytes", format!("must be between 1 and {MAX_BODY_LIMIT}"));
    }
    positive("server.header_read_timeout", s.header_read_timeout, problems);
    positive("server.request_timeout", s.request_timeout, problems);
    positive("server.idle_timeout", s.idle_timeout, problems);
    positive("server.write_timeout", s.write_timeout, problems);
    for (key, n) in [("server.max_connections", s.max_connections), ("server.max_in_flight", s.max_in_flight)] {
        if n == 0 || n > MAX_CONNECTIONS_LIMIT {
            problems.error(key, format!("must be between 1 and {MAX_CONNECTIONS_LIMIT}"));
        }
    }
    Some(ServerSettings {
        listen: listen?,
        tls: tls?,
        max_body_bytes: usize::try_from(s.max_body_bytes.min(MAX_BODY_LIMIT)).ok()?,
        header_read_timeout: s.header_read_timeout,
        request_timeout: s.request_timeout,
        idle_timeout: s.idle_timeout,
        write_timeout: s.write_timeout,
        max_connections: usize::try_from(s.max_connections.clamp(1, MAX_CONNECTIONS_LIMIT)).ok()?,
        max_in_flight: usize::try_from(s.max_in_flight.clamp(1, MAX_CONNECTIONS_LIMIT)).ok()?,
        shutdown_grace: s.shutdown_grace,
    })
}

/// Checks `scheme://host[:port]` with nothing else.
fn base_url(key: &str, text: &str, allow_plaintext: bool, problems: &mut Problems) -> Option<BaseUrl> {
    let uri: hyper::Uri = match text.parse() {
        Ok(u) => u,
        Err(_) => {
            problems.error(key, format!("{text:?} is not a URL"));
            return None;
        }
    };
    let scheme = uri.scheme_str().unwrap_or("");
    let Some(authority) = uri.authority() else {
        problems.error(key, format!("{text:?} has no host; write scheme://host[:port]"));
        return None;
    };
    let mut ok = true;
    match scheme {
        "https" => {}
        "http" if allow_plaintext => {}
        "http" => {
            problems.error(key, "http:// is refused: use https://, or set upstream.allow_plaintext = true for testing");
            ok = false;
        }
        _ => {
            problems.error(key, format!("scheme must be https, not {scheme:?}"));
            ok = false;
        }
    }
    if authority.as_str().contains('@') {
        problems.error(key, "must not carry user information");
        ok = false;
    }
    if uri.path_and_query().is_some_and(|p| p.as_str() != "/") || text.ends_with('?') {
        problems.error(key, "must not carry a path or query: write scheme://host[:port]");
        ok = false;
    }
    ok.then(|| BaseUrl(format!("{scheme}://{authority}")))
}

fn upstream(u: raw::Upstream, base: &Path, problems: &mut Problems) -> Option<UpstreamSettings> {
    let url = match &u.url {
        Some(text) => base_url("upstream.url", text, u.allow_plaintext, problems),
        None => {
            problems.error("upstream.url", "required");
            None
        }
    };
    let roots = match &u.ca_file {
        Some(file) => Some(tls::load_roots("upstream.ca_file", &secret::resolve_path(base, file), problems)?),
        None => None,
    };
    positive("upstream.connect_timeout", u.connect_timeout, problems);
    positive("upstream.timeout", u.timeout, problems);
    if u.login_failure_threshold == 0 {
        problems.error("upstream.login_failure_threshold", "must be at least 1");
    }
    let http2 = match u.http2.as_str() {
        "auto" => true,
        "never" => false,
        other => {
            problems.error("upstream.http2", format!("must be \"auto\" or \"never\", not {other:?}"));
            false
        }
    };
    if u.max_connections == 0 || u.max_connections > MAX_CONNECTIONS_LIMIT {
        problems.error("upstream.max_connections", format!("must be between 1 and {MAX_CONNECTIONS_LIMIT}"));
    }
    Some(UpstreamSettings {
        url: url?,
        roots,
        connect_timeout: u.connect_timeout,
        timeout: u.timeout,
        allow_plaintext: u.allow_plaintext,
        http2,
        max_connections: usize::try_from(u.max_connections.clamp(1, MAX_CONNECTIONS_LIMIT)).ok()?,
        forward_traceparent: u.forward_traceparent,
        login_failure_threshold: u.login_failure_threshold,
        login_failure_cooldown: u.login_failure_cooldown,
    })
}

fn algorithms(list: &[String], problems: &mut Problems) -> Vec<Algorithm> {
    let mut out = Vec::new();
    for (i, name) in list.iter().enumerate() {
        if name.eq_ignore_ascii_case("none") {
            problems.error(format!("auth.algorithms[{i}]"), "\"none\" is never allowed");
        } else if let Ok(alg) = name.parse::<Algorithm>() {
            out.push(alg);
        } else {
            problems.error(format!("auth.algorithms[{i}]"), format!("unknown algorithm {name:?}"));
        }
    }
    if list.is_empty() {
        problems.error("auth.algorithms", "must list at least one algorithm");
    }
    out
}

fn auth(a: raw::Auth, base: &Path, problems: &mut Problems) -> Option<AuthSettings> {
    if a.issuers.is_empty() || a.issuers.iter().any(String::is_empty) {
        problems.error("auth.issuers", "required: a non-empty list of non-empty strings");
    }
    if a.audiences.is_empty() || a.audiences.iter().any(String::is_empty) {
        problems.error("auth.audiences", "required: a non-empty list of non-empty strings");
    }
    let algorithms = algorithms(&a.algorithms, problems);
    if a.max_token_lifetime.is_some_and(|d| d.is_zero()) {
        problems.error("auth.max_token_lifetime", "must be longer than zero");
    }
    let mut keys = Vec::new();
    if let Some(file) = &a.jwks_file {
        let path = secret::resolve_path(base, file);
        problems.read(&path);
        match std::fs::read_to_string(&path) {
            Ok(text) => match keys::from_jwks(&text) {
                Ok((found, skipped)) => {
                    for why in skipped {
                        problems.warn("auth.jwks_file", why);
                    }
                    keys.extend(found);
                }
                Err(e) => problems.error("auth.jwks_file", format!("{}: {e}", path.display())),
            },
            Err(e) => problems.error("auth.jwks_file", format!("cannot read {}: {e}", path.display())),
        }
    }
    for (i, h) in a.hmac.iter().enumerate() {
        let key = format!("auth.hmac[{i}]");
        let src = SecretSource {
            key: format!("{key}.secret"),
            inline: h.secret.as_deref(),
            env: h.secret_env.as_deref(),
            file: h.secret_file.as_deref(),
        };
        let secret = secret::resolve(src, base, problems, true);
        match keys::hmac_alg(h.alg.as_deref().unwrap_or("HS256")) {
            Ok(alg) => keys.extend(secret.map(|s| keys::from_hmac(&h.kid, alg, &s))),
            Err(e) => problems.error(format!("{key}.alg"), e),
        }
    }
    for (i, p) in a.pem.iter().enumerate() {
        let path = secret::resolve_path(base, &p.file);
        problems.read(&path);
        match std::fs::read(&path) {
            Ok(bytes) => match keys::from_pem(&p.kid, &p.alg, &bytes) {
                Ok(k) => keys.push(k),
                Err(e) => problems.error(format!("auth.pem[{i}]"), format!("{}: {e}", path.display())),
            },
            Err(e) => problems.error(format!("auth.pem[{i}].file"), format!("cannot read {}: {e}", path.display())),
        }
    }
    let jwks = jwks(&a, base, problems);
    if a.jwks_file.is_none() && a.jwks_url.is_none() && a.hmac.is_empty() && a.pem.is_empty() {
        problems.error("auth", "no verification key: set jwks_file, jwks_url, [[auth.hmac]] or [[auth.pem]]");
    }
    for k in &keys {
        if !algorithms.contains(&k.alg) {
            problems.warn(
                "auth.algorithms",
                format!("key {} is {:?}, which is not allowed: it will verify nothing", k.label(), k.alg),
            );
        }
    }
    Some(AuthSettings {
        issuers: a.issuers,
        audiences: a.audiences,
        algorithms,
        leeway: a.leeway,
        max_token_lifetime: a.max_token_lifetime,
        required_claims: a.required_claims,
        keys: keys.into_iter().map(std::sync::Arc::new).collect(),
        jwks,
    })
}

/// `auth.jwks_url` (https only) and its companions.
fn jwks(a: &raw::Auth, base: &Path, problems: &mut Problems) -> Option<JwksSettings> {
    positive("auth.jwks_refresh", a.jwks_refresh, problems);
    // Below a second the IdP is fetched from about as fast as tokens can name
    // unknown kids (one fetch at a time still): allowed, but said.
    for (key, d) in [("auth.jwks_refresh", a.jwks_refresh), ("auth.jwks_min_refetch", a.jwks_min_refetch)] {
        if a.jwks_url.is_some() && d < std::time::Duration::from_secs(1) {
            problems.warn(key, "below 1s: the IdP may be fetched from very often");
        }
    }
    let Some(text) = &a.jwks_url else {
        for (key, set) in [("auth.jwks_ca_file", a.jwks_ca_file.is_some())] {
            if set {
                problems.error(key, "only used with auth.jwks_url");
            }
        }
        return None;
    };
    let url = match text.parse::<hyper::Uri>() {
        Ok(u) if u.authority().is_some_and(|a| a.as_str().contains('@')) => {
            problems.error("auth.jwks_url", "must not carry user information");
            None
        }
        Ok(u) if u.scheme_str() == Some("https") && u.authority().is_some() => Some(u),
        Ok(u) if u.scheme_str() == Some("http") => {
            problems.error("auth.jwks_url", "must be https:// (keys fetched in the clear could be replaced)");
            None
        }
        _ => {
            problems.error("auth.jwks_url", format!("{text:?} is not an https:// URL"));
            None
        }
    };
    let roots = match &a.jwks_ca_file {
        Some(file) => Some(tls::load_roots("auth.jwks_ca_file", &secret::resolve_path(base, file), problems)?),
        None => None,
    };
    Some(JwksSettings { url: url?, roots, refresh: a.jwks_refresh, min_refetch: a.jwks_min_refetch })
}

fn audit(a: raw::Audit, base: &Path, problems: &mut Problems) -> Option<AuditSettings> {
    let sink = match (a.sink.as_str(), &a.path) {
        ("stdout", None) => Some(AuditSinkKind::Stdout),
        ("stdout", Some(_)) => {
            problems.error("audit.path", "only used with sink = \"file\"");
            None
        }
        ("file", Some(p)) => Some(AuditSinkKind::File(secret::resolve_path(base, p))),
        ("file", None) => {
            problems.error("audit.path", "required when sink = \"file\"");
            None
        }
        (other, _) => {
            problems.error("audit.sink", format!("must be \"stdout\" or \"file\", not {other:?}"));
            None
        }
    };
    let src = SecretSource {
        key: "audit.hmac_key".into(),
        inline: a.hmac_key.as_deref(),
        env: a.hmac_key_env.as_deref(),
        file: a.hmac_key_file.as_deref(),
    };
    let hmac_key = secret::resolve(src, base, problems, false);
    if a.fsync && a.sink == "stdout" {
        problems.error("audit.fsync", "only used with sink = \"file\"");
    }
    Some(AuditSettings { sink: sink?, hmac_key, include_notes: a.include_notes, fsync: a.fsync })
}

fn profiles(
    list: Vec<raw::Profile>,
    url: Option<&BaseUrl>,
    allow_plaintext: bool,
    base: &Path,
    problems: &mut Problems,
) -> Vec<Profile> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, p) in list.into_iter().enumerate() {
        let key = format!("profile[{i}]");
        if p.name.is_empty() || !seen.insert(p.name.clone()) {
            problems.error(format!("{key}.name"), format!("{:?} is empty or used twice", p.name));
        }
        for (field, value) in [("customer_name", &p.customer_name), ("user_name", &p.user_name)] {
            if value.is_empty() {
                problems.error(format!("{key}.{field}"), "must not be empty");
            }
        }
        let src = SecretSource {
            key: format!("{key}.password"),
            inline: p.password.as_deref(),
            env: p.password_env.as_deref(),
            file: p.password_file.as_deref(),
        };
        let password = secret::resolve(src, base, problems, true);
        let upstream = match &p.upstream_url {
            Some(own) => base_url(&format!("{key}.upstream_url"), own, allow_plaintext, problems),
            None => url.cloned(),
        };
        if let (Some(password), Some(upstream)) = (password, upstream) {
            out.push(Profile {
                name: p.name,
                customer_name: p.customer_name,
                user_name: p.user_name,
                redactor: Redactor::new(&password),
                password,
                upstream,
            });
        }
    }
    out
}
