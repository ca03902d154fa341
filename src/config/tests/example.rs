//! The shipped `config/hsgate.example.toml`.

use super::*;

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
    assert!(crate::auth::verify(
        &c.auth,
        &crate::auth::KeySet::new(c.auth.keys.iter().cloned()),
        &token,
        crate::auth::jwt::unix_now()
    )
    .is_ok());
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
                "tls_cert_file",
                "tls_key_file",
                "client_ca_file",
                "max_body_bytes",
                "header_read_timeout",
                "request_timeout",
                "idle_timeout",
                "write_timeout",
                "max_connections",
                "max_in_flight",
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
                "http2",
                "max_connections",
                "login_failure_threshold",
                "login_failure_cooldown",
            ],
        ),
        (
            "auth",
            &[
                "issuers",
                "audiences",
                "algorithms",
                "leeway",
                "max_token_lifetime",
                "required_claims",
                "jwks_file",
                "jwks_url",
                "jwks_refresh",
                "jwks_ca_file",
                "jwks_min_refetch",
            ],
        ),
        ("auth.hmac", &["kid", "alg", "secret_env", "secret_file", "secret"]),
        ("auth.pem", &["kid", "alg", "file"]),
        ("audit", &["sink", "path", "hmac_key_env", "hmac_key_file", "hmac_key", "include_notes", "fsync"]),
        (
            "profile",
            &["name", "customer_name", "user_name", "password_env", "password_file", "password", "upstream_url"],
        ),
        ("grant", &["name", "claims", "profiles", "routes", "rate_limit"]),
        ("route", &["name", "path", "operation", "aliases", "fields"]),
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

    assert!(!text.contains("later release"), "every key is in this release");
}
