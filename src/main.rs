//! The `hsgate` command line: parses arguments and hands off to the library.

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use hsgate::commands::{self, Fatal};
use hsgate::{demo, logging, sim, token};

#[derive(Parser, Debug)]
#[command(name = "hsgate", version, about = "Credential-injecting gateway for the HostedSuite call-center API")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the gateway.
    Serve {
        /// Config file (TOML).
        #[arg(long, env = "HSGATE_CONFIG")]
        config: PathBuf,
    },
    /// Load and validate the config, resolve every secret and print a summary without secrets; exit 0 if it would serve.
    Check {
        /// Config file (TOML).
        #[arg(long, env = "HSGATE_CONFIG")]
        config: PathBuf,
    },
    /// Zero-setup quick start: a HostedSuite simulator and a gateway on loopback, and a curl line to try.
    Demo(demo::DemoArgs),
    /// Run the built-in HostedSuite simulator alone (TLS, generated CA), for testing your services locally.
    Simulate(sim::cli::SimulateArgs),
    /// Mint a signed TEST token from a local key (development and tests only; real tokens come from your IdP).
    Token(token::TokenArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Serve { config } => {
            logging::init(true);
            block_on(commands::serve(&config))
        }
        Command::Check { config } => match commands::check(&config) {
            Ok(summary) => {
                print!("{summary}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
        Command::Demo(args) => {
            logging::init(false);
            block_on(demo::run(args))
        }
        Command::Simulate(args) => {
            logging::init(false);
            block_on(async { sim::cli::run(args).await.map_err(|e| Fatal::Other(e.to_string())) })
        }
        Command::Token(args) => match token::run(&args) {
            Ok(jwt) => {
                println!("{jwt}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&Fatal::Other(e.to_string())),
        },
    }
}

fn block_on(work: impl Future<Output = Result<(), Fatal>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(&Fatal::Other(format!("cannot start the async runtime: {e}"))),
    };
    match runtime.block_on(work) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(e: &Fatal) -> ExitCode {
    eprintln!("hsgate: {e}");
    ExitCode::from(e.exit_code())
}
