//! Coverage: what the tests of a run exercised, with where each item is
//! defined.
//!
//! Spec §6: a role or package is exercised when the identity of at least one
//! test holds it; a guardrail, when it forbids something for at least one
//! test's identity (a hand-written permit, when it justifies something one
//! holds). Beyond the spec: an SoD rule is exercised when each of its sides
//! is held by some test's identity (a suite that never shows anyone holding
//! one side has not tested the rule); and **condition coverage** — for each
//! entry of each role's `when`, whether some tested identity made it true
//! and some made it false. An entry is counted for the identities the
//! role's condition decides for (the role applies to their kind and, for an
//! assignable role, a valid assignment makes them a member), each entry
//! evaluated on its own by the engine's walker in trace mode
//! ([`Engine::trace_roles`]); an escape hatch that errs counts as neither.
//! Identities a suite loads but no test names exercise nothing; an HR
//! change's states before and after both do.
//!
//! This module observes evaluations; it never decides a verdict.

use std::sync::Arc;

use crate::catalog::{DenseId, EntitlementId};
use crate::diag::Location;
use crate::eval::condition::Outcome;
use crate::eval::explain::describe;
use crate::eval::{DesiredSet, Engine, EvalError};
use crate::model::Condition;
use crate::plan::sod::side_ids;
use crate::project::Project;
use crate::state::IdentityState;
use crate::time::Instant;

/// Covered items out of all items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// Items exercised (for conditions: outcomes seen, true and false counted apart).
    pub covered: usize,
    /// All items (for conditions: twice the entries).
    pub total: usize,
}

impl Totals {
    /// The percentage covered (100 when there is nothing to cover).
    pub fn percent(self) -> f64 {
        if self.total == 0 {
            100.0
        } else {
            self.covered as f64 * 100.0 / self.total as f64
        }
    }

    fn add(self, other: Totals) -> Totals {
        Totals {
            covered: self.covered + other.covered,
            total: self.total + other.total,
        }
    }
}

/// Whether one role, package, guardrail or SoD rule was exercised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemCoverage {
    /// Its id.
    pub id: String,
    /// Where it is defined.
    pub source: Location,
    /// Did a test exercise it?
    pub exercised: bool,
}

/// A role: held by a test's identity or not, and each entry of its `when`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleCoverage {
    /// The role, and whether a test's identity holds it.
    pub item: ItemCoverage,
    /// Each entry of its condition (attribute, kind and `cedar:` tests; `all`,
    /// `any` and `not` are covered through their entries), in the order written.
    pub conditions: Vec<ConditionCoverage>,
}

/// One entry of a role's `when`: was it seen true, and seen false?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionCoverage {
    /// The entry as written (`department: Finance`).
    pub condition: String,
    /// Where it is written.
    pub source: Location,
    /// Some tested identity made it true.
    pub seen_true: bool,
    /// Some tested identity made it false.
    pub seen_false: bool,
}

/// Everything a run's tests exercised, each list in id order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    /// Roles, with their condition entries.
    pub roles: Vec<RoleCoverage>,
    /// Packages.
    pub packages: Vec<ItemCoverage>,
    /// Hand-written guardrails (forbids and permits).
    pub guardrails: Vec<ItemCoverage>,
    /// Separation-of-duties rules.
    pub sod_rules: Vec<ItemCoverage>,
}

fn count<'a>(items: impl Iterator<Item = &'a ItemCoverage>) -> Totals {
    items.fold(Totals::default(), |t, i| Totals {
        covered: t.covered + usize::from(i.exercised),
        total: t.total + 1,
    })
}

impl Coverage {
    /// Roles held by some test's identity.
    pub fn roles_totals(&self) -> Totals {
        count(self.roles.iter().map(|r| &r.item))
    }

    /// Packages held by some test's identity.
    pub fn packages_totals(&self) -> Totals {
        count(self.packages.iter())
    }

    /// Guardrails exercised.
    pub fn guardrails_totals(&self) -> Totals {
        count(self.guardrails.iter())
    }

    /// SoD rules exercised.
    pub fn sod_totals(&self) -> Totals {
        count(self.sod_rules.iter())
    }

    /// Condition outcomes seen: each entry counts twice, once for true and once for false.
    pub fn conditions_totals(&self) -> Totals {
        self.roles
            .iter()
            .flat_map(|r| &r.conditions)
            .fold(Totals::default(), |t, c| Totals {
                covered: t.covered + usize::from(c.seen_true) + usize::from(c.seen_false),
                total: t.total + 2,
            })
    }

    /// Spec §6's percentage: roles, packages and guardrails together.
    pub fn totals(&self) -> Totals {
        self.roles_totals().add(self.packages_totals()).add(self.guardrails_totals())
    }
}

/// The entries of a condition that coverage counts (every test of an
/// attribute or kind, and every escape hatch), in pre-order: the order the
/// walker's trace lists them in.
pub fn condition_entries(c: &Condition) -> Vec<&Condition> {
    fn walk<'c>(c: &'c Condition, out: &mut Vec<&'c Condition>) {
        match c {
            Condition::All(items) | Condition::Any(items) => items.iter().for_each(|i| walk(i, out)),
            Condition::Not(inner) => walk(inner, out),
            Condition::Kind { .. } | Condition::Attr { .. } | Condition::Cedar { .. } => out.push(c),
        }
    }
    let mut out = Vec::new();
    walk(c, &mut out);
    out
}

fn source_of(c: &Condition) -> Location {
    match c {
        Condition::Kind { source, .. } | Condition::Attr { source, .. } | Condition::Cedar { source, .. } => source.clone(),
        _ => Location::default(),
    }
}

