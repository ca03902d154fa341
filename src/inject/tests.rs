//! Body rules of SPEC §4 for the built-in `calls.update` route, and the
//! body sent upstream. One row per rule.

use std::path::Path;

use serde_json::Map;

use super::*;
use crate::config::load_str;
use crate::routes::{Routes, CALLS_UPDATE};

fn route() -> Route {
    Routes::builtin().by_name(CALLS_UPDATE).unwrap().clone()
}

/// A tiny valid config: one profile with `password`, `routes` (TOML lines
/// for `[[route]]` tables, may be empty), one grant of `granted` to it.
pub(super) fn tiny_config(password: &str, routes: &str, granted: &str) -> crate::config::Config {
    let text = format!(
        r#"
[upstream]
url = "https://evo.hostedsuite.com"
[auth]
issuers = ["https://idp.test"]
audiences = ["hsgate"]
[[auth.hmac]]
kid = "k1"
secret = "hmac-secret"
[[profile]]
name = "acme"
customer_name = "Acme Answering"
user_name = "api-gateway"
password = {}
{routes}
[[grant]]
name = "notes"
claims = {{ sub = "svc-notes" }}
profiles = ["acme"]
routes = [{}]
"#,
        toml::Value::String(password.to_owned()),
        toml::Value::String(granted.to_owned())
    );
    load_str(&text, Path::new("/nonexistent/hsgate.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// A profile from a tiny config (the upstream URL type is private to `config`).
fn profile(password: &str) -> Profile {
    let mut config = tiny_config(password, "", "calls.update");
    assert_eq!(config.profiles.len(), 1);
    config.profiles.remove(0)
}

/// What a row expects from `parse`.
enum Want {
    /// Accepted; these fields, in this order, under canonical names.
    Ok(&'static str),
    /// `InvalidRequest` about the body as a whole (no `Errors[]`).
    BadBody,
    /// `InvalidRequest` with exactly these (ErrorCode, FieldName) entries, in order.
    Invalid(&'static [(&'static str, &'static str)]),
    /// `CredentialsNotAllowed` naming exactly these keys, in order.
    Credentials(&'static [&'static str]),
}

fn pairs(errors: &[FieldError]) -> Vec<(&str, &str)> {
    errors.iter().map(|e| (e.error_code, e.field_name.as_str())).collect()
}

fn run_rows(rows: &[(&str, &[u8], Want)]) {
    let route = route();
    for (label, body, want) in rows {
        let got = parse(body, &route);
        match (want, got) {
            (Want::Ok(expected), Ok(fields)) => {
                let expected: Map<String, Value> = serde_json::from_str(expected).unwrap();
                let got: Map<String, Value> = fields.0.iter().cloned().collect();
                assert_eq!(got.len(), fields.0.len(), "row {label:?}: a field twice");
                assert_eq!(got, expected, "row {label:?}");
                let keys: Vec<_> = fields.0.iter().map(|(k, _)| k).collect();
                let want_keys: Vec<_> = expected.keys().collect();
                assert_eq!(keys, want_keys, "row {label:?}: order");
            }
            (Want::BadBody, Err(GatewayError::InvalidRequest(message, errors))) => {
                assert!(errors.is_empty(), "row {label:?}: {errors:?}");
                assert!(!message.is_empty(), "row {label:?}");
            }
            (Want::Invalid(expected), Err(GatewayError::InvalidRequest(message, errors))) => {
                assert_eq!(pairs(&errors), expected.to_vec(), "row {label:?}");
                assert!(message.contains(&format!("{} problem", expected.len())), "row {label:?}: {message}");
            }
            (Want::Credentials(expected), Err(GatewayError::CredentialsNotAllowed(errors))) => {
                let names: Vec<_> = errors.iter().map(|e| e.field_name.as_str()).collect();
                assert_eq!(names, expected.to_vec(), "row {label:?}");
                assert!(errors.iter().all(|e| e.error_code == "NotAllowed"), "row {label:?}: {errors:?}");
            }
            (_, got) => panic!("row {label:?}: unexpected {got:?}"),
        }
    }
}

#[test]
fn body_must_be_one_utf8_json_object() {
    run_rows(&[
        ("ok body", br#"{"Id":"c-1","Notes":"hello"}"#, Want::Ok(r#"{"Id":"c-1","Notes":"hello"}"#)),
        (
            "ok with surrounding whitespace",
            b" \n{\"Id\":\"c-1\",\"Notes\":\"\"}\r\n",
            Want::Ok(r#"{"Id":"c-1","Notes":""}"#),
        ),
        (
            "ok non-ASCII notes",
            "{\"Id\":\"c-1\",\"Notes\":\"café ☕\"}".as_bytes(),
            Want::Ok(r#"{"Id":"c-1","Notes":"café ☕"}"#),
        ),
        ("empty body", b"", Want::BadBody),
        ("not JSON", b"Id=c-1&Notes=x", Want::BadBody),
        ("JSON array", br#"[{"Id":"c-1","Notes":""}]"#, Want::BadBody),
        ("JSON string", br#""{\"Id\":\"c-1\"}""#, Want::BadBody),
        ("JSON number", b"42", Want::BadBody),
        ("JSON null", b"null", Want::BadBody),
        ("JSON true", b"true", Want::BadBody),
        ("invalid UTF-8 in a value", b"{\"Id\":\"c-\xff\",\"Notes\":\"\"}", Want::BadBody),
        ("invalid UTF-8 in a key", b"{\"I\xc3d\":\"c-1\",\"Notes\":\"\"}", Want::BadBody),
        ("trailing garbage", br#"{"Id":"c-1","Notes":""}x"#, Want::BadBody),
        ("two objects", br#"{"Id":"c-1","Notes":""}{"Id":"c-2","Notes":""}"#, Want::BadBody),
        ("truncated object", br#"{"Id":"c-1","Notes":"#, Want::BadBody),
        ("trailing comma", br#"{"Id":"c-1","Notes":"",}"#, Want::BadBody),
    ]);
}

#[test]
fn credential_keys_with_a_value_are_refused_in_any_spelling() {
    run_rows(&[
        ("Password", br#"{"Id":"c","Notes":"","Password":"x"}"#, Want::Credentials(&["Password"])),
        ("password", br#"{"Id":"c","Notes":"","password":"x"}"#, Want::Credentials(&["password"])),
        ("PASSWORD", br#"{"Id":"c","Notes":"","PASSWORD":"x"}"#, Want::Credentials(&["PASSWORD"])),
        ("Pass_Word", br#"{"Id":"c","Notes":"","Pass_Word":"x"}"#, Want::Credentials(&["Pass_Word"])),
        ("User_Name", br#"{"Id":"c","Notes":"","User_Name":"x"}"#, Want::Credentials(&["User_Name"])),
        ("username", br#"{"Id":"c","Notes":"","username":"x"}"#, Want::Credentials(&["username"])),
        ("customer-name", br#"{"Id":"c","Notes":"","customer-name":"x"}"#, Want::Credentials(&["customer-name"])),
        ("CUSTOMER_NAME", br#"{"Id":"c","Notes":"","CUSTOMER_NAME":"x"}"#, Want::Credentials(&["CUSTOMER_NAME"])),
        (
            "_-customer--name_",
            br#"{"Id":"c","Notes":"","_-customer--name_":"x"}"#,
            Want::Credentials(&["_-customer--name_"]),
        ),
        (
            "key written with \\u escapes",
            br#"{"Id":"c","Notes":"","\u0050assword":"x"}"#,
            Want::Credentials(&["Password"]),
        ),
        ("empty string value", br#"{"Id":"c","Notes":"","Password":""}"#, Want::Credentials(&["Password"])),
        ("false value", br#"{"Id":"c","Notes":"","UserName":false}"#, Want::Credentials(&["UserName"])),
        ("object value", br#"{"Id":"c","Notes":"","UserName":{}}"#, Want::Credentials(&["UserName"])),
        (
            "all three, each reported",
            br#"{"CustomerName":"a","Id":"c","userName":"b","Notes":"","PASSWORD":"c"}"#,
            Want::Credentials(&["CustomerName", "userName", "PASSWORD"]),
        ),
        (
            "credential wins over a duplicate key (row order)",
            br#"{"Id":"a","Id":"b","Notes":"","Password":"x"}"#,
            Want::Credentials(&["Password"]),
        ),
        (
            "credential wins over body type problems (row order)",
            br#"{"Id":"","Notes":null,"Extra":1,"password":"x"}"#,
            Want::Credentials(&["password"]),
        ),
        (
            "non-null credential next to a null one",
            br#"{"Id":"c","Notes":"","Password":null,"password":"x"}"#,
            Want::Credentials(&["password"]),
        ),
    ]);
}

#[test]
fn null_credentials_are_dropped() {
    run_rows(&[
        (
            "all three null",
            br#"{"CustomerName":null,"Id":"c-1","UserName":null,"Notes":"n","Password":null}"#,
            Want::Ok(r#"{"Id":"c-1","Notes":"n"}"#),
        ),
        ("odd spelling null", br#"{"Id":"c-1","Notes":"n","user-name":null}"#, Want::Ok(r#"{"Id":"c-1","Notes":"n"}"#)),
    ]);
}

#[test]
fn duplicate_keys_are_refused_whatever_their_case_or_value() {
    run_rows(&[
        ("exact duplicate", br#"{"Id":"a","Id":"b","Notes":""}"#, Want::Invalid(&[("Duplicate", "Id")])),
        ("exact duplicate, same value", br#"{"Id":"a","Id":"a","Notes":""}"#, Want::Invalid(&[("Duplicate", "Id")])),
        ("case-only duplicate Id/id", br#"{"Id":"a","id":"b","Notes":""}"#, Want::Invalid(&[("Duplicate", "id")])),
        (
            "case-only duplicate Notes/NOTES",
            br#"{"Id":"a","Notes":"","NOTES":"x"}"#,
            Want::Invalid(&[("Duplicate", "NOTES")]),
        ),
        (
            "duplicate null credentials",
            br#"{"Id":"a","Notes":"","Password":null,"password":null}"#,
            Want::Invalid(&[("Duplicate", "password")]),
        ),
        (
            "duplicate null credentials spelled differently",
            br#"{"Id":"a","Notes":"","User_Name":null,"username":null}"#,
            Want::Invalid(&[("Duplicate", "username")]),
        ),
        (
            "duplicate unknown keys",
            br#"{"Id":"a","Notes":"","X":1,"x":2}"#,
            Want::Invalid(&[("NotAllowed", "X"), ("Duplicate", "x")]),
        ),
    ]);
}

#[test]
fn keys_must_be_route_fields_with_the_right_types() {
    run_rows(&[
        ("canonical names from any case", br#"{"ID":"c-1","nOtEs":"x"}"#, Want::Ok(r#"{"Id":"c-1","Notes":"x"}"#)),
        ("caller order kept", br#"{"notes":"x","id":"c-1"}"#, Want::Ok(r#"{"Notes":"x","Id":"c-1"}"#)),
        ("unknown key", br#"{"Id":"a","Notes":"","Extra":1}"#, Want::Invalid(&[("NotAllowed", "Extra")])),
        ("I_d is not Id", br#"{"I_d":"a","Notes":""}"#, Want::Invalid(&[("NotAllowed", "I_d"), ("Required", "Id")])),
        (
            "No-tes is not Notes",
            br#"{"Id":"a","No-tes":""}"#,
            Want::Invalid(&[("NotAllowed", "No-tes"), ("Required", "Notes")]),
        ),
        ("empty key", br#"{"Id":"a","Notes":"","":1}"#, Want::Invalid(&[("NotAllowed", "")])),
        (
            "non-ASCII look-alike of a credential is not bound as anything",
            "{\"Id\":\"a\",\"Notes\":\"\",\"Paſsword\":\"x\"}".as_bytes(),
            Want::Invalid(&[("NotAllowed", "Paſsword")]),
        ),
        ("Id missing", br#"{"Notes":""}"#, Want::Invalid(&[("Required", "Id")])),
        ("Id empty", br#"{"Id":"","Notes":""}"#, Want::Invalid(&[("NotValid", "Id")])),
        ("Id number", br#"{"Id":42,"Notes":""}"#, Want::Invalid(&[("NotValid", "Id")])),
        ("Id null", br#"{"Id":null,"Notes":""}"#, Want::Invalid(&[("NotValid", "Id")])),
        ("Id object", br#"{"Id":{"a":1},"Notes":""}"#, Want::Invalid(&[("NotValid", "Id")])),
        ("Notes missing", br#"{"Id":"a"}"#, Want::Invalid(&[("Required", "Notes")])),
        ("Notes empty is allowed", br#"{"Id":"a","Notes":""}"#, Want::Ok(r#"{"Id":"a","Notes":""}"#)),
        ("Notes null", br#"{"Id":"a","Notes":null}"#, Want::Invalid(&[("NotValid", "Notes")])),
        ("Notes number", br#"{"Id":"a","Notes":7}"#, Want::Invalid(&[("NotValid", "Notes")])),
        ("Notes array", br#"{"Id":"a","Notes":["x"]}"#, Want::Invalid(&[("NotValid", "Notes")])),
        ("empty object", b"{}", Want::Invalid(&[("Required", "Id"), ("Required", "Notes")])),
        (
            "several problems reported at once",
            br#"{"Id":"","Notes":null,"Extra":true,"extra":1}"#,
            Want::Invalid(&[
                ("NotValid", "Id"),
                ("NotValid", "Notes"),
                ("NotAllowed", "Extra"),
                ("Duplicate", "extra"),
            ]),
        ),
    ]);
}

#[test]
fn notes_null_message_says_to_send_empty_string() {
    let Err(GatewayError::InvalidRequest(_, errors)) = parse(br#"{"Id":"a","Notes":null}"#, &route()) else {
        panic!("Notes null must be refused");
    };
    assert_eq!(errors.len(), 1);
    assert!(errors[0].message.contains(r#""""#), "{}", errors[0].message);
}

#[test]
fn inject_sends_caller_fields_plus_the_profile_login_and_nothing_else() {
    let password = "p\"a\\ss wörd ☎ \u{1F511} </script>";
    let profile = profile(password);
    let body = br#"{"notes":"hello","CustomerName":null,"id":"c-1","password":null}"#;
    let fields = parse(body, &route()).unwrap();
    assert_eq!(fields.call_id(), Some("c-1"));
    assert_eq!(fields.notes(), Some("hello"));
    let out = inject(&fields, &profile).unwrap();

    // Every key exactly once (parsed keeping duplicates), in this order.
    let members = serde_json::from_slice::<Members>(&out).unwrap().0;
    let keys: Vec<_> = members.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["Notes", "Id", "CustomerName", "UserName", "Password"]);

    let doc: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(doc["Notes"], "hello");
    assert_eq!(doc["Id"], "c-1");
    assert_eq!(doc["CustomerName"], "Acme Answering");
    assert_eq!(doc["UserName"], "api-gateway");
    assert_eq!(doc["Password"], password, "the password survives a JSON round trip");
}

#[test]
fn inject_output_for_a_minimal_body_is_exact() {
    let profile = profile("hunter2");
    let fields = parse(br#"{"Id":"c-9","Notes":""}"#, &route()).unwrap();
    let out = inject(&fields, &profile).unwrap();
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        r#"{"Id":"c-9","Notes":"","CustomerName":"Acme Answering","UserName":"api-gateway","Password":"hunter2"}"#
    );
}

/// A tiny deterministic PRNG (xorshift64*) so the mutation test needs no crate
/// and every failure is reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Fuzz-style: thousands of mutated bodies (bytes flipped, inserted, deleted,
/// login-looking keys spliced in) never panic the parser, and whatever it
/// accepts is injected with exactly one login and no smuggled one.
#[test]
fn mutated_bodies_never_panic_and_never_smuggle_a_login() {
    let route = route();
    let profile = profile("p@ss\"word");
    let seeds: &[&[u8]] = &[
        br#"{"Id":"call-1001","Notes":"x"}"#,
        br#"{"id":"a","notes":"","Password":null}"#,
        br#"{"Id":"call-1","Notes":"\u00e9","User_Name":null,"customer-name":null}"#,
    ];
    let splices: &[&[u8]] = &[b"\"Password\":\"x\",", b"\"pass_word\":1,", b"\"ID\":\"y\",", b"\\u0000", b"{", b"\""];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut accepted = 0;
    for round in 0..20_000 {
        let mut body = seeds[rng.below(seeds.len())].to_vec();
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(body.len() + 1);
            match rng.below(4) {
                0 if at < body.len() => body[at] ^= 1 << rng.below(8),
                1 if at < body.len() => {
                    body.remove(at);
                }
                2 => body.insert(at, rng.next() as u8),
                _ => {
                    let s = splices[rng.below(splices.len())];
                    body.splice(at..at, s.iter().copied());
                }
            }
        }
        let Ok(fields) = parse(&body, &route) else { continue };
        accepted += 1;
        let sent: Vec<(String, Value)> = object_members(&inject(&fields, &profile).unwrap()).unwrap();
        let logins: Vec<_> = sent.iter().filter(|(k, _)| credential_name(k).is_some()).collect();
        assert_eq!(logins.len(), 3, "round {round}: body {:?} -> {sent:?}", String::from_utf8_lossy(&body));
        assert!(sent.iter().any(|(k, v)| k == "Password" && v == "p@ss\"word"), "round {round}");
        let mut keys: Vec<String> = sent.iter().map(|(k, _)| k.to_lowercase()).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), sent.len(), "round {round}: duplicate key sent upstream");
    }
    assert!(accepted > 500, "the mutations should leave many bodies valid, got {accepted}");
}

mod props;
