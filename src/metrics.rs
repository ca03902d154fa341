//! Prometheus metrics (SPEC §5), kept in a prometheus-client registry and
//! rendered by `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::OnceLock;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteStatus {
    pub route: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteReason {
    pub route: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Version {
    version: String,
}

fn seconds_histogram() -> Histogram {
    // 1 ms .. ~32 s
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// Every series the gateway exports.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RouteStatus, Counter>,
    pub request_duration: Histogram,
    pub upstream_requests: Family<RouteStatus, Counter>,
    /// Requests to HostedSuite that got no answer, by why (`status` is a decimal status only).
    pub upstream_failures: Family<RouteReason, Counter>,
    pub upstream_duration: Histogram,
    pub auth_failures: Family<Reason, Counter>,
    pub audit_write_failures: Counter,
    pub config_reloads: Family<ResultLabel, Counter>,
    /// Gateway connections closed by one of their deadlines, by reason.
    pub connections_closed: Family<Reason, Counter>,
    /// Tokens whose verification came from the cache, and those verified.
    pub token_cache_hits: Counter,
    pub token_cache_misses: Counter,
    /// `jwks_url` fetches by result.
    pub jwks_fetches: Family<ResultLabel, Counter>,
    /// Keys from the last successful `jwks_url` fetch.
    pub jwks_keys: Gauge,
    /// Seconds since the last successful `jwks_url` fetch (set when scraped).
    pub jwks_age: Gauge<f64, std::sync::atomic::AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RouteStatus, Counter>::default();
        let request_duration = seconds_histogram();
        let upstream_requests = Family::<RouteStatus, Counter>::default();
        let upstream_failures = Family::<RouteReason, Counter>::default();
        let upstream_duration = seconds_histogram();
        let auth_failures = Family::<Reason, Counter>::default();
        let audit_write_failures = Counter::default();
        let config_reloads = Family::<ResultLabel, Counter>::default();
        let connections_closed = Family::<Reason, Counter>::default();
        let jwks_fetches = Family::<ResultLabel, Counter>::default();
        let token_cache_hits = Counter::default();
        let token_cache_misses = Counter::default();
        let jwks_keys = Gauge::default();
        let jwks_age = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        let build_info = Family::<Version, Gauge>::default();
        build_info.get_or_create(&Version { version: env!("CARGO_PKG_VERSION").into() }).set(1);

        // Counters get their `_total` suffix from the encoder.
        registry.register("hsgate_requests", "Requests answered on the gateway listener", requests.clone());
        registry.register(
            "hsgate_request_duration_seconds",
            "Time from request head to answer",
            request_duration.clone(),
        );
        registry.register("hsgate_upstream_requests", "Requests sent to HostedSuite", upstream_requests.clone());
        registry.register(
            "hsgate_upstream_failures",
            "Requests sent to HostedSuite that got no answer (timeout, error)",
            upstream_failures.clone(),
        );
        registry.register(
            "hsgate_upstream_duration_seconds",
            "Time HostedSuite took to answer",
            upstream_duration.clone(),
        );
        registry.register("hsgate_auth_failures", "Refused bearer tokens", auth_failures.clone());
        registry.register(
            "hsgate_audit_write_failures",
            "Audit records that could not be written",
            audit_write_failures.clone(),
        );
        registry.register("hsgate_config_reloads", "Config reload attempts", config_reloads.clone());
        registry.register(
            "hsgate_connections_closed",
            "Gateway connections closed by a deadline or at the connection cap",
            connections_closed.clone(),
        );
        registry.register("hsgate_jwks_fetches", "jwks_url fetches by result", jwks_fetches.clone());
        registry.register("hsgate_token_cache_hits", "Tokens found verified in the cache", token_cache_hits.clone());
        registry.register(
            "hsgate_token_cache_misses",
            "Tokens verified (not in the cache)",
            token_cache_misses.clone(),
        );
        registry.register("hsgate_jwks_keys", "Keys from the last successful jwks_url fetch", jwks_keys.clone());
        registry.register(
            "hsgate_jwks_age_seconds",
            "Seconds since the last successful jwks_url fetch",
            jwks_age.clone(),
        );
        registry.register("hsgate_build_info", "Build information", build_info);
        Metrics {
            registry,
            requests,
            request_duration,
            upstream_requests,
            upstream_failures,
            upstream_duration,
            auth_failures,
            audit_write_failures,
            config_reloads,
            connections_closed,
            jwks_fetches,
            token_cache_hits,
            token_cache_misses,
            jwks_keys,
            jwks_age,
        }
    }

    pub fn jwks_fetch(&self, result: &str) {
        self.jwks_fetches.get_or_create(&ResultLabel { result: result.into() }).inc();
    }

    pub fn config_reload(&self, result: &str) {
        self.config_reloads.get_or_create(&ResultLabel { result: result.into() }).inc();
    }

    pub fn request(&self, route: &str, status: u16, seconds: f64) {
        self.requests.get_or_create(&RouteStatus { route: route.into(), status: status.to_string() }).inc();
        self.request_duration.observe(seconds);
    }

    /// Counter handles for `route`, looked up once per label set instead of
    /// on every request (each lookup builds two label strings and takes the
    /// family's lock).
    pub fn for_route(&self, route: &str) -> RouteMetrics {
        RouteMetrics {
            requests: StatusCounters::new(&self.requests, route),
            upstream: StatusCounters::new(&self.upstream_requests, route),
            upstream_failures: FailureCounters::new(&self.upstream_failures, route),
            request_duration: self.request_duration.clone(),
            upstream_duration: self.upstream_duration.clone(),
        }
    }

    pub fn connection_closed(&self, reason: &str) {
        self.connections_closed.get_or_create(&Reason { reason: reason.into() }).inc();
    }

    pub fn auth_failure(&self, reason: &str) {
        self.auth_failures.get_or_create(&Reason { reason: reason.into() }).inc();
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// The request and upstream series of one route.
#[derive(Debug)]
pub struct RouteMetrics {
    requests: StatusCounters,
    upstream: StatusCounters,
    upstream_failures: FailureCounters,
    request_duration: Histogram,
    upstream_duration: Histogram,
}

impl RouteMetrics {
    /// An answer on the gateway listener.
    pub fn request(&self, status: u16, seconds: f64) {
        self.requests.inc_status(status);
        self.request_duration.observe(seconds);
    }

    /// An upstream answer, by its status.
    pub fn upstream(&self, status: u16, seconds: f64) {
        self.upstream.inc_status(status);
        self.upstream_duration.observe(seconds);
    }

    /// An upstream exchange that ended without an answer.
    pub fn upstream_failed(&self, failure: UpstreamFailure, seconds: f64) {
        let failures = &self.upstream_failures;
        let slot = match failure {
            UpstreamFailure::Timeout => &failures.timeout,
            UpstreamFailure::Error => &failures.error,
        };
        slot.get_or_init(|| failures.lookup(failure.label())).inc();
        self.upstream_duration.observe(seconds);
    }
}

/// Why an upstream exchange gave no answer: the `reason` label it counts under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamFailure {
    Timeout,
    Error,
}

impl UpstreamFailure {
    pub fn label(self) -> &'static str {
        match self {
            UpstreamFailure::Timeout => "timeout",
            UpstreamFailure::Error => "error",
        }
    }
}

