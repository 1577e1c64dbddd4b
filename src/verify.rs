//! Deprovisioning completion: a plan that was carried out, judged against
//! live exports taken after it.
//!
//! # What one later export can tell, and what it cannot
//!
//! An export is a snapshot: it shows whether a grant is there, not what
//! happened to it in between. So each change of the plan is judged on the
//! exports given, **in time order** (the last is the latest):
//!
//! - **done** — the latest export shows it carried out (a granted pair is
//!   present, a revoked pair absent);
//! - **reverted** — an earlier export showed it carried out and the latest
//!   does not (a revocation undone by someone re-granting, a grant removed
//!   again);
//! - **not done** — no export shows it carried out.
//!
//! With a single export, *reverted* cannot be told from *not done* (a grant
//! revoked and then re-granted looks exactly like one never revoked), and
//! is never reported: pass the export taken right after the change window
//! and today's export to see reversions.
//!
//! **Leavers** are the identities the plan's feed says are `terminated`
//! (attribute `status`) as of the plan, and the plan's orphaned accounts
//! (gone from the feed). A leaver's access is incomplete while the latest
//! export still shows any grant of theirs that policy does not give them
//! (evaluated at the plan's `as_of`) — whether or not the plan listed it —
//! or a revocation of theirs is not done. That is the exit-1 gate of
//! `entitle verify`.
//!
//! It reads plans; it never changes one, and it decides nothing about what
//! anyone should hold (the evaluator does).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::eval::{EvalError, Evaluator};
use crate::io::live::LiveFile;
use crate::population::Population;
use crate::time::Instant;

/// A plan read back from its JSON (spec §7; unknown fields are ignored, so
/// the additive fields of `plan --out` and apply reports are fine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRecord {
    /// The file it was read from.
    pub file: String,
    /// SHA-256 of the file.
    pub sha256: String,
    /// The plan's instant of evaluation.
    pub as_of: Instant,
    /// SHA-256 of the identity feed it was made from.
    pub identities_sha256: Option<String>,
    /// Its changes, in its order.
    pub changes: Vec<PlannedChange>,
    /// Its orphaned accounts (live identities the feed did not have).
    pub orphaned_accounts: Vec<String>,
}

/// One change of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedChange {
    /// `grant` or `revoke`.
    pub op: Op,
    /// The identity.
    pub identity: String,
    /// The entitlement.
    pub entitlement: String,
    /// A revocation's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A change's operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// A grant.
    Grant,
    /// A revocation.
    Revoke,
}

/// A plan that cannot be verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The file is not a plan's JSON.
    #[error("{file}:{line}:{column}: not a plan's JSON: {message}")]
    NotAPlan {
        /// The file.
        file: String,
        /// The line.
        line: usize,
        /// The column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The plan was refused by its guards: nothing was to be carried out.
    #[error(
        "`{file}` is a refused plan ({why}): it carries no changes, so there is nothing to verify; verify the plan that was carried out"
    )]
    Refused {
        /// The file.
        file: String,
        /// Why it was refused.
        why: String,
    },
    /// The plan's `as_of` is not an instant.
    #[error("{file}: `as_of` is not an RFC 3339 instant: {message}")]
    AsOf {
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// The identity feed given is not the one the plan was made from.
    #[error("the identity feed `{feed}` is not the one the plan was made from (sha256 {given}, the plan's {planned}): leavers are judged on the plan's feed")]
    OtherFeed {
        /// The feed file.
        feed: String,
        /// Its hash.
        given: String,
        /// The plan's.
        planned: String,
    },
    /// No export was given.
    #[error("verify needs at least one live export taken after the plan")]
    NoExport,
    /// An evaluation failed.
    #[error(transparent)]
    Eval(#[from] EvalError),
}

#[derive(Deserialize)]
struct PlanJson {
    as_of: String,
    #[serde(default)]
    inputs: Option<InputsJson>,
    #[serde(default)]
    refused: Option<String>,
    changes: Vec<PlannedChange>,
    #[serde(default)]
    orphaned_accounts: Vec<OrphanJson>,
}

#[derive(Deserialize)]
struct InputsJson {
    #[serde(default)]
    identities_sha256: Option<String>,
}

#[derive(Deserialize)]
struct OrphanJson {
    identity: String,
}

/// Reads a plan's JSON (`entitle plan --format json`). A refused plan is an error.
pub fn read_plan(file: &str, bytes: &[u8]) -> Result<PlanRecord, VerifyError> {
    let json: PlanJson = serde_json::from_slice(bytes).map_err(|e| VerifyError::NotAPlan {
        file: file.to_string(),
        line: e.line(),
        column: e.column(),
        message: e.to_string().split(" at line ").next().unwrap_or_default().to_string(),
    })?;
    if let Some(why) = json.refused {
        return Err(VerifyError::Refused {
            file: file.to_string(),
            why,
        });
    }
    let as_of = Instant::parse(&json.as_of).map_err(|message| VerifyError::AsOf {
        file: file.to_string(),
        message,
    })?;
    Ok(PlanRecord {
        file: file.to_string(),
        sha256: sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect(),
        as_of,
        identities_sha256: json.inputs.and_then(|i| i.identities_sha256),
        changes: json.changes,
        orphaned_accounts: json.orphaned_accounts.into_iter().map(|o| o.identity).collect(),
    })
}

/// Who the leavers are, and what policy still gives them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Leavers {
    /// Each leaver and the entitlements policy gives it at the plan's `as_of` (usually none).
    pub desired: BTreeMap<String, BTreeSet<String>>,
    /// Where they come from: `identities` (terminated in the feed, and orphaned accounts) or
    /// `orphaned-accounts` (no feed given).
    pub from: &'static str,
}

