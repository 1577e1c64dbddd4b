//! Which identities a change can reach, so a what-if evaluates only those.
//!
//! - A **population change** (records edited, added, removed) reaches the
//!   identities whose record differs and the identities they own: owner
//!   conditions read the owner's record, one level up.
//! - A **definitions change** reaches the identities that could hold a role
//!   that differs — its condition, kinds, assignment rules, what it grants
//!   (packages resolved), its place in the hierarchy — on either side, as the
//!   role index of each side answers ([`Engine::may_hold_any`]: exact when it
//!   says no). Entitlements whose application, privilege or packages change
//!   make the roles granting them differ when guardrails could read that.
//! - Anything it cannot bound — a guardrail or SoD rule that differs, the
//!   identity schema, the role hierarchy under guardrails, static entities a
//!   guardrail reads by literal, two instants — means everyone, and the
//!   [`Scope`] says why.
//!
//! It decides nothing about what anyone holds; `tests/whatif_property.rs`
//! holds that evaluating only this scope gives what evaluating everyone does.

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;
use serde_json::Value;

use crate::catalog::RoleId;
use crate::compile::{role_policy, PolicyOrigin};
use crate::eval::{reads_static_literal, Engine};
use crate::model::{AttrType, Condition, Role};
use crate::population::Population;
use crate::project::Project;
use crate::state::IdentityState;
use crate::time::Instant;

use super::State;

/// The identities a comparison evaluates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every identity of both populations.
    Everyone {
        /// Why the change could not be bounded.
        reason: String,
    },
    /// Only these identities can differ (sorted, each once); every other holds the same on both sides.
    Only {
        /// The identities.
        identities: Vec<String>,
        /// What the change touches.
        reason: String,
    },
}

impl Scope {
    /// Why this scope.
    pub fn reason(&self) -> &str {
        match self {
            Scope::Everyone { reason } | Scope::Only { reason, .. } => reason,
        }
    }

    /// The identities either scope reaches.
    pub fn union(self, other: Scope) -> Scope {
        match (self, other) {
            (e @ Scope::Everyone { .. }, _) | (_, e @ Scope::Everyone { .. }) => e,
            (Scope::Only { identities: a, reason: ra }, Scope::Only { identities: b, reason: rb }) => {
                let identities: BTreeSet<String> = a.into_iter().chain(b).collect();
                Scope::Only {
                    identities: identities.into_iter().collect(),
                    reason: format!("{ra}; {rb}"),
                }
            }
        }
    }
}

/// The scope of comparing `before` with `after`: what differs between the
/// populations, and between the definitions (through the engines' role
/// indexes; without engines — the oracle has no index — a definitions change
/// reaches everyone). Two different instants reach everyone.
pub fn between(before: &State<'_>, after: &State<'_>, engines: Option<(&Engine, &Engine)>) -> Scope {
    if before.at != after.at {
        return Scope::Everyone {
            reason: format!(
                "the instants differ ({} and {}): every identity is evaluated at both",
                before.at.to_rfc3339(),
                after.at.to_rfc3339()
            ),
        };
    }
    let population = (!std::ptr::eq(before.population, after.population))
        .then(|| population_change(before.population, after.population))
        .filter(|s| !matches!(s, Scope::Only { identities, .. } if identities.is_empty()));
    let definitions = (!same_definitions(before.project, after.project)).then(|| match engines {
        Some((b, a)) => definitions_change(b, a, before.population, after.population, after.at),
        None => Scope::Everyone {
            reason: "the definitions differ and the oracle has no role index to bound the change".into(),
        },
    });
    match (population, definitions) {
        (None, None) => Scope::Only {
            identities: Vec::new(),
            reason: "nothing differs: the same definitions, records and instant".into(),
        },
        (Some(scope), None) | (None, Some(scope)) => scope,
        (Some(p), Some(d)) => p.union(d),
    }
}

/// Are two projects the same definitions: the same compiled text, and the
/// same of what is not compiled (`max_duration` bounds assignments, SoD rules)?
fn same_definitions(a: &Project, b: &Project) -> bool {
    let durations = |p: &Project| p.defs.roles.values().map(|r| (r.id.clone(), r.max_duration)).collect::<Vec<_>>();
    std::ptr::eq(a, b)
        || (a.compiled.policies_text == b.compiled.policies_text
            && a.compiled.schema_text == b.compiled.schema_text
            && a.compiled.entities_json == b.compiled.entities_json
            && durations(a) == durations(b)
            && sod_rules(a) == sod_rules(b))
}

