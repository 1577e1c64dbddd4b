//! Data-driven governance scenarios: every `tests/cases/governance/<case>/`
//! is a small policy repository, its inputs, one command line and exactly
//! what it must print. Adding a case is adding a folder.
//!
//! # Case format
//!
//! ```text
//! tests/cases/governance/<case>/
//!   roles/, policies/       the policy repository (the command runs in the case folder,
//!                           so the defaults `--roles roles --policies policies` find them)
//!   *.jsonl, *.csv, ...     the inputs the command names, relative to the case folder
//!   cmd                     `# one line saying what the case shows`, then the arguments after
//!                           `entitle` on one line, split on whitespace (no shell quoting)
//!   expected.out            exactly what the command prints on stdout
//!   expected.err            optional: exactly what it prints on stderr (absent: nothing)
//!                           (in both, the case folder's absolute path is written `$CASE`)
//!   expected.exit           optional: its exit code (absent: 0)
//! ```
//!
//! For a `plan`, `who` or `review` case the harness also runs the command with `--engine
//! oracle` (plain Cedar, the semantics) and requires the same stdout, and
//! runs it twice to require byte-identical output. It runs every case and
//! fails once, listing each failure with the actual output; `ENTITLE_BLESS=1`
//! writes the expected files from the actual run instead (review them with
//! `git diff`).

use crate::common::copy_dir;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/governance")
}

/// What one run printed.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    stdout: String,
    stderr: String,
    exit: i32,
}

fn run(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_entitle"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run entitle: {e}"));
    // The case folder's absolute path (in the `loaded` header of JSON output) is the host's, not the case's.
    let here = dir.to_string_lossy().into_owned();
    let portable = |bytes: &[u8]| String::from_utf8_lossy(bytes).replace(&here, "$CASE");
    Run {
        stdout: portable(&out.stdout),
        stderr: portable(&out.stderr),
        exit: out.status.code().unwrap_or(-1),
    }
}

/// The case's description and arguments, from `cmd`.
fn command(dir: &Path) -> Result<(String, Vec<String>), String> {
    let text = std::fs::read_to_string(dir.join("cmd")).map_err(|e| format!("cannot read `cmd`: {e}"))?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let description = lines
        .next()
        .and_then(|l| l.strip_prefix('#'))
        .ok_or("`cmd` must start with `# what the case shows`")?
        .trim()
        .to_string();
    let args: Vec<String> = lines
        .next()
        .ok_or("`cmd` has no command line")?
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if lines.next().is_some() {
        return Err("`cmd` holds more than one command line".into());
    }
    Ok((description, args))
}

fn read_or(dir: &Path, name: &str, default: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|_| default.to_string())
}

