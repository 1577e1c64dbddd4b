//! What-if: who gains and who loses what when something changes — the
//! definitions (a role edited in a pull request), the population (a mover,
//! a leaver, a joiner, an owner re-parented), or the instant (what changes
//! on its own by next month).
//!
//! A comparison evaluates a population in two [`State`]s — each a project,
//! an evaluator, a population and an instant — and reports, per identity,
//! the entitlements and roles gained and lost with their reasons (the
//! justification that now grants it; the guardrail, expiry or failing
//! condition that takes it away), totals per entitlement, and the SoD
//! violations that appear or disappear. It is built on the parts `plan`
//! uses: [`crate::plan::diff`] for the sorted difference,
//! [`crate::plan::sod`] for the SoD rules, [`crate::plan::reasons`] for what
//! assignments say; [`crate::eval::explain::RoleReasons`] says why a role no
//! longer applies.
//!
//! Only what can change is evaluated: a [`Scope`] names the identities a
//! change can reach ([`scope::between`]: those whose record differs and the
//! identities they own; for a definitions change, those the role index says
//! could hold a role that differs), or everyone when the change cannot be
//! bounded (it says why). `tests/whatif_property.rs` holds incremental ==
//! full on random policy changes.
//!
//! It never writes anything and never decides a verdict: the evaluators do.
//! Output is sorted, so the same inputs give byte-identical JSON.
//!
//! # A mover, previewed from a workflow
//!
//! ```
//! # use std::sync::Arc;
//! # use entitle::eval::Engine;
//! # use entitle::model::SourceFile;
//! # use entitle::project::{Project, Sources};
//! use entitle::io::identities::parse_identities;
//! use entitle::population::Population;
//! use entitle::whatif::{compare, edit::{apply, Edit}, scope, LossReason, State};
//! # let roles = "identity:\n  attributes:\n    status: { type: enum, values: [active, terminated], required: true }\n    department: { type: string }\napplications:\n  - id: aws\n    entitlements: [{ id: readonly }]\n  - id: netsuite\n    entitlements: [{ id: viewer }]\nroles:\n  - id: engineer\n    when: { status: active, department: Engineering }\n    grants: [aws:readonly]\n  - id: finance\n    when: { status: active, department: Finance }\n    grants: [netsuite:viewer]\n";
//! # let sources = Sources { roles: vec![SourceFile { name: "roles/org.yaml".into(), text: roles.into() }], policies: vec![] };
//! # let project = Arc::new(Project::from_sources(&sources).unwrap());
//! let engine = Engine::new(project.clone()).unwrap();
//! let hr = r#"{"id": "u-1042", "kind": "person", "attributes": {"status": "active", "department": "Engineering"}}"#;
//! let today = Population::new(parse_identities("hr.jsonl", hr.as_bytes(), None, &project.defs).unwrap());
//!
//! // What happens when u-1042 moves to Finance on Monday?
//! let monday = apply(&project, &today, &[Edit::set("u-1042.department=Finance").unwrap()]).unwrap();
//! let at = entitle::Instant::parse("2026-11-23").unwrap();
//! let before = State { label: "today", project: &project, evaluator: &engine, population: &today, at };
//! let after = State { label: "monday", population: &monday, ..before };
//! let scope = scope::between(&before, &after, Some((&engine, &engine)));
//! let whatif = compare(&before, &after, &scope, &|_| ()).unwrap();
//!
//! let change = &whatif.changes[0];
//! assert_eq!((change.gained.as_slice(), change.lost.as_slice()), (&["netsuite:viewer".to_string()][..], &["aws:readonly".to_string()][..]));
//! assert_eq!(change.because["netsuite:viewer"][0].role.as_deref(), Some("finance"));
//! let loss = &change.lost_because["aws:readonly"];
//! assert_eq!(loss.reason, LossReason::NotJustified);
//! assert_eq!(loss.roles[0].reasons, ["`department: Engineering` (roles/org.yaml:12) fails: `department` is `Finance`"]);
//! ```

pub mod edit;
pub mod render;
pub mod scope;
pub mod timeline;
mod types;

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;

