//! Shared helpers for integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use entitle::eval::{DesiredSet, Engine, Evaluator, Oracle};
use entitle::project::Project;
use entitle::state::IdentityState;
use entitle::Instant;

/// Loads a policy repository from `dir/roles` and `dir/policies`, panicking with rendered diagnostics on failure.
pub fn load_project(dir: &Path) -> Arc<Project> {
    match Project::load(&dir.join("roles"), Some(&dir.join("policies"))) {
        Ok(p) => Arc::new(p),
        Err(f) => panic!("{} does not load:\n{f}", dir.display()),
    }
}

/// Reads a JSON Lines identity file, panicking on an invalid record.
pub fn read_identities(project: &Project, path: &Path) -> Vec<IdentityState> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 1));
            IdentityState::from_json(&v, &project.defs).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 1))
        })
        .collect()
}

/// Evaluates every identity with both evaluators at `at` and asserts they agree exactly.
pub fn assert_engine_matches_oracle(project: &Arc<Project>, identities: &[IdentityState], at: Instant) -> BTreeMap<String, DesiredSet> {
    let engine = Engine::new(project.clone()).expect("engine");
    let oracle = Oracle::new(project.clone());
    let by_id: BTreeMap<&str, &IdentityState> = identities.iter().map(|i| (i.id.as_str(), i)).collect();
    let mut out = BTreeMap::new();
    for identity in identities {
        let owner = identity.owner.as_deref().and_then(|o| by_id.get(o).copied());
        let fast = engine.desired(identity, owner, at).expect("engine evaluates");
        let slow = oracle.desired(identity, owner, at).expect("oracle evaluates");
        assert_eq!(fast, slow, "engine and oracle disagree on `{}` at {at}", identity.id);
        for e in project.defs.entitlements.keys() {
            let f = engine.forbidding(identity, owner, at, e).expect("engine forbidding");
            let o = oracle.forbidding(identity, owner, at, e).expect("oracle forbidding");
            assert_eq!(f, o, "forbidding disagrees on `{}` / `{e}` at {at}", identity.id);
        }
        out.insert(identity.id.clone(), fast);
    }
    out
}

/// Copies a directory tree (a policy repository into a temporary directory), panicking on any error.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