/// Counters of one route by status, each made on first use and kept.
#[derive(Debug)]
struct StatusCounters {
    family: Family<RouteStatus, Counter>,
    route: String,
    /// Index `status - 100`, statuses 100..=599 (the only ones an answer can have).
    by_status: Box<[OnceLock<Counter>]>,
}

impl StatusCounters {
    fn new(family: &Family<RouteStatus, Counter>, route: &str) -> StatusCounters {
        StatusCounters {
            family: family.clone(),
            route: route.to_owned(),
            by_status: (100..600).map(|_| OnceLock::new()).collect(),
        }
    }

    fn inc_status(&self, status: u16) {
        match usize::from(status).checked_sub(100).and_then(|i| self.by_status.get(i)) {
            Some(slot) => slot.get_or_init(|| self.lookup(&status.to_string())).inc(),
            None => self.lookup(&status.to_string()).inc(),
        };
    }

    fn lookup(&self, status: &str) -> Counter {
        self.family.get_or_create(&RouteStatus { route: self.route.clone(), status: status.to_owned() }).clone()
    }
}

/// The upstream failures of one route, each counter made on first use and kept.
#[derive(Debug)]
struct FailureCounters {
    family: Family<RouteReason, Counter>,
    route: String,
    timeout: OnceLock<Counter>,
    error: OnceLock<Counter>,
}

impl FailureCounters {
    fn new(family: &Family<RouteReason, Counter>, route: &str) -> FailureCounters {
        FailureCounters {
            family: family.clone(),
            route: route.to_owned(),
            timeout: OnceLock::new(),
            error: OnceLock::new(),
        }
    }

    fn lookup(&self, reason: &str) -> Counter {
        self.family.get_or_create(&RouteReason { route: self.route.clone(), reason: reason.to_owned() }).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_spec_series() {
        let m = Metrics::new();
        m.request("calls.update", 200, 0.01);
        m.for_route("calls.update").upstream(200, 0.005);
        m.auth_failure("expired");
        m.audit_write_failures.inc();
        m.config_reloads.get_or_create(&ResultLabel { result: "success".into() }).inc();
        let text = m.render();
        for needle in [
            "hsgate_requests_total{route=\"calls.update\",status=\"200\"} 1",
            "hsgate_request_duration_seconds_bucket",
            "hsgate_upstream_requests_total{route=\"calls.update\",status=\"200\"} 1",
            "hsgate_upstream_duration_seconds_bucket",
            "hsgate_auth_failures_total{reason=\"expired\"} 1",
            "hsgate_audit_write_failures_total 1",
            "hsgate_config_reloads_total{result=\"success\"} 1",
            "hsgate_build_info{version=\"",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
    }

    #[test]
    fn route_handles_count_into_the_same_series_as_the_family() {
        let m = Metrics::new();
        let route = m.for_route("calls.update");
        route.request(200, 0.01);
        route.request(200, 0.01);
        m.request("calls.update", 200, 0.01);
        route.request(404, 0.01);
        route.upstream(502, 0.01);
        route.upstream_failed(UpstreamFailure::Timeout, 0.01);
        // Handles made again (after a reload) keep counting the same series.
        m.for_route("calls.update").request(200, 0.01);
        let text = m.render();
        for needle in [
            "hsgate_requests_total{route=\"calls.update\",status=\"200\"} 4",
            "hsgate_requests_total{route=\"calls.update\",status=\"404\"} 1",
            "hsgate_upstream_requests_total{route=\"calls.update\",status=\"502\"} 1",
            "hsgate_upstream_failures_total{route=\"calls.update\",reason=\"timeout\"} 1",
            "hsgate_request_duration_seconds_count 5",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
        // `status` is a decimal status on every series that has one.
        for line in text.lines().filter(|l| l.contains("status=\"")) {
            let status = line.split("status=\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap_or("");
            assert!(status.parse::<u16>().is_ok(), "{line}");
        }
    }
}
