//! The live state: the desired state of the generated population, computed
//! with [`Engine`] on every core, then drifted the way real target systems
//! drift.
//!
//! Drift, per identity (each draw from the identity's own stream):
//! - **joiners not provisioned**: active people who started in the last 14
//!   days lack all (40%) or half (30%) of their access; everyone else misses
//!   each grant with probability 0.5% (0.2% for privileged ones);
//! - **movers keeping old access**: 4% of active people still hold what a
//!   previous job code and team (half of them in another department) gave them;
//! - **leavers not removed**: 25% of terminated people, and 40% of people on
//!   leave, still hold what they had while active;
//! - **lapsed contracts**: 60% of contractors past their end date keep their access;
//! - **orphaned NHIs**: 60% of workloads whose owner is not active (or not in
//!   the feed) and 40% of retired ones keep what they had;
//! - **expired-assignment leftovers**: 75% of expired or over-long
//!   assignments left their role's entitlements behind;
//! - **privileged contractors**: 3% of contractors hold one administrator entitlement;
//! - **ad hoc grants**: 1.5% of identities hold one or two entitlements by
//!   hand (half of them a duty of their own department: how toxic combinations arise);
//! - **unmanaged grants**: 0.4% hold something outside the catalog;
//! - **orphaned accounts**: live identities absent from the feed, 1.5% of
//!   the feed's size (former staff and legacy service accounts), under the
//!   default `--max-orphaned 10%`.
//!
//! Must never: let the output depend on the thread schedule (chunks are
//! evaluated in parallel and joined in order).

use std::collections::{BTreeSet, HashMap};

use rayon::prelude::*;

use super::catalog::Catalog;
use super::identities::absent_person_id;
use super::rng::{Rng, Stream};
use super::roles::Blueprint;
use super::text::json_str;
use super::{Drift, GenError, GenOptions};
use crate::eval::{Engine, Evaluator};
use crate::project::Project;
use crate::state::{AssignmentStatus, AttrValue, IdentityState};
use crate::time::Instant;

const DAY: i64 = 86_400_000;

/// Entitlement ids outside the catalog, as an old export would show them.
const UNMANAGED_APPS: &[&str] = &["sharepoint-2013", "ldap-legacy", "netapp-shares", "jira-server"];

/// The live state as JSON Lines, with the figures of the desired state and the drift.
pub(crate) struct Live {
    pub text: String,
    pub drift: Drift,
    /// Desired (identity, entitlement) pairs over the feed.
    pub desired: usize,
    /// Roles held, summed over the feed.
    pub roles_held: usize,
}

/// The feed's records (people first), and for each the position of its
/// owner when the owner is in the feed.
pub(crate) struct Records<'a> {
    pub states: &'a [IdentityState],
    pub owner_of: &'a [Option<usize>],
    /// How many of the records are people.
    pub people: usize,
}

struct Context<'a> {
    options: &'a GenOptions,
    catalog: &'a Catalog,
    blueprint: &'a Blueprint,
    project: &'a Project,
    engine: &'a Engine,
    /// The feed's records, and for each the position of its owner when the owner is in the feed.
    states: &'a [IdentityState],
    owner_of: &'a [Option<usize>],
    /// How many of the records (the first ones) are people.
    people: usize,
    index: HashMap<&'a str, u32>,
}

#[derive(Default)]
struct Chunk {
    text: String,
    drift: Drift,
    desired: usize,
    roles_held: usize,
}

