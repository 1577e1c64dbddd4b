//! `entitle whatif`: who gains and who loses what under a definitions change
//! (`--base GITREF`, `--base-roles DIR`), an HR change (`--set`, `--events`,
//! `--add`, `--remove`), or the passage of time (`--to`, `--timeline`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use entitle::eval::{Engine, Evaluator, Oracle};
use entitle::io::identities::parse_identities;
use entitle::io::{read_bounded, ReadBudget};
use entitle::plan::render::Style;
use entitle::population::Population;
use entitle::project::Project;
use entitle::whatif::edit::{apply, parse_events, Edit};
use entitle::whatif::render::{human, markdown, timeline_human, timeline_markdown, Limits};
use entitle::whatif::timeline::timeline;
use entitle::whatif::{compare, scope, State};
use entitle::Instant;

use super::common::{as_of, load_project, print_coded, EngineChoice, EvalArgs, Reported};
use super::context::Context;
use super::feed_kind::{misplaced, FeedKind};
use super::plan::EXIT_CHANGES;
use super::{print_human, EXIT_OK, EXIT_USAGE};

/// Output formats of `whatif`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Figures, per-entitlement totals, then each identity with its reasons.
    #[default]
    Human,
    /// The comparison as JSON (docs/whatif.md).
    Json,
    /// A compact pull-request comment.
    Markdown,
}

/// Arguments of `whatif`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Identity states: JSON, JSON Lines, CSV or SCIM (`-` for stdin).
    #[arg(long)]
    identities: PathBuf,
    /// Compare with the definitions at this git revision (`main`, `HEAD~1`, a commit id), read with
    /// git from the repository holding `--roles` (and `--policies`).
    #[arg(long, value_name = "GITREF", conflicts_with = "base_roles")]
    base: Option<String>,
    /// Compare with the definitions in this directory.
    #[arg(long, value_name = "DIR")]
    base_roles: Option<PathBuf>,
    /// The guardrails of `--base-roles` (default: the `policies` directory beside it).
    #[arg(long, value_name = "DIR", requires = "base_roles")]
    base_policies: Option<PathBuf>,
    /// Preview an HR change: `ID.attr=value` (typed by the identity schema; `owner` re-parents a
    /// non-human identity; an empty value removes the attribute; sets are comma-separated). Repeatable.
    #[arg(long = "set", value_name = "ID.ATTR=VALUE")]
    set: Vec<String>,
    /// Preview a stream of HR events: JSON Lines of partial identity records, applied in order.
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,
    /// Preview joiners: an identity file of new records. Repeatable.
    #[arg(long, value_name = "FILE")]
    add: Vec<PathBuf>,
    /// Preview a leaver removed from the feed. Repeatable.
    #[arg(long, value_name = "ID")]
    remove: Vec<String>,
    /// Compare the population at `--as-of` with the population at this later instant.
    #[arg(long, value_name = "T")]
    to: Option<String>,
    /// List every change scheduled in the window `FROM..TO` (assignment starts and expiries,
    /// contract end dates, date conditions and guardrails crossing), each on its date.
    #[arg(long, value_name = "FROM..TO", conflicts_with_all = ["base", "base_roles", "set", "events", "add", "remove", "to"])]
    timeline: Option<String>,
    #[command(flatten)]
    eval: EvalArgs,
    /// Output format (default: `human`, or entitle.toml's `output.format`).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Exit 0 when nothing changes and 3 when something does.
    #[arg(long)]
    detailed_exitcode: bool,
    /// Identities (or timeline events) human and Markdown output list in full (default 50 and 20).
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
}

fn usage(message: impl std::fmt::Display) -> anyhow::Error {
    print_coded("usage", message);
    Reported(EXIT_USAGE).into()
}

/// An input that cannot be read or parsed: exit 2.
fn input(message: impl std::fmt::Display) -> anyhow::Error {
    super::errors::report(&super::errors::CliError::guess_located("input", &message.to_string()));
    Reported(EXIT_USAGE).into()
}

