//! Diagnostic logs: tracing to stderr (JSON for `serve`, plain text for the
//! interactive commands), filtered by `RUST_LOG` (default `info`). Audit
//! records never go here: they have their own sink.

use tracing_subscriber::EnvFilter;

pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json { builder.json().flatten_event(true).try_init() } else { builder.compact().try_init() };
}