/// Computes the desired state and drifts it.
pub(crate) fn build(
    options: &GenOptions,
    catalog: &Catalog,
    blueprint: &Blueprint,
    project: &Project,
    engine: &Engine,
    records: Records<'_>,
) -> Result<Live, GenError> {
    let Records { states, owner_of, people } = records;
    let index: HashMap<&str, u32> = catalog.ents.iter().enumerate().map(|(i, e)| (e.id.as_str(), i as u32)).collect();
    let cx = Context {
        options,
        catalog,
        blueprint,
        project,
        engine,
        states,
        owner_of,
        people,
        index,
    };
    let n = states.len();
    let chunks: Vec<Result<Chunk, GenError>> = (0..n.div_ceil(512))
        .into_par_iter()
        .map(|c| {
            let mut chunk = Chunk::default();
            for i in c * 512..((c + 1) * 512).min(n) {
                cx.identity(i, &mut chunk)?;
            }
            Ok(chunk)
        })
        .collect();
    let orphans = (n * 15 / 1000).max(1);
    let orphan_chunks: Vec<Result<Chunk, GenError>> = (0..orphans.div_ceil(256))
        .into_par_iter()
        .map(|c| {
            let mut chunk = Chunk::default();
            for k in c * 256..((c + 1) * 256).min(orphans) {
                cx.orphan(k, &mut chunk)?;
            }
            Ok(chunk)
        })
        .collect();
    let mut out = Live {
        text: String::new(),
        drift: Drift::default(),
        desired: 0,
        roles_held: 0,
    };
    let parts: Vec<Chunk> = chunks.into_iter().chain(orphan_chunks).collect::<Result<_, _>>()?;
    out.text.reserve(parts.iter().map(|c| c.text.len()).sum());
    for c in parts {
        out.text.push_str(&c.text);
        out.drift.add(&c.drift);
        out.desired += c.desired;
        out.roles_held += c.roles_held;
    }
    Ok(out)
}

/// `state` with some attributes replaced (`Some`) or removed (`None`).
fn changed(state: &IdentityState, changes: &[(&str, Option<AttrValue>)]) -> IdentityState {
    let mut out = state.clone();
    out.attributes = state
        .attributes
        .iter()
        .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
        .map(|(k, v)| (k.to_string(), v.clone()))
        .chain(changes.iter().filter_map(|(k, v)| v.clone().map(|v| (k.to_string(), v))))
        .collect();
    out
}

fn active() -> Option<AttrValue> {
    Some(AttrValue::str("active"))
}

fn attr<'s>(state: &'s IdentityState, name: &str) -> Option<&'s str> {
    match state.attributes.get(name) {
        Some(AttrValue::Str(s)) => Some(s),
        _ => None,
    }
}

fn date_of(state: &IdentityState, name: &str) -> Option<Instant> {
    match state.attributes.get(name) {
        Some(AttrValue::Date(t)) => Some(*t),
        _ => None,
    }
}