use crate::catalog::{Catalog, EntitlementId};
use crate::eval::explain::RoleReasons;
use crate::eval::{DesiredSet, EvalError, Evaluator, Justification};
use crate::io::identities::InvalidRecord;
use crate::plan::diff::sorted_diff;
use crate::plan::reasons::{assignment_reason, expired_exception};
use crate::plan::sod::SodRules;
use crate::plan::{policy_sha256, HeldBack, RevokeReason, SodViolation, StateKind};
use crate::population::{OwnerRecord, Population};
use crate::project::Project;
use crate::state::IdentityState;
use crate::time::Instant;

pub use scope::Scope;
pub use types::*;

/// One state of the world: definitions (with the evaluator that answers for
/// them), a population, an instant.
#[derive(Clone, Copy)]
pub struct State<'a> {
    /// What the output calls it (`base HEAD~1`, `working tree`).
    pub label: &'a str,
    /// The definitions.
    pub project: &'a Project,
    /// The evaluator for `project`.
    pub evaluator: &'a dyn Evaluator,
    /// The identities.
    pub population: &'a Population,
    /// The instant of evaluation.
    pub at: Instant,
}

impl<'a> State<'a> {
    fn label(&self) -> StateLabel {
        StateLabel {
            label: self.label.to_string(),
            as_of: self.at.to_rfc3339(),
            policy_sha256: policy_sha256(self.project),
        }
    }

    /// What the population says of `id`.
    fn presence(&self, id: &str) -> Presence<'a> {
        match self.population.get(id) {
            Some(identity) => match self.population.owner_of(identity) {
                OwnerRecord::Invalid => Presence::OwnerInvalid,
                owner => Presence::Valid(identity, owner.record()),
            },
            None if self.population.is_invalid(id) => Presence::Invalid,
            None => Presence::Absent,
        }
    }
}

/// The valid record of `id` and its owner's, when the population has them.
fn record<'a>(state: &State<'a>, id: &str) -> Option<(&'a IdentityState, Option<&'a IdentityState>)> {
    match state.presence(id) {
        Presence::Valid(identity, owner) => Some((identity, owner)),
        _ => None,
    }
}

/// What one side's population says of an identity.
#[derive(Debug, Clone, Copy)]
enum Presence<'a> {
    /// Not in the population.
    Absent,
    /// Its record is invalid.
    Invalid,
    /// Its owner's record is invalid: its desired state is unknown.
    OwnerInvalid,
    /// A valid record, with its owner's when known.
    Valid(&'a IdentityState, Option<&'a IdentityState>),
}

/// Compares the population in two states: every identity `scope` names is
/// evaluated in both, and each one whose entitlements, roles or SoD
/// violations differ is reported with the reasons. Records invalid on either
/// side, and identities whose owner's record is invalid on either side, are
/// listed and never compared. `progress` is called once per identity evaluated.
pub fn compare(before: &State<'_>, after: &State<'_>, scope: &Scope, progress: &(dyn Fn(u64) + Sync)) -> Result<WhatIf, EvalError> {
    let run = Run::new(before.project, after.project)?;
    let ids: Vec<&str> = match scope {
        Scope::Everyone { .. } => union_of_ids(before.population, after.population),
        Scope::Only { identities, .. } => identities.iter().map(String::as_str).collect(),
    };
    let outcomes: Vec<Option<Outcome>> = ids
        .par_iter()
        .map(|id| {
            let outcome = run.identity(before, after, id);
            progress(1);
            outcome
        })
        .collect::<Result<_, _>>()?;
    let evaluation = Evaluation {
        mode: match scope {
            Scope::Everyone { .. } => EvaluationMode::Full,
            Scope::Only { .. } => EvaluationMode::Incremental,
        },
        identities: match scope {
            Scope::Everyone { .. } => ids.len(),
            Scope::Only { .. } => count_union(before.population, after.population),
        },
        evaluated: ids.len(),
        reason: scope.reason().to_string(),
    };
    let (before_label, after_label) = labels(before, after);
    let mut out = WhatIf {
        before: before_label,
        after: after_label,
        evaluation,
        summary: Summary::default(),
        entitlements: Vec::new(),
        changes: Vec::new(),
        sod_violations: Vec::new(),
        invalid_identities: invalid_identities(before.population, after.population),
        held_back: held_back(before, after),
    };
    for outcome in outcomes.into_iter().flatten() {
        out.changes.push(outcome.change);
        out.sod_violations.extend(outcome.sod);
    }
    out.changes.sort_by(|a, b| a.identity.cmp(&b.identity));
    out.sod_violations
        .sort_by(|a, b| (&a.identity, &a.rule, a.change).cmp(&(&b.identity, &b.rule, b.change)));
    let privileged = |e: &str| run.privileged(before.project.catalog(), after.project.catalog(), e);
    out.entitlements = totals(&out.changes, &privileged);
    out.summary = summary(&out, &privileged);
    Ok(out)
}

