//! One request, top to bottom. `handle` cannot fail: it runs `try_handle`,
//! turns any `GatewayError` into a ServiceStack-shaped answer, counts it and
//! writes the audit "response" record. `try_handle` is the whole story:
//! route -> auth -> grant -> profile -> request shape -> body -> audit ->
//! upstream -> relay. The SPEC orders the checks so that nothing about the
//! body is looked at before the caller is known, and nothing reaches
//! HostedSuite before every check passed and the audit record is written.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue, ALLOW, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};
use tokio::time::Instant;

use crate::audit::Exchange;
use crate::auth::{self, Claims, TokenError};
use crate::config::{Config, Profile};
use crate::error::{Answer, Extra, GatewayError};
use crate::inject::CallerFields;
use crate::metrics::{RouteMetrics, UpstreamFailure};
use crate::relay::{self, RelayError, Relayed};
use crate::routes::Route;
use crate::state::{Runtime, Shared, NO_ROUTE};
use crate::upstream::{UpstreamError, TRACEPARENT, X_REQUEST_ID};
use crate::{body, breaker, grants, inject, ratelimit};

pub type GatewayResponse = Response<Full<Bytes>>;

/// Who is on the other end of the connection.
#[derive(Debug, Clone)]
pub struct Caller {
    pub peer: SocketAddr,
    /// `peer` as the audit writes it, formatted once per connection (so
    /// made only by [`Caller::new`], which keeps the two in step).
    addr: Arc<str>,
    /// The subject of the TLS client certificate (mTLS).
    pub client_cert: Option<Arc<str>>,
}

impl Caller {
    pub fn new(peer: SocketAddr, client_cert: Option<Arc<str>>) -> Caller {
        Caller { peer, addr: Arc::from(peer.to_string()), client_cert }
    }
}

/// The trace id of a valid W3C `traceparent` header (`00-<trace>-<parent>-<flags>`).
pub fn trace_id(headers: &HeaderMap) -> Option<String> {
    let mut values = headers.get_all(TRACEPARENT).iter();
    let (Some(value), None) = (values.next(), values.next()) else { return None };
    let text = value.to_str().ok()?.trim();
    let mut parts = text.split('-');
    let (version, trace, parent, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let valid = hex(version, 2)
        && version != "ff"
        && (version != "00" || parts.next().is_none())
        && hex(trace, 32)
        && trace.bytes().any(|b| b != b'0')
        && hex(parent, 16)
        && parent.bytes().any(|b| b != b'0')
        && hex(flags, 2);
    valid.then(|| trace.to_owned())
}

/// Answers one request; never fails. `request_id` comes from
/// [`request_id`], taken by the caller so that it can answer with the same id
/// should this task panic.
pub async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    caller: Caller,
    request_id: String,
) -> GatewayResponse {
    let runtime = shared.runtime.load_full();
    let deadline = Instant::now() + runtime.config.server.request_timeout;
    let path = req.uri().path().to_owned();
    let started = Instant::now();
    let mut exchange = Exchange::new(runtime.audit.clone(), &request_id, &caller.addr, req.method().as_str(), &path);
    exchange.record.client_cert = caller.client_cert.as_deref().map(str::to_owned);
    exchange.record.trace_id = trace_id(req.headers());
    let outcome = try_handle(&shared, &runtime, req, &mut exchange, deadline).await;
    let response = match outcome {
        Ok(relayed) => {
            exchange.record.error_code = relayed.error_code.clone();
            relayed_response(relayed, &request_id)
        }
        Err(e) => {
            let answer = e.answer();
            exchange.record.error_code = Some(answer.code.to_owned());
            exchange.record.decision = answer.decision.as_str();
            error_response(answer, &request_id)
        }
    };
    let status = response.status().as_u16();
    let route = exchange.record.route.as_deref().unwrap_or(NO_ROUTE);
    let elapsed = started.elapsed();
    log_answer(&exchange.record, route, status, elapsed);
    let counters = Counters::of(&runtime, route);
    exchange.finish(status).await;
    // Counted after the last await: a task that shutdown ends before this
    // point is counted once, with the answer its caller gets instead.
    counters.request(&shared, status, elapsed);
    response
}

