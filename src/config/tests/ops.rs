//! The keys of reach and lifecycle: `[[route]]`, `rate_limit`,
//! `upstream_url`, `jwks_url`, TLS on the listener, and the files a config
//! is built from.

use super::*;

/// A CA-issued server certificate and key for `localhost`, as PEM files in `fx`.
fn write_cert(fx: &Fixture) -> (String, String, String) {
    let pki = crate::sim::TestPki::generate().unwrap();
    std::fs::write(fx.dir.path().join("ca.pem"), &pki.ca_pem).unwrap();
    let (cert, key) = pki.server_cert_pem().unwrap();
    std::fs::write(fx.dir.path().join("server.pem"), cert).unwrap();
    std::fs::write(fx.dir.path().join("server.key"), key).unwrap();
    ("server.pem".into(), "server.key".into(), "ca.pem".into())
}

#[test]
fn configured_routes_load_with_their_predefined_paths() {
    let fx = Fixture::new();
    let text = config(&[("grant", "rate_limit = \"20/s\"")])
        + "[[route]]\nname = \"calls.list\"\npath = \"/api/calls\"\noperation = \"ListCallRecordsRequest\"\n\
           aliases = [\"/v1/calls\"]\nfields = [\"StartDate\", \"EndDate\"]\n";
    let c = fx.load(&text).unwrap();
    for path in ["/api/calls", "/v1/calls", "/api/ListCallRecordsRequest", "/json/reply/ListCallRecordsRequest"] {
        assert_eq!(c.routes.by_path(path).map(|m| m.route.name.as_str()), Some("calls.list"), "{path}");
    }
    assert_eq!(c.routes.by_path("/api/calls/update").map(|m| m.route.name.as_str()), Some("calls.update"));
    let list = c.routes.by_name("calls.list").unwrap();
    assert_eq!(list.field("startdate").map(|f| f.rule), Some(crate::routes::FieldRule::Any));
    assert_eq!(c.grants[0].rate.map(|r| r.to_string()).as_deref(), Some("20/s"));
}

#[test]
fn route_rules() {
    let fx = Fixture::new();
    let route = |body: &str| config(&[]) + "[[route]]\n" + body;
    let rows: &[(&str, String, &str)] = &[
        ("built-in name", route("name = \"calls.update\"\npath = \"/x\"\nfields = []\n"), "route[0].name"),
        ("the metrics' no-route label", route("name = \"none\"\npath = \"/x\"\nfields = []\n"), "route[0].name"),
        (
            "path claimed by the built-in route",
            route("name = \"a\"\npath = \"/api/calls/update\"\nfields = []\n"),
            "route",
        ),
        (
            "predefined path claimed twice",
            route("name = \"a\"\npath = \"/x\"\nfields = []\naliases = [\"/api/UpdateCallRecordRequest\"]\n"),
            "route",
        ),
        ("relative path", route("name = \"a\"\npath = \"api/x\"\nfields = []\n"), "route[0].path"),
        ("path with a query", route("name = \"a\"\npath = \"/x?y\"\nfields = []\n"), "route[0].path"),
        (
            "alias with ..",
            route("name = \"a\"\npath = \"/x\"\naliases = [\"/a/../x\"]\nfields = []\n"),
            "route[0].aliases",
        ),
        ("login field", route("name = \"a\"\npath = \"/x\"\nfields = [\"Pass_word\"]\n"), "route[0].fields"),
        ("field twice", route("name = \"a\"\npath = \"/x\"\nfields = [\"Page\", \"page\"]\n"), "route[0].fields"),
        ("fields missing", route("name = \"a\"\npath = \"/x\"\n"), "route[0]"),
        (
            "bad operation",
            route("name = \"a\"\npath = \"/x\"\noperation = \"a/b\"\nfields = []\n"),
            "route[0].operation",
        ),
    ];
    for (label, text, key) in rows {
        let problems = fx.errors(text);
        assert!(has(&problems, key), "row {label:?}: {problems:?}");
    }
    let problems = fx.errors(&config(&[("grant", "rate_limit = \"fast\"")]));
    assert!(has(&problems, "grant[0].rate_limit"), "{problems:?}");
}

