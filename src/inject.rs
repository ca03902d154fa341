//! The caller's JSON body: parsed strictly (one UTF-8 object, duplicate keys
//! detected even when they differ only in case), refused when it carries
//! login fields, checked against the route's fields, and then rebuilt from
//! scratch with the stored login injected. HostedSuite binds keys
//! case-insensitively with the last duplicate winning, so anything looser
//! here could let a caller smuggle a value past these checks.

use std::collections::HashSet;
use std::fmt;

use secrecy::ExposeSecret;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::Value;

use crate::config::Profile;
use crate::error::{FieldError, GatewayError};
use crate::routes::{FieldRule, Route};

/// The caller's fields under their canonical names, in the caller's order,
/// each once (so no more of them than the route has: found by a look along).
#[derive(Debug, Clone, PartialEq)]
pub struct CallerFields(Vec<(String, Value)>);

impl CallerFields {
    fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
    fn string(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }
    /// `Id`, when it is a string.
    pub fn call_id(&self) -> Option<&str> {
        self.string("Id")
    }
    /// `Notes`, when it is a string.
    pub fn notes(&self) -> Option<&str> {
        self.string("Notes")
    }
}

/// A JSON object's members exactly as written, duplicates kept.
struct Members(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    out.push(entry);
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// A JSON object's members in document order, duplicates kept (an error if
/// `body` is not exactly one JSON object).
pub fn object_members(body: &[u8]) -> Result<Vec<(String, Value)>, serde_json::Error> {
    serde_json::from_slice::<Members>(body).map(|m| m.0)
}

/// `username`, `password`.
const SHORTEST_CREDENTIAL_NAME: usize = 8;

/// The login fields, as ServiceStack would bind them: any case, `_`/`-` ignored.
fn credential_name(key: &str) -> Option<&'static str> {
    // Each letter of a match comes from a character of its own, of one byte
    // or more (the one character whose lower case is two, `İ`, gives a
    // non-ASCII one): a key of fewer bytes than the shortest name is none.
    if key.len() < SHORTEST_CREDENTIAL_NAME {
        return None;
    }
    // Folded lazily (no allocation per key): Unicode lower case, `_` and `-` dropped.
    let folded = || key.chars().filter(|c| *c != '_' && *c != '-').flat_map(char::to_lowercase);
    [("customername", "CustomerName"), ("username", "UserName"), ("password", "Password")]
        .into_iter()
        .find(|(spelled, _)| folded().eq(spelled.chars()))
        .map(|(_, canonical)| canonical)
}

/// Parses and checks the caller's body for `route` (SPEC §4, rows
/// "body parses", "no credential key", "no duplicate keys ...").
pub fn parse(body: &[u8], route: &Route) -> Result<CallerFields, GatewayError> {
    let members = match object_members(body) {
        Ok(m) => m,
        Err(e) if e.is_data() => return Err(invalid("the body must be a JSON object")),
        Err(_) => return Err(invalid("the body is not valid UTF-8 JSON")),
    };

    let smuggled: Vec<FieldError> = members
        .iter()
        .filter(|(k, v)| credential_name(k).is_some() && !v.is_null())
        .map(|(k, _)| FieldError::new("NotAllowed", k.clone(), "the gateway supplies the login; remove this field"))
        .collect();
    if !smuggled.is_empty() {
        return Err(GatewayError::CredentialsNotAllowed(smuggled));
    }

    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    let mut fields = CallerFields(Vec::new());
    for (key, value) in members {
        let folded = credential_name(&key).map(str::to_owned).unwrap_or_else(|| key.to_lowercase());
        if !seen.insert(folded) {
            problems.push(FieldError::new(
                "Duplicate",
                key,
                "this key appears more than once (keys are case-insensitive)",
            ));
            continue;
        }
        if credential_name(&key).is_some() {
            continue; // null login fields are dropped, as ServiceStack clients send them
        }
        let Some(field) = route.field(&key) else {
            problems.push(FieldError::new("NotAllowed", key, format!("not a field of route {}", route.name)));
            continue;
        };
        if let Some(problem) = check_type(&field.name, field.rule, &value) {
            problems.push(problem);
        }
        fields.0.push((field.name.clone(), value));
    }
    for field in &route.fields {
        if field.rule != FieldRule::Any
            && fields.get(&field.name).is_none()
            && !seen.contains(&field.name.to_lowercase())
        {
            problems.push(FieldError::new("Required", field.name.clone(), format!("{} is required", field.name)));
        }
    }
    if problems.is_empty() {
        Ok(fields)
    } else {
        let message = format!("the request body has {} problem(s): see Errors", problems.len());
        Err(GatewayError::InvalidRequest(message, problems))
    }
}

fn check_type(name: &str, rule: FieldRule, value: &Value) -> Option<FieldError> {
    match (rule, value) {
        (FieldRule::Any, _) | (FieldRule::String, Value::String(_)) => None,
        (FieldRule::NonEmptyString, Value::String(s)) if !s.is_empty() => None,
        (FieldRule::NonEmptyString, _) => {
            Some(FieldError::new("NotValid", name, format!("{name} must be a non-empty string")))
        }
        (FieldRule::String, Value::Null) => Some(FieldError::new(
            "NotValid",
            name,
            format!("{name} must be a string; null is rejected: send \"\" to clear {name}"),
        )),
        (FieldRule::String, _) => Some(FieldError::new("NotValid", name, format!("{name} must be a string"))),
    }
}

fn invalid(message: &str) -> GatewayError {
    GatewayError::InvalidRequest(message.into(), Vec::new())
}

/// The upstream body: the caller's fields, then the profile's login.
struct UpstreamBody<'a> {
    fields: &'a CallerFields,
    profile: &'a Profile,
}

impl Serialize for UpstreamBody<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let login = [
            ("CustomerName", self.profile.customer_name.as_str()),
            ("UserName", self.profile.user_name.as_str()),
            ("Password", self.profile.password.expose_secret()),
        ];
        let mut map = s.serialize_map(Some(self.fields.0.len() + login.len()))?;
        for (name, value) in &self.fields.0 {
            map.serialize_entry(name, value)?;
        }
        for (name, value) in login {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// Serializes the fields with `profile`'s login injected.
pub fn inject(fields: &CallerFields, profile: &Profile) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&UpstreamBody { fields, profile })
}

#[cfg(test)]
mod tests;
