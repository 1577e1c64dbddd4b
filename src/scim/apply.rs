//! Carrying out a plan on a SCIM service provider: one PatchOp
//! (RFC 7644 §3.5.2) per group, computed from the group's members as read
//! just before, so that re-running a plan never changes anything twice.
//!
//! It refuses, before sending anything, a plan that was refused, one whose
//! live state was not read from this service provider, one older than the
//! allowed age, and one whose live state no longer matches (unless every
//! change already holds, or a report of an earlier run of the same plan
//! says where it stopped). It never creates or deletes users or groups.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};

use super::client::{error_detail, ScimClient};
use super::read::{read_snapshot, ScimSnapshot};
use super::ScimError;
use crate::time::{Duration, Instant};

/// The `schemas` of a PatchOp request.
pub const SCIM_PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The `kind` that marks an apply report.
pub const APPLY_REPORT_KIND: &str = "entitle-apply-report";

/// What `apply` is asked to do.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// The application whose changes are carried out (`APP:` entitlements).
    pub app: String,
    /// Compute and report, send nothing.
    pub dry_run: bool,
    /// The oldest plan accepted: its `as_of` at most this long before `now`.
    pub max_age: Duration,
    /// The current instant.
    pub now: Instant,
    /// The report of an earlier run of the same plan, to resume where it stopped.
    pub resume: Option<Value>,
}

/// A plan, as read from its JSON, with its file and the SHA-256 of its bytes.
#[derive(Debug, Clone)]
pub struct PlanDocument {
    /// Where it was read.
    pub file: String,
    /// The SHA-256 of its bytes.
    pub sha256: String,
    /// The plan JSON (spec §7).
    pub plan: Value,
}

impl PlanDocument {
    /// Reads a plan's JSON text.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<PlanDocument, ScimError> {
        let plan: Value = serde_json::from_slice(bytes).map_err(|e| ScimError::Plan(format!("{file}:{}: {e}", e.line())))?;
        if !plan.is_object()
            || plan.get("changes").and_then(Value::as_array).is_none()
            || plan.get("as_of").and_then(Value::as_str).is_none()
        {
            return Err(ScimError::Plan(format!(
                "{file}: not a plan (`entitle plan --format json`): it needs `as_of` and `changes`"
            )));
        }
        Ok(PlanDocument {
            file: file.to_string(),
            sha256: super::sha256_hex(bytes),
            plan,
        })
    }
}

/// What happened to one change of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeStatus {
    /// Sent and accepted.
    Applied,
    /// Already true of the service provider: nothing sent.
    AlreadyApplied,
    /// `--dry-run`: would be sent.
    WouldApply,
    /// Sent and refused, or could not be sent (see `error`).
    Failed,
    /// Not for this application: left alone.
    Skipped,
}

/// One change of the plan and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeOutcome {
    /// `grant` or `revoke`.
    pub op: String,
    /// The identity.
    pub identity: String,
    /// The entitlement (`APP:group`).
    pub entitlement: String,
    /// What happened.
    pub status: ChangeStatus,
    /// Why it failed or was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One PATCH request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupRequest {
    /// The group's display name.
    pub group: String,
    /// The group's SCIM id.
    pub group_id: String,
    /// Members added and removed by the request.
    pub added: usize,
    /// Members removed.
    pub removed: usize,
    /// Attempts made (retries on 429 and 5xx).
    pub attempts: u32,
    /// The final HTTP status, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Whether it was accepted.
    pub ok: bool,
}

/// The figures of an apply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApplySummary {
    /// Changes of the plan.
    pub changes: usize,
    /// Applied now.
    pub applied: usize,
    /// Already true.
    pub already_applied: usize,
    /// Would be sent (dry run).
    pub would_apply: usize,
    /// Failed.
    pub failed: usize,
    /// For other applications.
    pub skipped: usize,
    /// PATCH requests sent.
    pub requests: usize,
    /// Attempts beyond the first, over all requests.
    pub retries: u32,
}

