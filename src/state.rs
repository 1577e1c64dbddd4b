//! Identity states: one person's or non-human identity's record at the
//! instant of evaluation, checked against the declared identity schema.
//!
//! Invariant: an [`IdentityState`] that exists has passed validation; a record
//! that fails is reported (never half-used), so a bad record cannot cause a
//! revocation.
//!
//! # Ids and text values
//!
//! The same record must mean the same thing in every format (JSON, JSON
//! Lines, CSV, SCIM), so the rules live here, where every reader ends:
//!
//! - **Ids are never trimmed or altered.** An id (`id`, `owner`, an
//!   assignment's `role`; the live state's identity and entitlement) with
//!   leading or trailing whitespace, a control character (C0, DEL, C1,
//!   including NUL, CR, LF and ESC), a line or paragraph separator, or an
//!   invisible Unicode formatting character (bidirectional controls,
//!   zero-width characters, the byte-order mark) is invalid ([`check_id`]):
//!   ` u-1` and `u-1` would otherwise be two people, one of whom looks absent.
//! - **Attribute text is trimmed, in every format** ([`clean_text`]): a CSV
//!   cell, a JSON string and a SCIM string lose surrounding whitespace, so
//!   `"Engineering "` is `Engineering` (a trailing space must not revoke a
//!   department's access). Text that is blank after trimming is absent, and
//!   blank members of a set are dropped. A control or formatting character
//!   inside the text makes the record invalid: it is damage, not data.
//! - `kind` is compared exactly, like an id.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::Value;

use crate::diag::did_you_mean;
use crate::model::{AttrType, Definitions};
use crate::time::Instant;

/// A typed attribute value.
///
/// Text is shared (`Arc<str>`): a feed's records repeat the same departments,
/// statuses and locations, and a [`StringPool`] keeps each once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrValue {
    /// A string or enum value.
    Str(Arc<str>),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A date or instant.
    Date(Instant),
    /// A set of strings, sorted, each once (build it with [`AttrValue::set`]).
    Set(Box<[Arc<str>]>),
}

impl AttrValue {
    /// A string value.
    pub fn str(text: &str) -> AttrValue {
        AttrValue::Str(Arc::from(text))
    }

    /// A set value: the members sorted, each once.
    pub fn set<S: Into<Arc<str>>>(members: impl IntoIterator<Item = S>) -> AttrValue {
        let mut members: Vec<Arc<str>> = members.into_iter().map(Into::into).collect();
        members.sort();
        members.dedup();
        AttrValue::Set(members.into_boxed_slice())
    }

    /// For a set: does it hold `member`? (False for any other value.)
    pub fn set_contains(&self, member: &str) -> bool {
        match self {
            AttrValue::Set(members) => members.binary_search_by(|m| (**m).cmp(member)).is_ok(),
            _ => false,
        }
    }

    /// The value as JSON, as a record would carry it.
    pub fn to_json(&self) -> Value {
        match self {
            AttrValue::Str(s) => Value::from(&**s),
            AttrValue::Int(n) => Value::from(*n),
            AttrValue::Bool(b) => Value::Bool(*b),
            AttrValue::Date(t) => Value::String(t.to_cedar()),
            AttrValue::Set(items) => Value::Array(items.iter().map(|s| Value::from(&**s)).collect()),
        }
    }
}

/// The attribute names records share: the declared names, sorted.
#[derive(Debug, PartialEq, Eq)]
struct Names(Box<[Arc<str>]>);

impl Names {
    fn index(&self, name: &str) -> Option<u32> {
        self.0
            .binary_search_by(|n| (**n).cmp(name))
            .ok()
            .and_then(|i| u32::try_from(i).ok())
    }
}

/// An identity's attributes by name, in name order.
///
/// Compact: the names live once in a table the records of a feed share, and
/// each record holds one allocation of (name number, value) pairs.
#[derive(Debug, Clone)]
pub struct Attributes {
    names: Arc<Names>,
    /// Sorted by name number, each once.
    values: Box<[(u32, AttrValue)]>,
}

