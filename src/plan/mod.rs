//! The plan: desired state against live state, as grants and revocations
//! with reasons, metrics, violations and the safety guards of spec §8.
//!
//! Invariants: an invalid identity record, or an identity whose owner's
//! record is invalid, never produces a change; orphaned-account revocations
//! are held back while the feed has uncertain stretches (ids it could not
//! read with certainty, see [`crate::io`]); a plan that trips
//! a guard carries no changes unless forced (its summary counts what it would have done). Output order is deterministic.
//!
//! The plan streams: each identity is evaluated and diffed on its own, on
//! every core, against the live index ([`live_index`]), and only what the
//! plan outputs is kept — never every desired set at once. Its parts are
//! shared with what-if: the diff of sorted ids ([`diff`]), SoD rules
//! ([`sod`]), revocation reasons ([`reasons`]).

pub mod diff;
pub mod governance;
pub mod guards;
pub(crate) mod live_index;
pub mod reasons;
pub mod render;
pub(crate) mod sod;
mod types;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::catalog::{Catalog, EntitlementId};
use crate::eval::{DesiredSet, EvalError, Evaluator};
use crate::io::live::LiveFile;
use crate::population::{GluedRecord, OwnerRecord, Population};
use crate::project::Project;
use crate::state::{AssignmentStatus, IdentityState};
use crate::time::Instant;

pub use governance::exception_diagnostics;
pub use guards::{GuardLimits, Limit};
pub use types::*;

use diff::sorted_diff;
use live_index::LiveIndex;
use sod::SodRules;

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of the compiled policy set (schema, policies, entities), taken once per project.
pub fn policy_sha256(project: &Project) -> String {
    project.policy_sha256.get_or_init(|| hash_policy_set(project)).clone()
}

