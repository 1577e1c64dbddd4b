//! The bundled example organisation: it loads clean, and the engine agrees
//! with the Cedar oracle on every identity at several instants.

use crate::common;

use std::path::Path;

use entitle::Instant;

#[test]
fn example_org_engine_matches_oracle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let project = common::load_project(root);
    assert!(project.warnings.is_empty(), "{:?}", project.warnings);
    let identities = common::read_identities(&project, &root.join("fixtures/identities.jsonl"));
    assert!(identities.len() >= 50);
    for at in ["2025-06-01", "2026-11-21", "2026-11-21T12:00:00Z", "2027-03-01"] {
        let at = Instant::parse(at).unwrap();
        let desired = common::assert_engine_matches_oracle(&project, &identities, at);
        let total: usize = desired.values().map(|d| d.len()).sum();
        assert!(total > 0, "nobody holds anything at {at}");
    }
}

/// The example's guardrails read only what the native compiler models, so no
/// evaluation builds a Cedar entity store for them.
#[test]
fn example_guardrails_take_the_native_path() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let project = common::load_project(root);
    let engine = entitle::eval::Engine::new(project).unwrap();
    let paths: Vec<(String, entitle::eval::GuardrailPath)> = engine.guardrail_paths().map(|(id, p)| (id.to_string(), p.clone())).collect();
    assert_eq!(paths.len(), 5);
    for (id, path) in paths {
        assert_eq!(path, entitle::eval::GuardrailPath::Native, "{id}");
    }
}
