//! Redaction against writers that are not ours. Echoed bodies are produced by
//! serde_json and by a hand-written writer with switchable habits
//! (System.Text.Json's `\u0022`-style and all-non-ASCII escaping, `\/`,
//! upper or lower-case hex, surrogate pairs); the oracle that says whether a
//! password survived decodes with serde_json only: every string of the
//! answer, and every JSON value or string literal that starts inside one.

use proptest::prelude::*;
use secrecy::SecretString;
use serde_json::{json, Value};

use super::{Redactor, REDACTED};

fn redactor(password: &str) -> Redactor {
    Redactor::new(&SecretString::from(password.to_owned()))
}

/// How a JSON writer escapes strings.
#[derive(Debug, Clone, Copy)]
struct Writer {
    /// `"` as `\u0022`, `'` `<` `>` `&` `+` as `\u00XX`, every non-ASCII character as `\uXXXX` (System.Text.Json).
    dotnet: bool,
    /// Every non-ASCII character as `\uXXXX` (surrogate pairs beyond the BMP).
    ascii_only: bool,
    /// `/` as `\/`.
    slash: bool,
    /// Hex digits in upper case.
    upper: bool,
}

const SERDE: Option<Writer> = None;
const DOTNET: Writer = Writer { dotnet: true, ascii_only: true, slash: false, upper: true };
const DOTNET_LOWER: Writer = Writer { dotnet: true, ascii_only: true, slash: false, upper: false };
const SLASHES: Writer = Writer { dotnet: false, ascii_only: false, slash: true, upper: false };
const ASCII_LOWER: Writer = Writer { dotnet: false, ascii_only: true, slash: true, upper: false };

fn writers() -> Vec<Option<Writer>> {
    vec![SERDE, Some(DOTNET), Some(DOTNET_LOWER), Some(SLASHES), Some(ASCII_LOWER)]
}

impl Writer {
    fn unit(&self, out: &mut String, unit: u16) {
        if self.upper {
            out.push_str(&format!("\\u{unit:04X}"));
        } else {
            out.push_str(&format!("\\u{unit:04x}"));
        }
    }

