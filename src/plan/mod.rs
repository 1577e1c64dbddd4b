//! The plan: desired state against live state, as grants and revocations
//! with reasons, metrics, violations and the safety guards of spec §8.
//!
//! Invariants: an invalid identity record, or an identity whose owner's
//! record is invalid, never produces a change; orphaned-account revocations
//! are held back while the feed has uncertain stretches (ids it could not
//! read with certainty, see [`crate::io`]); a plan that trips
//! a guard carries no changes unless forced. Output order is deterministic.

pub mod guards;
pub mod render;

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::eval::{DesiredSet, EvalError, Evaluator, Justification};
use crate::io::identities::InvalidRecord;
use crate::io::live::LiveFile;
use crate::model::{GrantRef, SodSeverity};
use crate::population::{OwnerRecord, Population};
use crate::project::Project;
use crate::state::AssignmentStatus;
use crate::time::Instant;

pub use guards::{GuardLimits, Limit};

/// Options of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanOptions {
    /// The instant of evaluation.
    pub as_of: Instant,
    /// The mass-revocation guards.
    pub limits: GuardLimits,
    /// Override the guards (the plan says so).
    pub force: bool,
}

/// Why a live grant is revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RevokeReason {
    /// Nothing grants it any more.
    NotJustified,
    /// A guardrail forbids it.
    Forbidden,
    /// The identity is absent from the identity feed.
    OrphanedAccount,
    /// It came from an assignment that has expired.
    ExpiredAssignment,
}

impl RevokeReason {
    /// The reason as written in output.
    pub fn as_str(self) -> &'static str {
        match self {
            RevokeReason::NotJustified => "not-justified",
            RevokeReason::Forbidden => "forbidden",
            RevokeReason::OrphanedAccount => "orphaned-account",
            RevokeReason::ExpiredAssignment => "expired-assignment",
        }
    }
}

/// One change of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Change {
    /// Give the identity the entitlement.
    Grant {
        /// The identity.
        identity: String,
        /// The entitlement.
        entitlement: String,
        /// Every justification.
        because: Vec<Justification>,
    },
    /// Take the entitlement away.
    Revoke {
        /// The identity.
        identity: String,
        /// The entitlement.
        entitlement: String,
        /// Why.
        reason: RevokeReason,
        /// The forbidding guardrails' ids, for `forbidden`.
        #[serde(skip_serializing_if = "Option::is_none")]
        forbidden_by: Option<String>,
        /// More detail, one sentence (the expired assignment, the over-long one).
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
}

impl Change {
    /// The identity and entitlement it is about.
    pub fn key(&self) -> (&str, &str) {
        match self {
            Change::Grant { identity, entitlement, .. } | Change::Revoke { identity, entitlement, .. } => (identity, entitlement),
        }
    }
}

/// Hashes of the inputs, so a plan can be tied to what produced it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inputs {
    /// SHA-256 of the compiled schema, policies and entities.
    pub policy_sha256: String,
    /// SHA-256 of the identity feed.
    pub identities_sha256: String,
    /// SHA-256 of the live state: the file's, or for several files, of their hashes in order.
    pub live_sha256: String,
    /// Each live file and its SHA-256.
    pub live_files: Vec<LiveFileHash>,
}

/// A live file and its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveFileHash {
    /// The file.
    pub file: String,
    /// Its SHA-256.
    pub sha256: String,
}

/// The plan's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Summary {
    /// Valid identity records evaluated.
    pub identities: usize,
    /// Desired (identity, entitlement) pairs.
    pub desired: usize,
    /// Live grants of catalog entitlements.
    pub live: usize,
    /// Grants planned.
    pub grants: usize,
    /// Revocations planned.
    pub revokes: usize,
    /// Pairs both desired and live.
    pub unchanged: usize,
    /// |desired ∩ live| / |desired ∪ live| (spec §7).
    pub entitlement_accuracy: f64,
    /// Live identities absent from the feed.
    pub orphaned_accounts: usize,
    /// Invalid identity records.
    pub invalid_identities: usize,
    /// SoD violations found.
    pub sod_violations: usize,
    /// Assignments expired or over their role's `max_duration`.
    pub expired_assignments: usize,
    /// Revocations by reason.
    pub revokes_by_reason: BTreeMap<String, usize>,
}