/// The live state after the apply, read back from the service provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveAfter {
    /// The source name (as in plan inputs).
    pub source: String,
    /// The SHA-256 of its canonical JSON Lines (see [`ScimSnapshot::canonical_jsonl`]).
    pub sha256: String,
    /// Grants read.
    pub grants: usize,
    /// Where it was written as JSON Lines (`apply --live-out`), for `entitle verify --live`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// The apply report (docs/scim.md): self-describing JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApplyReport {
    /// Always [`APPLY_REPORT_KIND`].
    pub kind: &'static str,
    /// The report format's version.
    pub version: u32,
    /// The plan carried out.
    pub plan: PlanRef,
    /// The service provider and application.
    pub target: Target,
    /// Whether nothing was sent.
    pub dry_run: bool,
    /// When the apply started.
    pub started_at: String,
    /// How the live state was found against the plan's: `matches-plan`, `all-applied` or `resumed`.
    pub live_before: String,
    /// Figures.
    pub summary: ApplySummary,
    /// Every change of the plan was applied or already held (nothing failed).
    pub complete: bool,
    /// Each change, in plan order.
    pub changes: Vec<ChangeOutcome>,
    /// Each PATCH request sent, by group.
    pub requests: Vec<GroupRequest>,
    /// The live state read back after the apply (absent for a dry run, or when it could not be read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_after: Option<LiveAfter>,
    /// Why the live state could not be read back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_after_error: Option<String>,
}

/// The plan an apply report is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanRef {
    /// Its file.
    pub file: String,
    /// The SHA-256 of its bytes.
    pub sha256: String,
    /// Its `as_of`.
    pub as_of: String,
    /// Its `inputs.policy_sha256`.
    pub policy_sha256: String,
    /// Its `inputs.live_sha256`.
    pub live_sha256: String,
}

/// Where the plan was carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    /// The SCIM base URL.
    pub scim: String,
    /// The application.
    pub app: String,
}

/// The changes of a plan for one group.
#[derive(Default)]
struct GroupChanges {
    grants: Vec<usize>,
    revokes: Vec<usize>,
}

/// Carries out `plan` on the service provider. Refusals are errors and send nothing; a
/// request that fails is reported in the result and the others still go.
pub fn apply(client: &ScimClient, plan: &PlanDocument, options: &ApplyOptions) -> Result<ApplyReport, ScimError> {
    let doc = &plan.plan;
    if let Some(why) = doc.get("refused").and_then(Value::as_str) {
        return Err(ScimError::Refused(format!(
            "the plan was refused (`{}`): a refused plan is never applied",
            crate::state::shown(why)
        )));
    }
    let as_of_text = doc["as_of"].as_str().unwrap_or_default();
    let as_of = Instant::parse(as_of_text).map_err(|e| ScimError::Plan(format!("{}: `as_of`: {e}", plan.file)))?;
    check_age(as_of, options)?;
    let live_sha256 = doc["inputs"]["live_sha256"].as_str().unwrap_or_default().to_string();
    let source = super::read::source_name(client, &options.app);
    check_live_source(plan, &source)?;

    let snapshot = read_snapshot(client, &options.app)?;
    let changes = plan_changes(doc)?;
    let mut outcomes: Vec<ChangeOutcome> = changes
        .iter()
        .map(|(op, identity, entitlement)| ChangeOutcome {
            op: op.clone(),
            identity: identity.clone(),
            entitlement: entitlement.clone(),
            status: ChangeStatus::Skipped,
            error: Some("another application".into()),
        })
        .collect();
    let prefix = format!("{}:", options.app);
    let mut by_group: BTreeMap<&str, GroupChanges> = BTreeMap::new();
    for (i, (op, _, entitlement)) in changes.iter().enumerate() {
        if let Some(group) = entitlement.strip_prefix(&prefix) {
            let entry = by_group.entry(group).or_default();
            if op == "grant" {
                entry.grants.push(i);
            } else {
                entry.revokes.push(i);
            }
        }
    }
    let holds = |i: usize| -> bool {
        let (op, identity, entitlement) = &changes[i];
        let group = entitlement.strip_prefix(&prefix).unwrap_or_default();
        let member = snapshot.groups.get(group).is_some_and(|g| g.members.contains(identity));
        (op == "grant") == member
    };
    let current = snapshot.sha256();
    let live_before = if current == live_sha256 {
        "matches-plan"
    } else if by_group.values().flat_map(|g| g.grants.iter().chain(&g.revokes)).all(|&i| holds(i)) {
        "all-applied"
    } else if resumes(options.resume.as_ref(), plan, &current) {
        "resumed"
    } else {
        return Err(ScimError::Refused(format!(
            "the live state of `{}` changed since the plan was made (the plan read `{}`, it is now `{}`): make a new plan",
            options.app,
            short(&live_sha256),
            short(&current)
        )));
    };

    let mut requests = Vec::new();
    for (group, indices) in &by_group {
        carry_out(
            client,
            &snapshot,
            group,
            indices,
            &changes,
            &mut outcomes,
            &mut requests,
            options.dry_run,
            &holds,
        );
    }
    let mut summary = ApplySummary {
        changes: outcomes.len(),
        requests: requests.len(),
        retries: requests.iter().map(|r: &GroupRequest| r.attempts.saturating_sub(1)).sum(),
        ..ApplySummary::default()
    };
    for o in &outcomes {
        match o.status {
            ChangeStatus::Applied => summary.applied += 1,
            ChangeStatus::AlreadyApplied => summary.already_applied += 1,
            ChangeStatus::WouldApply => summary.would_apply += 1,
            ChangeStatus::Failed => summary.failed += 1,
            ChangeStatus::Skipped => summary.skipped += 1,
        }
    }
    let (live_after, live_after_error) = if options.dry_run {
        (None, None)
    } else {
        match read_snapshot(client, &options.app) {
            Ok(after) => (
                Some(LiveAfter {
                    source: after.source.clone(),
                    sha256: after.sha256(),
                    grants: after.groups.values().map(|g| g.members.len()).sum(),
                    file: None,
                }),
                None,
            ),
            Err(e) => (None, Some(e.to_string())),
        }
    };
    Ok(ApplyReport {
        kind: APPLY_REPORT_KIND,
        version: 1,
        plan: PlanRef {
            file: plan.file.clone(),
            sha256: plan.sha256.clone(),
            as_of: as_of_text.to_string(),
            policy_sha256: doc["inputs"]["policy_sha256"].as_str().unwrap_or_default().to_string(),
            live_sha256,
        },
        target: Target {
            scim: client.base().to_string(),
            app: options.app.clone(),
        },
        dry_run: options.dry_run,
        started_at: options.now.to_rfc3339(),
        live_before: live_before.to_string(),
        complete: summary.failed == 0 && summary.would_apply == 0,
        summary,
        changes: outcomes,
        requests,
        live_after,
        live_after_error,
    })
}

