//! `entitle prove` (and `check --deep`) through the binary: the bundled
//! example proves; a copy of it with a role that lets a terminated owner's
//! agent keep access fails, and `entitle eval` (the engine and the oracle)
//! confirms the counterexample; a missing solver is one sentence and exit 2.
//!
//! These tests need the cvc5 solver (`CVC5` or `cvc5` on `PATH`): without it
//! they fail, they never skip.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::copy_dir;
use serde_json::Value;

fn entitle(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_entitle"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("entitle runs")
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_example_proves_every_invariant_and_sod_rule() {
    let out = entitle(root(), &["prove", "--format", "json"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", text(&out.stderr));
    let report: Value = serde_json::from_str(&stdout).expect("json");
    let results: Vec<(String, String, String)> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["kind"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String)> = [
        ("contractors-never-privileged", "invariant"),
        ("leavers-hold-nothing", "invariant"),
        ("orphaned-nhis-hold-nothing", "invariant"),
        ("deploy-approve-change", "sod"),
        ("vendor-payment", "sod"),
    ]
    .iter()
    .map(|(id, kind)| (id.to_string(), kind.to_string(), "proved".to_string()))
    .collect();
    assert_eq!(results, expected);
    // Spec §7: a proved result is exactly `{"id", "kind", "status"}`.
    assert_eq!(
        report["results"][0],
        serde_json::json!({"id": "contractors-never-privileged", "kind": "invariant", "status": "proved"})
    );
    assert_eq!(
        report["warnings"],
        serde_json::json!([]),
        "the example has no dead, shadowed or idle definitions"
    );
}

#[test]
fn the_human_report_has_one_line_per_result() {
    let out = entitle(root(), &["prove", "--no-definitions"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    assert!(lines[1].starts_with("proved  invariant leavers-hold-nothing"), "{stdout}");
    assert!(lines[1].ends_with("roles/invariants.yaml:7"), "{stdout}");
    assert!(text(&out.stderr).contains("5 proved, 0 failed, 0 unknown"), "{}", text(&out.stderr));
}

/// The example with a role that checks an agent owner's department but not
/// their status, and without the guardrail that would have caught it.
fn broken_example(dir: &Path) {
    copy_dir(&root().join("roles"), &dir.join("roles"));
    copy_dir(&root().join("policies"), &dir.join("policies"));
    let nhi = dir.join("roles/roles-nhi.yaml");
    let mut roles = std::fs::read_to_string(&nhi).unwrap();
    roles.push_str(
        "\n  # Broken: the owner's department is checked, not whether the owner still works here.\n  - id: release-agent\n    kinds: [agent]\n    when: { status: active, purpose: release, owner.department: Engineering }\n    grants: [jenkins:build]\n",
    );
    std::fs::write(&nhi, roles).unwrap();
    let guardrails = dir.join("policies/guardrails.cedar");
    let text = std::fs::read_to_string(&guardrails).unwrap();
    let start = text
        .find("// A service account or agent holds nothing")
        .expect("the orphaned-NHI guardrail");
    let end = text.find("// Privileged access is for people at work").expect("the next guardrail");
    std::fs::write(&guardrails, format!("{}{}", &text[..start], &text[end..])).unwrap();
}

#[test]
fn a_terminated_owners_agent_keeping_access_fails_and_eval_confirms_it() {
    let dir = tempfile::tempdir().unwrap();
    broken_example(dir.path());
    let out = entitle(dir.path(), &["prove", "--format", "json", "--no-definitions"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{}", text(&out.stderr));
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let failed: Vec<&Value> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] != "proved")
        .collect();
    assert_eq!(failed.len(), 1, "{stdout}");
    let result = failed[0];
    assert_eq!(result["id"], "orphaned-nhis-hold-nothing");
    assert_eq!(result["status"], "failed");
    let cx = &result["counterexample"];
    assert_eq!(cx["entitlements"], serde_json::json!(["jenkins:build"]));
    let identities = cx["identities"].as_array().unwrap();
    assert_eq!(identities.len(), 2, "the agent, then its owner: {cx}");
    let (agent, owner) = (&identities[0], &identities[1]);
    assert_eq!(agent["kind"], "agent");
    assert_eq!(agent["owner"], owner["id"]);
    assert_ne!(owner["attributes"]["status"], "active", "the owner is no longer active: {owner}");
    assert_eq!(
        cx["because"]["jenkins:build"][0]["role"], "release-agent",
        "the counterexample names the role that leads there: {cx}"
    );

    // `entitle eval` reproduces it, with the engine and with the oracle.
    let feed = dir.path().join("counterexample.jsonl");
    let records: String = identities.iter().map(|i| format!("{i}\n")).collect();
    std::fs::write(&feed, records).unwrap();
    let as_of = cx["as_of"].as_str().unwrap();
    for engine in ["fast", "oracle"] {
        let out = entitle(
            dir.path(),
            &[
                "eval",
                "--identity",
                "counterexample.jsonl",
                "--as-of",
                as_of,
                "--format",
                "json",
                "--engine",
                engine,
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let first: Value = serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
        assert_eq!(first["identity"], agent["id"]);
        assert_eq!(first["valid"], true);
        let held: Vec<&str> = first["entitlements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap())
            .collect();
        assert!(held.contains(&"jenkins:build"), "{engine}: {first}");
    }

    // SARIF puts the failure at the invariant's line.
    let out = entitle(dir.path(), &["prove", "--format", "sarif", "--no-definitions"]);
    assert_eq!(out.status.code(), Some(1));
    let sarif: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{sarif}");
    assert_eq!(results[0]["ruleId"], "E023");
    assert_eq!(results[0]["level"], "error");
    let location = &results[0]["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "roles/invariants.yaml");
    assert_eq!(location["region"]["startLine"], 15);
}

#[test]
fn a_missing_solver_is_one_sentence_and_exit_2() {
    for args in [&["prove"][..], &["check", "--deep"][..]] {
        let out = Command::new(env!("CARGO_BIN_EXE_entitle"))
            .current_dir(root())
            .env("CVC5", "/nonexistent/cvc5")
            .arg("-q")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = text(&out.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{stderr}");
        assert!(
            lines[0].starts_with("error: cvc5, the solver `entitle prove` needs, cannot be started"),
            "{stderr}"
        );
        assert!(lines[0].contains("apt-get install cvc5"), "{stderr}");
        assert!(!lines[0].ends_with('.'), "{stderr}");
    }
}

#[test]
fn check_deep_reports_dead_roles_at_their_line() {
    let case = root().join("tests/cases/prove/dead-role");
    let out = entitle(&case, &["check", "--deep", "--no-policies", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    let dead: Vec<(String, u64)> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "W010")
        .map(|d| (d["message"].as_str().unwrap().to_string(), d["line"].as_u64().unwrap()))
        .collect();
    assert_eq!(dead.len(), 2, "{report}");
    assert!(dead[0].0.starts_with("role `prod-person` can never be held"));
    assert_eq!(dead[0].1, 6);
    // Without `--deep`, no solver runs and no such warning appears.
    let out = entitle(&case, &["check", "--no-policies", "--format", "json"]);
    assert!(!text(&out.stdout).contains("W010"));
}

#[test]
fn a_bad_time_limit_is_a_usage_error() {
    let out = entitle(root(), &["prove", "--timeout", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("`soon` is not a time limit"), "{}", text(&out.stderr));
}

#[test]
fn the_same_inputs_give_byte_identical_output_whatever_the_parallelism() {
    let dir = tempfile::tempdir().unwrap();
    broken_example(dir.path());
    let runs: Vec<Vec<u8>> = ["1", "2", "3"]
        .iter()
        .map(|jobs| entitle(dir.path(), &["prove", "--format", "json", "--jobs", jobs]).stdout)
        .collect();
    assert!(text(&runs[0]).contains("\"failed\""), "{}", text(&runs[0]));
    assert_eq!(runs[0], runs[1]);
    assert_eq!(runs[0], runs[2]);
}
