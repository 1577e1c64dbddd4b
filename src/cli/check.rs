//! `entitle check`: load, validate, compile and lint; report every diagnostic.

use entitle::diag::{Code, Severity};
use entitle::io::sarif::to_sarif;
use entitle::Project;

use super::context::Context;
use super::errors::{report, CliError};
use super::{print_human, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};

/// Output formats of `check`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default)]
pub enum Format {
    /// Readable diagnostics with source excerpts.
    #[default]
    Human,
    /// `{"diagnostics": [...]}`.
    Json,
    /// SARIF 2.1.0.
    Sarif,
}

/// Arguments of `check`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output format (default: `human`, or entitle.toml's `output.format`).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Fail on warnings too.
    #[arg(long)]
    deny_warnings: bool,
    /// Also find dead roles, shadowed roles and idle guardrails with the solver (cvc5, as `entitle prove`).
    #[arg(long)]
    deep: bool,
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<i32> {
    let started = std::time::Instant::now();
    let (sources, result) = Project::load(&ctx.roles, ctx.policies());
    if let Ok(project) = &result {
        ctx.loaded(project, started.elapsed());
    }
    let mut diagnostics = match &result {
        Ok(p) => p.warnings.clone(),
        Err(f) => f.diagnostics.clone(),
    };
    if let (true, Ok(project)) = (args.deep, &result) {
        diagnostics.extend(super::prove::definitions(project)?);
        entitle::diag::sort(&mut diagnostics);
    }
    match ctx.format(args.format) {
        Format::Human => {
            print_human(&diagnostics, &sources);
            let errors = diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
            let warnings = diagnostics.len() - errors;
            match &result {
                Ok(p) => eprintln!(
                    "checked {} roles, {} packages, {} entitlements, {} policies: {errors} errors, {warnings} warnings",
                    p.defs.roles.len(),
                    p.defs.packages.len(),
                    p.defs.entitlements.len(),
                    p.compiled.info.len()
                ),
                Err(_) => eprintln!("{errors} errors, {warnings} warnings"),
            }
        }
        Format::Json => println!("{}", serde_json::to_string_pretty(&diagnostics_json(&diagnostics))?),
        Format::Sarif => println!("{}", serde_json::to_string_pretty(&to_sarif(&diagnostics))?),
    }
    if let Some(d) = diagnostics.iter().find(|d| d.code == Code::Io) {
        // The definitions could not be read at all: an error of the run, not only a finding.
        if super::errors::format() == super::errors::ErrorFormat::Json {
            let mut error = CliError::new("input", &d.message).at(d.location.file.clone(), Some(d.location.line));
            if let Some(help) = &d.help {
                error = error.with_help(help.clone());
            }
            report(&error);
        }
        return Ok(EXIT_USAGE);
    }
    let failed = result.is_err() || (args.deny_warnings && !diagnostics.is_empty());
    Ok(if failed { EXIT_FINDINGS } else { EXIT_OK })
}

/// `{"diagnostics": [...]}`: every diagnostic with its code, severity, message, location and help.
pub fn diagnostics_json(diagnostics: &[entitle::Diagnostic]) -> serde_json::Value {
    let list: Vec<serde_json::Value> = diagnostics
        .iter()
        .map(|d| {
            let mut v = serde_json::json!({
                "code": d.code.as_str(), "severity": d.severity, "message": d.message,
                "file": d.location.file, "line": d.location.line, "column": d.location.column,
            });
            if let Some(h) = &d.help {
                v["help"] = h.clone().into();
            }
            v
        })
        .collect();
    serde_json::json!({ "diagnostics": list })
}
