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
    tracing::info!(debugged = ?vec!["a\u{8}", "b\u{c}"], "debug value");
}

/// Each line as a JSON value, without its timestamp (the clocks differ).
fn lines(bytes: &[u8]) -> Vec<Value> {
    std::str::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|line| {
            let mut v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            let stamp = v.as_object_mut().unwrap().shift_remove("timestamp").unwrap();
            assert!(humantime::parse_rfc3339(stamp.as_str().unwrap()).is_ok(), "{stamp}");
            v
        })
        .collect()
}

#[test]
fn lines_say_what_tracing_subscribers_json_says_in_the_same_order() {
    let ours = Captured::default();
    let subscriber = tracing_subscriber::fmt().event_format(JsonLine).with_writer(ours.clone()).finish();
    tracing::subscriber::with_default(subscriber, events);

    let reference = Captured::default();
    let subscriber = tracing_subscriber::fmt().json().flatten_event(true).with_writer(reference.clone()).finish();
    tracing::subscriber::with_default(subscriber, events);

    let (ours, reference) = (lines(&ours.0.lock().unwrap()), lines(&reference.0.lock().unwrap()));
    assert_eq!(ours.len(), 4);
    assert_eq!(ours, reference);
    for (a, b) in ours.iter().zip(&reference) {
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(a), keys(b), "the same keys in the same order");
    }
}