impl Attributes {
    /// Attributes over the shared `names`, from (name number, value) pairs; of two pairs with one name, the last wins.
    fn from_parts(names: Arc<Names>, mut values: Vec<(u32, AttrValue)>) -> Attributes {
        values.reverse();
        values.sort_by_key(|(i, _)| *i);
        values.dedup_by_key(|(i, _)| *i);
        Attributes {
            names,
            values: values.into_boxed_slice(),
        }
    }

    /// The value of attribute `name`.
    pub fn get(&self, name: &str) -> Option<&AttrValue> {
        let index = self.names.index(name)?;
        self.values
            .binary_search_by_key(&index, |(i, _)| *i)
            .ok()
            .map(|found| &self.values[found].1)
    }

    /// Does it carry attribute `name`?
    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The attributes in name order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &AttrValue)> + '_ {
        self.values.iter().map(|(i, v)| (self.name(*i), v))
    }

    /// The names, in order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.values.iter().map(|(i, _)| self.name(*i))
    }

    /// How many attributes it carries.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Does it carry none?
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    fn name(&self, index: u32) -> &str {
        self.names.0.get(index as usize).map_or("", |n| n)
    }
}

impl PartialEq for Attributes {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Attributes {}

impl Default for Attributes {
    fn default() -> Self {
        Attributes::from_parts(Arc::new(Names(Box::new([]))), Vec::new())
    }
}

impl<K: Into<Arc<str>>> FromIterator<(K, AttrValue)> for Attributes {
    /// Attributes from pairs in any order; of two pairs with one name, the last wins.
    fn from_iter<I: IntoIterator<Item = (K, AttrValue)>>(pairs: I) -> Self {
        let pairs: Vec<(Arc<str>, AttrValue)> = pairs.into_iter().map(|(k, v)| (k.into(), v)).collect();
        let mut names: Vec<Arc<str>> = pairs.iter().map(|(k, _)| k.clone()).collect();
        names.sort();
        names.dedup();
        let names = Arc::new(Names(names.into_boxed_slice()));
        let values = pairs.into_iter().filter_map(|(k, v)| names.index(&k).map(|i| (i, v))).collect();
        Attributes::from_parts(names, values)
    }
}

/// Equal strings shared while a feed is read: attribute names, kinds and
/// text values repeat from record to record, and are kept once each.
#[derive(Debug, Default)]
pub struct StringPool {
    strings: HashSet<Arc<str>>,
    names: Option<Arc<Names>>,
}

impl StringPool {
    /// The table of the declared attribute names of `defs` (built once per pool,
    /// again only if the pool meets other definitions).
    fn names(&mut self, defs: &Definitions) -> Arc<Names> {
        let declared = &defs.identity.attributes;
        if let Some(names) = &self.names {
            if names.0.len() == declared.len() && names.0.iter().zip(declared.keys()).all(|(a, b)| **a == **b) {
                return names.clone();
            }
        }
        let names = Arc::new(Names(declared.keys().map(|k| self.share(k)).collect()));
        self.names = Some(names.clone());
        names
    }

    /// `text`, shared with every equal string given before.
    pub fn share(&mut self, text: &str) -> Arc<str> {
        if let Some(shared) = self.strings.get(text) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(text);
        self.strings.insert(shared.clone());
        shared
    }
}

/// A time-bounded assignment of an assignable role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The assignable role.
    pub role: String,
    /// When it starts (inclusive).
    pub starts: Instant,
    /// When it ends (exclusive); `None` for no end (invalid for a role with `max_duration`).
    pub expires: Option<Instant>,
    /// Who approved it.
    pub approved_by: Option<String>,
    /// The change or request ticket.
    pub ticket: Option<String>,
}

/// Why an assignment does not put its identity in the role at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignmentStatus {
    /// Valid at the instant.
    Active,
    /// Starts later.
    NotYetStarted,
    /// `expires` is at or before the instant.
    Expired,
    /// Longer than the role's `max_duration` (or open-ended while the role has one).
    ExceedsMaxDuration,
}