/// Where an SoD violation is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StateKind {
    /// In what the identity holds today.
    Live,
    /// In what policy would give it.
    Desired,
}

/// An identity holding both sides of an SoD rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SodViolation {
    /// The identity.
    pub identity: String,
    /// The rule id.
    pub rule: String,
    /// The rule's severity.
    pub severity: SodSeverity,
    /// Live or desired state.
    #[serde(rename = "in")]
    pub state: StateKind,
    /// The entitlements held on each side.
    pub sides: Vec<Vec<String>>,
}

/// An assignment that no longer counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpiredAssignment {
    /// The identity.
    pub identity: String,
    /// The role.
    pub role: String,
    /// When it expired (or would end, for an over-long one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired_at: Option<String>,
    /// `expired` or `exceeds-max-duration`.
    pub status: &'static str,
    /// The ticket, when the assignment had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
}

/// A live identity the feed does not have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrphanedAccount {
    /// The identity.
    pub identity: String,
    /// The catalog entitlements it holds.
    pub entitlements: usize,
}

/// A live grant of an entitlement outside the catalog (reported, never revoked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unmanaged {
    /// The identity.
    pub identity: String,
    /// The entitlement.
    pub entitlement: String,
    /// Where it was read.
    pub source: String,
}

/// An identity whose changes are held back, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldBack {
    /// The identity.
    pub identity: String,
    /// Why, one sentence.
    pub reason: String,
}

/// The whole plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The instant of evaluation.
    pub as_of: String,
    /// Input hashes.
    pub inputs: Inputs,
    /// Figures.
    pub summary: Summary,
    /// Set when a guard refused the plan (then `changes` is empty unless forced).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// The guards `--force` overrode, one sentence each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub forced: Vec<String>,
    /// Grants and revocations, by identity then entitlement.
    pub changes: Vec<Change>,
    /// SoD violations.
    pub sod_violations: Vec<SodViolation>,
    /// Expired and over-long assignments.
    pub expired_assignments: Vec<ExpiredAssignment>,
    /// Live identities absent from the feed.
    pub orphaned_accounts: Vec<OrphanedAccount>,
    /// Live grants outside the catalog.
    pub unmanaged: Vec<Unmanaged>,
    /// Invalid identity records (no change is made for them).
    pub invalid_identities: Vec<InvalidRecordOut>,
    /// Identities whose changes are held back.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub held_back: Vec<HeldBack>,
}

/// An invalid record in plan output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvalidRecordOut {
    /// The id, when it could be read.
    pub identity: Option<String>,
    /// The id is a guess read from a damaged record (see [`InvalidRecord::id_uncertain`]).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub identity_uncertain: bool,
    /// The file.
    pub file: String,
    /// The line where the record starts.
    pub line: u32,
    /// What is wrong.
    pub error: String,
}

