//! `entitle plan`: desired against live, as grants and revocations with
//! reasons, metrics, violations; refused when a safety guard trips.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;

use entitle::diag::did_you_mean;
use entitle::io::live::{parse_live, LiveFile};
use entitle::io::{read_bounded, InputError, ReadBudget};
use entitle::plan::guards::{DEFAULT_MAX_INVALID, DEFAULT_MAX_ORPHANED, DEFAULT_MAX_PRIVILEGED_GRANTS, DEFAULT_MAX_REVOKES};
use entitle::plan::render::{human, scim_patches, Style};
use entitle::plan::{exception_diagnostics, plan, Change, GovernanceOptions, GuardLimits, Limit, Plan, PlanOptions};
use entitle::term::one_line;
use entitle::time::Duration;

use super::common::{as_of, evaluator, load_project, population_from, print_coded, EvalArgs, Reported};
use super::context::Context;
use super::errors::{report, CliError};
use super::feed_kind::{misplaced, FeedKind};
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};

/// Exit code with `--detailed-exitcode` when the plan changes something.
pub const EXIT_CHANGES: i32 = 3;

/// Output formats of `plan`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default)]
pub enum Format {
    /// Summary table, then changes by identity.
    #[default]
    Human,
    /// The plan as JSON, as `--out` writes it (docs/cli.md, "The plan file").
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
    #[arg(long, required = true)]
    live: Vec<PathBuf>,
    /// Narrow the plan to this application's entitlements (guards still weigh the whole
    /// population); SCIM group exports given with `--live` are read as its groups.
    #[arg(long, value_name = "APP")]
    app: Option<String>,
    /// Narrow the plan to this identity's changes (repeatable; guards still weigh the whole population).
    #[arg(long = "identity", value_name = "ID")]
    only: Vec<String>,
    /// Also write the full plan as JSON to FILE (the `--format json` shape, with the guard limits
    /// used): a review artefact for `entitle apply --plan` and `entitle verify --plan`.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    eval: EvalArgs,
    /// Output format (default: `human`, or entitle.toml's `output.format`).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Exit 0 when nothing changes and 3 when something does.
    #[arg(long)]
    detailed_exitcode: bool,
    /// Refuse a plan revoking more than this many grants, or this percentage of the live grants
    /// (`500`, `10%`, or `500 or 10%`: whichever is smaller) [default: 500 or 10%, or entitle.toml's `guards.max_revokes`].
    #[arg(long, value_name = "LIMIT")]
    max_revokes: Option<Limit>,
    /// Refuse when more than this share (or count) of identity records is invalid [default: 1%].
    #[arg(long, value_name = "LIMIT")]
    max_invalid: Option<Limit>,
    /// Refuse when more than this share (or count) of live identities is missing from the feed [default: 10%].
    #[arg(long, value_name = "LIMIT")]
    max_orphaned: Option<Limit>,
    /// Refuse a plan granting privileged entitlements more than this many times, or to more than this
    /// percentage of the identities [default: 100 or 10%, whichever is smaller].
    #[arg(long, value_name = "LIMIT")]
    max_privileged_grants: Option<Limit>,
    /// Override every guard; the output says so.
    #[arg(long)]
    force: bool,
    /// Mark approved exceptions expiring within this window of `--as-of` (`14d`, `72h`).
    #[arg(long, default_value = "14d", value_parser = duration)]
    warn_expiring: Duration,
    /// Report live grants whose `last_used` is older than this (`90d`), or `never`, as dormant.
    #[arg(long, value_parser = duration)]
    dormant_after: Option<Duration>,
    /// Revoke dormant grants (reason `dormant`) unless an active exception covers them; still under the guards.
    #[arg(long, requires = "dormant_after")]
    revoke_dormant: bool,
}

