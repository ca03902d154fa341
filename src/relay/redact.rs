//! Cutting a profile's password out of what HostedSuite answers (SPEC §4).
//!
//! An upstream may echo the request inside an error message, and it may do
//! so as JSON text inside a JSON string, escaped by whatever writer it uses:
//! `\"`, `\u0022`, `\/`, `\u00e9`, surrogate pairs, upper or lower-case hex.
//! So matching a fixed list of escaped forms is not enough. For every decoded
//! string (keys included) the password is looked for in the string itself
//! and in its *views*: the string with its own JSON escapes resolved, then
//! that view's escapes resolved, and so on (text nested several times).
//! Each occurrence found in a view is mapped back to the span of the string
//! it came from, and that span is replaced.
//!
//! The common case is an answer that cannot hold the password at all; a
//! byte scan proves that without building views (see [`Redactor::may_occur`]).

use std::fmt;

use memchr::memmem;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

/// What replaces each occurrence of the password.
pub const REDACTED: &str = "[redacted]";
/// The replacement for a password that is itself part of [`REDACTED`]
/// (no non-empty text is part of both).
const REDACTED_FALLBACK: &str = "***";
/// Views deeper than this are not built (JSON text nested this many times).
const MAX_DEPTH: usize = 6;
/// Rounds of replacement before a string is replaced whole.
const MAX_ROUNDS: usize = 3;

/// Characters with a short JSON escape (`\"`, `\\`, `\/`, `\b`, `\f`, `\n`,
/// `\r`, `\t`): the only ones a body without `\u` can hold escaped.
fn has_short_escape(c: char) -> bool {
    matches!(c, '"' | '\\' | '/' | '\u{8}' | '\u{c}' | '\n' | '\r' | '\t')
}

/// One profile's password, ready to be searched for; built once per profile
/// when the config is loaded.
pub struct Redactor {
    password: SecretString,
    /// The password's runs of characters without a short escape: in a body
    /// that holds no `\u`, every one of them must stand verbatim in the bytes.
    segments: Vec<SecretString>,
    marker: &'static str,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Redactor([redacted])")
    }
}

impl Redactor {
    pub fn new(password: &SecretString) -> Redactor {
        let text = password.expose_secret();
        let segments =
            text.split(has_short_escape).filter(|s| !s.is_empty()).map(|s| SecretString::from(s.to_owned())).collect();
        let marker = if REDACTED.contains(text) { REDACTED_FALLBACK } else { REDACTED };
        Redactor { password: password.clone(), segments, marker }
    }

    /// False when `body` provably holds the password in no string and no
    /// view of one. Without a `\u` anywhere in the bytes (at any nesting a
    /// `\u` escape leaves a `\u` in the raw text), escapes produce only the
    /// short-escape characters, so every other run of the password's
    /// characters must appear verbatim.
    pub fn may_occur(&self, body: &[u8]) -> bool {
        if self.password.expose_secret().is_empty() {
            return false;
        }
        // `\u` found from its backslashes: no searcher to build for two bytes.
        memchr::memchr_iter(b'\\', body).any(|at| body.get(at + 1) == Some(&b'u'))
            || self.segments.iter().all(|s| memmem::find(body, s.expose_secret().as_bytes()).is_some())
    }

    /// Whether any string of the JSON text `body` (keys included, and every
    /// one of duplicate keys, which a parsed tree keeps only the last of)
    /// holds the password, as is or in a view. `true` for text the walk
    /// cannot read to the end (a number beyond `f64`, a lone surrogate
    /// escape: the probe skips those unchecked), so that it is not relayed
    /// unread; redacting it fails in turn.
    pub fn found_in(&self, body: &[u8]) -> bool {
        let mut de = serde_json::Deserializer::from_slice(body);
        serde::de::DeserializeSeed::deserialize(Walk(self), &mut de).unwrap_or(true)
    }

    /// Redacts every string of `doc`, keys included; true if anything changed.
    pub fn redact(&self, doc: &mut Value) -> bool {
        match doc {
            Value::String(s) => self.redact_str(s),
            Value::Array(items) => items.iter_mut().fold(false, |changed, v| self.redact(v) | changed),
            Value::Object(map) => {
                let mut changed = false;
                let mut out = Map::with_capacity(map.len());
                for (mut k, mut v) in std::mem::take(map) {
                    changed |= self.redact_str(&mut k);
                    changed |= self.redact(&mut v);
                    out.insert(k, v);
                }
                *map = out;
                changed
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => false,
        }
    }

    /// Redacts one decoded string; true if it changed.
    pub fn redact_str(&self, s: &mut String) -> bool {
        let mut changed = false;
        for _ in 0..MAX_ROUNDS {
            let spans = self.spans(s);
            if spans.is_empty() {
                return changed;
            }
            changed = true;
            for (start, end) in spans.into_iter().rev() {
                s.replace_range(start..end, self.marker);
            }
        }
        if !self.spans(s).is_empty() {
            // Replacements kept forming new occurrences: give up on the rest.
            self.marker.clone_into(s);
        }
        true
    }

    /// Where the password stands in `s` or any view of it, as merged byte
    /// spans of `s`, in order.
    fn spans(&self, s: &str) -> Vec<(usize, usize)> {
        let needle = self.password.expose_secret().as_bytes();
        if needle.is_empty() {
            return Vec::new();
        }
        let mut spans: Vec<(usize, usize)> = find_all(s, needle).collect();
        // `view` holds the current view's text and, per byte, the span of `s` it stands for.
        let mut view: Option<View> = None;
        for _ in 0..MAX_DEPTH {
            let text = view.as_ref().map_or(s, |v| v.text.as_str());
            let Some(next) = View::unescape(text) else { break };
            let next = match &view {
                Some(outer) => next.through(outer),
                None => next,
            };
            spans.extend(find_all(&next.text, needle).map(|(a, b)| next.source(a, b)));
            view = Some(next);
        }
        merge(spans)
    }
}

/// A walk over a JSON document that sees every string, duplicates included;
/// yields whether one holds the password.
struct Walk<'r>(&'r Redactor);

