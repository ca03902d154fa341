//! Property tests for the body rules (issue "hardening"). The spellings are
//! generated from the SPEC §4 rule itself ("in any letter case, with or
//! without `_`/`-`"): each generated key is a credential by construction,
//! and each near miss is not one by construction, so the expectation never
//! comes from `credential_name`. The output is checked by parsing it back
//! with serde_json, not with the module's own parser.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::{profile, route};
use crate::error::GatewayError;
use crate::inject::{inject, parse};
use crate::routes::Route;

const CANONICAL: [&str; 3] = ["CustomerName", "UserName", "Password"];

/// A spelling of `name` per SPEC: each letter in either case, and runs of
/// `_`/`-` anywhere (before, between, after the letters).
fn spelling_of(name: &'static str) -> impl Strategy<Value = String> {
    let letters = name.len();
    (
        proptest::collection::vec(any::<bool>(), letters),
        proptest::collection::vec(proptest::collection::vec(prop_oneof![Just('_'), Just('-')], 0..3), letters + 1),
    )
        .prop_map(move |(upper, separators)| {
            let mut out = String::new();
            for (i, c) in name.chars().enumerate() {
                out.extend(&separators[i]);
                out.push(if upper[i] { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() });
            }
            out.extend(&separators[letters]);
            out
        })
}

fn credential_spelling() -> impl Strategy<Value = (usize, String)> {
    prop_oneof![
        spelling_of(CANONICAL[0]).prop_map(|s| (0, s)),
        spelling_of(CANONICAL[1]).prop_map(|s| (1, s)),
        spelling_of(CANONICAL[2]).prop_map(|s| (2, s)),
    ]
}

/// A spelling that is not a credential: a letter dropped, doubled or
/// replaced (by another ASCII letter or a look-alike such as `ſ` or
/// Cyrillic `а`), or a separator other than `_`/`-` put in.
fn near_miss() -> impl Strategy<Value = String> {
    let replacement = prop_oneof![Just('x'), Just('ſ'), Just('а'), Just('е'), Just('о'), Just('р'), Just('K')];
    let separator = prop_oneof![Just(' '), Just('.'), Just('/'), Just('\u{0}'), Just('·'), Just('\u{200b}')];
    (credential_spelling(), any::<prop::sample::Index>(), 0..4usize, replacement, separator).prop_map(
        |((_, spelled), at, how, replacement, separator)| {
            let letters: Vec<usize> =
                spelled.char_indices().filter(|(_, c)| c.is_ascii_alphabetic()).map(|(i, _)| i).collect();
            let i = letters[at.index(letters.len())];
            let c = spelled[i..].chars().next().unwrap_or('a');
            let (head, tail) = (&spelled[..i], &spelled[i + c.len_utf8()..]);
            match how {
                0 => format!("{head}{tail}"),
                1 => format!("{head}{c}{c}{tail}"),
                2 if !c.eq_ignore_ascii_case(&replacement) => format!("{head}{replacement}{tail}"),
                2 => format!("{head}q{tail}"),
                _ => format!("{head}{separator}{c}{tail}"),
            }
        },
    )
}

/// `key` as JSON text, some characters written as `\uXXXX` (the body's
/// bytes differ; the decoded key does not).
fn json_key(key: &str, escape: &[bool]) -> String {
    let mut out = String::from("\"");
    for (i, c) in key.chars().enumerate() {
        if escape.get(i).copied().unwrap_or(false) || c.is_control() {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}

fn non_null_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("")),
        "[a-zA-Z0-9 ]{0,12}".prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(json!({})),
        Just(json!([])),
        Just(json!({"nested": null})),
        Just(json!([null])),
    ]
}

/// A body of the built-in route: `Id`, `Notes` and `extra` members (raw
/// key text, value), the extra ones at `at` among them.
fn body_with(extra: &[(String, Value)], at: usize) -> Vec<u8> {
    let mut members = vec![(json_key("Id", &[]), json!("call-1")), (json_key("Notes", &[]), json!("n"))];
    let at = at % (members.len() + 1);
    for (i, m) in extra.iter().enumerate() {
        members.insert(at + i, m.clone());
    }
    let text: Vec<String> = members.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("{{{}}}", text.join(",")).into_bytes()
}

