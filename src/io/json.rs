//! JSON walked with positions: the byte span (and so the line) of each
//! value, and records parsed strictly — a key written twice in one object,
//! at any depth, is reported rather than silently resolved.
//!
//! serde_json's `Value` keeps the last of two equal keys without a word, so
//! `{"id": "u-1", "id": "u-2"}` would read as `u-2` alone. [`parse_record`]
//! builds the same `Value` but lists every repeated key, and every key
//! holding a control or invisible character (JSON allows DEL, C1 controls
//! and bidi overrides raw in strings: a key `external\u{7f}Id` is damage, and
//! SCIM, which skips attributes it does not know, would otherwise read past
//! it); the readers make such a record invalid. SCIM attribute names are case-insensitive (RFC 7643
//! §2.1), so SCIM documents are checked with [`Keys::CaseInsensitive`]:
//! `externalId` and `externalid` are the same attribute written twice.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::text::{syntax, LineCounter};
use super::InputError;

/// A JSON syntax error at a byte offset of the whole input.
pub(super) struct JsonError {
    /// Where it is.
    pub(super) offset: usize,
    /// What is wrong (serde_json's words, without its position).
    pub(super) message: String,
}

/// The byte range of one JSON value in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    /// The first byte.
    pub(super) start: usize,
    /// One past the last byte.
    pub(super) end: usize,
}

/// How object keys compare when looking for repeated ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Keys {
    /// Byte for byte (JSON and JSON Lines records, live grants).
    Exact,
    /// ASCII case-insensitively (SCIM attribute names).
    CaseInsensitive,
}

/// A key that makes its record invalid: written twice in one object, or
/// holding a control or invisible character (damage: no attribute is named so).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct KeyFault {
    /// Where the object is: empty at the top, else like `attributes` or `assignments[2]`.
    pub(super) path: String,
    /// The key (as written the second time, for a repeated one).
    pub(super) key: String,
    /// What is wrong with it.
    pub(super) kind: KeyFaultKind,
}

/// What is wrong with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyFaultKind {
    /// Written twice in one object.
    Repeated,
    /// Holding this forbidden character (see [`crate::state::is_forbidden_char`]).
    Damaged(char),
}

impl KeyFault {
    /// One sentence: "key `id` appears twice in the record" (with the object's path when nested).
    pub(super) fn sentence(&self, what: &str) -> String {
        let key = crate::state::shown(&self.key);
        let place = if self.path.is_empty() {
            format!("the {what}")
        } else {
            format!("`{}` of the {what}", crate::state::shown(&self.path))
        };
        match self.kind {
            KeyFaultKind::Repeated => format!("key `{key}` appears twice in {place}"),
            KeyFaultKind::Damaged(c) => format!(
                "key `{key}` in {place} holds the invisible or control character U+{:04X}",
                u32::from(c)
            ),
        }
    }

    /// Is it about the record's own key `key` (repeated at the top, under `keys`)?
    pub(super) fn is_top_level(&self, key: &str, keys: Keys) -> bool {
        self.path.is_empty()
            && self.kind == KeyFaultKind::Repeated
            && match keys {
                Keys::Exact => self.key == key,
                Keys::CaseInsensitive => self.key.eq_ignore_ascii_case(key),
            }
    }

    /// Is it a damaged key of the record itself (which could have been any of its keys)?
    pub(super) fn is_damaged_top_level(&self) -> bool {
        self.path.is_empty() && matches!(self.kind, KeyFaultKind::Damaged(_))
    }
}

/// The offset of the first non-whitespace byte at or after `pos`.
pub(super) fn skip_ws(text: &str, pos: usize) -> usize {
    let bytes = text.as_bytes();
    let mut pos = pos.min(bytes.len());
    while pos < bytes.len() && matches!(bytes[pos], b' ' | b'\t' | b'\r' | b'\n') {
        pos += 1;
    }
    pos
}

/// Parses one JSON value starting at `pos`, returning it and the offset just after it.
pub(super) fn parse_value_at<'de, T: serde::Deserialize<'de>>(text: &'de str, pos: usize) -> Result<(T, usize), JsonError> {
    let mut stream = serde_json::Deserializer::from_str(&text[pos..]).into_iter::<T>();
    match stream.next() {
        Some(Ok(value)) => Ok((value, pos + stream.byte_offset())),
        Some(Err(e)) => Err(error_at(text, pos, &e)),
        None => Err(JsonError {
            offset: text.len(),
            message: "unexpected end of input".into(),
        }),
    }
}