impl<'de> serde::de::DeserializeSeed<'de> for Walk<'_> {
    type Value = bool;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Walk<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_str<E>(self, s: &str) -> Result<bool, E> {
        Ok(!self.0.spans(s).is_empty())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let mut found = false;
        while let Some(hit) = seq.next_element_seed(Walk(self.0))? {
            found |= hit;
        }
        Ok(found)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut found = false;
        while let Some(key) = map.next_key_seed(Walk(self.0))? {
            found |= key;
            found |= map.next_value_seed(Walk(self.0))?;
        }
        Ok(found)
    }
}

/// Every (non-overlapping) occurrence of `needle` in `hay`, as byte spans.
fn find_all<'a>(hay: &'a str, needle: &'a [u8]) -> impl Iterator<Item = (usize, usize)> + 'a {
    memmem::find_iter(hay.as_bytes(), needle).map(move |at| (at, at + needle.len()))
}

/// Sorted spans with overlapping ones joined.
fn merge(mut spans: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    spans.sort_unstable();
    let mut out: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for (a, b) in spans {
        match out.last_mut() {
            Some(last) if a < last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// A string with its JSON escapes resolved, and for each byte of it the
/// span of the original string the character came from.
struct View {
    text: String,
    /// Per byte of `text`: start and end (exclusive) in the source (strings
    /// are at most 4 MiB: the upstream answer limit).
    from: Vec<(u32, u32)>,
}

impl View {
    /// `text` with each valid JSON escape resolved; a backslash that starts
    /// no valid escape stands for itself. `None` if nothing was resolved.
    fn unescape(text: &str) -> Option<View> {
        if !text.contains('\\') {
            return None;
        }
        let bytes = text.as_bytes();
        let mut out = View { text: String::with_capacity(text.len()), from: Vec::with_capacity(text.len()) };
        let mut resolved = false;
        let mut i = 0;
        while i < bytes.len() {
            let (c, len) = match bytes[i] {
                b'\\' => match escape_at(bytes, i) {
                    Some(found) => {
                        resolved = true;
                        found
                    }
                    None => ('\\', 1),
                },
                _ => match text.get(i..).and_then(|rest| rest.chars().next()) {
                    Some(c) => (c, c.len_utf8()),
                    None => break,
                },
            };
            out.push(c, i, i + len);
            i += len;
        }
        resolved.then_some(out)
    }

    fn push(&mut self, c: char, start: usize, end: usize) {
        self.text.push(c);
        let span = (u32::try_from(start).unwrap_or(u32::MAX), u32::try_from(end).unwrap_or(u32::MAX));
        for _ in 0..c.len_utf8() {
            self.from.push(span);
        }
    }

    /// This view of `outer`'s text, re-pointed at `outer`'s source.
    fn through(self, outer: &View) -> View {
        let from = self.from.iter().map(|&(a, b)| outer.source32(a as usize, b as usize)).collect();
        View { text: self.text, from }
    }

    /// The source span of this view's bytes `a..b` (a non-empty range).
    fn source(&self, a: usize, b: usize) -> (usize, usize) {
        let (start, end) = self.source32(a, b);
        (start as usize, end as usize)
    }

    fn source32(&self, a: usize, b: usize) -> (u32, u32) {
        let start = self.from.get(a).map_or(0, |s| s.0);
        let end = b.checked_sub(1).and_then(|last| self.from.get(last)).map_or(start, |s| s.1);
        (start, end)
    }
}

/// The escape starting at `bytes[i]` (a backslash): its character and length.
fn escape_at(bytes: &[u8], i: usize) -> Option<(char, usize)> {
    let c = match bytes.get(i + 1)? {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'u' => return unicode_escape(bytes, i),
        _ => return None,
    };
    Some((c, 2))
}

/// `\uXXXX`, or a surrogate pair `\uD8xx\uDCxx`; a lone surrogate is no escape.
fn unicode_escape(bytes: &[u8], i: usize) -> Option<(char, usize)> {
    let unit = hex4(bytes, i + 2)?;
    match unit {
        0xD800..=0xDBFF => {
            if bytes.get(i + 6) != Some(&b'\\') || bytes.get(i + 7) != Some(&b'u') {
                return None;
            }
            let low = hex4(bytes, i + 8)?;
            if !(0xDC00..=0xDFFF).contains(&low) {
                return None;
            }
            let scalar = 0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
            char::from_u32(scalar).map(|c| (c, 12))
        }
        0xDC00..=0xDFFF => None,
        _ => char::from_u32(u32::from(unit)).map(|c| (c, 6)),
    }
}

fn hex4(bytes: &[u8], at: usize) -> Option<u16> {
    let digits = bytes.get(at..at + 4)?;
    let text = std::str::from_utf8(digits).ok()?;
    if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u16::from_str_radix(text, 16).ok()
}

#[cfg(test)]
mod tests;