impl Leavers {
    /// The plan's orphaned accounts only (no identity feed given).
    pub fn orphaned_only(plan: &PlanRecord) -> Leavers {
        Leavers {
            desired: plan.orphaned_accounts.iter().map(|id| (id.clone(), BTreeSet::new())).collect(),
            from: "orphaned-accounts",
        }
    }

    /// The identities `status: terminated` in the plan's feed (checked by its hash) and the
    /// plan's orphaned accounts, each with what policy gives it at the plan's `as_of`.
    pub fn from_feed(plan: &PlanRecord, population: &Population, evaluator: &dyn Evaluator) -> Result<Leavers, VerifyError> {
        if let Some(planned) = &plan.identities_sha256 {
            if *planned != population.feed.sha256 {
                return Err(VerifyError::OtherFeed {
                    feed: population.feed.file.clone(),
                    given: population.feed.sha256.clone(),
                    planned: planned.clone(),
                });
            }
        }
        let mut leavers = Leavers::orphaned_only(plan);
        leavers.from = "identities";
        for identity in &population.feed.identities {
            let terminated = identity
                .attributes
                .get("status")
                .is_some_and(|v| *v == crate::state::AttrValue::str("terminated"));
            if terminated {
                let desired = evaluator.desired(identity, population.owner_of(identity).record(), plan.as_of)?;
                leavers
                    .desired
                    .insert(identity.id.clone(), desired.entitlements().map(str::to_string).collect());
            }
        }
        Ok(leavers)
    }
}

/// How far a change got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The latest export shows it carried out.
    Done,
    /// No export shows it carried out.
    NotDone,
    /// An earlier export showed it carried out; the latest does not.
    Reverted,
}

/// A change of the plan and how far it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckedChange {
    /// The change as planned.
    #[serde(flatten)]
    pub change: PlannedChange,
    /// How far it got.
    pub status: Status,
    /// Is the identity a leaver?
    pub leaver: bool,
}

/// A grant a leaver still holds in the latest export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemainingGrant {
    /// The identity.
    pub identity: String,
    /// The entitlement.
    pub entitlement: String,
    /// Did the plan revoke it (otherwise it appeared, or was missed, outside the plan)?
    pub in_plan: bool,
}

/// A live export, as verify used it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportUsed {
    /// The file.
    pub file: String,
    /// Its SHA-256.
    pub sha256: String,
    /// Its grants.
    pub grants: usize,
}

/// The figures of a verification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifySummary {
    /// Changes in the plan.
    pub changes: usize,
    /// Done.
    pub done: usize,
    /// Not done.
    pub not_done: usize,
    /// Reverted.
    pub reverted: usize,
    /// done / changes (1.0 for a plan without changes).
    pub completion_rate: f64,
    /// Leavers.
    pub leavers: usize,
    /// Changes of leavers.
    pub leaver_changes: usize,
    /// Those done.
    pub leaver_done: usize,
    /// leaver_done / leaver_changes (1.0 when there are none).
    pub leaver_completion_rate: f64,
    /// Grants leavers still hold in the latest export.
    pub leaver_grants_remaining: usize,
    /// Seconds from the plan's `as_of` to the verification's.
    pub since_plan_seconds: i64,
    /// The same, for a person (`3d 4h`).
    pub since_plan: String,
    /// Is every leaver's access gone (no remaining grant, every leaver revocation done)?
    pub leavers_complete: bool,
}

/// The verification of a carried-out plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    /// The plan: file, hash, instant.
    pub plan: PlanUsed,
    /// The instant of the verification ("now").
    pub as_of: String,
    /// The exports, oldest first (the last is the latest).
    pub exports: Vec<ExportUsed>,
    /// Where the leavers come from (`identities` or `orphaned-accounts`).
    pub leavers_from: &'static str,
    /// Figures.
    pub summary: VerifySummary,
    /// Every change of the plan with its status, in the plan's order.
    pub changes: Vec<CheckedChange>,
    /// Grants leavers still hold, by identity then entitlement.
    pub leaver_grants_remaining: Vec<RemainingGrant>,
}