/// How the output names both states: the policy hashes (of tens of
/// megabytes for a large organisation) taken once per project, in parallel.
fn labels(before: &State<'_>, after: &State<'_>) -> (StateLabel, StateLabel) {
    if std::ptr::eq(before.project, after.project) {
        let b = before.label();
        let a = StateLabel {
            label: after.label.to_string(),
            as_of: after.at.to_rfc3339(),
            policy_sha256: b.policy_sha256.clone(),
        };
        (b, a)
    } else {
        rayon::join(|| before.label(), || after.label())
    }
}

/// How many valid ids the two populations hold together (each id once: a
/// population's valid ids are distinct).
fn count_union(before: &Population, after: &Population) -> usize {
    if std::ptr::eq(before, after) {
        return before.feed.identities.len();
    }
    after.feed.identities.len() + before.feed.identities.iter().filter(|i| after.get(&i.id).is_none()).count()
}

/// The valid ids of both populations, sorted, each once.
fn union_of_ids<'a>(before: &'a Population, after: &'a Population) -> Vec<&'a str> {
    let mut ids: Vec<&str> = before.feed.identities.iter().map(|i| i.id.as_str()).collect();
    if !std::ptr::eq(before, after) {
        ids.extend(after.feed.identities.iter().map(|i| i.id.as_str()));
    }
    ids.par_sort_unstable();
    ids.dedup();
    ids
}

/// What one identity contributes.
#[derive(Debug)]
struct Outcome {
    change: IdentityChange,
    sod: Vec<SodChange>,
}

/// One identity's state on one side, evaluated.
struct Evaluated<'a, 'd> {
    /// Its record and its owner's (`None`: not in the population).
    record: Option<(&'a IdentityState, Option<&'a IdentityState>)>,
    /// Its desired state (`None`: not in the population).
    desired: Option<&'d DesiredSet>,
}

/// What a comparison between two projects prepares once.
struct Run<'p> {
    before: &'p Project,
    after: &'p Project,
    scale: Scale,
    sod_before: SodRules,
    sod_after: SodRules,
    /// Why roles no longer apply, under the `after` definitions.
    reasons: RoleReasons,
}

