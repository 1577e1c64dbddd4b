//! `entitle plan`: desired against live, as grants and revocations with
//! reasons, metrics, violations; refused when a safety guard trips.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use entitle::io::live::{parse_live, LiveFile};
use entitle::io::{read_bounded, InputError, ReadBudget};
use entitle::plan::guards::{DEFAULT_MAX_INVALID, DEFAULT_MAX_ORPHANED, DEFAULT_MAX_PRIVILEGED_GRANTS, DEFAULT_MAX_REVOKES};
use entitle::plan::render::{human, scim_patches, Style};
use entitle::plan::{plan, GuardLimits, Limit, PlanOptions};

use super::common::{as_of, evaluator, load_project, population_from, print_error, EvalArgs, Reported};
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};
use entitle::term::one_line;

/// Exit code with `--detailed-exitcode` when the plan changes something.
pub const EXIT_CHANGES: i32 = 3;

/// Output formats of `plan`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default)]
pub enum Format {
    /// Summary table, then changes by identity.
    #[default]
    Human,
    /// The plan as JSON (spec §7).
    Json,
    /// One SCIM 2.0 PatchOp per entitlement, JSON Lines.
    ScimPatch,
}

/// Arguments of `plan`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Identity states: JSON, JSON Lines, CSV or SCIM (`-` for stdin).
    #[arg(long)]
    identities: PathBuf,
    /// Live state: JSON Lines, CSV, or a SCIM group export with `--app`; repeat for one file per application.
    #[arg(long, required_unless_present = "live_scim")]
    live: Vec<PathBuf>,
    /// The application of SCIM group exports given with `--live`, or of `--live-scim`.
    #[arg(long)]
    app: Option<String>,
    /// Read the live state of `--app` from a SCIM 2.0 service provider's `/Users` and `/Groups` (docs/scim.md).
    #[cfg(feature = "serve")]
    #[arg(long, value_name = "URL", requires = "app")]
    live_scim: Option<String>,
    /// The bearer token of `--live-scim`, in a file (else `ENTITLE_SCIM_TOKEN`).
    #[cfg(feature = "serve")]
    #[arg(long, requires = "live_scim")]
    scim_token_file: Option<PathBuf>,
    #[command(flatten)]
    eval: EvalArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Exit 0 when nothing changes and 3 when something does.
    #[arg(long)]
    detailed_exitcode: bool,
    /// Refuse a plan revoking more than this many grants, or this percentage of the live grants
    /// (`500`, `10%`, or `500 or 10%`: whichever is smaller).
    #[arg(long, default_value_t = DEFAULT_MAX_REVOKES)]
    max_revokes: Limit,
    /// Refuse when more than this share (or count) of identity records is invalid.
    #[arg(long, default_value_t = DEFAULT_MAX_INVALID)]
    max_invalid: Limit,
    /// Refuse when more than this share (or count) of live identities is missing from the feed.
    #[arg(long, default_value_t = DEFAULT_MAX_ORPHANED)]
    max_orphaned: Limit,
    /// Refuse a plan granting privileged entitlements more than this many times, or to more than this
    /// percentage of the identities (`100 or 10%` by default: whichever is smaller).
    #[arg(long, default_value_t = DEFAULT_MAX_PRIVILEGED_GRANTS)]
    max_privileged_grants: Limit,
    /// Override every guard; the output says so.
    #[arg(long)]
    force: bool,
}

pub fn run(roles: &Path, policies: Option<&Path>, args: Args) -> anyhow::Result<i32> {
    // One budget for every input of the run: the identity feed and each live file together,
    // charged in the order they are given so that the file passing it is always the same.
    let budget = ReadBudget::per_run();
    let feed_bytes = read_bounded(&args.identities, &budget);
    let live_bytes = match &feed_bytes {
        Ok(_) => read_all_bounded(&args.live, &budget),
        Err(_) => Ok(Vec::new()),
    };
    // Live state does not depend on the definitions: it is parsed on its own thread while the
    // definitions load and the identity feed is read. Errors are reported in the order the
    // work would be done one step at a time: definitions, `--as-of`, identity feed, live state.
    let (project, live) = std::thread::scope(|threads| {
        let live = threads.spawn(|| -> Result<Vec<LiveFile>, InputError> {
            live_bytes?
                .iter()
                .map(|(file, bytes)| parse_live(file, bytes, None, args.app.as_deref()))
                .collect()
        });
        let project = load_project(roles, policies).and_then(|project| {
            let at = as_of(args.eval.as_of.as_deref())?;
            let population = population_from(feed_bytes, &project)?;
            Ok((project, at, population))
        });
        let live = live.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (project, live)
    });
    let (project, at, population) = project?;
    #[allow(unused_mut)]
    let mut live = live.map_err(|e| {
        print_error(e);
        anyhow::Error::from(Reported(EXIT_USAGE))
    })?;
    #[cfg(feature = "serve")]
    if let Some(url) = &args.live_scim {
        live.push(super::apply::read_scim_live(url, args.app.as_deref(), args.scim_token_file.as_deref())?);
    }
    let evaluator = evaluator(&project, args.eval.engine)?;
    let options = PlanOptions {
        as_of: at,
        limits: GuardLimits {
            max_revokes: args.max_revokes,
            max_invalid: args.max_invalid,
            max_orphaned: args.max_orphaned,
            max_privileged_grants: args.max_privileged_grants,
        },
        force: args.force,
    };
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(population.feed.identities.len() as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if population.feed.identities.len() < 20_000 {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let plan = plan(&project, evaluator.as_ref(), &population, &live, &options, &|n| bar.inc(n))?;
    bar.finish_and_clear();

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &plan)?;
            writeln!(out)?;
        }
        Format::ScimPatch => {
            for patch in scim_patches(&plan) {
                serde_json::to_writer(&mut out, &patch)?;
                writeln!(out)?;
            }
        }
        Format::Human => write!(
            out,
            "{}",
            human(
                &plan,
                Style {
                    colour: std::io::stdout().is_terminal()
                }
            )
        )?,
    }
    out.flush()?;
    if let Some(why) = &plan.refused {
        print_error(format_args!("plan refused: {why}; nothing will change (override with --force)"));
        return Ok(EXIT_FINDINGS);
    }
    for why in &plan.forced {
        eprintln!("warning: --force overrides a guard: {}", one_line(why));
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        EXIT_CHANGES
    } else {
        EXIT_OK
    })
}

/// The bytes of each file, charged to `budget` in order; the first that cannot be read stops.
fn read_all_bounded(paths: &[PathBuf], budget: &ReadBudget) -> Result<Vec<(String, Vec<u8>)>, InputError> {
    paths.iter().map(|path| read_bounded(path, budget)).collect()
}