/// Sends one group's changes (or, in a dry run, says what would be sent).
#[allow(clippy::too_many_arguments)]
fn carry_out(
    client: &ScimClient,
    snapshot: &ScimSnapshot,
    group: &str,
    indices: &GroupChanges,
    changes: &[(String, String, String)],
    outcomes: &mut [ChangeOutcome],
    requests: &mut Vec<GroupRequest>,
    dry_run: bool,
    holds: &dyn Fn(usize) -> bool,
) {
    let all: Vec<usize> = indices.grants.iter().chain(&indices.revokes).copied().collect();
    let fail = |i: usize, why: String, outcomes: &mut [ChangeOutcome]| {
        outcomes[i].status = ChangeStatus::Failed;
        outcomes[i].error = Some(why);
    };
    for &i in &all {
        outcomes[i].status = ChangeStatus::AlreadyApplied;
        outcomes[i].error = None;
    }
    let Some(scim_group) = snapshot.groups.get(group) else {
        for &i in &all {
            if !holds(i) {
                fail(
                    i,
                    format!(
                        "the service provider has no group `{}`: create it first",
                        crate::state::shown(group)
                    ),
                    outcomes,
                );
            }
        }
        return;
    };
    let mut add: Vec<(usize, String)> = Vec::new();
    let mut remove: Vec<(usize, String)> = Vec::new();
    for &i in &all {
        if holds(i) {
            continue;
        }
        let (op, identity, _) = &changes[i];
        let Some(user) = snapshot.user_of(identity) else {
            fail(
                i,
                format!("the service provider has no user for identity `{}`", crate::state::shown(identity)),
                outcomes,
            );
            continue;
        };
        if op == "grant" {
            add.push((i, user.scim_id.clone()));
        } else {
            remove.push((i, user.scim_id.clone()));
        }
    }
    if add.is_empty() && remove.is_empty() {
        return;
    }
    if dry_run {
        for (i, _) in add.iter().chain(&remove) {
            outcomes[*i].status = ChangeStatus::WouldApply;
        }
        return;
    }
    let mut operations = Vec::new();
    if !add.is_empty() {
        operations
            .push(json!({"op": "add", "path": "members", "value": add.iter().map(|(_, id)| json!({"value": id})).collect::<Vec<_>>()}));
    }
    for (_, id) in &remove {
        operations.push(json!({"op": "remove", "path": format!("members[value eq {}]", Value::from(id.as_str()))}));
    }
    let body = json!({"schemas": [SCIM_PATCH_OP], "Operations": operations});
    let path = format!("/Groups/{}", percent_encode(&scim_group.scim_id));
    let (status, attempts, error) = match client.patch(&path, &body) {
        Ok(reply) if (200..300).contains(&reply.status) => (Some(reply.status), reply.attempts, None),
        Ok(reply) => (
            Some(reply.status),
            reply.attempts,
            Some(format!("`PATCH {path}` failed: {}", error_detail(&reply))),
        ),
        Err(e) => (None, client_attempts(&e), Some(e.to_string())),
    };
    for (i, _) in add.iter().chain(&remove) {
        match &error {
            None => outcomes[*i].status = ChangeStatus::Applied,
            Some(why) => fail(*i, why.clone(), outcomes),
        }
    }
    requests.push(GroupRequest {
        group: group.to_string(),
        group_id: scim_group.scim_id.clone(),
        added: add.len(),
        removed: remove.len(),
        attempts,
        status,
        ok: error.is_none(),
    });
}