impl<'p> Run<'p> {
    fn new(before: &'p Project, after: &'p Project) -> Result<Run<'p>, EvalError> {
        let same = std::ptr::eq(before, after);
        let sod_after = SodRules::new(after);
        Ok(Run {
            before,
            after,
            scale: Scale::new(before.catalog(), after.catalog()),
            sod_before: if same { sod_after.clone() } else { SodRules::new(before) },
            sod_after,
            reasons: RoleReasons::new(after)?,
        })
    }

    fn privileged(&self, before: &Catalog, after: &Catalog, entitlement: &str) -> bool {
        match after.entitlements.id(entitlement) {
            Some(e) => after.entitlement(e).privileged,
            None => before
                .entitlements
                .id(entitlement)
                .is_some_and(|e| before.entitlement(e).privileged),
        }
    }

    /// One identity in both states: `None` when nothing differs, or when it
    /// cannot be compared (an invalid record, an invalid owner: listed apart).
    fn identity(&self, before: &State<'_>, after: &State<'_>, id: &str) -> Result<Option<Outcome>, EvalError> {
        let evaluate = |state: &State<'_>| -> Result<Option<Option<DesiredSet>>, EvalError> {
            Ok(match state.presence(id) {
                Presence::Invalid | Presence::OwnerInvalid => None,
                Presence::Absent => Some(None),
                Presence::Valid(identity, owner) => Some(Some(state.evaluator.desired(identity, owner, state.at)?)),
            })
        };
        let (Some(db), Some(da)) = (evaluate(before)?, evaluate(after)?) else {
            return Ok(None);
        };
        let b = Evaluated {
            record: record(before, id),
            desired: db.as_ref(),
        };
        let a = Evaluated {
            record: record(after, id),
            desired: da.as_ref(),
        };
        Ok(self.change(id, &b, &a, after.at))
    }

    /// The change from `b` to `a` for identity `id`, reasons taken at `at` (the after state's instant).
    fn change(&self, id: &str, b: &Evaluated<'_, '_>, a: &Evaluated<'_, '_>, at: Instant) -> Option<Outcome> {
        let (cb, ca) = (self.before.catalog(), self.after.catalog());
        let eb = self.scale.before_ids(b.desired);
        let ea = self.scale.after_ids(a.desired);
        let entitlements = sorted_diff(&ea, &eb);
        let rb: Vec<&str> = b.desired.iter().flat_map(|d| d.roles()).collect();
        let ra: Vec<&str> = a.desired.iter().flat_map(|d| d.roles()).collect();
        let roles = sorted_diff(&ra, &rb);
        let sod = self.sod_changes(id, b.desired, a.desired);
        if entitlements.only_first.is_empty()
            && entitlements.only_second.is_empty()
            && roles.only_first.is_empty()
            && roles.only_second.is_empty()
            && sod.is_empty()
        {
            return None;
        }
        let mut change = IdentityChange {
            identity: id.to_string(),
            gained: Vec::with_capacity(entitlements.only_first.len()),
            lost: Vec::with_capacity(entitlements.only_second.len()),
            roles_gained: roles.only_first.iter().map(|r| r.to_string()).collect(),
            roles_lost: roles.only_second.iter().map(|r| r.to_string()).collect(),
            because: BTreeMap::new(),
            lost_because: BTreeMap::new(),
        };
        for m in &entitlements.only_first {
            let name = self.scale.name(*m, cb, ca);
            let because = a.desired.and_then(|d| d.justifications(name)).unwrap_or_default();
            change.gained.push(name.to_string());
            change.because.insert(name.to_string(), because);
        }
        // Why each role no longer applies, worked out once per identity.
        let mut role_reasons: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for m in &entitlements.only_second {
            let name = self.scale.name(*m, cb, ca);
            let was = b.desired.and_then(|d| d.justifications(name)).unwrap_or_default();
            let loss = self.loss(name, was, a, at, self.scale.names[*m as usize].1.is_some(), &mut role_reasons);
            change.lost.push(name.to_string());
            change.lost_because.insert(name.to_string(), loss);
        }
        Some(Outcome { change, sod })
    }

    /// Why the identity of `a` loses `entitlement`, which `was` justified.
    fn loss(
        &self,
        entitlement: &str,
        was: Vec<Justification>,
        a: &Evaluated<'_, '_>,
        at: Instant,
        in_catalog: bool,
        role_reasons: &mut BTreeMap<String, Vec<String>>,
    ) -> Loss {
        let mut loss = Loss {
            reason: LossReason::NotJustified,
            forbidden_by: Vec::new(),
            detail: None,
            was,
            roles: Vec::new(),
        };
        let (Some((identity, owner)), Some(desired)) = (a.record, a.desired) else {
            loss.reason = LossReason::Removed;
            loss.detail = Some("the identity is no longer in the population".into());
            return loss;
        };
        if !in_catalog {
            loss.reason = LossReason::NotInCatalog;
            loss.detail = Some(format!("`{entitlement}` is no longer in the catalog"));
            return loss;
        }
        if let Some(by) = desired.forbidden_by(entitlement) {
            loss.reason = LossReason::Forbidden;
            loss.forbidden_by = by.into_iter().map(str::to_string).collect();
            return loss;
        }
        if let Some(detail) = expired_exception(self.after, &identity.id, at, entitlement) {
            loss.reason = LossReason::ExceptionExpired;
            loss.detail = Some(detail);
        } else if let Some((reason, detail)) = assignment_reason(self.after, identity, at, entitlement) {
            loss.reason = match reason {
                RevokeReason::ExpiredAssignment => LossReason::ExpiredAssignment,
                _ => LossReason::NotJustified,
            };
            loss.detail = Some(detail);
        }
        // Each role (or permit) that granted it, once, in the order of the justifications.
        let mut seen = BTreeSet::new();
        let grants: Vec<(Option<&str>, &str)> = loss
            .was
            .iter()
            .filter(|j| seen.insert(j.policy.as_str()))
            .map(|j| (j.role.as_deref(), j.policy.as_str()))
            .collect();
        let mut roles = Vec::with_capacity(grants.len());
        for (role, policy) in grants {
            roles.push(match role {
                Some(role) => self.role_lost(role, policy, entitlement, identity, owner, desired, at, role_reasons),
                None => self.permit_lost(policy, identity, at),
            });
        }
        loss.roles = roles.into_iter().flatten().collect();
        loss
    }

    /// Why `role` no longer grants `entitlement` to `identity`, unless it still does.
    #[allow(clippy::too_many_arguments)]
    fn role_lost(
        &self,
        role: &str,
        policy: &str,
        entitlement: &str,
        identity: &IdentityState,
        owner: Option<&IdentityState>,
        desired: &DesiredSet,
        at: Instant,
        role_reasons: &mut BTreeMap<String, Vec<String>>,
    ) -> Option<GrantLost> {
        let lost = |source: Option<String>, reasons: Vec<String>| GrantLost {
            role: Some(role.to_string()),
            policy: policy.to_string(),
            source,
            reasons,
        };
        let Some(def) = self.after.defs.roles.get(role) else {
            return Some(lost(None, vec![format!("role `{role}` no longer exists")]));
        };
        let source = Some(def.source.file_line());
        let grants = self.after.graph.role_grants.get(role).is_some_and(|g| g.contains_key(entitlement));
        if !grants {
            return Some(lost(source, vec![format!("role `{role}` no longer grants `{entitlement}`")]));
        }
        if desired.holds_role(role) {
            return None;
        }
        let reasons = role_reasons
            .entry(role.to_string())
            .or_insert_with(|| self.reasons.why_not(self.after, identity, owner, at, def, false))
            .clone();
        Some(lost(source, reasons))
    }

    /// Why a hand-written permit (or an approved exception) no longer grants to `identity`.
    fn permit_lost(&self, policy: &str, identity: &IdentityState, at: Instant) -> Option<GrantLost> {
        let info = self.after.compiled.info.get(policy).filter(|i| !i.forbid);
        let exception = policy.strip_prefix(crate::compile::EXCEPTION_POLICY_PREFIX);
        let reason = match (info, exception) {
            (None, Some(id)) => format!("exception `{id}` no longer exists"),
            (Some(_), Some(id)) => match self.after.defs.exceptions.get(id) {
                Some(x) if x.expires <= at => format!("exception `{id}` expired at {} (ticket {})", x.expires, x.ticket),
                Some(x) if x.identity != identity.id => format!("exception `{id}` now names `{}`", x.identity),
                _ => format!("exception `{id}` no longer allows it"),
            },
            (None, None) => format!("hand-written permit `{policy}` no longer exists"),
            (Some(_), None) => format!("hand-written permit `{policy}` no longer applies to `{}`", identity.id),
        };
        Some(GrantLost {
            role: None,
            policy: policy.to_string(),
            source: info.map(|i| i.source.file_line()),
            reasons: vec![reason],
        })
    }

    /// SoD violations of the desired state that appear or disappear.
    fn sod_changes(&self, id: &str, before: Option<&DesiredSet>, after: Option<&DesiredSet>) -> Vec<SodChange> {
        let violations = |rules: &SodRules, project: &Project, d: Option<&DesiredSet>| -> Vec<SodViolation> {
            d.map(|d| rules.violations(project.catalog(), id, d.entitlement_ids(), StateKind::Desired))
                .unwrap_or_default()
        };
        let vb = violations(&self.sod_before, self.before, before);
        let va = violations(&self.sod_after, self.after, after);
        if vb.is_empty() && va.is_empty() {
            return Vec::new();
        }
        let key = |v: &SodViolation| (v.rule.clone(), v.sides.clone());
        let kb: BTreeSet<_> = vb.iter().map(key).collect();
        let ka: BTreeSet<_> = va.iter().map(key).collect();
        let as_change = |v: SodViolation, change| SodChange {
            change,
            identity: v.identity,
            rule: v.rule,
            severity: v.severity,
            sides: v.sides,
        };
        let mut out: Vec<SodChange> = va
            .into_iter()
            .filter(|v| !kb.contains(&key(v)))
            .map(|v| as_change(v, SodChangeKind::Added))
            .collect();
        out.extend(
            vb.into_iter()
                .filter(|v| !ka.contains(&key(v)))
                .map(|v| as_change(v, SodChangeKind::Removed)),
        );
        out
    }
}

