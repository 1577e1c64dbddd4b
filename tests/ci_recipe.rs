//! The CI recipe of docs/ci.md: its script is `ci/policy-check.sh` byte for
//! byte, its GitHub Actions workflow and GitLab CI job parse and run that
//! script with the reports wired to the platform, and the script itself, run
//! on a scratch git repository holding the example organisation, passes a
//! clean pull request and fails one whose change breaks a test and leaves
//! the committed artefacts stale — writing every report either way.

use crate::common::copy_dir;
use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn doc() -> String {
    std::fs::read_to_string(root().join("docs/ci.md")).expect("docs/ci.md")
}

/// The fenced blocks of `markdown` in language `lang`.
fn fenced(markdown: &str, lang: &str) -> Vec<String> {
    let open = format!("```{lang}\n");
    let mut out = Vec::new();
    let mut rest = markdown;
    while let Some(start) = rest.find(&open) {
        let body = &rest[start + open.len()..];
        let end = body.find("```\n").expect("a closed block");
        out.push(body[..end].to_string());
        rest = &body[end..];
    }
    out
}

#[test]
fn the_documented_script_is_the_script() {
    let blocks = fenced(&doc(), "sh");
    let script = std::fs::read_to_string(root().join("ci/policy-check.sh")).expect("the script");
    assert_eq!(blocks.len(), 1, "docs/ci.md has one sh block: the script");
    assert_eq!(blocks[0], script, "docs/ci.md's script differs from ci/policy-check.sh");
}

#[test]
fn the_workflows_parse_and_run_the_script() {
    let blocks = fenced(&doc(), "yaml");
    assert_eq!(blocks.len(), 2, "a GitHub Actions workflow and a GitLab CI job");
    let github: serde_yaml::Value = serde_yaml::from_str(&blocks[0]).expect("the workflow is YAML");
    let steps = github["jobs"]["policy-check"]["steps"].as_sequence().expect("steps");
    let step = |needle: &str| steps.iter().find(|s| serde_yaml::to_string(s).unwrap().contains(needle));
    assert_eq!(step("actions/checkout").unwrap()["with"]["fetch-depth"], 0);
    let checks = step("ci/policy-check.sh").expect("a step runs the script");
    assert_eq!(checks["env"]["BASE_REF"], "origin/${{ github.base_ref }}");
    assert!(step("upload-sarif").unwrap()["with"]["sarif_file"] == "entitle-reports/entitle.sarif");
    assert!(step("junit").unwrap()["with"]["report_paths"] == "entitle-reports/junit.xml");
    assert!(step("sticky-pull-request-comment").unwrap()["with"]["path"] == "entitle-reports/whatif.md");
    assert!(step("exit 1").is_some(), "the job fails when a check did");
    let permissions = &github["permissions"];
    assert_eq!(permissions["security-events"], "write");

    let gitlab: serde_yaml::Value = serde_yaml::from_str(&blocks[1]).expect("the job is YAML");
    let job = &gitlab["policy-check"];
    assert_eq!(job["script"][0], "ci/policy-check.sh");
    assert_eq!(job["variables"]["GIT_DEPTH"], "0");
    assert_eq!(job["artifacts"]["reports"]["junit"], "entitle-reports/junit.xml");
    assert!(serde_yaml::to_string(&job["after_script"])
        .unwrap()
        .contains("entitle-reports/whatif.md"));
}

fn run(dir: &Path, program: &str, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(program);
    command.current_dir(dir).args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap_or_else(|e| panic!("{program} runs: {e}"))
}

fn git(dir: &Path, args: &[&str]) {
    let out = run(
        dir,
        "git",
        &[&["-c", "user.email=ci@example.com", "-c", "user.name=ci"], args].concat(),
        &[],
    );
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The script's exit code and its log (stdout and stderr).
fn policy_check(dir: &Path, base: &str) -> (Option<i32>, String) {
    let out = run(
        dir,
        "bash",
        &["ci/policy-check.sh"],
        &[
            ("ENTITLE", env!("CARGO_BIN_EXE_entitle")),
            ("OUT", "reports"),
            ("AS_OF", "2026-11-21"),
            ("BASE_REF", base),
        ],
    );
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), log)
}