/// Parses the JSON value at `pos` strictly: the value (a repeated key keeps
/// its last value, as serde_json does), every faulty key (repeated, or
/// holding a control or invisible character), and the offset just after it.
pub(super) fn parse_record(text: &str, pos: usize, keys: Keys) -> Result<(Value, Vec<KeyFault>, usize), JsonError> {
    match keys {
        Keys::Exact => parse_value_at::<StrictValue<false>>(text, pos).map(|(v, end)| (v.value, v.repeated, end)),
        Keys::CaseInsensitive => parse_value_at::<StrictValue<true>>(text, pos).map(|(v, end)| (v.value, v.repeated, end)),
    }
}

/// A value and the keys repeated in it; `FOLD` compares keys case-insensitively.
struct StrictValue<const FOLD: bool> {
    value: Value,
    repeated: Vec<KeyFault>,
}

impl<'de, const FOLD: bool> serde::Deserialize<'de> for StrictValue<FOLD> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let repeated = RefCell::new(Vec::new());
        let seed = Strict {
            repeated: &repeated,
            path: None,
            keys: if FOLD { Keys::CaseInsensitive } else { Keys::Exact },
        };
        let value = seed.deserialize(deserializer)?;
        Ok(StrictValue {
            value,
            repeated: repeated.into_inner(),
        })
    }
}

/// Where a value sits in its record, for messages about repeated keys.
#[derive(Clone, Copy)]
enum PathStep<'a> {
    Key(&'a str),
    Index(usize),
}

struct PathNode<'a> {
    step: PathStep<'a>,
    parent: Option<&'a PathNode<'a>>,
}

fn render_path(node: Option<&PathNode<'_>>) -> String {
    let mut steps = Vec::new();
    let mut node = node;
    while let Some(n) = node {
        steps.push(n.step);
        node = n.parent;
    }
    let mut out = String::new();
    for step in steps.iter().rev() {
        match step {
            PathStep::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            PathStep::Index(i) => out.push_str(&format!("[{}]", i + 1)),
        }
    }
    out
}

