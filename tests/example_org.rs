//! The bundled example organisation: it loads clean, and the engine agrees
//! with the Cedar oracle on every identity at several instants.

mod common;

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