impl Assignment {
    /// The assignment's status at `at` for a role with `max_duration`.
    pub fn status(&self, at: Instant, max_duration: Option<crate::time::Duration>) -> AssignmentStatus {
        if let Some(max) = max_duration {
            match self.expires {
                None => return AssignmentStatus::ExceedsMaxDuration,
                Some(end) if end.0.saturating_sub(self.starts.0) > max.0 => return AssignmentStatus::ExceedsMaxDuration,
                Some(_) => {}
            }
        }
        if at < self.starts {
            AssignmentStatus::NotYetStarted
        } else if self.expires.is_some_and(|end| at >= end) {
            AssignmentStatus::Expired
        } else {
            AssignmentStatus::Active
        }
    }
}

/// One identity's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityState {
    /// The identity id (`u-1042`, `svc-deploy`).
    pub id: String,
    /// Its kind (`person`, `service_account`, `agent`).
    pub kind: Arc<str>,
    /// The owner's identity id (non-human identities).
    pub owner: Option<String>,
    /// Declared attributes it carries.
    pub attributes: Attributes,
    /// Role assignments.
    pub assignments: Vec<Assignment>,
}

/// Most attributes, set members or assignments one record may carry.
pub const MAX_RECORD_ITEMS: usize = 10_000;

/// Is `c` a character no id or text value may hold: a control character
/// (C0, DEL, C1), a line or paragraph separator, or an invisible formatting
/// character (Unicode category Cf: bidirectional controls, zero-width
/// characters, the byte-order mark, tags)? The same characters human output
/// shows as escapes ([`crate::term::is_unsafe`]): one list for both.
pub fn is_forbidden_char(c: char) -> bool {
    crate::term::is_unsafe(c)
}

/// `text` as a message shows it: forbidden characters (see [`is_forbidden_char`])
/// written as `\u{..}` escapes (`\u{1b}`, as [`crate::term::one_line`] writes
/// them), and cut after 80 characters, so a message can neither hide nor
/// forge what it quotes.
pub fn shown(text: &str) -> String {
    const MAX_CHARS: usize = 80;
    match text.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", crate::term::one_line(&text[..cut])),
        None => crate::term::one_line(text).into_owned(),
    }
}

/// Checks that `value` can be an id (see the module documentation); `what`
/// names the field in the message (`` `id` ``, `` `owner` ``).
pub fn check_id(what: &str, value: &str) -> Result<(), String> {
    // Most ids are printable ASCII without surrounding spaces: nothing else to check.
    let b = value.as_bytes();
    if !b.is_empty() && b[0] != b' ' && b[b.len() - 1] != b' ' && b.iter().all(|c| (0x20..0x7f).contains(c)) {
        return Ok(());
    }
    if value.trim().is_empty() {
        return Err(format!("{what} is empty"));
    }
    if let Some(c) = value.chars().find(|c| is_forbidden_char(*c)) {
        return Err(format!(
            "{what} `{}` contains the invisible or control character U+{:04X} (ids must be written as they are meant)",
            shown(value),
            u32::from(c)
        ));
    }
    if value.trim() != value {
        return Err(format!(
            "{what} `{}` has leading or trailing whitespace (ids are never trimmed: remove it)",
            shown(value)
        ));
    }
    Ok(())
}

/// `value` as an attribute text: trimmed, `None` when blank; a forbidden
/// character inside is an error naming the attribute `name`.
pub fn clean_text<'a>(name: &str, value: &'a str) -> Result<Option<&'a str>, String> {
    let trimmed = value.trim();
    if let Some(c) = trimmed.chars().find(|c| is_forbidden_char(*c)) {
        return Err(format!(
            "attribute `{name}` contains the invisible or control character U+{:04X}: `{}`",
            u32::from(c),
            shown(trimmed)
        ));
    }
    Ok((!trimmed.is_empty()).then_some(trimmed))
}

impl IdentityState {
    /// Reads and validates a record in the JSON shape of spec §4. The error is
    /// one sentence naming the offending field.
    pub fn from_json(record: &Value, defs: &Definitions) -> Result<IdentityState, String> {
        IdentityState::from_json_pooled(record, defs, &mut StringPool::default())
    }

