//! The fuzz corpora as regression tests: every committed input under
//! `fuzz/corpus/<target>/` (minimised corpora) and `fuzz/regressions/<target>/`
//! (named findings) goes through the same checks as its fuzz target
//! (`fuzz/src/checks/`, included here by path), so CI re-runs them on every
//! commit without the fuzzer. See docs/security.md, "Fuzzing".

#[allow(dead_code)]
#[path = "../fuzz/src/checks/mod.rs"]
mod checks;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// The inputs of `target`: its minimised corpus and its named regressions.
fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut out = Vec::new();
    for dir in [root.join("corpus").join(target), root.join("regressions").join(target)] {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            out.extend(entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()));
        }
    }
    out.sort();
    out
}

/// The inputs among `inputs` that `check` fails on, each with why.
fn failures(inputs: &[PathBuf], check: fn(&[u8])) -> Vec<String> {
    let mut out = Vec::new();
    for path in inputs {
        let data = std::fs::read(path).unwrap();
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| check(&data))) {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            out.push(format!("{}: {why}", path.display()));
        }
    }
    out
}

/// Runs every input of `target` through `check`; fails naming each input that breaks an invariant.
fn run(target: &str, check: fn(&[u8])) {
    let inputs = inputs(target);
    assert!(
        !inputs.is_empty(),
        "no corpus for fuzz target `{target}` under fuzz/corpus or fuzz/regressions"
    );
    let failures = failures(&inputs, check);
    assert!(
        failures.is_empty(),
        "{} of {} inputs of `{target}` fail:\n{}",
        failures.len(),
        inputs.len(),
        failures.join("\n")
    );
}

#[test]
fn a_broken_invariant_is_reported_with_its_input() {
    let inputs = inputs("definitions");
    assert!(!inputs.is_empty());
    let failures = failures(&inputs, |_| panic!("an invariant broke"));
    assert_eq!(failures.len(), inputs.len());
    assert!(
        failures.iter().all(|f| f.contains("fuzz/") && f.ends_with(": an invariant broke")),
        "{failures:?}"
    );
}

#[test]
fn the_definitions_corpus_holds() {
    run("definitions", checks::definitions::check);
}

#[test]
fn the_conditions_corpus_holds() {
    run("conditions", checks::conditions::check);
}

#[test]
fn the_identities_corpus_holds() {
    run("identities", checks::identities::check);
}

#[test]
fn the_live_corpus_holds() {
    run("live", checks::live::check);
}
