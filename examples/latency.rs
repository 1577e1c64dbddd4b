//! Per-identity latency through the library: every identity of a feed
//! evaluated one call at a time with the engine loaded, each call timed, and
//! the percentiles printed (criterion reports means; a provisioning workflow
//! cares about the tail too).
//!
//! ```text
//! cargo run --release --example latency -- DIR [PASSES] [AS_OF]
//! ```
//!
//! `DIR` holds `roles/`, `policies/` and `identities.jsonl` (the layout
//! `entitle gen` writes) or `fixtures/identities.jsonl` (the example
//! organisation: `latency .`). The first pass warms up and counts candidate roles
//! and desired entitlements per identity; the other passes are timed.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant as Clock;

use entitle::eval::{Engine, Evaluator};
use entitle::io::identities::read_identities;
use entitle::population::Population;
use entitle::{Instant, Project};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: latency DIR [PASSES] [AS_OF]");
        std::process::exit(2);
    };
    let passes: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(3).max(2);
    let at = Instant::parse(&args.next().unwrap_or_else(|| "2026-11-21".into())).unwrap_or_else(|e| panic!("{e}"));
    let load = Clock::now();
    let project = Arc::new(Project::load(&dir.join("roles"), Some(&dir.join("policies"))).unwrap_or_else(|f| panic!("{f}")));
    let feed_path = [dir.join("identities.jsonl"), dir.join("fixtures/identities.jsonl")]
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("no identities.jsonl under {}", dir.display()));
    let feed = read_identities(&feed_path, None, &project.defs).unwrap_or_else(|e| panic!("{e}"));
    let population = Population::new(feed);
    let engine = Engine::new(project.clone()).unwrap_or_else(|e| panic!("{e}"));
    println!("loaded in {:.1} s", load.elapsed().as_secs_f64());
    for (id, path) in engine.guardrail_paths() {
        println!("guardrail `{id}`: {path:?}");
    }

    let mut times = Vec::new();
    let (mut candidates, mut roles, mut entitlements) = (0usize, 0usize, 0usize);
    for pass in 0..passes {
        for identity in &population.feed.identities {
            let owner = population.owner_of(identity).record();
            let started = Clock::now();
            let desired = engine.desired(identity, owner, at).unwrap_or_else(|e| panic!("{e}"));
            let elapsed = started.elapsed().as_nanos() as u64;
            if pass == 0 {
                candidates += engine.candidate_roles(identity, owner, at).map_or(0, |c| c.len());
                roles += desired.role_ids().len();
                entitlements += desired.len();
            } else {
                times.push(elapsed);
            }
            std::hint::black_box(desired);
        }
    }
    times.sort_unstable();
    let n = population.feed.identities.len().max(1) as f64;
    let percentile = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)] as f64 / 1000.0;
    println!(
        "{} identities; per identity: {:.1} candidate roles, {:.1} roles held, {:.1} entitlements",
        population.feed.identities.len(),
        candidates as f64 / n,
        roles as f64 / n,
        entitlements as f64 / n
    );
    println!(
        "{} timed calls: p50 {:.1} µs, p90 {:.1} µs, p99 {:.1} µs, max {:.1} µs, mean {:.1} µs",
        times.len(),
        percentile(0.5),
        percentile(0.9),
        percentile(0.99),
        percentile(1.0),
        times.iter().sum::<u64>() as f64 / times.len() as f64 / 1000.0
    );
}
