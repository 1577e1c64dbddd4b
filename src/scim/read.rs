//! Reading an application's live state from a SCIM service provider:
//! every `/Users` and `/Groups` resource, paged with `startIndex`/`count`
//! until `totalResults`, members resolved to identity ids.
//!
//! A listing that ends before `totalResults`, a member that is not a known
//! user, or a user without an identity id is an error: a partial read would
//! make people look absent and be revoked.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::client::{error_detail, ScimClient};
use super::ScimError;
use crate::io::live::{LiveFile, LiveFileBuilder};

/// Resources asked for per page.
pub const PAGE_SIZE: usize = 200;

/// The most resources of one type read (a bound on memory and time).
pub const MAX_RESOURCES: usize = 2_000_000;

/// A SCIM user, as far as entitle cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimUser {
    /// The service provider's `id`.
    pub scim_id: String,
    /// The identity id: `externalId`, else `userName`.
    pub identity: String,
}

/// A SCIM group with its members' identity ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimGroup {
    /// The service provider's `id`.
    pub scim_id: String,
    /// `displayName`: the entitlement is `APP:displayName`.
    pub display_name: String,
    /// Members, as identity ids, sorted.
    pub members: BTreeSet<String>,
}

/// An application's live state read from SCIM.
#[derive(Debug, Clone)]
pub struct ScimSnapshot {
    /// The source named in plan inputs: `scim:<base>/Groups?app=<app>`.
    pub source: String,
    /// The application.
    pub app: String,
    /// Users by SCIM id.
    pub users: BTreeMap<String, ScimUser>,
    /// Groups by display name.
    pub groups: BTreeMap<String, ScimGroup>,
    /// SCIM user ids by identity id.
    by_identity: BTreeMap<String, String>,
}

impl ScimSnapshot {
    /// The grants as canonical JSON Lines: `{"identity": ..., "entitlement": ...}` sorted by
    /// identity then entitlement, one per line. Its SHA-256 is the live hash of a plan made
    /// with `--live-scim`, and what `apply` compares.
    pub fn canonical_jsonl(&self) -> String {
        let mut grants: Vec<(&str, String)> = Vec::new();
        for group in self.groups.values() {
            for member in &group.members {
                grants.push((member, format!("{}:{}", self.app, group.display_name)));
            }
        }
        grants.sort();
        let mut out = String::new();
        for (identity, entitlement) in grants {
            out.push_str(&serde_json::json!({"identity": identity, "entitlement": entitlement}).to_string());
            out.push('\n');
        }
        out
    }

    /// The SHA-256 of [`ScimSnapshot::canonical_jsonl`].
    pub fn sha256(&self) -> String {
        super::sha256_hex(self.canonical_jsonl().as_bytes())
    }

    /// The live state as a [`LiveFile`] named [`ScimSnapshot::source`] with [`ScimSnapshot::sha256`].
    pub fn to_live_file(&self) -> Result<LiveFile, ScimError> {
        let mut builder = LiveFileBuilder::new(self.source.clone());
        for (line, text) in self.canonical_jsonl().lines().enumerate() {
            let grant: Value = serde_json::from_str(text).map_err(|e| ScimError::Protocol(e.to_string()))?;
            let (Some(identity), Some(entitlement)) = (grant["identity"].as_str(), grant["entitlement"].as_str()) else {
                continue;
            };
            builder
                .add(identity, entitlement, u32::try_from(line + 1).unwrap_or(u32::MAX))
                .map_err(|e| ScimError::Protocol(format!("{}: {e}", self.source)))?;
        }
        Ok(builder.finish(self.sha256()))
    }

    /// The user of identity `id`.
    pub fn user_of(&self, id: &str) -> Option<&ScimUser> {
        self.by_identity.get(id).and_then(|scim_id| self.users.get(scim_id))
    }
}

/// The name a SCIM source has in plan inputs.
pub fn source_name(client: &ScimClient, app: &str) -> String {
    format!("scim:{}/Groups?app={app}", client.base())
}

