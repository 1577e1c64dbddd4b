//! What-if speed: a one-role change on a generated organisation, against
//! the baseline of evaluating the whole population once, in the same run.
//!
//! The change: the first department role of the organisation (the first
//! role of the first `roles-<department>.yaml`) also grants one entitlement
//! it did not — a line of YAML in a pull request. Groups, each on the same
//! organisation:
//!
//! - `evaluate-population (baseline)`: every identity evaluated once by the
//!   engine on every core, as `plan` does — what any what-if must beat;
//! - `one-role/incremental`: `whatif::scope::between` (the role index bounds
//!   the change) then `whatif::compare` over that scope, both projects and
//!   the feed already loaded: what the library call costs;
//! - `one-role/full`: `whatif::compare` over everyone (both sides evaluated
//!   for every identity): what the comparison costs without the bound;
//! - `one-role/end-to-end`: what `entitle whatif --base-roles DIR --format
//!   json` does after reading its files: both definitions loaded and their
//!   engines built on two threads (the working tree's side also parses the
//!   feed), the scope, the comparison, the JSON text.
//!
//! Before timing, the setup checks that the incremental comparison equals
//! the full one (every field but `evaluation`) and panics otherwise.
//!
//! The organisation is `ENTITLE_BENCH_ORG` when it names a directory holding
//! `roles/`, `policies/` and `identities.jsonl` (as `entitle gen` writes
//! them: the reference organisation is `entitle gen --seed 1 --people 90000
//! --nhis 10000 --roles 2000 --entitlements 40000`), else one generated in
//! memory with the reference organisation's catalog and roles and 20,000
//! identities.
//!
//! It runs under mimalloc, the command's allocator. `cargo bench --features bench --bench
//! whatif`; figures in benches/README.md ("whatif").

use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use entitle::eval::{Engine, Evaluator};
use entitle::gen::{generate, GenOptions};
use entitle::io::identities::parse_identities;
use entitle::population::Population;
use entitle::project::{Project, Sources};
use entitle::whatif::{compare, scope, EvaluationMode, Scope, State, WhatIf};
use entitle::Instant;
use rayon::prelude::*;

// The command's allocator, so the end-to-end figure is the command's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The organisation: its definitions, its feed as JSON Lines, and a name for the groups.
fn organisation() -> (Sources, String, String) {
    match std::env::var_os("ENTITLE_BENCH_ORG") {
        Some(dir) => {
            let dir = Path::new(&dir);
            let mut diagnostics = Vec::new();
            let sources = Sources::read(&dir.join("roles"), Some(&dir.join("policies")), &mut diagnostics);
            assert!(diagnostics.is_empty(), "{} does not read: {diagnostics:?}", dir.display());
            let feed = std::fs::read_to_string(dir.join("identities.jsonl")).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            let name = dir.file_name().map_or("org".into(), |n| n.to_string_lossy().to_string());
            (sources, feed, name)
        }
        None => {
            let options = GenOptions {
                people: 18_000,
                nhis: 2_000,
                ..GenOptions::reference()
            };
            let org = generate(&options).unwrap_or_else(|e| panic!("{e}"));
            (org.sources, org.identities, "gen-20k".into())
        }
    }
}

