//! Every integration test, in one test binary: each `tests/NAME.rs` is a
//! module here (run one with `cargo test --test all NAME::`). One binary
//! links once; thirty did link thirty times, most of `cargo test`'s time on
//! a fresh machine (see README, "Two commands").
//!
//! `autotests = false` in Cargo.toml: a new `tests/NAME.rs` runs only once
//! it is listed below, and [`every_test_file_is_listed`] fails until it is.

mod common;

mod check_cases;
mod check_cli;
mod ci_recipe;
mod cli_cases;
mod engine_property;
mod eval_scenarios;
mod example_org;
mod feed_cases;
mod feed_cli;
mod feed_properties;
mod fuzz_regressions;
mod gen;
mod governance_cases;
mod hostile_definitions;
mod injection;
mod library_api;
mod no_panic;
mod peers;
mod plan;
mod plan_cli;
mod project_cli;
mod prove_cases;
mod prove_cli;
mod prove_soundness;
mod scim_cli;
mod security_doc;
mod serve_cli;
mod suite_properties;
mod terminal_output;
mod test_cases;
mod test_cli;
mod test_reports;
mod whatif_cases;
mod whatif_cli;
mod whatif_property;

/// A test file that is not a module of this binary would never run.
#[test]
fn every_test_file_is_listed() {
    let tests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let this = std::fs::read_to_string(tests.join("all.rs")).expect("tests/all.rs reads");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&tests).expect("tests/ lists") {
        let name = entry.expect("an entry").file_name().to_string_lossy().into_owned();
        let Some(module) = name.strip_suffix(".rs") else { continue };
        if module != "all" && !this.contains(&format!("\nmod {module};\n")) {
            missing.push(format!("tests/{name} (add `mod {module};` to tests/all.rs)"));
        }
    }
    assert!(missing.is_empty(), "test files that never run: {}", missing.join(", "));
}