    fn string(&self, s: &str, out: &mut String) {
        out.push('"');
        for c in s.chars() {
            match c {
                '"' if self.dotnet => self.unit(out, 0x22),
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '/' if self.slash => out.push_str("\\/"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\'' | '<' | '>' | '&' | '+' if self.dotnet => self.unit(out, c as u16),
                c if (c as u32) < 0x20 => self.unit(out, c as u16),
                c if !c.is_ascii() && self.ascii_only => {
                    let mut units = [0u16; 2];
                    for u in c.encode_utf16(&mut units) {
                        self.unit(out, *u);
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }

    fn value(&self, v: &Value, out: &mut String) {
        match v {
            Value::String(s) => self.string(s, out),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    self.value(item, out);
                }
                out.push(']');
            }
            Value::Object(map) => {
                out.push('{');
                for (i, (k, item)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    self.string(k, out);
                    out.push(':');
                    self.value(item, out);
                }
                out.push('}');
            }
            other => out.push_str(&other.to_string()),
        }
    }
}

fn write(writer: Option<Writer>, v: &Value) -> String {
    match writer {
        None => serde_json::to_string(v).unwrap(),
        Some(w) => {
            let mut out = String::new();
            w.value(v, &mut out);
            out
        }
    }
}

/// A ServiceStack error that echoes the request as JSON text in its Message,
/// the request written by `inner` and the whole answer by `outer`.
fn echo(password: &str, inner: Option<Writer>, outer: Option<Writer>) -> String {
    let request =
        json!({"Id": "call-1001", "Notes": "n/1", "CustomerName": "Acme", "UserName": "gw", "Password": password});
    let message = format!("Request: {} failed", write(inner, &request));
    let answer = json!({"ResponseStatus": {"ErrorCode": "ValidationException", "Message": message, "Errors": []}});
    write(outer, &answer)
}

/// The same, with the echo nested once more (JSON text in JSON text in a string).
fn echo_twice(password: &str, inner: Option<Writer>, middle: Option<Writer>, outer: Option<Writer>) -> String {
    let request = json!({"Password": password});
    let wrapped = json!({"Inner": format!("req={}", write(inner, &request))});
    let answer = json!({"Message": format!("outer {}", write(middle, &wrapped))});
    write(outer, &answer)
}

/// Every string of `v` (keys included), recursively through any JSON value
/// or string literal that begins inside one of them, as serde_json reads it.
fn decoded_strings(v: &Value, depth: usize, out: &mut Vec<String>) {
    let mut own = Vec::new();
    match v {
        Value::String(s) => own.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| decoded_strings(i, depth, out)),
        Value::Object(map) => {
            for (k, item) in map {
                own.push(k.clone());
                decoded_strings(item, depth, out);
            }
        }
        _ => {}
    }
    for s in own {
        if depth > 0 {
            for (i, c) in s.char_indices() {
                if matches!(c, '{' | '[' | '"') {
                    let mut values = serde_json::Deserializer::from_str(&s[i..]).into_iter::<Value>();
                    if let Some(Ok(inner)) = values.next() {
                        decoded_strings(&inner, depth - 1, out);
                    }
                }
            }
        }
        out.push(s);
    }
}

fn leaks(body: &str, password: &str) -> bool {
    let doc: Value = serde_json::from_str(body).expect("the body is JSON");
    let mut all = Vec::new();
    decoded_strings(&doc, 4, &mut all);
    all.iter().any(|s| s.contains(password))
}

/// Redacts `body` as relay does; the body after, and whether it changed.
fn run(password: &str, body: &str) -> (String, bool) {
    let r = redactor(password);
    let mut doc: Value = serde_json::from_str(body).unwrap();
    let changed = r.may_occur(body.as_bytes()) && r.redact(&mut doc);
    (if changed { serde_json::to_string(&doc).unwrap() } else { body.to_owned() }, changed)
}

#[test]
fn echoes_escaped_by_any_writer_are_redacted() {
    let passwords = ["p@ss\"w✓rd", "a<b>&c+d'e", "back\\slash/and\"quote", "astral😀pw", "plain-Hunter2", "é"];
    for password in passwords {
        for inner in writers() {
            for outer in writers() {
                let body = echo(password, inner, outer);
                assert!(leaks(&body, password), "oracle must see {password:?} in {body}");
                let (after, changed) = run(password, &body);
                assert!(changed, "{password:?} {inner:?}/{outer:?}: not redacted in {body}");
                assert!(!leaks(&after, password), "{password:?} {inner:?}/{outer:?}: survives in {after}");
                assert!(after.contains(REDACTED), "{after}");
                // The rest of the message is still there.
                assert!(after.contains("ValidationException") && after.contains("failed"), "{after}");
            }
        }
    }
}

#[test]
fn echoes_nested_twice_are_redacted() {
    for password in ["p@ss\"w✓rd", "x/y\\z"] {
        for inner in writers() {
            for middle in [SERDE, Some(DOTNET)] {
                for outer in [SERDE, Some(SLASHES), Some(DOTNET_LOWER)] {
                    let body = echo_twice(password, inner, middle, outer);
                    assert!(leaks(&body, password), "oracle must see it in {body}");
                    let (after, _) = run(password, &body);
                    assert!(!leaks(&after, password), "{inner:?}/{middle:?}/{outer:?}: survives in {after}");
                }
            }
        }
    }
}

#[test]
fn the_escaped_span_is_replaced_and_the_rest_kept() {
    // System.Text.Json's echo of {"Password":"p\"w"} inside a message.
    let body = r#"{"Message":"Request: {\"Password\":\"p\\u0022w\"} failed"}"#;
    let (after, changed) = run("p\"w", body);
    assert!(changed);
    let doc: Value = serde_json::from_str(&after).unwrap();
    assert_eq!(doc["Message"], r#"Request: {"Password":"[redacted]"} failed"#);
}

#[test]
fn hex_case_surrogates_and_short_escapes() {
    let rows: &[(&str, &str)] = &[
        ("upper-case hex", r#"{"m":"{\"P\":\"caf\\u00E9\"}"}"#),
        ("lower-case hex", r#"{"m":"{\"P\":\"caf\\u00e9\"}"}"#),
        ("escaped in the raw bytes only", r#"{"m":"caf\u00e9"}"#),
        ("mixed: raw escape and view escape", r#"{"m":"{\"P\":\"c\u0061f\\u00e9\"}"}"#),
    ];
    for (label, body) in rows {
        assert!(leaks(body, "café"), "{label}: oracle");
        let (after, changed) = run("café", body);
        assert!(changed && !leaks(&after, "café"), "{label}: {after}");
    }
    let astral = r#"{"m":"{\"P\":\"x\\uD83D\\uDE00y\"}"}"#;
    let (after, changed) = run("x😀y", astral);
    assert!(changed && !leaks(&after, "x😀y"), "surrogate pair: {after}");
    let short = r#"{"m":"{\"P\":\"a\\/b\\\\c\\\"d\\te\"}"}"#;
    let (after, changed) = run("a/b\\c\"d\te", short);
    assert!(changed && !leaks(&after, "a/b\\c\"d\te"), "short escapes: {after}");
}

#[test]
fn a_backslash_that_starts_no_escape_stands_for_itself() {
    // `\q` is no escape: the view keeps it, so a password holding `\q` is found.
    let body = r#"{"m":"pw=a\\qb and \\u12 and \\uD83D alone"}"#;
    for (password, present) in [("a\\qb", true), ("\\u12", true), ("\\uD83D alone", true), ("aqb", false)] {
        let (after, changed) = run(password, body);
        assert_eq!(changed, present, "{password:?}");
        assert!(!leaks(&after, password), "{password:?}: {after}");
    }
}

#[test]
fn keys_overlaps_and_a_password_that_is_the_marker() {
    let (after, _) = run("Hunter2", r#"{"x-Hunter2-y":1,"ok":"Hunter2Hunter2"}"#);
    assert!(!leaks(&after, "Hunter2"), "{after}");
    let (after, _) = run("aa", r#"{"m":"aaaaa"}"#);
    assert!(!leaks(&after, "aa"), "overlapping: {after}");
    for password in ["[redacted]", "redacted", "d]", "["] {
        let body = json!({"m": format!("x{password}y")}).to_string();
        let (after, changed) = run(password, &body);
        assert!(changed && !leaks(&after, password), "{password:?}: {after}");
    }
}

#[test]
fn bodies_without_the_password_are_left_alone_and_mostly_not_walked() {
    let r = redactor("Hunter2-Secret");
    let record = r#"{"Id":"call-1001","Notes":"caf\u00e9","StartTime":"\/Date(1700000000000)\/"}"#;
    let mut doc: Value = serde_json::from_str(record).unwrap();
    assert!(r.may_occur(record.as_bytes()), "a \\u escape may hide anything");
    assert!(!r.redact(&mut doc));
    let plain = r#"{"Id":"call-1001","Notes":"nothing \/ here","Flagged":true}"#;
    assert!(!r.may_occur(plain.as_bytes()), "no \\u and no segment of the password: no walk");
    let split = r#"{"m":"Hunter2-\/Secret"}"#;
    assert!(!r.may_occur(split.as_bytes()), "decodes to Hunter2-/Secret: not the password");
    let slashed = redactor("Hunter2/Secret");
    assert!(slashed.may_occur(split.replace('-', "").as_bytes()), "each segment present around an escapable /");
    // A password made only of short-escape characters is always looked for.
    assert!(redactor("\"/").may_occur(b"{}"));
}

fn password_strategy() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-zA-Z0-9]{1,4}",
        Just("\"".to_owned()),
        Just("\\".to_owned()),
        Just("/".to_owned()),
        Just("<&>+'".to_owned()),
        Just("é".to_owned()),
        Just("✓".to_owned()),
        Just("😀".to_owned()),
        Just("\n".to_owned()),
        Just("[redacted]".to_owned()),
        Just("\\u0041".to_owned()),
    ];
    proptest::collection::vec(piece, 1..6).prop_map(|parts| parts.concat())
}

fn writer_strategy() -> impl Strategy<Value = Option<Writer>> {
    (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(serde, dotnet, ascii_only, slash, upper)| {
            (!serde).then_some(Writer { dotnet, ascii_only: ascii_only || dotnet, slash, upper })
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_escaping_lets_the_password_through(
        password in password_strategy(),
        inner in writer_strategy(),
        outer in writer_strategy(),
        twice in any::<bool>(),
    ) {
        let body = if twice { echo_twice(&password, inner, inner, outer) } else { echo(&password, inner, outer) };
        prop_assume!(leaks(&body, &password));
        let (after, changed) = run(&password, &body);
        prop_assert!(changed);
        prop_assert!(!leaks(&after, &password), "survives in {}", after);
    }

    #[test]
    fn unrelated_answers_are_byte_identical(
        notes in "[a-zA-Z0-9 é✓\"<>/]{0,40}",
        writer in writer_strategy(),
    ) {
        // The password holds `#`, which no string of this answer can produce (no backslash decodes to it).
        let body = write(writer, &json!({"Id": "call-1001", "Notes": notes, "Flagged": false}));
        let (after, changed) = run("pw#1", &body);
        prop_assert!(!changed);
        prop_assert_eq!(after, body);
    }
}

mod props;
