//! What several subcommands share: loading the project, reading the
//! population, choosing the evaluator, parsing `--as-of`.

use std::path::Path;
use std::sync::Arc;

use entitle::eval::{Engine, Evaluator, Oracle};
use entitle::io::identities::parse_identities;
use entitle::io::{read_bounded, InputError, ReadBudget};
use entitle::population::Population;
use entitle::term::one_line;
use entitle::{Instant, Project};

use super::{print_human, EXIT_FINDINGS, EXIT_USAGE};

/// Prints `error: <message>` on stderr, the message made terminal-safe (it
/// quotes file names and values from the input).
pub fn print_error(message: impl std::fmt::Display) {
    eprintln!("error: {}", one_line(&message.to_string()));
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

/// Loads and compiles the project, printing diagnostics when it fails.
pub fn load_project(roles: &Path, policies: Option<&Path>) -> anyhow::Result<Arc<Project>> {
    match Project::load(roles, policies) {
        Ok(p) => Ok(Arc::new(p)),
        Err(f) => {
            print_human(&f.diagnostics, &f.sources);
            let io = f.is_io();
            eprintln!("the definitions have errors: run `entitle check` for the full report");
            Err(Reported(if io { EXIT_USAGE } else { EXIT_FINDINGS }).into())
        }
    }
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
/// project's definitions; a feed that cannot be read is printed as an error.
pub fn population_from(read: Result<(String, Vec<u8>), InputError>, project: &Project) -> anyhow::Result<Population> {
    match read.and_then(|(file, bytes)| parse_identities(&file, &bytes, None, &project.defs)) {
        Ok(feed) => Ok(Population::new(feed)),
        Err(e) => {
            print_error(e);
            Err(Reported(EXIT_USAGE).into())
        }
    }
}

/// `--as-of`, defaulting to now.
pub fn as_of(value: Option<&str>) -> anyhow::Result<Instant> {
    match value {
        None => Ok(Instant::now()),
        Some(v) => Instant::parse(v).map_err(|e| {
            print_error(format_args!("--as-of: {e}"));
            Reported(EXIT_USAGE).into()
        }),
    }
}