    /// [`IdentityState::from_json`], sharing names and text values through
    /// `pool` (a reader passes one pool for a whole feed).
    pub fn from_json_pooled(record: &Value, defs: &Definitions, pool: &mut StringPool) -> Result<IdentityState, String> {
        let obj = record.as_object().ok_or("record is not a JSON object")?;
        for key in obj.keys() {
            if !["id", "kind", "owner", "attributes", "assignments"].contains(&key.as_str()) {
                let help = did_you_mean(key, ["id", "kind", "owner", "attributes", "assignments"])
                    .map(|h| format!(" ({h})"))
                    .unwrap_or_default();
                return Err(format!("unknown field `{}`{help}", shown(key)));
            }
        }
        let id = match obj.get("id") {
            Some(Value::String(s)) => {
                check_id("`id`", s)?;
                s.clone()
            }
            Some(_) => return Err("`id` is not a string".into()),
            None => return Err("record has no `id`".into()),
        };
        let kind = match obj.get("kind") {
            Some(Value::String(s)) => s.as_str(),
            Some(_) => return Err("`kind` is not a string".into()),
            None => return Err("record has no `kind`".into()),
        };
        if !defs.identity.kinds.iter().any(|k| k == kind) {
            let help = if defs.identity.kinds.iter().any(|k| k == kind.trim()) {
                " (kinds are never trimmed: remove the whitespace)".to_string()
            } else {
                did_you_mean(kind, defs.identity.kinds.iter().map(String::as_str))
                    .map(|h| format!(" ({h})"))
                    .unwrap_or_default()
            };
            return Err(format!("unknown kind `{}`{help}", shown(kind)));
        }
        let kind = pool.share(kind);
        let owner = match obj.get("owner") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                check_id("`owner`", s)?;
                if *s == id {
                    return Err(format!(
                        "`{}` names itself as its owner; an owner must be another identity",
                        shown(&id)
                    ));
                }
                Some(s.clone())
            }
            Some(_) => return Err("`owner` is not an identity id".into()),
        };
        let mut attributes = Vec::new();
        let names = pool.names(defs);
        match obj.get("attributes") {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                if map.len() > MAX_RECORD_ITEMS {
                    return Err(format!("more than {MAX_RECORD_ITEMS} attributes"));
                }
                for (name, value) in map {
                    if value.is_null() {
                        continue;
                    }
                    let Some(def) = defs.identity.attributes.get(name) else {
                        let help = did_you_mean(name, defs.identity.attributes.keys().map(String::as_str))
                            .map(|h| format!(" ({h})"))
                            .unwrap_or_default();
                        return Err(format!("unknown attribute `{}`{help}", shown(name)));
                    };
                    if !def.applies_to(&kind) {
                        return Err(format!("attribute `{name}` does not apply to kind `{kind}`"));
                    }
                    if def.identity_ref {
                        check_identity_ref(name, value, &id)?;
                    }
                    if let Some(value) = typed_value(name, &def.ty, value, pool)? {
                        let index = names.index(name).ok_or_else(|| format!("unknown attribute `{}`", shown(name)))?;
                        attributes.push((index, value));
                    }
                }
            }
            Some(_) => return Err("`attributes` is not an object".into()),
        }
        let attributes = Attributes::from_parts(names, attributes);
        for def in defs.identity.attributes.values() {
            if def.required && def.applies_to(&kind) && !attributes.contains_key(&def.name) {
                return Err(format!("required attribute `{}` is missing", def.name));
            }
        }
        let mut assignments = Vec::new();
        match obj.get("assignments") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                if items.len() > MAX_RECORD_ITEMS {
                    return Err(format!("more than {MAX_RECORD_ITEMS} assignments"));
                }
                for (i, item) in items.iter().enumerate() {
                    assignments.push(read_assignment(item, defs).map_err(|e| format!("assignment {}: {e}", i + 1))?);
                }
            }
            Some(_) => return Err("`assignments` is not a list".into()),
        }
        Ok(IdentityState {
            id,
            kind,
            owner,
            attributes,
            assignments,
        })
    }

    /// The record in the JSON shape of spec §4 (the shape [`IdentityState::from_json`] reads).
    pub fn to_json(&self) -> Value {
        let mut v = serde_json::json!({
            "id": self.id,
            "kind": self.kind,
            "attributes": self.attributes.iter().map(|(k, v)| (k.to_string(), v.to_json())).collect::<serde_json::Map<_, _>>(),
        });
        if let Some(owner) = &self.owner {
            v["owner"] = owner.clone().into();
        }
        if !self.assignments.is_empty() {
            v["assignments"] = self
                .assignments
                .iter()
                .map(|a| {
                    let mut o = serde_json::json!({"role": a.role, "starts": a.starts.to_rfc3339()});
                    if let Some(e) = a.expires {
                        o["expires"] = e.to_rfc3339().into();
                    }
                    if let Some(x) = &a.approved_by {
                        o["approved_by"] = x.clone().into();
                    }
                    if let Some(x) = &a.ticket {
                        o["ticket"] = x.clone().into();
                    }
                    o
                })
                .collect();
        }
        v
    }
}

