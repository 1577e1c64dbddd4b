//! What several subcommands share: loading the project, reading the
//! population, choosing the evaluator, parsing `--as-of`.

use std::path::Path;
use std::sync::Arc;

use entitle::diag::{Code, Severity};
use entitle::eval::{Engine, Evaluator, Oracle};
use entitle::io::identities::parse_identities;
use entitle::io::{read_bounded, InputError, ReadBudget};
use entitle::population::Population;
use entitle::project::Sources;
use entitle::Diagnostic;
use entitle::{Instant, Project};

use super::context::Context;
use super::errors::{self, report, CliError, ErrorFormat};
use super::feed_kind::{self, FeedKind};
use super::{print_human, EXIT_FINDINGS, EXIT_USAGE};

/// Prints `error: <message>` on stderr, the message made terminal-safe (it
/// quotes file names and values from the input); a JSON error under `--format json`.
#[allow(dead_code, reason = "kept for commands that have no error code of their own yet")]
pub fn print_error(message: impl std::fmt::Display) {
    report(&CliError::new("error", message));
}

/// Prints an error with its stable code (see [`CliError`]).
pub fn print_coded(code: &str, message: impl std::fmt::Display) {
    report(&CliError::new(code, message));
}

/// Prints an unreadable or malformed input, located at its file and line.
pub fn print_input_error(file: &str, error: &InputError) {
    report(&CliError::located("input", file, &error.to_string()));
}

/// A failure that already told the user what is wrong: just the exit code.
#[derive(Debug)]
pub struct Reported(pub i32);

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}", self.0)
    }
}

impl std::error::Error for Reported {}

/// Which evaluator answers.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EngineChoice {
    /// The fast engine (default).
    #[default]
    Fast,
    /// Plain Cedar, one request per entitlement: the semantics, slow.
    Oracle,
}

/// The arguments every evaluating command shares.
#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// The instant of evaluation (RFC 3339, or a date meaning its midnight UTC); default now.
    #[arg(long)]
    pub as_of: Option<String>,
    /// Which evaluator answers.
    #[arg(long, value_enum, default_value_t)]
    pub engine: EngineChoice,
}

/// Loads and compiles the project, naming what was loaded (the header on
/// stderr), or printing the diagnostics when it fails.
pub fn load_project(ctx: &Context) -> anyhow::Result<Arc<Project>> {
    let started = std::time::Instant::now();
    let (sources, result) = Project::load(&ctx.roles, ctx.policies());
    match result {
        Ok(p) => {
            ctx.loaded(&p, started.elapsed());
            Ok(Arc::new(p))
        }
        Err(f) => Err(definitions_failed(&f.diagnostics, &sources)),
    }
}

/// Reports definitions that do not load (every diagnostic for a person; the
/// first error, with all diagnostics, as one JSON error): exit 2 when a
/// directory or file cannot be read, else 1.
pub fn definitions_failed(diagnostics: &[Diagnostic], sources: &Sources) -> anyhow::Error {
    let io = diagnostics.iter().any(|d| d.code == Code::Io);
    match errors::format() {
        ErrorFormat::Human => {
            print_human(diagnostics, sources);
            eprintln!("the definitions have errors: run `entitle check` for the full report");
        }
        ErrorFormat::Json => {
            let first = diagnostics.iter().find(|d| d.severity == Severity::Error).or(diagnostics.first());
            let mut error = match first {
                Some(d) => CliError::new("definitions", &d.message).at(d.location.file.clone(), Some(d.location.line)),
                None => CliError::new("definitions", "the definitions do not load"),
            };
            if let Some(help) = first.and_then(|d| d.help.clone()) {
                error = error.with_help(help);
            }
            let mut json = error.to_json();
            json["error"]["diagnostics"] = super::check::diagnostics_json(diagnostics)["diagnostics"].take();
            eprintln!("{json}");
        }
    }
    Reported(if io { EXIT_USAGE } else { EXIT_FINDINGS }).into()
}

/// The evaluator for `choice`.
pub fn evaluator(project: &Arc<Project>, choice: EngineChoice) -> anyhow::Result<Box<dyn Evaluator>> {
    Ok(match choice {
        EngineChoice::Fast => Box::new(Engine::new(project.clone())?),
        EngineChoice::Oracle => Box::new(Oracle::new(project.clone())),
    })
}

/// Reads an identity feed (`-` for stdin).
pub fn read_population(path: &Path, project: &Project, budget: &ReadBudget) -> anyhow::Result<Population> {
    population_from(read_bounded(path, budget), project)
}

/// The identity feed whose bytes `read` holds (from [`read_bounded`]), validated against the
/// project's definitions; a feed that cannot be read, or that is a live-state export, is
/// printed as one error.
pub fn population_from(read: Result<(String, Vec<u8>), InputError>, project: &Project) -> anyhow::Result<Population> {
    let (file, bytes) = read.map_err(|e| {
        report(&CliError::guess_located("input", &e.to_string()));
        anyhow::Error::from(Reported(EXIT_USAGE))
    })?;
    if let Some(error) = feed_kind::misplaced(&file, &bytes, FeedKind::Identities) {
        report(&error);
        return Err(Reported(EXIT_USAGE).into());
    }
    match parse_identities(&file, &bytes, None, &project.defs) {
        Ok(feed) => Ok(Population::new(feed)),
        Err(e) => {
            print_input_error(&file, &e);
            Err(Reported(EXIT_USAGE).into())
        }
    }
}

/// `--as-of`, defaulting to now.
pub fn as_of(value: Option<&str>) -> anyhow::Result<Instant> {
    match value {
        None => Ok(Instant::now()),
        Some(v) => Instant::parse(v).map_err(|e| {
            print_coded("usage", format_args!("--as-of: {e}"));
            Reported(EXIT_USAGE).into()
        }),
    }
}