pub fn run(ctx: &Context, mut args: Args) -> anyhow::Result<i32> {
    // Paths on the command line, as seen from the project root.
    args.identities = ctx.input(&args.identities);
    args.base_roles = args.base_roles.as_deref().map(|p| ctx.input(p));
    args.base_policies = args.base_policies.as_deref().map(|p| ctx.input(p));
    args.events = args.events.as_deref().map(|p| ctx.input(p));
    args.add = args.add.iter().map(|p| ctx.input(p)).collect();
    let output = ctx.format(args.format);
    let (roles, policies) = (ctx.roles.as_path(), ctx.policies());
    let changes_given = args.base.is_some()
        || args.base_roles.is_some()
        || !args.set.is_empty()
        || args.events.is_some()
        || !args.add.is_empty()
        || !args.remove.is_empty()
        || args.to.is_some()
        || args.timeline.is_some();
    if !changes_given {
        return Err(usage(
            "nothing to compare: give `--base GITREF`, `--base-roles DIR`, `--set ID.attr=value`, `--events FILE`, `--add FILE`, `--remove ID`, `--to T` or `--timeline FROM..TO`",
        ));
    }
    let at = as_of(args.eval.as_of.as_deref())?;
    let limits = Limits {
        identities: args.limit.unwrap_or(if output == Format::Markdown { 20 } else { 50 }),
        ..Limits::default()
    };
    let budget = ReadBudget::per_run();
    let (feed_file, feed_bytes) = read_bounded(&args.identities, &budget).map_err(input)?;
    if let Some(error) = misplaced(&feed_file, &feed_bytes, FeedKind::Identities) {
        super::errors::report(&error);
        return Err(Reported(EXIT_USAGE).into());
    }
    let read_feed = |project: &Project| -> anyhow::Result<Population> {
        parse_identities(&feed_file, &feed_bytes, None, &project.defs)
            .map(Population::new)
            .map_err(input)
    };
    // Two sides at once: the base definitions load and get their evaluator on another thread,
    // while the working tree's load, read the feed and get theirs here.
    let (head_side, base_side) = std::thread::scope(|threads| {
        let base = threads.spawn(|| -> anyhow::Result<Option<(Arc<Project>, String, SideEvaluator)>> {
            let Some((project, label)) = base_definitions(&args, roles, policies)? else {
                return Ok(None);
            };
            ctx.loaded_other(&label, &project);
            let evaluator = evaluator(&project, args.eval.engine)?;
            Ok(Some((project, label, evaluator)))
        });
        let head = (|| -> anyhow::Result<(Arc<Project>, Population, SideEvaluator)> {
            let project = load_project(ctx)?;
            let population = read_feed(&project)?;
            let evaluator = evaluator(&project, args.eval.engine)?;
            Ok((project, population, evaluator))
        })();
        let base = base
            .join()
            .unwrap_or_else(|_| Err(usage("loading the base definitions failed unexpectedly")));
        (head, base)
    });
    let ((head, head_population, head_evaluator), base) = (head_side?, base_side?);

    if let Some(window) = &args.timeline {
        let (from, to) = window_of(window)?;
        let bar = progress(ctx, head_population.feed.identities.len());
        let t = timeline(&head, head_evaluator.as_evaluator(), &head_population, from, to, &|n| bar.inc(n))?;
        bar.finish_and_clear();
        write_out(|out| match output {
            Format::Json => {
                serde_json::to_writer_pretty(&mut *out, &t)?;
                writeln!(out)
            }
            Format::Markdown => write!(out, "{}", timeline_markdown(&t, limits)),
            Format::Human => write!(out, "{}", timeline_human(&t, style(ctx), limits)),
        })?;
        return Ok(exit_code(args.detailed_exitcode, !t.events.is_empty()));
    }

    let (base, before_label, base_evaluator) = match base {
        Some(side) => side,
        None => (head.clone(), "current".to_string(), head_evaluator.clone()),
    };
    let policy_change = !Arc::ptr_eq(&base, &head);
    // The feed is read once and validated against each side's definitions, unless they read it alike.
    let base_population = if policy_change && !scope::read_feeds_alike(&base, &head) {
        Some(read_feed(&base)?)
    } else {
        None
    };

    let edits = edits(&head, &args, &budget)?;
    let after_population = if edits.is_empty() {
        None
    } else {
        Some(apply(&head, &head_population, &edits).map_err(usage)?)
    };
    let to = match &args.to {
        None => at,
        Some(t) => Instant::parse(t).map_err(|e| usage(format_args!("--to: {e}")))?,
    };

    let mut after_label = if policy_change {
        "working tree".to_string()
    } else {
        "current".to_string()
    };
    if !edits.is_empty() {
        after_label.push_str(&format!(
            " with {} HR {}",
            edits.len(),
            if edits.len() == 1 { "edit" } else { "edits" }
        ));
    }
    let before = State {
        label: &before_label,
        project: &base,
        evaluator: base_evaluator.as_evaluator(),
        population: base_population.as_ref().unwrap_or(&head_population),
        at,
    };
    let after = State {
        label: &after_label,
        project: &head,
        evaluator: head_evaluator.as_evaluator(),
        population: after_population.as_ref().unwrap_or(&head_population),
        at: to,
    };
    let engines = match (base_evaluator.engine(), head_evaluator.engine()) {
        (Some(b), Some(a)) => Some((b, a)),
        _ => None,
    };
    let scope = scope::between(&before, &after, engines);
    let bar = progress(
        ctx,
        match &scope {
            entitle::whatif::Scope::Everyone { .. } => head_population.feed.identities.len(),
            entitle::whatif::Scope::Only { identities, .. } => identities.len(),
        },
    );
    let whatif = compare(&before, &after, &scope, &|n| bar.inc(n))?;
    bar.finish_and_clear();
    write_out(|out| match output {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &whatif)?;
            writeln!(out)
        }
        Format::Markdown => write!(out, "{}", markdown(&whatif, limits)),
        Format::Human => write!(out, "{}", human(&whatif, style(ctx), limits)),
    })?;
    Ok(exit_code(args.detailed_exitcode, whatif.has_changes()))
}