/// The identities whose record differs between two populations (edited,
/// added, removed, or valid on one side only), and those they own.
pub fn population_change(before: &Population, after: &Population) -> Scope {
    let mut changed: BTreeSet<&str> = BTreeSet::new();
    for i in &before.feed.identities {
        if after.get(&i.id) != Some(i) {
            changed.insert(&i.id);
        }
    }
    for i in &after.feed.identities {
        if before.get(&i.id).is_none() {
            changed.insert(&i.id);
        }
    }
    let records = changed.len();
    let owned: BTreeSet<&str> = before
        .feed
        .identities
        .iter()
        .chain(&after.feed.identities)
        .filter(|i| i.owner.as_deref().is_some_and(|o| changed.contains(o)))
        .map(|i| i.id.as_str())
        .filter(|id| !changed.contains(id))
        .collect();
    let reason = format!(
        "{}{}",
        plural(records, "changed record", "changed records"),
        match owned.len() {
            0 => String::new(),
            n => format!(" and {} they own", plural(n, "identity", "identities")),
        }
    );
    Scope::Only {
        identities: changed
            .into_iter()
            .chain(owned)
            .map(str::to_string)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        reason,
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The identities of either population that could hold a role that differs
/// between the engines' definitions, at `at` — or everyone, with the reason.
pub fn definitions_change(before: &Engine, after: &Engine, before_pop: &Population, after_pop: &Population, at: Instant) -> Scope {
    let delta = match RoleDelta::between(before.project(), after.project()) {
        Ok(d) => d,
        Err(reason) => return Scope::Everyone { reason },
    };
    let excepted = exception_identities(before.project(), after.project());
    if delta.names.is_empty() && delta.assigned.is_empty() {
        return Scope::Only {
            reason: if excepted.is_empty() {
                "no role differs in what it grants or to whom".into()
            } else {
                format!("no role differs; the identities of changed exceptions: {}", quoted(&excepted))
            },
            identities: excepted.into_iter().collect(),
        };
    }
    // An error says nothing certain: evaluate the identity.
    let may_hold = |engine: &Engine, roles: &[RoleId], i: &IdentityState, owner: Option<&IdentityState>| {
        engine.may_hold_any(i, owner, at, roles).unwrap_or(true)
    };
    let reach = |engine: &Engine, population: &Population, roles: &[RoleId]| -> Vec<String> {
        if roles.is_empty() {
            return Vec::new();
        }
        population
            .feed
            .identities
            .par_iter()
            .filter(|i| may_hold(engine, roles, i, population.owner_of(i).record()))
            .map(|i| i.id.clone())
            .collect()
    };
    let mut identities = if std::ptr::eq(before_pop, after_pop) {
        // One pass over the population, both indexes asked of each identity.
        before_pop
            .feed
            .identities
            .par_iter()
            .filter(|i| {
                let owner = before_pop.owner_of(i).record();
                may_hold(before, &delta.before, i, owner) || may_hold(after, &delta.after, i, owner)
            })
            .map(|i| i.id.clone())
            .collect()
    } else {
        let mut reached = reach(before, before_pop, &delta.before);
        reached.extend(reach(after, after_pop, &delta.after));
        reached
    };
    let exceptions_changed = !excepted.is_empty();
    identities.extend(excepted);
    let assigned = |i: &IdentityState| i.assignments.iter().any(|a| delta.assigned.contains(&a.role));
    for population in [before_pop, after_pop] {
        identities.extend(population.feed.identities.iter().filter(|i| assigned(i)).map(|i| i.id.clone()));
    }
    identities.par_sort_unstable();
    identities.dedup();
    const SHOWN: usize = 5;
    let mut names: Vec<String> = delta.names.iter().take(SHOWN).map(|r| format!("`{r}`")).collect();
    if delta.names.len() > SHOWN {
        names.push(format!("and {} more", delta.names.len() - SHOWN));
    }
    Scope::Only {
        identities,
        reason: format!(
            "{}{}: {}{}",
            plural(delta.names.len(), "changed role", "changed roles"),
            if delta.why.is_empty() {
                String::new()
            } else {
                format!(" ({})", delta.why.join("; "))
            },
            names.join(", "),
            if exceptions_changed { "; and changed exceptions" } else { "" }
        ),
    }
}

/// The identities named by an exception that differs between two projects
/// (added, removed, or allowing other entitlements or until another instant), sorted.
fn exception_identities(before: &Project, after: &Project) -> BTreeSet<String> {
    type Meaning<'p> = (&'p str, Vec<&'p str>, Instant);
    fn meanings(p: &Project) -> BTreeMap<&str, Meaning<'_>> {
        let c = p.catalog();
        c.exceptions
            .iter()
            .map(|(x, id)| {
                let info = c.exception(x);
                let reach = info.entitlements.iter().map(|e| c.entitlements.name(*e)).collect();
                (id, (&*info.identity, reach, info.expires))
            })
            .collect()
    }
    let (a, b) = (meanings(before), meanings(after));
    let mut out = BTreeSet::new();
    for (id, m) in a.iter().chain(&b) {
        if a.get(id) != b.get(id) {
            out.insert(m.0.to_string());
        }
    }
    out
}

/// The roles that differ between two projects, by name and by each side's ids.
#[derive(Debug, Default)]
struct RoleDelta {
    /// Every role that differs, sorted.
    names: BTreeSet<String>,
    /// Those of the `before` catalog.
    before: Vec<RoleId>,
    /// Those of the `after` catalog.
    after: Vec<RoleId>,
    /// What made roles differ besides their own definition.
    why: Vec<String>,
    /// Roles whose place in the hierarchy differs: their assignees' memberships differ.
    assigned: BTreeSet<String>,
}

impl RoleDelta {
    /// The roles that differ, or why the difference cannot be bounded by roles.
    fn between<'p>(before: &'p Project, after: &'p Project) -> Result<RoleDelta, String> {
        if schema(before) != schema(after) {
            return Err("the identity schema differs: every identity is evaluated".into());
        }
        let (gb, ga) = (guardrails(before)?, guardrails(after)?);
        if gb != ga {
            let differing: BTreeSet<&String> = gb
                .iter()
                .filter(|(id, g)| ga.get(*id) != Some(g))
                .chain(ga.iter().filter(|(id, g)| gb.get(*id) != Some(g)))
                .map(|(id, _)| id)
                .collect();
            return Err(format!(
                "guardrails differ ({}): a guardrail may forbid or permit anything for anyone, so every identity is evaluated",
                quoted(differing)
            ));
        }
        let (sb, sa) = (sod_rules(before), sod_rules(after));
        if sb != sa {
            let differing: BTreeSet<&String> = sb
                .iter()
                .filter(|(id, r)| sa.get(*id) != Some(r))
                .chain(sa.iter().filter(|(id, r)| sb.get(*id) != Some(r)))
                .map(|(id, _)| id)
                .collect();
            return Err(format!(
                "separation-of-duties rules differ ({}): every identity's desired state is checked against them",
                quoted(differing)
            ));
        }
        let any_guardrails = !gb.is_empty();
        let any_permits = gb.values().any(|(forbid, _)| !forbid);
        let entities_differ = before.compiled.entities_json != after.compiled.entities_json;
        if entities_differ {
            if let Some(id) = gb.iter().find(|(_, (_, json))| reads_static_literal(json)).map(|(id, _)| id) {
                return Err(format!(
                    "the static entities differ and guardrail `{id}` reads static entities by literal: every identity is evaluated"
                ));
            }
        }
        let mut delta = RoleDelta::default();
        // Entitlements a guardrail could now tell apart differently.
        // The static entities say each entitlement's application, privilege and packages: when
        // they are the same text, no entitlement moved.
        let moved: BTreeSet<&str> = if any_guardrails && entities_differ {
            moved_entitlements(before, after)
        } else {
            BTreeSet::new()
        };
        if any_guardrails && !moved.is_empty() {
            if any_permits {
                return Err(format!(
                    "entitlements {} change their application, privilege or packages, and hand-written permits may reach them: every identity is evaluated",
                    quoted(moved.iter())
                ));
            }
            delta.why.push(format!(
                "granting {}, whose application, privilege or packages differ",
                quoted(moved.iter())
            ));
        }
        // Role membership (Cedar `in`, which assignable roles, guardrails, permits and escape
        // hatches read) comes from valid assignments and the hierarchy above the assigned role:
        // it differs only for identities assigned to a role whose ancestors or assignment rules
        // differ, or that exists on one side only.
        // An assignment's validity also depends on its role being assignable, and on its `max_duration`.
        let assignment_rules = |p: &Project, role: &str| p.defs.roles.get(role).map(|r| (r.assignable, r.max_duration));
        for (role, _) in before.defs.roles.iter().chain(after.defs.roles.iter()) {
            if before.graph.role_ancestors.get(role) != after.graph.role_ancestors.get(role)
                || assignment_rules(before, role) != assignment_rules(after, role)
            {
                delta.assigned.insert(role.clone());
            }
        }
        // A role whose definition and place in the hierarchy are the same
        // on both sides, as are those of every role it extends, means the same: its fingerprint
        // is taken only when they are not (a role moved in its file, or edited).
        let unchanged = |role: &str| -> bool {
            let (Some(rb), Some(ra)) = (before.defs.roles.get(role), after.defs.roles.get(role)) else {
                return false;
            };
            let ancestors = before.graph.role_ancestors.get(role);
            let same_grants = match (before.graph.role_grants.get(role), after.graph.role_grants.get(role)) {
                (Some(gb), Some(ga)) => gb.keys().eq(ga.keys()),
                (gb, ga) => gb.is_none() && ga.is_none(),
            };
            rb == ra
                && same_grants
                && ancestors == after.graph.role_ancestors.get(role)
                && before.graph.role_members.get(role) == after.graph.role_members.get(role)
                && ancestors
                    .into_iter()
                    .flatten()
                    .all(|a| before.defs.roles.get(a) == after.defs.roles.get(a))
        };
        let candidates: BTreeSet<&str> = before
            .defs
            .roles
            .keys()
            .chain(after.defs.roles.keys())
            .map(String::as_str)
            .collect();
        let edited: Vec<&str> = candidates.into_iter().filter(|r| !unchanged(r)).collect();
        let fingerprints = |p: &'p Project| -> BTreeMap<&'p str, String> {
            edited
                .par_iter()
                .filter_map(|r| p.defs.roles.get_key_value(*r))
                .map(|(id, role)| (id.as_str(), fingerprint(p, role)))
                .collect()
        };
        let (fb, fa) = rayon::join(|| fingerprints(before), || fingerprints(after));
        let grants_moved = |p: &Project, role: &str| {
            any_guardrails
                && p.graph
                    .role_grants
                    .get(role)
                    .is_some_and(|g| g.keys().any(|e| moved.contains(e.as_str())))
        };
        // An escape hatch may read static entities by literal (`principal in Role::"x"`).
        let hatch_reads_entities =
            |p: &Project, role: &str| entities_differ && p.defs.roles.get(role).is_some_and(|r| has_escape_hatch(&r.when));
        for role in before.defs.roles.keys().chain(after.defs.roles.keys()).map(String::as_str) {
            let differs = fb.get(role) != fa.get(role)
                || grants_moved(before, role)
                || grants_moved(after, role)
                || hatch_reads_entities(before, role)
                || hatch_reads_entities(after, role);
            if differs {
                delta.names.insert(role.to_string());
            }
        }
        if entities_differ
            && delta
                .names
                .iter()
                .any(|r| before.defs.roles.get(r).is_some_and(|r| has_escape_hatch(&r.when)))
        {
            delta.why.push("escape hatches while the static entities differ".into());
        }
        delta.before = delta.names.iter().filter_map(|r| before.catalog().roles.id(r)).collect();
        delta.after = delta.names.iter().filter_map(|r| after.catalog().roles.id(r)).collect();
        Ok(delta)
    }
}

