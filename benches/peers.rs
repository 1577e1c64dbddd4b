//! entitle's engine against its peers, in the same run, on organisations
//! from `entitle gen` (benches/README.md has the machine and the figures):
//!
//! - `per-identity/oracle-org/<peer>`: one identity, engine loaded, one
//!   thread, for the engine, plain Cedar done well, the generated Rego under
//!   regorus and the oracle (on 3 identities), on an organisation small
//!   enough for the oracle (250 roles, 2,000 entitlements, 10,000 identities);
//! - `per-identity/roles-N/<peer>`: the same without the oracle (minutes per
//!   identity at this size), at N = 250 … 4,000 roles (40,000 entitlements,
//!   20,000 identities);
//! - `population/engine/identities-N`: the engine over N = 10,000 … 200,000
//!   identities of one organisation (2,000 roles, 40,000 entitlements), on
//!   every core as `plan` evaluates a population (rayon).
//!
//! Every setup first checks that each peer gives the engine's answer on the
//! identities it is timed on (and the oracle on a few), and panics otherwise.
//!
//! `cargo bench --features bench --bench peers`; `ENTITLE_BENCH_ROLES=250,2000` and
//! `ENTITLE_BENCH_IDENTITIES=10000,50000` choose the points of the curves
//! (an empty value skips a curve), `ENTITLE_BENCH_ORACLE=0` skips the oracle.

#[path = "peers/mod.rs"]
mod peers;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use entitle::eval::Evaluator;
use entitle::gen::{generate, GenOptions};
use entitle::population::Population;
use peers::{spread, Peer, Peers};
use rayon::prelude::*;

fn points(var: &str, default: &[usize]) -> Vec<usize> {
    match std::env::var(var) {
        Ok(v) => v.split(',').filter_map(|p| p.trim().parse().ok()).collect(),
        Err(_) => default.to_vec(),
    }
}

fn options(roles: usize, entitlements: usize, identities: usize) -> GenOptions {
    GenOptions {
        seed: 1,
        people: identities * 9 / 10,
        nhis: identities - identities * 9 / 10,
        roles,
        entitlements,
        ..GenOptions::reference()
    }
}

/// Generates the organisation, prepares every peer, and checks that each
/// gives the engine's answer on `sample` (and the oracle on `oracle_sample`).
fn setup(o: &GenOptions, sample: usize, oracle_sample: usize) -> (Peers, Population, Vec<usize>, Vec<usize>) {
    let org = generate(o).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("organisation: {}", org.totals.line());
    let peers = Peers::new(org.project.clone()).unwrap_or_else(|e| panic!("{e}"));
    let population = Population::new(org.feed.clone());
    let sample = spread(&population, sample);
    let oracle_sample = spread(&population, oracle_sample);
    peers
        .check(&population, &sample, &[Peer::Cedar, Peer::Rego], o.as_of)
        .unwrap_or_else(|e| panic!("{e}"));
    peers
        .check(&population, &oracle_sample, &[Peer::Oracle], o.as_of)
        .unwrap_or_else(|e| panic!("{e}"));
    (peers, population, sample, oracle_sample)
}

/// One identity per iteration, cycling through the sample, for each peer.
fn per_identity(c: &mut Criterion, name: &str, o: &GenOptions, sample: usize, oracle_sample: usize) {
    let (peers, population, sample, oracle_sample) = setup(o, sample, oracle_sample);
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for peer in Peer::ALL {
        let who = if peer == Peer::Oracle { &oracle_sample } else { &sample };
        if who.is_empty() {
            continue;
        }
        group.bench_function(peer.name(), |b| {
            let mut k = 0;
            b.iter(|| {
                let identity = &population.feed.identities[who[k % who.len()]];
                k += 1;
                let owner = population.owner_of(identity).record();
                peers.run(peer, identity, owner, o.as_of).unwrap_or_else(|e| panic!("{e}"))
            })
        });
    }
    group.finish();
}

/// All four peers on an organisation small enough for the oracle, which asks
/// Cedar about every catalog entitlement (on the reference organisation that
/// is minutes per identity).
fn with_oracle(c: &mut Criterion) {
    if std::env::var("ENTITLE_BENCH_ORACLE").is_ok_and(|v| v == "0") {
        return;
    }
    per_identity(c, "per-identity/oracle-org", &options(250, 2_000, 10_000), 200, 3);
}

fn roles_curve(c: &mut Criterion) {
    for roles in points("ENTITLE_BENCH_ROLES", &[250, 500, 1_000, 2_000, 4_000]) {
        per_identity(c, &format!("per-identity/roles-{roles}"), &options(roles, 40_000, 20_000), 200, 0);
    }
}

fn identities_curve(c: &mut Criterion) {
    let sizes = points("ENTITLE_BENCH_IDENTITIES", &[10_000, 50_000, 100_000, 200_000]);
    let Some(largest) = sizes.iter().copied().max() else { return };
    let o = options(2_000, 40_000, largest);
    let (peers, population, _, _) = setup(&o, 50, 0);
    let engine = &peers.engine;
    let mut group = c.benchmark_group("population");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for n in sizes {
        // n identities spread over the organisation (the same mix of kinds),
        // owners looked up in the whole feed.
        let who = spread(&population, n);
        group.bench_with_input(BenchmarkId::new("engine", format!("identities-{n}")), &who, |b, who| {
            b.iter(|| {
                who.par_iter().for_each(|&i| {
                    let identity = &population.feed.identities[i];
                    let owner = population.owner_of(identity).record();
                    std::hint::black_box(engine.desired(identity, owner, o.as_of).unwrap_or_else(|e| panic!("{e}")));
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, with_oracle, roles_curve, identities_curve);
criterion_main!(benches);