/// The definitions compared from, when they are not the working tree's, with their label.
fn base_definitions(args: &Args, roles: &Path, policies: Option<&Path>) -> anyhow::Result<Option<(Arc<Project>, String)>> {
    Ok(match (&args.base, &args.base_roles) {
        (Some(rev), _) => Some((load_base_at(rev, roles, policies)?, format!("base {rev}"))),
        (None, Some(dir)) => {
            let base_policies = match (policies, &args.base_policies) {
                (None, _) => None,
                (Some(_), Some(p)) => Some(p.clone()),
                (Some(_), None) => Some(dir.parent().unwrap_or(Path::new(".")).join("policies")),
            };
            Some((load_base_dir(dir, base_policies.as_deref())?, format!("base {}", dir.display())))
        }
        (None, None) => None,
    })
}

fn exit_code(detailed: bool, changes: bool) -> i32 {
    if detailed && changes {
        EXIT_CHANGES
    } else {
        EXIT_OK
    }
}

fn style(ctx: &Context) -> Style {
    Style { colour: ctx.colour() }
}

fn write_out(write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    write(&mut out)?;
    out.flush()?;
    Ok(())
}

fn progress(ctx: &Context, len: usize) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(Some(len as u64), indicatif::ProgressDrawTarget::stderr());
    if len < 20_000 || !ctx.progress() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar
}

/// `FROM..TO`, two instants in order.
fn window_of(text: &str) -> anyhow::Result<(Instant, Instant)> {
    let Some((from, to)) = text.split_once("..") else {
        return Err(usage(format_args!(
            "--timeline `{text}`: expected `FROM..TO`, such as `2026-11-21..2026-12-31`"
        )));
    };
    let parse = |t: &str| Instant::parse(t).map_err(|e| usage(format_args!("--timeline `{text}`: {e}")));
    let (from, to) = (parse(from)?, parse(to)?);
    if from >= to {
        return Err(usage(format_args!("--timeline `{text}`: the window must end after it starts")));
    }
    Ok((from, to))
}