/// Reads every user and group of the service provider as `app`'s live state.
pub fn read_snapshot(client: &ScimClient, app: &str) -> Result<ScimSnapshot, ScimError> {
    crate::state::check_id("the application", app).map_err(|e| ScimError::Url(e.to_string()))?;
    let mut users = BTreeMap::new();
    let mut by_identity: BTreeMap<String, String> = BTreeMap::new();
    for resource in list(client, "/Users")? {
        let scim_id = string(&resource, "id").ok_or_else(|| ScimError::Protocol("a user has no `id`".into()))?;
        let identity = string(&resource, "externalId")
            .or_else(|| string(&resource, "userName"))
            .ok_or_else(|| ScimError::Protocol(format!("user `{}` has neither `externalId` nor `userName`", shown(&scim_id))))?;
        if let Some(other) = by_identity.insert(identity.clone(), scim_id.clone()) {
            return Err(ScimError::Protocol(format!(
                "users `{}` and `{}` are both identity `{}`",
                shown(&other),
                shown(&scim_id),
                shown(&identity)
            )));
        }
        users.insert(scim_id.clone(), ScimUser { scim_id, identity });
    }
    let mut groups = BTreeMap::new();
    for resource in list(client, "/Groups")? {
        let scim_id = string(&resource, "id").ok_or_else(|| ScimError::Protocol("a group has no `id`".into()))?;
        let display_name = string(&resource, "displayName")
            .ok_or_else(|| ScimError::Protocol(format!("group `{}` has no `displayName`", shown(&scim_id))))?;
        let mut members = BTreeSet::new();
        for member in resource.get("members").and_then(Value::as_array).into_iter().flatten() {
            let value = string(member, "value")
                .ok_or_else(|| ScimError::Protocol(format!("a member of group `{}` has no `value`", shown(&display_name))))?;
            let kind = string(member, "type");
            let Some(user) = users.get(&value).filter(|_| kind.as_deref().is_none_or(|k| k == "User")) else {
                return Err(ScimError::Protocol(format!(
                    "group `{}` has member `{}`, which is not a user of the service provider (nested groups are not read)",
                    shown(&display_name),
                    shown(&value)
                )));
            };
            members.insert(user.identity.clone());
        }
        let group = ScimGroup {
            scim_id,
            display_name: display_name.clone(),
            members,
        };
        if groups.insert(display_name.clone(), group).is_some() {
            return Err(ScimError::Protocol(format!("two groups are named `{}`", shown(&display_name))));
        }
    }
    Ok(ScimSnapshot {
        source: source_name(client, app),
        app: app.to_string(),
        users,
        groups,
        by_identity,
    })
}

/// Every resource of a listing endpoint, page by page until `totalResults`.
fn list(client: &ScimClient, endpoint: &str) -> Result<Vec<Value>, ScimError> {
    let mut resources: Vec<Value> = Vec::new();
    loop {
        let start = resources.len() + 1;
        let path = format!("{endpoint}?startIndex={start}&count={PAGE_SIZE}");
        let reply = client.get(&path)?;
        if reply.status != 200 {
            return Err(ScimError::Status {
                request: format!("GET {path}"),
                detail: error_detail(&reply),
            });
        }
        let total = reply
            .body
            .get("totalResults")
            .and_then(Value::as_u64)
            .ok_or_else(|| ScimError::Protocol(format!("`GET {path}` answered without a whole-number `totalResults`")))?;
        let total = usize::try_from(total).unwrap_or(usize::MAX);
        if total > MAX_RESOURCES {
            return Err(ScimError::Protocol(format!(
                "`{endpoint}` lists {total} resources, more than the {MAX_RESOURCES} entitle reads"
            )));
        }
        let page = match reply.body.get("Resources") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(page)) => page.clone(),
            Some(_) => {
                return Err(ScimError::Protocol(format!(
                    "`GET {path}` answered with `Resources` that is not a list"
                )))
            }
        };
        if page.is_empty() && resources.len() < total {
            return Err(ScimError::Protocol(format!(
                "`{endpoint}` stopped after {} of {total} resources: the listing is incomplete",
                resources.len()
            )));
        }
        resources.extend(page);
        if resources.len() >= total {
            if resources.len() > total {
                return Err(ScimError::Protocol(format!(
                    "`{endpoint}` returned {} resources for a `totalResults` of {total}",
                    resources.len()
                )));
            }
            return Ok(resources);
        }
    }
}

/// A string member of a SCIM object (attribute names ignore letter case, RFC 7643 §2.1).
fn string(object: &Value, key: &str) -> Option<String> {
    let object = object.as_object()?;
    object
        .get(key)
        .or_else(|| object.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn shown(text: &str) -> String {
    crate::state::shown(text)
}