/// Where one answer is counted (`hsgate_requests_total`,
/// `hsgate_request_duration_seconds`): the route's handles, or, for a route
/// the config in force does not know, its label.
enum Counters<'a> {
    Route(&'a RouteMetrics),
    Label(String),
}

impl<'a> Counters<'a> {
    fn of(runtime: &'a Runtime, route: &str) -> Counters<'a> {
        match runtime.route_metrics(route) {
            Some(m) => Counters::Route(m),
            None => Counters::Label(route.to_owned()),
        }
    }

    fn request(&self, shared: &Shared, status: u16, elapsed: std::time::Duration) {
        match self {
            Counters::Route(m) => m.request(status, elapsed.as_secs_f64()),
            Counters::Label(route) => shared.metrics.request(route, status, elapsed.as_secs_f64()),
        }
    }
}

/// A request whose task ended without its answer (it panicked, or shutdown
/// ended it): counted under the route its path names.
pub fn count_unanswered(shared: &Shared, path: &str, status: u16, elapsed: std::time::Duration) {
    let runtime = shared.runtime.load();
    let route = runtime.config.routes.by_path(path).map_or(NO_ROUTE, |m| m.route.name.as_str());
    Counters::of(&runtime, route).request(shared, status, elapsed);
}

/// The one log line of every request (no span: events inside a request
/// carry `request_id` themselves, which spares a span per request);
/// an answer of ours that is a server error is a warning.
fn log_answer(record: &crate::audit::AuditRecord, route: &str, status: u16, elapsed: std::time::Duration) {
    let duration_ms = elapsed.as_secs_f64() * 1000.0;
    let (request_id, method, path) = (record.request_id.as_str(), record.method.as_str(), record.path.as_str());
    let error_code = record.error_code.as_deref();
    let trace_id = record.trace_id.as_deref();
    if status >= 500 {
        tracing::warn!(request_id, method, path, route, status, duration_ms, error_code, trace_id, "request");
    } else {
        tracing::info!(request_id, method, path, route, status, duration_ms, error_code, trace_id, "request");
    }
}

async fn try_handle(
    shared: &Shared,
    runtime: &Runtime,
    req: Request<Incoming>,
    ex: &mut Exchange,
    deadline: Instant,
) -> Result<Relayed, GatewayError> {
    let config = &runtime.config;
    let matched = config.routes.by_path(req.uri().path()).ok_or(GatewayError::NotFound)?;
    let route = matched.route;
    ex.record.route = Some(route.name.clone());
    // Shed load before any work but naming the route (its record and metrics
    // say which route was shed): the permit is held for the whole request.
    let _admitted = shared.admission.clone().try_acquire_owned().map_err(|_| GatewayError::Overloaded)?;
    if req.method() != Method::POST {
        return Err(GatewayError::MethodNotAllowed);
    }

    let token = auth::bearer(req.headers()).map_err(|why| {
        shared.metrics.auth_failure("missing_token");
        GatewayError::MissingToken(why)
    })?;
    let claims = verify(shared, config, token, deadline, &ex.record.request_id).await.inspect_err(|e| {
        shared.metrics.auth_failure(e.reason());
    })?;
    ex.record.subject = claims.subject().map(str::to_owned);
    ex.record.issuer = claims.issuer().map(str::to_owned);
    ex.record.token_id = claims.token_id().map(str::to_owned);

    let grant = grants::grant_for(&config.grants, &claims).ok_or(GatewayError::NoGrant)?;
    ex.record.grant = Some(grant.name.clone());
    if !grant.routes.contains(&route.name) {
        return Err(GatewayError::RouteNotGranted);
    }
    let profile_name = grants::profile_for(grant, req.headers())?;
    let profile = config.profiles.iter().find(|p| p.name == profile_name).ok_or(GatewayError::Internal)?;
    ex.record.profile = Some(profile.name.clone());
    ex.record.customer_name = Some(profile.customer_name.clone());
    ex.record.user_name = Some(profile.user_name.clone());
    if let Some(limiter) = runtime.limiters.get(&grant.name) {
        limiter.check().map_err(|wait| GatewayError::RateLimited(ratelimit::retry_after_secs(wait)))?;
    }

    // `?` alone is a query too: HostedSuite would bind query values over the body.
    if req.uri().query().is_some() {
        return Err(GatewayError::QueryNotAllowed);
    }
    if !body::is_json(req.headers(), matched.kind.accepts_text_plain()) {
        return Err(GatewayError::UnsupportedMediaType);
    }
    // Only a valid one (it gave the record its trace id), and only if asked for.
    let traceparent = match (config.upstream.forward_traceparent, &ex.record.trace_id) {
        (true, Some(_)) => req.headers().get(TRACEPARENT).cloned(),
        (true, None) | (false, _) => None,
    };
    let (parts, incoming) = req.into_parts();
    let bytes = body::read(&parts.headers, incoming, config.server.max_body_bytes, deadline).await?;
    let fields = inject::parse(&bytes, route)?;
    ex.record.call_id = fields.call_id().map(str::to_owned);
    if let Some(notes) = fields.notes() {
        ex.notes(notes, &runtime.notes);
    }
    let checked = Checked { route, profile, fields: &fields, traceparent };
    forward(shared, runtime, &checked, ex, deadline).await
}

/// The token's claims. A token verified before with the key set in force is
/// taken from the cache, its claim rules (time included) checked again; else
/// its signature is verified, and a `kid` no key has may refetch `jwks_url`
/// once (rate-limited there) before it is refused.
async fn verify(
    shared: &Shared,
    config: &Config,
    token: &str,
    deadline: Instant,
    request_id: &str,
) -> Result<Arc<Claims>, TokenError> {
    let now = auth::jwt::unix_now();
    let keys = shared.keys.current();
    let cache_key = shared.tokens.key(token);
    if let Some((claims, alg)) = cache_key.and_then(|k| shared.tokens.get(&k, keys.generation())) {
        shared.metrics.token_cache_hits.inc();
        let allowed = if config.auth.algorithms.contains(&alg) { Ok(()) } else { Err(TokenError::AlgorithmNotAllowed) };
        return match allowed.and_then(|()| auth::jwt::check_claims(&config.auth, &claims, now)) {
            Ok(()) => Ok(claims),
            Err(e) => {
                if let Some(k) = cache_key {
                    shared.tokens.remove(&k);
                }
                Err(e)
            }
        };
    }
    shared.metrics.token_cache_misses.inc();
    let (claims, keys) = match auth::verify(&config.auth, &keys, token, now) {
        Err(TokenError::UnknownKey) => {
            let Some(jwks) = shared.jwks.current() else { return Err(TokenError::UnknownKey) };
            // Boxed: a rare path, kept out of every request's task.
            match tokio::time::timeout_at(deadline, Box::pin(jwks.refetch(Some(request_id)))).await {
                Ok(true) => {
                    let keys = shared.keys.current();
                    (auth::verify(&config.auth, &keys, token, auth::jwt::unix_now())?, keys)
                }
                Ok(false) | Err(_) => return Err(TokenError::UnknownKey),
            }
        }
        other => (other?, keys),
    };
    let claims = Arc::new(claims);
    if let (Some(k), Some(alg)) = (cache_key, auth::jwt::header_alg(token)) {
        shared.tokens.insert(k, claims.clone(), alg, keys.generation(), token.len());
    }
    Ok(claims)
}

/// A request that passed every check, ready to go upstream.
struct Checked<'a> {
    route: &'a Route,
    profile: &'a Profile,
    fields: &'a CallerFields,
    /// The caller's `traceparent`, when it is valid and `upstream.forward_traceparent` is on.
    traceparent: Option<HeaderValue>,
}

