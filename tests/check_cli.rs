//! `entitle check` and `entitle compile` through the binary, on the bundled
//! example and on a copy of it with four planted faults.

use crate::common::copy_dir;
use std::path::Path;
use std::process::Command;

fn entitle(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_entitle"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("entitle runs")
}

fn replace_once(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{} lacks {from:?}", file.display());
    std::fs::write(file, text.replacen(from, to, 1)).unwrap();
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_example_checks_clean() {
    let out = entitle(root(), &["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 errors, 0 warnings"));
}

#[test]
fn four_faults_give_four_located_diagnostics() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root().join("roles"), &dir.path().join("roles"));
    copy_dir(&root().join("policies"), &dir.path().join("policies"));
    let roles = dir.path().join("roles");
    // (a) a role referencing an unknown package
    replace_once(&roles.join("roles-engineering.yaml"), "grants: [eng-base", "grants: [eng-bse");
    // (b) a package cycle: dev-tooling nests eng-base, which nests dev-tooling
    replace_once(
        &roles.join("packages.yaml"),
        "jenkins:viewer, aws:dev-readonly]\n",
        "jenkins:viewer, aws:dev-readonly]\n    packages: [eng-base]\n",
    );
    // (c) a misspelt attribute in a `when`
    replace_once(
        &roles.join("roles-engineering.yaml"),
        "department: Engineering }",
        "departmnt: Engineering }",
    );
    // (d) an unknown YAML key
    replace_once(
        &roles.join("roles-finance.yaml"),
        "    description: Everyone in Finance\n",
        "    description: Everyone in Finance\n    descripton: typo\n",
    );

    let out = entitle(dir.path(), &["check", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let found: Vec<(String, String, u64)> = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_string(),
                d["file"].as_str().unwrap().to_string(),
                d["line"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("E013", "roles/packages.yaml", 26),
        ("E007", "roles/roles-engineering.yaml", 12),
        ("E005", "roles/roles-engineering.yaml", 13),
        ("E002", "roles/roles-finance.yaml", 11),
    ];
    let expected: Vec<(String, String, u64)> = expected.iter().map(|(c, f, l)| (c.to_string(), f.to_string(), *l)).collect();
    assert_eq!(found, expected, "{json:#}");
}

#[test]
fn sarif_output_is_sarif_2_1_0() {
    let out = entitle(root(), &["check", "--format", "sarif"]);
    assert_eq!(out.status.code(), Some(0));
    let log: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(log["runs"][0]["tool"]["driver"]["name"], "entitle");
    assert!(log["runs"][0]["results"].as_array().unwrap().is_empty());
}

#[test]
fn compile_is_byte_identical_and_check_detects_staleness() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    for dir in [&a, &b] {
        let out = entitle(root(), &["compile", "--out", dir.path().to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    }
    for name in ["schema.cedarschema", "policies.cedar", "entities.json"] {
        let x = std::fs::read(a.path().join(name)).unwrap();
        let y = std::fs::read(b.path().join(name)).unwrap();
        assert_eq!(x, y, "{name} differs between two runs");
    }
    let out = entitle(root(), &["compile", "--out", a.path().to_str().unwrap(), "--check"]);
    assert_eq!(out.status.code(), Some(0));
    std::fs::write(a.path().join("policies.cedar"), "// edited by hand\n").unwrap();
    let out = entitle(root(), &["compile", "--out", a.path().to_str().unwrap(), "--check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("policies.cedar"));
}

#[test]
fn a_missing_roles_directory_is_bad_usage() {
    let dir = tempfile::tempdir().unwrap();
    let out = entitle(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
}

/// Run from a subdirectory with `--roles ../roles`, the default `policies` is
/// missing: without the guardrails a contractor would hold `aws:prod-admin`,
/// so the load fails (exit 2) unless `--no-policies` says so on purpose.
#[test]
fn a_missing_policies_directory_fails_unless_no_policies_is_given() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root().join("roles"), &dir.path().join("roles"));
    let sub = dir.path().join("fixtures");
    std::fs::create_dir(&sub).unwrap();
    let identities = root().join("fixtures/identities.jsonl");
    let identities = identities.to_str().unwrap();
    let explain = [
        "--roles",
        "../roles",
        "explain",
        "u-1018",
        "aws:prod-admin",
        "--identities",
        identities,
        "--as-of",
        "2026-11-21",
    ];
    let out = entitle(&sub, &explain);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("policies directory `policies` does not exist"), "{stderr}");
    let out = entitle(&sub, &[&["--no-policies"][..], &explain].concat());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains("holds `aws:prod-admin`"),
        "without guardrails the contractor holds it: {stdout}"
    );
    let out = entitle(&sub, &[&["--no-policies", "--policies", "x"][..], &explain].concat());
    assert_eq!(out.status.code(), Some(2), "the two flags contradict each other");
}

/// Thousands of one warning would bury everything else: a person sees the
/// first ten of each code and a count; JSON lists every one.
#[test]
fn many_warnings_of_one_code_are_summarised_for_a_person() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root().join("roles"), &dir.path().join("roles"));
    copy_dir(&root().join("policies"), &dir.path().join("policies"));
    let mut yaml = String::from("packages:\n");
    for i in 0..25 {
        yaml.push_str(&format!("  - id: unused-{i:02}\n    entitlements: [slack:member]\n"));
    }
    std::fs::write(dir.path().join("roles/unused.yaml"), yaml).unwrap();
    let out = entitle(dir.path(), &["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stderr.matches("warning[W003]: no role grants package `unused-").count(),
        10,
        "{stderr}"
    );
    assert!(
        stderr.contains("warning[W003]: … and 15 more `unreferenced` diagnostics"),
        "{stderr}"
    );
    assert!(stderr.contains("0 errors, 25 warnings"), "{stderr}");
    let out = entitle(dir.path(), &["check", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["diagnostics"].as_array().unwrap().len(), 25);
}