/// The entitlements of two catalogs on one scale: the sorted union of their
/// names, so desired sets from different definitions compare as integers.
/// Both catalogs number in string order, so the mapping keeps order.
#[derive(Debug, Clone)]
struct Scale {
    /// Each `before` catalog id's place on the scale.
    before: Vec<u32>,
    /// Each `after` catalog id's place on the scale.
    after: Vec<u32>,
    /// Each place: the id in each catalog.
    names: Vec<(Option<EntitlementId>, Option<EntitlementId>)>,
}

impl Scale {
    fn new(before: &Catalog, after: &Catalog) -> Scale {
        let mut scale = Scale {
            before: Vec::with_capacity(before.entitlements.len()),
            after: Vec::with_capacity(after.entitlements.len()),
            names: Vec::with_capacity(after.entitlements.len()),
        };
        let mut b = before.entitlements.iter().peekable();
        let mut a = after.entitlements.iter().peekable();
        loop {
            let place = scale.names.len() as u32;
            let next = match (b.peek(), a.peek()) {
                (None, None) => break,
                (Some((_, nb)), Some((_, na))) => nb.cmp(na),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
            };
            let take_b = next != std::cmp::Ordering::Greater;
            let take_a = next != std::cmp::Ordering::Less;
            let ib = if take_b { b.next().map(|(id, _)| id) } else { None };
            let ia = if take_a { a.next().map(|(id, _)| id) } else { None };
            if ib.is_some() {
                scale.before.push(place);
            }
            if ia.is_some() {
                scale.after.push(place);
            }
            scale.names.push((ib, ia));
        }
        scale
    }

