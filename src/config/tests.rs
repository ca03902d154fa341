//! Config rules of SPEC §3: defaults, every error reported with its key,
//! secrets from env/file/inline, and no secret in any message. Plus the
//! shipped `config/hsgate.example.toml`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use secrecy::ExposeSecret;
use tempfile::TempDir;

use super::*;

const HMAC_SECRET: &str = "unit-hmac-secret-value";
const PASSWORD: &str = "acme-Pa55word-from-file";

/// A folder with the secret files the minimal config names (relative paths).
struct Fixture {
    dir: TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("keys")).unwrap();
        std::fs::create_dir(dir.path().join("secrets")).unwrap();
        std::fs::write(dir.path().join("keys/hmac.txt"), format!("{HMAC_SECRET}\n")).unwrap();
        std::fs::write(dir.path().join("secrets/acme.pw"), format!("{PASSWORD}\r\n\n")).unwrap();
        Fixture { dir }
    }
    fn file(&self) -> PathBuf {
        self.dir.path().join("hsgate.toml")
    }
    fn load(&self, text: &str) -> Result<Config, ConfigError> {
        load_str(text, &self.file())
    }
    fn errors(&self, text: &str) -> Vec<Problem> {
        match self.load(text) {
            Ok(_) => panic!("expected errors for:\n{text}"),
            Err(e) => {
                assert_eq!(e.file, self.file());
                e.problems
            }
        }
    }
}

/// The minimal valid config, with `extra` lines appended to the named
/// sections ("top", "server", "admin", "upstream", "auth", "hmac", "audit",
/// "profile", "grant"). [server], [admin] and [audit] appear only when given lines.
fn config(extra: Extra) -> String {
    let lines = |section: &str| -> String {
        extra.iter().filter(|(s, _)| *s == section).map(|(_, l)| format!("{l}\n")).collect()
    };
    let optional = |section: &str| {
        let body = lines(section);
        if body.is_empty() {
            String::new()
        } else {
            format!("[{section}]\n{body}")
        }
    };
    format!(
        r#"{top}
{server}
{admin}
[upstream]
url = "https://evo.hostedsuite.com"
{upstream}
[auth]
issuers = ["https://idp.example.internal"]
audiences = ["hsgate"]
{auth}
{HMAC_BLOCK}{hmac}
{audit}
{PROFILE_BLOCK}{profile}
[[grant]]
name = "notes-service"
claims = {{ sub = "svc-notes" }}
profiles = ["acme"]
routes = ["calls.update"]
{grant}
"#,
        top = lines("top"),
        server = optional("server"),
        admin = optional("admin"),
        upstream = lines("upstream"),
        auth = lines("auth"),
        hmac = lines("hmac"),
        audit = optional("audit"),
        profile = lines("profile"),
        grant = lines("grant"),
    )
}

const HMAC_BLOCK: &str = "[[auth.hmac]]\nkid = \"k1\"\nsecret_file = \"keys/hmac.txt\"\n";
const PROFILE_BLOCK: &str = "[[profile]]\nname = \"acme\"\ncustomer_name = \"Acme Answering\"\nuser_name = \"api-gateway\"\npassword_file = \"secrets/acme.pw\"\n";

/// Extra lines per section, as `config` takes them.
type Extra<'a> = &'a [(&'a str, &'a str)];

fn keys(problems: &[Problem]) -> Vec<&str> {
    problems.iter().map(|p| p.key.as_str()).collect()
}

fn has(problems: &[Problem], key: &str) -> bool {
    problems.iter().any(|p| p.key == key)
}

fn set_env(name: &str, value: &str) {
    // Each test uses its own variable names, so parallel tests do not interfere.
    std::env::set_var(name, value);
}

