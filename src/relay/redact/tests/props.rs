//! Generated answers (issue "hardening"): random JSON documents with the
//! password in keys, values and JSON text nested in strings, each level
//! written by a writer drawn at random — serde_json, the parent module's
//! hand-written writers (System.Text.Json habits, `\/`, ASCII-only with
//! surrogate pairs, either hex case) and one more written here that escapes
//! *every* character as `\uXXXX`. The parent's serde_json-only oracle says
//! whether the password survived; answers that cannot hold it are built
//! from an alphabet no writer and no unescaping can turn into one of the
//! password's characters, so "nothing matched" is known without asking the
//! code under test.

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::{leaks, redactor, run, write, Writer};

/// How one level of the document is written.
#[derive(Debug, Clone, Copy)]
enum Style {
    Serde,
    Hand(Writer),
    /// Every character of every string as `\uXXXX` (surrogate pairs beyond the BMP).
    EscapeAll {
        upper: bool,
    },
}

fn style() -> impl Strategy<Value = Style> {
    prop_oneof![
        Just(Style::Serde),
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(dotnet, ascii_only, slash, upper)| {
            Style::Hand(Writer { dotnet, ascii_only: ascii_only || dotnet, slash, upper })
        }),
        any::<bool>().prop_map(|upper| Style::EscapeAll { upper }),
    ]
}

fn escape_all_string(s: &str, upper: bool, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        let mut units = [0u16; 2];
        for u in c.encode_utf16(&mut units) {
            out.push_str(&if upper { format!("\\u{u:04X}") } else { format!("\\u{u:04x}") });
        }
    }
    out.push('"');
}

fn escape_all(v: &Value, upper: bool, out: &mut String) {
    match v {
        Value::String(s) => escape_all_string(s, upper, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                escape_all(item, upper, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                escape_all_string(k, upper, out);
                out.push(':');
                escape_all(item, upper, out);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn write_in(style: Style, v: &Value) -> String {
    match style {
        Style::Serde => write(None, v),
        Style::Hand(w) => write(Some(w), v),
        Style::EscapeAll { upper } => {
            let mut out = String::new();
            escape_all(v, upper, &mut out);
            out
        }
    }
}

#[test]
fn the_escape_all_writer_is_json_serde_reads_back() {
    let v = serde_json::json!({"k\u{1F600}\"": ["a\\/é\n", 1, null, {"x": "\u{0}y"}]});
    for upper in [false, true] {
        let text = write_in(Style::EscapeAll { upper }, &v);
        assert!(!text.contains('k') && !text.contains('é'), "{text}");
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), v, "{text}");
    }
}

/// A piece of a generated string.
#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    Password,
}

/// A generated document; `Json` is a string holding another document as
/// JSON text, written in its own style.
#[derive(Debug, Clone)]
enum Node {
    Str(Vec<Piece>),
    Num(i64),
    Bool(bool),
    Null,
    Arr(Vec<Node>),
    Obj(Vec<(Vec<Piece>, Node)>),
    Json { before: Vec<Piece>, inner: Box<Node>, style: Style, after: Vec<Piece> },
}

fn text(pieces: &[Piece], password: &str) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(t) => t.as_str(),
            Piece::Password => password,
        })
        .collect()
}

impl Node {
    fn value(&self, password: &str) -> Value {
        match self {
            Node::Str(p) => Value::String(text(p, password)),
            Node::Num(n) => Value::from(*n),
            Node::Bool(b) => Value::Bool(*b),
            Node::Null => Value::Null,
            Node::Arr(items) => Value::Array(items.iter().map(|n| n.value(password)).collect()),
            Node::Obj(members) => {
                let map: Map<String, Value> =
                    members.iter().map(|(k, n)| (text(k, password), n.value(password))).collect();
                Value::Object(map)
            }
            Node::Json { before, inner, style, after } => Value::String(format!(
                "{}{}{}",
                text(before, password),
                write_in(*style, &inner.value(password)),
                text(after, password)
            )),
        }
    }
}

/// Strings from `filler`, with the password among them when `with_password`.
fn pieces(filler: BoxedStrategy<String>, with_password: bool) -> impl Strategy<Value = Vec<Piece>> {
    let piece = if with_password {
        prop_oneof![3 => filler.prop_map(Piece::Text), 1 => Just(Piece::Password)].boxed()
    } else {
        filler.prop_map(Piece::Text).boxed()
    };
    proptest::collection::vec(piece, 0..4)
}

/// Documents up to three levels of JSON text deep.
fn node(filler: BoxedStrategy<String>, with_password: bool) -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        4 => pieces(filler.clone(), with_password).prop_map(Node::Str),
        1 => any::<i64>().prop_map(Node::Num),
        1 => any::<bool>().prop_map(Node::Bool),
        1 => Just(Node::Null),
    ];
    leaf.prop_recursive(3, 24, 4, move |inner| {
        let f = filler.clone();
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Node::Arr),
            proptest::collection::vec((pieces(f.clone(), with_password), inner.clone()), 0..4).prop_map(Node::Obj),
            (pieces(f.clone(), with_password), inner, style(), pieces(f, with_password))
                .prop_map(|(before, inner, style, after)| Node::Json { before, inner: Box::new(inner), style, after }),
        ]
    })
}

