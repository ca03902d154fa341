//! The `hsgate` command line: parses arguments and hands off to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use hsgate::commands;

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
    /// Load and validate the config, resolve every secret, print a summary (no secrets); exit 0 if it would serve.
    Check {
        /// Config file (TOML).
        #[arg(long, env = "HSGATE_CONFIG")]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config } => {
            hsgate::logging::init(true);
            let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("hsgate: cannot start the async runtime: {e}");
                    return ExitCode::from(1);
                }
            };
            match runtime.block_on(commands::serve(&config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e}");
                    eprintln!("hsgate: {e}");
                    ExitCode::from(e.exit_code() as u8)
                }
            }
        }
        Command::Check { config } => match commands::check(&config) {
            Ok(summary) => {
                print!("{summary}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("hsgate: {e}");
                ExitCode::from(e.exit_code() as u8)
            }
        },
    }
}
