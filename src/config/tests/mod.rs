//! Config rules of SPEC §3: defaults, every error reported with its key,
//! secrets from env/file/inline, and no secret in any message. Plus the
//! shipped `config/hsgate.example.toml`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use secrecy::ExposeSecret;
use tempfile::TempDir;

use super::*;

mod access;
mod example;
mod loading;
mod messages;
mod ops;
mod secrets;
mod upstream_auth;

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
