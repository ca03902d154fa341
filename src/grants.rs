//! Authorization: the caller's claims pick the first matching grant (file
//! order); the grant says which routes and which stored logins it may use.

use hyper::header::HeaderMap;
use serde_json::Value;

use crate::auth::Claims;
use crate::config::Grant;
use crate::error::GatewayError;

/// Header a caller uses to pick one of its grant's profiles.
pub const PROFILE_HEADER: &str = "hostedsuite-profile";

/// The first grant whose claims all match.
pub fn grant_for<'a>(grants: &'a [Grant], claims: &Claims) -> Option<&'a Grant> {
    grants.iter().find(|g| g.claims.iter().all(|(name, want)| claim_matches(claims.get(name), want)))
}

/// Equal, or an array claim containing the value.
pub fn claim_matches(have: Option<&Value>, want: &Value) -> bool {
    match have {
        Some(Value::Array(items)) => items.contains(want),
        Some(v) => v == want,
        None => false,
    }
}

/// The profile name this request uses under `grant`.
pub fn profile_for<'g>(grant: &'g Grant, headers: &HeaderMap) -> Result<&'g str, GatewayError> {
    let mut values = headers.get_all(PROFILE_HEADER).iter();
    match (values.next(), values.next()) {
        (None, _) => match grant.profiles.as_slice() {
            [only] => Ok(only),
            _ => Err(GatewayError::ProfileRequired),
        },
        (Some(_), Some(_)) => Err(GatewayError::ProfileRequired),
        (Some(v), None) => {
            let asked = v.to_str().map_err(|_| GatewayError::ProfileNotGranted)?.trim();
            grant.profiles.iter().find(|p| *p == asked).map(String::as_str).ok_or(GatewayError::ProfileNotGranted)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;
    use serde_json::json;

    fn grant(name: &str, claims: Value, profiles: &[&str]) -> Grant {
        Grant {
            name: name.into(),
            claims: claims.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            profiles: profiles.iter().map(|s| s.to_string()).collect(),
            routes: vec!["calls.update".into()],
            rate: None,
        }
    }

    fn claims(v: Value) -> Claims {
        Claims::new(v.as_object().unwrap().clone())
    }

    #[test]
    fn first_matching_grant_wins_and_arrays_must_contain() {
        let grants =
            vec![grant("a", json!({"sub": "svc", "groups": "ops"}), &["p"]), grant("b", json!({"sub": "svc"}), &["p"])];
        assert_eq!(grant_for(&grants, &claims(json!({"sub": "svc", "groups": ["x", "ops"]}))).unwrap().name, "a");
        assert_eq!(grant_for(&grants, &claims(json!({"sub": "svc", "groups": ["x"]}))).unwrap().name, "b");
        assert!(grant_for(&grants, &claims(json!({"sub": "other"}))).is_none());
        assert!(grant_for(&grants, &claims(json!({"sub": ["svc"]}))).is_some());
        assert!(grant_for(&grants, &claims(json!({}))).is_none());
    }

    #[test]
    fn profile_selection() {
        let one = grant("one", json!({"sub": "s"}), &["acme"]);
        let many = grant("many", json!({"sub": "s"}), &["acme", "globex"]);
        let mut h = HeaderMap::new();
        assert_eq!(profile_for(&one, &h).unwrap(), "acme");
        assert!(matches!(profile_for(&many, &h), Err(GatewayError::ProfileRequired)));
        h.insert(PROFILE_HEADER, HeaderValue::from_static("globex"));
        assert_eq!(profile_for(&many, &h).unwrap(), "globex");
        assert!(matches!(profile_for(&one, &h), Err(GatewayError::ProfileNotGranted)));
        h.append(PROFILE_HEADER, HeaderValue::from_static("acme"));
        assert!(matches!(profile_for(&many, &h), Err(GatewayError::ProfileRequired)));
    }
}