    fn before_ids(&self, d: Option<&DesiredSet>) -> Vec<u32> {
        d.map_or_else(Vec::new, |d| {
            d.entitlement_ids().iter().map(|e| self.before[e.0 as usize]).collect()
        })
    }

    fn after_ids(&self, d: Option<&DesiredSet>) -> Vec<u32> {
        d.map_or_else(Vec::new, |d| d.entitlement_ids().iter().map(|e| self.after[e.0 as usize]).collect())
    }

    fn name<'c>(&self, place: u32, before: &'c Catalog, after: &'c Catalog) -> &'c str {
        match self.names[place as usize] {
            (_, Some(a)) => after.entitlements.name(a),
            (Some(b), None) => before.entitlements.name(b),
            (None, None) => "",
        }
    }
}

/// Per-entitlement counts over the changes, by entitlement.
fn totals(changes: &[IdentityChange], privileged: &dyn Fn(&str) -> bool) -> Vec<EntitlementTotal> {
    let mut by: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for c in changes {
        for e in &c.gained {
            by.entry(e).or_default().0 += 1;
        }
        for e in &c.lost {
            by.entry(e).or_default().1 += 1;
        }
    }
    by.into_iter()
        .map(|(e, (gained, lost))| EntitlementTotal {
            entitlement: e.to_string(),
            privileged: privileged(e),
            gained,
            lost,
        })
        .collect()
}