/// The upstream body read back with serde_json, after checking that it has
/// no duplicate key (serde_json keeps the last of duplicates, so writing it
/// again would give other bytes).
fn sent(out: &[u8]) -> Map<String, Value> {
    let doc: Value = serde_json::from_slice(out).unwrap();
    assert_eq!(
        serde_json::to_vec(&doc).unwrap(),
        out,
        "a duplicate or reordered key in {:?}",
        String::from_utf8_lossy(out)
    );
    match doc {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// A configured route with these fields (the config loader builds it).
fn configured_route(fields: &[String]) -> Route {
    let fields = toml::Value::Array(fields.iter().cloned().map(toml::Value::String).collect());
    let route = format!("[[route]]\nname = \"calls.list\"\npath = \"/api/calls\"\nfields = {fields}\n");
    let config = super::tiny_config("pw", &route, "calls.list");
    config.routes.by_name("calls.list").unwrap().clone()
}

/// Field names for a configured route: ASCII identifiers, distinct in any
/// case, none of them a login field in any spelling (letters only compared,
/// as SPEC's rule ignores `_`/`-` and case).
fn field_names() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec("[A-Z][a-zA-Z0-9_]{0,10}", 1..6).prop_map(|names| {
        let mut seen = std::collections::HashSet::new();
        names
            .into_iter()
            .filter(|n| {
                let letters: String =
                    n.chars().filter(|c| *c != '_' && *c != '-').collect::<String>().to_ascii_lowercase();
                !["customername", "username", "password"].contains(&letters.as_str())
                    && seen.insert(n.to_ascii_lowercase())
            })
            .collect()
    })
}

fn flip_case(name: &str, flips: &[bool]) -> String {
    name.chars()
        .enumerate()
        .map(
            |(i, c)| {
                if flips.get(i).copied().unwrap_or(false) {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            },
        )
        .collect()
}

// Generated passwords end in `#`: the config refuses an empty secret.
proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Every spelling of a login field with a non-null value is refused, and
    /// the refusal names the key as the caller wrote it (decoded).
    #[test]
    fn every_spelling_of_a_login_field_with_a_value_is_refused(
        (_, key) in credential_spelling(),
        escape in proptest::collection::vec(any::<bool>(), 0..20),
        value in non_null_value(),
        at in 0..3usize,
    ) {
        let body = body_with(&[(json_key(&key, &escape), value)], at);
        match parse(&body, &route()) {
            Err(GatewayError::CredentialsNotAllowed(errors)) => {
                let names: Vec<&str> = errors.iter().map(|e| e.field_name.as_str()).collect();
                prop_assert_eq!(names, vec![key.as_str()]);
            }
            other => prop_assert!(false, "{:?} -> {:?}", String::from_utf8_lossy(&body), other),
        }
    }

    /// A null one is dropped: the upstream gets Id, Notes and the profile's
    /// login, exactly once each.
    #[test]
    fn every_spelling_of_a_null_login_field_is_dropped(
        spelled in proptest::collection::vec(credential_spelling(), 1..4),
        escape in proptest::collection::vec(any::<bool>(), 0..20),
        at in 0..3usize,
        password in any::<String>().prop_map(|s| format!("{s}#")),
    ) {
        // One member per login field at most (two spellings of one field are a duplicate).
        let mut seen = [false; 3];
        let extra: Vec<(String, Value)> = spelled
            .iter()
            .filter(|(which, _)| !std::mem::replace(&mut seen[*which], true))
            .map(|(_, key)| (json_key(key, &escape), Value::Null))
            .collect();
        let body = body_with(&extra, at);
        let fields = parse(&body, &route());
        prop_assert!(fields.is_ok(), "{:?} -> {:?}", String::from_utf8_lossy(&body), fields);
        let out = sent(&inject(&fields.unwrap(), &profile(&password)).unwrap());
        let keys: Vec<&str> = out.keys().map(String::as_str).collect();
        prop_assert_eq!(keys, vec!["Id", "Notes", "CustomerName", "UserName", "Password"]);
        prop_assert_eq!(&out["Id"], "call-1");
        prop_assert_eq!(&out["Notes"], "n");
        prop_assert_eq!(&out["CustomerName"], "Acme Answering");
        prop_assert_eq!(&out["UserName"], "api-gateway");
        prop_assert_eq!(out["Password"].as_str(), Some(password.as_str()));
    }

    /// Two spellings of the same login field are a duplicate whatever their
    /// values (a non-null one is refused first as a credential).
    #[test]
    fn two_spellings_of_one_login_field_are_a_duplicate(
        which in 0..3usize,
        first in any::<prop::sample::Index>(),
        second in any::<prop::sample::Index>(),
        pool in proptest::collection::vec(proptest::collection::vec(any::<bool>(), 16), 2),
    ) {
        // Build both spellings of CANONICAL[which] from the case flips, separators by index.
        let name = CANONICAL[which];
        let a = flip_case(name, &pool[0]);
        let mut b = flip_case(name, &pool[1]);
        let cut = second.index(b.len() + 1);
        b.insert(cut, if first.index(2) == 0 { '_' } else { '-' });
        let body = body_with(&[(json_key(&a, &[]), Value::Null), (json_key(&b, &[]), Value::Null)], 2);
        match parse(&body, &route()) {
            Err(GatewayError::InvalidRequest(_, errors)) => {
                let pairs: Vec<(&str, &str)> = errors.iter().map(|e| (e.error_code, e.field_name.as_str())).collect();
                prop_assert_eq!(pairs, vec![("Duplicate", b.as_str())]);
            }
            other => prop_assert!(false, "{:?} -> {:?}", String::from_utf8_lossy(&body), other),
        }
    }

    /// A near miss is no login field: it is an unknown key (InvalidRequest,
    /// NotAllowed), never CredentialsNotAllowed, and never dropped.
    #[test]
    fn near_misses_are_unknown_keys_not_login_fields(key in near_miss(), value in "[a-z]{1,8}") {
        let body = body_with(&[(json_key(&key, &[]), Value::from(value))], 2);
        match parse(&body, &route()) {
            Err(GatewayError::InvalidRequest(_, errors)) => {
                let pairs: Vec<(&str, &str)> = errors.iter().map(|e| (e.error_code, e.field_name.as_str())).collect();
                prop_assert_eq!(pairs, vec![("NotAllowed", key.as_str())]);
            }
            other => prop_assert!(false, "{:?} -> {:?}", key, other),
        }
    }

    /// A configured route: the upstream body holds exactly the fields the
    /// caller sent, under the route's names, in the caller's order, with
    /// their values, then the three login fields; nothing else.
    #[test]
    fn injection_output_is_the_route_fields_plus_the_login(
        names in field_names(),
        picks in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<bool>(), 12), non_null_value()), 6),
        nulls in proptest::collection::vec(credential_spelling(), 0..3),
        password in any::<String>().prop_map(|s| format!("{s}#")),
    ) {
        prop_assume!(!names.is_empty());
        let route = configured_route(&names);
        let mut extra = Vec::new();
        let mut expected = Map::new();
        for (name, (send, flips, value)) in names.iter().zip(&picks) {
            if *send {
                extra.push((json_key(&flip_case(name, flips), &[]), value.clone()));
                expected.insert(name.clone(), value.clone());
            }
        }
        let mut seen = [false; 3];
        for (which, key) in &nulls {
            if !std::mem::replace(&mut seen[*which], true) {
                extra.push((json_key(key, &[]), Value::Null));
            }
        }
        let text: Vec<String> = extra.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        let body = format!("{{{}}}", text.join(","));
        let fields = parse(body.as_bytes(), &route);
        prop_assert!(fields.is_ok(), "{} -> {:?}", body, fields);
        let out = sent(&inject(&fields.unwrap(), &profile(&password)).unwrap());
        expected.insert("CustomerName".into(), json!("Acme Answering"));
        expected.insert("UserName".into(), json!("api-gateway"));
        expected.insert("Password".into(), json!(password));
        let got_keys: Vec<&String> = out.keys().collect();
        let want_keys: Vec<&String> = expected.keys().collect();
        prop_assert_eq!(got_keys, want_keys);
        prop_assert_eq!(out, expected);
    }
}
