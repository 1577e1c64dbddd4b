//! A test run as a person reads it (human) and as tools read it (JSON);
//! JUnit XML is in [`crate::io::junit`].
//!
//! Both are deterministic: suites in the order given, tests in file order,
//! coverage items in id order, no timings. Human output makes every value
//! from a suite or a feed terminal-safe.

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::diag::Location;
use crate::term::one_line;

use super::coverage::{Coverage, ItemCoverage, Totals};
use super::run::{RunReport, TestResult};

/// Coverage thresholds a run is held to (percentages, 0 to 100).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Thresholds {
    /// `--min-coverage`: roles, packages and guardrails together (spec §6).
    pub total: Option<f64>,
    /// `--min-condition-coverage`: condition outcomes seen.
    pub conditions: Option<f64>,
}

impl Thresholds {
    /// The thresholds `coverage` falls below, each as a sentence.
    pub fn shortfalls(&self, coverage: &Coverage) -> Vec<String> {
        let mut out = Vec::new();
        let mut check = |what: &str, min: Option<f64>, t: Totals| {
            if let Some(min) = min {
                if t.percent() < min {
                    out.push(format!("{what} is {}, below the minimum of {}%", percent(t), trim_number(min)));
                }
            }
        };
        check("coverage of roles, packages and guardrails", self.total, coverage.totals());
        check("condition coverage", self.conditions, coverage.conditions_totals());
        out
    }
}

/// `92.6%`: one decimal, rounded.
pub fn percent(t: Totals) -> String {
    format!("{:.1}%", t.percent())
}

