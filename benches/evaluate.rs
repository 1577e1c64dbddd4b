//! Evaluation speed: the engine against the plain-Cedar oracle (the
//! baseline), in the same run.
//!
//! - `example-org/*`: the bundled example organisation (54 roles, 76
//!   entitlements, 5 guardrails, 83 identities), the whole population per
//!   iteration, engine and oracle — the figure to report is the ratio;
//! - `example-org/engine-one-identity`: one identity per iteration, cycling
//!   through the population (the mean time of one call through the library);
//! - `reference-org/engine-one-identity`: the same on a generated
//!   organisation, when `ENTITLE_BENCH_ORG` names a directory holding
//!   `roles/`, `policies/` and `identities.jsonl` (as `entitle gen` writes
//!   them); skipped otherwise.
//!
//! `cargo bench --features bench --bench evaluate`. Criterion reports means; for percentiles
//! (p50, p99) of one call, run `cargo run --release --example latency -- DIR`.

use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use entitle::eval::{Engine, Evaluator, Oracle};
use entitle::io::identities::read_identities;
use entitle::population::Population;
use entitle::{Instant, Project};

fn load(roles: &Path, policies: &Path, feed: &Path) -> (Arc<Project>, Population) {
    let project = Arc::new(Project::load(roles, Some(policies)).unwrap_or_else(|f| panic!("{} does not load:\n{f}", roles.display())));
    let feed = read_identities(feed, None, &project.defs).unwrap_or_else(|e| panic!("{e}"));
    (project, Population::new(feed))
}

fn population(c: &mut Criterion, name: &str, evaluator: &dyn Evaluator, population: &Population, at: Instant) {
    c.bench_function(name, |b| {
        b.iter(|| {
            for identity in &population.feed.identities {
                let owner = population.owner_of(identity).record();
                std::hint::black_box(evaluator.desired(identity, owner, at).ok());
            }
        })
    });
}

/// One call per iteration, each on the next identity of the feed.
fn one_identity(c: &mut Criterion, name: &str, evaluator: &dyn Evaluator, population: &Population, at: Instant) {
    let identities = &population.feed.identities;
    if identities.is_empty() {
        return;
    }
    let mut next = 0;
    c.bench_function(name, |b| {
        b.iter(|| {
            let identity = &identities[next % identities.len()];
            next += 1;
            let owner = population.owner_of(identity).record();
            std::hint::black_box(evaluator.desired(identity, owner, at).ok())
        })
    });
}

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let at = Instant::parse("2026-11-21").unwrap_or(Instant(0));
    let (project, people) = load(&root.join("roles"), &root.join("policies"), &root.join("fixtures/identities.jsonl"));
    let engine = Engine::new(project.clone()).unwrap_or_else(|e| panic!("{e}"));
    let oracle = Oracle::new(project);
    population(c, "example-org/engine (83 identities)", &engine, &people, at);
    population(c, "example-org/oracle (83 identities)", &oracle, &people, at);
    one_identity(c, "example-org/engine-one-identity", &engine, &people, at);

    match std::env::var_os("ENTITLE_BENCH_ORG") {
        Some(dir) => {
            let dir = Path::new(&dir);
            let (project, people) = load(&dir.join("roles"), &dir.join("policies"), &dir.join("identities.jsonl"));
            let engine = Engine::new(project).unwrap_or_else(|e| panic!("{e}"));
            one_identity(c, "reference-org/engine-one-identity", &engine, &people, at);
        }
        None => eprintln!("reference-org: skipped (set ENTITLE_BENCH_ORG to a generated organisation's directory)"),
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
