//! entitle's engine against its peers on one generated organisation, as one
//! table: per-identity p50, p99 and mean of the engine, plain Cedar done
//! well, the generated Rego under regorus, and the oracle (on a smaller
//! sample), with each one's ratio to the engine. Before timing anything it
//! checks that every peer gives the engine's answer on the identities it times.
//!
//! ```sh
//! cargo run --release --example peers -- [--seed N] [--people N] [--nhis N] \
//!     [--roles N] [--entitlements N] [--sample N] [--oracle-sample N]
//! ```
//!
//! Defaults: the reference organisation (seed 1, 90,000 people, 10,000
//! NHIs, 2,000 roles, 40,000 entitlements), 500 identities spread over it
//! timed, none for the oracle (it asks Cedar about each of the 40,000
//! entitlements: minutes per identity at this size; `--oracle-sample 1` on
//! a smaller organisation). One thread; each identity is timed once per
//! peer, after a first pass that checks the answers (and warms up).

#[path = "../benches/peers/mod.rs"]
mod peers;

use std::time::{Duration, Instant as Clock};

use entitle::gen::{generate, GenOptions};
use entitle::population::Population;
use peers::{spread, Peer, Peers};

struct Args {
    options: GenOptions,
    sample: usize,
    oracle_sample: usize,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        options: GenOptions::reference(),
        sample: 500,
        oracle_sample: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("`{flag}` needs a value"))?;
        let n: usize = value.parse().map_err(|_| format!("`{flag}` takes a number, not `{value}`"))?;
        match flag.as_str() {
            "--seed" => a.options.seed = n as u64,
            "--people" => a.options.people = n,
            "--nhis" => a.options.nhis = n,
            "--roles" => a.options.roles = n,
            "--entitlements" => a.options.entitlements = n,
            "--sample" => a.sample = n,
            "--oracle-sample" => a.oracle_sample = n,
            other => return Err(format!("unknown flag `{other}`")),
        }
    }
    Ok(a)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn show(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1_000.0 {
        format!("{us:.1} µs")
    } else if us < 1_000_000.0 {
        format!("{:.2} ms", us / 1_000.0)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

fn main() -> Result<(), String> {
    let args = args()?;
    let o = &args.options;
    let started = Clock::now();
    let org = generate(o).map_err(|e| e.to_string())?;
    eprintln!("generated in {:.1} s: {}", started.elapsed().as_secs_f64(), org.totals.line());
    let peers = Peers::new(org.project.clone())?;
    let population = Population::new(org.feed.clone());
    let at = o.as_of;
    let sample = spread(&population, args.sample);
    let oracle_sample = spread(&population, args.oracle_sample);

    let checked = peers.check(&population, &sample, &[Peer::Cedar, Peer::Rego], at)?
        + peers.check(&population, &oracle_sample, &[Peer::Oracle], at)?;
    eprintln!("checked: {checked} answers equal the engine's");

    let mut rows = Vec::new();
    for peer in Peer::ALL {
        if peer == Peer::Oracle && oracle_sample.is_empty() {
            continue;
        }
        let who = if peer == Peer::Oracle { &oracle_sample } else { &sample };
        let mut times = Vec::with_capacity(who.len());
        for &i in who {
            let identity = &population.feed.identities[i];
            let owner = population.owner_of(identity).record();
            let t = Clock::now();
            peers.run(peer, identity, owner, at)?;
            times.push(t.elapsed());
        }
        times.sort();
        let mean = times.iter().sum::<Duration>() / times.len().max(1) as u32;
        rows.push((peer, times.len(), percentile(&times, 50.0), percentile(&times, 99.0), mean));
    }
    let engine = rows.first().map_or((Duration::ZERO, Duration::ZERO), |r| (r.2, r.4));
    let ratio = |d: Duration, base: Duration| {
        if base.is_zero() {
            "-".to_string()
        } else {
            format!("{:.0}×", d.as_secs_f64() / base.as_secs_f64())
        }
    };
    println!(
        "organisation: seed {}, {} people, {} NHIs, {} roles, {} entitlements, {} guardrails (as of {})",
        o.seed,
        o.people,
        o.nhis,
        o.roles,
        o.entitlements,
        org.totals.guardrails,
        o.as_of.to_rfc3339()
    );
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average: {}", load.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
    }
    println!();
    println!("| peer | identities | p50 | p99 | mean | p50 / engine | mean / engine |");
    println!("|---|---|---|---|---|---|---|");
    for (peer, n, p50, p99, mean) in rows {
        println!(
            "| {} | {n} | {} | {} | {} | {} | {} |",
            peer.name(),
            show(p50),
            show(p99),
            show(mean),
            ratio(p50, engine.0),
            ratio(mean, engine.1)
        );
    }
    Ok(())
}