/// The checked request to HostedSuite and its answer back: breaker, audit
/// gate, upstream call, relay.
async fn forward(
    shared: &Shared,
    runtime: &Runtime,
    checked: &Checked<'_>,
    ex: &mut Exchange,
    deadline: Instant,
) -> Result<Relayed, GatewayError> {
    let Checked { route, profile, fields, traceparent } = checked;
    let config = &runtime.config;
    let threshold = config.upstream.login_failure_threshold;
    let slot = shared.breakers.admit(&profile.name, threshold, deadline).await.map_err(|e| match e {
        breaker::Refused::Suspended => GatewayError::ProfileSuspended,
        breaker::Refused::Busy => GatewayError::ProfileBusy,
    })?;
    let upstream_body = inject::inject(fields, profile).map_err(|_| GatewayError::Internal)?;
    let target = runtime.upstream_target(&profile.name, &route.name).ok_or(GatewayError::Internal)?;
    ex.write_request(deadline).await.map_err(|_| GatewayError::AuditUnavailable)?;

    let sent = Instant::now();
    let answer = runtime
        .upstream
        .post(target, upstream_body, &ex.record.request_id, traceparent.as_ref(), deadline, config.upstream.timeout)
        .await;
    ex.upstream_ms(sent);
    let seconds = sent.elapsed().as_secs_f64();
    let answer = match answer {
        Ok(a) => {
            if let Some(m) = runtime.route_metrics(&route.name) {
                m.upstream(a.status.as_u16(), seconds);
            }
            ex.record.upstream_status = Some(a.status.as_u16());
            a
        }
        Err(e) => {
            let (failure, err) = match &e {
                UpstreamError::Timeout => (UpstreamFailure::Timeout, GatewayError::UpstreamTimeout),
                UpstreamError::Unavailable(_) => (UpstreamFailure::Error, GatewayError::UpstreamUnavailable),
                UpstreamError::BadResponse(_) => (UpstreamFailure::Error, GatewayError::UpstreamBadResponse),
            };
            if let Some(m) = runtime.route_metrics(&route.name) {
                m.upstream_failed(failure, seconds);
            }
            tracing::warn!(request_id = %ex.record.request_id, error = %e, "upstream request failed");
            return Err(err);
        }
    };

    match relay::relay(answer, &profile.redactor) {
        Err(RelayError::LoginRefused) => {
            slot.refused(threshold, config.upstream.login_failure_cooldown, Instant::now());
            tracing::warn!(request_id = %ex.record.request_id, profile = %profile.name, "HostedSuite refused the stored login");
            Err(GatewayError::UpstreamCredentialsRejected)
        }
        Err(e @ (RelayError::NotJson | RelayError::BadStatus | RelayError::TooLarge)) => {
            // An answer that is not a refused login resets the count (SPEC §4).
            slot.accepted();
            tracing::warn!(request_id = %ex.record.request_id, error = %e, "HostedSuite's answer cannot be relayed");
            Err(GatewayError::UpstreamBadResponse)
        }
        Ok(mut relayed) => {
            slot.accepted();
            ex.record.redacted = Some(relayed.redacted);
            ex.record.result = relayed.result.take();
            Ok(relayed)
        }
    }
}