/// The definitions at a git revision; any failure names the revision and the file, exit 2.
fn load_base_at(rev: &str, roles: &Path, policies: Option<&Path>) -> anyhow::Result<Arc<Project>> {
    let sources = entitle::io::git::sources_at(rev, roles, policies).map_err(usage)?;
    match Project::from_sources(&sources) {
        Ok(p) => Ok(Arc::new(p)),
        Err(f) => {
            if super::errors::format() == super::errors::ErrorFormat::Human {
                print_human(&f.diagnostics, &sources);
            }
            let first = f
                .diagnostics
                .iter()
                .find(|d| d.severity == entitle::Severity::Error)
                .map(|d| format!(": {}:{}: {}", d.location.file, d.location.line, d.message))
                .unwrap_or_default();
            Err(usage(format_args!("the definitions at revision `{rev}` do not load{first}")))
        }
    }
}

/// The definitions in a directory; any failure is exit 2 (the base is an input, not the project under check).
fn load_base_dir(roles: &Path, policies: Option<&Path>) -> anyhow::Result<Arc<Project>> {
    let (sources, result) = Project::load(roles, policies);
    match result {
        Ok(p) => Ok(Arc::new(p)),
        Err(f) => {
            if super::errors::format() == super::errors::ErrorFormat::Human {
                print_human(&f.diagnostics, &sources);
            }
            Err(usage(format_args!("the base definitions in `{}` do not load", roles.display())))
        }
    }
}

/// The HR edits, in the order they are applied: joiners, events, `--set`, `--remove`.
fn edits(project: &Project, args: &Args, budget: &ReadBudget) -> anyhow::Result<Vec<Edit>> {
    let mut edits = Vec::new();
    for path in &args.add {
        let (file, bytes) = read_bounded(path, budget).map_err(input)?;
        if let Some(error) = misplaced(&file, &bytes, FeedKind::Identities) {
            super::errors::report(&error);
            return Err(Reported(EXIT_USAGE).into());
        }
        let feed = parse_identities(&file, &bytes, None, &project.defs).map_err(input)?;
        if let Some(bad) = feed.invalid.first() {
            return Err(usage(format_args!("{file}:{}: {}", bad.line, bad.error)));
        }
        for (i, record) in feed.identities.iter().enumerate() {
            edits.push(Edit::Add {
                record: record.clone(),
                source: format!("{file}:{}", feed.line_of(i).unwrap_or(0)),
            });
        }
    }
    if let Some(path) = &args.events {
        let (file, bytes) = read_bounded(path, budget).map_err(input)?;
        let text = String::from_utf8(bytes).map_err(|_| usage(format_args!("{file}: the input is not valid UTF-8 (save it as UTF-8)")))?;
        edits.extend(parse_events(&file, &text).map_err(usage)?);
    }
    for given in &args.set {
        edits.push(Edit::set(given).map_err(usage)?);
    }
    edits.extend(args.remove.iter().map(|id| Edit::Remove { id: id.clone() }));
    Ok(edits)
}

/// The evaluator of one side: the engine (whose role index bounds a definitions change) or the oracle.
#[derive(Clone)]
enum SideEvaluator {
    Engine(Arc<Engine>),
    Oracle(Arc<Oracle>),
}

impl SideEvaluator {
    fn as_evaluator(&self) -> &dyn Evaluator {
        match self {
            SideEvaluator::Engine(e) => e.as_ref(),
            SideEvaluator::Oracle(o) => o.as_ref(),
        }
    }

    fn engine(&self) -> Option<&Engine> {
        match self {
            SideEvaluator::Engine(e) => Some(e),
            SideEvaluator::Oracle(_) => None,
        }
    }
}

fn evaluator(project: &Arc<Project>, choice: EngineChoice) -> anyhow::Result<SideEvaluator> {
    Ok(match choice {
        EngineChoice::Fast => SideEvaluator::Engine(Arc::new(Engine::new(project.clone())?)),
        EngineChoice::Oracle => SideEvaluator::Oracle(Arc::new(Oracle::new(project.clone()))),
    })
}
