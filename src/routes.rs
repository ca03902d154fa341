//! Routes: which caller paths the gateway answers, the upstream path each
//! maps to, and the body fields callers may send. Paths match exactly, with
//! no normalisation, so `/api/calls/../calls/update` is simply unknown.

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
    pub aliases: Vec<String>,
    pub fields: Vec<Field>,
}

impl Route {
    /// The field a caller's key names (case-insensitively), if any.
    pub fn field(&self, key: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name.eq_ignore_ascii_case(key))
    }
}

/// The route table.
#[derive(Debug, Clone)]
pub struct Routes(Vec<Route>);

/// Name of the built-in HostedSuite UpdateCallRecordRequest route.
pub const CALLS_UPDATE: &str = "calls.update";

impl Routes {
    /// The built-in `calls.update` route alone.
    pub fn builtin() -> Self {
        Routes(vec![Route {
            name: CALLS_UPDATE.into(),
            path: "/api/calls/update".into(),
            aliases: vec!["/api/json/reply/UpdateCallRecordRequest".into()],
            fields: vec![
                Field { name: "Id".into(), rule: FieldRule::NonEmptyString },
                Field { name: "Notes".into(), rule: FieldRule::String },
            ],
        }])
    }

    /// The route answering exactly this path (its own path or an alias).
    pub fn by_path(&self, path: &str) -> Option<&Route> {
        self.0.iter().find(|r| r.path == path || r.aliases.iter().any(|a| a == path))
    }

    pub fn by_name(&self, name: &str) -> Option<&Route> {
        self.0.iter().find(|r| r.name == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Route> {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_path_and_alias_match_nothing_else() {
        let routes = Routes::builtin();
        assert_eq!(routes.by_path("/api/calls/update").map(|r| r.name.as_str()), Some(CALLS_UPDATE));
        assert!(routes.by_path("/api/json/reply/UpdateCallRecordRequest").is_some());
        for p in ["/api/calls/update/", "/API/calls/update", "/api/calls/../calls/update", "/api/calls/%75pdate", ""] {
            assert!(routes.by_path(p).is_none(), "{p}");
        }
    }

    #[test]
    fn fields_match_case_insensitively() {
        let routes = Routes::builtin();
        let r = routes.by_name(CALLS_UPDATE).unwrap();
        assert_eq!(r.field("nOtEs").map(|f| f.rule), Some(FieldRule::String));
        assert!(r.field("No_tes").is_none());
    }
}