fn quoted<S: AsRef<str>>(ids: impl IntoIterator<Item = S>) -> String {
    ids.into_iter().map(|i| format!("`{}`", i.as_ref())).collect::<Vec<_>>().join(", ")
}

/// What a role means for who holds what, without where it is written: its
/// compiled policy (condition, kinds, assignment, grants) but its `@source`,
/// every entitlement it grants (packages resolved, inherited grants
/// included), its `max_duration`, and its place in the hierarchy.
fn fingerprint(project: &Project, role: &Role) -> String {
    let policy = role_policy(&project.defs, &project.graph, role, true);
    let policy: Vec<&str> = policy.lines().filter(|l| !l.starts_with("@source(")).collect();
    let grants: Vec<&String> = project
        .graph
        .role_grants
        .get(&role.id)
        .map(|g| g.keys().collect())
        .unwrap_or_default();
    format!(
        "{}\n{grants:?}\n{:?}\n{:?}\n{:?}",
        policy.join("\n"),
        role.max_duration,
        project.graph.role_ancestors.get(&role.id),
        project.graph.role_members.get(&role.id)
    )
}

fn has_escape_hatch(c: &Condition) -> bool {
    match c {
        Condition::All(items) | Condition::Any(items) => items.iter().any(has_escape_hatch),
        Condition::Not(inner) => has_escape_hatch(inner),
        Condition::Cedar { .. } => true,
        Condition::Kind { .. } | Condition::Attr { .. } => false,
    }
}

