//! The `hsgate` command line: parses arguments and hands off to the library.

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use hsgate::commands::{self, Fatal};
use hsgate::logging::{self, LogArgs, LogFormat};
use hsgate::{demo, explain, sim, token};

#[derive(Parser, Debug)]
#[command(name = "hsgate", version, about = "Credential-injecting gateway for the HostedSuite call-center API")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    log: LogArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the gateway.
    Serve {
        /// Config file (TOML).
        #[arg(long, env = "HSGATE_CONFIG")]
        config: PathBuf,
        /// Threads that serve requests [default: the CPUs this process may use, cgroup limits included].
        #[arg(long, env = "HSGATE_WORKER_THREADS", value_parser = clap::value_parser!(u16).range(1..=1024))]
        worker_threads: Option<u16>,
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
    /// Dry-run the gateway's checks for a token, with no upstream call: which key, grant, profile, route and URL
    /// (or which rule refuses it). Exit 0 if the request would be forwarded, 3 if it would be refused.
    Explain(explain::ExplainArgs),
    /// Print a shell completion script (bash, zsh, fish, ...) to standard output.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to standard output: `hsgate man > hsgate.1`.
    Man,
    /// Mint a signed TEST token from a local key (development and tests only; real tokens come from your IdP).
    Token(token::TokenArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Held to the end of `main`: its drop writes out the queued log lines.
    let mut guard = None;
    let mut log = |default| guard = Some(logging::init(&cli.log, default));
    let code = match cli.command {
        Command::Serve { config, worker_threads } => {
            log(LogFormat::Json);
            block_on_with(worker_threads, commands::serve(&config))
        }
        Command::Check { config } => {
            log(LogFormat::Text);
            match commands::check(&config) {
                Ok(summary) => {
                    print!("{summary}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Command::Explain(args) => {
            log(LogFormat::Text);
            let mut verdict = None;
            let done = block_on(async {
                let report = explain::run(&args).await?;
                print!("{}", report.text);
                verdict = Some(report.verdict);
                Ok(())
            });
            verdict.map_or(done, |v| ExitCode::from(v.exit_code()))
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "hsgate", &mut script);
            print_bytes(&script)
        }
        Command::Man => {
            let mut page = Vec::new();
            match clap_mangen::Man::new(Cli::command()).render(&mut page) {
                Ok(()) => print_bytes(&page),
                Err(e) => fail(&Fatal::Other(format!("cannot render the man page: {e}"))),
            }
        }
        Command::Demo(args) => {
            log(LogFormat::Text);
            block_on(demo::run(args))
        }
        Command::Simulate(args) => {
            log(LogFormat::Text);
            block_on(async { sim::cli::run(args).await.map_err(|e| Fatal::Other(e.to_string())) })
        }
        Command::Token(args) => {
            log(LogFormat::Text);
            match token::run(&args) {
                Ok(jwt) => {
                    println!("{jwt}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&Fatal::Other(e.to_string())),
            }
        }
    };
    drop(guard);
    code
}

fn print_bytes(bytes: &[u8]) -> ExitCode {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&Fatal::Other(format!("cannot write to standard output: {e}"))),
    }
}

fn block_on(work: impl Future<Output = Result<(), Fatal>>) -> ExitCode {
    block_on_with(None, work)
}

/// `work` on a multi-threaded runtime of `workers` threads (tokio's default when `None`).
fn block_on_with(workers: Option<u16>, work: impl Future<Output = Result<(), Fatal>>) -> ExitCode {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = workers {
        builder.worker_threads(usize::from(n));
    }
    // Audit and log writers are woken when a worker runs out of work, once per burst.
    builder.on_thread_park(hsgate::batch::worker_parks).on_thread_stop(hsgate::batch::worker_stops);
    let runtime = match builder.enable_all().build() {
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