/// An HS256 token signed with `secret`, valid for the minimal config's auth.
fn hs256_token(kid: &str, secret: &str) -> String {
    let key = crate::token::encoding_key(jsonwebtoken::Algorithm::HS256, secret.as_bytes()).unwrap();
    let claims = crate::token::claims("https://idp.example.internal", "hsgate", "svc-notes", Duration::from_secs(60));
    crate::token::sign(jsonwebtoken::Algorithm::HS256, Some(kid), &key, &claims).unwrap()
}

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
    let claims = crate::auth::verify(&c.auth, &token, crate::auth::jwt::unix_now()).unwrap();
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
fn later_stage_keys_are_unknown_in_this_release() {
    let fx = Fixture::new();
    let rows: &[(&str, &str, &str)] = &[
        ("server", "tls_cert_file = \"c.pem\"", "server.tls_cert_file"),
        ("server", "client_ca_file = \"c.pem\"", "server.client_ca_file"),
        ("auth", "jwks_url = \"https://idp/jwks\"", "auth.jwks_url"),
        ("grant", "rate_limit = \"20/s\"", "grant[0].rate_limit"),
        ("profile", "upstream_url = \"https://cpo.hostedsuite.com\"", "profile[0].upstream_url"),
    ];
    for (section, line, key) in rows {
        let problems = fx.errors(&config(&[(section, line)]));
        assert!(has(&problems, key), "row {key:?}: {problems:?}");
    }
    let problems = fx.errors(&(config(&[]) + "[[route]]\nname = \"calls.list\"\n"));
    assert!(has(&problems, "route"), "{problems:?}");
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

#[test]
fn upstream_url_rules() {
    let fx = Fixture::new();
    let with_url = |url: &str, plaintext: bool| {
        let text = config(&[("upstream", if plaintext { "allow_plaintext = true" } else { "" })]);
        fx.load(&text.replace("https://evo.hostedsuite.com", url))
    };
    let rows: &[(&str, &str, bool, Option<&str>)] = &[
        ("https host", "https://cpo.hostedsuite.com", false, Some("https://cpo.hostedsuite.com")),
        ("https host and port", "https://127.0.0.1:8443", false, Some("https://127.0.0.1:8443")),
        (
            "trailing slash is the root, not a path",
            "https://io.hostedsuite.com/",
            false,
            Some("https://io.hostedsuite.com"),
        ),
        ("http refused", "http://evo.hostedsuite.com", false, None),
        ("http with allow_plaintext", "http://127.0.0.1:8080", true, Some("http://127.0.0.1:8080")),
        ("path refused", "https://evo.hostedsuite.com/api", false, None),
        ("path refused with allow_plaintext too", "http://127.0.0.1:8080/api/calls", true, None),
        ("query refused", "https://evo.hostedsuite.com/?a=1", false, None),
        ("empty query refused", "https://evo.hostedsuite.com?", false, None),
        ("user info refused", "https://user:pw@evo.hostedsuite.com", false, None),
        ("other scheme refused", "ftp://evo.hostedsuite.com", false, None),
        ("no scheme refused", "evo.hostedsuite.com", false, None),
        ("not a URL", "https://", false, None),
    ];
    for (label, url, plaintext, expected) in rows {
        match (with_url(url, *plaintext), expected) {
            (Ok(c), Some(want)) => {
                assert_eq!(c.upstream.url.as_str(), *want, "row {label:?}");
                assert_eq!(
                    c.upstream.url.join("/api/calls/update"),
                    format!("{want}/api/calls/update"),
                    "row {label:?}"
                );
            }
            (Err(e), None) => assert!(has(&e.problems, "upstream.url"), "row {label:?}: {:?}", e.problems),
            (got, _) => panic!("row {label:?}: {:?}", got.map(|c| c.upstream.url)),
        }
    }
}

#[test]
fn auth_requires_issuers_audiences_and_a_key() {
    let fx = Fixture::new();
    let base = config(&[]);
    let pem = format!("{HMAC_BLOCK}[[auth.pem]]\nkid = \"p\"\nalg = \"RS256\"\nfile = \"nope.pem\"\n");
    let issuers = r#"issuers = ["https://idp.example.internal"]"#;
    let audiences = r#"audiences = ["hsgate"]"#;
    let rows: &[(&str, String, &str)] = &[
        ("empty issuers", base.replace(issuers, "issuers = []"), "auth.issuers"),
        ("missing issuers", base.replace(issuers, ""), "auth.issuers"),
        ("empty-string issuer", base.replace(issuers, r#"issuers = [""]"#), "auth.issuers"),
        ("empty audiences", base.replace(audiences, "audiences = []"), "auth.audiences"),
        ("missing audiences", base.replace(audiences, ""), "auth.audiences"),
        ("no key source", base.replace(HMAC_BLOCK, ""), "auth"),
        (
            "missing [auth]",
            base.replace("[auth]\n", "").replace(issuers, "").replace(audiences, "").replace(HMAC_BLOCK, ""),
            "auth",
        ),
        ("missing jwks file", base.replace("[auth]\n", "[auth]\njwks_file = \"no-such.json\"\n"), "auth.jwks_file"),
        ("missing pem file", base.replace(HMAC_BLOCK, &pem), "auth.pem[0].file"),
    ];
    for (label, text, key) in rows {
        assert_ne!(text, &base, "row {label:?}: the change applied");
        let problems = fx.errors(text);
        assert!(has(&problems, key), "row {label:?}: {key} missing from {problems:?}");
    }
}

#[test]
fn secret_sources() {
    let fx = Fixture::new();
    set_env("HSGATE_UNIT_CFG_PASSWORD_ENV", "password-from-env");
    set_env("HSGATE_UNIT_CFG_HMAC_ENV", "hmac-from-env");
    let pw_file = r#"password_file = "secrets/acme.pw""#;
    let hmac_file = r#"secret_file = "keys/hmac.txt""#;
    let base = config(&[]);

    // Environment.
    let text = base
        .replace(pw_file, r#"password_env = "HSGATE_UNIT_CFG_PASSWORD_ENV""#)
        .replace(hmac_file, r#"secret_env = "HSGATE_UNIT_CFG_HMAC_ENV""#)
        .replace("[auth]\n", "[auth]\nalgorithms = [\"HS256\"]\n");
    let c = fx.load(&text).unwrap();
    assert_eq!(c.profiles[0].password.expose_secret(), "password-from-env");
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let token = hs256_token("k1", "hmac-from-env");
    assert!(crate::auth::verify(&c.auth, &token, crate::auth::jwt::unix_now()).is_ok(), "HMAC secret from env");

    // File: trailing whitespace trimmed (fixture writes "\r\n\n"), path relative to the config folder.
    let c = fx.load(&base).unwrap();
    assert_eq!(c.profiles[0].password.expose_secret(), PASSWORD);

    // Absolute file path.
    let abs = fx.dir.path().join("secrets/acme.pw");
    let c = fx
        .load(&base.replace(pw_file, &format!("password_file = {}", toml::Value::from(abs.to_str().unwrap()))))
        .unwrap();
    assert_eq!(c.profiles[0].password.expose_secret(), PASSWORD);

    // Inline: accepted with a warning naming the key.
    let c = fx.load(&base.replace(pw_file, r#"password = "inline-password""#)).unwrap();
    assert_eq!(c.profiles[0].password.expose_secret(), "inline-password");
    assert!(c.warnings.iter().any(|w| w.key == "profile[0].password"), "{:?}", c.warnings);

    // Audit HMAC key from env is optional and loaded when given.
    set_env("HSGATE_UNIT_CFG_AUDIT_ENV", "audit-key-from-env");
    let c = fx.load(&config(&[("audit", r#"hmac_key_env = "HSGATE_UNIT_CFG_AUDIT_ENV""#)])).unwrap();
    assert_eq!(c.audit.hmac_key.as_ref().map(|k| k.expose_secret().to_owned()).as_deref(), Some("audit-key-from-env"));
}

#[test]
fn secret_source_errors() {
    let fx = Fixture::new();
    set_env("HSGATE_UNIT_CFG_TWO_SOURCES", "x");
    set_env("HSGATE_UNIT_CFG_EMPTY", "");
    std::fs::write(fx.dir.path().join("secrets/blank.pw"), " \n\t\n").unwrap();
    let pw_file = r#"password_file = "secrets/acme.pw""#;
    let base = config(&[]);
    let rows: &[(&str, &str, &str, Option<&str>)] = &[
        (
            "two sources",
            "password_file = \"secrets/acme.pw\"\npassword_env = \"HSGATE_UNIT_CFG_TWO_SOURCES\"",
            "profile[0].password",
            None,
        ),
        ("inline and file", "password_file = \"secrets/acme.pw\"\npassword = \"x\"", "profile[0].password", None),
        (
            "env var unset",
            "password_env = \"HSGATE_UNIT_CFG_SURELY_UNSET_7f3a\"",
            "profile[0].password_env",
            Some("HSGATE_UNIT_CFG_SURELY_UNSET_7f3a"),
        ),
        ("env var empty", "password_env = \"HSGATE_UNIT_CFG_EMPTY\"", "profile[0].password", None),
        ("file missing", "password_file = \"secrets/none.pw\"", "profile[0].password_file", Some("none.pw")),
        ("file blank", "password_file = \"secrets/blank.pw\"", "profile[0].password", None),
        ("no source", "", "profile[0].password", None),
    ];
    for (label, line, key, mentions) in rows {
        let problems = fx.errors(&base.replace(pw_file, line));
        let p = problems.iter().find(|p| p.key == *key).unwrap_or_else(|| panic!("row {label:?}: {problems:?}"));
        if let Some(m) = mentions {
            assert!(p.message.contains(m), "row {label:?}: {p}");
        }
    }
    // The same rules hold for [[auth.hmac]] secrets.
    let problems = fx.errors(&config(&[("hmac", "secret_env = \"HSGATE_UNIT_CFG_TWO_SOURCES\"")]));
    assert!(has(&problems, "auth.hmac[0].secret"), "{problems:?}");
}

#[test]
fn profile_and_grant_rules() {
    let fx = Fixture::new();
    let base = config(&[]);
    let second_profile = PROFILE_BLOCK.replace("Acme Answering", "Other");
    let rows: &[(&str, String, &str)] = &[
        ("duplicate profile names", base.clone() + &second_profile, "profile[1].name"),
        ("empty profile name", base.replace("name = \"acme\"", "name = \"\""), "profile[0].name"),
        ("empty customer_name", base.replace("customer_name = \"Acme Answering\"", "customer_name = \"\""), "profile[0].customer_name"),
        ("no profile", base.replace(PROFILE_BLOCK, ""), "profile"),
        ("grant naming an unknown profile", base.replace("profiles = [\"acme\"]", "profiles = [\"globex\"]"), "grant[0].profiles"),
        ("grant with no profiles", base.replace("profiles = [\"acme\"]", "profiles = []"), "grant[0].profiles"),
        ("grant naming an unknown route", base.replace("routes = [\"calls.update\"]", "routes = [\"calls.delete\"]"), "grant[0].routes"),
        ("grant with no routes", base.replace("routes = [\"calls.update\"]", "routes = []"), "grant[0].routes"),
        ("grant with empty claims", base.replace("claims = { sub = \"svc-notes\" }", "claims = {}"), "grant[0].claims"),
        ("grant claim of a table", base.replace("claims = { sub = \"svc-notes\" }", "claims = { sub = { a = 1 } }"), "grant[0].claims.sub"),
        ("duplicate grant names", base.clone() + "[[grant]]\nname = \"notes-service\"\nclaims = { sub = \"b\" }\nprofiles = [\"acme\"]\nroutes = [\"calls.update\"]\n", "grant[1].name"),
        ("profile not an array of tables", base.replace(PROFILE_BLOCK, "[profile]\nname = \"acme\"\n"), "profile"),
    ];
    for (label, text, key) in rows {
        assert_ne!(text, &base, "row {label:?}: the change applied");
        let problems = fx.errors(text);
        assert!(has(&problems, key), "row {label:?}: {key} missing from {problems:?}");
    }
    let problems = fx.errors(&base.replace("user_name = \"api-gateway\"", ""));
    assert!(problems.iter().any(|p| p.key == "profile[0]" && p.message.contains("user_name")), "{problems:?}");
}

#[test]
fn grant_claims_keep_their_types_and_file_order() {
    let fx = Fixture::new();
    let text = config(&[])
        .replace("claims = { sub = \"svc-notes\" }", "claims = { sub = \"svc-notes\", tier = 2, internal = true }");
    let c = fx.load(&text).unwrap();
    let got: BTreeSet<_> = c.grants[0].claims.iter().cloned().map(|(k, v)| (k, v.to_string())).collect();
    let want: BTreeSet<_> = [("sub", "\"svc-notes\""), ("tier", "2"), ("internal", "true")]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn audit_file_sink_path_is_relative_to_the_config_folder() {
    let fx = Fixture::new();
    let c = fx.load(&config(&[("audit", "sink = \"file\""), ("audit", "path = \"logs/audit.jsonl\"")])).unwrap();
    assert_eq!(c.audit.sink, AuditSinkKind::File(fx.dir.path().join("logs/audit.jsonl")));
}

#[test]
fn secrets_appear_in_no_error_message_and_no_debug_output() {
    let fx = Fixture::new();
    let pw = "Sup3r-Secret-PW-9c1e";
    let hmac = "Sup3r-Secret-HMAC-51aa";
    let audit = "Sup3r-Secret-AUDIT-77b0";
    let inline = config(&[("audit", &format!("hmac_key = \"{audit}\""))])
        .replace(r#"password_file = "secrets/acme.pw""#, &format!("password = \"{pw}\""))
        .replace(r#"secret_file = "keys/hmac.txt""#, &format!("secret = \"{hmac}\""));
    let secrets = [pw, hmac, audit];

    // A valid config: Debug of the whole Config, and its warnings.
    let c = fx.load(&inline).unwrap();
    let debug = format!("{c:?}");
    assert!(debug.contains("acme"), "Debug output is real");
    for s in secrets {
        assert!(!debug.contains(s), "{s} in Debug output");
    }
    for w in &c.warnings {
        assert!(secrets.iter().all(|s| !w.to_string().contains(s)), "{w}");
    }

    // Broken configs: every message and the Debug of the error.
    let rows: Vec<(&str, String)> = vec![
        ("errors elsewhere", inline.replace("[upstream]\n", "[upstream]\nbogus = 1\ntimeout = \"x\"\n")),
        (
            "password of the wrong type",
            inline.replace(&format!("password = \"{pw}\""), &format!("password = [\"{pw}\"]")),
        ),
        ("password misspelled", inline.replace(&format!("password = \"{pw}\""), &format!("pasword = \"{pw}\""))),
        (
            "hmac secret of the wrong type",
            inline.replace(&format!("secret = \"{hmac}\""), &format!("secret = {{ v = \"{hmac}\" }}")),
        ),
        (
            "audit key of the wrong type",
            inline.replace(&format!("hmac_key = \"{audit}\""), &format!("hmac_key = [\"{audit}\"]")),
        ),
        (
            "password and password_env",
            inline.replace(&format!("password = \"{pw}\""), &format!("password = \"{pw}\"\npassword_env = \"X\"")),
        ),
        (
            "TOML syntax error on the password line",
            inline.replace(&format!("password = \"{pw}\""), &format!("password = \"{pw}")),
        ),
        (
            "TOML syntax error after the password",
            inline.replace(&format!("password = \"{pw}\""), &format!("password = \"{pw}\" x")),
        ),
    ];
    for (label, text) in &rows {
        assert_ne!(text, &inline, "row {label:?}: the change applied");
        let e = fx.load(text).unwrap_err();
        let shown = format!("{e}\n{e:?}");
        for s in secrets {
            assert!(!shown.contains(s), "row {label:?}: secret in {shown}");
        }
    }
}

#[test]
fn config_error_display_names_the_file_and_each_key() {
    let fx = Fixture::new();
    let text =
        config(&[("upstream", "bogus = 1"), ("server", "max_body_bytes = \"x\""), ("audit", "sink = \"syslog\"")]);
    let e = fx.load(&text).unwrap_err();
    let shown = e.to_string();
    assert!(shown.contains(&fx.file().display().to_string()), "{shown}");
    assert!(e.problems.len() >= 3, "{:?}", e.problems);
    for p in &e.problems {
        assert!(shown.contains(&format!("{}: {}", p.key, p.message)), "{shown}");
    }
    for key in ["upstream.bogus", "server.max_body_bytes", "audit.sink"] {
        assert!(shown.contains(key), "{key} in {shown}");
    }
}

#[test]
fn toml_syntax_error_names_the_line() {
    let fx = Fixture::new();
    let problems = fx.errors("[server]\nlisten = \"0.0.0.0:8080\"\nmax_body_bytes = = 3\n");
    assert_eq!(keys(&problems), ["(syntax)"]);
    assert!(problems[0].message.contains("line 3"), "{:?}", problems[0]);
}

// ---- the shipped example ----------------------------------------------------

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/hsgate.example.toml");

fn set_example_env() {
    set_env("HS_ACME_PASSWORD_EXAMPLE", "example-acme-password");
    set_env("HSGATE_HMAC_SECRET_EXAMPLE", "example-hmac-secret");
    set_env("HSGATE_AUDIT_KEY_EXAMPLE", "example-audit-key");
}

#[test]
fn example_config_validates_with_no_errors_or_warnings() {
    set_example_env();
    let c = load(std::path::Path::new(EXAMPLE)).unwrap_or_else(|e| panic!("{e}"));
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(c.profiles[0].password.expose_secret(), "example-acme-password");
    assert!(c.audit.hmac_key.is_some());
    // One key from example-jwks.json plus the HMAC key.
    let kids: Vec<_> = c.auth.keys.iter().map(|k| (k.kid.clone().unwrap_or_default(), k.alg)).collect();
    assert_eq!(
        kids,
        [
            ("example-es256".to_owned(), jsonwebtoken::Algorithm::ES256),
            ("hs-example".to_owned(), jsonwebtoken::Algorithm::HS256)
        ]
    );
    let token = crate::token::sign(
        jsonwebtoken::Algorithm::HS256,
        Some("hs-example"),
        &crate::token::encoding_key(jsonwebtoken::Algorithm::HS256, b"example-hmac-secret").unwrap(),
        &crate::token::claims("https://idp.example.internal", "hsgate", "svc-notes", Duration::from_secs(60)),
    )
    .unwrap();
    assert!(crate::auth::verify(&c.auth, &token, crate::auth::jwt::unix_now()).is_ok());
}

/// `(section, key)` for every `key =` line, commented out or not; sections
/// from `[x]`/`[[x]]` headers, commented out or not.
fn documented_keys(text: &str) -> BTreeSet<(String, String)> {
    let mut section = String::new();
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let line = line.trim_start().trim_start_matches('#').trim();
        if line.starts_with('[') {
            section = line.split(']').next().unwrap_or_default().trim_start_matches('[').to_owned();
            continue;
        }
        if let Some((key, _)) = line.split_once('=') {
            let key = key.trim();
            if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                out.insert((section.clone(), key.to_owned()));
            }
        }
    }
    out
}

#[test]
fn example_config_documents_every_key_of_this_release_and_no_later_one() {
    let text = std::fs::read_to_string(EXAMPLE).unwrap();
    let documented = documented_keys(&text);
    let expected: &[(&str, &[&str])] = &[
        (
            "server",
            &[
                "listen",
                "max_body_bytes",
                "header_read_timeout",
                "request_timeout",
                "idle_timeout",
                "write_timeout",
                "max_connections",
                "shutdown_grace",
            ],
        ),
        ("admin", &["listen"]),
        (
            "upstream",
            &[
                "url",
                "ca_file",
                "connect_timeout",
                "timeout",
                "allow_plaintext",
                "login_failure_threshold",
                "login_failure_cooldown",
            ],
        ),
        (
            "auth",
            &["issuers", "audiences", "algorithms", "leeway", "max_token_lifetime", "required_claims", "jwks_file"],
        ),
        ("auth.hmac", &["kid", "alg", "secret_env", "secret_file", "secret"]),
        ("auth.pem", &["kid", "alg", "file"]),
        ("audit", &["sink", "path", "hmac_key_env", "hmac_key_file", "hmac_key", "include_notes"]),
        ("profile", &["name", "customer_name", "user_name", "password_env", "password_file", "password"]),
        ("grant", &["name", "claims", "profiles", "routes"]),
    ];
    let mut missing = Vec::new();
    for (section, names) in expected {
        for name in *names {
            if !documented.contains(&((*section).to_owned(), (*name).to_owned())) {
                missing.push(format!("{section}.{name}"));
            }
        }
    }
    assert!(missing.is_empty(), "not documented: {missing:?}");

    let later = [
        "tls_cert_file",
        "tls_key_file",
        "client_ca_file",
        "jwks_url",
        "jwks_refresh",
        "jwks_ca_file",
        "jwks_min_refetch",
        "rate_limit",
        "upstream_url",
    ];
    for (section, key) in &documented {
        assert!(!later.contains(&key.as_str()), "{section}.{key} belongs to a later release");
        assert_ne!(section, "route", "[[route]] belongs to a later release");
    }
    assert!(text.contains("later release"));
    for name in later {
        assert!(text.contains(name), "the later-release note names {name}");
    }
}
