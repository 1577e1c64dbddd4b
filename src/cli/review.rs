//! `entitle review`: an access-review campaign by exception (CSV, JSON or
//! Markdown, to stdout or one file per reviewer), and `--decisions` to turn
//! the reviewers' answers into a plan of `review-revoked` revocations.

use std::io::Write;
use std::path::PathBuf;

use entitle::io::{read_bounded, ReadBudget};
use entitle::plan::guards::{DEFAULT_MAX_INVALID, DEFAULT_MAX_ORPHANED, DEFAULT_MAX_PRIVILEGED_GRANTS, DEFAULT_MAX_REVOKES};
use entitle::plan::{GovernanceOptions, GuardLimits, Limit, PlanOptions};
use entitle::review::{campaign, csv, decisions_plan, file_stem, markdown, read_decisions, ReviewBy, ReviewError, ReviewOptions};
use entitle::Duration;

use super::common::{as_of, evaluator, load_project, print_error, read_population, EvalArgs, Reported};
use super::context::Context;
use super::who::read_live;
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};

/// Output formats of `review`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// One row per item, with an empty `decision` column to fill in (formulas escaped).
    #[default]
    Csv,
    /// The campaign as JSON (with `--decisions`: the plan as JSON).
    Json,
    /// A table per reviewer.
    Markdown,
}

/// Who reviews.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default)]
pub enum By {
    /// The identity's manager (an attribute of type `identity`); an NHI's owner.
    #[default]
    Manager,
    /// The application's owner.
    AppOwner,
}