fn hash_policy_set(project: &Project) -> String {
    let c = &project.compiled;
    // The three texts NUL-separated, hashed in place (a large organisation's are tens of megabytes).
    let mut hash = Sha256::new();
    for (i, text) in [&c.schema_text, &c.policies_text, &c.entities_json].into_iter().enumerate() {
        if i > 0 {
            hash.update([0u8]);
        }
        hash.update(text.as_bytes());
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
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

/// Computes plans with one evaluator and one set of options.
///
/// ```
/// # use std::sync::Arc;
/// # use entitle::eval::Engine;
/// # use entitle::project::{Project, Sources};
/// # use entitle::model::SourceFile;
/// use entitle::io::live::LiveFile;
/// use entitle::plan::{PlanOptions, Planner};
/// use entitle::population::Population;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let roles = "identity:\n  attributes:\n    status: { type: enum, values: [active, terminated], required: true }\napplications:\n  - id: slack\n    entitlements: [{ id: member }]\nroles:\n  - id: employee\n    when: { status: active }\n    grants: [slack:member]\n";
/// # let project = Arc::new(Project::from_sources(&Sources { roles: vec![SourceFile { name: "roles/org.yaml".into(), text: roles.into() }], policies: vec![] })?);
/// let engine = Engine::new(project.clone())?;
/// let population = Population::from_json_lines(r#"{"id": "u-1", "kind": "person", "attributes": {"status": "active"}}"#, &project.defs)?;
/// // Live grants a connector fetched: built in memory, no file in between.
/// let live = LiveFile::from_grants("connector", [("u-1", "slack:member")])?;
///
/// let plan = Planner::new(&engine, PlanOptions::new(entitle::Instant::parse("2026-11-21")?)).plan(&population, &[live])?;
/// assert!(!plan.has_changes());
/// # Ok(())
/// # }
/// ```
pub struct Planner<'a> {
    evaluator: &'a dyn Evaluator,
    options: PlanOptions,
    progress: Option<&'a (dyn Fn(u64) + Sync)>,
}

impl<'a> Planner<'a> {
    /// Plans with `evaluator` (which names the definitions) and `options`.
    pub fn new(evaluator: &'a dyn Evaluator, options: PlanOptions) -> Planner<'a> {
        Planner {
            evaluator,
            options,
            progress: None,
        }
    }

    /// Calls `progress(n)` as `n` more identities of the feed are done (from many threads).
    pub fn with_progress(mut self, progress: &'a (dyn Fn(u64) + Sync)) -> Planner<'a> {
        self.progress = Some(progress);
        self
    }

    /// The options it plans with.
    pub fn options(&self) -> &PlanOptions {
        &self.options
    }

    /// The plan for `population` against the `live` grants (one [`LiveFile`]
    /// per export or connector; read from files with [`crate::io::live`], or
    /// built in memory with [`LiveFile::from_grants`]).
    pub fn plan(&self, population: &Population, live: &[LiveFile]) -> Result<Plan, EvalError> {
        plan(self.evaluator, population, live, &self.options, self.progress.unwrap_or(&|_| ()))
    }
}

/// Computes the plan.
fn plan(
    evaluator: &dyn Evaluator,
    population: &Population,
    live: &[LiveFile],
    options: &PlanOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Plan, EvalError> {
    let project: &Project = evaluator.project();
    let catalog = project.catalog();
    let index = LiveIndex::new(catalog, live);
    let feed = &population.feed;
    // A CSV row that may be two records glued together makes the feed as uncertain as a broken one.
    let glued = population.glued_records(index.identities().map(|(id, _)| id));
    let run = Run {
        project,
        catalog,
        evaluator,
        population,
        index: &index,
        sod: SodRules::new(project),
        at: options.as_of,
        governance: options.governance,
        uncertainty: feed.uncertainty().or_else(|| glued.first().map(|g| g.reason(&feed.file))),
        glued,
    };

    // Feed identities in id order, each evaluated and diffed on its own.
    let mut order: Vec<&IdentityState> = feed.identities.iter().collect();
    order.par_sort_unstable_by(|a, b| a.id.cmp(&b.id));
    let in_feed: Vec<Outcome> = order
        .par_iter()
        .map(|identity| {
            let outcome = run.identity(identity);
            progress(1);
            outcome
        })
        .collect::<Result<_, _>>()?;
    // Live identities the feed does not have, in id order.
    let orphans: Vec<Outcome> = index
        .identities()
        .filter(|(id, _)| population.get(id).is_none() && !population.is_invalid(id))
        .map(|(id, held)| run.orphan(id, held))
        .collect();

    let mut plan = run.assemble(merge_by_identity(in_feed, orphans), live);
    weigh_guards(&mut plan, catalog, population, &index, options);
    Ok(plan)
}

/// Weighs the safety guards over a finished plan: a tripped guard refuses it (no change is
/// emitted) or, under `force`, is recorded as overridden.
pub(crate) fn weigh_guards(plan: &mut Plan, catalog: &Catalog, population: &Population, index: &LiveIndex<'_>, options: &PlanOptions) {
    let privileged = |e: &str| catalog.entitlements.id(e).is_some_and(|e| catalog.entitlement(e).privileged);
    let feed = &population.feed;
    let tripped = guards::check(
        plan,
        feed.identities.len() + feed.invalid.len(),
        index.identity_count(),
        &options.limits,
        &privileged,
    );
    if !tripped.is_empty() {
        if options.force {
            plan.forced = tripped;
        } else {
            plan.refused = Some(tripped.join("; "));
            // No change is emitted; the summary still counts what the plan would have done,
            // so a reviewer sees the size of what was refused, not zeros beside the refusal.
            plan.changes.clear();
        }
    }
}

/// What one identity contributes to the plan.
#[derive(Debug, Default)]
struct Outcome {
    /// Its approved exceptions, by id.
    exceptions: Vec<ExceptionOutcome>,
    /// Its dormant live grants, by entitlement.
    dormant: Vec<DormantGrant>,
    /// The identity (for merging feed identities with orphaned accounts).
    identity: String,
    /// Its grants and revocations, by entitlement.
    changes: Vec<Change>,
    sod_violations: Vec<SodViolation>,
    expired_assignments: Vec<ExpiredAssignment>,
    orphaned_account: Option<OrphanedAccount>,
    held_back: Option<HeldBack>,
    tally: Tally,
}

/// Counts for the summary, added up over identities.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    desired: usize,
    live: usize,
    both: usize,
    union: usize,
    /// Of `both`, revoked as dormant (so not unchanged).
    dormant_revoked: usize,
}

/// Everything the per-identity work reads, shared by every thread.
struct Run<'a> {
    project: &'a Project,
    catalog: &'a Catalog,
    evaluator: &'a dyn Evaluator,
    population: &'a Population,
    index: &'a LiveIndex<'a>,
    sod: SodRules,
    at: Instant,
    governance: GovernanceOptions,
    /// Why ids in the feed are uncertain, if they are.
    uncertainty: Option<String>,
    glued: Vec<GluedRecord>,
}

impl Run<'_> {
    /// An identity of the feed: its expired assignments, SoD violations, and
    /// — unless its desired state is in doubt — its changes.
    fn identity(&self, identity: &IdentityState) -> Result<Outcome, EvalError> {
        let owner = self.population.owner_of(identity);
        let held = self.index.held(&identity.id);
        let desired = self.evaluator.desired(identity, owner.record(), self.at)?;
        let wanted = desired.entitlement_ids();
        let mut out = Outcome {
            identity: identity.id.clone(),
            expired_assignments: self.expired_assignments(identity),
            ..Outcome::default()
        };
        out.sod_violations = self.sod.violations(self.catalog, &identity.id, wanted, StateKind::Desired);
        out.sod_violations
            .extend(self.sod.violations(self.catalog, &identity.id, held, StateKind::Live));
        out.sod_violations.sort_by(|a, b| (&a.rule, a.state).cmp(&(&b.rule, b.state)));

        if let Some(reason) = self.doubt(identity, owner) {
            out.held_back = Some(HeldBack {
                identity: identity.id.clone(),
                reason,
            });
            out.exceptions = self.exceptions(&identity.id, None);
            return Ok(out);
        }
        let diff = sorted_diff(wanted, held);
        out.tally = Tally {
            desired: wanted.len(),
            live: held.len(),
            both: diff.both,
            union: diff.union(),
            dormant_revoked: 0,
        };
        // Grants and revocations interleaved by entitlement id, which is string order.
        let (grants, revokes) = (&diff.only_first, &diff.only_second);
        let (mut g, mut r) = (0, 0);
        while g < grants.len() || r < revokes.len() {
            if r == revokes.len() || (g < grants.len() && grants[g] < revokes[r]) {
                out.changes.push(self.grant(identity, &desired, grants[g]));
                g += 1;
            } else {
                let name = self.catalog.entitlements.name(revokes[r]);
                out.changes.push(reasons::revocation(
                    self.project,
                    self.evaluator,
                    identity,
                    owner.record(),
                    self.at,
                    name,
                )?);
                r += 1;
            }
        }
        out.dormant = self.dormant(identity, &desired, held, &mut out.changes);
        out.tally.dormant_revoked = out.dormant.iter().filter(|d| d.action == "revoke").count();
        out.exceptions = self.exceptions(&identity.id, Some((&desired, held, &out.changes)));
        Ok(out)
    }

    /// What each approved exception of `identity` does: given its desired
    /// set, live grants and changes (`None` when its changes are held back).
    fn exceptions(&self, identity: &str, evaluated: Option<(&DesiredSet, &[EntitlementId], &[Change])>) -> Vec<ExceptionOutcome> {
        let c = self.catalog;
        c.exceptions_of(identity)
            .iter()
            .filter_map(|x| {
                let name = c.exceptions.name(*x);
                let def = self.project.defs.exceptions.get(name)?;
                let info = c.exception(*x);
                let mut out = governance::exception_outcome(def, self.at, self.governance.warn_expiring);
                let active = out.status == ExceptionState::Active;
                let Some((desired, held, changes)) = evaluated else {
                    return Some(out);
                };
                for e in info.entitlements.iter() {
                    let entitlement = c.entitlements.name(*e);
                    if active {
                        if let Some(by) = desired.forbidden_by(entitlement) {
                            out.overridden.push(Overridden {
                                entitlement: entitlement.to_string(),
                                forbidden_by: by.join(", "),
                            });
                            continue;
                        }
                        let only_exceptions = desired
                            .justification_ids(*e)
                            .is_some_and(|js| js.iter().all(|j| c.justification_exception(*j).is_some()));
                        if !only_exceptions {
                            continue;
                        }
                        if held.binary_search(e).is_ok() {
                            out.kept.push(entitlement.to_string());
                        } else {
                            out.granted.push(entitlement.to_string());
                        }
                    } else if changes
                        .iter()
                        .any(|ch| matches!(ch, Change::Revoke { entitlement: n, reason: RevokeReason::ExceptionExpired, .. } if n == entitlement))
                    {
                        out.revoked.push(entitlement.to_string());
                    }
                }
                Some(out)
            })
            .collect()
    }

    /// The dormant live grants of `identity` (with `--dormant-after`); with
    /// `--revoke-dormant`, those it should still hold and no active exception
    /// covers become `dormant` revocations in `changes` (kept in entitlement order).
    fn dormant(
        &self,
        identity: &IdentityState,
        desired: &DesiredSet,
        held: &[EntitlementId],
        changes: &mut Vec<Change>,
    ) -> Vec<DormantGrant> {
        let Some(after) = self.governance.dormant_after else {
            return Vec::new();
        };
        let c = self.catalog;
        let mut out = Vec::new();
        let mut revoked = false;
        for e in held {
            let Some(used) = self.index.last_used(&identity.id, *e) else {
                continue;
            };
            let Some(idle_days) = governance::idle(used, self.at, after) else {
                continue;
            };
            let entitlement = c.entitlements.name(*e);
            let planned = changes.iter().find_map(|ch| match ch {
                Change::Revoke {
                    entitlement: n, reason, ..
                } if n == entitlement => Some(*reason),
                _ => None,
            });
            let excepted = desired
                .justification_ids(*e)
                .is_some_and(|js| js.iter().any(|j| c.justification_exception(*j).is_some()));
            let action = match planned {
                Some(reason) => reason.as_str(),
                None if excepted => "excepted",
                None if self.governance.revoke_dormant => {
                    changes.push(Change::Revoke {
                        identity: identity.id.clone(),
                        entitlement: entitlement.to_string(),
                        reason: RevokeReason::Dormant,
                        forbidden_by: None,
                        detail: Some(match idle_days {
                            Some(days) => format!("unused since {} ({days} days)", used),
                            None => "never used".to_string(),
                        }),
                    });
                    revoked = true;
                    "revoke"
                }
                None => "keep",
            };
            out.push(DormantGrant {
                identity: identity.id.clone(),
                kind: identity.kind.to_string(),
                entitlement: entitlement.to_string(),
                last_used: used.to_string(),
                idle_days,
                action: action.to_string(),
            });
        }
        if revoked {
            // Entitlement ids follow string order: the changes stay in it.
            changes.sort_by(|a, b| a.key().1.cmp(b.key().1));
        }
        out
    }

    fn grant(&self, identity: &IdentityState, desired: &DesiredSet, e: EntitlementId) -> Change {
        let entitlement = self.catalog.entitlements.name(e);
        Change::Grant {
            identity: identity.id.clone(),
            entitlement: entitlement.to_string(),
            because: desired.justifications(entitlement).unwrap_or_default(),
        }
    }

    /// Why this identity's changes cannot be trusted, if they cannot.
    fn doubt(&self, identity: &IdentityState, owner: OwnerRecord<'_>) -> Option<String> {
        if let Some(g) = self.glued.iter().find(|g| g.id == identity.id) {
            return Some(g.reason(&self.population.feed.file));
        }
        // An owner whose record is broken — or may be one of the records whose id
        // could not be read — leaves this identity's desired state unknown.
        let doubt = match (owner, &self.uncertainty) {
            (OwnerRecord::Invalid, _) => "has an invalid record".to_string(),
            (OwnerRecord::Unknown, Some(uncertainty)) => {
                format!("is not in the feed, but may be one of the records whose id could not be read ({uncertainty})")
            }
            _ => return None,
        };
        Some(format!(
            "its owner `{}` {doubt}, so its desired state is unknown",
            identity.owner.as_deref().unwrap_or_default()
        ))
    }

    /// The identity's assignments that no longer count: expired, or longer than their role allows.
    fn expired_assignments(&self, identity: &IdentityState) -> Vec<ExpiredAssignment> {
        identity
            .assignments
            .iter()
            .filter_map(|a| {
                let role = self.project.defs.roles.get(&a.role)?;
                let status = match a.status(self.at, role.max_duration) {
                    AssignmentStatus::Expired => "expired",
                    AssignmentStatus::ExceedsMaxDuration => "exceeds-max-duration",
                    _ => return None,
                };
                Some(ExpiredAssignment {
                    identity: identity.id.clone(),
                    role: a.role.clone(),
                    expired_at: a.expires.map(|e| e.to_rfc3339()),
                    status,
                    ticket: a.ticket.clone(),
                })
            })
            .collect()
    }

    /// A live identity the feed does not have: an orphaned account, whose
    /// grants are revoked unless the feed's ids are uncertain.
    fn orphan(&self, id: &str, held: &[EntitlementId]) -> Outcome {
        let mut out = Outcome {
            identity: id.to_string(),
            orphaned_account: Some(OrphanedAccount {
                identity: id.to_string(),
                entitlements: held.len(),
            }),
            sod_violations: self.sod.violations(self.catalog, id, held, StateKind::Live),
            tally: Tally {
                live: held.len(),
                union: held.len(),
                ..Tally::default()
            },
            ..Outcome::default()
        };
        if let Some(uncertainty) = &self.uncertainty {
            out.held_back = Some(HeldBack {
                identity: id.to_string(),
                reason: format!("{uncertainty}; one of those records may be this identity"),
            });
            return out;
        }
        out.changes = held
            .iter()
            .map(|e| Change::Revoke {
                identity: id.to_string(),
                entitlement: self.catalog.entitlements.name(*e).to_string(),
                reason: RevokeReason::OrphanedAccount,
                forbidden_by: None,
                detail: None,
            })
            .collect();
        out
    }

    /// The plan from every identity's outcome (in id order), before the guards.
    fn assemble(&self, outcomes: Vec<Outcome>, live: &[LiveFile]) -> Plan {
        let feed = &self.population.feed;
        let mut plan = Plan {
            as_of: self.at.to_rfc3339(),
            inputs: inputs(self.project, feed.sha256.clone(), live),
            summary: Summary {
                identities: feed.identities.len(),
                invalid_identities: feed.invalid.len(),
                ..Summary::default()
            },
            refused: None,
            forced: Vec::new(),
            changes: Vec::new(),
            sod_violations: Vec::new(),
            expired_assignments: Vec::new(),
            orphaned_accounts: Vec::new(),
            unmanaged: self
                .index
                .unmanaged()
                .iter()
                .map(|u| Unmanaged {
                    identity: u.identity.to_string(),
                    entitlement: u.entitlement.to_string(),
                    source: format!("{}:{}", u.file, u.line),
                })
                .collect(),
            invalid_identities: feed
                .invalid
                .iter()
                .map(|r| InvalidRecordOut {
                    identity: r.id.clone(),
                    identity_uncertain: r.id_uncertain,
                    file: feed.file.clone(),
                    line: r.line,
                    error: r.error.clone(),
                })
                .collect(),
            held_back: Vec::new(),
            exceptions: Vec::new(),
            dormant: Vec::new(),
        };
        let mut tally = Tally::default();
        for o in outcomes {
            tally.desired += o.tally.desired;
            tally.live += o.tally.live;
            tally.both += o.tally.both;
            tally.union += o.tally.union;
            tally.dormant_revoked += o.tally.dormant_revoked;
            plan.exceptions.extend(o.exceptions);
            plan.dormant.extend(o.dormant);
            plan.changes.extend(o.changes);
            plan.sod_violations.extend(o.sod_violations);
            plan.expired_assignments.extend(o.expired_assignments);
            plan.orphaned_accounts.extend(o.orphaned_account);
            plan.held_back.extend(o.held_back);
        }
        let s = &mut plan.summary;
        s.desired = tally.desired;
        s.live = tally.live;
        s.unchanged = tally.both - tally.dormant_revoked;
        // Exceptions of identities the feed does not hold (valid or not), after the others.
        let c = self.catalog;
        for (x, name) in c.exceptions.iter() {
            let identity = &*c.exception(x).identity;
            if self.population.get(identity).is_some() || self.population.is_invalid(identity) {
                continue;
            }
            if let Some(def) = self.project.defs.exceptions.get(name) {
                let mut out = governance::exception_outcome(def, self.at, self.governance.warn_expiring);
                out.status = ExceptionState::UnknownIdentity;
                out.expiring = false;
                plan.exceptions.push(out);
            }
        }
        plan.exceptions.sort_by(|a, b| a.id.cmp(&b.id));
        s.entitlement_accuracy = if tally.union == 0 {
            1.0
        } else {
            round6(tally.both as f64 / tally.union as f64)
        };
        for c in &plan.changes {
            match c {
                Change::Grant { .. } => s.grants += 1,
                Change::Revoke { reason, .. } => {
                    s.revokes += 1;
                    *s.revokes_by_reason.entry(reason.as_str().to_string()).or_default() += 1;
                }
            }
        }
        s.orphaned_accounts = plan.orphaned_accounts.len();
        s.sod_violations = plan.sod_violations.len();
        s.expired_assignments = plan.expired_assignments.len();
        plan
    }
}

/// Two lists of outcomes, each in identity order, merged into one.
fn merge_by_identity(a: Vec<Outcome>, b: Vec<Outcome>) -> Vec<Outcome> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let from_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => x.identity <= y.identity,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return out,
        };
        out.extend(if from_a { a.next() } else { b.next() });
    }
}

/// The hashes of what the plan was computed from.
fn inputs(project: &Project, identities_sha256: String, live: &[LiveFile]) -> Inputs {
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
    Inputs {
        policy_sha256: policy_sha256(project),
        identities_sha256,
        live_sha256,
        live_files,
    }
}

fn round6(x: f64) -> f64 {
    (x * 1_000_000.0).round() / 1_000_000.0
}
