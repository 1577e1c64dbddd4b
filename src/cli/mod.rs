//! The command line: one file per subcommand; this file parses arguments and
//! maps outcomes to exit codes (0 success, 1 findings, 2 bad usage or
//! unreadable input, 3 changes with `--detailed-exitcode`).

#[cfg(feature = "serve")]
mod apply;
mod check;
mod common;
mod compile;
mod eval;
mod explain;
mod gen;
mod plan;
mod prove;
#[cfg(feature = "serve")]
mod serve;
mod test;
mod whatif;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
    about = "Policy-as-code entitlements: YAML roles compiled to Cedar, desired vs live access"
)]
struct Cli {
    /// Directory of YAML definitions.
    #[arg(long, global = true, default_value = "roles")]
    roles: PathBuf,
    /// Directory of hand-written Cedar guardrails (it must exist, unless `--no-policies`).
    #[arg(long, global = true, default_value = "policies")]
    policies: PathBuf,
    /// Load the roles without any hand-written guardrail (say so explicitly: a missing
    /// policies directory is an error, since it would drop every guardrail).
    #[arg(long, global = true, conflicts_with = "policies")]
    no_policies: bool,
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
    /// Why an identity holds an entitlement, or why not.
    Explain(explain::Args),
    /// Desired against live: grants and revocations with reasons, metrics, violations.
    Plan(plan::Args),
    /// Who gains and who loses what under a definitions change, an HR change, or time.
    Whatif(whatif::Args),
    /// A deterministic synthetic organisation with its identity feed and drifted live state.
    Gen(gen::Args),
    /// Prove every invariant and SoD rule over all identity states (Cedar SymCC + cvc5).
    Prove(prove::Args),
    /// Run test suites (spec §6), with coverage down to each entry of each role's condition.
    Test(test::Args),
    /// Serve decisions over HTTP: desired, explain, plan, what-if, reload, health, metrics.
    #[cfg(feature = "serve")]
    Serve(serve::Args),
    /// Send a plan's changes for one application to a SCIM 2.0 service provider.
    #[cfg(feature = "serve")]
    Apply(apply::Args),
}

/// Runs the command line and returns the exit code.
pub fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        }
    };
    let policies = (!cli.no_policies).then_some(cli.policies.as_path());
    let result = match cli.command {
        Command::Check(args) => check::run(&cli.roles, policies, args),
        Command::Compile(args) => compile::run(&cli.roles, policies, args),
        Command::Eval(args) => eval::run(&cli.roles, policies, args),
        Command::Explain(args) => explain::run(&cli.roles, policies, args),
        Command::Plan(args) => plan::run(&cli.roles, policies, args),
        Command::Whatif(args) => whatif::run(&cli.roles, policies, args),
        Command::Gen(args) => gen::run(args),
        Command::Prove(args) => prove::run(&cli.roles, policies, args),
        Command::Test(args) => test::run(&cli.roles, policies, args),
        #[cfg(feature = "serve")]
        Command::Serve(args) => serve::run(&cli.roles, policies, args),
        #[cfg(feature = "serve")]
        Command::Apply(args) => apply::run(args),
    };
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
                common::print_error(format_args!("{e:#}"));
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
