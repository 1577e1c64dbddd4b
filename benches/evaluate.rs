//! Evaluation speed on the bundled example organisation: the engine against
//! the plain-Cedar oracle (the baseline), per identity, in the same run.
//!
//! `cargo bench --bench evaluate`; the figures to report are the ratios.

use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use entitle::eval::{Engine, Evaluator, Oracle};
use entitle::io::identities::read_identities;
use entitle::population::Population;
use entitle::{Instant, Project};

fn example() -> (Arc<Project>, Population) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (_, project) = Project::load(&root.join("roles"), Some(&root.join("policies")));
    let project = Arc::new(project.unwrap_or_else(|f| panic!("example does not load: {:?}", f.diagnostics)));
    let feed = read_identities(&root.join("fixtures/identities.jsonl"), None, &project.defs).unwrap_or_else(|e| panic!("{e}"));
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

fn bench(c: &mut Criterion) {
    let (project, people) = example();
    let at = Instant::parse("2026-11-21").unwrap_or(Instant(0));
    let engine = Engine::new(project.clone()).unwrap_or_else(|e| panic!("{e}"));
    let oracle = Oracle::new(project);
    population(c, "example-org/engine (83 identities)", &engine, &people, at);
    population(c, "example-org/oracle (83 identities)", &oracle, &people, at);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
