//! Identity states: one person's or non-human identity's record at the
//! instant of evaluation, checked against the declared identity schema.
//!
//! Invariant: an [`IdentityState`] that exists has passed validation; a record
//! that fails is reported (never half-used), so a bad record cannot cause a
//! revocation.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::diag::did_you_mean;
use crate::model::{AttrType, Definitions};
use crate::time::Instant;

/// A typed attribute value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrValue {
    /// A string or enum value.
    Str(String),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A date or instant.
    Date(Instant),
    /// A set of strings.
    Set(BTreeSet<String>),
}

impl AttrValue {
    /// The value as JSON, as a record would carry it.
    pub fn to_json(&self) -> Value {
        match self {
            AttrValue::Str(s) => Value::String(s.clone()),
            AttrValue::Int(n) => Value::from(*n),
            AttrValue::Bool(b) => Value::Bool(*b),
            AttrValue::Date(t) => Value::String(t.to_cedar()),
            AttrValue::Set(items) => Value::Array(items.iter().cloned().map(Value::String).collect()),
        }
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
    pub kind: String,
    /// The owner's identity id (non-human identities).
    pub owner: Option<String>,
    /// Declared attributes it carries.
    pub attributes: BTreeMap<String, AttrValue>,
    /// Role assignments.
    pub assignments: Vec<Assignment>,
}

/// Most attributes, set members or assignments one record may carry.
pub const MAX_RECORD_ITEMS: usize = 10_000;

impl IdentityState {
    /// Reads and validates a record in the JSON shape of spec §4. The error is
    /// one sentence naming the offending field.
    pub fn from_json(record: &Value, defs: &Definitions) -> Result<IdentityState, String> {
        let obj = record.as_object().ok_or("record is not a JSON object")?;
        for key in obj.keys() {
            if !["id", "kind", "owner", "attributes", "assignments"].contains(&key.as_str()) {
                let help = did_you_mean(key, ["id", "kind", "owner", "attributes", "assignments"])
                    .map(|h| format!(" ({h})"))
                    .unwrap_or_default();
                return Err(format!("unknown field `{key}`{help}"));
            }
        }
        let id = match obj.get("id") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(Value::String(_)) => return Err("`id` is empty".into()),
            Some(_) => return Err("`id` is not a string".into()),
            None => return Err("record has no `id`".into()),
        };
        let kind = match obj.get("kind") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err("`kind` is not a string".into()),
            None => return Err("record has no `kind`".into()),
        };
        if !defs.identity.kinds.contains(&kind) {
            let help = did_you_mean(&kind, defs.identity.kinds.iter().map(String::as_str))
                .map(|h| format!(" ({h})"))
                .unwrap_or_default();
            return Err(format!("unknown kind `{kind}`{help}"));
        }
        let owner = match obj.get("owner") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if *s == id => {
                return Err(format!("`{id}` names itself as its owner; an owner must be another identity"))
            }
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            Some(_) => return Err("`owner` is not an identity id".into()),
        };
        let mut attributes = BTreeMap::new();
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
                        return Err(format!("unknown attribute `{name}`{help}"));
                    };
                    if !def.applies_to(&kind) {
                        return Err(format!("attribute `{name}` does not apply to kind `{kind}`"));
                    }
                    attributes.insert(name.clone(), typed_value(name, &def.ty, value)?);
                }
            }
            Some(_) => return Err("`attributes` is not an object".into()),
        }
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
            "attributes": self.attributes.iter().map(|(k, v)| (k.clone(), v.to_json())).collect::<serde_json::Map<_, _>>(),
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

fn typed_value(name: &str, ty: &AttrType, value: &Value) -> Result<AttrValue, String> {
    let wrong = |expected: &str| format!("attribute `{name}` should be {expected}, found `{value}`");
    Ok(match ty {
        AttrType::String => AttrValue::Str(value.as_str().ok_or_else(|| wrong("a string"))?.to_string()),
        AttrType::Enum(values) => {
            let s = value.as_str().ok_or_else(|| wrong("a string"))?;
            if !values.iter().any(|v| v == s) {
                let help = did_you_mean(s, values.iter().map(String::as_str))
                    .map(|h| format!(" ({h})"))
                    .unwrap_or_default();
                return Err(format!("unknown value `{s}` for `{name}`{help}"));
            }
            AttrValue::Str(s.to_string())
        }
        AttrType::Int => AttrValue::Int(value.as_i64().ok_or_else(|| wrong("a whole number"))?),
        AttrType::Bool => AttrValue::Bool(value.as_bool().ok_or_else(|| wrong("true or false"))?),
        AttrType::Date => {
            let s = value.as_str().ok_or_else(|| wrong("a date"))?;
            AttrValue::Date(Instant::parse(s).map_err(|e| format!("attribute `{name}`: {e}"))?)
        }
        AttrType::Set => {
            let items = value.as_array().ok_or_else(|| wrong("a list of strings"))?;
            if items.len() > MAX_RECORD_ITEMS {
                return Err(format!("attribute `{name}` has more than {MAX_RECORD_ITEMS} members"));
            }
            let mut set = BTreeSet::new();
            for item in items {
                set.insert(item.as_str().ok_or_else(|| wrong("a list of strings"))?.to_string());
            }
            AttrValue::Set(set)
        }
    })
}

fn read_assignment(item: &Value, defs: &Definitions) -> Result<Assignment, String> {
    let obj = item.as_object().ok_or("not an object")?;
    const KEYS: [&str; 5] = ["role", "starts", "expires", "approved_by", "ticket"];
    for key in obj.keys() {
        if !KEYS.contains(&key.as_str()) {
            let help = did_you_mean(key, KEYS).map(|h| format!(" ({h})")).unwrap_or_default();
            return Err(format!("unknown field `{key}`{help}"));
        }
    }
    let role = obj.get("role").and_then(Value::as_str).ok_or("no `role`")?.to_string();
    match defs.roles.get(&role) {
        None => {
            let help = did_you_mean(&role, defs.roles.keys().map(String::as_str))
                .map(|h| format!(" ({h})"))
                .unwrap_or_default();
            return Err(format!("unknown role `{role}`{help}"));
        }
        Some(r) if !r.assignable => return Err(format!("role `{role}` is not assignable")),
        Some(_) => {}
    }
    let instant = |key: &str| -> Result<Option<Instant>, String> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Instant::parse(s).map(Some).map_err(|e| format!("`{key}`: {e}")),
            Some(other) => Err(format!("`{key}` should be an RFC 3339 instant, found `{other}`")),
        }
    };
    let starts = instant("starts")?.ok_or("no `starts`")?;
    let expires = instant("expires")?;
    if expires.is_some_and(|e| e <= starts) {
        return Err("`expires` is not after `starts`".into());
    }
    let text = |key: &str| obj.get(key).and_then(Value::as_str).map(str::to_string);
    Ok(Assignment {
        role,
        starts,
        expires,
        approved_by: text("approved_by"),
        ticket: text("ticket"),
    })
}
