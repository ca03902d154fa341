//! Defaults, unknown keys, every error at once, value rules.

use super::*;

#[test]
fn minimal_config_gets_every_spec_default() {
    let fx = Fixture::new();
    let mut text = config(&[]);
    text = text.replace("[auth]\n", "[auth]\nalgorithms = [\"RS256\", \"ES256\", \"EdDSA\", \"HS256\"]\n");
    let c = fx.load(&text).unwrap();
    assert_eq!(c.file, fx.file());
    assert_eq!(c.server.listen, "0.0.0.0:8080".parse().unwrap());
    assert_eq!(c.server.max_body_bytes, 65536);
    assert_eq!(c.server.header_read_timeout, Duration::from_secs(10));
    assert_eq!(c.server.request_timeout, Duration::from_secs(30));
    assert_eq!(c.server.shutdown_grace, Duration::from_secs(25));
    assert_eq!(c.admin_listen, "127.0.0.1:9090".parse().unwrap());
    assert_eq!(c.upstream.url.as_str(), "https://evo.hostedsuite.com");
    assert!(c.upstream.roots.is_none(), "built-in web roots by default");
    assert_eq!(c.upstream.connect_timeout, Duration::from_secs(5));
    assert_eq!(c.upstream.timeout, Duration::from_secs(30));
    assert!(!c.upstream.allow_plaintext);
    assert_eq!(c.upstream.login_failure_threshold, 3);
    assert_eq!(c.upstream.login_failure_cooldown, Duration::from_secs(60));
    assert_eq!(c.auth.leeway, Duration::from_secs(30));
    assert_eq!(c.auth.max_token_lifetime, None);
    assert_eq!(c.auth.required_claims, ["sub"]);
    assert_eq!(c.auth.issuers, ["https://idp.example.internal"]);
    assert_eq!(c.auth.audiences, ["hsgate"]);
    assert_eq!(c.audit.sink, AuditSinkKind::Stdout);
    assert!(c.audit.hmac_key.is_none());
    assert!(!c.audit.include_notes);
    assert!(c.routes.by_name("calls.update").is_some());
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    // The secrets came from files relative to the config's folder, trailing whitespace trimmed.
    assert_eq!(c.profiles.len(), 1);
    let p = &c.profiles[0];
    assert_eq!(
        (p.name.as_str(), p.customer_name.as_str(), p.user_name.as_str()),
        ("acme", "Acme Answering", "api-gateway")
    );
    assert_eq!(p.password.expose_secret(), PASSWORD);
    assert_eq!(p.upstream, c.upstream.url);
    assert_eq!(c.grants.len(), 1);
    assert_eq!(c.grants[0].claims, vec![("sub".to_owned(), serde_json::json!("svc-notes"))]);
    let token = hs256_token("k1", HMAC_SECRET);
    let claims = crate::auth::verify(
        &c.auth,
        &crate::auth::KeySet::new(c.auth.keys.iter().cloned()),
        &token,
        crate::auth::jwt::unix_now(),
    )
    .unwrap();
    assert_eq!(claims.subject(), Some("svc-notes"), "the HMAC secret is the trimmed file text");
}

#[test]
fn default_algorithms_are_rs256_es256_eddsa_and_an_hs256_key_then_warns() {
    let fx = Fixture::new();
    let c = fx.load(&config(&[])).unwrap();
    use jsonwebtoken::Algorithm as A;
    assert_eq!(c.auth.algorithms, [A::RS256, A::ES256, A::EdDSA]);
    assert!(c.warnings.iter().any(|w| w.key == "auth.algorithms"), "{:?}", c.warnings);
}

#[test]
fn load_reads_the_file_and_reports_an_unreadable_one() {
    let fx = Fixture::new();
    std::fs::write(fx.file(), config(&[])).unwrap();
    let c = load(&fx.file()).unwrap();
    assert_eq!(c.profiles[0].password.expose_secret(), PASSWORD);

    let missing = fx.dir.path().join("nope.toml");
    let e = load(&missing).unwrap_err();
    assert_eq!(e.file, missing);
    assert_eq!(keys(&e.problems), ["(file)"]);
    assert!(e.to_string().contains("nope.toml"), "{e}");
}

#[test]
fn unknown_keys_are_errors_named_by_their_dotted_key() {
    let fx = Fixture::new();
    let rows: &[(&str, &str, &[&str])] = &[
        ("top level", "top", &["bogus"]),
        ("[server]", "server", &["server.bogus"]),
        ("[admin]", "admin", &["admin.bogus"]),
        ("[upstream]", "upstream", &["upstream.bogus"]),
        ("[auth]", "auth", &["auth.bogus"]),
        // `[[auth.hmac]]` is an array inside [auth]: either index notation names the key.
        ("[[auth.hmac]]", "hmac", &["auth.hmac[0].bogus", "auth.hmac.0.bogus"]),
        ("[audit]", "audit", &["audit.bogus"]),
        ("[[profile]]", "profile", &["profile[0].bogus"]),
        ("[[grant]]", "grant", &["grant[0].bogus"]),
    ];
    for (label, section, accepted) in rows {
        let problems = fx.errors(&config(&[(section, "bogus = 1")]));
        assert!(
            problems.iter().any(|p| accepted.contains(&p.key.as_str()) && p.message.contains("unknown")),
            "row {label:?}: {problems:?}"
        );
    }
}

