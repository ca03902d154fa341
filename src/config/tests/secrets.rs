//! Secrets from env, file or inline, and never in a message or `Debug`.

use super::*;

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
    assert!(
        crate::auth::verify(
            &c.auth,
            &crate::auth::KeySet::new(c.auth.keys.iter().cloned()),
            &token,
            crate::auth::jwt::unix_now()
        )
        .is_ok(),
        "HMAC secret from env"
    );

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
