//! `hsgate demo`: the zero-setup quick start. Generates a CA, a signing key
//! and a HostedSuite password, starts the built-in simulator on loopback
//! TLS and a gateway in front of it (through the normal config loader, from
//! a config written to a temporary folder), and prints a ready-to-run curl
//! line. Nothing outside loopback is contacted.

use std::net::SocketAddr;
use std::time::Duration;

use secrecy::SecretString;

use crate::commands::{Fatal, Signals};
use crate::config;
use crate::server;
use crate::sim::{Account, SimOptions, Simulator, TestPki};
use crate::token;

/// Start a simulator and a gateway on loopback and print a curl line to try (Ctrl-C stops).
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Gateway listen address (if its port is taken, a free one is used).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Admin listen address for /healthz, /readyz, /metrics (if its port is taken, a free one is used).
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub admin_listen: SocketAddr,
}

/// `addr` if it can be bound now, else the same IP with a free port: a
/// quick start should not fail because something else has port 8080.
fn free_or_any(addr: SocketAddr) -> SocketAddr {
    match std::net::TcpListener::bind(addr) {
        Ok(_) => addr,
        Err(_) => SocketAddr::new(addr.ip(), 0),
    }
}

const ISSUER: &str = "https://idp.demo.local";
const AUDIENCE: &str = "hsgate";
const SUBJECT: &str = "svc-notes";

fn other(context: &str) -> impl Fn(String) -> Fatal + '_ {
    move |e| Fatal::Other(format!("demo: {context}: {e}"))
}

/// `n` random bytes as hex; an error if the system's generator gives none
/// (the demo does not run with a password of zeros).
fn random_hex(n: usize) -> Result<String, Fatal> {
    let mut bytes = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| other("random")("the system's random generator failed".into()))?;
    Ok(crate::hexstr::lower(&bytes))
}

/// `rwx------`.
#[cfg(unix)]
fn owner_only() -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(0o700)
}

/// Writes `text` to a new file only its owner may read.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

pub async fn run(args: DemoArgs) -> Result<(), Fatal> {
    // SIGTERM as well as Ctrl-C ends the demo with its folder removed.
    let signals = Signals::new()?;
    // The folder holds the demo's password: the owner's alone, and so is each file.
    let mut folder = tempfile::Builder::new();
    folder.prefix("hsgate-demo-");
    #[cfg(unix)]
    folder.permissions(owner_only());
    let dir = folder.tempdir().map_err(|e| other("temp dir")(e.to_string()))?;
    let password = random_hex(16)?;

    // The HostedSuite side: simulator with one account, on loopback TLS.
    let pki = TestPki::generate().map_err(|e| other("CA")(e.to_string()))?;
    let tls = pki.server_config().map_err(|e| other("TLS")(e.to_string()))?;
    let sim_listener =
        tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| other("simulator")(e.to_string()))?;
    let account = Account {
        customer_name: "Acme Answering".into(),
        user_name: "api-gateway".into(),
        password: SecretString::from(password.clone()),
    };
    let sim = Simulator::start(sim_listener, tls, SimOptions { accounts: vec![account], ..SimOptions::default() })
        .map_err(|e| other("simulator")(e.to_string()))?;

    // The caller side: an Ed25519 signing key, its public half in the gateway's config.
    let signing = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(|e| other("key")(e.to_string()))?;
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        write_private(&path, text).map(|()| path).map_err(|e| other("write")(e.to_string()))
    };
    let ca_file = write("ca.pem", &pki.ca_pem)?;
    let pub_file = write("demo-key.pub.pem", &signing.public_key_pem())?;
    let pw_file = write("acme.password", &password)?;
    let config_text = format!(
        r#"# Written by `hsgate demo`.
[server]
listen = "{listen}"

[admin]
listen = "{admin}"

[upstream]
url = "{url}"
ca_file = "{ca}"

[auth]
issuers = ["{ISSUER}"]
audiences = ["{AUDIENCE}"]
algorithms = ["EdDSA"]

[[auth.pem]]
kid = "demo"
alg = "EdDSA"
file = "{public}"

[audit]
sink = "stdout"

[[profile]]
name = "acme"
customer_name = "Acme Answering"
user_name = "api-gateway"
password_file = "{pw}"

[[grant]]
name = "notes-service"
claims = {{ sub = "{SUBJECT}" }}
profiles = ["acme"]
routes = ["calls.update"]
"#,
        listen = free_or_any(args.listen),
        admin = free_or_any(args.admin_listen),
        url = sim.url(),
        ca = ca_file.display(),
        public = pub_file.display(),
        pw = pw_file.display(),
    );
    let config_file = write("hsgate.toml", &config_text)?;
    let config = config::load(&config_file)?;
    let running = server::start(config).await?;

    let key = token::encoding_key(jsonwebtoken::Algorithm::EdDSA, signing.serialize_pem().as_bytes())
        .map_err(|e| other("token")(e.to_string()))?;
    let claims = token::claims(ISSUER, AUDIENCE, SUBJECT, Duration::from_secs(3600));
    let jwt = token::sign(jsonwebtoken::Algorithm::EdDSA, Some("demo"), &key, &claims)
        .map_err(|e| other("token")(e.to_string()))?;

    eprintln!(
        "\nhsgate demo is running.\n\
         \x20 gateway     http://{addr}  (admin http://{admin}/metrics)\n\
         \x20 HostedSuite simulator {sim} (generated CA, account \"Acme Answering\" / \"api-gateway\")\n\
         \x20 config      {config}\n\
         Audit records are printed on stdout, logs on stderr. Try (token valid for 1 hour):\n\n\
         curl -sS http://{addr}/api/calls/update \\\n  -H 'Authorization: Bearer {jwt}' \\\n  -H 'Content-Type: application/json' \\\n  -d '{{\"Id\":\"call-1001\",\"Notes\":\"Called back, moved to Tue 10:30\"}}'\n\n\
         Press Ctrl-C to stop.\n",
        addr = running.addr,
        admin = running.admin_addr,
        sim = sim.url(),
        config = config_file.display(),
    );
    let why = signals.stop().await;
    tracing::info!(signal = why, "demo stopping");
    running.shutdown().await;
    sim.shutdown();
    Ok(())
}
