//! The shape of a what-if's answer: what `whatif --format json` writes
//! (spec §7 `whatif`: `summary` with `identities_affected`, `gained`,
//! `lost`, and `changes` with each identity's `gained` and `lost` ids —
//! extended, never renamed, with reasons, per-entitlement totals, role and
//! SoD changes).
//!
//! Data only: computing it is `whatif/mod.rs`, rendering `whatif/render.rs`.
//! Every list is sorted, so the same inputs give byte-identical JSON.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::eval::Justification;
use crate::model::SodSeverity;
use crate::plan::HeldBack;

/// Who gains and who loses what between two states.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WhatIf {
    /// The state compared from.
    pub before: StateLabel,
    /// The state compared to.
    pub after: StateLabel,
    /// Who was evaluated, and why not everyone (when not).
    pub evaluation: Evaluation,
    /// The figures.
    pub summary: Summary,
    /// Each entitlement someone gains or loses, with the counts, by entitlement.
    pub entitlements: Vec<EntitlementTotal>,
    /// Each identity whose entitlements, roles or SoD violations change, by identity.
    pub changes: Vec<IdentityChange>,
    /// SoD violations that appear or disappear, by identity then rule.
    pub sod_violations: Vec<SodChange>,
    /// Records that could not be used, on either side (no change is computed for them).
    pub invalid_identities: Vec<InvalidIdentity>,
    /// Identities whose change is unknown (an owner's record is invalid), by identity.
    pub held_back: Vec<HeldBack>,
}

impl WhatIf {
    /// Does anyone gain or lose anything (entitlements, roles or SoD violations)?
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }
}

/// One side of the comparison, as the output names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateLabel {
    /// What the state is: `base HEAD~1`, `working tree`, `feed with 2 edits`.
    pub label: String,
    /// The instant of evaluation.
    pub as_of: String,
    /// The SHA-256 of its compiled policy set (as in plan output).
    pub policy_sha256: String,
}

/// Whether every identity was evaluated, or only those a change could reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EvaluationMode {
    /// Every identity of both populations, on both sides.
    Full,
    /// Only the identities the change could reach; the others provably hold the same.
    Incremental,
}

/// Who was evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    /// Full or incremental.
    pub mode: EvaluationMode,
    /// Identities in either population (valid records).
    pub identities: usize,
    /// Identities evaluated on both sides.
    pub evaluated: usize,
    /// Why: what the change touches, or why it could not be bounded.
    pub reason: String,
}

/// The figures of a what-if.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Summary {
    /// Identities that gain or lose an entitlement, a role or an SoD violation.
    pub identities_affected: usize,
    /// (identity, entitlement) pairs gained.
    pub gained: usize,
    /// (identity, entitlement) pairs lost.
    pub lost: usize,
    /// Gained pairs whose entitlement is privileged.
    pub privileged_gained: usize,
    /// (identity, role) pairs gained.
    pub roles_gained: usize,
    /// (identity, role) pairs lost.
    pub roles_lost: usize,
    /// SoD violations that appear.
    pub sod_violations_added: usize,
    /// SoD violations that disappear.
    pub sod_violations_removed: usize,
    /// Records that could not be used.
    pub invalid_identities: usize,
    /// Identities whose change is unknown.
    pub held_back: usize,
}

/// One entitlement's gains and losses over the population.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntitlementTotal {
    /// The entitlement.
    pub entitlement: String,
    /// Is it privileged (after the change; before, when it left the catalog)?
    pub privileged: bool,
    /// Identities that gain it.
    pub gained: usize,
    /// Identities that lose it.
    pub lost: usize,
}

/// What one identity gains and loses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentityChange {
    /// The identity.
    pub identity: String,
    /// Entitlements it gains, sorted.
    pub gained: Vec<String>,
    /// Entitlements it loses, sorted.
    pub lost: Vec<String>,
    /// Roles it gains, sorted.
    pub roles_gained: Vec<String>,
    /// Roles it loses, sorted.
    pub roles_lost: Vec<String>,
    /// Each gained entitlement's justifications after the change (as `eval --explain` gives them).
    pub because: BTreeMap<String, Vec<Justification>>,
    /// Why each lost entitlement is lost.
    pub lost_because: BTreeMap<String, Loss>,
}

/// Why an identity loses an entitlement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Loss {
    /// The kind of reason.
    pub reason: LossReason,
    /// For `forbidden`: the guardrails that forbid it, sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub forbidden_by: Vec<String>,
    /// One more sentence: the assignment that expired, the identity removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// What granted it before.
    pub was: Vec<Justification>,
    /// For each role (or hand-written permit) that granted it before, why it no longer does.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<GrantLost>,
}

/// Why an identity loses an entitlement, in one word (plan's revocation reasons, and two of what-if's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossReason {
    /// Nothing grants it any more.
    NotJustified,
    /// A guardrail forbids it.
    Forbidden,
    /// It came from an assignment that has expired.
    ExpiredAssignment,
    /// The identity is no longer in the population (a leaver removed from the feed).
    Removed,
    /// The entitlement is no longer in the catalog.
    NotInCatalog,
    /// It was held through an approved exception that has expired.
    ExceptionExpired,
}

impl LossReason {
    /// The reason as written in output.
    pub fn as_str(self) -> &'static str {
        match self {
            LossReason::NotJustified => "not-justified",
            LossReason::Forbidden => "forbidden",
            LossReason::ExpiredAssignment => "expired-assignment",
            LossReason::Removed => "removed",
            LossReason::NotInCatalog => "not-in-catalog",
            LossReason::ExceptionExpired => "exception-expired",
        }
    }
}

/// Why one grant that justified an entitlement before no longer does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantLost {
    /// The role (none for a hand-written permit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The policy that granted it (`role:engineer`, or the permit's `@id`).
    pub policy: String,
    /// Where the role (or permit) is defined after the change, when it still is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Each reason, one sentence: the failing clause and the identity's value,
    /// the missing assignment, the grant the role no longer makes.
    pub reasons: Vec<String>,
}

/// Does an SoD violation appear or disappear?
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SodChangeKind {
    /// It appears.
    Added,
    /// It disappears.
    Removed,
}

/// An SoD violation of the desired state that appears or disappears.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SodChange {
    /// Added or removed.
    pub change: SodChangeKind,
    /// The identity.
    pub identity: String,
    /// The rule id.
    pub rule: String,
    /// The rule's severity.
    pub severity: SodSeverity,
    /// The entitlements held on each side of the rule.
    pub sides: Vec<Vec<String>>,
}

/// Which side of the comparison a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The state compared from.
    Before,
    /// The state compared to.
    After,
    /// Both.
    Both,
}

/// A record that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvalidIdentity {
    /// The id, when it could be read.
    pub identity: Option<String>,
    /// Where it is invalid.
    #[serde(rename = "in")]
    pub side: Side,
    /// The file.
    pub file: String,
    /// The line where the record starts.
    pub line: u32,
    /// What is wrong.
    pub error: String,
}
