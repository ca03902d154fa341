//! The gateway's one error type and its mapping to HTTP status, ServiceStack
//! `ErrorCode` and message, in ONE exhaustive match (SPEC §4).
//!
//! Who is at fault decides the status: the caller gets 4xx, a misbehaving
//! upstream 502/504, and we answer 500/503 for our own trouble. Messages are
//! fixed texts or built from values we validated; they never carry a secret,
//! a token or internal error text.

use hyper::StatusCode;
use serde::Serialize;

use crate::auth::TokenError;

/// One problem with one field of the caller's body (`ResponseStatus.Errors[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FieldError {
    pub error_code: &'static str,
    pub field_name: String,
    pub message: String,
}

impl FieldError {
    pub fn new(error_code: &'static str, field_name: impl Into<String>, message: impl Into<String>) -> Self {
        Self { error_code, field_name: field_name.into(), message: message.into() }
    }
}

/// Everything that can end a request with a gateway-made answer.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("no route for this path")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("missing bearer token: {0}")]
    MissingToken(&'static str),
    #[error("invalid token: {0}")]
    InvalidToken(#[from] TokenError),
    #[error("no grant for this caller")]
    NoGrant,
    #[error("grant does not list this route")]
    RouteNotGranted,
    #[error("HostedSuite-Profile header required")]
    ProfileRequired,
    #[error("profile not granted")]
    ProfileNotGranted,
    #[error("rate limit reached; retry after {0} s")]
    RateLimited(u64),
    #[error("query string not allowed")]
    QueryNotAllowed,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("request body not received in time")]
    RequestTimeout,
    #[error("request body could not be read")]
    BodyRead,
    #[error("invalid request: {0}")]
    InvalidRequest(String, Vec<FieldError>),
    #[error("credentials in the request body")]
    CredentialsNotAllowed(Vec<FieldError>),
    #[error("profile suspended after refused logins")]
    ProfileSuspended,
    #[error("profile's login is being probed; no slot before the deadline")]
    ProfileBusy,
    #[error("audit record could not be written")]
    AuditUnavailable,
    #[error("HostedSuite refused the stored login")]
    UpstreamCredentialsRejected,
    #[error("HostedSuite answered with a body that is not JSON")]
    UpstreamBadResponse,
    #[error("HostedSuite unreachable")]
    UpstreamUnavailable,
    #[error("HostedSuite did not answer in time")]
    UpstreamTimeout,
    #[error("the gateway is shutting down")]
    ShuttingDown,
    #[error("too many requests in progress")]
    Overloaded,
    #[error("internal error")]
    Internal,
}

/// Whether the gateway refused the request before anything was forwarded
/// (audit `decision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Deny,
    Allow,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Deny => "deny",
            Decision::Allow => "allow",
        }
    }
}

/// A header some answers carry besides the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extra {
    None,
    /// `WWW-Authenticate` with this challenge.
    Challenge(&'static str),
    /// `Allow` with these methods.
    Allow(&'static str),
    /// `Retry-After` with this many seconds.
    RetryAfter(u64),
}

/// How an error is shown to the caller, and how the audit records it.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub errors: Vec<FieldError>,
    pub decision: Decision,
    pub extra: Extra,
}

const CHALLENGE: &str = "Bearer realm=\"hsgate\"";
const CHALLENGE_INVALID: &str = "Bearer realm=\"hsgate\", error=\"invalid_token\"";