#[test]

fn unknown_key_in_an_array_inside_a_section_uses_the_same_index_notation_as_other_errors() {
    let fx = Fixture::new();
    let problems = fx.errors(&config(&[("hmac", "bogus = 1"), ("hmac", "alg = 256")]));
    assert!(has(&problems, "auth.hmac[0].alg"), "{problems:?}");
    assert!(has(&problems, "auth.hmac[0].bogus"), "{problems:?}");
}

#[test]
fn keys_that_are_not_bare_are_quoted_in_problems() {
    // Found by the `config` fuzz target: a `[""]` table was reported under an empty key.
    let fx = Fixture::new();
    let text = config(&[("upstream", "\"a.b\" = 1")]) + "[\"\"]\n";
    let problems = fx.errors(&text);
    assert!(problems.iter().all(|p| !p.key.is_empty()), "{problems:?}");
    assert!(has(&problems, "\"\""), "{problems:?}");
    assert!(has(&problems, "upstream.\"a.b\""), "{problems:?}");
}

#[test]
fn every_error_in_the_file_is_reported_together() {
    let fx = Fixture::new();
    let rows: &[(&str, Extra, &[&str])] = &[
        (
            "unknown key in [upstream] and type error in [server]",
            &[("upstream", "bogus = 1"), ("server", "max_body_bytes = \"x\"")],
            &["upstream.bogus", "server.max_body_bytes"],
        ),
        (
            "unknown key in [[profile]] and bad value in [auth]",
            &[("profile", "colour = \"red\""), ("auth", "algorithms = [\"none\"]")],
            &["profile[0].colour", "auth.algorithms[0]"],
        ),
        (
            "three sections",
            &[("admin", "listen = \"nowhere\""), ("upstream", "timeout = \"soon\""), ("grant", "extra = true")],
            &["admin.listen", "upstream.timeout", "grant[0].extra"],
        ),
        (
            "unknown key and type error in one section",
            &[("server", "bogus = 1"), ("server", "max_body_bytes = \"x\"")],
            &["server.bogus", "server.max_body_bytes"],
        ),
    ];
    for (label, extra, expected) in rows {
        let problems = fx.errors(&config(extra));
        for key in *expected {
            assert!(has(&problems, key), "row {label:?}: {key} missing from {problems:?}");
        }
    }
}

#[test]
fn value_rules() {
    let fx = Fixture::new();
    let rows: &[(&str, Extra, &str)] = &[
        ("max_body_bytes a string", &[("server", "max_body_bytes = \"x\"")], "server.max_body_bytes"),
        ("max_body_bytes zero", &[("server", "max_body_bytes = 0")], "server.max_body_bytes"),
        ("max_body_bytes negative", &[("server", "max_body_bytes = -1")], "server.max_body_bytes"),
        ("listen not an address", &[("server", "listen = \"localhost\"")], "server.listen"),
        ("duration without a unit", &[("server", "request_timeout = \"30\"")], "server.request_timeout"),
        ("duration unknown unit", &[("auth", "leeway = \"5 parsecs\"")], "auth.leeway"),
        ("duration a number", &[("upstream", "timeout = 30")], "upstream.timeout"),
        ("duration zero", &[("upstream", "connect_timeout = \"0s\"")], "upstream.connect_timeout"),
        ("threshold zero", &[("upstream", "login_failure_threshold = 0")], "upstream.login_failure_threshold"),
        ("allow_plaintext not a bool", &[("upstream", "allow_plaintext = \"yes\"")], "upstream.allow_plaintext"),
        ("algorithms containing none", &[("auth", "algorithms = [\"ES256\", \"none\"]")], "auth.algorithms[1]"),
        ("algorithms containing NONE", &[("auth", "algorithms = [\"NONE\"]")], "auth.algorithms[0]"),
        ("algorithms unknown name", &[("auth", "algorithms = [\"XS256\"]")], "auth.algorithms[0]"),
        ("algorithms empty", &[("auth", "algorithms = []")], "auth.algorithms"),
        ("hmac alg not HMAC", &[("hmac", "alg = \"RS256\"")], "auth.hmac[0].alg"),
        ("hmac alg not a string", &[("hmac", "alg = 256")], "auth.hmac[0].alg"),
        ("audit sink unknown", &[("audit", "sink = \"syslog\"")], "audit.sink"),
        ("audit sink file without path", &[("audit", "sink = \"file\"")], "audit.path"),
        ("audit path with sink stdout", &[("audit", "path = \"audit.jsonl\"")], "audit.path"),
    ];
    for (label, extra, key) in rows {
        let problems = fx.errors(&config(extra));
        assert!(has(&problems, key), "row {label:?}: {key} missing from {problems:?}");
    }
}
