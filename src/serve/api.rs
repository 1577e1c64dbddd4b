//! The endpoints' request and response bodies (docs/api.md): JSON in, the
//! library's answers out, in the shapes the CLI prints (spec §7).
//!
//! Each function reads one request body and calls the library; it never
//! computes a verdict itself. A request that cannot be used is an
//! [`ApiError`] with a stable code and a one-sentence message.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::metrics::Metrics;
use super::Loaded;
use crate::eval::explain::{explain as explain_one, render, Explanation};
use crate::eval::{DesiredSet, Evaluator};
use crate::io::identities::{parse_identities, IdentityFormat};
use crate::io::live::LiveFileBuilder;
use crate::plan::{GuardLimits, Limit, Plan, PlanOptions, Planner};
use crate::population::Population;
use crate::state::{shown, IdentityState};
use crate::time::Instant;
use crate::whatif::{compare, edit, scope, State, WhatIf};
use crate::who::{who as who_one, Target, Who, WhoError};
use percent_encoding::percent_decode_str;

/// A request that cannot be answered: the HTTP status, a stable code, one sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// The stable code (`invalid-request`, `unknown-entitlement`, ...).
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError {
        status: 422,
        code: "invalid-request",
        message: message.into(),
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError {
        status: 500,
        code: "evaluation-failed",
        message: e.to_string(),
    }
}

/// The members a request body may have; any other is an error (a misspelt option must not be ignored).
fn check_members(request: &Value, allowed: &[&str]) -> Result<(), ApiError> {
    for key in request.as_object().into_iter().flat_map(Map::keys) {
        if !allowed.contains(&key.as_str()) {
            let help = crate::diag::did_you_mean(key, allowed.iter().copied())
                .map(|h| format!(" ({h})"))
                .unwrap_or_default();
            return Err(invalid(format!("unknown member `{}`{help}", shown(key))));
        }
    }
    Ok(())
}

/// `as_of` (RFC 3339 or a date), defaulting to now.
fn instant(request: &Value, key: &str) -> Result<Option<Instant>, ApiError> {
    match request.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Instant::parse(text).map(Some).map_err(|e| invalid(format!("`{key}`: {e}"))),
        Some(_) => Err(invalid(format!("`{key}` must be a string (RFC 3339, or a date)"))),
    }
}

fn records<'a>(request: &'a Value, key: &str) -> Result<&'a [Value], ApiError> {
    match request.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(invalid(format!("`{key}` must be a list"))),
    }
}

fn flag(request: &Value, key: &str) -> Result<bool, ApiError> {
    match request.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(invalid(format!("`{key}` must be true or false"))),
    }
}

/// Records read one by one against the identity schema: valid ones, and each invalid one's error.
fn read_records(loaded: &Loaded, items: &[Value], what: &str) -> Vec<Result<IdentityState, (Option<String>, String)>> {
    items
        .iter()
        .enumerate()
        .map(|(i, record)| {
            IdentityState::from_json(record, &loaded.project.defs).map_err(|e| {
                let id = record.get("id").and_then(Value::as_str).map(str::to_string);
                (id, format!("{what}[{i}]: {e}"))
            })
        })
        .collect()
}

/// The identities of a request and the owners it gives, by id.
struct Subjects {
    identities: Vec<Result<IdentityState, (Option<String>, String)>>,
    owners: HashMap<String, IdentityState>,
}

impl Subjects {
    fn read(loaded: &Loaded, request: &Value) -> Result<Subjects, ApiError> {
        let listed = records(request, "identities")?;
        let items: &[Value] = match request.get("identity") {
            None | Some(Value::Null) => listed,
            Some(one) if listed.is_empty() => std::slice::from_ref(one),
            Some(_) => return Err(invalid("give `identity` or `identities`, not both")),
        };
        if items.is_empty() {
            return Err(invalid("no identity: give `identity` (one record) or `identities` (a list)"));
        }
        let identities = read_records(loaded, items, "identities");
        let mut owners: HashMap<String, IdentityState> = HashMap::new();
        for owner in read_records(loaded, records(request, "owners")?, "owners") {
            let owner = owner.map_err(|(_, e)| invalid(e))?;
            owners.insert(owner.id.clone(), owner);
        }
        // An identity of the batch is the owner of another when the owners list does not say otherwise.
        for identity in identities.iter().flatten() {
            owners.entry(identity.id.clone()).or_insert_with(|| identity.clone());
        }
        Ok(Subjects { identities, owners })
    }

