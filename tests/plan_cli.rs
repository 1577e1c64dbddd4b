//! `entitle plan` as a user runs it: output formats, exit codes, the safety
//! guards' messages, and the hand-checked scenario's exact JSON.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const AS_OF: &str = "2026-11-21";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `entitle` in `dir` with `args`.
fn entitle_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_entitle"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run entitle: {e}"))
}

/// `entitle plan` on the bundled example with `extra` arguments (which may override `--identities`/`--live`).
fn plan(extra: &[&str]) -> Output {
    let mut args = vec!["plan", "--as-of", AS_OF];
    if !extra.contains(&"--identities") {
        args.extend(["--identities", "fixtures/identities.jsonl"]);
    }
    if !extra.contains(&"--live") {
        args.extend(["--live", "fixtures/live.jsonl"]);
    }
    args.extend(extra);
    entitle_in(root(), &args)
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or_else(|| panic!("killed by a signal: {out:?}"))
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8")
}

fn expect_code(out: &Output, expected: i32) {
    assert_eq!(code(out), expected, "stdout:\n{}\nstderr:\n{}", stdout(out), stderr(out));
}

fn json(out: &Output) -> Value {
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", stdout(out)))
}

fn temp_file(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

#[test]
fn json_output_exits_0_and_parses() {
    let out = plan(&["--format", "json"]);
    expect_code(&out, 0);
    let plan = json(&out);
    assert_eq!(plan["as_of"], "2026-11-21T00:00:00Z");
    assert_eq!(plan["summary"]["identities"], 83);
    assert!(plan["changes"].as_array().is_some_and(|c| !c.is_empty()));
    assert!(plan.get("refused").is_none() && plan.get("forced").is_none(), "{plan}");
    for key in ["policy_sha256", "identities_sha256", "live_sha256"] {
        assert!(plan["inputs"][key].as_str().is_some_and(|h| h.len() == 64), "{key}");
    }
    for key in [
        "sod_violations",
        "expired_assignments",
        "orphaned_accounts",
        "unmanaged",
        "invalid_identities",
    ] {
        assert!(plan[key].is_array(), "{key}");
    }
}

#[test]
fn detailed_exitcode_is_3_with_changes_and_0_when_live_equals_desired() {
    let out = plan(&["--format", "json", "--detailed-exitcode"]);
    expect_code(&out, 3);

    // A live state equal to the desired one, built from `entitle eval`.
    let eval = entitle_in(
        root(),
        &[
            "eval",
            "--identity",
            "fixtures/identities.jsonl",
            "--as-of",
            AS_OF,
            "--format",
            "json",
        ],
    );
    expect_code(&eval, 0);
    let mut live = String::new();
    let mut pairs = 0;
    for line in stdout(&eval).lines().filter(|l| !l.trim().is_empty()) {
        let record: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("eval line is not JSON ({e}): {line}"));
        assert_eq!(record["valid"], true, "{line}");
        let identity = record["identity"].as_str().expect("identity");
        for e in record["entitlements"].as_array().expect("entitlements") {
            live.push_str(&serde_json::json!({"identity": identity, "entitlement": e}).to_string());
            live.push('\n');
            pairs += 1;
        }
    }
    assert!(pairs > 0);
    let dir = tempfile::tempdir().unwrap();
    let live = temp_file(&dir, "live.jsonl", live.as_bytes());

    let out = plan(&["--live", arg(&live), "--format", "json", "--detailed-exitcode"]);
    expect_code(&out, 0);
    let plan = json(&out);
    assert_eq!(plan["changes"], serde_json::json!([]));
    assert_eq!(plan["summary"]["entitlement_accuracy"], 1.0);
    assert_eq!(plan["summary"]["unchanged"], pairs);
    // Without --detailed-exitcode a plan with changes still exits 0.
    expect_code(&self::plan(&[]), 0);
}

#[test]
fn an_empty_identity_feed_is_refused_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let empty = temp_file(&dir, "identities.jsonl", b"");
    let out = plan(&["-q", "--identities", arg(&empty), "--format", "json"]);
    expect_code(&out, 1);
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one sentence on stderr:\n{err}");
    assert!(lines[0].contains("refused"), "{err}");
    assert!(lines[0].contains("--max-revokes") && lines[0].contains("--max-orphaned"), "{err}");
    let plan = json(&out);
    assert_eq!(plan["changes"], serde_json::json!([]));
    assert!(plan["refused"].is_string());
    // --detailed-exitcode does not turn a refusal into "no changes".
    expect_code(&self::plan(&["--identities", arg(&empty), "--detailed-exitcode"]), 1);
}

