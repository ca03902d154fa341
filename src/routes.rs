//! Routes: which caller paths the gateway answers, the upstream path each
//! maps to, and the body fields callers may send. Paths match exactly, with
//! no normalisation, so `/api/calls/../calls/update` is simply unknown.
//!
//! A route with a ServiceStack `operation` (its request DTO's name) also
//! answers ServiceStack's predefined routes for it, because that is where
//! ServiceStack's own clients send a DTO: `/api/{operation}` (current
//! clients), `/json/reply/{operation}` (older ones) and
//! `/api/json/reply/{operation}`. Every path a route answers is forwarded to
//! the route's `path`.

use std::collections::HashMap;

/// What a body field must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldRule {
    /// Required, a string that is not empty (`Id`).
    NonEmptyString,
    /// Required, a string; `""` is meaningful (`Notes`: clears the notes).
    String,
    /// Optional, any JSON value (configured routes).
    Any,
}

#[derive(Debug, Clone)]
pub struct Field {
    /// Canonical name, as sent upstream.
    pub name: String,
    pub rule: FieldRule,
}

#[derive(Debug, Clone)]
pub struct Route {
    pub name: String,
    /// The caller's path and the upstream path.
    pub path: String,
    /// The ServiceStack request DTO's name, if the route has one.
    pub operation: Option<String>,
    /// Further exact paths (configured).
    pub aliases: Vec<String>,
    pub fields: Vec<Field>,
}

impl Route {
    /// The field a caller's key names (case-insensitively), if any.
    pub fn field(&self, key: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name.eq_ignore_ascii_case(key))
    }

    /// Every path this route answers, with how each was derived.
    fn paths(&self) -> Vec<(String, PathKind)> {
        let mut out = vec![(self.path.clone(), PathKind::Own)];
        out.extend(self.aliases.iter().map(|a| (a.clone(), PathKind::Alias)));
        if let Some(op) = &self.operation {
            out.push((format!("/api/{op}"), PathKind::ApiOperation));
            out.push((format!("/json/reply/{op}"), PathKind::Predefined));
            out.push((format!("/api/json/reply/{op}"), PathKind::Predefined));
        }
        out
    }
}

/// How a path came to be one of a route's paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// The route's own `path`.
    Own,
    /// One of its configured `aliases`.
    Alias,
    /// `/api/{operation}`: ServiceStack reads any body there as JSON, and its
    /// `JsonApiClient` sends `text/plain`, so that media type is accepted here.
    ApiOperation,
    /// `/json/reply/{operation}` or `/api/json/reply/{operation}`.
    Predefined,
}

impl PathKind {
    /// Whether a `text/plain` body is read as JSON on this path (SPEC §4).
    pub fn accepts_text_plain(self) -> bool {
        match self {
            PathKind::ApiOperation => true,
            PathKind::Own | PathKind::Alias | PathKind::Predefined => false,
        }
    }
}

/// A caller's path resolved to its route.
#[derive(Debug, Clone, Copy)]
pub struct Matched<'r> {
    pub route: &'r Route,
    pub kind: PathKind,
}

/// The route table, with every answered path indexed once at load.
#[derive(Debug, Clone)]
pub struct Routes {
    routes: Vec<Route>,
    by_path: HashMap<String, (usize, PathKind)>,
}

/// A path two routes (or one route twice) claim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("path {path:?} is claimed by route {first:?} and by route {second:?}")]
pub struct PathClash {
    pub path: String,
    pub first: String,
    pub second: String,
}

/// Name of the built-in HostedSuite UpdateCallRecordRequest route.
pub const CALLS_UPDATE: &str = "calls.update";

impl Routes {
    /// The built-in `calls.update` route (SPEC §3).
    pub fn builtin_route() -> Route {
        Route {
            name: CALLS_UPDATE.into(),
            path: "/api/calls/update".into(),
            operation: Some("UpdateCallRecordRequest".into()),
            aliases: Vec::new(),
            fields: vec![
                Field { name: "Id".into(), rule: FieldRule::NonEmptyString },
                Field { name: "Notes".into(), rule: FieldRule::String },
            ],
        }
    }

    /// The built-in `calls.update` route alone.
    #[cfg(test)]
    pub fn builtin() -> Self {
        #[allow(clippy::unwrap_used)]
        Routes::new(vec![Routes::builtin_route()]).unwrap()
    }

