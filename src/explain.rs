//! `hsgate explain`: the gateway's checks for one token, as a dry run with
//! no upstream call: which key verified it (or which rule refused it), the
//! claims that matter, the grant (and why earlier grants did not match), the
//! profile, the route and the upstream URL. No secret is printed: neither the
//! token, nor a password, nor key material.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use hyper::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde_json::Value;

use crate::auth::{self, jwks::JwksSource, Claims, KeySet, KeyStore};
use crate::commands::Fatal;
use crate::config::{self, Config, Grant};
use crate::error::GatewayError;
use crate::grants;
use crate::metrics::Metrics;

#[derive(clap::Args, Debug)]
pub struct ExplainArgs {
    /// Config file (TOML).
    #[arg(long, env = "HSGATE_CONFIG")]
    pub config: PathBuf,
    /// The bearer token to explain, bare or as the whole Authorization value ("Bearer ..."); `-` reads it
    /// from standard input (which keeps it out of the process list).
    #[arg(long)]
    pub token: Token,
    /// The profile the caller would ask for (the `HostedSuite-Profile` header).
    #[arg(long)]
    pub profile: Option<String>,
    /// The request target (path, and a query if the caller sends one); by default the first route's path.
    #[arg(long)]
    pub path: Option<String>,
}

/// A token as given on the command line; never printed (`Debug` hides it).
#[derive(Clone)]
pub struct Token(String);

impl std::str::FromStr for Token {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Token, Self::Err> {
        Ok(Token(s.to_owned()))
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token([redacted])")
    }
}

/// What the request would get.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Forwarded,
    /// The status and ErrorCode of the refusal.
    Refused(u16, &'static str),
}

impl Verdict {
    /// Exit 0 when the request would be forwarded, 3 when it would be refused.
    pub fn exit_code(&self) -> u8 {
        match self {
            Verdict::Forwarded => 0,
            Verdict::Refused(..) => 3,
        }
    }
}

/// The explanation text and its verdict.
#[derive(Debug)]
pub struct Report {
    pub text: String,
    pub verdict: Verdict,
}

/// Loads the config, fetches `jwks_url` once if there is one, and explains.
pub async fn run(args: &ExplainArgs) -> Result<Report, Fatal> {
    let config = config::load(&args.config)?;
    let token = if args.token.0 == "-" {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(|e| Fatal::Other(format!("cannot read the token: {e}")))?;
        line.trim().to_owned()
    } else {
        args.token.0.trim().to_owned()
    };
    let store = Arc::new(KeyStore::default());
    store.set_configured(config.auth.keys.clone());
    let mut notes = Vec::new();
    let source = JwksSource::default();
    if let Some(settings) = &config.auth.jwks {
        source
            .configure(Some(settings), &store, &Arc::new(Metrics::new()))
            .map_err(|e| Fatal::Other(format!("auth.jwks_url: {e}")))?;
        let fetched = match source.current() {
            Some(jwks) => jwks.refetch(None).await && store.fetched_len() > 0,
            None => false,
        };
        notes.push(if fetched {
            format!("{} key(s) fetched from {}", store.fetched_len(), settings.url)
        } else {
            format!("no key could be fetched from {} (see the log)", settings.url)
        });
    }
    let keys = store.current();
    let now = auth::jwt::unix_now();
    let mut report = explain(&config, &keys, &token, args.profile.as_deref(), args.path.as_deref(), now);
    for n in notes.iter().rev() {
        report.text.insert_str(0, &format!("note: {n}\n"));
    }
    Ok(report)
}

/// The checks of the gateway for `token` at time `now`, in the gateway's order.
pub fn explain(
    config: &Config,
    keys: &KeySet,
    token: &str,
    profile: Option<&str>,
    path: Option<&str>,
    now: f64,
) -> Report {
    let mut out = String::new();
    let verdict = match steps(&mut out, config, keys, token, profile, path, now) {
        Ok(()) => {
            let _ = writeln!(
                out,
                "not checked here: the method (POST), Content-Type and body, rate limits, admission (max_in_flight), \
                 the breaker, the audit write, HostedSuite's answer"
            );
            let _ = writeln!(out, "verdict: would be forwarded");
            Verdict::Forwarded
        }
        Err(e) => {
            let answer = e.answer();
            let status = answer.status.as_u16();
            let _ = writeln!(out, "verdict: would be refused: {status} {} ({})", answer.code, answer.message);
            Verdict::Refused(answer.status.as_u16(), answer.code)
        }
    };
    Report { text: out, verdict }
}