    fn owner_of(&self, identity: &IdentityState) -> (Option<&IdentityState>, Option<String>) {
        match identity.owner.as_deref() {
            None => (None, None),
            Some(id) => match self.owners.get(id) {
                Some(owner) => (Some(owner), None),
                None => (
                    None,
                    Some(format!(
                        "owner `{}` was not given in `owners`; owner conditions are false",
                        shown(id)
                    )),
                ),
            },
        }
    }
}

/// The answer of `POST /v1/desired`, serialised straight to bytes (no JSON tree in between).
#[derive(Debug, Serialize)]
pub struct DesiredAnswer {
    as_of: String,
    results: Vec<DesiredResult>,
}

/// One identity's result: a line of `entitle eval --format json`.
#[derive(Debug)]
enum DesiredResult {
    /// A desired set, with or without its justifications.
    Set { set: DesiredSet, explain: bool },
    /// An invalid record, or a set with a warning (rare: built as a JSON tree).
    Tree(Value),
}

impl Serialize for DesiredResult {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            DesiredResult::Set { set, explain: true } => set.serialize(s),
            DesiredResult::Set { set, explain: false } => set.summary().serialize(s),
            DesiredResult::Tree(value) => value.serialize(s),
        }
    }
}

/// Every role and entitlement name of a catalog as a JSON string (quoted and escaped), by id:
/// written once when the definitions load, copied into each `desired` answer (escaping the
/// same names again for every request was a tenth of the service's time).
#[derive(Debug, Default)]
pub struct JsonNames {
    roles: Vec<Box<[u8]>>,
    entitlements: Vec<Box<[u8]>>,
}

impl JsonNames {
    /// The names of `catalog`.
    pub fn new(catalog: &crate::catalog::Catalog) -> JsonNames {
        fn quoted<'a>(names: impl Iterator<Item = &'a str>) -> Vec<Box<[u8]>> {
            names
                .map(|n| serde_json::to_vec(n).unwrap_or_default().into_boxed_slice())
                .collect()
        }
        JsonNames {
            roles: quoted(catalog.roles.iter().map(|(_, n)| n)),
            entitlements: quoted(catalog.entitlements.iter().map(|(_, n)| n)),
        }
    }

    fn list(out: &mut Vec<u8>, names: &[Box<[u8]>], ids: impl Iterator<Item = usize>) -> Option<()> {
        out.push(b'[');
        for (i, id) in ids.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(names.get(id)?);
        }
        out.push(b']');
        Some(())
    }
}

impl DesiredAnswer {
    /// The answer's JSON, as its `Serialize` writes it, with the summaries' names copied from
    /// `names` (the catalog's the sets were computed with).
    pub fn write(&self, names: &JsonNames, out: &mut Vec<u8>) -> serde_json::Result<()> {
        use crate::catalog::DenseId;
        out.extend_from_slice(b"{\"as_of\":");
        serde_json::to_writer(&mut *out, &self.as_of)?;
        out.extend_from_slice(b",\"results\":[");
        for (i, result) in self.results.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let start = out.len();
            let written = match result {
                DesiredResult::Set { set, explain: false } => {
                    out.extend_from_slice(b"{\"identity\":");
                    serde_json::to_writer(&mut *out, set.identity())?;
                    out.extend_from_slice(b",\"valid\":true,\"roles\":");
                    JsonNames::list(out, &names.roles, set.role_ids().iter().map(|r| r.index())).and_then(|()| {
                        out.extend_from_slice(b",\"entitlements\":");
                        JsonNames::list(out, &names.entitlements, set.entitlement_ids().iter().map(|e| e.index()))
                    })
                }
                _ => None,
            };
            if written.is_some() {
                out.push(b'}');
            } else {
                // Not a summary, or names from another catalog: the serializer writes it.
                out.truncate(start);
                serde_json::to_writer(&mut *out, result)?;
            }
        }
        out.extend_from_slice(b"]}");
        Ok(())
    }
}