/// The caller's `X-Request-Id` if it is exactly one well-formed value, else a fresh one.
pub fn request_id(headers: &HeaderMap) -> String {
    let mut values = headers.get_all(X_REQUEST_ID).iter();
    if let (Some(v), None) = (values.next(), values.next()) {
        if let Ok(text) = v.to_str() {
            let ok = (1..=128).contains(&text.len())
                && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
            if ok {
                return text.to_owned();
            }
        }
    }
    fresh_request_id()
}

/// A process-wide random prefix and a counter: unique across replicas and
/// restarts, and cheap (the system RNG, with its entropy gathering, is asked
/// once per process, not once per request). Request ids are not secrets.
fn fresh_request_id() -> String {
    static PREFIX: std::sync::OnceLock<[u8; 8]> = std::sync::OnceLock::new();
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let mut bytes = [0u8; 8];
        if aws_lc_rs::rand::fill(&mut bytes).is_err() {
            // No randomness: the start time still tells processes apart.
            let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
            bytes = (n as u64).to_be_bytes();
        }
        bytes
    });
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(prefix);
    id[8..].copy_from_slice(&n.to_be_bytes());
    crate::hexstr::lower(&id)
}

fn with_headers(status: StatusCode, content_type: HeaderValue, body: Bytes, request_id: &str) -> GatewayResponse {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, content_type);
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert(X_REQUEST_ID, v);
    }
    response
}

