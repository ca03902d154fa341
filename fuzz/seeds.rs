//! Writes the seed corpora under `fuzz/corpus/<target>/` from real inputs:
//! tokens minted with hsgate's own signing helpers (and a few hand-built
//! hostile ones), JWKS documents of the fixture keys, request bodies as
//! ServiceStack clients send them, HostedSuite answers fetched from hsgate's
//! simulator through hsgate's own upstream client, configs, and paths.
//!
//!     cargo run --manifest-path fuzz/Cargo.toml --example seeds
//!
//! Deterministic except for the ECDSA signatures and the simulator's
//! session cookies (not part of the answers kept); rerunning rewrites the
//! same file names.

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hsgate::routes::Routes;
use hsgate::sim::{Account, SimOptions, Simulator, TestPki};
use hsgate_fuzz::{profiles, signing_key, AUD, ISS, NOW};
use jsonwebtoken::Algorithm;
use serde_json::{json, Map, Value};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

struct Corpus(PathBuf);

impl Corpus {
    fn new(root: &Path, target: &str) -> Result<Corpus> {
        let dir = root.join(target);
        fs::create_dir_all(&dir)?;
        Ok(Corpus(dir))
    }
    fn put(&self, name: &str, bytes: impl AsRef<[u8]>) -> Result<()> {
        fs::write(self.0.join(name), bytes)?;
        Ok(())
    }
}

fn main() -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    tokens(&Corpus::new(&root, "token")?)?;
    jwks(&Corpus::new(&root, "jwks")?)?;
    bodies(&Corpus::new(&root, "body")?)?;
    configs(&Corpus::new(&root, "config")?)?;
    routes(&Corpus::new(&root, "routes")?)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    runtime.block_on(answers(&Corpus::new(&root, "relay")?))?;
    Ok(())
}

// ---------------------------------------------------------------------------
// token

fn claims(edit: impl FnOnce(&mut Map<String, Value>)) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("iss".into(), ISS.into());
    m.insert("aud".into(), AUD.into());
    m.insert("sub".into(), "svc-notes".into());
    m.insert("iat".into(), (NOW as u64 - 60).into());
    m.insert("exp".into(), (NOW as u64 + 600).into());
    m.insert("jti".into(), "seed-0001".into());
    edit(&mut m);
    m
}

/// A token minted by `hsgate token`'s helpers.
fn minted(alg: Algorithm, kid: Option<&str>, claims: &Map<String, Value>) -> Result<String> {
    let key = signing_key(alg).ok_or("no fixture key")?;
    Ok(hsgate::token::sign(alg, kid, &key, claims)?)
}

/// A token with a header of our own (what no library would write), signed
/// with the fixture key of `sign_as` (or unsigned).
fn hand_made(header: &Value, claims: &Value, sign_as: Option<Algorithm>) -> Result<String> {
    let message =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let sig = match sign_as {
        Some(alg) => jsonwebtoken::crypto::sign(message.as_bytes(), &signing_key(alg).ok_or("no key")?, alg)?,
        None => String::new(),
    };
    Ok(format!("{message}.{sig}"))
}