/// A `--warn-expiring` or `--dormant-after` value.
fn duration(text: &str) -> Result<Duration, String> {
    Duration::parse(text)
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<i32> {
    let output = ctx.format(args.format);
    // One budget for every input of the run: the identity feed and each live file together,
    // charged in the order they are given so that the file passing it is always the same.
    let budget = ReadBudget::per_run();
    let feed_bytes = read_bounded(&ctx.input(&args.identities), &budget);
    let live_paths: Vec<PathBuf> = args.live.iter().map(|p| ctx.input(p)).collect();
    let live_bytes = match &feed_bytes {
        Ok(_) => read_all_bounded(&live_paths, &budget),
        Err(_) => Ok(Vec::new()),
    };
    // Live state does not depend on the definitions: it is parsed on its own thread while the
    // definitions load and the identity feed is read. Errors are reported in the order the
    // work would be done one step at a time: definitions, `--as-of`, identity feed, live state.
    let (project, live) = std::thread::scope(|threads| {
        let live = threads.spawn(|| -> Result<Vec<LiveFile>, CliError> {
            let files = live_bytes.map_err(|e| CliError::guess_located("input", &e.to_string()))?;
            files
                .iter()
                .map(|(file, bytes)| {
                    if let Some(error) = misplaced(file, bytes, FeedKind::Live) {
                        return Err(error);
                    }
                    parse_live(file, bytes, None, args.app.as_deref()).map_err(|e| CliError::located("input", file, &e.to_string()))
                })
                .collect()
        });
        let project = load_project(ctx).and_then(|project| {
            let at = as_of(args.eval.as_of.as_deref())?;
            let population = population_from(feed_bytes, &project)?;
            Ok((project, at, population))
        });
        let live = live.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (project, live)
    });
    let (project, at, population) = project?;
    let live = live.map_err(|e| {
        report(&e);
        anyhow::Error::from(Reported(EXIT_USAGE))
    })?;
    let evaluator = evaluator(&project, args.eval.engine)?;
    let project_limits = ctx.guard_defaults();
    let options = PlanOptions {
        as_of: at,
        // A flag, else entitle.toml's `[guards]`, else the contract's defaults.
        limits: GuardLimits {
            max_revokes: args.max_revokes.or(project_limits.max_revokes).unwrap_or(DEFAULT_MAX_REVOKES),
            max_invalid: args.max_invalid.or(project_limits.max_invalid).unwrap_or(DEFAULT_MAX_INVALID),
            max_orphaned: args.max_orphaned.or(project_limits.max_orphaned).unwrap_or(DEFAULT_MAX_ORPHANED),
            max_privileged_grants: args
                .max_privileged_grants
                .or(project_limits.max_privileged_grants)
                .unwrap_or(DEFAULT_MAX_PRIVILEGED_GRANTS),
        },
        force: args.force,
        governance: GovernanceOptions {
            warn_expiring: args.warn_expiring,
            dormant_after: args.dormant_after,
            revoke_dormant: args.revoke_dormant,
        },
    };

    let bar = indicatif::ProgressBar::with_draw_target(
        Some(population.feed.identities.len() as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if population.feed.identities.len() < 20_000 || !ctx.progress() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut plan = plan(&project, evaluator.as_ref(), &population, &live, &options, &|n| bar.inc(n))?;
    bar.finish_and_clear();
    let scope = Scope {
        identities: args.only.clone(),
        app: args.app.clone(),
    };
    // A misspelt `--identity` would narrow to nothing and look like "no change": say so instead.
    for id in &scope.identities {
        let known = population.get(id).is_some() || population.is_invalid(id) || plan.orphaned_accounts.iter().any(|o| &o.identity == id);
        if !known {
            let mut error = CliError::new(
                "unknown-identity",
                format!("--identity: `{id}` is neither in the identity feed nor in the live state"),
            );
            if let Some(help) = did_you_mean(id, population.feed.identities.iter().map(|s| s.id.as_str())) {
                error = error.with_help(help);
            }
            report(&error);
            return Ok(EXIT_USAGE);
        }
    }
    scope.narrow(&mut plan);
    let json = plan_file(&plan, &options, &scope);
    if let Some(file) = &args.out {
        let path = ctx.input(file);
        let mut text = serde_json::to_string_pretty(&json)?;
        text.push('\n');
        std::fs::write(&path, text).with_context(|| format!("cannot write the plan to `{}`", path.display()))?;
        if !ctx.quiet {
            eprintln!("wrote the plan to {}", one_line(&path.display().to_string()));
        }
    }

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match output {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &json)?;
            writeln!(out)?;
        }
        Format::ScimPatch => {
            for patch in scim_patches(&plan) {
                serde_json::to_writer(&mut out, &patch)?;
                writeln!(out)?;
            }
        }
        Format::Human => write!(out, "{}", human(&plan, Style { colour: ctx.colour() }))?,
    }
    out.flush()?;
    // A refused plan's feed may be truncated: every exception would name an unknown identity.
    if plan.refused.is_none() {
        for d in exception_diagnostics(&project, &population) {
            eprint!("{}", d.render(None));
        }
    }
    if let Some(why) = &plan.refused {
        print_coded(
            "plan-refused",
            format_args!(
                "plan refused: {why}; nothing will change (override with --force); it would have made {} grants and {} revocations",
                plan.summary.grants, plan.summary.revokes
            ),
        );
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

/// `--identity` and `--app`: which part of the plan is shown. The plan is
/// computed, and its guards weighed, over the whole population first: a
/// narrowed plan is refused whenever the whole one would be.
#[derive(Debug, Default)]
struct Scope {
    identities: Vec<String>,
    app: Option<String>,
}

impl Scope {
    fn is_whole(&self) -> bool {
        self.identities.is_empty() && self.app.is_none()
    }

    fn identity(&self, id: &str) -> bool {
        self.identities.is_empty() || self.identities.iter().any(|i| i == id)
    }

    fn entitlement(&self, entitlement: &str) -> bool {
        self.app
            .as_deref()
            .is_none_or(|app| entitlement.split_once(':').is_some_and(|(a, _)| a == app))
    }

    /// Keeps the changes and findings in scope, and recounts what the summary counts of them;
    /// the population's figures (identities, desired, live, unchanged, accuracy) stay whole.
    fn narrow(&self, plan: &mut Plan) {
        if self.is_whole() {
            return;
        }
        plan.changes.retain(|c| {
            let (identity, entitlement) = c.key();
            self.identity(identity) && self.entitlement(entitlement)
        });
        plan.sod_violations
            .retain(|v| self.identity(&v.identity) && v.sides.iter().flatten().any(|e| self.entitlement(e)));
        plan.expired_assignments.retain(|a| self.identity(&a.identity));
        plan.orphaned_accounts.retain(|o| self.identity(&o.identity));
        plan.unmanaged
            .retain(|u| self.identity(&u.identity) && self.entitlement(&u.entitlement));
        plan.invalid_identities
            .retain(|r| r.identity.as_deref().is_some_and(|id| self.identity(id)) || self.identities.is_empty());
        plan.held_back.retain(|h| self.identity(&h.identity));
        plan.exceptions.retain(|x| {
            let mut touched = x
                .kept
                .iter()
                .chain(&x.granted)
                .chain(&x.revoked)
                .chain(x.overridden.iter().map(|o| &o.entitlement));
            let in_app = match &x.entitlement {
                Some(e) => self.entitlement(e),
                None => self.app.is_none() || touched.any(|e| self.entitlement(e)),
            };
            self.identity(&x.identity) && in_app
        });
        plan.dormant
            .retain(|d| self.identity(&d.identity) && self.entitlement(&d.entitlement));
        let refused = plan.refused.is_some();
        let s = &mut plan.summary;
        if !refused {
            s.grants = 0;
            s.revokes = 0;
            s.revokes_by_reason.clear();
            for c in &plan.changes {
                match c {
                    Change::Grant { .. } => s.grants += 1,
                    Change::Revoke { reason, .. } => {
                        s.revokes += 1;
                        *s.revokes_by_reason.entry(reason.as_str().to_string()).or_default() += 1;
                    }
                }
            }
        }
        s.orphaned_accounts = plan.orphaned_accounts.len();
        s.sod_violations = plan.sod_violations.len();
        s.expired_assignments = plan.expired_assignments.len();
        s.invalid_identities = plan.invalid_identities.len();
    }
}

/// The plan as written by `--format json` and `--out`: spec §7's shape, then the
/// guard limits used (`guards`) and, when narrowed, the scope (`narrowed`).
#[derive(serde::Serialize)]
struct PlanFile<'a> {
    #[serde(flatten)]
    plan: &'a Plan,
    guards: GuardsUsed,
    #[serde(skip_serializing_if = "Option::is_none")]
    narrowed: Option<Narrowed<'a>>,
}

#[derive(serde::Serialize)]
struct GuardsUsed {
    max_revokes: String,
    max_invalid: String,
    max_orphaned: String,
    max_privileged_grants: String,
    force: bool,
}

#[derive(serde::Serialize)]
struct Narrowed<'a> {
    identities: &'a [String],
    app: Option<&'a str>,
    note: &'static str,
}

fn plan_file<'a>(plan: &'a Plan, options: &PlanOptions, scope: &'a Scope) -> PlanFile<'a> {
    let limits = &options.limits;
    PlanFile {
        plan,
        guards: GuardsUsed {
            max_revokes: limits.max_revokes.to_string(),
            max_invalid: limits.max_invalid.to_string(),
            max_orphaned: limits.max_orphaned.to_string(),
            max_privileged_grants: limits.max_privileged_grants.to_string(),
            force: options.force,
        },
        narrowed: (!scope.is_whole()).then_some(Narrowed {
            identities: &scope.identities,
            app: scope.app.as_deref(),
            note: "changes and findings are those in scope; identities, desired, live, unchanged and entitlement_accuracy are the whole population's, and the guards weighed the whole plan",
        }),
    }
}

/// The bytes of each file, charged to `budget` in order; the first that cannot be read stops.
fn read_all_bounded(paths: &[PathBuf], budget: &ReadBudget) -> Result<Vec<(String, Vec<u8>)>, InputError> {
    paths.iter().map(|path| read_bounded(path, budget)).collect()
}
