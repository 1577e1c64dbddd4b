//! Data-driven `entitle test` cases: every folder under `tests/cases/test/`
//! is one case — test suites and exactly what running them must give.
//! Adding a case is adding a folder (folders starting with `_` are not cases).
//!
//! # Case folder
//!
//! ```text
//! tests/cases/test/t001-unknown-identity/
//!   case.yaml        what the case shows and expects (below)
//!   suite.yaml       the suites: every other `*.yaml` of the folder, in name order
//!   people.jsonl     anything the suites name (identity files), relative to them
//!   roles/, policies/  optional definitions; without them, `_definitions/` is used
//! ```
//!
//! ```yaml
//! description: a test names an identity the suite does not have   # one line
//! coverage: true          # optional: measure coverage and compare `expect.coverage`
//! expect:
//!   # when the suites do not load: exactly these diagnostics, in order
//!   # (`file` is relative to the case folder; `line`, `column`, `help` optional)
//!   diagnostics:
//!     - { code: T001, file: suite.yaml, line: 7, column: 15, message: "...", help: "..." }
//!   # when they load: every test's outcome in order, every failure, and coverage
//!   results: ["ok: a joiner gets the baseline", "FAIL: a leaver holds nothing"]
//!   failures:
//!     - test: a leaver holds nothing
//!       expectation: exactly
//!       message: "..."
//!       details: ["unexpected `okta:sso`: `u-2` holds `okta:sso`:\n  - role ..."]
//!   coverage:               # with `coverage: true`: every item and condition entry
//!     - "role employee: yes"
//!     - "condition employee `status: active`: true false"
//! ```
//!
//! The harness runs every case and fails once, listing each failing case with
//! its actual outcome as an `expect:` block ready to paste (after checking
//! it). It also fails when a diagnostic a suite can give has no passing case,
//! when an expectation kind has no passing case where it holds and one where
//! it fails, and when condition coverage has no passing case with an entry
//! seen only true, one seen only false, and one seen both ways.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use entitle::diag::Code;
use entitle::eval::Engine;
use entitle::model::read_file;
use entitle::project::Project;
use entitle::testing::coverage::Coverage;
use entitle::testing::run::RunReport;
use entitle::testing::suite::EXPECTATION_KEYS;
use entitle::testing::{load_suites, run_suites};
use entitle::Diagnostic;
use serde::{Deserialize, Serialize};

/// The codes that are not suite-only but that a suite gives, each needing a case.
const SHARED_CODES: &[&str] = &["E001", "E002", "E003", "E004", "E015", "E017", "E019", "E020"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    description: String,
    #[serde(default)]
    coverage: bool,
    expect: Expected,
}

#[derive(Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Expected {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    diagnostics: Option<Vec<ExpectedDiagnostic>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    results: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failures: Option<Vec<ExpectedFailure>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    coverage: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct ExpectedDiagnostic {
    code: String,
    message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    help: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    column: Option<u32>,
}

#[derive(Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct ExpectedFailure {
    test: String,
    expectation: String,
    message: String,
    #[serde(default)]
    details: Vec<String>,
}

fn cases_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/test")
}

fn case_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases_root())
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", cases_root().display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.is_dir() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('_')))
        .collect();
    dirs.sort();
    dirs
}

/// The path relative to the crate root, as the suites are named (cargo runs
/// integration tests from the crate root).
fn relative(path: &Path) -> PathBuf {
    path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(path).to_path_buf()
}

/// A file name as the case writes it: relative to the case folder, or to the
/// folder of all cases (`../_definitions/...`).
fn shown(dir: &Path, file: &str) -> String {
    let case = format!("{}/", relative(dir).display());
    let root = format!("{}/", relative(&cases_root()).display());
    if let Some(rest) = file.strip_prefix(&case) {
        rest.to_string()
    } else if let Some(rest) = file.strip_prefix(&root) {
        format!("../{rest}")
    } else {
        file.to_string()
    }
}

fn load_definitions(dir: &Path) -> Arc<Project> {
    let own = dir.join("roles");
    let base = if own.is_dir() {
        dir.to_path_buf()
    } else {
        cases_root().join("_definitions")
    };
    let policies = base.join("policies");
    match Project::load(&relative(&base.join("roles")), Some(&relative(&policies))) {
        Ok(p) => Arc::new(p),
        Err(f) => panic!("the definitions of {} do not load:\n{f}", dir.display()),
    }
}