/// Arguments of `review`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Identity states: JSON, JSON Lines, CSV or SCIM (`-` for stdin).
    #[arg(long)]
    identities: PathBuf,
    /// Live state; repeat for one file per application.
    #[arg(long, required = true)]
    live: Vec<PathBuf>,
    /// The application of SCIM group exports given with `--live`.
    #[arg(long)]
    app: Option<String>,
    #[command(flatten)]
    eval: EvalArgs,
    /// Who reviews each item.
    #[arg(long, value_enum, default_value_t)]
    by: By,
    /// Output format (default: `csv`, or entitle.toml's `output.format`).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Write one file per reviewer (`reviewer-<id>.<ext>`, `unassigned.<ext>`) into this directory.
    #[arg(long)]
    out: Option<PathBuf>,
    /// A grant unused for this long is flagged `dormant`.
    #[arg(long, default_value = "90d", value_parser = Duration::parse)]
    dormant_after: Duration,
    /// An exception expiring within this long is flagged `exception-expiring`.
    #[arg(long, default_value = "14d", value_parser = Duration::parse)]
    warn_expiring: Duration,
    /// Reviewers' answers (the campaign's CSV with `decision` filled in): print the plan of
    /// their revocations (`review-revoked`) as JSON instead of a campaign. Repeat for several files.
    #[arg(long)]
    decisions: Vec<PathBuf>,
    /// With `--decisions`: refuse a plan revoking more than this (see `plan`).
    #[arg(long, value_name = "LIMIT")]
    max_revokes: Option<Limit>,
    /// With `--decisions`: refuse when more than this share of identity records is invalid.
    #[arg(long, value_name = "LIMIT")]
    max_invalid: Option<Limit>,
    /// With `--decisions`: refuse when more than this share of live identities is missing from the feed.
    #[arg(long, value_name = "LIMIT")]
    max_orphaned: Option<Limit>,
    /// With `--decisions`: override every guard; the output says so.
    #[arg(long)]
    force: bool,
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<i32> {
    let format = ctx.format(args.format);
    let usage = |e: &dyn std::fmt::Display| -> anyhow::Error {
        print_error(e);
        Reported(EXIT_USAGE).into()
    };
    let project = load_project(ctx)?;
    let at = as_of(args.eval.as_of.as_deref())?;
    let budget = ReadBudget::per_run();
    let population = read_population(&ctx.input(&args.identities), &project, &budget)?;
    let live_paths: Vec<PathBuf> = args.live.iter().map(|p| ctx.input(p)).collect();
    let live = read_live(&live_paths, args.app.as_deref(), &budget)?.unwrap_or_default();
    let evaluator = evaluator(&project, args.eval.engine)?;

    if !args.decisions.is_empty() {
        if format == Format::Markdown {
            return Err(usage(&"`--decisions` prints a plan: use `--format json`"));
        }
        let mut decisions = Vec::new();
        for path in &args.decisions {
            let (file, bytes) = read_bounded(&ctx.input(path), &budget).map_err(|e| usage(&e))?;
            let text = std::str::from_utf8(&bytes).map_err(|_| usage(&format_args!("{file}: not UTF-8 text")))?;
            decisions.push(read_decisions(&file, text).map_err(|e| usage(&e))?);
        }
        let project_limits = ctx.guard_defaults();
        let options = PlanOptions {
            as_of: at,
            // A flag, else entitle.toml's `[guards]`, else the contract's defaults (as `plan`).
            limits: GuardLimits {
                max_revokes: args.max_revokes.or(project_limits.max_revokes).unwrap_or(DEFAULT_MAX_REVOKES),
                max_invalid: args.max_invalid.or(project_limits.max_invalid).unwrap_or(DEFAULT_MAX_INVALID),
                max_orphaned: args.max_orphaned.or(project_limits.max_orphaned).unwrap_or(DEFAULT_MAX_ORPHANED),
                max_privileged_grants: project_limits.max_privileged_grants.unwrap_or(DEFAULT_MAX_PRIVILEGED_GRANTS),
            },
            force: args.force,
            governance: GovernanceOptions::default(),
        };
        let outcome = decisions_plan(&project, evaluator.as_ref(), &population, &live, &decisions, &options)?;
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        serde_json::to_writer_pretty(&mut out, &outcome.plan).map_err(std::io::Error::from)?;
        writeln!(out)?;
        out.flush()?;
        eprintln!(
            "review decisions: {} revoked, {} kept, {} undecided",
            outcome.plan.summary.revokes, outcome.kept, outcome.undecided
        );
        for (identity, entitlement) in &outcome.already_gone {
            eprintln!(
                "note: `{}` no longer holds `{}`: nothing to revoke",
                entitle::term::one_line(identity),
                entitle::term::one_line(entitlement)
            );
        }
        for (identity, entitlement) in &outcome.policy_grants_again {
            eprintln!(
                "warning: policy gives `{}` `{}`: the next plan grants it again unless the definitions or the record change",
                entitle::term::one_line(identity),
                entitle::term::one_line(entitlement)
            );
        }
        if let Some(why) = &outcome.plan.refused {
            print_error(format_args!("plan refused: {why}; nothing will change (override with --force)"));
            return Ok(EXIT_FINDINGS);
        }
        return Ok(EXIT_OK);
    }

    let options = ReviewOptions {
        by: match args.by {
            By::Manager => ReviewBy::Manager,
            By::AppOwner => ReviewBy::AppOwner,
        },
        as_of: at,
        dormant_after: args.dormant_after,
        warn_expiring: args.warn_expiring,
    };
    let campaign = match campaign(&project, evaluator.as_ref(), &population, &live, &options) {
        Ok(c) => c,
        Err(e @ ReviewError::NoManagerAttribute) => return Err(usage(&e)),
        Err(e) => return Err(e.into()),
    };
    let render_json = |value: &dyn erased::Json| -> anyhow::Result<String> { value.to_json() };
    match &args.out {
        None => {
            let text = match format {
                Format::Csv => csv(&campaign.reviewers),
                Format::Markdown => markdown(&campaign),
                Format::Json => render_json(&campaign)?,
            };
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
        Some(dir) => {
            std::fs::create_dir_all(ctx.input(dir)).map_err(|e| usage(&format_args!("cannot create `{}`: {e}", dir.display())))?;
            let ext = match format {
                Format::Csv => "csv",
                Format::Markdown => "md",
                Format::Json => "json",
            };
            for group in &campaign.reviewers {
                let one = entitle::review::Campaign {
                    reviewers: vec![group.clone()],
                    ..campaign.clone()
                };
                let text = match format {
                    Format::Csv => csv(&one.reviewers),
                    Format::Markdown => markdown(&one),
                    Format::Json => render_json(&one)?,
                };
                let path = ctx.input(dir).join(format!("{}.{ext}", file_stem(group.reviewer.as_deref())));
                std::fs::write(&path, text).map_err(|e| usage(&format_args!("cannot write `{}`: {e}", path.display())))?;
            }
            let s = &campaign.summary;
            eprintln!(
                "review: {} items for {} reviewers ({} unassigned) written to {}; {} birthright grants summarised",
                s.items,
                s.reviewers,
                s.unassigned,
                dir.display(),
                s.birthright_summarised
            );
        }
    }
    Ok(EXIT_OK)
}

mod erased {
    /// Pretty JSON of anything serialisable, with a final line break.
    pub trait Json {
        fn to_json(&self) -> anyhow::Result<String>;
    }
    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> anyhow::Result<String> {
            Ok(serde_json::to_string_pretty(self)? + "\n")
        }
    }
}
