//! The library as a workflow uses it: errors through `?`, owners found in a
//! population, plans against live grants built in memory, outputs as JSON.

use std::path::Path;
use std::sync::Arc;

use entitle::eval::{EvalError, Evaluator};
use entitle::io::live::LiveFile;
use entitle::plan::{Change, PlanOptions, Planner, RevokeReason};
use entitle::population::Population;
use entitle::state::IdentityState;
use entitle::{Instant, Project};

fn example() -> Arc<Project> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    Arc::new(Project::load(&root.join("roles"), Some(&root.join("policies"))).expect("the example organisation loads"))
}

fn at() -> Instant {
    Instant::parse("2026-11-21").expect("instant")
}

#[test]
fn errors_compose_with_question_mark_and_box_dyn_error() {
    fn load(dir: &Path) -> Result<Project, Box<dyn std::error::Error>> {
        Ok(Project::load(&dir.join("roles"), Some(&dir.join("policies")))?)
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("roles")).expect("mkdir");
    std::fs::create_dir_all(dir.path().join("policies")).expect("mkdir");
    std::fs::write(
        dir.path().join("roles/org.yaml"),
        "roles:\n  - id: engineer\n    grants: [nowhere:thing]\n",
    )
    .expect("write");
    let message = load(dir.path()).expect_err("an unknown entitlement does not load").to_string();
    // The diagnostics, rendered with their line, then the count.
    assert!(message.contains("error["), "{message}");
    assert!(message.contains("roles/org.yaml:3"), "{message}");
    assert!(message.contains("3 | "), "the source line is shown: {message}");
    assert!(
        message.trim_end().ends_with("warnings") || message.trim_end().ends_with("warning"),
        "{message}"
    );

    let bad: Result<Instant, Box<dyn std::error::Error>> = Instant::parse("2026-13-45").map_err(Into::into);
    assert!(bad.expect_err("not a date").to_string().contains("`2026-13-45`"));
}

#[test]
fn desired_in_finds_the_owner_in_the_population() {
    let project = example();
    let engine = entitle::eval::Engine::new(project.clone()).expect("engine");
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/identities.jsonl")).expect("feed");
    let population = Population::from_json_lines(&text, &project.defs).expect("feed reads");
    // A service account owned by u-1015: the same answer as passing the owner by hand.
    let account = population.get("svc-ci-dev").expect("in the feed");
    let owner = population.get("u-1015");
    assert_eq!(account.owner.as_deref(), Some("u-1015"));
    let by_hand = engine.desired(account, owner, at()).expect("evaluates");
    assert_eq!(engine.desired_in(&population, "svc-ci-dev", at()).expect("evaluates"), by_hand);
    // Without its owner, owner conditions are false: a different (smaller or equal) answer than with it.
    let no_owner = engine.desired(account, None, at()).expect("evaluates");
    assert!(no_owner.len() <= by_hand.len());

    match engine.desired_in(&population, "u-nobody", at()) {
        Err(e @ EvalError::NotInPopulation { invalid: false, .. }) => {
            assert_eq!(e.to_string(), "identity `u-nobody` is not in the population")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn desired_in_refuses_an_identity_whose_owner_record_is_invalid() {
    let project = example();
    let engine = entitle::eval::Engine::new(project.clone()).expect("engine");
    let feed = concat!(
        r#"{"id": "u-1", "kind": "person", "attributes": {"status": "no-such-status"}}"#,
        "\n",
        r#"{"id": "svc-1", "kind": "service_account", "owner": "u-1", "attributes": {"status": "active", "environment": "dev", "purpose": "ci"}}"#,
        "\n"
    );
    let population = Population::from_json_lines(feed, &project.defs).expect("feed reads");
    assert!(population.is_invalid("u-1"));
    match engine.desired_in(&population, "svc-1", at()) {
        Err(EvalError::OwnerInvalid { identity, owner }) => assert_eq!((identity.as_str(), owner.as_str()), ("svc-1", "u-1")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        engine.desired_in(&population, "u-1", at()),
        Err(EvalError::NotInPopulation { invalid: true, .. })
    ));
}

#[test]
fn a_plan_against_grants_built_in_memory_equals_the_plan_against_the_same_grants_read() {
    let project = example();
    let engine = entitle::eval::Engine::new(project.clone()).expect("engine");
    let leaver = IdentityState::from_json(
        &serde_json::json!({"id": "u-9", "kind": "person", "attributes": {"status": "terminated", "department": "Engineering"}}),
        &project.defs,
    )
    .expect("valid record");
    let population = Population::from_records([leaver]);
    let grants = [("u-9", "github:org-member"), ("u-9", "slack:member"), ("u-9", "slack:member")];
    let in_memory = LiveFile::from_grants("connector", grants).expect("valid grants");
    assert_eq!(in_memory.len(), 2, "a grant listed twice is kept once");
    // The fingerprint is of the grants, so the same grants give the same inputs.
    assert_eq!(in_memory.sha256, LiveFile::from_grants("connector", grants).expect("valid").sha256);

    let options = PlanOptions::new(at()).with_force(true);
    let plan = Planner::new(&engine, options.clone())
        .plan(&population, &[in_memory])
        .expect("plans");
    let jsonl =
        "{\"identity\": \"u-9\", \"entitlement\": \"github:org-member\"}\n{\"identity\": \"u-9\", \"entitlement\": \"slack:member\"}\n";
    let read = entitle::io::live::parse_live("connector", jsonl.as_bytes(), None, None).expect("reads");
    let from_file = Planner::new(&engine, options).plan(&population, &[read]).expect("plans");
    assert_eq!(plan.changes, from_file.changes);
    assert_eq!(plan.changes.len(), 2);
    assert!(plan.changes.iter().all(
        |c| matches!(c, Change::Revoke { identity, reason: RevokeReason::Forbidden | RevokeReason::NotJustified, .. } if identity == "u-9")
    ));
    // The plan serialises as `plan --format json` writes it.
    let json = serde_json::to_value(&plan).expect("serialises");
    assert_eq!(json["changes"][0]["op"], "revoke");

    let bad = LiveFile::from_grants("connector", [("u-9 ", "slack:member")]).expect_err("whitespace in an id");
    assert!(bad.to_string().contains("leading or trailing whitespace"), "{bad}");
}

#[test]
fn desired_sets_and_explanations_serialise() {
    let project = example();
    let engine = entitle::eval::Engine::new(project.clone()).expect("engine");
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/identities.jsonl")).expect("feed");
    let population = Population::from_json_lines(&text, &project.defs).expect("feed reads");
    let desired = engine.desired_in(&population, "u-1001", at()).expect("evaluates");
    let json = serde_json::to_value(&desired).expect("serialises");
    assert_eq!(json["identity"], "u-1001");
    let identity = population.get("u-1001").expect("in the feed");
    let entitlement = desired.entitlements().next().expect("u-1001 holds something");
    let why = entitle::eval::explain::explain(&project, &engine, identity, None, at(), entitlement).expect("explains");
    assert_eq!(serde_json::to_value(&why).expect("serialises")["outcome"], "holds");
}