/// An identity schema without where it is written: the kinds, and each attribute's name, type, `required` and kinds.
type SchemaShape = (Vec<String>, Vec<(String, AttrType, bool, Option<Vec<String>>)>);

fn schema(p: &Project) -> SchemaShape {
    let s = &p.defs.identity;
    (
        s.kinds.clone(),
        s.attributes
            .values()
            .map(|a| (a.name.clone(), a.ty.clone(), a.required, a.kinds.clone()))
            .collect(),
    )
}

/// Do two projects read an identity feed alike — the same identity schema
/// and the same assignable roles (a record's assignments are checked
/// against them)? Then one reading of a feed serves both.
pub fn read_feeds_alike(a: &Project, b: &Project) -> bool {
    let assignable = |p: &Project| -> Vec<String> { p.defs.roles.values().filter(|r| r.assignable).map(|r| r.id.clone()).collect() };
    schema(a) == schema(b) && assignable(a) == assignable(b)
}

/// Each hand-written guardrail by `@id`: forbid or permit, and its JSON form without annotations.
fn guardrails(p: &Project) -> Result<BTreeMap<String, (bool, Value)>, String> {
    let mut out = BTreeMap::new();
    for policy in p.compiled.policies.policies() {
        let id: &str = policy.id().as_ref();
        let Some(info) = p.compiled.info.get(id).filter(|i| i.origin == PolicyOrigin::Guardrail) else {
            continue;
        };
        let mut json = policy
            .to_json()
            .map_err(|e| format!("guardrail `{id}` cannot be compared ({e}): every identity is evaluated"))?;
        if let Some(o) = json.as_object_mut() {
            o.remove("annotations");
        }
        out.insert(id.to_string(), (info.forbid, json));
    }
    Ok(out)
}