/// What running a case gave.
struct Outcome {
    actual: Expected,
    diagnostics: Vec<Diagnostic>,
    report: Option<RunReport>,
    /// (test passed, the expectation keys it has)
    tests: Vec<(bool, Vec<&'static str>)>,
}

fn run_case(dir: &Path, case: &Case) -> Outcome {
    let project = load_definitions(dir);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml") && p.file_name().is_some_and(|n| n != "case.yaml"))
        .collect();
    paths.sort();
    let mut diagnostics = Vec::new();
    let files = paths.iter().filter_map(|p| read_file(&relative(p), &mut diagnostics)).collect();
    let loaded = load_suites(&project, files);
    diagnostics.extend(loaded.diagnostics);
    if !diagnostics.is_empty() {
        let list = diagnostics
            .iter()
            .map(|d| ExpectedDiagnostic {
                code: d.code.as_str().to_string(),
                message: d.message.clone(),
                help: d.help.clone(),
                file: Some(shown(dir, &d.location.file)),
                line: Some(d.location.line),
                column: Some(d.location.column),
            })
            .collect();
        return Outcome {
            actual: Expected {
                diagnostics: Some(list),
                ..Expected::default()
            },
            diagnostics,
            report: None,
            tests: Vec::new(),
        };
    }
    let engine = Engine::new(project.clone()).expect("engine builds");
    let report = run_suites(&project, &engine, &loaded.suites, case.coverage).expect("the suites run");
    let mut results = Vec::new();
    let mut failures = Vec::new();
    let mut tests = Vec::new();
    for (suite, result) in loaded.suites.iter().zip(&report.suites) {
        for (test, r) in suite.tests.iter().zip(&result.tests) {
            results.push(format!("{}: {}", if r.passed() { "ok" } else { "FAIL" }, r.name));
            tests.push((r.passed(), test.expectations.iter().map(|e| e.kind.key()).collect()));
            for f in &r.failures {
                failures.push(ExpectedFailure {
                    test: r.name.clone(),
                    expectation: f.expectation.to_string(),
                    message: f.message.clone(),
                    details: f
                        .details
                        .iter()
                        .map(|d| format!("{} `{}`: {}", d.status, d.id, d.explanation.trim_end()))
                        .collect(),
                });
            }
        }
    }
    Outcome {
        actual: Expected {
            diagnostics: None,
            results: Some(results),
            failures: Some(failures),
            coverage: report.coverage.as_ref().map(coverage_lines),
        },
        diagnostics,
        report: Some(report),
        tests,
    }
}

fn coverage_lines(c: &Coverage) -> Vec<String> {
    let yes = |b: bool| if b { "yes" } else { "no" };
    let mut out = Vec::new();
    for r in &c.roles {
        out.push(format!("role {}: {}", r.item.id, yes(r.item.exercised)));
        for e in &r.conditions {
            let seen = match (e.seen_true, e.seen_false) {
                (true, true) => "true false",
                (true, false) => "true",
                (false, true) => "false",
                (false, false) => "never",
            };
            out.push(format!("condition {} `{}`: {seen}", r.item.id, e.condition));
        }
    }
    out.extend(c.packages.iter().map(|p| format!("package {}: {}", p.id, yes(p.exercised))));
    out.extend(c.guardrails.iter().map(|g| format!("guardrail {}: {}", g.id, yes(g.exercised))));
    out.extend(c.sod_rules.iter().map(|s| format!("sod {}: {}", s.id, yes(s.exercised))));
    out
}

/// Why `actual` does not match what the case expects.
fn mismatches(expected: &Expected, actual: &Expected, coverage: bool) -> Vec<String> {
    let mut why = Vec::new();
    match (&expected.diagnostics, &actual.diagnostics) {
        (Some(e), Some(a)) => {
            if e.len() != a.len() {
                why.push(format!("{} diagnostics, expected {}", a.len(), e.len()));
            }
            for (i, (e, a)) in e.iter().zip(a).enumerate() {
                let mut diff = Vec::new();
                if e.code != a.code {
                    diff.push(format!("code {} != expected {}", a.code, e.code));
                }
                if e.message != a.message {
                    diff.push(format!("message {:?} != expected {:?}", a.message, e.message));
                }
                if e.help.is_some() && e.help != a.help {
                    diff.push(format!("help {:?} != expected {:?}", a.help, e.help));
                }
                if e.file.is_some() && e.file != a.file {
                    diff.push(format!("file {:?} != expected {:?}", a.file, e.file));
                }
                if e.line.is_some() && e.line != a.line {
                    diff.push(format!("line {:?} != expected {:?}", a.line, e.line));
                }
                if e.column.is_some() && e.column != a.column {
                    diff.push(format!("column {:?} != expected {:?}", a.column, e.column));
                }
                if !diff.is_empty() {
                    why.push(format!("diagnostic {}: {}", i + 1, diff.join("; ")));
                }
            }
        }
        (None, Some(_)) => why.push("the suites do not load".into()),
        (Some(_), None) => why.push("the suites load, and diagnostics were expected".into()),
        (None, None) => {
            if expected.results.is_none() {
                why.push("`expect` has no `results`".into());
            }
            if expected.results != actual.results {
                why.push("results differ".into());
            }
            if expected.failures.as_deref().unwrap_or_default() != actual.failures.as_deref().unwrap_or_default() {
                why.push("failures differ".into());
            }
            if coverage && expected.coverage != actual.coverage {
                why.push("coverage differs".into());
            }
            if !coverage && expected.coverage.is_some() {
                why.push("`expect.coverage` needs `coverage: true`".into());
            }
        }
    }
    why
}

#[test]
fn test_cases() {
    let dirs = case_dirs();
    assert!(!dirs.is_empty(), "no cases under {}", cases_root().display());
    let mut failures = Vec::new();
    let mut codes: BTreeSet<String> = BTreeSet::new();
    let mut passing_kinds: BTreeSet<&str> = BTreeSet::new();
    let mut failing_kinds: BTreeSet<&str> = BTreeSet::new();
    let mut condition_outcomes: BTreeSet<&str> = BTreeSet::new();
    for dir in &dirs {
        let name = relative(dir).display().to_string();
        let case: Case = match std::fs::read_to_string(dir.join("case.yaml"))
            .map_err(|e| e.to_string())
            .and_then(|t| serde_yaml::from_str(&t).map_err(|e| e.to_string()))
        {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{name}: case.yaml: {e}"));
                continue;
            }
        };
        let outcome = run_case(dir, &case);
        let why = mismatches(&case.expect, &outcome.actual, case.coverage);
        if !why.is_empty() {
            let mut report = format!("{name}: {}\n  problems:\n", case.description);
            for w in &why {
                let _ = writeln!(report, "    - {w}");
            }
            for d in &outcome.diagnostics {
                for line in d.render(None).lines() {
                    let _ = writeln!(report, "    {line}");
                }
            }
            report.push_str("  actual, as an expect block:\nexpect:\n");
            let yaml = serde_yaml::to_string(&outcome.actual).expect("serialises");
            for line in yaml.lines() {
                let _ = writeln!(report, "  {line}");
            }
            failures.push(report);
            continue;
        }
        codes.extend(outcome.diagnostics.iter().map(|d| d.code.as_str().to_string()));
        for (passed, kinds) in &outcome.tests {
            if *passed {
                passing_kinds.extend(kinds.iter().copied());
            }
        }
        if let Some(report) = &outcome.report {
            failing_kinds.extend(report.tests().flat_map(|t| t.failures.iter().map(|f| f.expectation)));
            if let Some(c) = &report.coverage {
                for e in c.roles.iter().flat_map(|r| &r.conditions) {
                    condition_outcomes.insert(match (e.seen_true, e.seen_false) {
                        (true, true) => "both",
                        (true, false) => "true only",
                        (false, true) => "false only",
                        (false, false) => "never",
                    });
                }
            }
        }
    }
    let needed: Vec<String> = Code::ALL
        .iter()
        .filter(|c| c.is_suite_only())
        .map(|c| c.as_str().to_string())
        .chain(SHARED_CODES.iter().map(|c| c.to_string()))
        .filter(|c| !codes.contains(c))
        .collect();
    if !needed.is_empty() {
        failures.push(format!("no passing case expects these codes: {}", needed.join(", ")));
    }
    for key in EXPECTATION_KEYS {
        if !passing_kinds.contains(key) {
            failures.push(format!("no passing case has a test that meets a `{key}` expectation"));
        }
        if !failing_kinds.contains(key) {
            failures.push(format!("no passing case has a test that fails a `{key}` expectation"));
        }
    }
    for outcome in ["true only", "false only", "both"] {
        if !condition_outcomes.contains(outcome) {
            failures.push(format!("no passing case shows a condition entry seen {outcome}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} problems in {} test cases:\n\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n\n")
    );
}