/// The checks of `gateway::try_handle` that need no request body, in its order.
fn steps(
    out: &mut String,
    config: &Config,
    keys: &KeySet,
    token: &str,
    profile: Option<&str>,
    target: Option<&str>,
    now: f64,
) -> Result<(), GatewayError> {
    let target = match target {
        Some(t) => t.to_owned(),
        None => config.routes.iter().next().map(|r| r.path.clone()).ok_or(GatewayError::NotFound)?,
    };
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target.as_str(), None),
    };
    let _ = writeln!(out, "route");
    let Some(matched) = config.routes.by_path(path) else {
        let _ = writeln!(out, "  path         {path} -> no route");
        return Err(GatewayError::NotFound);
    };
    let route = matched.route;
    let _ = writeln!(out, "  path         {path} -> route {}", route.name);

    let _ = writeln!(out, "token");
    // The text as the caller would send it: a bare token gets the scheme.
    let whole = token.contains(' ') || token.eq_ignore_ascii_case("bearer");
    let authorization = if whole { token.to_owned() } else { format!("Bearer {token}") };
    let mut headers = HeaderMap::new();
    let value = HeaderValue::from_str(&authorization).map_err(|_| GatewayError::MissingToken("not ASCII"))?;
    headers.insert(AUTHORIZATION, value);
    let token = auth::bearer(&headers).map_err(|why| {
        let _ = writeln!(out, "  refused      {why}");
        GatewayError::MissingToken(why)
    })?;
    if let Some(header) = auth::jwt::decode_header(token) {
        let alg = header.get("alg").map_or_else(|| "(none)".to_owned(), short);
        let kid = header.get("kid").map_or_else(|| "(none)".to_owned(), short);
        let _ = writeln!(out, "  header       alg {alg}, kid {kid}");
    }
    let claims = match auth::jwt::verify_by(&config.auth, keys, token, now) {
        Ok((claims, key)) => {
            let _ = writeln!(out, "  verified by  {}", key.label());
            claims
        }
        Err(e) => {
            let _ = writeln!(out, "  refused      {e}");
            return Err(e.into());
        }
    };
    print_claims(out, config, &claims, now);

    let _ = writeln!(out, "grants (the first match wins)");
    let chosen = grants::grant_for(&config.grants, &claims);
    for grant in &config.grants {
        if chosen.is_some_and(|c| std::ptr::eq(c, grant)) {
            let _ = writeln!(out, "  {:<12} matched", grant.name);
            break;
        }
        let why = mismatch(grant, &claims).unwrap_or_else(|| "does not match".to_owned());
        let _ = writeln!(out, "  {:<12} no: {why}", grant.name);
    }
    let grant = chosen.ok_or(GatewayError::NoGrant)?;
    if !grant.routes.contains(&route.name) {
        let _ = writeln!(out, "  not granted  grant {} may call [{}]", grant.name, grant.routes.join(", "));
        return Err(GatewayError::RouteNotGranted);
    }

    let mut headers = HeaderMap::new();
    if let Some(asked) = profile {
        let value = HeaderValue::from_str(asked).map_err(|_| GatewayError::ProfileNotGranted)?;
        headers.insert(grants::PROFILE_HEADER, value);
    }
    let _ = writeln!(out, "profile");
    let name = grants::profile_for(grant, &headers).inspect_err(|_| {
        let _ = writeln!(out, "  grant {} may use [{}]", grant.name, grant.profiles.join(", "));
    })?;
    let profile = config.profiles.iter().find(|p| p.name == name).ok_or(GatewayError::Internal)?;
    let _ =
        writeln!(out, "  {:<12} {} / {} (password not shown)", profile.name, profile.customer_name, profile.user_name);
    if query.is_some() {
        let _ = writeln!(out, "  query        the target has a query string");
        return Err(GatewayError::QueryNotAllowed);
    }
    let _ = writeln!(out, "upstream\n  POST         {}", profile.upstream.join(&route.path));
    Ok(())
}

/// Why `grant` does not match `claims`, if it does not: its first claim that fails.
fn mismatch(grant: &Grant, claims: &Claims) -> Option<String> {
    let (name, want) = grant.claims.iter().find(|(name, want)| !grants::claim_matches(claims.get(name), want))?;
    let have = claims.get(name).map_or_else(|| "no such claim".to_owned(), short);
    Some(format!("claim {name} must be {want}, the token has {have}"))
}

/// The claims the checks read: the registered ones and those the grants name.
fn print_claims(out: &mut String, config: &Config, claims: &Claims, now: f64) {
    let mut names: Vec<&str> = vec!["sub", "iss", "aud", "exp", "nbf", "iat", "jti"];
    for g in &config.grants {
        for (name, _) in &g.claims {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
    }
    for name in names {
        let Some(v) = claims.get(name) else { continue };
        let when = match (name, v.as_f64()) {
            ("exp" | "nbf" | "iat", Some(t)) => relative(t - now),
            _ => String::new(),
        };
        let _ = writeln!(out, "  claim {name:<6} {}{when}", short(v));
    }
}

fn relative(delta: f64) -> String {
    let secs = std::time::Duration::from_secs(delta.abs().min(1e12) as u64);
    let span = humantime::format_duration(secs);
    if delta >= 0.0 {
        format!(" (in {span})")
    } else {
        format!(" ({span} ago)")
    }
}

/// A claim value for the terminal: JSON, cut at 80 characters.
fn short(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(80) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text,
    }
}

#[cfg(test)]
mod tests;
