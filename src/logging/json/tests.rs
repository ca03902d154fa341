use std::io;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tracing_subscriber::fmt::MakeWriter;

use super::*;

/// Collects what a subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[derive(Debug)]
struct Odd;

impl fmt::Display for Odd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an error with \"quotes\" and a\ttab")
    }
}

impl std::error::Error for Odd {}

/// The events of one run: one of each kind of field and of string content.
fn events() {
    let route: Option<&str> = None;
    tracing::info!(request_id = "r-1", status = 200u16, duration_ms = 0.412, route, "request");
    tracing::warn!(path = "/a\"b\\c\n\u{1}\u{7f}é😀", n = -5i64, ok = true, big = u64::MAX, "odd \"message\"\r");
    tracing::error!(error = &Odd as &(dyn std::error::Error + 'static), nan = f64::NAN, tiny = 1e-7, "with {} args", 2);
    tracing::info!(debugged = ?vec!["a\u{8}", "b\u{c}"], whole = 250.0, zero = -0.0, huge = 1e16, "debug value");
    log::warn!(target: "rustls::msgs::handshake", "from the log crate: {}", "\"quoted\"");
}

/// Each line, checked to be JSON, and its text after the timestamp (the clocks differ).
fn lines(bytes: &[u8]) -> Vec<String> {
    std::str::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            let stamp = v["timestamp"].as_str().unwrap();
            assert!(humantime::parse_rfc3339(stamp).is_ok(), "{stamp}");
            let prefix = format!("{{\"timestamp\":\"{stamp}\",");
            line.strip_prefix(&prefix).unwrap_or_else(|| panic!("the timestamp first: {line}")).to_owned()
        })
        .collect()
}

#[test]
fn lines_are_tracing_subscribers_json_lines_byte_for_byte() {
    // Events of the `log` crate become tracing events (as `init` has it, through tracing-subscriber).
    let _ = tracing_log::LogTracer::init();
    let ours = Captured::default();
    let subscriber = tracing_subscriber::fmt().event_format(JsonLine).with_writer(ours.clone()).finish();
    tracing::subscriber::with_default(subscriber, events);

    let reference = Captured::default();
    let subscriber = tracing_subscriber::fmt().json().flatten_event(true).with_writer(reference.clone()).finish();
    tracing::subscriber::with_default(subscriber, events);

    let (ours, reference) = (lines(&ours.0.lock().unwrap()), lines(&reference.0.lock().unwrap()));
    assert_eq!(ours.len(), 5);
    assert_eq!(ours, reference);
    assert!(ours[4].ends_with(r#""target":"rustls::msgs::handshake"}"#), "{}", ours[4]);
}