/// The plan as verify used it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanUsed {
    /// The file.
    pub file: String,
    /// Its SHA-256.
    pub sha256: String,
    /// Its `as_of`.
    pub as_of: String,
}

/// Judges `plan` against `exports` (oldest first) at `now`.
pub fn verify(plan: &PlanRecord, exports: &[LiveFile], leavers: &Leavers, now: Instant) -> Result<Verification, VerifyError> {
    let latest_index = exports.len().checked_sub(1).ok_or(VerifyError::NoExport)?;
    let sets: Vec<HashSet<(&str, &str)>> = exports
        .iter()
        .map(|f| f.grants().map(|g| (g.identity(), g.entitlement())).collect())
        .collect();
    let done_in = |set: &HashSet<(&str, &str)>, c: &PlannedChange| {
        let present = set.contains(&(c.identity.as_str(), c.entitlement.as_str()));
        match c.op {
            Op::Grant => present,
            Op::Revoke => !present,
        }
    };
    let changes: Vec<CheckedChange> = plan
        .changes
        .iter()
        .map(|c| {
            let status = if done_in(&sets[latest_index], c) {
                Status::Done
            } else if sets[..latest_index].iter().any(|s| done_in(s, c)) {
                Status::Reverted
            } else {
                Status::NotDone
            };
            CheckedChange {
                change: c.clone(),
                status,
                leaver: leavers.desired.contains_key(&c.identity),
            }
        })
        .collect();
    let revoked: HashSet<(&str, &str)> = plan
        .changes
        .iter()
        .filter(|c| c.op == Op::Revoke)
        .map(|c| (c.identity.as_str(), c.entitlement.as_str()))
        .collect();
    let mut remaining: Vec<RemainingGrant> = exports[latest_index]
        .grants()
        .filter(|g| {
            leavers
                .desired
                .get(g.identity())
                .is_some_and(|desired| !desired.contains(g.entitlement()))
        })
        .map(|g| RemainingGrant {
            identity: g.identity().to_string(),
            entitlement: g.entitlement().to_string(),
            in_plan: revoked.contains(&(g.identity(), g.entitlement())),
        })
        .collect();
    remaining.sort_by(|a, b| (&a.identity, &a.entitlement).cmp(&(&b.identity, &b.entitlement)));

    let count = |f: &dyn Fn(&CheckedChange) -> bool| changes.iter().filter(|c| f(c)).count();
    let done = count(&|c| c.status == Status::Done);
    let leaver_changes = count(&|c| c.leaver);
    let leaver_done = count(&|c| c.leaver && c.status == Status::Done);
    let leaver_revokes_pending = count(&|c| c.leaver && c.change.op == Op::Revoke && c.status != Status::Done);
    let since = now.0.saturating_sub(plan.as_of.0);
    let summary = VerifySummary {
        changes: changes.len(),
        done,
        not_done: count(&|c| c.status == Status::NotDone),
        reverted: count(&|c| c.status == Status::Reverted),
        completion_rate: rate(done, changes.len()),
        leavers: leavers.desired.len(),
        leaver_changes,
        leaver_done,
        leaver_completion_rate: rate(leaver_done, leaver_changes),
        leaver_grants_remaining: remaining.len(),
        since_plan_seconds: since / 1000,
        since_plan: elapsed(since),
        leavers_complete: remaining.is_empty() && leaver_revokes_pending == 0,
    };
    Ok(Verification {
        plan: PlanUsed {
            file: plan.file.clone(),
            sha256: plan.sha256.clone(),
            as_of: plan.as_of.to_rfc3339(),
        },
        as_of: now.to_rfc3339(),
        exports: exports
            .iter()
            .map(|f| ExportUsed {
                file: f.file.clone(),
                sha256: f.sha256.clone(),
                grants: f.len(),
            })
            .collect(),
        leavers_from: leavers.from,
        summary,
        changes,
        leaver_grants_remaining: remaining,
    })
}

fn rate(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        1.0
    } else {
        (part as f64 / whole as f64 * 1_000_000.0).round() / 1_000_000.0
    }
}

/// Milliseconds for a person: `3d 4h`, `5h 12m`, `40s`; negative as `-` (a plan from the future).
fn elapsed(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let s = ms.unsigned_abs() / 1000;
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sign}{s}s"),
        (0, 0, m) => format!("{sign}{m}m"),
        (0, h, m) => format!("{sign}{h}h {m}m"),
        (d, h, _) => format!("{sign}{d}d {h}h"),
    }
}

