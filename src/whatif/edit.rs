//! HR changes to preview: a mover's new department (`--set`), a leaver's
//! status or removal (`--remove`), a joiner's record (`--add`), a stream of
//! partial records (`--events`), an NHI given another owner
//! (`--set svc.owner=u-2`). Each edit is applied to a copy of the
//! population; the owned identities are reached by [`super::scope`].
//!
//! Values are typed by the identity schema and every edited record is
//! validated as a feed record is ([`IdentityState::from_json`]), so a wrong
//! value is an error naming the edit (`--set `u-1.status=actve``,
//! `events.jsonl:3`) — never a record that silently means something else.
//! It never reads files: the command hands it their text.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::diag::did_you_mean;
use crate::io::identities::InvalidRecord;
use crate::model::AttrType;
use crate::population::Population;
use crate::project::Project;
use crate::state::{shown, IdentityState};

/// One change to the population.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// `ID.attr=value`: one attribute of one identity (or its `owner` or
    /// `kind`); an empty value removes it.
    Set {
        /// The identity.
        id: String,
        /// The attribute, `owner` or `kind`.
        attr: String,
        /// The value as written.
        value: String,
    },
    /// A partial record: its `attributes` merged into the identity's (`null`
    /// removes one), its `kind`, `owner` and `assignments` replacing them; for
    /// an identity not in the population, a joiner's whole record.
    Event {
        /// The record.
        record: Value,
        /// Where it was read (`events.jsonl:3`).
        source: String,
    },
    /// A joiner: a whole record for an identity not in the population.
    Add {
        /// The record.
        record: IdentityState,
        /// Where it was read.
        source: String,
    },
    /// A leaver removed from the population.
    Remove {
        /// The identity.
        id: String,
    },
}

/// An edit that cannot be applied: where it was given, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct EditError {
    /// The edit as given (`--set `u-1.status=actve``) or where it was read (`events.jsonl:3`).
    pub location: String,
    /// What is wrong, one sentence.
    pub message: String,
}

impl Edit {
    /// Reads `ID.attr=value` (the id may hold dots: the attribute is after the last one).
    pub fn set(given: &str) -> Result<Edit, EditError> {
        let error = |message: String| EditError {
            location: format!("--set `{}`", shown(given)),
            message,
        };
        let Some((target, value)) = given.split_once('=') else {
            return Err(error("expected `ID.attr=value`, with an `=`".into()));
        };
        let Some((id, attr)) = target.rsplit_once('.') else {
            return Err(error(
                "expected `ID.attr=value`: the attribute follows the identity id after a `.`".into(),
            ));
        };
        if id.is_empty() || attr.is_empty() {
            return Err(error(
                "expected `ID.attr=value`: both the identity and the attribute are needed".into(),
            ));
        }
        Ok(Edit::Set {
            id: id.to_string(),
            attr: attr.to_string(),
            value: value.to_string(),
        })
    }

    fn location(&self) -> String {
        match self {
            Edit::Set { id, attr, value } => format!("--set `{}`", shown(&format!("{id}.{attr}={value}"))),
            Edit::Event { source, .. } | Edit::Add { source, .. } => source.clone(),
            Edit::Remove { id } => format!("--remove `{}`", shown(id)),
        }
    }
}

/// Reads `--events`: JSON Lines of partial records, applied in order (blank lines skipped).
pub fn parse_events(file: &str, text: &str) -> Result<Vec<Edit>, EditError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let source = format!("{}:{}", shown(file), i + 1);
        let record: Value = serde_json::from_str(line).map_err(|e| EditError {
            location: source.clone(),
            message: format!("not a JSON object: {e}"),
        })?;
        if !record.is_object() {
            return Err(EditError {
                location: source,
                message: "an event is a JSON object: a partial identity record with its `id`".into(),
            });
        }
        out.push(Edit::Event { record, source });
    }
    Ok(out)
}