    /// Indexes `routes`; every path claimed twice is reported.
    pub fn new(routes: Vec<Route>) -> Result<Self, Vec<PathClash>> {
        let mut by_path = HashMap::new();
        let mut clashes = Vec::new();
        for (i, route) in routes.iter().enumerate() {
            for (path, kind) in route.paths() {
                if let Some((other, _)) = by_path.get(&path) {
                    let first: &Route = &routes[*other];
                    clashes.push(PathClash { path, first: first.name.clone(), second: route.name.clone() });
                    continue;
                }
                by_path.insert(path, (i, kind));
            }
        }
        if clashes.is_empty() {
            Ok(Routes { routes, by_path })
        } else {
            Err(clashes)
        }
    }

    /// The route answering exactly this path, and how.
    pub fn by_path(&self, path: &str) -> Option<Matched<'_>> {
        let (i, kind) = self.by_path.get(path)?;
        Some(Matched { route: self.routes.get(*i)?, kind: *kind })
    }

    pub fn by_name(&self, name: &str) -> Option<&Route> {
        self.routes.iter().find(|r| r.name == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Route> {
        self.routes.iter()
    }

    /// Every path a route answers besides its own `path`.
    pub fn extra_paths<'a>(&'a self, route: &'a Route) -> impl Iterator<Item = &'a str> {
        let mut paths: Vec<&str> = self
            .by_path
            .iter()
            .filter(|(_, (i, kind))| {
                self.routes.get(*i).is_some_and(|r| r.name == route.name) && *kind != PathKind::Own
            })
            .map(|(p, _)| p.as_str())
            .collect();
        paths.sort_unstable();
        paths.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_path_and_servicestack_predefined_routes_match_nothing_else() {
        let routes = Routes::builtin();
        let kind = |p: &str| routes.by_path(p).map(|m| (m.route.name.clone(), m.kind));
        let update = || CALLS_UPDATE.to_owned();
        assert_eq!(kind("/api/calls/update"), Some((update(), PathKind::Own)));
        assert_eq!(kind("/api/UpdateCallRecordRequest"), Some((update(), PathKind::ApiOperation)));
        assert_eq!(kind("/json/reply/UpdateCallRecordRequest"), Some((update(), PathKind::Predefined)));
        assert_eq!(kind("/api/json/reply/UpdateCallRecordRequest"), Some((update(), PathKind::Predefined)));
        for p in [
            "/api/calls/update/",
            "/API/calls/update",
            "/api/calls/../calls/update",
            "/api/calls/%75pdate",
            "",
            "/api/updatecallrecordrequest",
            "/api/UpdateCallRecordRequest/",
            "/json/oneway/UpdateCallRecordRequest",
            "/json/reply/UpdateCallRecordRequest[]",
            "/api/UpdateCallRecordRequest[]",
        ] {
            assert!(routes.by_path(p).is_none(), "{p}");
        }
    }

    #[test]
    fn text_plain_only_on_api_operation() {
        assert!(PathKind::ApiOperation.accepts_text_plain());
        for k in [PathKind::Own, PathKind::Alias, PathKind::Predefined] {
            assert!(!k.accepts_text_plain(), "{k:?}");
        }
    }

    #[test]
    fn a_path_claimed_twice_is_reported() {
        let mut other = Routes::builtin_route();
        other.name = "calls.other".into();
        other.path = "/api/other".into();
        other.aliases = vec!["/api/calls/update".into()];
        let clashes = Routes::new(vec![Routes::builtin_route(), other]).unwrap_err();
        // Its alias and its three predefined paths (same operation) clash.
        assert_eq!(clashes.len(), 4, "{clashes:?}");
        assert_eq!(clashes[0].path, "/api/calls/update");
        assert_eq!((clashes[0].first.as_str(), clashes[0].second.as_str()), (CALLS_UPDATE, "calls.other"));
    }

    #[test]
    fn fields_match_case_insensitively() {
        let routes = Routes::builtin();
        let r = routes.by_name(CALLS_UPDATE).unwrap();
        assert_eq!(r.field("nOtEs").map(|f| f.rule), Some(FieldRule::String));
        assert!(r.field("No_tes").is_none());
        let extra: Vec<&str> = routes.extra_paths(r).collect();
        assert_eq!(
            extra,
            [
                "/api/UpdateCallRecordRequest",
                "/api/json/reply/UpdateCallRecordRequest",
                "/json/reply/UpdateCallRecordRequest"
            ]
        );
    }
}
