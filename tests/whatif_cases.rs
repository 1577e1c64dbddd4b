//! Data-driven `entitle whatif` cases: every `tests/cases/whatif/<case>/` is a
//! small policy repository before and after a change, a population, the
//! command's arguments and the exact JSON it must print. Adding a case is
//! adding a folder.
//!
//! # Case format
//!
//! ```text
//! tests/cases/whatif/<case>/
//!   head/roles/, head/policies/   the definitions compared to (the working tree)
//!   base/roles/, base/policies/   optional: the definitions compared from (`--base-roles`, `--base-policies`)
//!   population.jsonl              the identity feed (`--identities`)
//!   case.yaml                     `description` (one line) and `args` (the rest of the command line:
//!                                 `--as-of`, `--set`, `--events FILE`, `--to`, `--timeline`...; files
//!                                 are relative to the case folder)
//!   expected.json                 exactly what `--format json` prints
//! ```
//!
//! The harness runs `entitle --roles head/roles --policies head/policies
//! whatif --identities population.jsonl [--base-roles base/roles
//! --base-policies base/policies] ARGS --format json` in the case folder and
//! compares the output byte for byte. For every case it also checks that the
//! plain-Cedar oracle (`--engine oracle`, always a full evaluation) finds the
//! same changes, that a second run prints the same bytes, that
//! `--detailed-exitcode` exits 3 exactly when something changes, and that the
//! human and Markdown renderings succeed. It runs every case and fails once,
//! listing each failure with the actual output, ready to check and paste
//! (`ENTITLE_BLESS=1` writes missing or changed `expected.json` files instead;
//! review them with `git diff`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    description: String,
    args: Vec<String>,
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/whatif")
}

fn case_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", cases_dir().display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn whatif(dir: &Path, case: &Case, extra: &[&str]) -> Output {
    let mut args: Vec<String> = [
        "--roles",
        "head/roles",
        "--policies",
        "head/policies",
        "whatif",
        "--identities",
        "population.jsonl",
    ]
    .map(String::from)
    .to_vec();
    if dir.join("base").is_dir() {
        args.extend(["--base-roles", "base/roles", "--base-policies", "base/policies"].map(String::from));
    }
    args.extend(case.args.iter().cloned());
    args.extend(extra.iter().map(|s| s.to_string()));
    Command::new(env!("CARGO_BIN_EXE_entitle"))
        .args(&args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run entitle: {e}"))
}

/// The JSON without what differs by evaluator (the oracle has no role index: always a full evaluation).
fn without_evaluation(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("evaluation");
    }
    v
}

#[test]
fn whatif_cases() {
    let mut failures = String::new();
    let dirs = case_dirs();
    assert!(dirs.len() >= 7, "expected the whatif cases, found {}", dirs.len());
    for dir in &dirs {
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_string();
        let case: Case = serde_yaml::from_str(&std::fs::read_to_string(dir.join("case.yaml")).expect("case.yaml"))
            .unwrap_or_else(|e| panic!("{name}/case.yaml: {e}"));
        assert!(!case.description.trim().is_empty(), "{name}: a case says what it shows");
        let json = whatif(dir, &case, &["--format", "json"]);
        let stdout = String::from_utf8_lossy(&json.stdout).to_string();
        if json.status.code() != Some(0) {
            let _ = writeln!(
                failures,
                "\n{name}: exit {:?}\n{}",
                json.status.code(),
                String::from_utf8_lossy(&json.stderr)
            );
            continue;
        }
        let expected_path = dir.join("expected.json");
        match std::fs::read_to_string(&expected_path) {
            Ok(expected) if expected == stdout => {}
            other => {
                if std::env::var_os("ENTITLE_BLESS").is_some() {
                    std::fs::write(&expected_path, &stdout).expect("write expected.json");
                } else {
                    let why = if other.is_ok() {
                        "differs from expected.json"
                    } else {
                        "has no expected.json"
                    };
                    let _ = writeln!(failures, "\n{name} ({}): the output {why}; it is:\n{stdout}", case.description);
                    continue;
                }
            }
        }
        let again = whatif(dir, &case, &["--format", "json"]);
        if again.stdout != json.stdout {
            let _ = writeln!(failures, "\n{name}: a second run printed other bytes");
        }
        let value: Value = serde_json::from_str(&stdout).expect("the output is JSON");
        let oracle = whatif(dir, &case, &["--format", "json", "--engine", "oracle"]);
        let oracle: Value = serde_json::from_slice(&oracle.stdout).unwrap_or(Value::Null);
        if without_evaluation(oracle) != without_evaluation(value.clone()) {
            let _ = writeln!(failures, "\n{name}: the oracle finds other changes");
        }
        let changes =
            value["changes"].as_array().is_some_and(|c| !c.is_empty()) || value["events"].as_array().is_some_and(|e| !e.is_empty());
        let detailed = whatif(dir, &case, &["--format", "json", "--detailed-exitcode"]);
        if detailed.status.code() != Some(if changes { 3 } else { 0 }) {
            let _ = writeln!(
                failures,
                "\n{name}: --detailed-exitcode exits {:?} (changes: {changes})",
                detailed.status.code()
            );
        }
        for format in ["human", "markdown"] {
            let out = whatif(dir, &case, &["--format", format]);
            if out.status.code() != Some(0) || out.stdout.is_empty() {
                let _ = writeln!(
                    failures,
                    "\n{name}: --format {format} fails: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
    assert!(failures.is_empty(), "whatif cases failing:{failures}");
}