/// The base with one role changed: the first role of the first department's
/// file also grants an entitlement it did not. Returns the head and a description.
fn one_role_change(base: &Sources, project: &Project) -> (Sources, String) {
    let mut head = base.clone();
    let file = head
        .roles
        .iter_mut()
        .filter(|f| f.name.contains("roles-") && !f.name.contains("birthright") && !f.name.contains("nhi"))
        .min_by(|a, b| a.name.cmp(&b.name))
        .expect("a department's roles file");
    let role_at = file.text.find("\n  - id: ").expect("a role") + 1;
    let role: String = file.text[role_at + "  - id: ".len()..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    let granted = &project.graph.role_grants[&role];
    let extra = project
        .defs
        .entitlements
        .keys()
        .find(|e| !granted.contains_key(*e))
        .expect("an entitlement the role does not grant")
        .clone();
    let grants_at = role_at + file.text[role_at..].find("    grants: [").expect("the role's grants") + "    grants: [".len();
    file.text.insert_str(grants_at, &format!("{extra}, "));
    let description = format!("role `{role}` ({}) also grants `{extra}`", file.name);
    (head, description)
}

fn without_evaluation(mut w: WhatIf) -> WhatIf {
    w.evaluation.reason.clear();
    w.evaluation.evaluated = 0;
    w.evaluation.mode = EvaluationMode::Full;
    w
}

/// What `entitle whatif --base-roles` does after reading its files.
fn end_to_end(base: &Sources, head: &Sources, feed: &str, at: Instant) -> String {
    let (base_side, head_side) = std::thread::scope(|threads| {
        let base = threads.spawn(|| {
            let project = Arc::new(Project::from_sources(base).unwrap_or_else(|_| panic!("base loads")));
            let engine = Engine::new(project.clone()).unwrap_or_else(|e| panic!("{e}"));
            (project, engine)
        });
        let project = Arc::new(Project::from_sources(head).unwrap_or_else(|_| panic!("head loads")));
        let population =
            Population::new(parse_identities("identities.jsonl", feed.as_bytes(), None, &project.defs).unwrap_or_else(|e| panic!("{e}")));
        let engine = Engine::new(project.clone()).unwrap_or_else(|e| panic!("{e}"));
        (base.join().unwrap_or_else(|_| panic!("base thread")), (project, population, engine))
    });
    let ((pb, eb), (ph, population, eh)) = (base_side, head_side);
    let before = State {
        label: "base",
        project: &pb,
        evaluator: &eb,
        population: &population,
        at,
    };
    let after = State {
        label: "working tree",
        project: &ph,
        evaluator: &eh,
        ..before
    };
    let bounded = scope::between(&before, &after, Some((&eb, &eh)));
    let whatif = compare(&before, &after, &bounded, &|_| ()).unwrap_or_else(|e| panic!("{e}"));
    serde_json::to_string_pretty(&whatif).unwrap_or_default()
}

fn bench(c: &mut Criterion) {
    let at = Instant::parse("2026-11-21").unwrap_or(Instant(0));
    let (base_sources, feed, name) = organisation();
    let base = Arc::new(Project::from_sources(&base_sources).unwrap_or_else(|_| panic!("the organisation loads")));
    let (head_sources, change) = one_role_change(&base_sources, &base);
    let head = Arc::new(Project::from_sources(&head_sources).unwrap_or_else(|_| panic!("the changed organisation loads")));
    assert!(
        scope::read_feeds_alike(&base, &head),
        "a grant changed: both sides read the feed alike"
    );
    let population =
        Population::new(parse_identities("identities.jsonl", feed.as_bytes(), None, &head.defs).unwrap_or_else(|e| panic!("{e}")));
    let (eb, eh) = (
        Engine::new(base.clone()).unwrap_or_else(|e| panic!("{e}")),
        Engine::new(head.clone()).unwrap_or_else(|e| panic!("{e}")),
    );
    let before = State {
        label: "base",
        project: &base,
        evaluator: &eb,
        population: &population,
        at,
    };
    let after = State {
        label: "working tree",
        project: &head,
        evaluator: &eh,
        ..before
    };
    let everyone = Scope::Everyone { reason: "bench".into() };

    // The answer first: incremental equals full.
    let bounded = scope::between(&before, &after, Some((&eb, &eh)));
    let incremental = compare(&before, &after, &bounded, &|_| ()).unwrap_or_else(|e| panic!("{e}"));
    let full = compare(&before, &after, &everyone, &|_| ()).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "{name}: {} identities; {change}: {} evaluated ({}), {} affected, +{} −{}",
        population.feed.identities.len(),
        incremental.evaluation.evaluated,
        incremental.evaluation.reason,
        incremental.summary.identities_affected,
        incremental.summary.gained,
        incremental.summary.lost
    );
    assert!(incremental.summary.identities_affected > 0, "the change affects someone");
    assert_eq!(
        without_evaluation(incremental),
        without_evaluation(full),
        "incremental differs from full"
    );

    let mut group = c.benchmark_group(format!("whatif/{name}"));
    group.sample_size(10);
    group.bench_function("evaluate-population (baseline)", |b| {
        b.iter(|| {
            population.feed.identities.par_iter().for_each(|identity| {
                let owner = population.owner_of(identity).record();
                std::hint::black_box(eh.desired(identity, owner, at).ok());
            })
        })
    });
    group.bench_function("one-role/incremental", |b| {
        b.iter(|| {
            let bounded = scope::between(&before, &after, Some((&eb, &eh)));
            std::hint::black_box(compare(&before, &after, &bounded, &|_| ()).ok())
        })
    });
    group.bench_function("one-role/full", |b| {
        b.iter(|| std::hint::black_box(compare(&before, &after, &everyone, &|_| ()).ok()))
    });
    group.bench_function("one-role/end-to-end", |b| {
        b.iter(|| std::hint::black_box(end_to_end(&base_sources, &head_sources, &feed, at)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