fn tokens(c: &Corpus) -> Result<()> {
    use Algorithm::*;
    let ok = claims(|_| {});
    for (alg, kid) in [(RS256, "rsa"), (ES256, "ec"), (ES384, "ec384"), (EdDSA, "ed"), (HS256, "hs"), (HS512, "hs512")]
    {
        c.put(&format!("valid-{alg:?}"), minted(alg, Some(kid), &ok)?)?;
    }
    c.put("valid-ES256-no-kid", minted(ES256, None, &ok)?)?;
    c.put("wrong-kid", minted(HS256, Some("ed"), &ok)?)?;
    c.put("unknown-kid", minted(EdDSA, Some("rotated-2027"), &ok)?)?;
    type Edit = Box<dyn Fn(&mut Map<String, Value>)>;
    let rows: [(&str, Edit); 14] = [
        ("expired", Box::new(|m| drop(m.insert("exp".into(), (NOW as u64 - 3600).into())))),
        ("in-leeway", Box::new(|m| drop(m.insert("exp".into(), (NOW as u64 - 10).into())))),
        ("nbf-future", Box::new(|m| drop(m.insert("nbf".into(), (NOW as u64 + 3600).into())))),
        ("iat-future", Box::new(|m| drop(m.insert("iat".into(), (NOW as u64 + 3600).into())))),
        ("long-lived", Box::new(|m| drop(m.insert("exp".into(), (NOW as u64 + 86400).into())))),
        ("no-iat", Box::new(|m| drop(m.remove("iat")))),
        ("no-sub", Box::new(|m| drop(m.remove("sub")))),
        ("null-sub", Box::new(|m| drop(m.insert("sub".into(), Value::Null)))),
        ("exp-string", Box::new(|m| drop(m.insert("exp".into(), "1800000600".into())))),
        ("exp-float", Box::new(|m| drop(m.insert("exp".into(), json!(1_800_000_600.5))))),
        ("aud-array", Box::new(|m| drop(m.insert("aud".into(), json!(["other", AUD]))))),
        ("aud-wrong", Box::new(|m| drop(m.insert("aud".into(), json!(["other", 5]))))),
        ("iss-wrong", Box::new(|m| drop(m.insert("iss".into(), "https://evil.example".into())))),
        (
            "grant-claims",
            Box::new(|m| {
                m.insert("roles".into(), json!(["notes.write", "calls.read"]));
                m.insert("tenant".into(), json!({"id": 42, "name": "acme"}));
            }),
        ),
    ];
    for (name, edit) in rows {
        c.put(&format!("claims-{name}"), minted(HS256, Some("hs"), &claims(edit))?)?;
    }
    let ok_json = Value::Object(ok.clone());
    let headers: [(&str, Value, Option<Algorithm>); 10] = [
        ("crit", json!({"alg": "HS256", "kid": "hs", "crit": ["exp"]}), Some(HS256)),
        (
            "jku-x5u",
            json!({"alg": "ES256", "kid": "ec", "jku": "https://evil.example/jwks", "x5u": "https://evil.example/c"}),
            Some(ES256),
        ),
        ("jwk-embedded", json!({"alg": "EdDSA", "jwk": hsgate_fuzz::public_jwk(EdDSA, Some("ed"))}), Some(EdDSA)),
        ("x5c", json!({"alg": "HS256", "kid": "hs", "x5c": ["MIIB"], "typ": "JWT"}), Some(HS256)),
        ("alg-none", json!({"alg": "none", "kid": "hs"}), None),
        ("alg-None", json!({"alg": "None"}), None),
        ("kid-number", json!({"alg": "HS256", "kid": 7}), Some(HS256)),
        ("no-alg", json!({"kid": "hs"}), Some(HS256)),
        ("header-array", json!(["HS256"]), Some(HS256)),
        ("alg-PS256", json!({"alg": "PS256", "kid": "rsa"}), Some(HS256)),
    ];
    for (name, header, alg) in headers {
        c.put(&format!("header-{name}"), hand_made(&header, &ok_json, alg)?)?;
    }
    // Algorithm confusion: HS256 "signed" with the RSA public key's PEM as the secret.
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "kid": "rsa"}).to_string()),
        URL_SAFE_NO_PAD.encode(ok_json.to_string())
    );
    let confused = jsonwebtoken::EncodingKey::from_secret(hsgate_fuzz::pem::RSA_PUB);
    let sig = jsonwebtoken::crypto::sign(message.as_bytes(), &confused, HS256)?;
    c.put("alg-confusion", format!("{message}.{sig}"))?;
    let valid = minted(HS256, Some("hs"), &ok)?;
    c.put("two-parts", valid.rsplit_once('.').map(|(m, _)| m).unwrap_or_default())?;
    c.put("four-parts", format!("{valid}.x"))?;
    c.put("padded-b64", valid.replacen('.', "==.", 1))?;
    c.put("not-b64", "eyJ!.eyJ?.sig")?;
    let big = claims(|m| drop(m.insert("blob".into(), "x".repeat(12 * 1024).into())));
    c.put("near-limit", minted(HS256, Some("hs"), &big)?)?;
    Ok(())
}

