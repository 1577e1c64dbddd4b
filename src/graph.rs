//! The role/package/entitlement graph (petgraph): cycles with their whole
//! path, and the closures the compiler and the engine share.
//!
//! Invariant: closures are computed only over an acyclic graph; [`RoleGraph::build`]
//! refuses definitions with a cycle.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::algo::{kosaraju_scc, toposort};
use petgraph::graphmap::DiGraphMap;

use crate::diag::{Code, Diagnostic};
use crate::model::{Definitions, GrantRef};

/// A node of the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GraphNode<'a> {
    /// A role.
    Role(&'a str),
    /// A package.
    Package(&'a str),
    /// An entitlement.
    Entitlement(&'a str),
}

/// One way a role reaches an entitlement.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct GrantPath {
    /// The roles it inherits through, nearest first (empty when the role grants it itself).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inherited: Vec<String>,
    /// The packages it comes through, outermost first (empty for a direct grant).
    pub via: Vec<String>,
}

/// Most distinct paths kept per (role, entitlement); a DAG can have exponentially many.
pub const MAX_PATHS: usize = 32;

/// Deepest package nesting, and longest `extends` chain, accepted.
pub const MAX_NESTING: usize = 64;

#[cfg(test)]
mod tests {
    use crate::check::test_support::load_ok;
    use crate::diag::Code;
    use crate::graph::RoleGraph;
    use crate::model::{load, SourceFile};

    fn build(extra: &str) -> Result<RoleGraph, Vec<crate::diag::Diagnostic>> {
        let text = format!("{}{extra}", crate::check::test_support::BASE);
        let (defs, diags) = load(&[SourceFile {
            name: "t.yaml".into(),
            text,
        }]);
        assert!(diags.is_empty(), "{diags:?}");
        RoleGraph::build(&defs)
    }

    #[test]
    fn cycles_print_their_whole_path() {
        let err =
            build("packages:\n  - id: a\n    packages: [b]\n  - id: b\n    packages: [c]\n  - id: c\n    packages: [a]\n").unwrap_err();
        assert_eq!(err.len(), 1);
        assert_eq!(err[0].code, Code::Cycle);
        assert_eq!(err[0].message, "packages nest in a cycle: `a` → `b` → `c` → `a`");
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let mut yaml = String::from("packages:\n  - id: p0\n    entitlements: [app:read]\n");
        for i in 1..5000 {
            yaml.push_str(&format!("  - id: p{i}\n    packages: [p{}]\n", i - 1));
        }
        let err = build(&yaml).unwrap_err();
        assert_eq!(err[0].code, Code::InputTooLarge);
        assert!(err[0].message.contains("deeper than 64 levels"), "{}", err[0].message);
    }

    #[test]
    fn diamonds_do_not_explode() {
        // r_i extends a_i and b_i, both extending r_{i-1}: 2^30 paths if walked naively.
        let mut yaml = String::from("roles:\n  - id: r0\n    grants: [app:read]\n");
        for i in 1..=30 {
            yaml.push_str(&format!(
                "  - id: a{i}\n    extends: [r{p}]\n  - id: b{i}\n    extends: [r{p}]\n  - id: r{i}\n    extends: [a{i}, b{i}]\n",
                p = i - 1
            ));
        }
        let (defs, _) = load_ok(&yaml);
        let graph = RoleGraph::build(&defs).unwrap();
        let paths = &graph.role_grants["r30"]["app:read"];
        assert_eq!(paths.len(), crate::graph::MAX_PATHS);
        assert_eq!(graph.role_ancestors["r30"].len(), 90);
        assert!(graph.role_members["r0"].contains("r30"));
    }
}

/// The acyclic graph of the definitions, with per-role closures.
#[derive(Debug, Clone)]
pub struct RoleGraph {
    /// For every role: each entitlement it grants (own and inherited), with every path.
    pub role_grants: BTreeMap<String, BTreeMap<String, Vec<GrantPath>>>,
    /// For every package: the entitlements it contains, transitively.
    pub package_entitlements: BTreeMap<String, BTreeSet<String>>,
    /// For every entitlement: the packages that contain it, transitively.
    pub entitlement_packages: BTreeMap<String, BTreeSet<String>>,
    /// For every role: the roles it extends, transitively (itself excluded).
    pub role_ancestors: BTreeMap<String, BTreeSet<String>>,
    /// For every role: the roles an assignment to which makes one a member of it
    /// (itself and every role extending it, transitively: Cedar `in`).
    pub role_members: BTreeMap<String, BTreeSet<String>>,
    /// Roles that extend each role, directly.
    pub extended_by: BTreeMap<String, BTreeSet<String>>,
}

impl RoleGraph {
    /// Builds the graph; cycles and over-deep nesting come back as diagnostics and no graph.
    ///
    /// Every algorithm here is iterative and every closure is computed once per
    /// node (in topological order), so no input can overflow the stack or take
    /// exponential time.
    pub fn build(defs: &Definitions) -> Result<RoleGraph, Vec<Diagnostic>> {
        let mut g: DiGraphMap<GraphNode<'_>, ()> = DiGraphMap::new();
        for (id, p) in &defs.packages {
            g.add_node(GraphNode::Package(id));
            for nested in &p.packages {
                g.add_edge(GraphNode::Package(id), GraphNode::Package(nested), ());
            }
            for e in &p.entitlements {
                g.add_edge(GraphNode::Package(id), GraphNode::Entitlement(e), ());
            }
        }
        for (id, r) in &defs.roles {
            g.add_node(GraphNode::Role(id));
            for parent in &r.extends {
                g.add_edge(GraphNode::Role(id), GraphNode::Role(parent), ());
            }
            for grant in &r.grants {
                let to = match grant {
                    GrantRef::Package(p) => GraphNode::Package(p),
                    GrantRef::Entitlement(e) => GraphNode::Entitlement(e),
                };
                g.add_edge(GraphNode::Role(id), to, ());
            }
        }
        let location = |n: GraphNode<'_>| match n {
            GraphNode::Package(id) => defs.packages.get(id).map(|p| p.source.clone()),
            GraphNode::Role(id) => defs.roles.get(id).map(|r| r.source.clone()),
            GraphNode::Entitlement(id) => defs.entitlements.get(id).map(|e| e.source.clone()),
        };
        let mut diagnostics = Vec::new();
        let mut sccs = kosaraju_scc(&g);
        sccs.iter_mut().for_each(|scc| scc.sort());
        sccs.sort();
        for scc in sccs {
            let cyclic = scc.len() > 1 || g.contains_edge(scc[0], scc[0]);
            if !cyclic {
                continue;
            }
            let members: BTreeSet<GraphNode<'_>> = scc.iter().copied().collect();
            let start = scc[0];
            let path = cycle_path(&g, start, &members);
            let what = match start {
                GraphNode::Package(_) => "packages nest",
                GraphNode::Role(_) => "roles extend",
                GraphNode::Entitlement(_) => "entitlements",
            };
            let names: Vec<String> = path.iter().map(|n| format!("`{}`", node_id(*n))).collect();
            diagnostics.push(
                Diagnostic::new(
                    Code::Cycle,
                    location(start).unwrap_or_default(),
                    format!("{what} in a cycle: {}", names.join(" → ")),
                )
                .with_help("break the cycle: nesting and `extends` must form a hierarchy"),
            );
        }
        if !diagnostics.is_empty() {
            return Err(diagnostics);
        }
        // Acyclic now: children (nested packages, parent roles) come after their users.
        let order = toposort(&g, None).map_err(|_| Vec::new())?;

        // Nesting depth, deepest first reported.
        let mut depth: BTreeMap<GraphNode<'_>, usize> = BTreeMap::new();
        for n in order.iter().rev() {
            let d = 1 + g
                .neighbors(*n)
                .filter(|m| std::mem::discriminant(m) == std::mem::discriminant(n))
                .filter_map(|m| depth.get(&m).copied())
                .max()
                .unwrap_or(0);
            depth.insert(*n, d);
            if d == MAX_NESTING + 1 {
                let what = if matches!(n, GraphNode::Role(_)) {
                    "`extends` chain"
                } else {
                    "package nesting"
                };
                diagnostics.push(
                    Diagnostic::new(
                        Code::InputTooLarge,
                        location(*n).unwrap_or_default(),
                        format!("{what} below `{}` is deeper than {MAX_NESTING} levels", node_id(*n)),
                    )
                    .with_help("flatten the hierarchy"),
                );
            }
        }
        if !diagnostics.is_empty() {
            return Err(diagnostics);
        }

        // Package closures, children first.
        let mut package_paths: BTreeMap<&str, BTreeMap<String, Vec<Vec<String>>>> = BTreeMap::new();
        for n in order.iter().rev() {
            let GraphNode::Package(id) = n else { continue };
            let Some(p) = defs.packages.get(*id) else { continue };
            let mut reach: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
            for e in &p.entitlements {
                push_capped(reach.entry(e.clone()).or_default(), vec![id.to_string()]);
            }
            for nested in &p.packages {
                for (e, paths) in package_paths.get(nested.as_str()).into_iter().flatten() {
                    let slot = reach.entry(e.clone()).or_default();
                    for path in paths {
                        let mut full = Vec::with_capacity(path.len() + 1);
                        full.push(id.to_string());
                        full.extend(path.iter().cloned());
                        push_capped(slot, full);
                    }
                }
            }
            package_paths.insert(id, reach);
        }
        let package_entitlements: BTreeMap<String, BTreeSet<String>> = package_paths
            .iter()
            .map(|(p, m)| (p.to_string(), m.keys().cloned().collect()))
            .collect();
        let mut entitlement_packages: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (p, ents) in &package_entitlements {
            for e in ents {
                entitlement_packages.entry(e.clone()).or_default().insert(p.clone());
            }
        }

        // Role closures, parents first.
        let mut role_grants: BTreeMap<String, BTreeMap<String, Vec<GrantPath>>> = BTreeMap::new();
        let mut role_ancestors: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut extended_by: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for n in order.iter().rev() {
            let GraphNode::Role(id) = n else { continue };
            let Some(role) = defs.roles.get(*id) else { continue };
            let mut grants: BTreeMap<String, BTreeSet<GrantPath>> = BTreeMap::new();
            for grant in &role.grants {
                match grant {
                    GrantRef::Entitlement(e) => add_path(
                        &mut grants,
                        e,
                        GrantPath {
                            inherited: Vec::new(),
                            via: Vec::new(),
                        },
                    ),
                    GrantRef::Package(p) => {
                        for (e, paths) in package_paths.get(p.as_str()).into_iter().flatten() {
                            for via in paths {
                                add_path(
                                    &mut grants,
                                    e,
                                    GrantPath {
                                        inherited: Vec::new(),
                                        via: via.clone(),
                                    },
                                );
                            }
                        }
                    }
                }
            }
            let mut ancestors = BTreeSet::new();
            for parent in &role.extends {
                extended_by.entry(parent.clone()).or_default().insert(id.to_string());
                ancestors.insert(parent.clone());
                ancestors.extend(role_ancestors.get(parent).into_iter().flatten().cloned());
                for (e, paths) in role_grants.get(parent).into_iter().flatten() {
                    for path in paths {
                        let mut inherited = Vec::with_capacity(path.inherited.len() + 1);
                        inherited.push(parent.clone());
                        inherited.extend(path.inherited.iter().cloned());
                        add_path(
                            &mut grants,
                            e,
                            GrantPath {
                                inherited,
                                via: path.via.clone(),
                            },
                        );
                    }
                }
            }
            role_ancestors.insert(id.to_string(), ancestors);
            role_grants.insert(
                id.to_string(),
                grants.into_iter().map(|(e, p)| (e, p.into_iter().collect())).collect(),
            );
        }
        let mut role_members: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (role, ancestors) in &role_ancestors {
            role_members.entry(role.clone()).or_default().insert(role.clone());
            for a in ancestors {
                role_members.entry(a.clone()).or_default().insert(role.clone());
            }
        }
        Ok(RoleGraph {
            role_grants,
            package_entitlements,
            entitlement_packages,
            role_ancestors,
            role_members,
            extended_by,
        })
    }

    /// The entitlements a grant reference stands for.
    pub fn expand(&self, grant: &GrantRef) -> BTreeSet<String> {
        match grant {
            GrantRef::Entitlement(e) => BTreeSet::from([e.clone()]),
            GrantRef::Package(p) => self.package_entitlements.get(p).cloned().unwrap_or_default(),
        }
    }
}

