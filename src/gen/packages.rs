//! Access packages: bundles of entitlements, nested a few levels (a DAG:
//! leaves of one application's groups, team and job packages nesting leaves,
//! department baselines nesting their tools, `all-staff` nesting the
//! collaboration bundles), and the drawer that hands out a department's
//! entitlements to them.
//!
//! Must never: nest a package in one created after it (that is what keeps
//! the nesting acyclic), or hand out a privileged entitlement except for
//! an administration package (`Drawer::take` with `privileged`).

use std::collections::BTreeSet;

use super::catalog::Catalog;
use super::rng::Rng;
use super::text::{id_list, scalar};

/// A package being built.
#[derive(Debug, Clone)]
pub(crate) struct Package {
    /// The package id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Entitlements it contains directly (catalog indexes, in order, each once).
    pub ents: Vec<usize>,
    /// Packages nested in it (ids of packages created before it).
    pub packages: Vec<String>,
}

/// Every package, in creation order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Packages {
    /// The packages.
    pub list: Vec<Package>,
    ids: BTreeSet<String>,
}

impl Packages {
    /// Adds a package (an id already taken gets a numeric suffix) and returns its id.
    pub(crate) fn add(&mut self, id: &str, name: &str, ents: Vec<usize>, packages: Vec<String>) -> String {
        let mut unique = id.to_string();
        let mut n = 2;
        while self.ids.contains(&unique) {
            unique = format!("{id}-{n}");
            n += 1;
        }
        self.ids.insert(unique.clone());
        let mut seen = BTreeSet::new();
        let ents = ents.into_iter().filter(|e| seen.insert(*e)).collect();
        let mut seen = BTreeSet::new();
        let packages = packages.into_iter().filter(|p| seen.insert(p.clone())).collect();
        self.list.push(Package {
            id: unique.clone(),
            name: name.to_string(),
            ents,
            packages,
        });
        unique
    }

    /// `roles/packages.yaml`.
    pub(crate) fn yaml(&self, catalog: &Catalog) -> String {
        let mut out = String::from(
            "# Access packages (entitle gen): bundles of entitlements across applications,\n\
             # nested a few levels. Roles grant packages; packages nest packages (a DAG).\nversion: 1\n\npackages:\n",
        );
        for p in &self.list {
            out.push_str(&format!("  - id: {}\n    name: {}\n", p.id, scalar(&p.name)));
            if !p.ents.is_empty() {
                let ids: Vec<&str> = p.ents.iter().map(|e| catalog.ents[*e].id.as_str()).collect();
                out.push_str(&format!("    entitlements: {}\n", id_list(&ids)));
            }
            if !p.packages.is_empty() {
                out.push_str(&format!("    packages: {}\n", id_list(&p.packages)));
            }
        }
        out
    }
}

/// Hands out a department's entitlements: each application's filler in
/// order (so a bundle holds neighbouring groups of one system), starting
/// over when an application runs out.
#[derive(Debug, Clone)]
pub(crate) struct Drawer {
    /// Per application, the next filler position and the next privileged one.
    cursors: Vec<(usize, usize)>,
}

impl Drawer {
    /// A drawer over the catalog.
    pub(crate) fn new(catalog: &Catalog) -> Drawer {
        Drawer {
            cursors: vec![(0, 0); catalog.apps.len()],
        }
    }

    /// An application department `d` works in, weighted by how much filler it has
    /// (`privileged` weighs privileged filler instead).
    pub(crate) fn app_of(&self, catalog: &Catalog, d: usize, privileged: bool, rng: &mut Rng) -> Option<usize> {
        let apps = &catalog.departments[d].apps;
        let weights: Vec<u32> = apps
            .iter()
            .map(|a| {
                let app = &catalog.apps[*a];
                let n = if privileged {
                    app.filler_privileged.len()
                } else {
                    app.filler.len()
                };
                // Square root: the code host should not take every draw.
                (n as f64).sqrt().ceil() as u32
            })
            .collect();
        if weights.iter().all(|w| *w == 0) {
            return None;
        }
        apps.get(rng.weighted(&weights)).copied()
    }

    /// The next `n` filler entitlements of application `a` (privileged ones when asked).
    pub(crate) fn take(&mut self, catalog: &Catalog, a: usize, n: usize, privileged: bool) -> Vec<usize> {
        let app = &catalog.apps[a];
        let pool = if privileged { &app.filler_privileged } else { &app.filler };
        if pool.is_empty() {
            return Vec::new();
        }
        let cursor = if privileged {
            &mut self.cursors[a].1
        } else {
            &mut self.cursors[a].0
        };
        (0..n.min(pool.len()))
            .map(|_| {
                let e = pool[*cursor % pool.len()];
                *cursor += 1;
                e
            })
            .collect()
    }

    /// `n` filler entitlements from department `d`'s applications, one application per draw.
    pub(crate) fn scattered(&mut self, catalog: &Catalog, d: usize, n: usize, rng: &mut Rng) -> Vec<usize> {
        let mut out = Vec::new();
        for _ in 0..n {
            if let Some(a) = self.app_of(catalog, d, false, rng) {
                out.extend(self.take(catalog, a, 1, false));
            }
        }
        out
    }
}