/// `POST /v1/desired`: each identity's desired entitlements and roles (as `eval --format json`).
pub fn desired(loaded: &Loaded, request: &Value, metrics: &Metrics) -> Result<DesiredAnswer, ApiError> {
    check_members(request, &["identity", "identities", "owners", "as_of", "explain"])?;
    let at = instant(request, "as_of")?.unwrap_or_else(Instant::now);
    let explain = flag(request, "explain")?;
    let subjects = Subjects::read(loaded, request)?;
    let mut results = Vec::with_capacity(subjects.identities.len());
    for identity in &subjects.identities {
        results.push(match identity {
            Err((id, error)) => DesiredResult::Tree(json!({"identity": id, "valid": false, "error": error})),
            Ok(identity) => {
                let (owner, warning) = subjects.owner_of(identity);
                let set = loaded.engine.desired(identity, owner, at).map_err(internal)?;
                match warning {
                    None => DesiredResult::Set { set, explain },
                    Some(w) => {
                        let mut v = serde_json::to_value(DesiredResult::Set { set, explain }).map_err(internal)?;
                        v["warning"] = w.into();
                        DesiredResult::Tree(v)
                    }
                }
            }
        });
    }
    metrics.decisions(results.len() as u64);
    Ok(DesiredAnswer {
        as_of: at.to_rfc3339(),
        results,
    })
}

/// `POST /v1/explain`: why one identity holds one entitlement, or why not.
pub fn explain(loaded: &Loaded, request: &Value, metrics: &Metrics) -> Result<Value, ApiError> {
    check_members(request, &["identity", "owners", "entitlement", "as_of"])?;
    let at = instant(request, "as_of")?.unwrap_or_else(Instant::now);
    let Some(entitlement) = request.get("entitlement").and_then(Value::as_str) else {
        return Err(invalid(
            "`entitlement` (a full entitlement id such as `github:org-member`) is required",
        ));
    };
    if !loaded.project.defs.entitlements.contains_key(entitlement) {
        let help = crate::diag::did_you_mean(entitlement, loaded.project.defs.entitlements.keys().map(String::as_str))
            .map(|h| format!(" ({h})"))
            .unwrap_or_default();
        return Err(ApiError {
            status: 422,
            code: "unknown-entitlement",
            message: format!("unknown entitlement `{}`{help}", shown(entitlement)),
        });
    }
    if request.get("identity").is_none_or(Value::is_null) {
        return Err(invalid("`identity` (one identity record) is required"));
    }
    let subjects = Subjects::read(loaded, request)?;
    let identity = match subjects.identities.first() {
        Some(Ok(identity)) => identity,
        Some(Err((_, e))) => return Err(invalid(e.clone())),
        None => return Err(invalid("`identity` is required")),
    };
    let (owner, warning) = subjects.owner_of(identity);
    let explanation = explain_one(&loaded.project, &loaded.engine, identity, owner, at, entitlement).map_err(internal)?;
    metrics.decisions(1);
    let mut out = json!({
        "as_of": at.to_rfc3339(),
        "identity": identity.id,
        "entitlement": entitlement,
        "holds": matches!(explanation, Explanation::Holds(_)),
        "text": render(&identity.id, entitlement, &explanation),
    });
    match &explanation {
        Explanation::Holds(because) => {
            out["verdict"] = "holds".into();
            out["because"] = serde_json::to_value(because).map_err(internal)?;
        }
        Explanation::Forbidden { by } => {
            out["verdict"] = "forbidden".into();
            out["forbidden_by"] = by.iter().map(|(id, source)| json!({"guardrail": id, "source": source})).collect();
        }
        Explanation::NotGranted(misses) => {
            out["verdict"] = "not-granted".into();
            out["roles"] = misses
                .iter()
                .map(|m| json!({"role": m.role, "source": m.source, "reasons": m.reasons}))
                .collect();
        }
        Explanation::NothingGrants => out["verdict"] = "nothing-grants".into(),
        Explanation::ExceptionExpired { exception, source, misses } => {
            out["verdict"] = "exception-expired".into();
            out["exception"] = serde_json::to_value(exception).map_err(internal)?;
            out["exception_source"] = source.as_str().into();
            out["roles"] = misses
                .iter()
                .map(|m| json!({"role": m.role, "source": m.source, "reasons": m.reasons}))
                .collect();
        }
    }
    if let Some(w) = warning {
        out["warning"] = w.into();
    }
    Ok(out)
}