/// Records what evaluated identity states exercise; [`CoverageCollector::finish`] gives the [`Coverage`].
#[derive(Debug)]
pub struct CoverageCollector {
    project: Arc<Project>,
    /// By catalog id.
    roles: Vec<bool>,
    packages: Vec<bool>,
    guardrails: Vec<bool>,
    /// By rule (id order), the sides as sorted entitlement ids, and whether each side was held.
    sod: Vec<(Vec<Vec<EntitlementId>>, Vec<bool>)>,
    /// By role: (seen true, seen false) of each counted entry.
    entries: Vec<Vec<(bool, bool)>>,
}

impl CoverageCollector {
    /// A collector for `project` that has seen nothing yet.
    pub fn new(project: &Arc<Project>) -> CoverageCollector {
        let c = project.catalog();
        let sod = project
            .defs
            .sod
            .values()
            .map(|rule| {
                let sides: Vec<Vec<EntitlementId>> = rule.sides.iter().map(|side| side_ids(project, c, side)).collect();
                let held = vec![false; sides.len()];
                (sides, held)
            })
            .collect();
        let entries = c
            .roles
            .iter()
            .map(|(_, name)| {
                let n = project.defs.roles.get(name).map_or(0, |r| condition_entries(&r.when).len());
                vec![(false, false); n]
            })
            .collect();
        CoverageCollector {
            project: project.clone(),
            roles: vec![false; c.roles.len()],
            packages: vec![false; c.packages.len()],
            guardrails: vec![false; c.guardrails.len()],
            sod,
            entries,
        }
    }

    /// Records one evaluated identity state: `desired` is `engine`'s answer
    /// for `identity` (with `owner`) at `at`.
    pub fn observe(
        &mut self,
        engine: &Engine,
        identity: &IdentityState,
        owner: Option<&IdentityState>,
        at: Instant,
        desired: &DesiredSet,
    ) -> Result<(), EvalError> {
        let c = self.project.catalog().clone();
        for role in desired.role_ids() {
            self.roles[role.index()] = true;
            for grant in c.role_grants(*role) {
                for j in c.grant_justifications(grant) {
                    for p in c.justification_packages(*j) {
                        self.packages[p.index()] = true;
                    }
                }
            }
        }
        for e in desired.entitlement_ids() {
            for j in desired.justification_ids(*e).unwrap_or_default() {
                if let Some(g) = c.justification_guardrail(*j) {
                    self.guardrails[g.index()] = true;
                }
            }
        }
        for g in engine.forbidding_any(identity, owner, at)? {
            self.guardrails[g.index()] = true;
        }
        let held = desired.entitlement_ids();
        for (sides, seen) in &mut self.sod {
            for (side, seen) in sides.iter().zip(seen.iter_mut()) {
                *seen |= side.iter().any(|e| held.binary_search(e).is_ok());
            }
        }
        let entries = &mut self.entries;
        engine.trace_roles(identity, owner, at, &mut |role, trace| {
            let Some(slots) = entries.get_mut(role.index()) else { return };
            let leaves = trace.entries.iter().filter(|e| {
                matches!(
                    e.condition,
                    Condition::Kind { .. } | Condition::Attr { .. } | Condition::Cedar { .. }
                )
            });
            for (slot, entry) in slots.iter_mut().zip(leaves) {
                match entry.outcome {
                    Outcome::Holds => slot.0 = true,
                    Outcome::Fails => slot.1 = true,
                    Outcome::Error => {}
                }
            }
        })
    }

    /// What was exercised.
    pub fn finish(self) -> Coverage {
        let p = &self.project;
        let c = p.catalog();
        let roles = c
            .roles
            .iter()
            .map(|(id, name)| {
                let definition = p.defs.roles.get(name);
                let conditions = match definition {
                    Some(r) => condition_entries(&r.when)
                        .into_iter()
                        .zip(&self.entries[id.index()])
                        .map(|(entry, (t, f))| ConditionCoverage {
                            condition: describe(entry),
                            source: source_of(entry),
                            seen_true: *t,
                            seen_false: *f,
                        })
                        .collect(),
                    None => Vec::new(),
                };
                RoleCoverage {
                    item: ItemCoverage {
                        id: name.to_string(),
                        source: definition.map(|r| r.source.clone()).unwrap_or_default(),
                        exercised: self.roles[id.index()],
                    },
                    conditions,
                }
            })
            .collect();
        let packages = c
            .packages
            .iter()
            .map(|(id, name)| ItemCoverage {
                id: name.to_string(),
                source: p.defs.packages.get(name).map(|x| x.source.clone()).unwrap_or_default(),
                exercised: self.packages[id.index()],
            })
            .collect();
        let guardrails = c
            .guardrails
            .iter()
            .map(|(id, name)| ItemCoverage {
                id: name.to_string(),
                source: p.compiled.info.get(name).map(|x| x.source.clone()).unwrap_or_default(),
                exercised: self.guardrails[id.index()],
            })
            .collect();
        let sod_rules = p
            .defs
            .sod
            .values()
            .zip(&self.sod)
            .map(|(rule, (_, held))| ItemCoverage {
                id: rule.id.clone(),
                source: rule.source.clone(),
                exercised: !held.is_empty() && held.iter().all(|h| *h),
            })
            .collect();
        Coverage {
            roles,
            packages,
            guardrails,
            sod_rules,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Totals;

    #[test]
    fn percentages() {
        assert_eq!(Totals { covered: 0, total: 0 }.percent(), 100.0);
        assert_eq!(Totals { covered: 1, total: 4 }.percent(), 25.0);
    }
}