fn add_path(grants: &mut BTreeMap<String, BTreeSet<GrantPath>>, entitlement: &str, path: GrantPath) {
    let paths = grants.entry(entitlement.to_string()).or_default();
    if paths.len() < MAX_PATHS {
        paths.insert(path);
    }
}

fn push_capped(paths: &mut Vec<Vec<String>>, path: Vec<String>) {
    if paths.len() < MAX_PATHS && !paths.contains(&path) {
        paths.push(path);
    }
}

fn node_id(n: GraphNode<'_>) -> &str {
    match n {
        GraphNode::Role(id) | GraphNode::Package(id) | GraphNode::Entitlement(id) => id,
    }
}

/// A shortest path from `start` back to `start` inside one strongly connected
/// component (breadth-first, so no recursion and the clearest cycle).
fn cycle_path<'a>(g: &DiGraphMap<GraphNode<'a>, ()>, start: GraphNode<'a>, members: &BTreeSet<GraphNode<'a>>) -> Vec<GraphNode<'a>> {
    let mut parent: BTreeMap<GraphNode<'a>, GraphNode<'a>> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(current) = queue.pop_front() {
        let mut next: Vec<GraphNode<'a>> = g.neighbors(current).filter(|n| members.contains(n)).collect();
        next.sort();
        for n in next {
            if n == start {
                // Walk back from `current` to `start`, then read it forwards.
                let mut chain = Vec::new();
                let mut at = current;
                while at != start {
                    chain.push(at);
                    at = parent.get(&at).copied().unwrap_or(start);
                }
                let mut path = vec![start];
                path.extend(chain.into_iter().rev());
                path.push(start);
                return path;
            }
            if n != start && !parent.contains_key(&n) {
                parent.insert(n, current);
                queue.push_back(n);
            }
        }
    }
    vec![start, start]
}