/// A `Value` deserializer that records repeated keys.
#[derive(Clone, Copy)]
struct Strict<'a> {
    repeated: &'a RefCell<Vec<KeyFault>>,
    path: Option<&'a PathNode<'a>>,
    keys: Keys,
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let node = PathNode {
                step: PathStep::Index(items.len()),
                parent: self.path,
            };
            let seed = Strict {
                repeated: self.repeated,
                path: Some(&node),
                keys: self.keys,
            };
            match seq.next_element_seed(seed)? {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        // Only SCIM needs folded keys; exact keys are checked against the map itself.
        let mut folded: HashSet<String> = HashSet::new();
        while let Some(key) = access.next_key::<String>()? {
            let node = PathNode {
                step: PathStep::Key(&key),
                parent: self.path,
            };
            let seed = Strict {
                repeated: self.repeated,
                path: Some(&node),
                keys: self.keys,
            };
            let value = access.next_value_seed(seed)?;
            let seen = match self.keys {
                Keys::Exact => map.contains_key(&key),
                Keys::CaseInsensitive => !folded.insert(key.to_ascii_lowercase()),
            };
            let damaged = key.chars().find(|c| crate::state::is_forbidden_char(*c));
            for kind in [seen.then_some(KeyFaultKind::Repeated), damaged.map(KeyFaultKind::Damaged)]
                .into_iter()
                .flatten()
            {
                self.repeated.borrow_mut().push(KeyFault {
                    path: render_path(self.path),
                    key: key.clone(),
                    kind,
                });
            }
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

fn error_at(text: &str, pos: usize, e: &serde_json::Error) -> JsonError {
    let slice = &text[pos..];
    let mut line_start = 0;
    for _ in 1..e.line() {
        match slice[line_start..].find('\n') {
            Some(i) => line_start += i + 1,
            None => break,
        }
    }
    let mut offset = pos + (line_start + e.column().saturating_sub(1)).min(slice.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    JsonError {
        offset,
        message: serde_message(e),
    }
}

/// serde_json's message without its " at line L column C" (we report our own position).
pub(super) fn serde_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// The elements of the JSON array whose `[` is at `pos`, and the offset after its `]`.
pub(super) fn array_spans(text: &str, pos: usize) -> Result<(Vec<Span>, usize), JsonError> {
    let bytes = text.as_bytes();
    if bytes.get(pos) != Some(&b'[') {
        return Err(JsonError {
            offset: pos,
            message: "expected a JSON array".into(),
        });
    }
    let mut spans = Vec::new();
    let mut pos = skip_ws(text, pos + 1);
    if bytes.get(pos) == Some(&b']') {
        return Ok((spans, pos + 1));
    }
    loop {
        let (IgnoredAny, end) = parse_value_at::<IgnoredAny>(text, pos)?;
        spans.push(Span { start: pos, end });
        pos = skip_ws(text, end);
        match bytes.get(pos) {
            Some(b',') => pos = skip_ws(text, pos + 1),
            Some(b']') => return Ok((spans, pos + 1)),
            Some(_) => {
                return Err(JsonError {
                    offset: pos,
                    message: "expected `,` or `]`".into(),
                })
            }
            None => {
                return Err(JsonError {
                    offset: pos,
                    message: "unexpected end of input in a JSON array".into(),
                })
            }
        }
    }
}

/// The entries of the JSON object whose `{` is at `pos`, and the offset after its `}`.
pub(super) fn object_spans(text: &str, pos: usize) -> Result<(Vec<(String, Span)>, usize), JsonError> {
    let bytes = text.as_bytes();
    if bytes.get(pos) != Some(&b'{') {
        return Err(JsonError {
            offset: pos,
            message: "expected a JSON object".into(),
        });
    }
    let mut entries = Vec::new();
    let mut pos = skip_ws(text, pos + 1);
    if bytes.get(pos) == Some(&b'}') {
        return Ok((entries, pos + 1));
    }
    loop {
        if bytes.get(pos) != Some(&b'"') {
            return Err(JsonError {
                offset: pos,
                message: "expected a key in double quotes".into(),
            });
        }
        let (key, end) = parse_value_at::<String>(text, pos)?;
        pos = skip_ws(text, end);
        if bytes.get(pos) != Some(&b':') {
            return Err(JsonError {
                offset: pos,
                message: "expected `:`".into(),
            });
        }
        pos = skip_ws(text, pos + 1);
        let (IgnoredAny, end) = parse_value_at::<IgnoredAny>(text, pos)?;
        entries.push((key, Span { start: pos, end }));
        pos = skip_ws(text, end);
        match bytes.get(pos) {
            Some(b',') => pos = skip_ws(text, pos + 1),
            Some(b'}') => return Ok((entries, pos + 1)),
            Some(_) => {
                return Err(JsonError {
                    offset: pos,
                    message: "expected `,` or `}`".into(),
                })
            }
            None => {
                return Err(JsonError {
                    offset: pos,
                    message: "unexpected end of input in a JSON object".into(),
                })
            }
        }
    }
}

/// A JSON syntax error in a document that must be read whole.
pub(super) fn json_syntax(file: &str, lines: &mut LineCounter<'_>, e: JsonError) -> InputError {
    // An unexpected end is reported after the last text, not on the empty line after a final newline.
    let offset = e.offset.min(lines.text.trim_end().len());
    syntax(file, lines, offset, format!("the JSON document cannot be read ({})", e.message))
}

/// Refuses anything but whitespace after a document that ends at `end`.
pub(super) fn trailing_text(file: &str, text: &str, end: usize, lines: &mut LineCounter<'_>, what: &str) -> Result<(), InputError> {
    let rest = skip_ws(text, end);
    if rest < text.len() {
        return Err(syntax(file, lines, rest, format!("unexpected text after {what}")));
    }
    Ok(())
}

/// The rest of the line from `pos`.
pub(super) fn line_text(text: &str, pos: usize) -> &str {
    let rest = &text[pos..];
    rest.find('\n').map_or(rest, |i| &rest[..i])
}

/// The id of a record too malformed to parse, when `"id": "..."` can be found in its line.
pub(super) fn scan_id(line: &str) -> Option<String> {
    // Only the record's own top-level `"id"` counts: a nested one (`{"meta": {"id": ...}}`)
    // would name the wrong identity. Strings are skipped whole, so braces inside them do
    // not count. The result is a guess: the reader marks it as one.
    let bytes = line.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'"' => {
                let start = i + 1;
                let end = string_end(bytes, start)?;
                let is_key = line[end + 1..].trim_start().starts_with(':');
                if depth == 1 && is_key && &line[start..end] == "id" {
                    let after = line[end + 1..].trim_start().strip_prefix(':')?.trim_start();
                    let value = after.strip_prefix('"')?;
                    let close = value.find('"')?;
                    let id = &value[..close];
                    return (!id.contains('\\') && crate::state::check_id("`id`", id).is_ok()).then(|| id.to_string());
                }
                i = end;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The index of the quote closing the JSON string that starts at `start`.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repeated(text: &str, keys: Keys) -> Vec<(String, String)> {
        let (_, repeated, end) = parse_record(text, 0, keys).unwrap_or_else(|e| panic!("{}", e.message));
        assert_eq!(end, text.trim_end().len());
        repeated
            .into_iter()
            .filter(|r| r.kind == KeyFaultKind::Repeated)
            .map(|r| (r.path, r.key))
            .collect()
    }

    #[test]
    fn repeated_keys_are_found_at_every_depth() {
        assert!(repeated(r#"{"id": "u-1", "attributes": {"a": 1, "b": [1, {"c": 2}]}}"#, Keys::Exact).is_empty());
        assert_eq!(
            repeated(r#"{"id": "u-1", "id": "u-2"}"#, Keys::Exact),
            [(String::new(), "id".to_string())]
        );
        assert_eq!(
            repeated(
                r#"{"id": "u-1", "attributes": {"status": "active", "status": "terminated"}, "assignments": [{"role": "a"}, {"role": "b", "role": "c"}]}"#,
                Keys::Exact
            ),
            [
                ("attributes".to_string(), "status".to_string()),
                ("assignments[2]".to_string(), "role".to_string())
            ]
        );
        assert!(repeated(r#"{"id": "u-1", "ID": "u-2"}"#, Keys::Exact).is_empty());
        assert_eq!(
            repeated(r#"{"totalResults": 1, "totalresults": 9}"#, Keys::CaseInsensitive),
            [(String::new(), "totalresults".to_string())]
        );
    }

    #[test]
    fn keys_with_control_or_invisible_characters_are_damage() {
        let (_, faults, _) = parse_record(
            "{\"id\": \"u-1\", \"a\": {\"depart\u{85}ment\": 1}, \"ex\u{7f}ternalId\": 2}",
            0,
            Keys::CaseInsensitive,
        )
        .unwrap_or_else(|e| panic!("{}", e.message));
        let sentences: Vec<String> = faults.iter().map(|f| f.sentence("resource")).collect();
        assert_eq!(
            sentences,
            [
                "key `depart\\u{85}ment` in `a` of the resource holds the invisible or control character U+0085",
                "key `ex\\u{7f}ternalId` in the resource holds the invisible or control character U+007F",
            ]
        );
        assert!(!faults[0].is_damaged_top_level() && faults[1].is_damaged_top_level());
    }

    #[test]
    fn the_value_and_its_end_are_serde_jsons() {
        let text = r#"{"a": [1, -2, 3.5, true, null, "x\u0041"]}  {"b": 1}"#;
        let (value, repeated, end) = parse_record(text, 0, Keys::Exact).unwrap_or_else(|e| panic!("{}", e.message));
        assert!(repeated.is_empty());
        assert_eq!(value, serde_json::from_str::<Value>(&text[..end]).unwrap());
        assert_eq!(&text[end..], "  {\"b\": 1}");
        let err = parse_record("{\"a\": 1,\n \"b\" 2}", 0, Keys::Exact).err().unwrap();
        assert_eq!((err.offset, err.message.as_str()), (14, "expected `:`"));
        let deep = "[".repeat(1000);
        assert!(parse_record(&deep, 0, Keys::Exact)
            .err()
            .unwrap()
            .message
            .contains("recursion limit"));
    }

    #[test]
    fn scan_id_reads_plain_top_level_ids_only() {
        assert_eq!(scan_id(r#"{"kind": "id", "id" : "u-7", "x"#).as_deref(), Some("u-7"));
        assert_eq!(scan_id(r#"{"id": "a\"b"}"#), None);
        assert_eq!(scan_id(r#"{"id": 5}"#), None);
        assert_eq!(scan_id(r#"{"id": "u-8"#), None);
        assert_eq!(scan_id(r#"{"id": " u-8", "kind"#), None);
        assert_eq!(scan_id(r#"{"meta": {"id": "x"}, "id": "u-2", "kind"#).as_deref(), Some("u-2"));
        assert_eq!(scan_id(r#"{"meta": {"id": "x"}, "kind": "person""#), None);
        assert_eq!(scan_id(r#"{"note": "{\"id\": \"x\"", "id": "u-3""#).as_deref(), Some("u-3"));
    }
}
