//! One pass over HostedSuite's answer without building a tree: it checks
//! that the body is exactly one JSON document and picks out what the gateway
//! needs, `ResponseStatus.ErrorCode` and the audit summary of a
//! CallRecordInfo (`Id`, `ClientId`, `CenterId`, `Type`, `Flagged`), every
//! name matched case-insensitively (ServiceStack may emit camelCase).
//! Everything else is skipped unread. As in a parsed tree, the last of
//! duplicate keys wins.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The summary fields of a CallRecordInfo, in record order.
pub const SUMMARY: [&str; 5] = ["Id", "ClientId", "CenterId", "Type", "Flagged"];

/// What an answer says, read in one pass.
#[derive(Debug, Default, PartialEq)]
pub struct Probe {
    pub is_object: bool,
    pub error_code: Option<String>,
    /// The summary fields present, by index in [`SUMMARY`].
    pub summary: [Option<Value>; 5],
}

impl Probe {
    /// `None` if `body` is not exactly one JSON document. UTF-8 is checked
    /// first: serde_json does not check the strings it skips in a byte slice.
    pub fn read(body: &[u8]) -> Option<Probe> {
        let text = std::str::from_utf8(body).ok()?;
        let mut de = serde_json::Deserializer::from_str(text);
        let probe = Top.deserialize(&mut de).ok()?;
        de.end().ok()?;
        Some(probe)
    }

    /// The `ResponseStatus.ErrorCode`, and (if `with_result`) the audit's
    /// `result`: the summary fields.
    pub fn into_parts(self, with_result: bool) -> (Option<String>, Option<Summary>) {
        (self.error_code, with_result.then_some(Summary(self.summary)))
    }
}

/// The audit's `result`: the summary fields of a CallRecordInfo, written as
/// an object of every `SUMMARY` name in that order, absent ones null
/// (without building a map of five keys to write it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary(pub [Option<Value>; 5]);

impl Serialize for Summary {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(SUMMARY.len()))?;
        for (name, value) in SUMMARY.iter().zip(&self.0) {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// The document's top level.
struct Top;

impl<'de> DeserializeSeed<'de> for Top {
    type Value = Probe;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Probe, D::Error> {
        d.deserialize_any(self)
    }
}

macro_rules! scalar_is_not_an_object {
    ($($visit:ident: $t:ty),*) => {$(
        fn $visit<E>(self, _: $t) -> Result<Probe, E> {
            Ok(Probe::default())
        }
    )*};
}

impl<'de> Visitor<'de> for Top {
    type Value = Probe;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON document")
    }

    scalar_is_not_an_object!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str);

    fn visit_unit<E>(self) -> Result<Probe, E> {
        Ok(Probe::default())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Probe, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Probe::default())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Probe, A::Error> {
        let mut probe = Probe { is_object: true, ..Probe::default() };
        while let Some(Key(key)) = map.next_key()? {
            if key.eq_ignore_ascii_case("ResponseStatus") {
                probe.error_code = map.next_value_seed(Status)?;
            } else if let Some(i) = SUMMARY.iter().position(|s| s.eq_ignore_ascii_case(&key)) {
                probe.summary[i] = Some(map.next_value::<Value>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(probe)
    }
}

/// An object key, borrowed from the body unless it has escapes (serde's own
/// `Cow<str>` always allocates).
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(key)))
            }
            fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key.to_owned())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// `ResponseStatus`: its `ErrorCode`, if it is a string.
struct Status;

impl<'de> DeserializeSeed<'de> for Status {
    type Value = Option<String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Status {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a ResponseStatus")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Option<String>, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Option<String>, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Option<String>, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Option<String>, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Option<String>, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Option<String>, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<String>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<String>, A::Error> {
        let mut code = None;
        while let Some(Key(key)) = map.next_key()? {
            if key.eq_ignore_ascii_case("ErrorCode") {
                code = match map.next_value::<Value>()? {
                    Value::String(s) => Some(s),
                    _ => None,
                };
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a parsed tree says, for comparison: the same rules through serde_json's `Value`.
    fn by_tree(body: &[u8]) -> Option<Probe> {
        let doc: Value = serde_json::from_slice(body).ok()?;
        let field = |v: &Value, name: &str| -> Option<Value> {
            v.as_object()?.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
        };
        let error_code = field(&doc, "ResponseStatus")
            .and_then(|rs| field(&rs, "ErrorCode"))
            .and_then(|c| c.as_str().map(str::to_owned));
        let mut summary: [Option<Value>; 5] = Default::default();
        for (i, name) in SUMMARY.iter().enumerate() {
            summary[i] = field(&doc, name);
        }
        Some(Probe { is_object: doc.is_object(), error_code, summary })
    }

    #[test]
    fn agrees_with_a_parsed_tree() {
        let rows: &[&[u8]] = &[
            br#"{"Id":"c-1","ClientId":"cl","CenterId":"ce","Type":"In","Flagged":true,"Notes":"caf\u00e9","Interactions":[{"Type":"x"}]}"#,
            br#"{"ResponseStatus":{"ErrorCode":"NotFound","Message":"m","Errors":[{"ErrorCode":"inner"}]}}"#,
            br#"{"responseStatus":{"errorCode":"SecurityException"}}"#,
            br#"{"ResponseStatus":{"ErrorCode":5}}"#,
            br#"{"ResponseStatus":"text"}"#,
            br#"{"Id":1,"Id":"last wins"}"#,
            br#"{"id":"c-2","clientId":"cl","centerId":"ce","type":"Out","flagged":false}"#,
            br#"{"Id":"first","ID":"last spelling wins"}"#,
            br#"{"\u0049d":"an escaped key","Response\u0053tatus":{"Error\u0043ode":"Escaped"}}"#,
            br#"[1, {"Id": "in an array"}]"#,
            b" 42 ",
            b"null",
            br#""just a string""#,
        ];
        for body in rows {
            assert_eq!(Probe::read(body), by_tree(body), "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn a_summary_is_written_as_every_name_in_record_order() {
        let summary = Summary([Some(Value::from("c-1")), None, Some(Value::from(7)), None, Some(Value::from(false))]);
        let text = serde_json::to_string(&summary).unwrap();
        assert_eq!(text, r#"{"Id":"c-1","ClientId":null,"CenterId":7,"Type":null,"Flagged":false}"#);
        assert_eq!(serde_json::to_string(&Summary::default()).unwrap().matches(":null").count(), 5);
    }

    #[test]
    fn anything_but_one_json_document_is_refused() {
        for body in [&b""[..], b"{", b"{}{}", b"{} x", br#"{"a":}"#, b"\xff", br#"cb({"Id":1})"#] {
            assert_eq!(Probe::read(body), None, "{}", String::from_utf8_lossy(body));
        }
    }
}