impl GatewayError {
    /// Everything about the answer: status, ErrorCode, message, field errors,
    /// audit decision and extra header. ONE exhaustive match on purpose: a new
    /// variant must be placed here, every property decided, before it compiles.
    pub fn answer(&self) -> Answer {
        use Decision::{Allow, Deny};
        use GatewayError as E;
        let (status, code, message, errors, decision, extra): (
            StatusCode,
            &'static str,
            String,
            Vec<FieldError>,
            Decision,
            Extra,
        ) = match self {
            E::NotFound => (StatusCode::NOT_FOUND, "NotFound", "no such route".into(), vec![], Deny, Extra::None),
            E::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "only POST is allowed".into(),
                vec![],
                Deny,
                Extra::Allow("POST"),
            ),
            E::MissingToken(why) => {
                (StatusCode::UNAUTHORIZED, "MissingToken", (*why).into(), vec![], Deny, Extra::Challenge(CHALLENGE))
            }
            E::InvalidToken(e) => (
                StatusCode::UNAUTHORIZED,
                "InvalidToken",
                e.to_string(),
                vec![],
                Deny,
                Extra::Challenge(CHALLENGE_INVALID),
            ),
            E::NoGrant => {
                (StatusCode::FORBIDDEN, "Forbidden", "no grant matches this caller".into(), vec![], Deny, Extra::None)
            }
            E::RouteNotGranted => (
                StatusCode::FORBIDDEN,
                "Forbidden",
                "the caller's grant does not include this route".into(),
                vec![],
                Deny,
                Extra::None,
            ),
            E::ProfileRequired => (
                StatusCode::BAD_REQUEST,
                "ProfileRequired",
                "the grant has several profiles: name one in the HostedSuite-Profile header".into(),
                vec![],
                Deny,
                Extra::None,
            ),
            E::ProfileNotGranted => (
                StatusCode::FORBIDDEN,
                "Forbidden",
                "the caller's grant does not include this profile".into(),
                vec![],
                Deny,
                Extra::None,
            ),
            E::RateLimited(secs) => (
                StatusCode::TOO_MANY_REQUESTS,
                "RateLimited",
                "the grant's rate limit is reached; retry later".into(),
                vec![],
                Deny,
                Extra::RetryAfter(*secs),
            ),
            E::QueryNotAllowed => (
                StatusCode::BAD_REQUEST,
                "QueryNotAllowed",
                "a query string is not allowed".into(),
                vec![],
                Deny,
                Extra::None,
            ),
            E::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                "Content-Type must be application/json (charset utf-8); /api/{operation} paths take text/plain too"
                    .into(),
                vec![],
                Deny,
                Extra::None,
            ),
            E::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "PayloadTooLarge",
                "request body too large".into(),
                vec![],
                Deny,
                Extra::None,
            ),
            E::RequestTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                "RequestTimeout",
                "request body not received in time".into(),
                vec![],
                Deny,
                Extra::None,
            ),
            E::BodyRead => (
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "request body could not be read".into(),
                vec![],
                Deny,
                Extra::None,
            ),
            E::InvalidRequest(msg, errors) => {
                (StatusCode::BAD_REQUEST, "InvalidRequest", msg.clone(), errors.clone(), Deny, Extra::None)
            }
            E::CredentialsNotAllowed(errors) => (
                StatusCode::BAD_REQUEST,
                "CredentialsNotAllowed",
                "the gateway supplies the HostedSuite login: remove CustomerName, UserName and Password".into(),
                errors.clone(),
                Deny,
                Extra::None,
            ),
            E::ProfileSuspended => (
                StatusCode::BAD_GATEWAY,
                "UpstreamCredentialsRejected",
                "HostedSuite refused this profile's login repeatedly; it is suspended for a while".into(),
                vec![],
                Deny,
                Extra::None,
            ),
            E::ProfileBusy => (
                StatusCode::GATEWAY_TIMEOUT,
                "UpstreamTimeout",
                "HostedSuite has not yet confirmed this profile's login; try again shortly".into(),
                vec![],
                Deny,
                Extra::None,
            ),
            E::AuditUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "AuditUnavailable",
                "the audit record could not be written; nothing was forwarded".into(),
                vec![],
                Deny,
                Extra::None,
            ),
            E::UpstreamCredentialsRejected => (
                StatusCode::BAD_GATEWAY,
                "UpstreamCredentialsRejected",
                "HostedSuite refused the stored login for this profile".into(),
                vec![],
                Allow,
                Extra::None,
            ),
            E::UpstreamBadResponse => (
                StatusCode::BAD_GATEWAY,
                "UpstreamBadResponse",
                "HostedSuite answered with something that is not a usable JSON answer".into(),
                vec![],
                Allow,
                Extra::None,
            ),
            E::UpstreamUnavailable => (
                StatusCode::BAD_GATEWAY,
                "UpstreamUnavailable",
                "HostedSuite could not be reached".into(),
                vec![],
                Allow,
                Extra::None,
            ),
            E::UpstreamTimeout => (
                StatusCode::GATEWAY_TIMEOUT,
                "UpstreamTimeout",
                "HostedSuite did not answer in time".into(),
                vec![],
                Allow,
                Extra::None,
            ),
            E::Overloaded => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Overloaded",
                "the gateway has as many requests in progress as it takes; retry shortly".into(),
                vec![],
                Deny,
                Extra::RetryAfter(1),
            ),
            E::ShuttingDown => (
                StatusCode::SERVICE_UNAVAILABLE,
                "ShuttingDown",
                "the gateway is shutting down; retry on another instance".into(),
                vec![],
                Allow,
                Extra::None,
            ),
            E::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "internal error".into(),
                vec![],
                Allow,
                Extra::None,
            ),
        };
        Answer { status, code, message, errors, decision, extra }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_failures_are_5xx_and_caller_faults_4xx() {
        assert_eq!(GatewayError::UpstreamTimeout.answer().status, StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(GatewayError::UpstreamUnavailable.answer().status, StatusCode::BAD_GATEWAY);
        assert_eq!(GatewayError::ProfileSuspended.answer().code, "UpstreamCredentialsRejected");
        assert_eq!(GatewayError::NoGrant.answer().status, StatusCode::FORBIDDEN);
        assert_eq!(GatewayError::ProfileRequired.answer().status, StatusCode::BAD_REQUEST);
        assert_eq!(GatewayError::AuditUnavailable.answer().decision, Decision::Deny);
        assert_eq!(GatewayError::UpstreamTimeout.answer().decision, Decision::Allow);
        assert_eq!(GatewayError::MethodNotAllowed.answer().extra, Extra::Allow("POST"));
        assert_eq!(GatewayError::NoGrant.answer().extra, Extra::None);
    }

    #[test]
    fn field_errors_are_carried() {
        let e = GatewayError::InvalidRequest("bad".into(), vec![FieldError::new("Required", "Notes", "x")]);
        let a = e.answer();
        assert_eq!(a.errors.len(), 1);
        assert_eq!(a.errors[0].field_name, "Notes");
    }
}
