//! Diagnostic logs: tracing to stderr, JSON (one object a line) or text.
//! `serve` defaults to JSON, the interactive commands to text; colour only
//! when stderr is a terminal. The level comes from `--log-level`, else
//! `RUST_LOG`, else `info`. Audit records never go here: they have their own sink.
//!
//! Lines are appended to a buffer that a writer thread empties into stderr
//! (`crate::batch`): one write(2) per `FLUSH_EVERY` (sooner past 64 KiB), none
//! on a request's task, and no wake-up per line. Up to `CAPACITY` bytes may
//! wait; beyond that, lines are dropped and counted rather than blocking
//! requests (the audit trail is never dropped: it has its own, fail-closed
//! sink).

use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

use crate::batch::{self, Lines, Urgency};

mod json;

/// Bytes of log lines that may wait for the writer.
const CAPACITY: usize = 8 << 20;
/// Pending bytes that wake the writer before its next look.
const HIGH_WATER: usize = 64 << 10;
/// How often the writer looks for lines: the most a line waits.
const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// Longest the exit waits for the last lines (stderr may be a stuck pipe).
const EXIT_WAIT: Duration = Duration::from_secs(1);

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

/// Writes what is still pending when dropped (at most `EXIT_WAIT`).
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard {
    lines: Option<(Lines, batch::Writer)>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        if let Some((lines, writer)) = self.lines.take() {
            lines.close();
            writer.join_within(EXIT_WAIT);
        }
    }
}

/// The subscriber's writer: each event arrives as one whole line.
#[derive(Clone)]
struct LogLines {
    lines: Lines,
    dropped: Arc<AtomicU64>,
}

impl<'a> MakeWriter<'a> for LogLines {
    type Writer = &'a LogLines;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

impl Write for &LogLines {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        if self.lines.append(line, Urgency::Linger).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The writer thread's end: stderr, plus a note of lines dropped since the last batch.
struct Stderr {
    dropped: Arc<AtomicU64>,
    format: LogFormat,
}

impl batch::Sink for Stderr {
    fn write_batch(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut err = io::stderr().lock();
        err.write_all(bytes)?;
        match self.dropped.swap(0, Ordering::Relaxed) {
            0 => {}
            n => {
                let (stamp, note) = (json::timestamp(), "log lines dropped: the log writer fell behind");
                let line = match self.format {
                    LogFormat::Json => format!(
                        "{{\"timestamp\":\"{stamp}\",\"level\":\"WARN\",\"message\":\"{note}\",\"dropped\":{n},\"target\":\"hsgate::logging\"}}\n"
                    ),
                    LogFormat::Text => format!("{stamp}  WARN hsgate::logging: {note} dropped={n}\n"),
                };
                err.write_all(line.as_bytes())?;
            }
        }
        err.flush()
    }
}

/// Installs the subscriber; `default` is the command's format when none is
/// asked for. Keep the guard until the process ends: dropping it writes out
/// what is still pending.
pub fn init(args: &LogArgs, default: LogFormat) -> LogGuard {
    let filter = match &args.log_level {
        Some(level) => EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info")),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let ansi = io::stderr().is_terminal();
    let format = args.log_format.unwrap_or(default);
    let dropped = Arc::new(AtomicU64::new(0));
    let limits = batch::Limits { capacity: CAPACITY, high_water: HIGH_WATER, linger: FLUSH_EVERY };
    match batch::spawn("hsgate-log", Stderr { dropped: dropped.clone(), format }, limits, |_| {}) {
        Ok((lines, writer)) => {
            install(filter, format, ansi, LogLines { lines: lines.clone(), dropped });
            LogGuard { lines: Some((lines, writer)) }
        }
        Err(_) => {
            // No thread for the writer: log straight to stderr rather than not at all.
            install(filter, format, ansi, io::stderr);
            LogGuard { lines: None }
        }
    }
}

fn install<W>(filter: EnvFilter, format: LogFormat, ansi: bool, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    let _ = match format {
        LogFormat::Json => builder.event_format(json::JsonLine).try_init(),
        LogFormat::Text => builder.compact().with_ansi(ansi).try_init(),
    };
}
