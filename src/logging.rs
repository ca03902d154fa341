//! Diagnostic logs: tracing to stderr, JSON (one object a line) or text.
//! `serve` defaults to JSON, the interactive commands to text; colour only
//! when stderr is a terminal. The level comes from `--log-level`, else
//! `RUST_LOG`, else `info`. Audit records never go here: they have their own sink.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object a line (for log shippers).
    Json,
    /// Human-readable lines.
    Text,
}

/// The log options every command takes.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct LogArgs {
    /// Log line format [default: json for `serve`, text for the other commands].
    #[arg(long, global = true, env = "HSGATE_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Log filter, as RUST_LOG takes it (`warn`, `info,hsgate=debug`); wins over RUST_LOG.
    #[arg(long, global = true, env = "HSGATE_LOG_LEVEL", value_parser = parse_filter)]
    pub log_level: Option<String>,
}

fn parse_filter(text: &str) -> Result<String, String> {
    EnvFilter::try_new(text).map(|_| text.to_owned()).map_err(|e| e.to_string())
}

/// Installs the subscriber; `default` is the command's format when none is asked for.
pub fn init(args: &LogArgs, default: LogFormat) {
    let filter = match &args.log_level {
        Some(level) => EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info")),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match args.log_format.unwrap_or(default) {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.compact().with_ansi(std::io::stderr().is_terminal()).try_init(),
    };
}
