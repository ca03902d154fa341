//! The `hsgate simulate` subcommand: run the HostedSuite simulator until Ctrl-C.

use std::ffi::OsString;
use std::path::PathBuf;

use secrecy::SecretString;

use super::{Account, SimError, SimOptions, Simulator, TestPki};

/// Environment variable holding the account password when no option names one.
pub const PASSWORD_ENV: &str = "HSGATE_SIM_PASSWORD";

/// Run a local HostedSuite API simulator (TLS, with a freshly generated test CA).
#[derive(clap::Args, Debug)]
pub struct SimulateArgs {
    /// Address to listen on (host:port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8443")]
    pub listen: String,

    /// Where to write the generated CA certificate (PEM) so clients can trust the simulator.
    #[arg(long, value_name = "FILE", default_value = "hsgate-sim-ca.pem")]
    pub ca_out: PathBuf,

    /// CustomerName of the one account the simulator accepts.
    #[arg(long, value_name = "NAME", default_value = "Acme Answering")]
    pub customer: String,

    /// UserName of the one account the simulator accepts.
    #[arg(long, value_name = "NAME", default_value = "api-gateway")]
    pub user: String,

    /// Read the account password from this environment variable
    /// (default: HSGATE_SIM_PASSWORD).
    #[arg(long, value_name = "VAR", conflicts_with = "password_file")]
    pub password_env: Option<String>,

    /// Read the account password from this file (trailing whitespace is trimmed).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,

    /// HTTP status for a refused login (default 500, as HostedSuite does).
    #[arg(long, value_name = "STATUS", value_parser = clap::value_parser!(u16).range(100..=599))]
    pub refusal_status: Option<u16>,

    /// ResponseStatus.ErrorCode for a refused login (default SecurityException).
    #[arg(long, value_name = "CODE")]
    pub refusal_code: Option<String>,
}

/// Run the simulator until Ctrl-C.
pub async fn run(args: SimulateArgs) -> Result<(), SimError> {
    let password = resolve_password(&args, |k| std::env::var_os(k))?;
    let pki = TestPki::generate()?;
    let tls = pki.server_config()?;
    tokio::fs::write(&args.ca_out, &pki.ca_pem).await.map_err(|source| SimError::IoAt {
        context: format!("cannot write CA certificate to {}", args.ca_out.display()),
        source,
    })?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|source| SimError::IoAt { context: format!("cannot listen on {}", args.listen), source })?;
    let mut options = SimOptions {
        accounts: vec![Account { customer_name: args.customer.clone(), user_name: args.user.clone(), password }],
        ..SimOptions::default()
    };
    if let Some(status) = args.refusal_status {
        options.refusal_status = status;
    }
    if let Some(code) = &args.refusal_code {
        options.refusal_code.clone_from(code);
    }
    let sim = Simulator::start(listener, tls, options)?;
    eprintln!(
        "HostedSuite simulator listening on {} (CA certificate: {}; account: customer {:?}, user {:?}); Ctrl-C to stop",
        sim.url(),
        args.ca_out.display(),
        args.customer,
        args.user
    );
    let waited = tokio::signal::ctrl_c().await;
    sim.shutdown();
    waited.map_err(|source| SimError::IoAt { context: "cannot wait for Ctrl-C".into(), source })
}

/// Find the account password: `--password-file`, `--password-env VAR`, else `HSGATE_SIM_PASSWORD`.
fn resolve_password(args: &SimulateArgs, getenv: impl Fn(&str) -> Option<OsString>) -> Result<SecretString, SimError> {
    let password = if let Some(path) = &args.password_file {
        let text = std::fs::read_to_string(path).map_err(|source| SimError::IoAt {
            context: format!("cannot read password file {}", path.display()),
            source,
        })?;
        text.trim_end().to_owned()
    } else {
        let var = args.password_env.as_deref().unwrap_or(PASSWORD_ENV);
        let value = getenv(var).ok_or_else(|| {
            SimError::Config(if args.password_env.is_some() {
                format!("environment variable {var} (from --password-env) is not set")
            } else {
                format!("no simulator password: set {PASSWORD_ENV} or use --password-env VAR / --password-file FILE")
            })
        })?;
        value.into_string().map_err(|_| SimError::Config(format!("environment variable {var} is not valid UTF-8")))?
    };
    if password.is_empty() {
        return Err(SimError::Config("the simulator password is empty".into()));
    }
    Ok(SecretString::from(password))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use clap::Parser;
    use secrecy::ExposeSecret;

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: SimulateArgs,
    }

    fn parse(argv: &[&str]) -> SimulateArgs {
        Cli::try_parse_from(std::iter::once("simulate").chain(argv.iter().copied())).unwrap().args
    }

    #[test]
    fn defaults() {
        let a = parse(&[]);
        assert_eq!(a.listen, "127.0.0.1:8443");
        assert_eq!(a.ca_out, PathBuf::from("hsgate-sim-ca.pem"));
        assert_eq!(a.customer, "Acme Answering");
        assert_eq!(a.user, "api-gateway");
        assert!(a.refusal_status.is_none() && a.refusal_code.is_none());
        let args = ["--password-env", "X", "--password-file", "f"];
        assert!(Cli::try_parse_from(std::iter::once("s").chain(args)).is_err());
        let bad = ["s", "--refusal-status", "42"];
        assert!(Cli::try_parse_from(bad).is_err());
    }

    #[test]
    fn password_sources() {
        let env = |k: &str| match k {
            "HSGATE_SIM_PASSWORD" => Some(OsString::from("from-default")),
            "MY_PW" => Some(OsString::from("from-var ")),
            _ => None,
        };
        let p = resolve_password(&parse(&[]), env).unwrap();
        assert_eq!(p.expose_secret(), "from-default");
        let p = resolve_password(&parse(&["--password-env", "MY_PW"]), env).unwrap();
        assert_eq!(p.expose_secret(), "from-var ");
        let e = resolve_password(&parse(&["--password-env", "NOPE"]), env).unwrap_err();
        assert!(e.to_string().contains("NOPE"));
        let e = resolve_password(&parse(&[]), |_| None).unwrap_err();
        assert!(e.to_string().contains(PASSWORD_ENV), "{e}");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret pw \n\n").unwrap();
        let p = resolve_password(&parse(&["--password-file", file.to_str().unwrap()]), |_| None).unwrap();
        assert_eq!(p.expose_secret(), "s3cret pw");
        std::fs::write(&file, " \n").unwrap();
        assert!(resolve_password(&parse(&["--password-file", file.to_str().unwrap()]), env).is_err());
    }

    #[tokio::test]
    async fn run_writes_ca_and_serves() {
        let dir = tempfile::tempdir().unwrap();
        let (pw, ca) = (dir.path().join("pw"), dir.path().join("ca.pem"));
        std::fs::write(&pw, "pw\n").unwrap();
        let (pw, ca_s) = (pw.to_str().unwrap(), ca.to_str().unwrap());
        let args = parse(&["--listen", "127.0.0.1:0", "--ca-out", ca_s, "--password-file", pw]);
        let task = tokio::spawn(run(args));
        for _ in 0..100 {
            if std::fs::read_to_string(&ca).is_ok_and(|s| s.contains("END CERTIFICATE")) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(!task.is_finished());
        assert!(std::fs::read_to_string(&ca).unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
        task.abort();
    }
}