fn relayed_response(relayed: Relayed, request_id: &str) -> GatewayResponse {
    with_headers(relayed.status, relayed.content_type, relayed.body, request_id)
}

/// A gateway-made, ServiceStack-shaped error.
pub fn error_response(answer: Answer, request_id: &str) -> GatewayResponse {
    let doc = serde_json::json!({
        "ResponseStatus": {"ErrorCode": answer.code, "Message": answer.message, "Errors": answer.errors}
    });
    let body = serde_json::to_vec(&doc).unwrap_or_default();
    let mut response =
        with_headers(answer.status, HeaderValue::from_static("application/json"), body.into(), request_id);
    let headers = response.headers_mut();
    match answer.extra {
        Extra::None => {}
        Extra::Challenge(challenge) => {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        Extra::Allow(methods) => {
            headers.insert(ALLOW, HeaderValue::from_static(methods));
        }
        Extra::RetryAfter(secs) => {
            headers.insert(RETRY_AFTER, HeaderValue::from(secs));
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_id_kept_only_when_well_formed() {
        let mut h = HeaderMap::new();
        h.insert(X_REQUEST_ID, HeaderValue::from_static("abc.DEF_1-2"));
        assert_eq!(request_id(&h), "abc.DEF_1-2");
        for bad in ["has space", "a/b", ""] {
            h.insert(X_REQUEST_ID, HeaderValue::from_str(bad).unwrap());
            let got = request_id(&h);
            assert_ne!(got, bad);
            assert_eq!(got.len(), 32);
        }
        h.insert(X_REQUEST_ID, HeaderValue::from_str(&"r".repeat(129)).unwrap());
        assert_eq!(request_id(&h).len(), 32);
        h.insert(X_REQUEST_ID, HeaderValue::from_static("one"));
        h.append(X_REQUEST_ID, HeaderValue::from_static("two"));
        assert_eq!(request_id(&h).len(), 32);
        assert_ne!(request_id(&HeaderMap::new()), request_id(&HeaderMap::new()));
    }

    #[test]
    fn error_bodies_are_servicestack_shaped_with_auth_headers() {
        let r = error_response(GatewayError::InvalidToken(auth::TokenError::Expired).answer(), "rid-1");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()[WWW_AUTHENTICATE], "Bearer realm=\"hsgate\", error=\"invalid_token\"");
        assert_eq!(r.headers()[X_REQUEST_ID], "rid-1");
        let r = error_response(GatewayError::MethodNotAllowed.answer(), "rid-2");
        assert_eq!(r.headers()[ALLOW], "POST");
    }

    #[test]
    fn trace_id_only_from_a_valid_traceparent() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert("traceparent", HeaderValue::from_str(v).unwrap());
            trace_id(&h)
        };
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_eq!(with(&format!("00-{trace}-00f067aa0ba902b7-01")).as_deref(), Some(trace));
        assert_eq!(with(&format!("01-{trace}-00f067aa0ba902b7-01-future")).as_deref(), Some(trace));
        for bad in [
            format!("ff-{trace}-00f067aa0ba902b7-01"),
            format!("00-{}-00f067aa0ba902b7-01", "0".repeat(32)),
            format!("00-{trace}-0000000000000000-01"),
            format!("00-{}-00f067aa0ba902b7-01", trace.to_uppercase()),
            format!("00-{trace}-00f067aa0ba902b7-01-extra"),
            "00-abc-def-01".to_owned(),
            String::new(),
        ] {
            assert_eq!(with(&bad), None, "{bad}");
        }
        assert_eq!(trace_id(&HeaderMap::new()), None);
    }

    #[test]
    fn bare_question_mark_is_a_query() {
        let uri: hyper::Uri = "/api/calls/update?".parse().unwrap();
        assert_eq!(uri.query(), Some(""));
        assert_eq!(uri.path(), "/api/calls/update");
    }
}