fn trim_number(n: f64) -> String {
    let s = format!("{n:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The percentage rounded to two decimals, for JSON.
fn rounded(t: Totals) -> f64 {
    (t.percent() * 100.0).round() / 100.0
}

fn test_label(t: &TestResult) -> String {
    let name = one_line(&t.name);
    if t.name == t.identity {
        name.into_owned()
    } else {
        format!("{name} ({})", one_line(&t.identity))
    }
}

/// The run as a person reads it: each suite and test with `ok` or `FAIL`,
/// then every failure with its explanations, the closing count
/// (`N passed, N failed`), and with `show_coverage` the coverage table.
pub fn human(report: &RunReport, show_coverage: bool, thresholds: Thresholds) -> String {
    let mut out = String::new();
    for suite in &report.suites {
        let _ = writeln!(out, "{}: {} (as of {})", one_line(&suite.file), one_line(&suite.name), suite.as_of);
        for t in &suite.tests {
            let _ = writeln!(out, "  {:<4}  {}", if t.passed() { "ok" } else { "FAIL" }, test_label(t));
        }
    }
    let failed: Vec<(&str, &TestResult)> = report
        .suites
        .iter()
        .flat_map(|s| s.tests.iter().map(move |t| (s.name.as_str(), t)))
        .filter(|(_, t)| !t.passed())
        .collect();
    if !failed.is_empty() {
        out.push_str("\nfailures:\n");
        for (suite, t) in failed {
            let _ = writeln!(
                out,
                "\n{}: {} › {} at {}",
                one_line(&t.location.file_line()),
                one_line(suite),
                test_label(t),
                t.as_of
            );
            for f in &t.failures {
                let _ = writeln!(
                    out,
                    "  {} ({}): {}",
                    f.expectation,
                    one_line(&f.location.file_line()),
                    one_line(&f.message)
                );
                for d in &f.details {
                    let _ = writeln!(out, "    {} `{}`:", d.status, one_line(&d.id));
                    for line in d.explanation.lines() {
                        let _ = writeln!(out, "      {line}");
                    }
                }
            }
        }
    }
    if show_coverage {
        if let Some(coverage) = &report.coverage {
            out.push('\n');
            out.push_str(&coverage_table(coverage, thresholds));
        }
    }
    let (tests, suites) = (report.tests().count(), report.suites.len());
    let _ = writeln!(
        out,
        "\n{tests} test{} in {suites} suite{}: {} passed, {} failed",
        if tests == 1 { "" } else { "s" },
        if suites == 1 { "" } else { "s" },
        report.passed(),
        report.failed()
    );
    out
}

fn mark(exercised: bool) -> &'static str {
    if exercised {
        "[x]"
    } else {
        "[ ]"
    }
}

fn location(l: &Location) -> String {
    one_line(&l.file_line()).into_owned()
}

/// The coverage table: totals, then every item with where it is defined,
/// each role with the entries of its condition never seen true or false.
pub fn coverage_table(coverage: &Coverage, thresholds: Thresholds) -> String {
    let mut out = String::new();
    let row = |out: &mut String, what: &str, t: Totals, note: &str| {
        let _ = writeln!(out, "  {what:<11} {:>5}/{:<5} {:>6}{note}", t.covered, t.total, percent(t));
    };
    let verdict = |min: Option<f64>, t: Totals| match min {
        Some(min) if t.percent() < min => format!("   below the minimum of {}%", trim_number(min)),
        Some(min) => format!("   minimum {}%: met", trim_number(min)),
        None => String::new(),
    };
    out.push_str("coverage:\n");
    row(&mut out, "roles", coverage.roles_totals(), "");
    row(&mut out, "packages", coverage.packages_totals(), "");
    row(&mut out, "guardrails", coverage.guardrails_totals(), "");
    row(&mut out, "total", coverage.totals(), &verdict(thresholds.total, coverage.totals()));
    row(&mut out, "SoD rules", coverage.sod_totals(), "");
    row(
        &mut out,
        "conditions",
        coverage.conditions_totals(),
        &format!(
            "   each entry of each role's `when` seen true and seen false{}",
            verdict(thresholds.conditions, coverage.conditions_totals())
        ),
    );
    let width = coverage
        .roles
        .iter()
        .map(|r| &r.item)
        .chain(&coverage.packages)
        .chain(&coverage.guardrails)
        .chain(&coverage.sod_rules)
        .map(|i| i.id.chars().count())
        .max()
        .unwrap_or(0);
    let item = |out: &mut String, i: &ItemCoverage, extra: &str| {
        let _ = writeln!(
            out,
            "  {} {:<width$}  {}{extra}",
            mark(i.exercised),
            one_line(&i.id),
            location(&i.source)
        );
    };
    out.push_str("\nroles (held by a test's identity; condition outcomes seen):\n");
    for r in &coverage.roles {
        let seen: usize = r
            .conditions
            .iter()
            .map(|c| usize::from(c.seen_true) + usize::from(c.seen_false))
            .sum();
        item(&mut out, &r.item, &format!("  conditions {seen}/{}", r.conditions.len() * 2));
        for c in &r.conditions {
            let missing = match (c.seen_true, c.seen_false) {
                (true, true) => continue,
                (false, false) => "never evaluated",
                (false, true) => "never true",
                (true, false) => "never false",
            };
            let _ = writeln!(
                out,
                "        `{}` ({}): {missing}",
                one_line(&c.condition),
                one_line(&c.source.to_string())
            );
        }
    }
    out.push_str("\npackages (held by a test's identity):\n");
    for p in &coverage.packages {
        item(&mut out, p, "");
    }
    out.push_str("\nguardrails (forbid something for a test's identity; a permit: justify something it holds):\n");
    for g in &coverage.guardrails {
        item(&mut out, g, "");
    }
    out.push_str("\nSoD rules (each side held by some test's identity):\n");
    for s in &coverage.sod_rules {
        item(&mut out, s, "");
    }
    out
}

/// The run as JSON: `summary`, `suites` with every test (failures with
/// their details), and `coverage` when it was measured — totals per kind,
/// the thresholds, and everything uncovered with its location.
pub fn json(report: &RunReport, thresholds: Thresholds) -> Value {
    let suites: Vec<Value> = report
        .suites
        .iter()
        .map(|s| {
            let tests: Vec<Value> = s
                .tests
                .iter()
                .map(|t| {
                    let mut v = json!({
                        "name": t.name, "file": t.location.file, "line": t.location.line,
                        "identity": t.identity, "as_of": t.as_of.to_string(),
                        "status": if t.passed() { "passed" } else { "failed" },
                    });
                    if !t.passed() {
                        v["failures"] = t
                            .failures
                            .iter()
                            .map(|f| {
                                json!({
                                    "expectation": f.expectation, "file": f.location.file, "line": f.location.line,
                                    "message": f.message,
                                    "details": f.details.iter().map(|d| json!({"id": d.id, "status": d.status, "explanation": d.explanation})).collect::<Vec<_>>(),
                                })
                            })
                            .collect();
                    }
                    v
                })
                .collect();
            json!({"name": s.name, "file": s.file, "as_of": s.as_of.to_string(), "tests": tests})
        })
        .collect();
    let mut out = json!({
        "summary": {"suites": report.suites.len(), "tests": report.tests().count(), "passed": report.passed(), "failed": report.failed()},
        "suites": suites,
    });
    if let Some(c) = &report.coverage {
        out["coverage"] = coverage_json(c, thresholds);
    }
    out
}

fn totals_json(t: Totals) -> Value {
    json!({"covered": t.covered, "total": t.total, "percent": rounded(t)})
}

fn coverage_json(c: &Coverage, thresholds: Thresholds) -> Value {
    let mut uncovered = Vec::new();
    let mut items = |kind: &str, list: &mut dyn Iterator<Item = &ItemCoverage>| {
        for i in list.filter(|i| !i.exercised) {
            uncovered.push(json!({"kind": kind, "id": i.id, "file": i.source.file, "line": i.source.line}));
        }
    };
    items("role", &mut c.roles.iter().map(|r| &r.item));
    items("package", &mut c.packages.iter());
    items("guardrail", &mut c.guardrails.iter());
    items("sod_rule", &mut c.sod_rules.iter());
    for r in &c.roles {
        for e in &r.conditions {
            let missing: Vec<&str> = [(!e.seen_true).then_some("true"), (!e.seen_false).then_some("false")]
                .into_iter()
                .flatten()
                .collect();
            if missing.is_empty() {
                continue;
            }
            uncovered.push(json!({
                "kind": "condition", "role": r.item.id, "condition": e.condition,
                "file": e.source.file, "line": e.source.line, "column": e.source.column, "never": missing,
            }));
        }
    }
    let shortfalls = thresholds.shortfalls(c);
    json!({
        "total": totals_json(c.totals()),
        "roles": totals_json(c.roles_totals()),
        "packages": totals_json(c.packages_totals()),
        "guardrails": totals_json(c.guardrails_totals()),
        "sod_rules": totals_json(c.sod_totals()),
        "conditions": totals_json(c.conditions_totals()),
        "min_coverage": thresholds.total,
        "min_condition_coverage": thresholds.conditions,
        "met": shortfalls.is_empty(),
        "uncovered": uncovered,
    })
}