/// Anything a string may hold: quotes, backslashes (also ones that start
/// no escape, or spell `\u` text), `/`, control and non-ASCII characters,
/// astral ones, the marker itself.
fn any_filler() -> BoxedStrategy<String> {
    prop_oneof![
        "[a-zA-Z0-9 ]{0,5}",
        Just("\"".to_owned()),
        Just("\\".to_owned()),
        Just("/".to_owned()),
        Just("\\u0041".to_owned()),
        Just("\\q".to_owned()),
        Just("[redacted]".to_owned()),
        Just("é✓".to_owned()),
        Just("\u{1F600}".to_owned()),
        Just("\n\t\u{0}".to_owned()),
        any::<char>().prop_map(String::from),
    ]
    .boxed()
}

fn password() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-zA-Z0-9]{1,4}",
        Just("\"".to_owned()),
        Just("\\".to_owned()),
        Just("/".to_owned()),
        Just("é".to_owned()),
        Just("\u{1F511}".to_owned()),
        Just("[redacted]".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("***".to_owned()),
        Just("\\u0041".to_owned()),
        Just("\n".to_owned()),
        any::<char>().prop_map(String::from),
    ];
    proptest::collection::vec(piece, 1..5).prop_map(|parts| parts.concat())
}

/// Characters no writer emits and no unescaping yields from the
/// `safe_filler` alphabet (which has no `u`, so no `\u` escape can be formed
/// from its characters, and none of these is an escape's result).
const NEVER_PRODUCED: [char; 4] = ['#', '§', '~', '\u{1F511}'];

/// Filler without `u`, `#`, `§`, `~`, U+1F511; with quotes, backslashes,
/// `/`, non-ASCII and astral characters (which writers escape as `\u`).
fn safe_filler() -> BoxedStrategy<String> {
    prop_oneof![
        "[a-tv-zA-Z0-9 ]{0,5}",
        Just("\"".to_owned()),
        Just("\\".to_owned()),
        Just("/".to_owned()),
        Just("é✓".to_owned()),
        Just("\u{1F600}".to_owned()),
        Just("\n\t".to_owned()),
        Just("[redacted]".to_owned()),
    ]
    .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Wherever the password stands in a generated answer, however each
    /// level was written, it survives in no decoded string afterwards, and
    /// a second pass finds nothing left.
    #[test]
    fn the_password_never_survives_in_a_generated_answer(
        password in password(),
        doc in node(any_filler(), true),
        forced in (pieces(any_filler(), false), style(), pieces(any_filler(), false)),
        outer in style(),
    ) {
        // At least one occurrence, as JSON text of the request echoed in a message.
        let (before, inner_style, after) = forced;
        let echo = Node::Json {
            before,
            inner: Box::new(Node::Obj(vec![(vec![Piece::Text("Password".into())], Node::Str(vec![Piece::Password]))])),
            style: inner_style,
            after,
        };
        let root = Node::Obj(vec![
            (vec![Piece::Text("Doc".into())], doc),
            (vec![Piece::Text("Message".into())], echo),
        ]);
        let body = write_in(outer, &root.value(&password));
        prop_assert!(leaks(&body, &password), "the oracle must see the echo in {}", body);
        let (redacted, changed) = run(&password, &body);
        prop_assert!(changed);
        prop_assert!(!leaks(&redacted, &password), "survives in {}", redacted);
        let (again, changed_again) = run(&password, &redacted);
        prop_assert!(!changed_again, "a second pass still found it in {}", redacted);
        prop_assert_eq!(again, redacted);
    }

    /// An answer that cannot hold the password (it has a character no
    /// string of the answer can produce) is relayed byte for byte, even when
    /// it holds every other piece of the password and is full of `\u`.
    #[test]
    fn an_answer_without_the_password_is_byte_identical(
        pieces_of_password in proptest::collection::vec("[a-tv-z0-9\"\\\\/é]{1,3}", 1..4),
        marks in proptest::collection::vec(prop::sample::select(&NEVER_PRODUCED[..]), 1..3),
        doc in node(safe_filler(), true),
        outer in style(),
    ) {
        // The password: its pieces with the never-produced characters between them.
        let mut password = String::new();
        for (i, p) in pieces_of_password.iter().enumerate() {
            password.push_str(p);
            password.push(marks[i % marks.len()]);
        }
        // Where the generated document has the password, it gets the password
        // without those characters: every other piece is there, verbatim.
        let near: String = password.chars().filter(|c| !NEVER_PRODUCED.contains(c)).collect();
        let body = write_in(outer, &doc.value(&near));
        prop_assert!(!leaks(&body, &password));
        let r = redactor(&password);
        let mut tree: Value = serde_json::from_str(&body).unwrap();
        prop_assert!(!r.redact(&mut tree), "redacted something in {}", body);
        let (after, changed) = run(&password, &body);
        prop_assert!(!changed);
        prop_assert_eq!(after, body);
    }
}
