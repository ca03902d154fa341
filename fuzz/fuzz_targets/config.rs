//! Config text: `hsgate::config::load_str` (TOML syntax, every section,
//! every rule of SPEC §3, secrets, key files, routes, grants), as
//! `hsgate check` and `serve` run it. The config's folder is a fixture
//! folder holding the files the seeds name (keys, a JWKS, secret files).
//!
//! Asserts: no panic; a refused config lists at least one problem and every
//! problem names a key (a section, a dotted key path, `(syntax)`, or the
//! unknown key itself) and says what is wrong; no message, error or
//! warning, holds a secret: neither an inline one (each is replaced by a
//! marker in a second load of the same config) nor one read from a file or
//! an environment variable.
//!
//! Inputs naming `/dev`, `/proc`, `/sys` or `..` in any string are skipped:
//! the loader reads every file a config names, and a device file would only
//! make the fuzzer wait.

#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use hsgate::config::{load_str, Problem};
use libfuzzer_sys::fuzz_target;

const SECTIONS: [&str; 8] = ["server", "admin", "upstream", "auth", "audit", "profile", "grant", "route"];
/// Secrets the fixture folder and environment hold.
const FILE_SECRET: &str = "file-secret-Zq8vW3xK";
const ENV_SECRET: &str = "env-secret-Rt5mN2pL";
const MARKER: &str = "MARKER-9f3c-SECRET";

static CONFIG_FILE: OnceLock<PathBuf> = OnceLock::new();

/// The fixture folder (once per process) and the config file's path in it.
fn config_file() -> &'static Path {
    CONFIG_FILE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("hsgate-fuzz-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("fixture folder");
        let files: [(&str, Vec<u8>); 9] = [
            ("example-jwks.json", include_bytes!("../../config/example-jwks.json").to_vec()),
            ("rsa.pub.pem", hsgate_fuzz::pem::RSA_PUB.to_vec()),
            ("ec.pub.pem", hsgate_fuzz::pem::EC_PUB.to_vec()),
            ("ec384.pub.pem", hsgate_fuzz::pem::EC384_PUB.to_vec()),
            ("ed.pub.pem", hsgate_fuzz::pem::ED_PUB.to_vec()),
            ("password.txt", format!("{FILE_SECRET}\n").into_bytes()),
            ("hmac.txt", format!("{FILE_SECRET}-hmac\n").into_bytes()),
            ("not-utf8.txt", b"\xff\xfe secret".to_vec()),
            ("empty.txt", b"\n".to_vec()),
        ];
        for (name, bytes) in files {
            std::fs::write(dir.join(name), bytes).expect("fixture file");
        }
        std::env::set_var("HS_ACME_PASSWORD_EXAMPLE", format!("{ENV_SECRET}-acme"));
        std::env::set_var("HSGATE_HMAC_SECRET_EXAMPLE", format!("{ENV_SECRET}-hmac"));
        std::env::set_var("HSGATE_AUDIT_KEY_EXAMPLE", format!("{ENV_SECRET}-audit"));
        std::env::set_var("FUZZ_PASSWORD", ENV_SECRET);
        std::env::set_var("FUZZ_EMPTY", "");
        dir.join("hsgate.toml")
    })
}

/// Every string of a TOML value.
fn strings<'a>(v: &'a toml::Value, out: &mut Vec<&'a str>) {
    match v {
        toml::Value::String(s) => out.push(s),
        toml::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        toml::Value::Table(t) => t.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// Every key of a TOML table, at any depth.
fn keys<'a>(t: &'a toml::Table, out: &mut Vec<&'a str>) {
    for (k, v) in t {
        out.push(k);
        match v {
            toml::Value::Table(t) => keys(t, out),
            toml::Value::Array(a) => a.iter().filter_map(toml::Value::as_table).for_each(|t| keys(t, out)),
            _ => {}
        }
    }
}

/// Replaces every inline secret (`password`, `secret`, `hmac_key` strings) by
/// a marker; true if there was one.
fn mark_secrets(v: &mut toml::Value) -> bool {
    match v {
        toml::Value::Array(a) => a.iter_mut().fold(false, |found, v| mark_secrets(v) | found),
        toml::Value::Table(t) => {
            let mut found = false;
            for (k, v) in t.iter_mut() {
                if matches!(k.as_str(), "password" | "secret" | "hmac_key") && v.is_str() {
                    *v = toml::Value::String(MARKER.into());
                    found = true;
                } else {
                    found |= mark_secrets(v);
                }
            }
            found
        }
        _ => false,
    }
}

fn check_messages(problems: &[Problem], secrets: &[&str]) {
    for p in problems {
        assert!(!p.message.is_empty(), "problem without a message at {:?}", p.key);
        for s in secrets {
            assert!(!p.key.contains(s) && !p.message.contains(s), "a secret is shown in {p}");
        }
    }
}

/// Loads `text`; returns the problems (errors, or warnings of a config that loads).
fn load(text: &str, file: &Path, secrets: &[&str]) {
    match load_str(text, file) {
        Ok(config) => {
            assert!(!config.profiles.is_empty() && !config.grants.is_empty());
            assert!(config.routes.by_name(hsgate::routes::CALLS_UPDATE).is_some());
            check_messages(&config.warnings, secrets);
        }
        Err(e) => {
            assert_eq!(e.file, file);
            assert!(!e.problems.is_empty(), "a refused config with no problem listed");
            for p in &e.problems {
                assert!(!p.key.is_empty() && !p.key.contains('\n'), "problem without a key: {p:?}");
                let root = p.key.split(['.', '[']).next().unwrap_or_default();
                assert!(
                    root == "(syntax)" || SECTIONS.contains(&root) || p.message == "unknown key",
                    "problem key {:?} names no section: {p}",
                    p.key
                );
            }
            check_messages(&e.problems, secrets);
            assert!(!e.to_string().is_empty());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let file = config_file();
    let parsed = toml::from_str::<toml::Table>(text).ok().map(toml::Value::Table);
    if let Some(doc) = &parsed {
        let mut all = Vec::new();
        strings(doc, &mut all);
        if all.iter().any(|s| s.contains("/dev") || s.contains("/proc") || s.contains("/sys") || s.contains("..")) {
            return;
        }
    }
    // A secret the input itself spells out (in a key, say) may be echoed as that.
    let mut spelled: Vec<&str> = vec![text];
    if let Some(toml::Value::Table(t)) = &parsed {
        keys(t, &mut spelled);
        strings(parsed.as_ref().expect("parsed"), &mut spelled);
    }
    let secrets: Vec<&str> =
        [FILE_SECRET, ENV_SECRET, MARKER].into_iter().filter(|s| !spelled.iter().any(|w| w.contains(s))).collect();
    load(text, file, &secrets);
    if let Some(mut doc) = parsed {
        if secrets.contains(&MARKER) && mark_secrets(&mut doc) {
            if let Ok(marked) = toml::to_string(&doc) {
                load(&marked, file, &secrets);
            }
        }
    }
});
