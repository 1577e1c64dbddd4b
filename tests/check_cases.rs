//! Data-driven `entitle check` cases: every `tests/cases/check/*.yaml` is one
//! small set of definitions and the exact diagnostics loading it must give.
//! Adding a case is adding a file.
//!
//! # Case format
//!
//! ```yaml
//! description: a role references an unknown package   # one line: what the case shows
//! files:                   # file name -> content, loaded in name order (like a directory);
//!   roles.yaml: |          # names ending `.cedar` are guardrails, every other name a roles file
//!     identity: ...
//!     roles: ...
//!   policies/g.cedar: |
//!     @id("g") forbid (principal, action, resource);
//! expect:                  # exactly these diagnostics, in this order (entitle sorts them by
//!                          # file, line, column, code); `expect: []` means the case is clean
//!   - code: E005           # required: the stable code
//!     message: "unknown package `eng-bse`"   # required: compared exactly
//!     help: "did you mean `eng-base`?"       # optional: compared exactly when given
//!     file: roles.yaml     # optional: defaults to the case's only roles file
//!     line: 9              # optional
//!     column: 13           # optional
//! pending: "why"           # optional: a known bug in entitle; the case must FAIL until it is
//!                          # fixed, and then the harness asks for this key to be removed
//! ```
//!
//! Errors and warnings are both compared: a case with errors sees every
//! diagnostic of the failed load, a case that compiles sees its warnings.
//!
//! The harness runs every case and fails once, listing every failing case with
//! its expected and actual diagnostics (rendered as `entitle check` shows them,
//! and as `expect` lines ready to paste after checking them). It also fails when
//! a diagnostic code has no case: every code of [`Code::ALL`] is covered here,
//! except `E020` (`io`), which needs a missing directory and is tested below,
//! the codes only the solver finds ([`Code::FROM_SOLVER`]), which
//! `tests/prove_cases.rs` covers, and the codes only test suites give
//! ([`Code::is_suite_only`]), which `tests/test_cases.rs` covers, and `W014`
//! (an exception naming an identity the feed does not hold), which needs an
//! identity feed and is covered by `tests/cases/governance/exception-unknown-identity/`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use entitle::diag::Code;
use entitle::model::SourceFile;
use entitle::project::{Project, Sources};
use entitle::Diagnostic;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    description: String,
    files: BTreeMap<String, String>,
    expect: Vec<Expected>,
    #[serde(default)]
    pending: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    code: String,
    message: String,
    #[serde(default)]
    help: Option<String>,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    line: Option<u32>,
    #[serde(default)]
    column: Option<u32>,
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/check")
}

fn case_files() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", cases_dir().display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    paths
}

fn sources_of(case: &Case) -> Sources {
    let mut sources = Sources::default();
    for (name, text) in &case.files {
        let file = SourceFile {
            name: name.clone(),
            text: text.clone(),
        };
        if name.ends_with(".cedar") {
            sources.policies.push(file);
        } else {
            sources.roles.push(file);
        }
    }
    sources
}

/// Every diagnostic of loading the sources: the errors of a failed load, or
/// the warnings of a successful one.
fn diagnostics_of(sources: &Sources) -> Vec<Diagnostic> {
    match Project::from_sources(sources) {
        Ok(project) => project.warnings,
        Err(failure) => failure.diagnostics,
    }
}

/// A diagnostic as an `expect` entry, for pasting into a case once checked.
fn as_expect_line(d: &Diagnostic) -> String {
    let mut line = format!(
        "  - {{ code: {}, file: {}, line: {}, column: {}, message: {}",
        d.code,
        yaml_str(&d.location.file),
        d.location.line,
        d.location.column,
        yaml_str(&d.message)
    );
    if let Some(help) = &d.help {
        let _ = write!(line, ", help: {}", yaml_str(help));
    }
    line.push_str(" }");
    line
}

fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// Why `actual` does not satisfy `expected`, if it does not.
fn mismatch(expected: &Expected, default_file: Option<&str>, actual: &Diagnostic) -> Option<String> {
    let mut why = Vec::new();
    if actual.code.as_str() != expected.code {
        why.push(format!("code {} != expected {}", actual.code, expected.code));
    }
    match expected.file.as_deref().or(default_file) {
        Some(file) if file != actual.location.file => why.push(format!("file `{}` != expected `{file}`", actual.location.file)),
        Some(_) => {}
        None => why.push("the case has several roles files: say which `file:` this diagnostic is in".into()),
    }
    if let Some(line) = expected.line.filter(|l| *l != actual.location.line) {
        why.push(format!("line {} != expected {line}", actual.location.line));
    }
    if let Some(column) = expected.column.filter(|c| *c != actual.location.column) {
        why.push(format!("column {} != expected {column}", actual.location.column));
    }
    if actual.message != expected.message {
        why.push(format!("message {:?} != expected {:?}", actual.message, expected.message));
    }
    if let Some(help) = expected.help.as_deref().filter(|h| actual.help.as_deref() != Some(*h)) {
        why.push(format!("help {:?} != expected {help:?}", actual.help));
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// Runs one case: `Err` describes how it failed.
fn run_case(path: &Path, covered: &mut BTreeSet<String>) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let case: Case = serde_yaml::from_str(&text).map_err(|e| format!("not a valid case file: {e}"))?;
    let sources = sources_of(&case);
    let default_file = match sources.roles.as_slice() {
        [only] => Some(only.name.as_str()),
        _ => None,
    };
    let actual = diagnostics_of(&sources);

    let mut problems = Vec::new();
    for e in &case.expect {
        if !Code::ALL.iter().any(|c| c.as_str() == e.code) {
            problems.push(format!("`{}` is not a diagnostic code", e.code));
        }
    }
    if actual.len() != case.expect.len() {
        problems.push(format!("{} diagnostics, expected {}", actual.len(), case.expect.len()));
    }
    for (i, (e, a)) in case.expect.iter().zip(&actual).enumerate() {
        if let Some(why) = mismatch(e, default_file, a) {
            problems.push(format!("diagnostic {}: {why}", i + 1));
        }
    }

    match (&case.pending, problems.is_empty()) {
        (None, true) => {
            covered.extend(case.expect.iter().map(|e| e.code.clone()));
            Ok(())
        }
        (Some(_), false) => Ok(()),
        (Some(reason), true) => Err(format!("passes although marked `pending: {reason}`; remove `pending`")),
        (None, false) => {
            let mut report = format!("{}\n  problems:\n", case.description);
            for p in &problems {
                let _ = writeln!(report, "    - {p}");
            }
            report.push_str("  actual diagnostics:\n");
            for d in &actual {
                for line in d.render(sources.text_of(&d.location.file)).lines() {
                    let _ = writeln!(report, "    {line}");
                }
            }
            report.push_str("  as expect lines:\n");
            for d in &actual {
                let _ = writeln!(report, "  {}", as_expect_line(d));
            }
            Err(report)
        }
    }
}

#[test]
fn check_cases() {
    let paths = case_files();
    assert!(!paths.is_empty(), "no cases under {}", cases_dir().display());
    let mut covered = BTreeSet::new();
    let mut failures = Vec::new();
    for path in &paths {
        if let Err(report) = run_case(path, &mut covered) {
            let name = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(path);
            failures.push(format!("{}: {report}", name.display()));
        }
    }
    let uncovered: Vec<&str> = Code::ALL
        .iter()
        .filter(|c| {
            **c != Code::Io
                && **c != Code::ExceptionUnknownIdentity
                && !Code::FROM_SOLVER.contains(c)
                && !c.is_suite_only()
                && !covered.contains(c.as_str())
        })
        .map(|c| c.as_str())
        .collect();
    if !uncovered.is_empty() {
        failures.push(format!("no passing case expects these codes: {}", uncovered.join(", ")));
    }
    assert!(
        failures.is_empty(),
        "{} of {} check cases failed:\n\n{}",
        failures.len(),
        paths.len(),
        failures.join("\n\n")
    );
}

/// The repository's own policies directory, which exists.
fn example_policies() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
}

/// The `E020` diagnostics of loading `roles` and `policies`, rendered.
fn io_errors(roles: &Path, policies: Option<&Path>) -> Vec<(String, String, Option<String>)> {
    let (_, result) = Project::load(roles, policies);
    let failure = result.expect_err("the load must fail");
    let codes: Vec<&str> = failure.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert!(
        codes.iter().all(|c| *c == "E020"),
        "only I/O errors, not what they cause: {codes:?}"
    );
    failure
        .diagnostics
        .into_iter()
        .map(|d| (d.location.file, d.message, d.help))
        .collect()
}

/// `E020` needs the file system: a roles directory that does not exist.
#[test]
fn missing_roles_directory_is_an_io_error() {
    assert_eq!(
        io_errors(Path::new("/nonexistent/roles"), Some(&example_policies())),
        [(
            "/nonexistent/roles".to_string(),
            "directory `/nonexistent/roles` does not exist".to_string(),
            Some("pass the definitions directory with `--roles DIR`".to_string())
        )]
    );
}

/// A policies directory that does not exist would drop every guardrail: an error, unless `--no-policies`.
#[test]
fn missing_policies_directory_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let alone = dir.path().join("roles");
    std::fs::create_dir(&alone).unwrap();
    std::fs::write(alone.join("org.yaml"), "identity:\n  attributes: {}\n").unwrap();
    let missing = dir.path().join("policies");
    assert_eq!(
        io_errors(&alone, Some(&missing)),
        [(
            missing.display().to_string(),
            format!("policies directory `{}` does not exist", missing.display()),
            Some("without it no guardrail applies: create it, pass `--policies DIR`, or `--no-policies` to load the roles without guardrails".to_string())
        )]
    );
    // Run from a subdirectory with `--roles ../roles`, the guardrails sit beside the roles: say so.
    let roles = Path::new(env!("CARGO_MANIFEST_DIR")).join("roles");
    let beside = io_errors(&roles, Some(Path::new("policies-typo")));
    assert_eq!(
        beside[0].2.as_deref(),
        Some(
            format!(
                "did you mean `--policies {}`? it sits beside the roles directory",
                example_policies().display()
            )
            .as_str()
        )
    );
    // Said explicitly, the roles load without guardrails.
    let (_, result) = Project::load(&roles, None);
    let project = result.expect("--no-policies loads the roles alone");
    assert!(project
        .compiled
        .info
        .values()
        .all(|i| !matches!(i.origin, entitle::compile::PolicyOrigin::Guardrail)));
}

/// A roles directory without a single definitions file is an error, not an empty organisation.
#[test]
fn empty_roles_directory_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a definition").unwrap();
    assert_eq!(
        io_errors(dir.path(), Some(&example_policies())),
        [(
            dir.path().display().to_string(),
            format!("no definitions (`*.yaml`, `*.yml`) under `{}`", dir.path().display()),
            Some("point `--roles DIR` at the directory holding the role definitions".to_string())
        )]
    );
}
