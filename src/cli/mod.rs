//! The command line: one file per subcommand; this file parses arguments,
//! finds the project root (`context.rs`, `project_root.rs`) and maps
//! outcomes to exit codes (0 success, 1 findings, 2 bad usage or unreadable
//! input, 3 changes with `--detailed-exitcode`).

mod check;
mod common;
mod compile;
mod completions;
mod context;
mod errors;
mod eval;
mod explain;
mod feed_kind;
mod gen;
mod init;
mod plan;
mod project_root;
mod prove;
mod test;
mod whatif;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use context::{ColorChoice, Context};
use errors::{CliError, ErrorFormat};

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: findings (errors, failed tests, a refused plan).
pub const EXIT_FINDINGS: i32 = 1;
/// Exit code: bad usage or unreadable input.
pub const EXIT_USAGE: i32 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "entitle",
    version,
    about = "Policy-as-code entitlements: YAML roles compiled to Cedar, desired vs live access",
    after_help = "The project root is the working directory when it holds `entitle.toml` or `roles/`, else the \
                  nearest directory up holding `entitle.toml` or both `roles/` and `policies/`; commands run \
                  from there (docs/cli.md). `entitle init` creates one; `entitle man` prints the manual."
)]
pub(crate) struct Cli {
    /// Run as if started in DIR (before the project root is looked for).
    #[arg(short = 'C', long = "directory", value_name = "DIR", global = true)]
    directory: Option<PathBuf>,
    /// Directory of YAML definitions (default: `roles` at the project root, or entitle.toml's `roles`).
    #[arg(long, global = true, value_name = "DIR")]
    roles: Option<PathBuf>,
    /// Directory of hand-written Cedar guardrails (it must exist, unless `--no-policies`;
    /// default: `policies` at the project root, or entitle.toml's `policies`).
    #[arg(long, global = true, value_name = "DIR")]
    policies: Option<PathBuf>,
    /// Load the roles without any hand-written guardrail (say so explicitly: a missing
    /// policies directory is an error, since it would drop every guardrail).
    #[arg(long, global = true, conflicts_with = "policies")]
    no_policies: bool,
    /// Print no header naming the definitions loaded, and no progress.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Say more: where the project root was found and how long loading took.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Colour in human output: `auto` (a terminal, and `NO_COLOR` unset), `always` or `never`.
    #[arg(long, global = true, value_enum, default_value_t)]
    color: ColorChoice,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Load, validate, compile and lint the definitions.
    Check(check::Args),
    /// Write the Cedar schema, policies and static entities.
    Compile(compile::Args),
    /// The desired entitlements (and roles) of each identity.
    Eval(eval::Args),
    /// Why an identity holds an entitlement, or why not (exit 0 when it holds it, 1 when not).
    Explain(explain::Args),
    /// Desired against live: grants and revocations with reasons, metrics, violations.
    Plan(plan::Args),
    /// Who gains and who loses what under a definitions change, an HR change, or time.
    Whatif(whatif::Args),
    /// A deterministic synthetic organisation with its identity feed and drifted live state.
    Gen(gen::Args),
    /// Prove every invariant and SoD rule over all identity states (Cedar SymCC + cvc5).
    Prove(prove::Args),
    /// Run test suites (docs/test.md), with coverage down to each entry of each role's condition.
    Test(test::Args),
    /// Create a working policy repository: identity schema, an application, a birthright role,
    /// a guardrail, a test suite, a CI workflow and entitle.toml.
    Init(init::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::Args),
    /// Print the manual page (roff), for `man -l -` or a man directory.
    Man,
}

/// Runs the command line and returns the exit code.
pub fn run() -> i32 {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if errors::json_requested(&argv) {
        errors::set_format(ErrorFormat::Json);
    }
    let cli = match Cli::try_parse_from(&argv) {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return EXIT_OK;
        }
        Err(e) => {
            errors::report_usage(&e);
            return EXIT_USAGE;
        }
    };
    match cli.command {
        Command::Completions(args) => return finish(completions::run(args)),
        Command::Man => return finish(completions::man()),
        _ => {}
    }
    // `init` creates a repository: whatever lies above the working directory is not its root.
    let discover = !matches!(cli.command, Command::Init(_));
    let ctx = match Context::new(&cli, !argv_has_format(&argv), discover) {
        Ok(ctx) => ctx,
        Err(e) => {
            errors::report(&e);
            return EXIT_USAGE;
        }
    };
    let result = match cli.command {
        Command::Check(args) => check::run(&ctx, args),
        Command::Compile(args) => compile::run(&ctx, args),
        Command::Eval(args) => eval::run(&ctx, args),
        Command::Explain(args) => explain::run(&ctx, args),
        Command::Plan(args) => plan::run(&ctx, args),
        Command::Whatif(args) => whatif::run(&ctx, args),
        Command::Gen(args) => gen::run(&ctx, args),
        Command::Prove(args) => prove::run(&ctx, args),
        Command::Test(args) => test::run(&ctx, args),
        Command::Init(args) => init::run(&ctx, args),
        Command::Completions(_) | Command::Man => Ok(EXIT_OK),
    };
    finish(result)
}

/// `--format` on the command line (then entitle.toml's default format does not choose the errors' format).
fn argv_has_format(argv: &[std::ffi::OsString]) -> bool {
    argv.iter()
        .map(|a| a.to_str().unwrap_or_default())
        .take_while(|a| *a != "--")
        .any(|a| a == "--format" || a.starts_with("--format="))
}

/// The exit code of a command's outcome; an error not yet told is told here.
fn finish(result: anyhow::Result<i32>) -> i32 {
    match result {
        Ok(code) => code,
        Err(e) => match e.downcast_ref::<common::Reported>() {
            Some(common::Reported(code)) => *code,
            // A reader that went away (`| head`) is not an error of ours.
            None if e
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
            {
                EXIT_OK
            }
            None => {
                errors::report(&CliError::new("io", format_args!("{e:#}")));
                EXIT_USAGE
            }
        },
    }
}

/// Most diagnostics of one code printed in full for a person; the rest are counted.
const MAX_SHOWN_PER_CODE: usize = 10;

/// Prints diagnostics for a person on stderr, with source excerpts: the first
/// [`MAX_SHOWN_PER_CODE`] of each code in full, then one line counting the
/// rest (thousands of one warning bury everything else; `--format json` and
/// `--format sarif` list them all).
fn print_human(diagnostics: &[entitle::Diagnostic], sources: &entitle::project::Sources) {
    use std::collections::BTreeMap;
    use std::io::Write as _;
    let lines = sources.line_index();
    let mut shown: BTreeMap<entitle::Code, usize> = BTreeMap::new();
    let mut out = std::io::BufWriter::new(std::io::stderr().lock());
    for d in diagnostics {
        let count = shown.entry(d.code).or_default();
        *count += 1;
        if *count <= MAX_SHOWN_PER_CODE {
            let _ = write!(out, "{}", d.render_with_line(lines.line(&d.location.file, d.location.line)));
        }
    }
    for (code, count) in shown.into_iter().filter(|(_, n)| *n > MAX_SHOWN_PER_CODE) {
        let _ = writeln!(
            out,
            "{}[{code}]: … and {} more `{}` diagnostics (`entitle check --format json` lists them all)",
            code.severity(),
            count - MAX_SHOWN_PER_CODE,
            code.title()
        );
    }
    let _ = out.flush();
}