#[test]
fn the_script_passes_a_clean_change_and_fails_a_breaking_one_with_every_report() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    for part in ["roles", "policies", "fixtures", "ci"] {
        copy_dir(&root().join(part), &repo.join(part));
    }
    git(repo, &["init", "-q"]);
    let compiled = run(repo, env!("CARGO_BIN_EXE_entitle"), &["compile", "--out", "compiled"], &[]);
    assert!(compiled.status.success(), "{}", String::from_utf8_lossy(&compiled.stderr));
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-qm", "the example organisation"]);

    // A pull request that changes nothing: every step passes.
    let (code, log) = policy_check(repo, "HEAD");
    assert_eq!(code, Some(0), "{log}");
    for step in [
        "== entitle check",
        "== entitle test",
        "== entitle whatif",
        "== entitle compile --check",
    ] {
        assert!(log.contains(step), "no `{step}` in:\n{log}");
    }
    let sarif: serde_json::Value = serde_json::from_slice(&std::fs::read(repo.join("reports/entitle.sarif")).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(sarif["runs"][0]["results"], serde_json::json!([]));
    let junit = std::fs::read_to_string(repo.join("reports/junit.xml")).unwrap();
    assert!(
        junit.contains(r#"<testsuites name="entitle test" tests="92" failures="0" errors="0">"#),
        "{junit}"
    );
    let comment = std::fs::read_to_string(repo.join("reports/whatif.md")).expect("the blast radius is written");
    assert!(comment.contains("### entitle whatif: 0 identities affected"), "{comment}");

    // A pull request that gives every employee read access to the dev cloud account.
    let file = repo.join("roles/roles-birthright.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let changed = text.replacen(
        "grants: [all-staff, jira:business]",
        "grants: [all-staff, jira:business, aws:dev-readonly]",
        1,
    );
    assert_ne!(text, changed);
    std::fs::write(&file, changed).unwrap();
    git(repo, &["commit", "-qam", "employees read the dev account"]);
    let (code, log) = policy_check(repo, "HEAD~1");
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("policy-check: test failed (exit 1)"), "{log}");
    assert!(log.contains("unexpected `aws:dev-readonly`"), "the failure explains itself: {log}");
    assert!(log.contains("policy-check: compile --check failed (exit 1)"), "{log}");
    assert!(
        !log.contains("policy-check: check failed"),
        "the definitions themselves are fine: {log}"
    );
    let junit = std::fs::read_to_string(repo.join("reports/junit.xml")).unwrap();
    assert!(junit.contains("<failure"), "{junit}");
    let comment = std::fs::read_to_string(repo.join("reports/whatif.md")).unwrap();
    assert!(comment.contains("aws:dev-readonly"), "the blast radius names the change: {comment}");
    // A base the clone does not have is bad usage, said so.
    let (code, log) = policy_check(repo, "origin/no-such-branch");
    assert_eq!(code, Some(2), "{log}");
    assert!(
        log.contains("the base revision `origin/no-such-branch` is not in this clone"),
        "{log}"
    );

    // A definitions error: check fails, and its SARIF has the result.
    std::fs::write(
        &file,
        std::fs::read_to_string(&file)
            .unwrap()
            .replacen("grants: [all-staff,", "grnts: [all-staff,", 1),
    )
    .unwrap();
    let (code, log) = policy_check(repo, "HEAD");
    assert_ne!(code, Some(0), "{log}");
    assert!(log.contains("policy-check: check failed (exit 1)"), "{log}");
    let sarif: serde_json::Value = serde_json::from_slice(&std::fs::read(repo.join("reports/entitle.sarif")).unwrap()).unwrap();
    assert_eq!(sarif["runs"][0]["results"][0]["ruleId"], "E002", "{sarif}");
}
