//! Separation-of-duties rules over sorted entitlement ids: each rule's sides
//! expanded once (packages to their entitlements) into sorted id lists, then
//! asked of any state — desired, live, or a what-if's.
//!
//! It finds violations; it never decides what to revoke.

use crate::catalog::{Catalog, EntitlementId};
use crate::model::{GrantRef, SodSeverity};
use crate::project::Project;

use super::{SodViolation, StateKind};

/// A rule with its sides as sorted entitlement ids.
#[derive(Debug, Clone)]
struct Rule {
    id: String,
    severity: SodSeverity,
    sides: Vec<Vec<EntitlementId>>,
}

/// One side of an SoD rule (entitlements and packages as written) as the
/// sorted, distinct ids of the catalog entitlements it stands for.
pub(crate) fn side_ids(project: &Project, catalog: &Catalog, side: &[GrantRef]) -> Vec<EntitlementId> {
    let mut ids: Vec<EntitlementId> = side
        .iter()
        .flat_map(|g| project.graph.expand(g))
        .filter_map(|e| catalog.entitlements.id(&e))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Every SoD rule of a project, ready to ask (rules in id order).
#[derive(Debug, Clone)]
pub struct SodRules {
    rules: Vec<Rule>,
}

impl SodRules {
    /// Expands the project's rules against its catalog.
    pub fn new(project: &Project) -> SodRules {
        let catalog = project.catalog();
        let rules = project
            .defs
            .sod
            .values()
            .map(|rule| Rule {
                id: rule.id.clone(),
                severity: rule.severity,
                sides: rule.sides.iter().map(|side| side_ids(project, catalog, side)).collect(),
            })
            .collect();
        SodRules { rules }
    }

    /// The rules `held` (sorted ids) violates: every side has something held.
    /// Sorted by rule id; each side lists what is held of it.
    pub fn violations(&self, catalog: &Catalog, identity: &str, held: &[EntitlementId], state: StateKind) -> Vec<SodViolation> {
        if held.len() < 2 {
            return Vec::new();
        }
        let mut out = Vec::new();
        for rule in &self.rules {
            if rule.sides.len() < 2 {
                continue;
            }
            let sides: Vec<Vec<EntitlementId>> = rule.sides.iter().map(|side| intersection(side, held)).collect();
            if sides.iter().all(|s| !s.is_empty()) {
                out.push(SodViolation {
                    identity: identity.to_string(),
                    rule: rule.id.clone(),
                    severity: rule.severity,
                    state,
                    sides: sides
                        .into_iter()
                        .map(|s| s.into_iter().map(|e| catalog.entitlements.name(e).to_string()).collect())
                        .collect(),
                });
            }
        }
        out
    }
}

/// The items of two sorted lists that both hold, sorted: the shorter list's
/// items looked up in the longer one.
fn intersection(a: &[EntitlementId], b: &[EntitlementId]) -> Vec<EntitlementId> {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    short.iter().copied().filter(|e| long.binary_search(e).is_ok()).collect()
}
