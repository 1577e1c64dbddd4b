//! The role/package/entitlement graph (petgraph): cycles with their whole
//! path, and the closures the compiler and the engine share.
//!
//! Invariant: closures are computed only over an acyclic graph; [`RoleGraph::build`]
//! refuses definitions with a cycle.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::algo::tarjan_scc;
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

/// The acyclic graph of the definitions, with per-role closures.
#[derive(Debug, Clone)]
pub struct RoleGraph {
    /// For every role: each entitlement it grants (own and inherited), with every path.
    pub role_grants: BTreeMap<String, BTreeMap<String, Vec<GrantPath>>>,
    /// For every package: the entitlements it contains, transitively.
    pub package_entitlements: BTreeMap<String, BTreeSet<String>>,
    /// For every role: the roles it extends, transitively (itself excluded).
    pub role_ancestors: BTreeMap<String, BTreeSet<String>>,
    /// Roles that extend each role, directly.
    pub extended_by: BTreeMap<String, BTreeSet<String>>,
}

impl RoleGraph {
    /// Builds the graph; cycles come back as diagnostics (one per cycle) and no graph.
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
        let mut diagnostics = Vec::new();
        for scc in tarjan_scc(&g) {
            let cyclic = scc.len() > 1 || g.contains_edge(scc[0], scc[0]);
            if !cyclic {
                continue;
            }
            let members: BTreeSet<GraphNode<'_>> = scc.iter().copied().collect();
            let start = *members.iter().next().unwrap_or(&scc[0]);
            let path = cycle_path(&g, start, &members);
            let (what, location) = match start {
                GraphNode::Package(id) => ("packages nest", defs.packages.get(id).map(|p| p.source.clone())),
                GraphNode::Role(id) => ("roles extend", defs.roles.get(id).map(|r| r.source.clone())),
                GraphNode::Entitlement(_) => ("entitlements", None),
            };
            let names: Vec<String> = path.iter().map(|n| format!("`{}`", node_id(*n))).collect();
            diagnostics.push(
                Diagnostic::new(
                    Code::Cycle,
                    location.unwrap_or_default(),
                    format!("{what} in a cycle: {}", names.join(" → ")),
                )
                .with_help("break the cycle: nesting and `extends` must form a hierarchy"),
            );
        }
        if !diagnostics.is_empty() {
            return Err(diagnostics);
        }

        let mut package_paths: BTreeMap<String, BTreeMap<String, Vec<Vec<String>>>> = BTreeMap::new();
        for id in defs.packages.keys() {
            package_reach(defs, id, &mut package_paths);
        }
        let package_entitlements = package_paths
            .iter()
            .map(|(p, m)| (p.clone(), m.keys().cloned().collect()))
            .collect();

        let mut role_ancestors = BTreeMap::new();
        let mut extended_by: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut role_grants = BTreeMap::new();
        for (id, role) in &defs.roles {
            for parent in &role.extends {
                extended_by.entry(parent.clone()).or_default().insert(id.clone());
            }
            let mut ancestors = BTreeSet::new();
            let mut grants: BTreeMap<String, BTreeSet<GrantPath>> = BTreeMap::new();
            // Walk the extends DAG from the role, remembering the inheritance chain.
            let mut stack: Vec<(&str, Vec<String>)> = vec![(id.as_str(), Vec::new())];
            while let Some((current, chain)) = stack.pop() {
                let Some(r) = defs.roles.get(current) else { continue };
                for grant in &r.grants {
                    match grant {
                        GrantRef::Entitlement(e) => add_path(
                            &mut grants,
                            e,
                            GrantPath {
                                inherited: chain.clone(),
                                via: Vec::new(),
                            },
                        ),
                        GrantRef::Package(p) => {
                            if let Some(reach) = package_paths.get(p) {
                                for (e, paths) in reach {
                                    for via in paths {
                                        add_path(
                                            &mut grants,
                                            e,
                                            GrantPath {
                                                inherited: chain.clone(),
                                                via: via.clone(),
                                            },
                                        );
                                    }
                                }
                            }
                        }
                    }
                }
                for parent in r.extends.iter().rev() {
                    ancestors.insert(parent.clone());
                    let mut next = chain.clone();
                    next.push(parent.clone());
                    stack.push((parent, next));
                }
            }
            role_ancestors.insert(id.clone(), ancestors);
            role_grants.insert(id.clone(), grants.into_iter().map(|(e, p)| (e, p.into_iter().collect())).collect());
        }
        Ok(RoleGraph {
            role_grants,
            package_entitlements,
            role_ancestors,
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

/// Every entitlement a package reaches, with each package path (starting at the package).
fn package_reach<'m>(
    defs: &Definitions,
    id: &str,
    memo: &'m mut BTreeMap<String, BTreeMap<String, Vec<Vec<String>>>>,
) -> &'m BTreeMap<String, Vec<Vec<String>>> {
    if !memo.contains_key(id) {
        let mut reach: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
        if let Some(p) = defs.packages.get(id) {
            for e in &p.entitlements {
                push_capped(reach.entry(e.clone()).or_default(), vec![id.to_string()]);
            }
            for nested in &p.packages {
                let inner = package_reach(defs, nested, memo).clone();
                for (e, paths) in inner {
                    for path in paths {
                        let mut full = vec![id.to_string()];
                        full.extend(path);
                        push_capped(reach.entry(e.clone()).or_default(), full);
                    }
                }
            }
        }
        memo.insert(id.to_string(), reach);
    }
    &memo[id]
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

/// A path from `start` back to `start` inside one strongly connected component.
fn cycle_path<'a>(g: &DiGraphMap<GraphNode<'a>, ()>, start: GraphNode<'a>, members: &BTreeSet<GraphNode<'a>>) -> Vec<GraphNode<'a>> {
    let mut path = vec![start];
    let mut visited = BTreeSet::from([start]);
    fn dfs<'a>(
        g: &DiGraphMap<GraphNode<'a>, ()>,
        start: GraphNode<'a>,
        members: &BTreeSet<GraphNode<'a>>,
        path: &mut Vec<GraphNode<'a>>,
        visited: &mut BTreeSet<GraphNode<'a>>,
    ) -> bool {
        let Some(&current) = path.last() else { return false };
        let mut next: Vec<GraphNode<'a>> = g.neighbors(current).filter(|n| members.contains(n)).collect();
        next.sort();
        for n in next {
            if n == start {
                path.push(n);
                return true;
            }
            if visited.insert(n) {
                path.push(n);
                if dfs(g, start, members, path, visited) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    dfs(g, start, members, &mut path, &mut visited);
    path
}
