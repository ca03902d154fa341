//! Who may call what: configured `[[route]]`s (beside the built-in one) and
//! `[[grant]]`s with their claims, profiles, routes and rate limits.

use std::collections::HashSet;

use super::{raw, Grant, Problems};
use crate::ratelimit::Rate;
use crate::routes::{Field, FieldRule, Route, Routes, CALLS_UPDATE};

/// The login fields no route may name (the gateway injects them).
const LOGIN_FIELDS: [&str; 3] = ["customername", "username", "password"];

/// The built-in route and the configured ones, every path indexed; `None` after an error.
pub fn routes(list: Vec<raw::Route>, problems: &mut Problems) -> Option<Routes> {
    let mut all = vec![Routes::builtin_route()];
    let mut ok = true;
    // `none` is the metrics' route label of a request that matched no route.
    let mut names: HashSet<String> = HashSet::from([CALLS_UPDATE.to_owned(), crate::state::NO_ROUTE.to_owned()]);
    for (i, r) in list.into_iter().enumerate() {
        let key = format!("route[{i}]");
        if r.name.is_empty() || !names.insert(r.name.clone()) {
            problems.error(
                format!("{key}.name"),
                format!("{:?} is empty or used twice (calls.update is built in, none is reserved)", r.name),
            );
            ok = false;
        }
        for (field, path) in std::iter::once(("path", &r.path)).chain(r.aliases.iter().map(|a| ("aliases", a))) {
            if let Err(why) = check_path(path) {
                problems.error(format!("{key}.{field}"), format!("{path:?}: {why}"));
                ok = false;
            }
        }
        if let Some(op) = &r.operation {
            if op.is_empty() || !op.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                problems.error(format!("{key}.operation"), format!("{op:?} is not a ServiceStack DTO name"));
                ok = false;
            }
        }
        let mut fields = Vec::new();
        let mut seen = HashSet::new();
        for name in &r.fields {
            let folded: String = name.chars().filter(|c| *c != '_' && *c != '-').flat_map(char::to_lowercase).collect();
            if LOGIN_FIELDS.contains(&folded.as_str()) {
                problems.error(format!("{key}.fields"), format!("{name:?} is a login field: the gateway injects it"));
                ok = false;
            } else if name.is_empty() || !seen.insert(name.to_lowercase()) {
                problems
                    .error(format!("{key}.fields"), format!("{name:?} is empty or listed twice (case-insensitively)"));
                ok = false;
            } else {
                fields.push(Field { name: name.clone(), rule: FieldRule::Any });
            }
        }
        all.push(Route { name: r.name, path: r.path, operation: r.operation, aliases: r.aliases, fields });
    }
    if !ok {
        return None;
    }
    match Routes::new(all) {
        Ok(routes) => Some(routes),
        Err(clashes) => {
            for c in clashes {
                problems.error("route", c.to_string());
            }
            None
        }
    }
}

/// A route path: absolute, no query, no fragment, nothing to normalise.
fn check_path(path: &str) -> Result<(), &'static str> {
    if !path.starts_with('/') {
        return Err("must start with /");
    }
    if path.contains(['?', '#']) || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not hold a query, a fragment or white space");
    }
    if path.split('/').any(|seg| seg == "." || seg == "..") {
        return Err("must not hold . or .. segments");
    }
    if path.parse::<hyper::Uri>().is_err() {
        return Err("is not a valid path");
    }
    Ok(())
}

fn claim_value(v: &toml::Value) -> Option<serde_json::Value> {
    match v {
        toml::Value::String(s) => Some(serde_json::Value::from(s.as_str())),
        toml::Value::Integer(i) => Some(serde_json::Value::from(*i)),
        toml::Value::Boolean(b) => Some(serde_json::Value::from(*b)),
        _ => None,
    }
}

pub fn grants(
    list: Vec<raw::Grant>,
    profiles: &HashSet<String>,
    routes: Option<&Routes>,
    problems: &mut Problems,
) -> Vec<Grant> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, g) in list.into_iter().enumerate() {
        let key = format!("grant[{i}]");
        if g.name.is_empty() || !seen.insert(g.name.clone()) {
            problems.error(format!("{key}.name"), format!("{:?} is empty or used twice", g.name));
        }
        if g.claims.is_empty() {
            problems.error(format!("{key}.claims"), "must name at least one claim (a grant for everyone is refused)");
        }
        let mut claims = Vec::new();
        for (name, value) in &g.claims {
            match claim_value(value) {
                Some(v) => claims.push((name.clone(), v)),
                None => problems.error(format!("{key}.claims.{name}"), "must be a string, integer or boolean"),
            }
        }
        if g.profiles.is_empty() {
            problems.error(format!("{key}.profiles"), "must list at least one profile");
        }
        for p in &g.profiles {
            if !profiles.contains(p) {
                problems.error(format!("{key}.profiles"), format!("no [[profile]] named {p:?}"));
            }
        }
        if g.routes.is_empty() {
            problems.error(format!("{key}.routes"), "must list at least one route");
        }
        for r in &g.routes {
            if routes.is_some_and(|routes| routes.by_name(r).is_none()) {
                problems.error(format!("{key}.routes"), format!("no route named {r:?}"));
            }
        }
        let rate = match g.rate_limit.as_deref().map(Rate::parse) {
            None => None,
            Some(Ok(rate)) => Some(rate),
            Some(Err(why)) => {
                problems.error(format!("{key}.rate_limit"), why);
                None
            }
        };
        out.push(Grant { name: g.name, claims, profiles: g.profiles, routes: g.routes, rate });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_paths_must_be_plain_absolute_paths() {
        assert!(check_path("/api/calls").is_ok());
        for bad in ["api/calls", "/api/calls?x=1", "/a/../b", "/a/./b", "/a b", "/a#f", ""] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
    }
}
