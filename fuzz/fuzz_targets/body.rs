//! The caller's request body: `hsgate::inject::parse` (strict JSON object,
//! credential refusal, duplicate keys, route fields and types) and
//! `hsgate::inject::inject` (the upstream body with the profile's login),
//! for the built-in `calls.update` route and a configured route, with every
//! fixture profile.
//!
//! Asserts, from an independent reading of the body (duplicates kept):
//! - an accepted body is one JSON object with no case-insensitive duplicate
//!   keys, every key a route field or a login field with a null value, the
//!   built-in route's types held;
//! - the upstream body holds exactly the caller's route fields (canonical
//!   names, same values) plus `CustomerName`, `UserName`, `Password` with the
//!   profile's values, and no other key that ServiceStack would bind to a
//!   login field: no caller-supplied credential survives;
//! - a refused credential names a login field the caller sent with a value;
//! - a body that satisfies every rule is accepted.

#![no_main]

use std::sync::OnceLock;

use hsgate::config::Profile;
use hsgate::error::GatewayError;
use hsgate::inject::{inject, parse};
use hsgate::routes::{FieldRule, Route};
use hsgate_fuzz::{is_credential, object_members, once, profiles, routes};
use libfuzzer_sys::fuzz_target;
use secrecy::ExposeSecret;
use serde_json::Value;

struct Fixture {
    routes: Vec<Route>,
    profiles: Vec<Profile>,
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

fn fixture() -> &'static Fixture {
    once(&FIXTURE, || Fixture { routes: routes(), profiles: profiles() })
}

/// JSON equality, floats within rounding (serde_json's parser is not
/// guaranteed to round-trip every float it printed).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y || ((x - y).abs() <= f64::EPSILON * 4.0 * x.abs().max(y.abs())),
            _ => false,
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// The key under which duplicates are judged: login fields by what they bind to.
fn fold(key: &str) -> String {
    if is_credential(key) {
        key.chars().filter(|c| *c != '_' && *c != '-').collect::<String>().to_ascii_lowercase()
    } else {
        key.to_ascii_lowercase()
    }
}

fn field<'r>(route: &'r Route, key: &str) -> Option<&'r hsgate::routes::Field> {
    route.fields.iter().find(|f| f.name.eq_ignore_ascii_case(key))
}

fn type_ok(rule: FieldRule, v: &Value) -> bool {
    match rule {
        FieldRule::Any => true,
        FieldRule::String => v.is_string(),
        FieldRule::NonEmptyString => v.as_str().is_some_and(|s| !s.is_empty()),
    }
}

/// Whether the rules of SPEC §4 accept `members` for `route`.
fn acceptable(route: &Route, members: &[(String, Value)]) -> bool {
    let mut seen = std::collections::HashSet::new();
    for (k, v) in members {
        if !seen.insert(fold(k)) {
            return false;
        }
        if is_credential(k) {
            if !v.is_null() {
                return false;
            }
            continue;
        }
        match field(route, k) {
            Some(f) if type_ok(f.rule, v) => {}
            _ => return false,
        }
    }
    route
        .fields
        .iter()
        .filter(|f| f.rule != FieldRule::Any)
        .all(|f| members.iter().any(|(k, _)| f.name.eq_ignore_ascii_case(k)))
}

fn check_upstream_body(route: &Route, members: &[(String, Value)], profile: &Profile, out: &[u8]) {
    let sent = object_members(out).expect("the upstream body is one JSON object");
    let mut want: Vec<(String, Value)> = members
        .iter()
        .filter(|(k, _)| !is_credential(k))
        .map(|(k, v)| (field(route, k).expect("route field").name.clone(), v.clone()))
        .collect();
    want.push(("CustomerName".into(), profile.customer_name.clone().into()));
    want.push(("UserName".into(), profile.user_name.clone().into()));
    want.push(("Password".into(), profile.password.expose_secret().into()));
    assert_eq!(sent.len(), want.len(), "upstream keys {:?}", sent.iter().map(|m| &m.0).collect::<Vec<_>>());
    for (name, value) in &want {
        let got: Vec<&Value> = sent.iter().filter(|(k, _)| k == name).map(|(_, v)| v).collect();
        assert_eq!(got.len(), 1, "upstream body has {} {name:?}", got.len());
        assert!(same(got[0], value), "upstream {name:?} is {}, not {value}", got[0]);
    }
    let logins = sent.iter().filter(|(k, _)| is_credential(k)).count();
    assert_eq!(logins, 3, "upstream body has {logins} keys that bind to a login field");
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    let members = object_members(data);
    for route in &fixture.routes {
        match parse(data, route) {
            Ok(fields) => {
                let members = members.as_deref().expect("accepted a body that is not one JSON object");
                assert!(acceptable(route, members), "accepted a body the rules refuse for {}", route.name);
                assert_eq!(
                    fields.call_id(),
                    members
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("Id"))
                        .and_then(|(_, v)| v.as_str())
                        .filter(|_| field(route, "Id").is_some())
                );
                for profile in &fixture.profiles {
                    let out = inject(&fields, profile).expect("the upstream body serialises");
                    check_upstream_body(route, members, profile, &out);
                }
            }
            Err(GatewayError::CredentialsNotAllowed(errors)) => {
                assert!(!errors.is_empty());
                let members = members.as_deref().expect("a credential refusal for a body that is not an object");
                for e in &errors {
                    assert!(
                        members.iter().any(|(k, v)| k == &e.field_name && is_credential(k) && !v.is_null()),
                        "refused {:?}, which is no login field with a value",
                        e.field_name
                    );
                }
            }
            Err(GatewayError::InvalidRequest(message, _)) => {
                assert!(!message.is_empty());
                if let Some(members) = members.as_deref() {
                    assert!(!acceptable(route, members), "refused a body the rules accept for {}", route.name);
                }
            }
            Err(other) => panic!("parse answered {other:?}"),
        }
    }
});