// ---------------------------------------------------------------------------
// jwks

fn jwks(c: &Corpus) -> Result<()> {
    use hsgate_fuzz::public_jwk;
    use Algorithm::*;
    c.put("example-jwks.json", include_str!("../config/example-jwks.json"))?;
    let all = json!({"keys": [
        public_jwk(RS256, Some("rsa")), public_jwk(ES256, Some("ec")),
        public_jwk(ES384, Some("ec384")), public_jwk(EdDSA, Some("ed")),
    ]});
    c.put("fixture-keys.json", serde_json::to_string_pretty(&all)?)?;
    let mut no_alg = all.clone();
    for k in no_alg["keys"].as_array_mut().into_iter().flatten() {
        k.as_object_mut().map(|m| m.remove("alg"));
        k.as_object_mut().map(|m| m.remove("kid"));
    }
    c.put("fixture-keys-no-alg-no-kid.json", no_alg.to_string())?;
    let ec = public_jwk(ES256, Some("ec"));
    let rsa = public_jwk(RS256, Some("rsa"));
    let with = |base: &Value, edit: &dyn Fn(&mut Map<String, Value>)| {
        let mut v = base.clone();
        if let Some(m) = v.as_object_mut() {
            edit(m);
        }
        v
    };
    let mixed = json!({"keys": [
        with(&ec, &|m| drop(m.insert("use".into(), "enc".into()))),
        with(&ec, &|m| drop(m.insert("alg".into(), "RS256".into()))),
        with(&ec, &|m| drop(m.insert("crv".into(), "P-521".into()))),
        with(&rsa, &|m| drop(m.insert("alg".into(), "PS256".into()))),
        with(&rsa, &|m| drop(m.insert("alg".into(), "HS256".into()))),
        {"kty": "oct", "k": "c2VjcmV0", "kid": "hs", "alg": "HS256"},
        {"kty": "OKP", "crv": "X25519", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo", "kid": "x"},
        {"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "kid": "short"},
        {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "tiny-rsa"},
        {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA", "kid": "off-curve"},
        {"kty": "XYZ", "kid": "unknown"},
        {"kid": "no-kty"},
        "not an object",
    ]});
    c.put("mixed-usable-and-not.json", serde_json::to_string_pretty(&mixed)?)?;
    c.put(
        "x5c.json",
        json!({"keys": [with(&rsa, &|m| drop(m.insert("x5c".into(), json!(["MIIBIjAN"]))))]}).to_string(),
    )?;
    c.put(
        "duplicate-kids.json",
        json!({"keys": [ec, with(&rsa, &|m| drop(m.insert("kid".into(), "ec".into())))]}).to_string(),
    )?;
    c.put("empty-keys.json", r#"{"keys":[]}"#)?;
    c.put("no-keys.json", r#"{"issuer":"https://idp.fuzz.internal"}"#)?;
    c.put("keys-not-array.json", r#"{"keys":{"kty":"EC"}}"#)?;
    c.put("not-json.html", "<html><body>Bad Gateway</body></html>")?;
    Ok(())
}

// ---------------------------------------------------------------------------
// body

fn bodies(c: &Corpus) -> Result<()> {
    let rows: [(&str, &[u8]); 26] = [
        ("update", br#"{"Id":"call-1001","Notes":"Called back"}"#),
        ("update-clear-notes", br#"{"Id":"call-1002","Notes":""}"#),
        (
            "servicestack-js-nulls",
            br#"{"Id":"call-1001","Notes":"Called back","CustomerName":null,"UserName":null,"Password":null}"#,
        ),
        ("python-snake-case", br#"{"id":"call-1003","notes":"Left a voicemail","customer_name":null}"#),
        ("unicode-escapes", br#"{"Id":"call-1004","Notes":"caf\u00e9 \ud83d\ude00 \"quoted\" \\ \/ \n"}"#),
        ("utf8-raw", "{\"Id\":\"call-1005\",\"Notes\":\"Grüße, 😀\"}".as_bytes()),
        ("smuggle-password", br#"{"Id":"call-1001","Notes":"x","Password":"hunter2"}"#),
        ("smuggle-snake", br#"{"Id":"call-1001","Notes":"x","user_name":"admin","pass_word":"x"}"#),
        ("smuggle-dash-case", br#"{"Id":"call-1001","Notes":"x","CUSTOMER-NAME":"Globex"}"#),
        ("smuggle-empty-string", br#"{"Id":"call-1001","Notes":"x","password":""}"#),
        ("smuggle-object", br#"{"Id":"call-1001","Notes":"x","Password":{"a":1}}"#),
        ("duplicate-id", br#"{"Id":"call-1001","id":"call-9999","Notes":"x"}"#),
        ("duplicate-null-login", br#"{"Id":"c","Notes":"x","UserName":null,"user_name":null}"#),
        ("notes-null", br#"{"Id":"call-1001","Notes":null}"#),
        ("id-empty", br#"{"Id":"","Notes":"x"}"#),
        ("id-number", br#"{"Id":1001,"Notes":"x"}"#),
        ("unknown-field", br#"{"Id":"call-1001","Notes":"x","Flagged":true}"#),
        (
            "list-route",
            br#"{"StartDate":"2026-11-01T00:00:00Z","EndDate":"2026-11-30","Page":1,"ItemsPerPage":50,"CallRecordId":[1,2.5e3,{"x":null}]}"#,
        ),
        ("empty-object", b"{}"),
        ("array", br#"[{"Id":"call-1001","Notes":"x"}]"#),
        ("string", br#""{\"Id\":\"call-1001\"}""#),
        ("trailing-garbage", br#"{"Id":"call-1001","Notes":"x"} {}"#),
        ("whitespace", b" \r\n\t{ \"Id\" : \"call-1001\" , \"Notes\" : \"x\" }\n"),
        ("bom", b"\xef\xbb\xbf{\"Id\":\"call-1001\",\"Notes\":\"x\"}"),
        ("invalid-utf8", b"{\"Id\":\"call-1001\",\"Notes\":\"\xff\xfe\"}"),
        ("deep", &[b'['; 200]),
    ];
    for (name, body) in rows {
        c.put(&format!("{name}.json"), body)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// relay: real answers of hsgate's simulator, through hsgate's upstream client

/// JSON text as .NET's System.Text.Json writes it by default: `"`, `'`, `<`,
/// `>`, `&`, `+`, `` ` `` and every non-ASCII character as `\uXXXX`.
fn stj(v: &Value) -> String {
    fn string(s: &str, out: &mut String) {
        out.push('"');
        for c in s.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '"' | '\'' | '<' | '>' | '&' | '+' | '`' => out.push_str(&format!("\\u{:04X}", c as u32)),
                c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
                c => {
                    let mut units = [0u16; 2];
                    for u in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{:04X}", u));
                    }
                }
            }
        }
        out.push('"');
    }
    fn value(v: &Value, out: &mut String) {
        match v {
            Value::String(s) => string(s, out),
            Value::Array(a) => {
                out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    value(v, out);
                }
                out.push(']');
            }
            Value::Object(m) => {
                out.push('{');
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    string(k, out);
                    out.push(':');
                    value(v, out);
                }
                out.push('}');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    value(v, &mut out);
    out
}

async fn answers(c: &Corpus) -> Result<()> {
    let profiles = profiles();
    let pki = TestPki::generate()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let accounts = profiles
        .iter()
        .map(|p| Account {
            customer_name: p.customer_name.clone(),
            user_name: p.user_name.clone(),
            password: p.password.clone(),
        })
        .collect();
    let sim = Simulator::start(listener, pki.server_config()?, SimOptions { accounts, ..SimOptions::default() })?;
    let dir = std::env::temp_dir().join(format!("hsgate-seeds-{}", std::process::id()));
    fs::create_dir_all(&dir)?;
    fs::write(dir.join("ca.pem"), &pki.ca_pem)?;
    let text = format!(
        "[upstream]\nurl = {}\nca_file = \"ca.pem\"\nhttp2 = \"never\"\n\
         [auth]\nissuers = [\"i\"]\naudiences = [\"a\"]\n[[auth.hmac]]\nkid = \"k\"\nsecret = \"s\"\n\
         [[profile]]\nname = \"p\"\ncustomer_name = \"c\"\nuser_name = \"u\"\npassword = \"x\"\n\
         [[grant]]\nname = \"g\"\nclaims = {{ sub = \"s\" }}\nprofiles = [\"p\"]\nroutes = [\"calls.update\"]\n",
        toml::Value::from(sim.url())
    );
    let config = hsgate::config::load_str(&text, &dir.join("hsgate.toml")).map_err(|e| e.to_string())?;
    let upstream = hsgate::upstream::Upstream::new(&config.upstream)?;
    let uri: hyper::Uri = format!("{}/api/calls/update", sim.url()).parse()?;
    let route = Routes::builtin_route();

    let post = |body: Vec<u8>| {
        let upstream = &upstream;
        let uri = &uri;
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            upstream.post(uri, body, "seed", None, deadline, Duration::from_secs(10)).await
        }
    };
    let call = |id: &str, notes: &str, profile: &hsgate::config::Profile| -> Result<Vec<u8>> {
        let caller = json!({"Id": id, "Notes": notes}).to_string();
        let fields = hsgate::inject::parse(caller.as_bytes(), &route).map_err(|e| format!("{e:?}"))?;
        Ok(hsgate::inject::inject(&fields, profile)?)
    };
    let mut kept = Vec::new();
    let acme = &profiles[0];
    for (name, id, notes) in [
        ("record-1001", "call-1001", "Called back"),
        ("record-1002", "call-1002", ""),
        ("record-1003-unicode", "call-1003", "Grüße \"quoted\" <b>&</b> 😀"),
        ("record-1004", "call-1004", "Left a voicemail"),
        ("record-1005", "call-1005", "tab\tnewline\n"),
        ("not-found", "call-9999", "x"),
        ("fault-html500", "fault-html500", "x"),
        ("fault-badjson", "fault-badjson", "x"),
        ("fault-403", "fault-403", "x"),
        ("fault-500json", "fault-500json", "x"),
    ] {
        let answer = post(call(id, notes, acme)?).await?;
        kept.push((name.to_owned(), answer.status.as_u16(), answer.body.map_err(|_| "too large")?.to_vec()));
    }
    for (i, profile) in profiles.iter().enumerate() {
        let answer = post(call("fault-echo", "Echo me", profile)?).await?;
        kept.push((format!("fault-echo-p{i}"), answer.status.as_u16(), answer.body.map_err(|_| "too large")?.to_vec()));
    }
    let mut wrong = hsgate_fuzz::profiles().remove(0);
    wrong.password = "wrong-password".to_owned().into();
    let answer = post(call("call-1001", "x", &wrong)?).await?;
    kept.push(("refused-login".into(), answer.status.as_u16(), answer.body.map_err(|_| "too large")?.to_vec()));
    sim.shutdown();
    let _ = fs::remove_dir_all(&dir);

    for (name, status, body) in &kept {
        println!("relay seed {name}: status {status}, {} bytes", body.len());
        c.put(&format!("{name}.json"), body)?;
    }
    // The echoes as other writers would send them: System.Text.Json's escapes,
    // and echoed again as JSON text inside another error message.
    for (name, _, body) in kept.iter().filter(|(n, _, _)| n.starts_with("fault-echo")) {
        let Ok(doc) = serde_json::from_slice::<Value>(body) else { continue };
        c.put(&format!("{name}-stj.json"), stj(&doc))?;
        let nested = json!({"ResponseStatus": {"ErrorCode": "InvalidOperationException",
            "Message": format!("Upstream said: {}", stj(&doc)), "Errors": []}});
        c.put(&format!("{name}-nested.json"), stj(&nested))?;
    }
    // Own-password inputs: `password NUL body`.
    let own = [
        (
            "own-hunter2",
            "hunter2",
            r#"{"ResponseStatus":{"ErrorCode":"ArgumentException","Message":"Request: {\"Password\":\"hunter2\"}","Errors":[]}}"#,
        ),
        ("own-escaped", "p\"w", r#"{"Message":"{\"Password\":\"p\\\"w\"}","Other":"p\u0022w"}"#),
        ("own-overlap", "aa", r#"{"aaa":"aaaa","k":"a\u0061a"}"#),
    ];
    for (name, password, body) in own {
        let mut bytes = password.as_bytes().to_vec();
        bytes.push(0);
        bytes.extend_from_slice(body.as_bytes());
        c.put(&format!("{name}.bin"), bytes)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// config

const BASE: &str = r#"[upstream]
url = "https://evo.hostedsuite.com"

[auth]
issuers = ["https://idp.example.internal"]
audiences = ["hsgate"]
jwks_file = "example-jwks.json"

[[profile]]
name = "acme"
customer_name = "Acme Answering"
user_name = "api-gateway"
password_file = "password.txt"

[[grant]]
name = "notes-service"
claims = { sub = "svc-notes" }
profiles = ["acme"]
routes = ["calls.update"]
"#;

fn configs(c: &Corpus) -> Result<()> {
    c.put("example.toml", include_str!("../config/hsgate.example.toml"))?;
    c.put("minimal.toml", BASE)?;
    let rows: [(&str, String); 10] = [
        (
            "keys-of-every-kind",
            BASE.replace(
                "jwks_file = \"example-jwks.json\"\n",
                "algorithms = [\"RS256\", \"ES256\", \"EdDSA\", \"HS256\"]\nleeway = \"45s\"\nmax_token_lifetime = \"1h\"\n\
                 required_claims = [\"sub\", \"jti\"]\n\
                 [[auth.pem]]\nkid = \"rsa\"\nalg = \"RS256\"\nfile = \"rsa.pub.pem\"\n\
                 [[auth.pem]]\nkid = \"ed\"\nalg = \"EdDSA\"\nfile = \"ed.pub.pem\"\n\
                 [[auth.hmac]]\nkid = \"hs\"\nalg = \"HS384\"\nsecret_file = \"hmac.txt\"\n",
            ),
        ),
        (
            "routes-and-grants",
            BASE.to_owned()
                + "[[profile]]\nname = \"globex\"\ncustomer_name = \"Globex\"\nuser_name = \"gw\"\npassword_env = \"FUZZ_PASSWORD\"\n\
                   upstream_url = \"https://cpo.hostedsuite.com\"\n\
                   [[grant]]\nname = \"ops\"\nclaims = { sub = \"svc-ops\", roles = \"admin\", level = 3, active = true }\n\
                   profiles = [\"acme\", \"globex\"]\nroutes = [\"calls.update\", \"calls.list\"]\nrate_limit = \"20/s\"\n\
                   [[route]]\nname = \"calls.list\"\npath = \"/api/calls\"\noperation = \"ListCallRecordsRequest\"\n\
                   aliases = [\"/v1/calls\"]\nfields = [\"StartDate\", \"EndDate\", \"Page\"]\n",
        ),
        (
            "jwks-url-and-ops",
            BASE.replace(
                "jwks_file = \"example-jwks.json\"\n",
                "jwks_url = \"https://idp.example.internal/.well-known/jwks.json\"\njwks_refresh = \"5m\"\njwks_min_refetch = \"500ms\"\n",
            ) + "[server]\nlisten = \"127.0.0.1:8443\"\nmax_body_bytes = 1048576\nrequest_timeout = \"2s\"\nmax_in_flight = 8\n\
                 [admin]\nlisten = \"[::1]:9090\"\n\
                 [audit]\nsink = \"file\"\npath = \"audit/hsgate.jsonl\"\nfsync = true\ninclude_notes = true\nhmac_key_env = \"FUZZ_PASSWORD\"\n",
        ),
        (
            "inline-secrets",
            BASE.replace("password_file = \"password.txt\"", "password = \"inline-S3cret-pw\"")
                .replace("jwks_file = \"example-jwks.json\"\n", "[[auth.hmac]]\nkid = \"k1\"\nsecret = \"inline-hmac-S3cret\"\n")
                + "[audit]\nhmac_key = \"inline-audit-S3cret\"\n",
        ),
        (
            "every-error",
            "[server]\nlisten = \"nowhere\"\nmax_body_bytes = 0\nheader_read_timeout = \"0s\"\nbogus = 1\n\
             [upstream]\nurl = \"http://user@evo.hostedsuite.com/path?q\"\nhttp2 = \"sometimes\"\nlogin_failure_threshold = 0\n\
             [auth]\nissuers = []\naudiences = [\"\"]\nalgorithms = [\"none\", \"XS999\"]\njwks_url = \"http://idp\"\n\
             [[auth.pem]]\nkid = \"x\"\nalg = \"HS256\"\nfile = \"missing.pem\"\n\
             [audit]\nsink = \"syslog\"\n\
             [[profile]]\nname = \"\"\ncustomer_name = \"\"\nuser_name = \"u\"\npassword = \"a\"\npassword_env = \"B\"\n\
             [[grant]]\nname = \"g\"\nclaims = {}\nprofiles = [\"nobody\"]\nroutes = []\nrate_limit = \"fast\"\n\
             [[route]]\nname = \"calls.update\"\npath = \"relative\"\noperation = \"Bad Name\"\nfields = [\"Password\", \"x\", \"X\"]\n\
             [surprise]\n"
                .to_owned(),
        ),
        (
            "wrong-types",
            "server = 5\n[upstream]\nurl = 443\ntimeout = 30\n[auth]\nissuers = \"one\"\naudiences = [1]\nleeway = true\n\
             [[profile]]\nname = \"p\"\ncustomer_name = \"c\"\nuser_name = \"u\"\npassword = 12345\n\
             grant = { name = \"g\" }\n"
                .to_owned(),
        ),
        (
            "secret-files",
            BASE.replace("password_file = \"password.txt\"", "password_file = \"not-utf8.txt\"")
                + "[audit]\nhmac_key_file = \"empty.txt\"\n[[auth.hmac]]\nkid = \"e\"\nsecret_env = \"FUZZ_EMPTY\"\n",
        ),
        ("route-clash", BASE.to_owned() + "[[route]]\nname = \"again\"\npath = \"/api/UpdateCallRecordRequest\"\nfields = [\"Id\"]\n"),
        ("syntax-error", "[server\nlisten = \"0.0.0.0:8080\"\n".to_owned()),
        ("duplicate-key", BASE.to_owned() + "[upstream]\nurl = \"https://io.hostedsuite.com\"\n"),
    ];
    for (name, text) in rows {
        c.put(&format!("{name}.toml"), text)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// routes

fn routes(c: &Corpus) -> Result<()> {
    let list = "calls.list /api/calls ListCallRecordsRequest /v1/calls /v1/calls/list\n";
    let rows: [(&str, String); 16] = [
        ("own-path", "/api/calls/update".into()),
        ("api-operation", "/api/UpdateCallRecordRequest".into()),
        ("json-reply", "/json/reply/UpdateCallRecordRequest".into()),
        ("api-json-reply", "/api/json/reply/UpdateCallRecordRequest".into()),
        ("query", "/api/calls/update?callback=x".into()),
        ("absolute-form", "http://gateway.internal:8080/api/calls/update".into()),
        ("upper-case", "/API/calls/update".into()),
        ("percent-encoded", "/api/calls/%75pdate".into()),
        ("dot-segments", "/api/calls/../calls/update".into()),
        ("oneway", "/json/oneway/UpdateCallRecordRequest".into()),
        ("asterisk", "*".into()),
        ("configured-route", format!("/v1/calls\n{list}")),
        ("configured-predefined", format!("/json/reply/ListCallRecordsRequest\n{list}")),
        ("clash-alias", format!("/api/calls\n{list}calls.other /api/other - /api/calls/update\n")),
        ("clash-operation", "/api/other\ncalls.other /api/other UpdateCallRecordRequest\n".into()),
        ("unicode-path", "/api/calls/üpdate\ncalls.u /api/calls/üpdate Üpdate /ü/../x\n".into()),
    ];
    for (name, text) in rows {
        c.put(&format!("{name}.txt"), text)?;
    }
    Ok(())
}