impl Context<'_> {
    /// The catalog entitlements `state` would be given (owner as given).
    fn desired_ents(&self, state: &IdentityState, owner: Option<&IdentityState>) -> Result<Vec<u32>, GenError> {
        let d = self.engine.desired(state, owner, self.options.as_of).map_err(GenError::Eval)?;
        Ok(d.entitlements().filter_map(|e| self.index.get(e).copied()).collect())
    }

    fn identity(&self, i: usize, chunk: &mut Chunk) -> Result<(), GenError> {
        let state = &self.states[i];
        let owner = self.owner_of[i].map(|o| &self.states[o]);
        let at = self.options.as_of;
        let today = at.0.div_euclid(DAY);
        let desired = self.engine.desired(state, owner, at).map_err(GenError::Eval)?;
        chunk.desired += desired.len();
        chunk.roles_held += desired.role_ids().len();
        let mut rng = Rng::new(self.options.seed, Stream::Drift, i as u64);
        let mut live: BTreeSet<u32> = desired.entitlements().filter_map(|e| self.index.get(e).copied()).collect();
        let drift = &mut chunk.drift;
        let status = attr(state, "status").unwrap_or("active");
        let ended = date_of(state, "end_date").is_some_and(|e| e <= at);
        let keep_old = |live: &mut BTreeSet<u32>, old: Vec<u32>| -> usize {
            let before = live.len();
            live.extend(old);
            live.len() - before
        };

        if &*state.kind == "person" {
            let started = date_of(state, "start_date").map_or(i64::MIN, |t| t.0.div_euclid(DAY));
            match status {
                "active" if ended && attr(state, "worker_type") == Some("contractor") => {
                    // (Drawn here, not in the guard: a miss must not fall through to the joiners.)
                    let kept = rng.chance(0.6);
                    if kept {
                        let then = changed(state, &[("end_date", Some(AttrValue::Date(Instant((today + 90) * DAY))))]);
                        drift.lapsed_contracts += keep_old(&mut live, self.desired_ents(&then, None)?);
                    }
                }
                "active" if today - started <= 14 && started <= today => {
                    let roll = rng.unit();
                    let before = live.len();
                    if roll < 0.4 {
                        live.clear();
                    } else if roll < 0.7 {
                        let all: Vec<u32> = live.iter().copied().collect();
                        for (k, e) in all.into_iter().enumerate() {
                            if k % 2 == 0 {
                                live.remove(&e);
                            }
                        }
                    }
                    drift.not_provisioned += before - live.len();
                }
                "active" => {
                    if rng.chance(0.04) {
                        let moved = self.mover(state, &mut rng);
                        drift.mover_leftovers += keep_old(&mut live, self.desired_ents(&moved, None)?);
                    }
                    if attr(state, "worker_type") == Some("contractor") && rng.chance(0.03) {
                        let d = self.catalog.department_named(attr(state, "department").unwrap_or_default());
                        if let Some(e) = d.and_then(|d| rng.pick(&self.blueprint.privileged[d]).copied()) {
                            drift.privileged_contractors += keep_old(&mut live, vec![e as u32]);
                        }
                    }
                }
                "terminated" | "leave" => {
                    let p = if status == "terminated" { 0.25 } else { 0.4 };
                    if rng.chance(p) {
                        let then = changed(state, &[("status", active()), ("end_date", None)]);
                        drift.leavers_not_removed += keep_old(&mut live, self.desired_ents(&then, None)?);
                    }
                }
                _ => {}
            }
        } else {
            let owner_active = owner.is_some_and(|o| attr(o, "status") == Some("active"));
            if status != "active" && rng.chance(0.4) {
                let then = changed(state, &[("status", active())]);
                let o = self.active_owner(&then, owner);
                drift.orphaned_nhi_grants += keep_old(&mut live, self.desired_ents(&then, o.as_ref())?);
            } else if !owner_active && rng.chance(0.6) {
                let o = self.active_owner(state, owner);
                drift.orphaned_nhi_grants += keep_old(&mut live, self.desired_ents(state, o.as_ref())?);
            }
        }

        // Leftovers of assignments that ended or overran.
        for a in &state.assignments {
            let Some(role) = self.project.defs.roles.get(&a.role) else {
                continue;
            };
            if matches!(
                a.status(at, role.max_duration),
                AssignmentStatus::Expired | AssignmentStatus::ExceedsMaxDuration
            ) && rng.chance(0.75)
            {
                let granted: Vec<u32> = self
                    .project
                    .graph
                    .role_grants
                    .get(&a.role)
                    .into_iter()
                    .flat_map(|g| g.keys())
                    .filter_map(|e| self.index.get(e.as_str()).copied())
                    .collect();
                drift.assignment_leftovers += keep_old(&mut live, granted);
            }
        }
        // Provisioning failures (rarer for administrator access, which an
        // approval workflow provisions and checks).
        if status == "active" && !live.is_empty() {
            let ents = &self.catalog.ents;
            let missing: Vec<u32> = live
                .iter()
                .copied()
                .filter(|e| rng.chance(if ents[*e as usize].privileged { 0.002 } else { 0.005 }))
                .collect();
            for e in &missing {
                live.remove(e);
            }
            drift.not_provisioned += missing.len();
        }
        // Ad hoc grants nobody modelled: half of them a duty of the person's
        // own department (which is how toxic combinations arise), half anything.
        if rng.chance(0.015) {
            let n = 1 + rng.below(2);
            let own = attr(state, "department")
                .and_then(|d| self.catalog.department_named(d))
                .map(|d| super::roles::duties(self.catalog, d))
                .unwrap_or_default();
            let extra: Vec<u32> = (0..n)
                .map(|_| match rng.pick(&own) {
                    Some(e) if rng.chance(0.5) => *e as u32,
                    _ => rng.below(self.catalog.ents.len()) as u32,
                })
                .collect();
            drift.ad_hoc += keep_old(&mut live, extra);
        }
        let mut unmanaged: Vec<String> = Vec::new();
        if rng.chance(0.004) {
            for _ in 0..1 + rng.below(2) {
                let app = UNMANAGED_APPS[rng.below(UNMANAGED_APPS.len())];
                unmanaged.push(format!("{app}:group-{:04}", rng.below(5000)));
            }
        }
        drift.unmanaged += unmanaged.len();
        self.write(&state.id, &live, &unmanaged, chunk);
        Ok(())
    }

    /// The same person before a move: half of the time another job code and
    /// team in the same department (a promotion, a transfer), else another
    /// department altogether.
    fn mover(&self, state: &IdentityState, rng: &mut Rng) -> IdentityState {
        let weights: Vec<u32> = self.catalog.departments.iter().map(|d| d.weight).collect();
        let own = attr(state, "department").and_then(|d| self.catalog.department_named(d));
        let d = match own {
            Some(d) if rng.chance(0.5) => d,
            _ => rng.weighted(&weights),
        };
        let dept = &self.catalog.departments[d];
        let code = rng.pick(&dept.job_codes).map(|(code, _)| AttrValue::str(code));
        let team = rng.pick(&dept.teams).map(|team| AttrValue::str(team));
        let mut changes = vec![("department", Some(AttrValue::str(dept.name)))];
        if code.is_some() {
            changes.push(("job_code", code));
        }
        if team.is_some() {
            changes.push(("cost_center", team));
        }
        changed(state, &changes)
    }

    /// An active owner for a workload, as it had before its owner left: the
    /// owner's record made active, or a stand-in for an owner not in the feed.
    fn active_owner(&self, state: &IdentityState, owner: Option<&IdentityState>) -> Option<IdentityState> {
        let id = state.owner.clone()?;
        let o = match owner {
            Some(o) => changed(o, &[("status", active())]),
            None => {
                let purpose = attr(state, "purpose").unwrap_or_default();
                let department = self
                    .blueprint
                    .purposes
                    .iter()
                    .find(|p| p.name == purpose)
                    .map_or(self.catalog.departments[0].name, |p| self.catalog.departments[p.department].name);
                IdentityState {
                    id: id.clone(),
                    kind: "person".into(),
                    owner: None,
                    attributes: [("status", AttrValue::str("active")), ("department", AttrValue::str(department))]
                        .into_iter()
                        .collect(),
                    assignments: Vec::new(),
                }
            }
        };
        Some(o)
    }

    /// A live identity the feed does not have: a former person with a
    /// typical set of access, or a legacy service account.
    fn orphan(&self, k: usize, chunk: &mut Chunk) -> Result<(), GenError> {
        let mut rng = Rng::new(self.options.seed, Stream::Orphan, k as u64);
        let mut live = BTreeSet::new();
        let id = if rng.chance(0.8) {
            // Someone who was in the feed once: a real record, the id of a former person.
            let template = &self.states[rng.below(self.people.max(1)).min(self.states.len().saturating_sub(1))];
            let mut former = changed(template, &[("status", active()), ("end_date", None)]);
            former.id = absent_person_id(k);
            former.assignments.clear();
            if &*former.kind == "person" {
                live.extend(self.desired_ents(&former, None)?);
            }
            former.id
        } else {
            let purpose = rng.pick(&self.blueprint.purposes).map_or("automation", |p| p.name);
            let needs = self
                .blueprint
                .purposes
                .iter()
                .find(|p| p.name == purpose)
                .map_or(&[][..], |p| p.needs);
            live.extend(needs.iter().filter_map(|e| self.index.get(e).copied()));
            format!("svc-legacy-{purpose}-{:05}", k + 1)
        };
        chunk.drift.orphaned_accounts += 1;
        chunk.drift.orphaned_account_grants += live.len();
        self.write(&id, &live, &[], chunk);
        Ok(())
    }

    fn write(&self, identity: &str, live: &BTreeSet<u32>, unmanaged: &[String], chunk: &mut Chunk) {
        let mut ids: Vec<&str> = live.iter().map(|e| self.catalog.ents[*e as usize].id.as_str()).collect();
        ids.extend(unmanaged.iter().map(String::as_str));
        ids.sort_unstable();
        ids.dedup();
        chunk.drift.live_grants += ids.len();
        for e in ids {
            chunk.text.push_str("{\"identity\": ");
            json_str(&mut chunk.text, identity);
            chunk.text.push_str(", \"entitlement\": ");
            json_str(&mut chunk.text, e);
            chunk.text.push_str("}\n");
        }
    }
}