/// The verification for a person.
pub fn render_human(v: &Verification) -> String {
    use std::fmt::Write as _;
    let s = &v.summary;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "verify: plan {} (as of {}), {} since, against {}",
        v.plan.file,
        v.plan.as_of,
        s.since_plan,
        v.exports.iter().map(|e| e.file.as_str()).collect::<Vec<_>>().join(" then ")
    );
    let _ = writeln!(
        out,
        "changes: {} — {} done, {} not done, {} reverted (completion {:.1}%)",
        s.changes,
        s.done,
        s.not_done,
        s.reverted,
        s.completion_rate * 100.0
    );
    let _ = writeln!(
        out,
        "leavers: {} ({}) — {} of {} changes done (completion {:.1}%), {} grants still held",
        s.leavers,
        v.leavers_from,
        s.leaver_done,
        s.leaver_changes,
        s.leaver_completion_rate * 100.0,
        s.leaver_grants_remaining
    );
    let pending: Vec<&CheckedChange> = v.changes.iter().filter(|c| c.status != Status::Done).collect();
    if !pending.is_empty() {
        let _ = writeln!(out, "\nnot carried out:");
        for c in pending {
            let status = match c.status {
                Status::Reverted => "reverted",
                _ => "not done",
            };
            let op = match c.change.op {
                Op::Grant => "grant",
                Op::Revoke => "revoke",
            };
            let _ = writeln!(
                out,
                "  {status:<9} {op:<6} {}  {}{}",
                c.change.identity,
                c.change.entitlement,
                if c.leaver { "  (leaver)" } else { "" }
            );
        }
    }
    if !v.leaver_grants_remaining.is_empty() {
        let _ = writeln!(out, "\nleavers still holding access ({} since the plan):", s.since_plan);
        for g in &v.leaver_grants_remaining {
            let _ = writeln!(
                out,
                "  {}  {}{}",
                g.identity,
                g.entitlement,
                if g.in_plan { "" } else { "  (not in the plan)" }
            );
        }
    }
    let _ = writeln!(
        out,
        "\n{}",
        if s.leavers_complete {
            "leavers' access is fully removed"
        } else {
            "leavers' access is NOT fully removed"
        }
    );
    crate::who::safe_lines(&out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::live::parse_live;

    fn export(name: &str, grants: &str) -> LiveFile {
        parse_live(name, grants.as_bytes(), None, None).unwrap()
    }

    #[test]
    fn each_change_is_done_not_done_or_reverted_on_the_exports_in_time_order() {
        let plan = read_plan(
            "plan.json",
            br#"{"as_of": "2026-11-21T00:00:00Z", "changes": [
                {"op": "revoke", "identity": "u-1", "entitlement": "a:x", "reason": "not-justified"},
                {"op": "revoke", "identity": "u-2", "entitlement": "a:x", "reason": "orphaned-account"},
                {"op": "grant", "identity": "u-3", "entitlement": "a:y", "because": []}],
              "orphaned_accounts": [{"identity": "u-2", "entitlements": 1}], "extra": true}"#,
        )
        .unwrap();
        let after = export("after.csv", "u-3,a:y\nu-2,a:x\n");
        let today = export("today.csv", "u-1,a:x\nu-2,a:x\nu-2,a:z\n");
        let v = verify(
            &plan,
            &[after, today],
            &Leavers::orphaned_only(&plan),
            Instant::parse("2026-11-24T06:00:00Z").unwrap(),
        )
        .unwrap();
        let statuses: Vec<Status> = v.changes.iter().map(|c| c.status).collect();
        // u-1's revocation was done right after, then undone; u-2's was never done; u-3's grant was removed again.
        assert_eq!(statuses, [Status::Reverted, Status::NotDone, Status::Reverted]);
        assert_eq!(v.summary.since_plan, "3d 6h");
        assert_eq!(v.summary.leaver_grants_remaining, 2);
        assert!(!v.summary.leavers_complete);
        assert_eq!(
            v.leaver_grants_remaining[1],
            RemainingGrant {
                identity: "u-2".into(),
                entitlement: "a:z".into(),
                in_plan: false
            }
        );
    }

    #[test]
    fn a_refused_plan_is_an_error() {
        let e = read_plan(
            "p.json",
            br#"{"as_of": "2026-11-21T00:00:00Z", "refused": "would revoke 900 grants", "changes": []}"#,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "`p.json` is a refused plan (would revoke 900 grants): it carries no changes, so there is nothing to verify; verify the plan that was carried out");
        let e = read_plan("p.json", b"{\"as_of\": \"2026-11-21\",\n \"changes\": [{\"op\": \"grnt\"}]}").unwrap_err();
        assert!(e.to_string().starts_with("p.json:2:"), "{e}");
    }
}
