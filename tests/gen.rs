//! `entitle gen`: determinism, a pinned small organisation, definitions that
//! load, a feed that reads back as generated, totals that match the flags,
//! every kind of drift in the plan, every generated guardrail firing, and
//! the engine equal to the oracle on a sample (generated guardrails included).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

use entitle::diag::Severity;
use entitle::eval::{Engine, Evaluator, Oracle};
use entitle::gen::{generate, guardrails, GenError, GenOptions, GeneratedOrg};
use entitle::io::identities::parse_identities;
use entitle::io::live::parse_live;
use entitle::plan::{plan, Change, GuardLimits, PlanOptions, RevokeReason};
use entitle::population::Population;
use entitle::Project;
use sha2::{Digest, Sha256};

/// The test organisation: small enough for `cargo test`, big enough for every drift.
fn small_options() -> GenOptions {
    GenOptions {
        seed: 7,
        people: 2_000,
        nhis: 200,
        roles: 100,
        entitlements: 1_000,
        ..GenOptions::reference()
    }
}

fn small() -> &'static GeneratedOrg {
    static ORG: OnceLock<GeneratedOrg> = OnceLock::new();
    ORG.get_or_init(|| generate(&small_options()).expect("the small organisation generates"))
}

fn sha256(org: &GeneratedOrg) -> String {
    let mut h = Sha256::new();
    for (name, text) in org.files() {
        h.update(name.as_bytes());
        h.update([0]);
        h.update(text.as_bytes());
        h.update([0]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn the_same_options_give_byte_identical_files() {
    let again = generate(&small_options()).expect("generates");
    let (a, b) = (small().files(), again.files());
    assert_eq!(a.len(), b.len());
    for ((name_a, text_a), (name_b, text_b)) in a.iter().zip(&b) {
        assert_eq!(name_a, name_b);
        assert!(text_a == text_b, "{name_a} differs between two runs with the same options");
    }
    let other = generate(&GenOptions {
        seed: 8,
        ..small_options()
    })
    .expect("generates");
    assert_ne!(sha256(&other), sha256(small()), "another seed gives another organisation");
}

#[test]
fn the_output_does_not_depend_on_the_number_of_threads() {
    let tiny = GenOptions {
        seed: 4,
        people: 400,
        nhis: 60,
        roles: 60,
        entitlements: 400,
        ..GenOptions::reference()
    };
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a pool");
    let three = rayon::ThreadPoolBuilder::new().num_threads(3).build().expect("a pool");
    let a = one.install(|| generate(&tiny)).expect("generates");
    let b = three.install(|| generate(&tiny)).expect("generates");
    assert_eq!(sha256(&a), sha256(&b));
}

/// A tiny organisation's bytes are pinned, so an accidental change of the
/// generator (or of its random stream) is seen. After a deliberate change,
/// paste the new hash printed by the failure.
#[test]
fn a_tiny_organisation_is_pinned() {
    let tiny = GenOptions {
        seed: 3,
        people: 120,
        nhis: 20,
        roles: 50,
        entitlements: 300,
        ..GenOptions::reference()
    };
    let org = generate(&tiny).expect("generates");
    let hash = sha256(&org);
    assert_eq!(
        hash, PINNED,
        "the generated organisation changed; if that was meant, set PINNED to \"{hash}\""
    );
}

const PINNED: &str = "56f9730b8b5f16e73d1daa3bbb743e0912039143dde76e2653dc3a96702b3f42";

#[test]
fn the_definitions_load_without_errors_and_the_feed_and_live_state_read_cleanly() {
    let org = small();
    let project = Project::from_sources(&org.sources).unwrap_or_else(|f| {
        panic!(
            "the generated definitions do not load: {:?}",
            &f.diagnostics[..f.diagnostics.len().min(5)]
        )
    });
    assert!(project.warnings.iter().all(|d| d.severity == Severity::Warning));
    // The warnings a real, half-modelled catalog has, and only those.
    let codes: BTreeSet<&str> = project.warnings.iter().map(|d| d.code.as_str()).collect();
    assert!(
        codes.iter().all(|c| ["W001", "W002", "W003", "W005"].contains(c)),
        "unexpected warnings: {codes:?}"
    );
    assert!(codes.contains("W002"), "part of the catalog is granted by no role");
    // Built on first use, not at load: the static entities still fit the schema.
    let entities = project.compiled.entities().expect("the static entities fit the schema");
    assert!(entities.iter().count() >= org.totals.entitlements, "every entitlement is an entity");

    let feed = parse_identities("identities.jsonl", org.identities.as_bytes(), None, &project.defs).expect("the feed reads");
    assert!(
        feed.invalid.is_empty(),
        "invalid records: {:?}",
        &feed.invalid[..feed.invalid.len().min(5)]
    );
    assert_eq!(feed.identities.len(), org.feed.identities.len());

    let live = parse_live("live.jsonl", org.live.as_bytes(), None, None).expect("the live state reads");
    assert_eq!(live.len(), org.totals.drift.live_grants, "no line is a duplicate");
}

#[test]
fn the_totals_match_the_flags() {
    let org = small();
    let o = small_options();
    let defs = &org.project.defs;
    assert_eq!(defs.roles.len(), o.roles);
    assert_eq!(org.totals.roles, o.roles);
    assert_eq!(defs.entitlements.len(), o.entitlements);
    assert_eq!(org.totals.entitlements, o.entitlements);
    let people = org.feed.identities.iter().filter(|s| &*s.kind == "person").count();
    assert_eq!((people, org.feed.identities.len() - people), (o.people, o.nhis));
    assert_eq!(org.totals.packages, defs.packages.len());
    assert_eq!(org.totals.applications, defs.applications.len());
    assert_eq!(org.totals.sod_rules, defs.sod.len());
    assert_eq!(org.totals.invariants, defs.invariants.len());
    assert_eq!(
        org.totals.privileged_entitlements,
        defs.entitlements.values().filter(|e| e.privileged).count()
    );
    assert_eq!(org.totals.assignable_roles, defs.roles.values().filter(|r| r.assignable).count());
    assert_eq!(org.totals.drift.live_grants, org.live.lines().count());
    let guardrail_ids: BTreeSet<String> = org
        .project
        .compiled
        .info
        .iter()
        .filter(|(_, i)| i.origin == entitle::compile::PolicyOrigin::Guardrail)
        .map(|(id, _)| id.clone())
        .collect();
    let expected: BTreeSet<String> = guardrails(&o).iter().map(|g| g.id.to_string()).collect();
    assert_eq!(guardrail_ids, expected, "the guardrail list matches policies/guardrails.cedar");
    assert_eq!(org.totals.guardrails, expected.len());
    // Realistic averages (the reference organisation's are in docs/gen.md).
    assert!((4.0..8.0).contains(&org.totals.mean_roles), "{}", org.totals.mean_roles);
    assert!(
        (14.0..30.0).contains(&org.totals.mean_entitlements),
        "{}",
        org.totals.mean_entitlements
    );
    // Two packages per role, roughly, nested: some package nests another.
    assert!(org.totals.packages * 10 >= o.roles * 15, "{} packages", org.totals.packages);
    assert!(defs.packages.values().any(|p| !p.packages.is_empty()));
    // The manifest says how to reproduce it.
    let manifest: serde_json::Value = serde_json::from_str(&org.manifest).expect("gen.json is JSON");
    assert_eq!(
        manifest["reproduce"],
        "entitle gen --seed 7 --people 2000 --nhis 200 --roles 100 --entitlements 1000 --as-of 2026-11-21T00:00:00Z --out DIR"
    );
}

#[test]
fn the_plan_shows_every_kind_of_drift_and_only_the_revocation_guard_trips() {
    let org = small();
    let project = &org.project;
    let engine = Engine::new(project.clone()).expect("engine");
    let population = Population::new(org.feed.clone());
    let live = parse_live("live.jsonl", org.live.as_bytes(), None, None).expect("live reads");
    let at = small_options().as_of;
    let options = |force| PlanOptions {
        as_of: at,
        limits: GuardLimits::default(),
        force,
        governance: Default::default(),
    };
    let forced = plan(project, &engine, &population, std::slice::from_ref(&live), &options(true), &|_| ()).expect("plans");
    let s = &forced.summary;
    assert!(s.grants > 0, "joiners not provisioned become grants");
    for reason in ["not-justified", "forbidden", "orphaned-account", "expired-assignment"] {
        assert!(
            s.revokes_by_reason.get(reason).copied().unwrap_or(0) > 0,
            "no `{reason}` revocation: {s:?}"
        );
    }
    let detailed = forced
        .changes
        .iter()
        .filter(|c| {
            matches!(
                c,
                Change::Revoke {
                    reason: RevokeReason::NotJustified,
                    detail: Some(_),
                    ..
                }
            )
        })
        .count();
    assert!(
        detailed > 0,
        "an over-long assignment or a lost eligibility explains some revocations"
    );
    let forbidden_by: BTreeSet<&str> = forced
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::Revoke { forbidden_by: Some(f), .. } => Some(f.as_str()),
            _ => None,
        })
        .flat_map(|f| f.split(", "))
        .collect();
    for id in [
        "leavers-hold-nothing",
        "past-end-date-hold-nothing",
        "orphaned-nhis-hold-nothing",
        "contractors-never-privileged",
    ] {
        assert!(forbidden_by.contains(id), "no revocation forbidden by `{id}`: {forbidden_by:?}");
    }
    assert!(
        s.orphaned_accounts > 0 && !forced.unmanaged.is_empty() && s.expired_assignments > 0,
        "{s:?}"
    );
    assert_eq!(s.invalid_identities, 0);
    assert!(forced.held_back.is_empty());
    assert!(
        s.entitlement_accuracy > 0.8 && s.entitlement_accuracy < 0.98,
        "{}",
        s.entitlement_accuracy
    );

    // Unforced, only the revocation guard trips: the feed is complete and valid.
    let refused = plan(project, &engine, &population, std::slice::from_ref(&live), &options(false), &|_| ()).expect("plans");
    let why = refused.refused.as_deref().unwrap_or_default();
    assert!(why.contains("--max-revokes"), "{why}");
    for other in ["--max-invalid", "--max-orphaned", "--max-privileged-grants"] {
        assert!(!why.contains(other), "{why}");
    }
}

/// Every generated guardrail forbids something for someone, and on a sample
/// of identities — those it fires on, and a spread of the rest — the engine
/// answers exactly what the oracle answers (desired sets, and the forbidding
/// guardrails of what they hold live).
#[test]
fn the_engine_equals_the_oracle_on_a_sample_including_the_generated_guardrails() {
    let options = GenOptions {
        seed: 11,
        people: 500,
        nhis: 400,
        roles: 120,
        entitlements: 400,
        literal_entity_guardrail: true,
        ..GenOptions::reference()
    };
    let org = generate(&options).expect("generates");
    let project: Arc<Project> = org.project.clone();
    let engine = Engine::new(project.clone()).expect("engine");
    let oracle = Oracle::new(project.clone());
    let at = options.as_of;
    let population = Population::new(org.feed.clone());
    let mut live: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let live_file = parse_live("live.jsonl", org.live.as_bytes(), None, None).expect("live reads");
    for g in live_file.grants() {
        live.entry(g.identity().to_string())
            .or_default()
            .insert(g.entitlement().to_string());
    }

    // What each guardrail fires on, by the engine, over the whole feed.
    let mut fires: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (k, identity) in population.feed.identities.iter().enumerate() {
        let owner = population.owner_of(identity).record();
        let desired = engine.desired(identity, owner, at).expect("engine evaluates");
        let mut ids: BTreeSet<String> = desired.forbidden().flat_map(|(_, by)| by).map(String::from).collect();
        for e in live.get(identity.id.as_str()).into_iter().flatten() {
            if !desired.holds(e) {
                ids.extend(engine.forbidding(identity, owner, at, e).expect("engine forbidding"));
            }
        }
        for id in ids {
            fires.entry(id).or_default().push(k);
        }
    }
    let silent: Vec<&str> = guardrails(&options)
        .iter()
        .map(|g| g.id)
        .filter(|id| !fires.contains_key(*id))
        .collect();
    assert!(
        silent.is_empty(),
        "guardrails that forbid nothing in the generated organisation: {silent:?}"
    );

    // The sample: two identities per guardrail, and every 45th identity.
    let mut sample: BTreeSet<usize> = fires.values().flat_map(|v| v.iter().take(2).copied()).collect();
    sample.extend((0..population.feed.identities.len()).step_by(45));
    let mut kinds = BTreeSet::new();
    for k in sample {
        let identity = &population.feed.identities[k];
        kinds.insert(identity.kind.to_string());
        let owner = population.owner_of(identity).record();
        let fast = engine.desired(identity, owner, at).expect("engine evaluates");
        let slow = oracle.desired(identity, owner, at).expect("oracle evaluates");
        assert_eq!(fast, slow, "engine and oracle disagree on `{}`", identity.id);
        // What a plan asks `forbidding` about: the live grants it would revoke (and a few kept ones).
        let held = live.get(identity.id.as_str()).into_iter().flatten();
        let (revoked, kept): (Vec<&String>, Vec<&String>) = held.partition(|e| !fast.holds(e));
        for e in revoked.into_iter().chain(kept.into_iter().take(3)) {
            let f = engine.forbidding(identity, owner, at, e).expect("engine forbidding");
            let o = oracle.forbidding(identity, owner, at, e).expect("oracle forbidding");
            assert_eq!(f, o, "forbidding disagrees on `{}` / `{e}`", identity.id);
        }
    }
    assert_eq!(kinds.len(), 3, "the sample holds people, service accounts and agents: {kinds:?}");
}

#[test]
fn write_to_refuses_a_foreign_directory_and_replaces_its_own_output() {
    let tiny = GenOptions {
        seed: 5,
        people: 100,
        nhis: 10,
        roles: 50,
        entitlements: 300,
        ..GenOptions::reference()
    };
    let org = generate(&tiny).expect("generates");
    let dir = tempfile::tempdir().expect("tempdir");

    std::fs::write(dir.path().join("notes.txt"), "mine").expect("write");
    let err = org.write_to(dir.path()).expect_err("a foreign directory is refused");
    assert!(matches!(err, GenError::NotEmpty(_)), "{err}");
    assert!(err
        .to_string()
        .ends_with("is not empty and was not written by `entitle gen`; choose a new or empty directory"));
    std::fs::remove_file(dir.path().join("notes.txt")).expect("remove");

    let written = org.write_to(dir.path()).expect("writes");
    assert_eq!(written.len(), org.files().len());
    // A stale file of the previous output is removed on the next run.
    let stale = dir.path().join("roles/roles-stale.yaml");
    let manifest = std::fs::read_to_string(dir.path().join("gen.json")).expect("manifest");
    std::fs::write(
        dir.path().join("gen.json"),
        manifest.replacen("\"files\": [", "\"files\": [\n    \"roles/roles-stale.yaml\",", 1),
    )
    .expect("write");
    std::fs::write(&stale, "roles: []\n").expect("write");
    org.write_to(dir.path()).expect("rewrites its own output");
    assert!(!stale.exists());
    for (name, text) in org.files() {
        assert_eq!(std::fs::read_to_string(dir.path().join(&name)).expect("read"), text, "{name}");
    }
}

#[test]
fn the_generated_directory_checks_and_plans_through_the_binary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("org");
    let run = |cwd: &std::path::Path, args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_entitle"))
            .current_dir(cwd)
            .args(args)
            .output()
            .expect("entitle runs")
    };
    let gen = run(
        dir.path(),
        &[
            "gen",
            "--seed",
            "2",
            "--people",
            "300",
            "--nhis",
            "30",
            "--roles",
            "60",
            "--entitlements",
            "400",
            "--out",
            "org",
        ],
    );
    let stdout = String::from_utf8_lossy(&gen.stdout);
    assert_eq!(gen.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&gen.stderr));
    assert!(
        stdout.starts_with("generated org (seed 2, as of 2026-11-21T00:00:00Z): "),
        "{stdout}"
    );
    assert!(
        stdout.contains(" 60 roles ") && stdout.contains(" 400 entitlements ") && stdout.contains("300 people and 30 NHIs"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 1);

    let check = run(&out, &["check", "--format", "json"]);
    assert_eq!(check.status.code(), Some(0), "{}", String::from_utf8_lossy(&check.stderr));
    let plan = run(
        &out,
        &[
            "plan",
            "--identities",
            "identities.jsonl",
            "--live",
            "live.jsonl",
            "--as-of",
            "2026-11-21",
            "--format",
            "json",
            "--force",
        ],
    );
    assert_eq!(plan.status.code(), Some(0), "{}", String::from_utf8_lossy(&plan.stderr));
    let p: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("plan is JSON");
    assert_eq!(p["summary"]["identities"], 330);
    assert_eq!(p["summary"]["invalid_identities"], 0);

    let bad = run(dir.path(), &["gen", "--roles", "5", "--out", "other"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).starts_with("error: `--roles` must be at least"));
    let bad = run(dir.path(), &["gen", "--roles", "many", "--out", "other"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("`many` is not a count of roles"));
}
