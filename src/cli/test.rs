//! `entitle test [PATH...]`: run test suites, with coverage on request.

use std::path::{Path, PathBuf};

use entitle::diag::{Code, Severity};
use entitle::eval::Engine;
use entitle::io::junit::{diagnostics_to_junit, to_junit};
use entitle::project::Sources;
use entitle::testing::render::{self, Thresholds};
use entitle::testing::{discover, load_suites, run_suites};

use super::common::{load_project, print_coded};
use super::context::Context;
use super::{print_human, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};

/// Output formats of `test`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Each test with ok or FAIL, every failure explained, the coverage table.
    #[default]
    Human,
    /// Every test and failure, coverage with everything uncovered and its location.
    Json,
    /// JUnit XML, one testcase per test (GitHub, GitLab, Jenkins).
    Junit,
}

/// Arguments of `test`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Suite files, or folders searched for `*.yaml`/`*.yml` (default: `fixtures/` beside the roles).
    paths: Vec<PathBuf>,
    /// Print what the tests exercised: roles, packages, guardrails, SoD rules, condition entries.
    #[arg(long)]
    coverage: bool,
    /// Fail (exit 1) when roles, packages and guardrails together are less covered than PCT percent.
    #[arg(long, value_name = "PCT", value_parser = parse_percent)]
    min_coverage: Option<f64>,
    /// Fail (exit 1) when fewer than PCT percent of the condition outcomes (each entry true and false) were seen.
    #[arg(long, value_name = "PCT", value_parser = parse_percent)]
    min_condition_coverage: Option<f64>,
    /// Output format (default: `human`, or entitle.toml's `output.format`).
    #[arg(long, value_enum)]
    format: Option<Format>,
}

/// `90`, `92.5` or `90%`, from 0 to 100.
fn parse_percent(text: &str) -> Result<f64, String> {
    let number = text.trim().strip_suffix('%').unwrap_or(text.trim());
    match number.parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!("`{text}` is not a percentage from 0 to 100 (such as `90` or `92.5%`)")),
    }
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<i32> {
    let output = ctx.format(args.format);
    let project = load_project(ctx)?;
    let default_dir = ctx.roles.parent().unwrap_or(Path::new("")).join("fixtures");
    let mut diagnostics = Vec::new();
    let paths: Vec<PathBuf> = args.paths.iter().map(|p| ctx.input(p)).collect();
    let files = discover(&paths, &default_dir, &mut diagnostics);
    let mut loaded = load_suites(&project, files);
    diagnostics.append(&mut loaded.diagnostics);
    entitle::diag::sort(&mut diagnostics);
    if !diagnostics.is_empty() {
        let sources = Sources {
            roles: std::mem::take(&mut loaded.sources),
            policies: Vec::new(),
        };
        match output {
            Format::Json => emit(&format!(
                "{}\n",
                serde_json::to_string_pretty(&super::check::diagnostics_json(&diagnostics))?
            ))?,
            Format::Junit => {
                print_human(&diagnostics, &sources);
                emit(&diagnostics_to_junit(&diagnostics))?;
            }
            Format::Human => print_human(&diagnostics, &sources),
        }
        let errors = diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
        let message = format!(
            "the test suites have {errors} error{}: no test was run",
            if errors == 1 { "" } else { "s" }
        );
        match super::errors::format() {
            super::errors::ErrorFormat::Human => eprintln!("{message}"),
            super::errors::ErrorFormat::Json => print_coded("test-suites", message),
        }
        let io = diagnostics.iter().any(|d| d.code == Code::Io);
        return Ok(if io { EXIT_USAGE } else { EXIT_FINDINGS });
    }
    let thresholds = Thresholds {
        total: args.min_coverage,
        conditions: args.min_condition_coverage,
    };
    let measure = args.coverage || args.min_coverage.is_some() || args.min_condition_coverage.is_some();
    let engine = Engine::new(project.clone())?;
    let report = run_suites(&project, &engine, &loaded.suites, measure)?;
    match output {
        Format::Human => emit(&render::human(&report, args.coverage, thresholds))?,
        Format::Json => emit(&format!("{}\n", serde_json::to_string_pretty(&render::json(&report, thresholds))?))?,
        Format::Junit => emit(&to_junit(&report))?,
    }
    let shortfalls = report.coverage.as_ref().map(|c| thresholds.shortfalls(c)).unwrap_or_default();
    for s in &shortfalls {
        print_coded("coverage", s);
    }
    Ok(if report.failed() > 0 || !shortfalls.is_empty() {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    })
}

/// Writes `text` on standard output; an error (a reader that went away) is returned, not a panic.
fn emit(text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}