/// An attribute declared `type: identity` (a `manager`) holds another identity's id, written as ids are.
fn check_identity_ref(name: &str, value: &Value, id: &str) -> Result<(), String> {
    let Some(text) = value.as_str() else {
        return Err(format!(
            "attribute `{name}` should be an identity id, found `{}`",
            shown(&value.to_string())
        ));
    };
    if text.is_empty() {
        return Ok(());
    }
    check_id(&format!("attribute `{name}`"), text)?;
    if text == id {
        return Err(format!(
            "`{}` names itself in `{name}`; leave `{name}` empty at the top of the chain",
            shown(id)
        ));
    }
    Ok(())
}

/// The typed value of attribute `name`; `None` for text that is blank once trimmed.
fn typed_value(name: &str, ty: &AttrType, value: &Value, pool: &mut StringPool) -> Result<Option<AttrValue>, String> {
    let wrong = |expected: &str| format!("attribute `{name}` should be {expected}, found `{}`", shown(&value.to_string()));
    let text = || -> Result<Option<&str>, String> { clean_text(name, value.as_str().ok_or_else(|| wrong("a string"))?) };
    Ok(Some(match ty {
        AttrType::String => match text()? {
            Some(s) => AttrValue::Str(pool.share(s)),
            None => return Ok(None),
        },
        AttrType::Enum(values) => {
            let Some(s) = text()? else { return Ok(None) };
            if !values.iter().any(|v| v == s) {
                let help = did_you_mean(s, values.iter().map(String::as_str))
                    .map(|h| format!(" ({h})"))
                    .unwrap_or_default();
                return Err(format!("unknown value `{}` for `{name}`{help}", shown(s)));
            }
            AttrValue::Str(pool.share(s))
        }
        AttrType::Int => AttrValue::Int(value.as_i64().ok_or_else(|| wrong("a whole number"))?),
        AttrType::Bool => AttrValue::Bool(value.as_bool().ok_or_else(|| wrong("true or false"))?),
        AttrType::Date => {
            let s = value.as_str().ok_or_else(|| wrong("a date"))?;
            let Some(s) = clean_text(name, s)? else { return Ok(None) };
            AttrValue::Date(Instant::parse(s).map_err(|e| format!("attribute `{name}`: {e}"))?)
        }
        AttrType::Set => {
            let items = value.as_array().ok_or_else(|| wrong("a list of strings"))?;
            if items.len() > MAX_RECORD_ITEMS {
                return Err(format!("attribute `{name}` has more than {MAX_RECORD_ITEMS} members"));
            }
            let mut set = Vec::with_capacity(items.len());
            for item in items {
                let member = item.as_str().ok_or_else(|| wrong("a list of strings"))?;
                if let Some(member) = clean_text(name, member)? {
                    set.push(pool.share(member));
                }
            }
            AttrValue::set(set)
        }
    }))
}

