//! The plan's public shape: options, changes with their reasons, figures,
//! violations and what was held back — what `--format json` writes (spec §7).
//!
//! Data only: computing it is `plan/mod.rs`, rendering it `plan/render.rs`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::eval::Justification;
use crate::model::SodSeverity;
use crate::time::{Duration, Instant};

use super::GuardLimits;

/// Options of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanOptions {
    /// The instant of evaluation.
    pub as_of: Instant,
    /// The mass-revocation guards.
    pub limits: GuardLimits,
    /// Override the guards (the plan says so).
    pub force: bool,
    /// Exceptions expiring soon, dormant access.
    pub governance: GovernanceOptions,
}

/// What a plan reports of exceptions and dormant access (docs/governance.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GovernanceOptions {
    /// Exceptions expiring within this window of `as_of` are marked `expiring` (default 14 days).
    pub warn_expiring: Duration,
    /// Live grants unused for longer than this (or never used) are dormant; `None`: no dormant report.
    pub dormant_after: Option<Duration>,
    /// Revoke dormant grants (with the reason `dormant`) unless an active exception covers them.
    pub revoke_dormant: bool,
}

impl GovernanceOptions {
    /// The default window of `--warn-expiring`: 14 days.
    pub const DEFAULT_WARN_EXPIRING: Duration = Duration(14 * 86_400_000);
}

impl Default for GovernanceOptions {
    fn default() -> Self {
        GovernanceOptions {
            warn_expiring: GovernanceOptions::DEFAULT_WARN_EXPIRING,
            dormant_after: None,
            revoke_dormant: false,
        }
    }
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
    /// It was held through an approved exception that has expired.
    ExceptionExpired,
    /// Unused for longer than `--dormant-after` (with `--revoke-dormant`).
    Dormant,
}

impl RevokeReason {
    /// The reason as written in output.
    pub fn as_str(self) -> &'static str {
        match self {
            RevokeReason::NotJustified => "not-justified",
            RevokeReason::Forbidden => "forbidden",
            RevokeReason::OrphanedAccount => "orphaned-account",
            RevokeReason::ExpiredAssignment => "expired-assignment",
            RevokeReason::ExceptionExpired => "exception-expired",
            RevokeReason::Dormant => "dormant",
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

/// The plan's figures. On a refused plan, `grants`, `revokes` and
/// `revokes_by_reason` count what it would have done (no change is emitted).
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
    /// Every approved exception: its state at `as_of` and what it does in this plan.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exceptions: Vec<ExceptionOutcome>,
    /// Dormant live grants (with `--dormant-after`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dormant: Vec<DormantGrant>,
}

/// The state of an approved exception at the plan's instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExceptionState {
    /// Before its expiry.
    Active,
    /// At or past its expiry.
    Expired,
    /// Its identity is not in the identity feed (diagnostic W014).
    UnknownIdentity,
}

/// What an approved exception does in a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExceptionOutcome {
    /// The exception id.
    pub id: String,
    /// The identity it names.
    pub identity: String,
    /// The entitlement it allows, when it names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entitlement: Option<String>,
    /// The package it allows, when it names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// The ticket recording its approval.
    pub ticket: String,
    /// Who approved it.
    pub approved_by: String,
    /// When it stops applying (RFC 3339).
    pub expires: String,
    /// Its state at `as_of`.
    pub status: ExceptionState,
    /// Active, and expiring within the `--warn-expiring` window.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub expiring: bool,
    /// Live grants it alone keeps (not revoked because of it), sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<String>,
    /// Grants this plan makes because of it alone, sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub granted: Vec<String>,
    /// Live grants revoked because it expired (`exception-expired`), sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub revoked: Vec<String>,
    /// What it allows that guardrails forbid anyway, with the forbidding guardrails.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overridden: Vec<Overridden>,
    /// Its YAML `file:line`.
    pub source: String,
}

/// An entitlement an exception allows that guardrails forbid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Overridden {
    /// The entitlement.
    pub entitlement: String,
    /// The forbidding guardrails' ids, comma-separated.
    pub forbidden_by: String,
}

/// A live grant unused for longer than `--dormant-after`, or never used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DormantGrant {
    /// The identity.
    pub identity: String,
    /// Its kind (`person`, `service_account`, ...): a non-human identity whose credential was never used is the classic leftover.
    pub kind: String,
    /// The entitlement.
    pub entitlement: String,
    /// When it was last used (RFC 3339), or `never`.
    pub last_used: String,
    /// Whole days since it was last used (none when never used).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_days: Option<i64>,
    /// What the plan does with it: `revoke` (dormant), `keep` (report only, or still
    /// wanted with no `--revoke-dormant`), `excepted` (an active exception covers it),
    /// or the reason it is revoked anyway (`not-justified`, `forbidden`, ...).
    pub action: String,
}

/// An invalid record in plan output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvalidRecordOut {
    /// The id, when it could be read.
    pub identity: Option<String>,
    /// The id is a guess read from a damaged record (see [`crate::io::identities::InvalidRecord::id_uncertain`]).
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
