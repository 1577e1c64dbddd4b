//! `prove` output: one line per result for a person (counterexamples as the
//! identity records `entitle eval` reads), JSON (spec §7), SARIF (failed and
//! undecided proofs at their definition, with the definition warnings).

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::diag::Diagnostic;
use crate::eval::explain::render_justification;

use super::{Outcome, ProofKind, ProveReport};

/// The report for a person: one line per result; a failed result is followed
/// by its counterexample (the subject's record, then its owner's, as JSON
/// `entitle eval --identity` reads) and why the subject holds what it holds.
pub fn human(report: &ProveReport) -> String {
    let mut out = String::new();
    let width = report.results.iter().map(|r| r.id.len()).max().unwrap_or(0);
    for r in &report.results {
        let kind = match r.kind {
            ProofKind::Invariant => "invariant",
            ProofKind::Sod => "sod      ",
        };
        let (status, detail) = match &r.outcome {
            Outcome::Proved => ("proved ", String::new()),
            Outcome::Failed { counterexample: c } => (
                "FAILED ",
                format!(
                    "  `{}` holds {} at {}",
                    c.identities.first().map_or("", |i| i.id.as_str()),
                    c.entitlements.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(" and "),
                    c.as_of
                ),
            ),
            Outcome::Unknown { reason } => ("unknown", format!("  {reason}")),
        };
        let _ = writeln!(out, "{status} {kind} {:<width$}  {}{detail}", r.id, r.source.file_line());
        if let Outcome::Failed { counterexample: c } = &r.outcome {
            for record in &c.identities {
                let _ = writeln!(out, "        {}", serde_json::to_string(&record.to_json()).unwrap_or_default());
            }
            for (entitlement, why) in &c.because {
                for j in why {
                    let _ = writeln!(out, "        `{entitlement}`: {}", render_justification(j));
                }
            }
        }
    }
    out
}

/// The one-line summary printed after the results.
pub fn summary(report: &ProveReport) -> String {
    let count = |f: fn(&Outcome) -> bool| report.results.iter().filter(|r| f(&r.outcome)).count();
    format!(
        "{} proved, {} failed, {} unknown; {} warnings",
        count(|o| matches!(o, Outcome::Proved)),
        count(|o| matches!(o, Outcome::Failed { .. })),
        count(|o| matches!(o, Outcome::Unknown { .. })),
        report.warnings.len()
    )
}

/// A diagnostic in the JSON shape `check --format json` uses.
fn diagnostic_json(d: &Diagnostic) -> Value {
    let mut v = json!({
        "code": d.code.as_str(), "severity": d.severity, "message": d.message,
        "file": d.location.file, "line": d.location.line, "column": d.location.column,
    });
    if let Some(h) = &d.help {
        v["help"] = h.clone().into();
    }
    v
}

/// Spec §7: `{"results": [...]}` (each result's fields in the spec's order),
/// plus the definition warnings, pretty-printed.
pub fn json(report: &ProveReport) -> String {
    #[derive(serde::Serialize)]
    struct Out<'a> {
        results: &'a [super::ProofResult],
        warnings: Vec<Value>,
    }
    let out = Out {
        results: &report.results,
        warnings: report.warnings.iter().map(diagnostic_json).collect(),
    };
    serde_json::to_string_pretty(&out).unwrap_or_default()
}

/// SARIF 2.1.0: failed proofs (errors) and undecided ones (warnings) at the
/// invariant's or rule's YAML line, then the definition warnings.
pub fn sarif(report: &ProveReport) -> Value {
    let mut diagnostics: Vec<Diagnostic> = report.results.iter().filter_map(|r| r.diagnostic()).collect();
    diagnostics.extend(report.warnings.iter().cloned());
    crate::io::sarif::to_sarif(&diagnostics)
}
