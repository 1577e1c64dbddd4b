//! `entitle check`: load, validate, compile and lint; report every diagnostic.

use std::path::Path;

use entitle::diag::{Code, Severity};
use entitle::io::sarif::to_sarif;
use entitle::Project;

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
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Fail on warnings too.
    #[arg(long)]
    deny_warnings: bool,
    /// Also find dead roles, shadowed roles and idle guardrails with the solver (cvc5, as `entitle prove`).
    #[arg(long)]
    deep: bool,
}

pub fn run(roles: &Path, policies: Option<&Path>, args: Args) -> anyhow::Result<i32> {
    let result = Project::load(roles, policies);
    let sources = match &result {
        Ok(p) => p.sources(),
        Err(f) => &f.sources,
    };
    let mut diagnostics = match &result {
        Ok(p) => p.warnings.clone(),
        Err(f) => f.diagnostics.clone(),
    };
    if let (true, Ok(project)) = (args.deep, &result) {
        diagnostics.extend(super::prove::definitions(project)?);
        entitle::diag::sort(&mut diagnostics);
    }
    match args.format {
        Format::Human => {
            print_human(&diagnostics, sources);
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
        Format::Json => {
            let list: Vec<_> = diagnostics
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
            println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "diagnostics": list }))?);
        }
        Format::Sarif => println!("{}", serde_json::to_string_pretty(&to_sarif(&diagnostics))?),
    }
    if diagnostics.iter().any(|d| d.code == Code::Io) {
        return Ok(EXIT_USAGE);
    }
    let failed = result.is_err() || (args.deny_warnings && !diagnostics.is_empty());
    Ok(if failed { EXIT_FINDINGS } else { EXIT_OK })
}