/// The population after the edits, applied in order. Every edited record is
/// validated against the project's identity schema.
pub fn apply(project: &Project, population: &Population, edits: &[Edit]) -> Result<Population, EditError> {
    let feed = &population.feed;
    let file = shown(&feed.file);
    let mut identities: Vec<Option<IdentityState>> = feed.identities.iter().cloned().map(Some).collect();
    let mut index: HashMap<String, usize> = identities.iter().flatten().enumerate().map(|(i, s)| (s.id.clone(), i)).collect();
    let mut invalid = feed.invalid.clone();
    for edit in edits {
        let error = |message: String| EditError {
            location: edit.location(),
            message,
        };
        let invalid_record = |e: crate::InvalidValue| error(e.into());
        let missing = |id: &str, index: &HashMap<String, usize>, invalid: &[InvalidRecord]| error(not_found(id, &file, index, invalid));
        match edit {
            Edit::Set { id, attr, value } => {
                let Some(&at) = index.get(id) else {
                    return Err(missing(id, &index, &invalid));
                };
                let Some(current) = identities[at].as_ref() else {
                    return Err(missing(id, &index, &invalid));
                };
                let mut record = current.to_json();
                set_field(project, &mut record, attr, value).map_err(error)?;
                identities[at] = Some(IdentityState::from_json(&record, &project.defs).map_err(invalid_record)?);
            }
            Edit::Event { record: event, .. } => {
                let Some(id) = event.get("id").and_then(Value::as_str) else {
                    return Err(error("the event has no `id`".into()));
                };
                let state = match index.get(id).and_then(|at| identities[*at].as_ref()) {
                    Some(current) => {
                        let mut record = current.to_json();
                        merge(&mut record, event).map_err(error)?;
                        IdentityState::from_json(&record, &project.defs)
                    }
                    None if invalid.iter().any(|r| r.id.as_deref() == Some(id)) => return Err(missing(id, &index, &invalid)),
                    // A joiner: the event is the whole record.
                    None => IdentityState::from_json(event, &project.defs),
                }
                .map_err(invalid_record)?;
                let id = state.id.clone();
                match index.get(&id) {
                    Some(at) => identities[*at] = Some(state),
                    None => {
                        index.insert(id, identities.len());
                        identities.push(Some(state));
                    }
                }
            }
            Edit::Add { record, .. } => {
                if index.contains_key(&record.id) || invalid.iter().any(|r| r.id.as_deref() == Some(&record.id)) {
                    return Err(error(format!(
                        "`{}` is already in `{file}`: change it with `--set` or `--events`",
                        shown(&record.id)
                    )));
                }
                index.insert(record.id.clone(), identities.len());
                identities.push(Some(record.clone()));
            }
            Edit::Remove { id } => {
                if let Some(at) = index.remove(id) {
                    identities[at] = None;
                } else if invalid.iter().any(|r| r.id.as_deref() == Some(id)) {
                    invalid.retain(|r| r.id.as_deref() != Some(id));
                } else {
                    return Err(missing(id, &index, &invalid));
                }
            }
        }
    }
    Ok(Population::new(feed.edited(identities.into_iter().flatten().collect(), invalid)))
}

/// Why `id` cannot be edited: its record is invalid, or there is none.
fn not_found(id: &str, file: &str, index: &HashMap<String, usize>, invalid: &[InvalidRecord]) -> String {
    if invalid.iter().any(|r| r.id.as_deref() == Some(id)) {
        return format!(
            "the record of `{}` in `{file}` is invalid: fix it before previewing a change to it",
            shown(id)
        );
    }
    let help = did_you_mean(id, index.keys().map(String::as_str))
        .map(|h| format!(" ({h})"))
        .unwrap_or_default();
    format!("no identity `{}` in `{file}`{help}", shown(id))
}

/// Sets `attr` of a record (JSON shape of spec §4) to `value`, typed by the schema; empty removes it.
fn set_field(project: &Project, record: &mut Value, attr: &str, value: &str) -> Result<(), String> {
    let Some(obj) = record.as_object_mut() else {
        return Err("the record is not a JSON object".into());
    };
    match attr {
        "id" => return Err("an identity's id cannot be changed: `--remove` it and `--add` the new record".into()),
        "assignments" => return Err("assignments cannot be set on the command line: use `--events`".into()),
        "owner" | "kind" => {
            if value.is_empty() {
                obj.remove(attr);
            } else {
                obj.insert(attr.to_string(), Value::from(value));
            }
            return Ok(());
        }
        _ => {}
    }
    let typed = if value.is_empty() {
        Value::Null
    } else {
        match project.defs.identity.attributes.get(attr).map(|a| &a.ty) {
            Some(AttrType::Int) => Value::from(
                value
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| format!("attribute `{attr}` is an int, and `{}` is not a whole number", shown(value)))?,
            ),
            Some(AttrType::Bool) => match value.trim().to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => {
                    return Err(format!(
                        "attribute `{attr}` is a bool: write `true` or `false`, not `{}`",
                        shown(value)
                    ))
                }
            },
            Some(AttrType::Set) => Value::Array(value.split(',').map(|m| Value::from(m.trim())).collect()),
            // Strings, enums and dates (and unknown names, which validation names with a suggestion).
            _ => Value::from(value),
        }
    };
    let attributes = obj.entry("attributes").or_insert_with(|| Value::Object(Map::new()));
    match attributes.as_object_mut() {
        Some(a) => {
            a.insert(attr.to_string(), typed);
            Ok(())
        }
        None => Err("the record's `attributes` is not an object".into()),
    }
}

/// Merges a partial record into a whole one.
fn merge(record: &mut Value, event: &Value) -> Result<(), String> {
    let (Some(obj), Some(event)) = (record.as_object_mut(), event.as_object()) else {
        return Err("an event is a JSON object".into());
    };
    for (key, value) in event {
        match key.as_str() {
            "id" => {}
            "attributes" => {
                let Some(changes) = value.as_object() else {
                    return Err("`attributes` is not an object".into());
                };
                let attributes = obj.entry("attributes").or_insert_with(|| Value::Object(Map::new()));
                let Some(attributes) = attributes.as_object_mut() else {
                    return Err("the record's `attributes` is not an object".into());
                };
                for (name, v) in changes {
                    attributes.insert(name.clone(), v.clone());
                }
            }
            "owner" if value.is_null() => {
                obj.remove("owner");
            }
            // `kind`, `owner`, `assignments` replace; any other key is named by validation.
            _ => {
                obj.insert(key.clone(), value.clone());
            }
        }
    }
    Ok(())
}
