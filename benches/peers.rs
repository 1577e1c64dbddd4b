//! entitle's engine against its peers, in the same run, on organisations
//! from `entitle gen` (benches/README.md has the machine and the figures):
//!
//! - `per-identity/roles-N/<peer>`: one identity, engine loaded, one thread, for the
//!   engine, plain Cedar done well and the generated Rego under regorus, at
//!   N = 250 … 4,000 roles (40,000 entitlements, 5,000 identities); at 2,000
//!   roles also the oracle, on a few identities (it asks Cedar about every
//!   catalog entitlement);
//! - `population/engine/identities-N`: the engine over N = 10,000 … 200,000
//!   identities of one organisation (2,000 roles, 40,000 entitlements), on
//!   every core as `plan` evaluates a population (rayon).
//!
//! Every setup first checks that each peer gives the engine's answer on the
//! identities it is timed on (and the oracle on a few), and panics otherwise.
//!
//! `cargo bench --bench peers`; `ENTITLE_BENCH_ROLES=250,2000` and
//! `ENTITLE_BENCH_IDENTITIES=10000,50000` choose the points of the curves
//! (an empty value skips a curve).

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

fn options(roles: usize, identities: usize) -> GenOptions {
    GenOptions {
        seed: 1,
        people: identities * 9 / 10,
        nhis: identities - identities * 9 / 10,
        roles,
        entitlements: 40_000,
        ..GenOptions::reference()
    }
}

fn roles_curve(c: &mut Criterion) {
    for roles in points("ENTITLE_BENCH_ROLES", &[250, 500, 1_000, 2_000, 4_000]) {
        let o = options(roles, 5_000);
        let org = generate(&o).unwrap_or_else(|e| panic!("{e}"));
        let peers = Peers::new(org.project.clone()).unwrap_or_else(|e| panic!("{e}"));
        let population = Population::new(org.feed.clone());
        let sample = spread(&population, 200);
        let oracle_sample = spread(&population, 3);
        let with_oracle = roles == 2_000;
        peers
            .check(&population, &sample, &[Peer::Cedar, Peer::Rego], o.as_of)
            .unwrap_or_else(|e| panic!("{roles} roles: {e}"));
        if with_oracle {
            peers
                .check(&population, &oracle_sample, &[Peer::Oracle], o.as_of)
                .unwrap_or_else(|e| panic!("{roles} roles: {e}"));
        }
        let mut group = c.benchmark_group(format!("per-identity/roles-{roles}"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        for peer in Peer::ALL {
            let who = match peer {
                Peer::Oracle if !with_oracle => continue,
                Peer::Oracle => &oracle_sample,
                _ => &sample,
            };
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
}

fn identities_curve(c: &mut Criterion) {
    let sizes = points("ENTITLE_BENCH_IDENTITIES", &[10_000, 50_000, 100_000, 200_000]);
    let Some(largest) = sizes.iter().copied().max() else { return };
    let o = options(2_000, largest);
    let org = generate(&o).unwrap_or_else(|e| panic!("{e}"));
    let peers = Peers::new(org.project.clone()).unwrap_or_else(|e| panic!("{e}"));
    let population = Population::new(org.feed.clone());
    peers
        .check(&population, &spread(&population, 50), &[Peer::Cedar, Peer::Rego], o.as_of)
        .unwrap_or_else(|e| panic!("{e}"));
    peers
        .check(&population, &spread(&population, 2), &[Peer::Oracle], o.as_of)
        .unwrap_or_else(|e| panic!("{e}"));
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

criterion_group!(benches, roles_curve, identities_curve);
criterion_main!(benches);