#[test]
fn force_exits_0_warns_and_lists_the_overridden_guards() {
    let dir = tempfile::tempdir().unwrap();
    let empty = temp_file(&dir, "identities.jsonl", b"");
    let out = plan(&["--identities", arg(&empty), "--format", "json", "--force"]);
    expect_code(&out, 0);
    let err = stderr(&out);
    assert!(err.lines().any(|l| l.starts_with("warning:")), "{err}");
    let plan = json(&out);
    let forced = plan["forced"].as_array().expect("`forced` in the JSON");
    assert_eq!(forced.len(), 2, "{forced:?}");
    assert!(plan.get("refused").is_none());
    let changes = plan["changes"].as_array().unwrap();
    assert_eq!(changes.len(), plan["summary"]["live"].as_u64().unwrap() as usize);
    assert!(changes.iter().all(|c| c["reason"] == "orphaned-account"));
}

#[test]
fn scim_patch_output_is_json_lines_of_patch_ops() {
    let out = plan(&["--format", "scim-patch"]);
    expect_code(&out, 0);
    let text = stdout(&out);
    let mut groups = Vec::new();
    for line in text.lines() {
        let patch: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert_eq!(
            patch["patch"]["schemas"],
            serde_json::json!(["urn:ietf:params:scim:api:messages:2.0:PatchOp"])
        );
        assert!(patch["patch"]["Operations"].as_array().is_some_and(|o| !o.is_empty()), "{line}");
        groups.push(patch["group"].as_str().expect("group").to_string());
    }
    // One patch per entitlement that changes, in order.
    let plan = json(&self::plan(&["--format", "json"]));
    let mut changed: Vec<String> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["entitlement"].as_str().unwrap().to_string())
        .collect();
    changed.sort();
    changed.dedup();
    assert_eq!(groups, changed);
}

#[test]
fn an_unreadable_identities_file_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-feed.jsonl");
    let out = plan(&["--identities", arg(&missing)]);
    expect_code(&out, 2);
    assert!(stderr(&out).contains(arg(&missing)), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());

    let not_utf8 = temp_file(
        &dir,
        "latin1.jsonl",
        b"{\"id\": \"u-1\", \"kind\": \"person\", \"attributes\": {\"status\": \"caf\xe9\"}}\n",
    );
    let out = plan(&["--identities", arg(&not_utf8)]);
    expect_code(&out, 2);
    assert!(stderr(&out).contains(&format!("{}:1", arg(&not_utf8))), "{}", stderr(&out));
}

#[test]
fn max_revokes_takes_a_percentage() {
    // The example revokes 74 of 983 live grants (7.5%).
    let out = plan(&["--format", "json", "--max-revokes", "10%"]);
    expect_code(&out, 0);
    assert!(json(&out).get("refused").is_none());
    let out = plan(&["--format", "json", "--max-revokes", "5%"]);
    expect_code(&out, 1);
    assert!(stderr(&out).contains("--max-revokes 5%"), "{}", stderr(&out));
    let out = plan(&["--max-revokes", "ten percent"]);
    expect_code(&out, 2);
}

#[test]
fn the_hand_checked_scenario_prints_the_expected_plan() {
    let dir = root().join("tests/scenarios/plan-hand-checked");
    let args = [
        "plan",
        "--identities",
        "identities.jsonl",
        "--live",
        "live.jsonl",
        "--as-of",
        "2026-11-21T00:00:00Z",
        "--format",
        "json",
    ];
    let out = entitle_in(&dir, &[&args[..], &["--max-invalid", "1", "--max-revokes", "500"]].concat());
    expect_code(&out, 0);
    let expected = std::fs::read_to_string(dir.join("expected-plan.json")).unwrap();
    // Everything but the policy hash (not pinned: see the scenario README) byte for byte.
    let hash_of = |v: &Value| v["inputs"]["policy_sha256"].as_str().expect("policy_sha256").to_string();
    let actual = stdout(&out);
    let expected = expected.replace(&hash_of(&serde_json::from_str(&expected).unwrap()), &hash_of(&json(&out)));
    // The command adds the guard limits it used, last (the library's plan, which the file holds, has no such field).
    let guards = &json(&out)["guards"];
    assert_eq!(
        guards,
        &serde_json::json!({"max_revokes": "500", "max_invalid": "1", "max_orphaned": "10%", "max_privileged_grants": "100 or 10%", "force": false})
    );
    let (plan_part, _) = actual.split_once(",\n  \"guards\": ").expect("`guards` comes last");
    let actual = format!("{plan_part}\n}}\n");
    assert!(actual == expected, "entitle plan differs from expected-plan.json:\n{actual}");

    // Under the default guards its one invalid record of 18 refuses the plan.
    let out = entitle_in(&dir, &args);
    expect_code(&out, 1);
    assert!(stderr(&out).contains("--max-invalid 1%"), "{}", stderr(&out));
}
