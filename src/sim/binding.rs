//! ServiceStack-style lenient request binding: JSON / form bodies plus query-string overrides.

use serde_json::{Map, Value};

/// The `UpdateCallRecordRequest` DTO as bound from a request (raw JSON values).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CallRequest {
    pub id: Option<Value>,
    pub notes: Option<Value>,
    pub customer_name: Option<Value>,
    pub user_name: Option<Value>,
    pub password: Option<Value>,
}

impl CallRequest {
    /// Bind one key/value pair; unknown keys are ignored. A key matches a field
    /// case-insensitively after removing `_` and `-`.
    pub fn bind(&mut self, key: &str, value: Value) {
        let norm: String = key.chars().filter(|c| *c != '_' && *c != '-').flat_map(char::to_lowercase).collect();
        let slot = match norm.as_str() {
            "id" => &mut self.id,
            "notes" => &mut self.notes,
            "customername" => &mut self.customer_name,
            "username" => &mut self.user_name,
            "password" => &mut self.password,
            _ => return,
        };
        *slot = Some(value);
    }

    /// The DTO as ServiceStack would serialize it (`ToJson()`: nulls left out).
    pub fn to_json(&self) -> String {
        let mut map = Map::new();
        let fields = [
            ("Id", &self.id),
            ("Notes", &self.notes),
            ("CustomerName", &self.customer_name),
            ("UserName", &self.user_name),
            ("Password", &self.password),
        ];
        for (name, value) in fields {
            if let Some(v) = value.as_ref().and_then(as_text) {
                map.insert(name.to_owned(), Value::String(v));
            }
        }
        Value::Object(map).to_string()
    }
}

/// A string field's value: strings as-is, other scalars as their JSON text,
/// objects/arrays as JSON text, `null` as absent.
pub fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Parse a JSON request body that must be an object. An empty body is an empty object.
pub fn json_pairs(body: &[u8]) -> Result<Vec<(String, Value)>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    crate::inject::object_members(body).map_err(|e| e.to_string())
}

/// Parse `application/x-www-form-urlencoded` text (also used for query strings).
pub fn form_pairs(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Percent-decode with `+` as space; bad escapes are kept literally, bad UTF-8 is replaced.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok().and_then(|h| u8::from_str_radix(h, 16).ok()));
                if let Some(b) = hex {
                    out.push(b);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lenient_key_matching() {
        let mut r = CallRequest::default();
        r.bind("customer_name", json!("A"));
        r.bind("USER-NAME", json!("u"));
        r.bind("pass_word", json!("p"));
        r.bind("iD", json!("call-1001"));
        r.bind("Callback", json!("x"));
        r.bind("notes", json!(null));
        assert_eq!(r.customer_name, Some(json!("A")));
        assert_eq!(r.user_name, Some(json!("u")));
        assert_eq!(r.password, Some(json!("p")));
        assert_eq!(r.id, Some(json!("call-1001")));
        assert_eq!(r.notes, Some(Value::Null));
        assert_eq!(r.to_json(), r#"{"Id":"call-1001","CustomerName":"A","UserName":"u","Password":"p"}"#);
    }

    #[test]
    fn json_keeps_duplicates_in_order() {
        let p = json_pairs(br#"{"password":"a","Password":"b","password":"c"}"#).unwrap();
        let mut r = CallRequest::default();
        for (k, v) in p {
            r.bind(&k, v);
        }
        assert_eq!(r.password, Some(json!("c")));
        assert_eq!(json_pairs(b"  ").unwrap(), vec![]);
        assert!(json_pairs(b"[1,2]").is_err());
        assert!(json_pairs(b"\"x\"").is_err());
        assert!(json_pairs(b"{\"a\":").is_err());
    }

    #[test]
    fn form_decoding() {
        let p = form_pairs("a=1&b=x+y%21&c&=z&d=%zz%4&e=Jos%C3%A9");
        assert_eq!(
            p,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y!".into()),
                ("c".into(), "".into()),
                ("".into(), "z".into()),
                ("d".into(), "%zz%4".into()),
                ("e".into(), "José".into()),
            ]
        );
    }

    #[test]
    fn text_of_values() {
        assert_eq!(as_text(&json!(null)), None);
        assert_eq!(as_text(&json!(12)), Some("12".into()));
        assert_eq!(as_text(&json!(true)), Some("true".into()));
        assert_eq!(as_text(&json!("s")), Some("s".into()));
    }
}