fn summary(w: &WhatIf, privileged: &dyn Fn(&str) -> bool) -> Summary {
    let mut s = Summary {
        invalid_identities: w.invalid_identities.len(),
        held_back: w.held_back.len(),
        ..Summary::default()
    };
    let affected: BTreeSet<&str> = w
        .changes
        .iter()
        .map(|c| c.identity.as_str())
        .chain(w.sod_violations.iter().map(|v| v.identity.as_str()))
        .collect();
    s.identities_affected = affected.len();
    for c in &w.changes {
        s.gained += c.gained.len();
        s.lost += c.lost.len();
        s.privileged_gained += c.gained.iter().filter(|e| privileged(e)).count();
        s.roles_gained += c.roles_gained.len();
        s.roles_lost += c.roles_lost.len();
    }
    for v in &w.sod_violations {
        match v.change {
            SodChangeKind::Added => s.sod_violations_added += 1,
            SodChangeKind::Removed => s.sod_violations_removed += 1,
        }
    }
    s
}

/// The invalid records of both populations: those of `after`, marked `both`
/// when `before` has the same record, then those only `before` has; by file and line.
fn invalid_identities(before: &Population, after: &Population) -> Vec<InvalidIdentity> {
    let out = |r: &InvalidRecord, file: &str, side| InvalidIdentity {
        identity: r.id.clone(),
        side,
        file: file.to_string(),
        line: r.line,
        error: r.error.clone(),
    };
    let same = |a: &InvalidRecord, b: &InvalidRecord| a.id == b.id && a.error == b.error;
    let mut list: Vec<InvalidIdentity> = after
        .feed
        .invalid
        .iter()
        .map(|r| {
            let side = if before.feed.invalid.iter().any(|b| same(b, r)) {
                Side::Both
            } else {
                Side::After
            };
            out(r, &after.feed.file, side)
        })
        .collect();
    list.extend(
        before
            .feed
            .invalid
            .iter()
            .filter(|b| !after.feed.invalid.iter().any(|r| same(b, r)))
            .map(|r| out(r, &before.feed.file, Side::Before)),
    );
    list.sort_by(|a, b| (&a.file, a.line, &a.identity, a.side).cmp(&(&b.file, b.line, &b.identity, b.side)));
    list
}

/// Identities whose owner's record is invalid on either side: what they hold there is unknown.
/// Only identities with an owner can be, so only those are looked at; by identity.
fn held_back(before: &State<'_>, after: &State<'_>) -> Vec<HeldBack> {
    let mut with_owner: Vec<&str> = before
        .population
        .feed
        .identities
        .iter()
        .chain(if std::ptr::eq(before.population, after.population) {
            &[][..]
        } else {
            &after.population.feed.identities[..]
        })
        .filter(|i| i.owner.is_some())
        .map(|i| i.id.as_str())
        .collect();
    with_owner.sort_unstable();
    with_owner.dedup();
    with_owner
        .into_iter()
        .filter_map(|id| {
            let owner_invalid = |s: &State<'_>| matches!(s.presence(id), Presence::OwnerInvalid);
            let (b, a) = (owner_invalid(before), owner_invalid(after));
            if !(b || a) {
                return None;
            }
            let owner = [before, after]
                .iter()
                .filter_map(|s| s.population.get(id).and_then(|i| i.owner.clone()))
                .next()
                .unwrap_or_default();
            let when = match (b, a) {
                (true, true) => "",
                (true, false) => " before the change",
                _ => " after the change",
            };
            Some(HeldBack {
                identity: id.to_string(),
                reason: format!("its owner `{owner}` has an invalid record{when}, so what it holds there is unknown"),
            })
        })
        .collect()
}