fn client_attempts(_: &ScimError) -> u32 {
    // A transport failure is retried until the policy gives up.
    super::client::RetryPolicy::default().attempts
}

/// A plan's changes as (op, identity, entitlement).
fn plan_changes(doc: &Value) -> Result<Vec<(String, String, String)>, ScimError> {
    doc["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, c)| {
            let field = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_string);
            match (field("op"), field("identity"), field("entitlement")) {
                (Some(op), Some(identity), Some(entitlement)) if op == "grant" || op == "revoke" => Ok((op, identity, entitlement)),
                _ => Err(ScimError::Plan(format!(
                    "change {} of the plan is not a grant or a revoke with `identity` and `entitlement`",
                    i + 1
                ))),
            }
        })
        .collect()
}

fn check_age(as_of: Instant, options: &ApplyOptions) -> Result<(), ScimError> {
    let skew = Duration(300_000);
    if as_of.0 > options.now.0.saturating_add(skew.0) {
        return Err(ScimError::Refused(format!(
            "the plan is as of `{}`, in the future: apply it once that instant has come",
            as_of.to_rfc3339()
        )));
    }
    if options.now.0 > as_of.0.saturating_add(options.max_age.0) {
        return Err(ScimError::Refused(format!(
            "the plan is as of `{}`, older than the {} allowed (`--max-age`): make a new plan",
            as_of.to_rfc3339(),
            options.max_age
        )));
    }
    Ok(())
}

/// The plan's live state must be exactly the service provider's, read by `plan --live-scim`.
fn check_live_source(plan: &PlanDocument, source: &str) -> Result<(), ScimError> {
    let files: Vec<&str> = plan.plan["inputs"]["live_files"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f.get("file").and_then(Value::as_str))
        .collect();
    if files != [source] {
        return Err(ScimError::Refused(format!(
            "the plan's live state was read from {}, not from `{source}` alone: make the plan with `entitle plan --live-scim URL --app APP`",
            if files.is_empty() { "nothing".to_string() } else { files.iter().map(|f| format!("`{}`", crate::state::shown(f))).collect::<Vec<_>>().join(", ") }
        )));
    }
    Ok(())
}

/// Does `report` say an earlier run of this plan left the live state as it is now?
fn resumes(report: Option<&Value>, plan: &PlanDocument, current: &str) -> bool {
    report.is_some_and(|r| {
        r["kind"] == APPLY_REPORT_KIND && r["plan"]["sha256"] == plan.sha256.as_str() && r["live_after"]["sha256"] == current
    })
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// A SCIM id as one path segment.
fn percent_encode(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
