//! `entitle verify`: deprovisioning completion of a carried-out plan against
//! later live exports; exit 1 while leavers' access is incomplete.

use std::io::Write;
use std::path::PathBuf;

use entitle::io::{read_bounded, ReadBudget};
use entitle::verify::{read_plan, render_human, verify, Leavers};

use super::common::{as_of, evaluator, load_project, print_error, read_population, EvalArgs, Reported};
use super::context::Context;
use super::who::read_live;
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};

/// Output formats of `verify`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default)]
pub enum Format {
    /// Figures, then what was not carried out and what leavers still hold.
    #[default]
    Human,
    /// The verification as JSON.
    Json,
}

/// Arguments of `verify`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The plan that was carried out: `entitle plan --format json` output.
    #[arg(long)]
    plan: PathBuf,
    /// Live exports taken after the plan, oldest first (the last is the latest); two or more
    /// show changes that were done and then reverted.
    #[arg(long, required = true)]
    live: Vec<PathBuf>,
    /// The application of SCIM group exports given with `--live`.
    #[arg(long)]
    app: Option<String>,
    /// The identity feed the plan was made from (checked by its hash): its `terminated`
    /// identities are leavers. Without it, leavers are the plan's orphaned accounts.
    #[arg(long)]
    identities: Option<PathBuf>,
    /// "Now", for how long leavers have kept access (default: the current time).
    #[command(flatten)]
    eval: EvalArgs,
    /// Output format (default: `human`, or entitle.toml's `output.format`).
    #[arg(long, value_enum)]
    format: Option<Format>,
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<i32> {
    let output = ctx.format(args.format);
    let usage = |e: &dyn std::fmt::Display| -> anyhow::Error {
        print_error(e);
        Reported(EXIT_USAGE).into()
    };
    let budget = ReadBudget::per_run();
    let now = as_of(args.eval.as_of.as_deref())?;
    let (file, bytes) = read_bounded(&ctx.input(&args.plan), &budget).map_err(|e| usage(&e))?;
    let plan = read_plan(&file, &bytes).map_err(|e| usage(&e))?;
    let live_paths: Vec<PathBuf> = args.live.iter().map(|p| ctx.input(p)).collect();
    let exports = read_live(&live_paths, args.app.as_deref(), &budget)?.unwrap_or_default();
    let leavers = match &args.identities {
        None => Leavers::orphaned_only(&plan),
        Some(path) => {
            let project = load_project(ctx)?;
            let population = read_population(&ctx.input(path), &project, &budget)?;
            let evaluator = evaluator(&project, args.eval.engine)?;
            Leavers::from_feed(&plan, &population, evaluator.as_ref()).map_err(|e| usage(&e))?
        }
    };
    let verification = verify(&plan, &exports, &leavers, now).map_err(|e| usage(&e))?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match output {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &verification).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        Format::Human => write!(out, "{}", render_human(&verification))?,
    }
    out.flush()?;
    Ok(if verification.summary.leavers_complete {
        EXIT_OK
    } else {
        EXIT_FINDINGS
    })
}