/// Each SoD rule by id: severity and sides, packages resolved to entitlements.
fn sod_rules(p: &Project) -> BTreeMap<String, (crate::model::SodSeverity, Vec<BTreeSet<String>>)> {
    p.defs
        .sod
        .values()
        .map(|r| {
            let sides = r
                .sides
                .iter()
                .map(|side| side.iter().flat_map(|g| p.graph.expand(g)).collect())
                .collect();
            (r.id.clone(), (r.severity, sides))
        })
        .collect()
}

/// The entitlements in both catalogs whose application, privilege or
/// packages differ (what guardrails can read of an entitlement), by a
/// walk of both sorted catalogs.
fn moved_entitlements<'p>(before: &'p Project, after: &'p Project) -> BTreeSet<&'p str> {
    let reads =
        |p: &'p Project, e: &'p crate::model::Entitlement| (e.application.as_str(), e.privileged, p.graph.entitlement_packages.get(&e.id));
    let mut moved = BTreeSet::new();
    let mut a = after.defs.entitlements.iter().peekable();
    for (id, eb) in &before.defs.entitlements {
        while a.next_if(|(other, _)| *other < id).is_some() {}
        if let Some((_, ea)) = a.next_if(|(other, _)| *other == id) {
            if reads(before, eb) != reads(after, ea) {
                moved.insert(id.as_str());
            }
        }
    }
    moved
}
