//! `entitle gen`: writes a deterministic synthetic organisation (definitions,
//! identity feed, drifted live state) to a directory and prints its totals.

use std::path::PathBuf;

use entitle::gen::{generate, GenError, GenOptions, DEFAULT_AS_OF};
use entitle::Instant;

use super::common::print_coded;
use super::context::Context;
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};

/// Arguments of `gen`. The defaults are the reference organisation of the benchmarks.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The seed: the same seed and sizes give byte-identical files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// People in the HR feed.
    #[arg(long, default_value_t = 90_000)]
    people: usize,
    /// Service accounts and AI agents in the feed.
    #[arg(long, default_value_t = 10_000)]
    nhis: usize,
    /// How many roles to generate (a count here, not the definitions directory).
    // Same id as the global `--roles DIR`, so clap lets this one win for `gen`;
    // the value stays a path for clap (the global's type) and is read as a count.
    #[arg(long, value_name = "N", default_value = "2000", value_parser = count)]
    roles: PathBuf,
    /// Catalog entitlements.
    #[arg(long, default_value_t = 40_000)]
    entitlements: usize,
    /// The instant the organisation is generated for; every date in it is relative to this.
    #[arg(long, default_value = DEFAULT_AS_OF)]
    as_of: String,
    /// Also write a guardrail reading a static entity by literal (slow on today's engine).
    #[arg(long)]
    literal_entity_guardrail: bool,
    /// The directory to write: new, empty, or an earlier `entitle gen` output.
    #[arg(long)]
    out: PathBuf,
}

fn count(text: &str) -> Result<PathBuf, String> {
    text.parse::<usize>()
        .map(|_| PathBuf::from(text))
        .map_err(|_| format!("`{text}` is not a count of roles"))
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<i32> {
    let out = ctx.input(&args.out);
    let roles = args.roles.to_str().and_then(|s| s.parse::<usize>().ok()).unwrap_or(0);
    let as_of = match Instant::parse(&args.as_of) {
        Ok(t) => t,
        Err(e) => {
            print_coded("usage", format_args!("--as-of: {e}"));
            return Ok(EXIT_USAGE);
        }
    };
    let options = GenOptions {
        seed: args.seed,
        people: args.people,
        nhis: args.nhis,
        roles,
        entitlements: args.entitlements,
        as_of,
        literal_entity_guardrail: args.literal_entity_guardrail,
    };
    let org = match generate(&options) {
        Ok(org) => org,
        Err(e @ GenError::Options(_)) => {
            print_coded("usage", e);
            return Ok(EXIT_USAGE);
        }
        Err(e) => {
            print_coded("gen", e);
            return Ok(EXIT_FINDINGS);
        }
    };
    if let Err(e) = org.write_to(&out) {
        print_coded("io", e);
        return Ok(EXIT_USAGE);
    }
    println!(
        "generated {} (seed {}, as of {}): {}",
        out.display(),
        options.seed,
        options.as_of.to_rfc3339(),
        org.totals.line()
    );
    for o in &org.rego.omitted {
        eprintln!(
            "warning: {} leaves out `{}`: it uses {}, which the Rego translation does not cover",
            entitle::rego::MODULE_FILE,
            o.id,
            o.reason
        );
    }
    Ok(EXIT_OK)
}