#[test]
fn profile_upstream_url_and_jwks_url_rules() {
    let fx = Fixture::new();
    let c = fx.load(&config(&[("profile", "upstream_url = \"https://cpo.hostedsuite.com\"")])).unwrap();
    assert_eq!(c.profiles[0].upstream.as_str(), "https://cpo.hostedsuite.com");
    for (line, key) in [
        ("upstream_url = \"http://cpo.hostedsuite.com\"", "profile[0].upstream_url"),
        ("upstream_url = \"https://cpo.hostedsuite.com/api\"", "profile[0].upstream_url"),
    ] {
        assert!(has(&fx.errors(&config(&[("profile", line)])), key), "{line}");
    }

    let c = fx
        .load(&config(&[("auth", "jwks_url = \"https://idp.example.internal/jwks\"\njwks_refresh = \"1m\"")]))
        .unwrap();
    let jwks = c.auth.jwks.unwrap();
    assert_eq!(jwks.url, "https://idp.example.internal/jwks");
    assert_eq!((jwks.refresh, jwks.min_refetch), (Duration::from_secs(60), Duration::from_secs(30)));
    for (line, key) in [
        ("jwks_url = \"http://idp/jwks\"", "auth.jwks_url"),
        ("jwks_url = \"not a url\"", "auth.jwks_url"),
        ("jwks_ca_file = \"ca.pem\"", "auth.jwks_ca_file"),
        ("jwks_url = \"https://idp/jwks\"\njwks_refresh = \"0s\"", "auth.jwks_refresh"),
        ("jwks_url = \"https://user:pw@idp/jwks\"", "auth.jwks_url"),
    ] {
        assert!(has(&fx.errors(&config(&[("auth", line)])), key), "{line}");
    }
}

#[test]
fn a_jwks_timing_below_a_second_is_allowed_but_warned() {
    let fx = Fixture::new();
    let c = fx.load(&config(&[("auth", "jwks_url = \"https://idp/jwks\"\njwks_min_refetch = \"0s\"")])).unwrap();
    assert!(has(&c.warnings, "auth.jwks_min_refetch"), "{:?}", c.warnings);
}

#[test]
fn a_jwks_url_alone_is_a_key_source() {
    let fx = Fixture::new();
    let text = config(&[("auth", "jwks_url = \"https://idp.example.internal/jwks\"")]).replace(HMAC_BLOCK, "");
    let c = fx.load(&text).unwrap();
    assert!(c.auth.keys.is_empty());
    assert!(c.auth.jwks.is_some());
}

#[test]
fn listener_tls_rules() {
    let fx = Fixture::new();
    let (cert, key, ca) = write_cert(&fx);
    let tls = format!("tls_cert_file = \"{cert}\"\ntls_key_file = \"{key}\"");
    let c = fx.load(&config(&[("server", &tls)])).unwrap();
    assert!(c.server.tls.as_ref().is_some_and(|t| !t.mtls));
    let mtls = format!("{tls}\nclient_ca_file = \"{ca}\"");
    let c = fx.load(&config(&[("server", &mtls)])).unwrap();
    assert!(c.server.tls.as_ref().is_some_and(|t| t.mtls));
    assert!(!format!("{:?}", c.server).contains("PRIVATE"), "no key material in Debug");
    let rows: &[(String, &str)] = &[
        (format!("tls_cert_file = \"{cert}\""), "server.tls_key_file"),
        (format!("tls_key_file = \"{key}\""), "server.tls_cert_file"),
        (format!("client_ca_file = \"{ca}\""), "server.client_ca_file"),
        (format!("tls_cert_file = \"{cert}\"\ntls_key_file = \"{cert}\""), "server.tls_key_file"),
        (format!("tls_cert_file = \"missing.pem\"\ntls_key_file = \"{key}\""), "server.tls_cert_file"),
        (format!("{tls}\nclient_ca_file = \"{key}\""), "server.client_ca_file"),
    ];
    for (lines, want) in rows {
        let problems = fx.errors(&config(&[("server", lines)]));
        assert!(has(&problems, want), "{lines}: {problems:?}");
    }
}

#[test]
fn the_files_a_config_is_built_from_are_listed() {
    let fx = Fixture::new();
    let c = fx.load(&config(&[])).unwrap();
    let names: Vec<String> = c.files.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names[0], "hsgate.toml");
    for name in ["hmac.txt", "acme.pw"] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
}

#[test]
fn an_audit_file_beside_the_config_is_warned_about() {
    let fx = Fixture::new();
    let beside = fx.load(&config(&[("audit", "sink = \"file\""), ("audit", "path = \"audit.jsonl\"")])).unwrap();
    let warned: Vec<&Problem> = beside.warnings.iter().filter(|w| w.key == "audit.path").collect();
    assert_eq!(warned.len(), 1, "{:?}", beside.warnings);
    assert!(warned[0].message.contains("watches"), "{}", warned[0].message);
    // Next to a watched secret file is the same folder too; a folder of its own is fine.
    let secrets =
        fx.load(&config(&[("audit", "sink = \"file\""), ("audit", "path = \"secrets/audit.jsonl\"")])).unwrap();
    assert!(secrets.warnings.iter().any(|w| w.key == "audit.path"));
    let own = fx.load(&config(&[("audit", "sink = \"file\""), ("audit", "path = \"logs/audit.jsonl\"")])).unwrap();
    assert!(own.warnings.iter().all(|w| w.key != "audit.path"), "{:?}", own.warnings);
}