impl Plan {
    /// Does the plan change anything?
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of the compiled policy set (schema, policies, entities).
pub fn policy_sha256(project: &Project) -> String {
    let c = &project.compiled;
    sha256_hex(format!("{}\u{0}{}\u{0}{}", c.schema_text, c.policies_text, c.entities_json).as_bytes())
}

/// Every valid identity's desired set, evaluated in parallel, in feed order.
pub fn desired_all(
    evaluator: &dyn Evaluator,
    population: &Population,
    at: Instant,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<DesiredSet>, EvalError> {
    population
        .feed
        .identities
        .par_iter()
        .map(|identity| {
            let d = evaluator.desired(identity, population.owner_of(identity).record(), at);
            progress(1);
            d
        })
        .collect()
}

/// Computes the plan.
pub fn plan(
    project: &Project,
    evaluator: &dyn Evaluator,
    population: &Population,
    live: &[LiveFile],
    options: &PlanOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Plan, EvalError> {
    let at = options.as_of;
    let defs = &project.defs;
    let feed = &population.feed;

    // Live state: merged, deduplicated; catalog grants apart from unmanaged ones.
    let mut live_pairs: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut live_identities: BTreeSet<&str> = BTreeSet::new();
    let mut unmanaged = BTreeMap::new();
    for file in live {
        for g in file.grants() {
            live_identities.insert(g.identity());
            if defs.entitlements.contains_key(g.entitlement()) {
                live_pairs.entry(g.identity()).or_default().insert(g.entitlement());
            } else {
                unmanaged
                    .entry((g.identity(), g.entitlement()))
                    .or_insert_with(|| format!("{}:{}", file.file, g.line()));
            }
        }
    }
    let unmanaged: Vec<Unmanaged> = unmanaged
        .into_iter()
        .map(|((i, e), source)| Unmanaged {
            identity: i.to_string(),
            entitlement: e.to_string(),
            source,
        })
        .collect();

    let desired = desired_all(evaluator, population, at, progress)?;

    let mut changes = Vec::new();
    let mut held_back = Vec::new();
    let mut sod_violations = Vec::new();
    let mut expired_assignments = Vec::new();
    let (mut desired_count, mut live_count, mut both) = (0usize, 0usize, 0usize);
    let mut accuracy_union = 0usize;
    let empty = BTreeSet::new();

    // A CSV row that may be two records glued together makes the feed as uncertain as a broken one.
    let glued = population.glued_records(live_identities.iter().copied());
    let uncertainty = feed.uncertainty().or_else(|| glued.first().map(|g| g.reason(&feed.file)));
    let mut order: Vec<usize> = (0..feed.identities.len()).collect();
    order.sort_by(|a, b| feed.identities[*a].id.cmp(&feed.identities[*b].id));
    for index in order {
        let identity = &feed.identities[index];
        let d = &desired[index];
        let owner = population.owner_of(identity);
        let held: &BTreeSet<&str> = live_pairs.get(identity.id.as_str()).unwrap_or(&empty);

        for a in &identity.assignments {
            let Some(role) = defs.roles.get(&a.role) else { continue };
            let status = match a.status(at, role.max_duration) {
                AssignmentStatus::Expired => "expired",
                AssignmentStatus::ExceedsMaxDuration => "exceeds-max-duration",
                _ => continue,
            };
            expired_assignments.push(ExpiredAssignment {
                identity: identity.id.clone(),
                role: a.role.clone(),
                expired_at: a.expires.map(|e| e.to_rfc3339()),
                status,
                ticket: a.ticket.clone(),
            });
        }
        let desired_set: BTreeSet<&str> = d.entitlements().collect();
        sod_violations.extend(sod_for(project, &identity.id, &desired_set, StateKind::Desired));
        sod_violations.extend(sod_for(project, &identity.id, held, StateKind::Live));

        if let Some(g) = glued.iter().find(|g| g.id == identity.id) {
            held_back.push(HeldBack {
                identity: identity.id.clone(),
                reason: g.reason(&feed.file),
            });
            continue;
        }
        // An owner whose record is broken — or may be one of the records whose id
        // could not be read — leaves this identity's desired state unknown.
        let owner_doubt = match (owner, &uncertainty) {
            (OwnerRecord::Invalid, _) => Some("has an invalid record".to_string()),
            (OwnerRecord::Unknown, Some(uncertainty)) => Some(format!(
                "is not in the feed, but may be one of the records whose id could not be read ({uncertainty})"
            )),
            _ => None,
        };
        if let Some(doubt) = owner_doubt {
            held_back.push(HeldBack {
                identity: identity.id.clone(),
                reason: format!(
                    "its owner `{}` {doubt}, so its desired state is unknown",
                    identity.owner.as_deref().unwrap_or_default()
                ),
            });
            continue;
        }
        desired_count += desired_set.len();
        live_count += held.len();
        let common = desired_set.intersection(held).count();
        both += common;
        accuracy_union += desired_set.len() + held.len() - common;

        for entitlement in d.entitlements() {
            if !held.contains(entitlement) {
                changes.push(Change::Grant {
                    identity: identity.id.clone(),
                    entitlement: entitlement.to_string(),
                    because: d.justifications(entitlement).unwrap_or_default(),
                });
            }
        }
        for entitlement in held.iter().filter(|e| !desired_set.contains(**e)) {
            changes.push(revocation(project, evaluator, identity, owner.record(), at, entitlement)?);
        }
    }

    // Live identities that the feed does not have.
    let mut orphaned_accounts = Vec::new();
    for id in &live_identities {
        if population.get(id).is_some() || population.is_invalid(id) {
            continue;
        }
        let held: &BTreeSet<&str> = live_pairs.get(id).unwrap_or(&empty);
        orphaned_accounts.push(OrphanedAccount {
            identity: id.to_string(),
            entitlements: held.len(),
        });
        sod_violations.extend(sod_for(project, id, held, StateKind::Live));
        live_count += held.len();
        accuracy_union += held.len();
        if let Some(uncertainty) = &uncertainty {
            held_back.push(HeldBack {
                identity: id.to_string(),
                reason: format!("{uncertainty}; one of those records may be this identity"),
            });
            continue;
        }
        for entitlement in held {
            changes.push(Change::Revoke {
                identity: id.to_string(),
                entitlement: entitlement.to_string(),
                reason: RevokeReason::OrphanedAccount,
                forbidden_by: None,
                detail: None,
            });
        }
    }
    changes.sort_by(|a, b| a.key().cmp(&b.key()));
    sod_violations.sort_by(|a, b| (&a.identity, &a.rule, a.state).cmp(&(&b.identity, &b.rule, b.state)));

    let invalid_identities: Vec<InvalidRecordOut> = feed
        .invalid
        .iter()
        .map(|r: &InvalidRecord| InvalidRecordOut {
            identity: r.id.clone(),
            identity_uncertain: r.id_uncertain,
            file: feed.file.clone(),
            line: r.line,
            error: r.error.clone(),
        })
        .collect();

    let mut summary = Summary {
        identities: feed.identities.len(),
        desired: desired_count,
        live: live_count,
        grants: changes.iter().filter(|c| matches!(c, Change::Grant { .. })).count(),
        revokes: changes.iter().filter(|c| matches!(c, Change::Revoke { .. })).count(),
        unchanged: both,
        entitlement_accuracy: if accuracy_union == 0 {
            1.0
        } else {
            round6(both as f64 / accuracy_union as f64)
        },
        orphaned_accounts: orphaned_accounts.len(),
        invalid_identities: invalid_identities.len(),
        sod_violations: sod_violations.len(),
        expired_assignments: expired_assignments.len(),
        revokes_by_reason: BTreeMap::new(),
    };
    for c in &changes {
        if let Change::Revoke { reason, .. } = c {
            *summary.revokes_by_reason.entry(reason.as_str().to_string()).or_default() += 1;
        }
    }

    let live_files: Vec<LiveFileHash> = live
        .iter()
        .map(|f| LiveFileHash {
            file: f.file.clone(),
            sha256: f.sha256.clone(),
        })
        .collect();
    let live_sha256 = match live_files.as_slice() {
        [one] => one.sha256.clone(),
        many => sha256_hex(many.iter().map(|f| f.sha256.as_str()).collect::<Vec<_>>().join("\n").as_bytes()),
    };
    let mut plan = Plan {
        as_of: at.to_rfc3339(),
        inputs: Inputs {
            policy_sha256: policy_sha256(project),
            identities_sha256: feed.sha256.clone(),
            live_sha256,
            live_files,
        },
        summary,
        refused: None,
        forced: Vec::new(),
        changes,
        sod_violations,
        expired_assignments,
        orphaned_accounts,
        unmanaged,
        invalid_identities,
        held_back,
    };
    let privileged = |e: &str| defs.entitlements.get(e).is_some_and(|e| e.privileged);
    let tripped = guards::check(
        &plan,
        feed.identities.len() + feed.invalid.len(),
        live_identities.len(),
        &options.limits,
        &privileged,
    );
    if !tripped.is_empty() {
        if options.force {
            plan.forced = tripped;
        } else {
            plan.refused = Some(tripped.join("; "));
            // The summary speaks of the changes emitted: none. The refusal says what would have been.
            plan.changes.clear();
            plan.summary.grants = 0;
            plan.summary.revokes = 0;
            plan.summary.revokes_by_reason.clear();
        }
    }
    Ok(plan)
}

fn round6(x: f64) -> f64 {
    (x * 1_000_000.0).round() / 1_000_000.0
}

/// The revocation of a live grant the identity should not hold, with its reason.
fn revocation(
    project: &Project,
    evaluator: &dyn Evaluator,
    identity: &crate::state::IdentityState,
    owner: Option<&crate::state::IdentityState>,
    at: Instant,
    entitlement: &str,
) -> Result<Change, EvalError> {
    let forbidding = evaluator.forbidding(identity, owner, at, entitlement)?;
    let revoke = |reason, forbidden_by, detail| Change::Revoke {
        identity: identity.id.clone(),
        entitlement: entitlement.to_string(),
        reason,
        forbidden_by,
        detail,
    };
    if !forbidding.is_empty() {
        return Ok(revoke(RevokeReason::Forbidden, Some(forbidding.join(", ")), None));
    }
    // The assignments whose role would grant it (the role's closure covers `extends`).
    let relevant: Vec<(&crate::state::Assignment, &crate::model::Role, AssignmentStatus)> = identity
        .assignments
        .iter()
        .filter_map(|a| project.defs.roles.get(&a.role).map(|r| (a, r)))
        .filter(|(_, r)| project.graph.role_grants.get(&r.id).is_some_and(|g| g.contains_key(entitlement)))
        .map(|(a, r)| (a, r, a.status(at, r.max_duration)))
        .collect();
    // A valid assignment means the role's eligibility (`when`) is what fails, not the assignment.
    if let Some((a, _, _)) = relevant.iter().find(|(_, _, s)| *s == AssignmentStatus::Active) {
        let detail = format!("assignment to `{}` is valid, but the role's eligibility no longer holds", a.role);
        return Ok(revoke(RevokeReason::NotJustified, None, Some(detail)));
    }
    if let Some((a, _, _)) = relevant.iter().find(|(_, _, s)| *s == AssignmentStatus::Expired) {
        let detail = format!(
            "assignment to `{}` expired at {}{}",
            a.role,
            a.expires.map(|e| e.to_rfc3339()).unwrap_or_default(),
            a.ticket.as_deref().map(|t| format!(" (ticket {t})")).unwrap_or_default()
        );
        return Ok(revoke(RevokeReason::ExpiredAssignment, None, Some(detail)));
    }
    if let Some((a, r, _)) = relevant.iter().find(|(_, _, s)| *s == AssignmentStatus::ExceedsMaxDuration) {
        let detail = format!(
            "assignment to `{}` is longer than its max_duration {}",
            a.role,
            r.max_duration.map(|d| d.to_string()).unwrap_or_default()
        );
        return Ok(revoke(RevokeReason::NotJustified, None, Some(detail)));
    }
    Ok(revoke(RevokeReason::NotJustified, None, None))
}

/// The SoD rules `held` violates.
fn sod_for(project: &Project, identity: &str, held: &BTreeSet<&str>, state: StateKind) -> Vec<SodViolation> {
    let mut out = Vec::new();
    if held.len() < 2 {
        return out;
    }
    for rule in project.defs.sod.values() {
        let sides: Vec<Vec<String>> = rule
            .sides
            .iter()
            .map(|side| {
                let ents: BTreeSet<String> = side.iter().flat_map(|g: &GrantRef| project.graph.expand(g)).collect();
                ents.into_iter().filter(|e| held.contains(e.as_str())).collect()
            })
            .collect();
        if sides.len() >= 2 && sides.iter().all(|s| !s.is_empty()) {
            out.push(SodViolation {
                identity: identity.to_string(),
                rule: rule.id.clone(),
                severity: rule.severity,
                state,
                sides,
            });
        }
    }
    out
}