/// The request's identities as a feed, read exactly as `--identities` reads a JSON Lines file
/// (duplicates, invalid records and all).
fn population(loaded: &Loaded, request: &Value) -> Result<Population, ApiError> {
    let mut text = String::new();
    for record in records(request, "identities")? {
        text.push_str(&record.to_string());
        text.push('\n');
    }
    let feed = parse_identities(
        "request.identities",
        text.as_bytes(),
        Some(IdentityFormat::JsonLines),
        &loaded.project.defs,
    )
    .map_err(|e| invalid(e.to_string()))?;
    Ok(Population::new(feed))
}

fn limit(request: &Value, key: &str, default: Limit) -> Result<Limit, ApiError> {
    match request.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::String(text)) => text.parse().map_err(|e| invalid(format!("`{key}`: {e}"))),
        Some(Value::Number(n)) => n.to_string().parse().map_err(|e| invalid(format!("`{key}`: {e}"))),
        Some(_) => Err(invalid(format!("`{key}` must be a number or a string such as `10%`"))),
    }
}

/// `POST /v1/plan`: identities and live grants to a plan (spec §7), with the CLI's guards.
pub fn plan(loaded: &Loaded, request: &Value, metrics: &Metrics) -> Result<Plan, ApiError> {
    use crate::plan::guards::{DEFAULT_MAX_INVALID, DEFAULT_MAX_ORPHANED, DEFAULT_MAX_PRIVILEGED_GRANTS, DEFAULT_MAX_REVOKES};
    check_members(
        request,
        &[
            "identities",
            "live",
            "as_of",
            "max_revokes",
            "max_invalid",
            "max_orphaned",
            "max_privileged_grants",
            "force",
        ],
    )?;
    let at = instant(request, "as_of")?.unwrap_or_else(Instant::now);
    let population = population(loaded, request)?;
    let mut text = String::new();
    let mut builder = LiveFileBuilder::new("request.live");
    for (i, grant) in records(request, "live")?.iter().enumerate() {
        let field = |k: &str| grant.get(k).and_then(Value::as_str);
        let (Some(identity), Some(entitlement)) = (field("identity"), field("entitlement")) else {
            return Err(invalid(format!(
                "live[{i}]: a grant is `{{\"identity\": ..., \"entitlement\": ...}}`"
            )));
        };
        builder
            .add(identity, entitlement, u32::try_from(i + 1).unwrap_or(u32::MAX))
            .map_err(|e| invalid(format!("live[{i}]: {e}")))?;
        text.push_str(&json!({"identity": identity, "entitlement": entitlement}).to_string());
        text.push('\n');
    }
    let live = builder.finish(crate::scim::sha256_hex(text.as_bytes()));
    let options = PlanOptions::new(at)
        .with_limits(GuardLimits {
            max_revokes: limit(request, "max_revokes", DEFAULT_MAX_REVOKES)?,
            max_invalid: limit(request, "max_invalid", DEFAULT_MAX_INVALID)?,
            max_orphaned: limit(request, "max_orphaned", DEFAULT_MAX_ORPHANED)?,
            max_privileged_grants: limit(request, "max_privileged_grants", DEFAULT_MAX_PRIVILEGED_GRANTS)?,
        })
        .with_force(flag(request, "force")?);
    let plan = Planner::new(&loaded.engine, options).plan(&population, &[live]).map_err(internal)?;
    metrics.decisions(population.feed.identities.len() as u64);
    Ok(plan)
}

/// `POST /v1/whatif`: who gains and loses what under HR edits (`set`) or by a later instant (`to`).
pub fn whatif(loaded: &Loaded, request: &Value, metrics: &Metrics) -> Result<WhatIf, ApiError> {
    check_members(request, &["identities", "set", "as_of", "to"])?;
    let at = instant(request, "as_of")?.unwrap_or_else(Instant::now);
    let to = instant(request, "to")?;
    let mut edits = Vec::new();
    for given in records(request, "set")? {
        let Some(text) = given.as_str() else {
            return Err(invalid("`set` is a list of `ID.attr=value` strings"));
        };
        edits.push(edit::Edit::set(text).map_err(|e| invalid(e.to_string()))?);
    }
    if edits.is_empty() && to.is_none() {
        return Err(invalid(
            "nothing to compare: give `set` (HR edits such as `u-1.department=Finance`) or `to` (a later instant)",
        ));
    }
    let today = population(loaded, request)?;
    let edited = if edits.is_empty() {
        None
    } else {
        Some(edit::apply(&loaded.project, &today, &edits).map_err(|e| invalid(e.to_string()))?)
    };
    let before = State {
        label: "current",
        project: &loaded.project,
        evaluator: &loaded.engine,
        population: &today,
        at,
    };
    let after = State {
        label: "requested",
        population: edited.as_ref().unwrap_or(&today),
        at: to.unwrap_or(at),
        ..before
    };
    let scope = scope::between(&before, &after, Some((&loaded.engine, &loaded.engine)));
    compare(&before, &after, &scope, &|n| metrics.decisions(n)).map_err(internal)
}

