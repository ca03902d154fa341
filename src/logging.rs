//! Diagnostic logs: tracing to stderr, JSON (one object a line) or text.
//! `serve` defaults to JSON, the interactive commands to text; colour only
//! when stderr is a terminal. The level comes from `--log-level`, else
//! `RUST_LOG`, else `info`. Audit records never go here: they have their own sink.
//!
//! Lines are handed to a writer thread (tracing-appender) that writes them
//! through a buffer, flushed whenever nothing more is queued: one write(2)
//! per burst instead of one per line, and none on a request's task. Up to
//! 128,000 lines may wait; beyond that, lines are dropped rather than
//! blocking requests (the audit trail is never dropped: it has its own,
//! fail-closed sink).

use std::io::{BufWriter, IsTerminal};

use tracing_appender::non_blocking::WorkerGuard;
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
    #[arg(long, global = true, env = "HSGATE_LOG_FORMAT", value_enum, ignore_case = true)]
    pub log_format: Option<LogFormat>,
    /// Log filter, as RUST_LOG takes it (`warn`, `info,hsgate=debug`); wins over RUST_LOG.
    #[arg(long, global = true, env = "HSGATE_LOG_LEVEL", value_parser = parse_filter)]
    pub log_level: Option<String>,
}

fn parse_filter(text: &str) -> Result<String, String> {
    EnvFilter::try_new(text).map(|_| text.to_owned()).map_err(|e| e.to_string())
}

/// Installs the subscriber; `default` is the command's format when none is
/// asked for. Keep the guard until the process ends: dropping it writes out
/// what is still queued.
#[must_use = "dropping the guard stops the log writer"]
pub fn init(args: &LogArgs, default: LogFormat) -> WorkerGuard {
    let filter = match &args.log_level {
        Some(level) => EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info")),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let ansi = std::io::stderr().is_terminal();
    let (writer, guard) = tracing_appender::non_blocking(BufWriter::new(std::io::stderr()));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    let _ = match args.log_format.unwrap_or(default) {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.compact().with_ansi(ansi).try_init(),
    };
    guard
}
