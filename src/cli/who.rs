//! `entitle who`: every identity that should hold an entitlement, a role or
//! a package's entitlements, and with live state who does and whether they
//! should — from the whole evaluated population, with no limit.

use std::io::Write;
use std::path::PathBuf;

use entitle::io::live::{parse_live, LiveFile};
use entitle::io::{read_bounded, ReadBudget};
use entitle::who::{render_human, who, Target, WhoError};

use super::common::{as_of, evaluator, load_project, print_error, read_population, EvalArgs, Reported};
use super::context::Context;
use super::{EXIT_OK, EXIT_USAGE};

/// Output formats of `who`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default)]
pub enum Format {
    /// Who should hold it, then who holds it live.
    #[default]
    Human,
    /// The answer as JSON.
    Json,
}

/// Arguments of `who`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["entitlement", "role", "package"])))]
pub struct Args {
    /// The entitlement (`github:org-owner`).
    entitlement: Option<String>,
    /// Ask about a role instead: the identities holding it and what it gives them.
    #[arg(long)]
    role: Option<String>,
    /// Ask about a package instead: its entitlements, held through it.
    #[arg(long)]
    package: Option<String>,
    /// Identity states: JSON, JSON Lines, CSV or SCIM (`-` for stdin).
    #[arg(long)]
    identities: PathBuf,
    /// Live state, to say who holds it and whether they should; repeat for one file per application.
    #[arg(long)]
    live: Vec<PathBuf>,
    /// The application of SCIM group exports given with `--live`.
    #[arg(long)]
    app: Option<String>,
    #[command(flatten)]
    eval: EvalArgs,
    /// Output format (default: `human`, or entitle.toml's `output.format`).
    #[arg(long, value_enum)]
    format: Option<Format>,
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<i32> {
    let output = ctx.format(args.format);
    let target = match (args.entitlement, args.role, args.package) {
        (Some(e), _, _) => Target::Entitlement(e),
        (_, Some(r), _) => Target::Role(r),
        (_, _, Some(p)) => Target::Package(p),
        (None, None, None) => {
            print_error("say what to ask about: an entitlement, `--role R` or `--package P`");
            return Err(Reported(EXIT_USAGE).into());
        }
    };
    let project = load_project(ctx)?;
    let at = as_of(args.eval.as_of.as_deref())?;
    let budget = ReadBudget::per_run();
    let population = read_population(&ctx.input(&args.identities), &project, &budget)?;
    let live_paths: Vec<PathBuf> = args.live.iter().map(|p| ctx.input(p)).collect();
    let live = read_live(&live_paths, args.app.as_deref(), &budget)?;
    let evaluator = evaluator(&project, args.eval.engine)?;
    let answer = match who(&project, evaluator.as_ref(), &population, live.as_deref(), &target, at) {
        Ok(a) => a,
        Err(e @ WhoError::Unknown { .. }) => {
            print_error(e);
            return Err(Reported(EXIT_USAGE).into());
        }
        Err(e) => return Err(e.into()),
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match output {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &answer).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        Format::Human => write!(out, "{}", render_human(&answer))?,
    }
    out.flush()?;
    Ok(EXIT_OK)
}

/// The live files, each read within `budget`; `None` when none is given. An unreadable file is
/// printed as an error.
pub fn read_live(paths: &[PathBuf], app: Option<&str>, budget: &ReadBudget) -> anyhow::Result<Option<Vec<LiveFile>>> {
    if paths.is_empty() {
        return Ok(None);
    }
    let files: Result<Vec<LiveFile>, _> = paths
        .iter()
        .map(|path| read_bounded(path, budget).and_then(|(file, bytes)| parse_live(&file, &bytes, None, app)))
        .collect();
    match files {
        Ok(f) => Ok(Some(f)),
        Err(e) => {
            print_error(e);
            Err(Reported(EXIT_USAGE).into())
        }
    }
}