fn check_case(dir: &Path, bless: bool) -> Result<(), String> {
    let (_, args) = command(dir)?;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let actual = run(dir, &args);
    if bless {
        std::fs::write(dir.join("expected.out"), &actual.stdout).map_err(|e| e.to_string())?;
        let err = dir.join("expected.err");
        if actual.stderr.is_empty() {
            let _ = std::fs::remove_file(&err);
        } else {
            std::fs::write(err, &actual.stderr).map_err(|e| e.to_string())?;
        }
        let exit = dir.join("expected.exit");
        if actual.exit == 0 {
            let _ = std::fs::remove_file(&exit);
        } else {
            std::fs::write(exit, format!("{}\n", actual.exit)).map_err(|e| e.to_string())?;
        }
    }
    let expected = Run {
        stdout: read_or(dir, "expected.out", ""),
        stderr: read_or(dir, "expected.err", ""),
        exit: read_or(dir, "expected.exit", "0")
            .trim()
            .parse()
            .map_err(|e| format!("`expected.exit` is not a number: {e}"))?,
    };
    let mut problems = String::new();
    if actual != expected {
        let _ = writeln!(
            problems,
            "printed (exit {}):\n--- stdout\n{}--- stderr\n{}---\nexpected (exit {}):\n--- stdout\n{}--- stderr\n{}---",
            actual.exit, actual.stdout, actual.stderr, expected.exit, expected.stdout, expected.stderr
        );
    }
    if run(dir, &args) != actual {
        let _ = writeln!(problems, "a second run printed something else");
    }
    if matches!(args.first(), Some(&"plan" | &"who" | &"review")) {
        let mut oracle = args.clone();
        oracle.extend(["--engine", "oracle"]);
        let slow = run(dir, &oracle);
        if slow.stdout != actual.stdout || slow.exit != actual.exit {
            let _ = writeln!(problems, "the oracle (`--engine oracle`) printed:\n{}", slow.stdout);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

#[test]
fn governance_cases() {
    let bless = std::env::var_os("ENTITLE_BLESS").is_some();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", cases_dir().display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no case under {}", cases_dir().display());
    let mut failures = String::new();
    for dir in &dirs {
        if let Err(problem) = check_case(dir, bless) {
            let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let _ = writeln!(failures, "\n=== {name}\n{problem}");
        }
    }
    assert!(
        failures.is_empty(),
        "{} governance case(s) fail:{failures}",
        failures.matches("\n=== ").count()
    );
}

/// The README's review, verify and who examples are what the binary prints on the bundled
/// example: each `<!-- NAME-example -->` block's commands are run (in a scratch directory
/// holding the example's fixtures, `> FILE` written there) and each stretch of the shown
/// output between `...` lines must appear, in order, in what the last command printed.
#[test]
fn readme_governance_examples_are_what_the_binary_prints() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let scratch = tempfile::tempdir().expect("a scratch directory");
    std::fs::create_dir(scratch.path().join("fixtures")).expect("fixtures/");
    for file in ["identities.jsonl", "live.jsonl", "live-2026-11-24.jsonl"] {
        std::fs::copy(root.join("fixtures").join(file), scratch.path().join("fixtures").join(file)).expect("copy a fixture");
    }
    for dir in ["roles", "policies"] {
        copy_dir(&root.join(dir), &scratch.path().join(dir));
    }
    for name in ["review", "verify", "who"] {
        let marker = format!("<!-- {name}-example -->\n```text\n");
        let start = readme.find(&marker).unwrap_or_else(|| panic!("README has no {marker:?}")) + marker.len();
        let block = &readme[start..start + readme[start..].find("```").expect("the block ends")];
        let mut printed = String::new();
        let mut shown = Vec::new();
        for line in block.lines() {
            let Some(command) = line.strip_prefix("$ entitle ") else {
                shown.push(line);
                continue;
            };
            let (command, target) = match command.split_once(" > ") {
                Some((c, file)) => (c, Some(file.trim())),
                None => (command, None),
            };
            let out = Command::new(env!("CARGO_BIN_EXE_entitle"))
                .args(command.split_whitespace())
                .current_dir(scratch.path())
                .env("NO_COLOR", "1")
                .output()
                .expect("run entitle");
            match target {
                Some(file) => std::fs::write(scratch.path().join(file), &out.stdout).expect("write the redirect"),
                None => printed = String::from_utf8_lossy(&out.stdout).into_owned(),
            }
        }
        let mut from = 0;
        for stretch in shown.join("\n").split("\n...") {
            let stretch = stretch.trim_matches('\n');
            match printed[from..].find(stretch) {
                Some(at) => from += at + stretch.len(),
                None => panic!("README's {name} example shows\n{stretch}\nwhich `entitle` does not print (after what came before); it prints:\n{printed}"),
            }
        }
    }
}

/// docs/review.md names the example's birthright roles: exactly the roles whose condition tests
/// only kind, enum attributes and dates against `now` (`london-office` reads a string,
/// `people-manager` a set, `us-benefits` has an `any:`).
#[test]
fn the_examples_birthright_roles_are_those_the_docs_name() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_entitle"))
        .args([
            "review",
            "--identities",
            "fixtures/identities.jsonl",
            "--live",
            "fixtures/live.jsonl",
        ])
        .args(["--as-of", "2026-11-21", "--format", "json"])
        .current_dir(root)
        .output()
        .expect("run entitle");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let campaign: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        campaign["birthright_roles"],
        serde_json::json!(["contractor", "employee", "intern", "pre-hire-onboarding"])
    );
    let docs = std::fs::read_to_string(root.join("docs/review.md")).expect("docs/review.md");
    assert!(docs.contains("`employee`,\n`contractor`, `intern` and `pre-hire-onboarding` are birthright"));
}