fn read_assignment(item: &Value, defs: &Definitions) -> Result<Assignment, String> {
    let obj = item.as_object().ok_or("not an object")?;
    const KEYS: [&str; 5] = ["role", "starts", "expires", "approved_by", "ticket"];
    for key in obj.keys() {
        if !KEYS.contains(&key.as_str()) {
            let help = did_you_mean(key, KEYS).map(|h| format!(" ({h})")).unwrap_or_default();
            return Err(format!("unknown field `{}`{help}", shown(key)));
        }
    }
    let role = match obj.get("role") {
        None | Some(Value::Null) => return Err("no `role`".into()),
        Some(Value::String(role)) => role.clone(),
        Some(_) => return Err("`role` is not a string".into()),
    };
    check_id("`role`", &role)?;
    match defs.roles.get(&role) {
        None => {
            let help = did_you_mean(&role, defs.roles.keys().map(String::as_str))
                .map(|h| format!(" ({h})"))
                .unwrap_or_default();
            return Err(format!("unknown role `{}`{help}", shown(&role)));
        }
        Some(r) if !r.assignable => return Err(format!("role `{role}` is not assignable")),
        Some(_) => {}
    }
    let instant = |key: &str| -> Result<Option<Instant>, String> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Instant::parse(s).map(Some).map_err(|e| format!("`{key}`: {e}")),
            Some(other) => Err(format!(
                "`{key}` should be an RFC 3339 instant, found `{}`",
                shown(&other.to_string())
            )),
        }
    };
    let starts = instant("starts")?.ok_or("no `starts`")?;
    let expires = instant("expires")?;
    if expires.is_some_and(|e| e <= starts) {
        return Err("`expires` is not after `starts`".into());
    }
    let text = |key: &str| -> Result<Option<String>, String> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(clean_text(key, s).map_err(|e| e.replacen("attribute ", "", 1))?.map(str::to_string)),
            Some(other) => Err(format!("`{key}` should be a string, found `{}`", shown(&other.to_string()))),
        }
    };
    Ok(Assignment {
        role,
        starts,
        expires,
        approved_by: text("approved_by")?,
        ticket: text("ticket")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{load, SourceFile};

    #[test]
    fn the_printable_ascii_shortcut_of_check_id_skips_nothing_forbidden() {
        // The shortcut accepts printable ASCII without checking characters: none may be forbidden.
        assert!((0x20u8..0x7f).all(|b| !is_forbidden_char(char::from(b))));
        for bad in [" u-1", "u-1 ", " ", "", "u\u{7f}1", "u\t1", "u\u{200b}1", "u\u{a0}"] {
            assert!(check_id("`id`", bad).is_err(), "{bad:?}");
        }
        assert!(check_id("`id`", "u-1 x:ß").is_ok());
    }

    fn defs() -> Definitions {
        let text = "identity:\n  attributes:\n    status: { type: enum, values: [active, leave], required: true }\n    department: { type: string }\n    tags: { type: set }\n    end_date: { type: date }\napplications:\n  - id: app\n    entitlements: [{ id: read }]\nroles:\n  - id: oncall\n    assignable: true\n    grants: [app:read]\n";
        let (defs, diags) = load(&[SourceFile {
            name: "t.yaml".into(),
            text: text.into(),
        }]);
        assert!(diags.is_empty(), "{diags:?}");
        defs
    }

    fn read(record: Value) -> Result<IdentityState, String> {
        IdentityState::from_json(&record, &defs())
    }

    #[test]
    fn an_identity_typed_attribute_holds_another_identitys_id() {
        let text = "identity:\n  attributes:\n    status: { type: enum, values: [active], required: true }\n    manager: { type: identity, kinds: [person] }\n";
        let (defs, diags) = load(&[SourceFile {
            name: "t.yaml".into(),
            text: text.into(),
        }]);
        assert!(diags.is_empty(), "{diags:?}");
        assert!(defs.identity.attributes["manager"].identity_ref);
        let read = |manager: Value| {
            IdentityState::from_json(
                &serde_json::json!({"id": "u-1", "kind": "person", "attributes": {"status": "active", "manager": manager}}),
                &defs,
            )
        };
        let ok = read("u-9".into()).unwrap();
        assert_eq!(ok.attributes.get("manager"), Some(&AttrValue::str("u-9")));
        assert_eq!(
            read(7.into()).unwrap_err(),
            "attribute `manager` should be an identity id, found `7`"
        );
        assert_eq!(
            read(" u-9".into()).unwrap_err(),
            "attribute `manager` ` u-9` has leading or trailing whitespace (ids are never trimmed: remove it)"
        );
        assert_eq!(
            read("u-1".into()).unwrap_err(),
            "`u-1` names itself in `manager`; leave `manager` empty at the top of the chain"
        );
    }

    #[test]
    fn ids_are_never_trimmed_and_never_hold_invisible_characters() {
        for (id, error) in [
            (
                " u-1",
                "`id` ` u-1` has leading or trailing whitespace (ids are never trimmed: remove it)",
            ),
            (
                "u-1\u{a0}",
                "`id` `u-1\u{a0}` has leading or trailing whitespace (ids are never trimmed: remove it)",
            ),
            ("  ", "`id` is empty"),
            (
                "u-1\u{0}",
                "`id` `u-1\\u{0}` contains the invisible or control character U+0000 (ids must be written as they are meant)",
            ),
            (
                "u\r-1",
                "`id` `u\\u{d}-1` contains the invisible or control character U+000D (ids must be written as they are meant)",
            ),
            (
                "u-1\u{1b}[2J",
                "`id` `u-1\\u{1b}[2J` contains the invisible or control character U+001B (ids must be written as they are meant)",
            ),
            (
                "u-\u{7f}1",
                "`id` `u-\\u{7f}1` contains the invisible or control character U+007F (ids must be written as they are meant)",
            ),
            (
                "u-\u{85}1",
                "`id` `u-\\u{85}1` contains the invisible or control character U+0085 (ids must be written as they are meant)",
            ),
            (
                "u-\u{202e}1",
                "`id` `u-\\u{202e}1` contains the invisible or control character U+202E (ids must be written as they are meant)",
            ),
            (
                "\u{feff}u-1",
                "`id` `\\u{feff}u-1` contains the invisible or control character U+FEFF (ids must be written as they are meant)",
            ),
            (
                "u\u{200b}-1",
                "`id` `u\\u{200b}-1` contains the invisible or control character U+200B (ids must be written as they are meant)",
            ),
        ] {
            let record = serde_json::json!({"id": id, "kind": "person", "attributes": {"status": "active"}});
            assert_eq!(read(record).unwrap_err(), error, "{id:?}");
        }
        let owned =
            |owner: &str| serde_json::json!({"id": "svc", "kind": "service_account", "owner": owner, "attributes": {"status": "active"}});
        assert_eq!(
            read(owned("u-1 ")).unwrap_err(),
            "`owner` `u-1 ` has leading or trailing whitespace (ids are never trimmed: remove it)"
        );
        assert_eq!(read(owned("u-1")).unwrap().owner.as_deref(), Some("u-1"));
        let assigned = |role: &str| {
            serde_json::json!({"id": "u-1", "kind": "person", "attributes": {"status": "active"},
                "assignments": [{"role": role, "starts": "2026-01-01"}]})
        };
        assert_eq!(
            read(assigned("oncall\n")).unwrap_err(),
            "assignment 1: `role` `oncall\\u{a}` contains the invisible or control character U+000A (ids must be written as they are meant)"
        );
        assert_eq!(read(assigned("oncall")).unwrap().assignments[0].role, "oncall");
        let kind = serde_json::json!({"id": "u-1", "kind": "person ", "attributes": {"status": "active"}});
        assert_eq!(
            read(kind).unwrap_err(),
            "unknown kind `person ` (kinds are never trimmed: remove the whitespace)"
        );
    }

    #[test]
    fn attribute_text_is_trimmed_and_blank_text_is_absent() {
        let record = serde_json::json!({"id": "u-1", "kind": "person", "attributes": {
            "status": " active\t", "department": "Engineering ", "tags": [" a ", "", "  ", "b"], "end_date": " 2026-12-31 "}});
        let state = read(record).unwrap();
        assert_eq!(*state.attributes.get("status").unwrap(), AttrValue::str("active"));
        assert_eq!(*state.attributes.get("department").unwrap(), AttrValue::Str("Engineering".into()));
        assert_eq!(*state.attributes.get("tags").unwrap(), AttrValue::set(["a", "b"]));
        assert_eq!(
            *state.attributes.get("end_date").unwrap(),
            AttrValue::Date(Instant::parse("2026-12-31").unwrap())
        );
        let blank = serde_json::json!({"id": "u-1", "kind": "person", "attributes": {"status": "active", "department": "  "}});
        assert!(!read(blank).unwrap().attributes.contains_key("department"));
        let missing = serde_json::json!({"id": "u-1", "kind": "person", "attributes": {"status": " "}});
        assert_eq!(read(missing).unwrap_err(), "required attribute `status` is missing");
    }

    #[test]
    fn control_characters_inside_attribute_text_make_the_record_invalid() {
        for (attributes, error) in [
            (
                serde_json::json!({"status": "active", "department": "Engi\u{7}neering"}),
                "attribute `department` contains the invisible or control character U+0007: `Engi\\u{7}neering`",
            ),
            (
                serde_json::json!({"status": "active", "department": "Research\nand Development"}),
                "attribute `department` contains the invisible or control character U+000A: `Research\\u{a}and Development`",
            ),
            (
                serde_json::json!({"status": "act\u{200d}ive"}),
                "attribute `status` contains the invisible or control character U+200D: `act\\u{200d}ive`",
            ),
            (
                serde_json::json!({"status": "active", "tags": ["ok", "\u{202e}x"]}),
                "attribute `tags` contains the invisible or control character U+202E: `\\u{202e}x`",
            ),
        ] {
            let record = serde_json::json!({"id": "u-1", "kind": "person", "attributes": attributes});
            assert_eq!(read(record).unwrap_err(), error);
        }
        let ticket = serde_json::json!({"id": "u-1", "kind": "person", "attributes": {"status": "active"},
            "assignments": [{"role": "oncall", "starts": "2026-01-01", "ticket": "CHG-1\u{1b}]0;x\u{7}"}]});
        assert_eq!(
            read(ticket).unwrap_err(),
            "assignment 1: `ticket` contains the invisible or control character U+001B: `CHG-1\\u{1b}]0;x\\u{7}`"
        );
    }

    #[test]
    fn records_are_compact() {
        // What a feed of a million people costs per attribute: a name number and a 24-byte value.
        assert_eq!(std::mem::size_of::<AttrValue>(), 24);
        assert_eq!(std::mem::size_of::<Attributes>(), 24);
        assert_eq!(std::mem::size_of::<(u32, AttrValue)>(), 32);
        let mut pool = StringPool::default();
        let a = pool.share("Engineering");
        let b = pool.share("Engineering");
        assert!(Arc::ptr_eq(&a, &b));
        let attributes: Attributes = [("b", AttrValue::Int(1)), ("a", AttrValue::Int(2)), ("b", AttrValue::Int(3))]
            .into_iter()
            .collect();
        assert_eq!(
            attributes.iter().collect::<Vec<_>>(),
            [("a", &AttrValue::Int(2)), ("b", &AttrValue::Int(3))]
        );
        assert!(AttrValue::set(["b", "a", "b"]).set_contains("a") && !AttrValue::set(["b"]).set_contains("a"));
    }

    #[test]
    fn shown_escapes_and_bounds_what_messages_quote() {
        assert_eq!(shown("a\u{1b}b"), "a\\u{1b}b");
        assert_eq!(shown(&"x".repeat(100)), format!("{}…", "x".repeat(80)));
    }
}