/// The target of a `who` path (what follows `/v1/who/`): one percent-encoded entitlement id, or
/// `role/` or `package/` and one percent-encoded id.
fn who_target(rest: &str) -> Result<Target, ApiError> {
    let not_found = || {
        ApiError {
        status: 404,
        code: "not-found",
        message: format!(
            "no endpoint `/v1/who/{}`: ask `/v1/who/{{entitlement}}`, `/v1/who/role/{{role}}` or `/v1/who/package/{{package}}` (a `/` in an id is written `%2F`)",
            shown(rest)
        ),
    }
    };
    let decode = |segment: &str| -> Result<String, ApiError> {
        if segment.is_empty() {
            return Err(not_found());
        }
        percent_decode_str(segment)
            .decode_utf8()
            .map(|id| id.into_owned())
            .map_err(|_| invalid(format!("`{}` is not UTF-8 once percent-decoded", shown(segment))))
    };
    let segments: Vec<&str> = rest.split('/').collect();
    match segments.as_slice() {
        [entitlement] => Ok(Target::Entitlement(decode(entitlement)?)),
        ["role", role] => Ok(Target::Role(decode(role)?)),
        ["package", package] => Ok(Target::Package(decode(package)?)),
        _ => Err(not_found()),
    }
}

/// A query string's parameters (`as_of=2026-11-21`), percent-decoded, each allowed at most once.
fn query_parameters(query: &str, allowed: &[&str]) -> Result<HashMap<String, String>, ApiError> {
    let mut parameters = HashMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |text: &str| {
            percent_decode_str(&text.replace('+', " "))
                .decode_utf8()
                .map(|t| t.into_owned())
                .map_err(|_| invalid(format!("the query parameter `{}` is not UTF-8 once percent-decoded", shown(key))))
        };
        let (key, value) = (decode(key)?, decode(value)?);
        if !allowed.contains(&key.as_str()) {
            let help = crate::diag::did_you_mean(&key, allowed.iter().copied())
                .map(|h| format!(" ({h})"))
                .unwrap_or_default();
            return Err(invalid(format!("unknown query parameter `{}`{help}", shown(&key))));
        }
        if parameters.insert(key.clone(), value).is_some() {
            return Err(invalid(format!("the query parameter `{}` is given twice", shown(&key))));
        }
    }
    Ok(parameters)
}

/// `GET /v1/who/{entitlement}`, `/v1/who/role/{role}`, `/v1/who/package/{package}` (with `?as_of=`):
/// who should hold it among the population of `--identities`, and with `--live` who does and
/// whether they should — [`crate::who::who`]'s answer, as `entitle who --format json` prints it.
pub fn who(loaded: &Loaded, rest: &str, query: &str, metrics: &Metrics) -> Result<Who, ApiError> {
    let target = who_target(rest)?;
    let Some(population) = &loaded.population else {
        return Err(ApiError {
            status: 409,
            code: "no-identities",
            message: "`who` answers from an identity feed, and none is loaded: start `entitle serve` with `--identities FILE`".into(),
        });
    };
    let parameters = query_parameters(query, &["as_of"])?;
    let at = match parameters.get("as_of") {
        None => Instant::now(),
        Some(text) => Instant::parse(text).map_err(|e| invalid(format!("`as_of`: {e}")))?,
    };
    let answer = match who_one(&loaded.project, &loaded.engine, population, loaded.live.as_deref(), &target, at) {
        Ok(answer) => answer,
        Err(WhoError::Unknown { what, id, help }) => {
            return Err(ApiError {
                status: 404,
                code: match what {
                    "role" => "unknown-role",
                    "package" => "unknown-package",
                    _ => "unknown-entitlement",
                },
                message: WhoError::Unknown {
                    what,
                    id: shown(&id),
                    help,
                }
                .to_string(),
            })
        }
        Err(e) => return Err(internal(e)),
    };
    metrics.decisions(answer.summary.evaluated as u64);
    Ok(answer)
}
