//! `entitle prove`: every invariant and SoD rule over all identity states,
//! plus dead roles, shadowed roles and idle guardrails (Cedar SymCC + cvc5).

use std::io::Write as _;
use std::time::Duration;

use entitle::prove::{self, render, ProveError, ProveOptions};

use super::common::{load_project, print_coded, Reported};
use super::context::Context;
use super::{print_human, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};

/// Output formats of `prove`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default)]
pub enum Format {
    /// One line per result; counterexamples as identity records.
    #[default]
    Human,
    /// `{"results": [...], "warnings": [...]}` (docs/prove.md).
    Json,
    /// SARIF 2.1.0: failed proofs at the invariant's or rule's line.
    Sarif,
}

/// Arguments of `prove`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output format (default: `human`, or entitle.toml's `output.format`).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Time limit of one solver query (`60s`, `500ms`, `2m`, or seconds); a query that runs out is `unknown`.
    #[arg(long, default_value = "60s", value_parser = parse_timeout)]
    timeout: Duration,
    /// Solver processes run at once (default: one per core).
    #[arg(long)]
    jobs: Option<usize>,
    /// Prove the invariants and SoD rules only: no dead-role, shadowed-role or idle-guardrail analysis.
    #[arg(long)]
    no_definitions: bool,
}

/// A time limit: a number of seconds, or a number with `ms`, `s` or `m`.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit_ms) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000.0)
    } else {
        (text, 1000.0)
    };
    let bad = || format!("`{text}` is not a time limit such as `60s`, `500ms` or `2m`");
    let value: f64 = number.trim().parse().map_err(|_| bad())?;
    let ms = value * unit_ms;
    if !ms.is_finite() || !(1.0..=86_400_000.0).contains(&ms) {
        return Err(bad());
    }
    Ok(Duration::from_millis(ms as u64))
}

/// A missing solver (or a proof that cannot be set up), told in one sentence: exit 2.
fn solver_error(e: &ProveError) -> anyhow::Error {
    print_coded("solver", e);
    Reported(EXIT_USAGE).into()
}

/// `check --deep`: dead roles, shadowed roles and idle guardrails.
pub fn definitions(project: &entitle::Project) -> anyhow::Result<Vec<entitle::Diagnostic>> {
    prove::analyse_definitions(project, &ProveOptions::default()).map_err(|e| solver_error(&e))
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<i32> {
    let output = ctx.format(args.format);
    let project = load_project(ctx)?;
    let mut options = ProveOptions {
        timeout: args.timeout,
        definitions: !args.no_definitions,
        ..ProveOptions::default()
    };
    if let Some(jobs) = args.jobs {
        options.jobs = jobs.max(1);
    }
    let report = prove::prove(&project, &options).map_err(|e| solver_error(&e))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match output {
        Format::Human => {
            write!(out, "{}", render::human(&report))?;
            out.flush()?;
            if !report.warnings.is_empty() {
                let sources = entitle::project::Sources::read(&ctx.roles, ctx.policies(), &mut Vec::new());
                print_human(&report.warnings, &sources);
            }
            eprintln!("{}", render::summary(&report));
        }
        Format::Json => writeln!(out, "{}", render::json(&report))?,
        Format::Sarif => writeln!(out, "{}", serde_json::to_string_pretty(&render::sarif(&report))?)?,
    }
    Ok(if report.all_proved() { EXIT_OK } else { EXIT_FINDINGS })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_limits() {
        assert_eq!(parse_timeout("60s").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_timeout("60").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_timeout("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_timeout("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_timeout("2m").unwrap(), Duration::from_secs(120));
        for bad in ["", "0", "-1s", "fast", "0.1ms", "NaNs", "2d"] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }
}
