//! The readers' promises as a user meets them at the command line: bad
//! input exits 2 with the file, the line and one sentence, and nothing is
//! half-read.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `entitle -q` (no header naming the definitions: these tests hold stderr to the error alone).
fn entitle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_entitle"))
        .arg("-q")
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run entitle: {e}"))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
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
fn an_as_of_outside_cedars_range_is_a_usage_error_naming_the_flag() {
    for bad in ["9999-12-31T23:00:00-05:00", "0000-01-01T00:30:00+01:00"] {
        for command in [
            vec!["plan", "--identities", "fixtures/identities.jsonl", "--live", "fixtures/live.jsonl"],
            vec!["eval", "--identity", "fixtures/identities.jsonl"],
        ] {
            let mut args = command.clone();
            args.extend(["--as-of", bad]);
            let out = entitle(&args);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
            assert_eq!(
                stderr(&out).trim_end(),
                format!("error: --as-of: `{bad}` is out of range: an instant must fall between 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z in UTC"),
                "{args:?}"
            );
        }
    }
}

#[test]
fn an_out_of_range_date_in_one_record_makes_that_record_invalid_not_the_run_fail() {
    let dir = tempfile::tempdir().unwrap();
    let feed = std::fs::read_to_string(root().join("fixtures/identities.jsonl")).unwrap();
    let bad = r#"{"id": "u-far", "kind": "person", "attributes": {"status": "active", "worker_type": "contractor", "end_date": "9999-12-31T23:00:00-05:00"}, "assignments": [{"role": "prod-oncall", "starts": "0000-01-01T00:30:00+01:00"}]}"#;
    let identities = temp_file(&dir, "people.jsonl", format!("{feed}{bad}\n").as_bytes());
    let out = entitle(&[
        "plan",
        "--identities",
        arg(&identities),
        "--live",
        "fixtures/live.jsonl",
        "--as-of",
        "2026-11-21",
        "--format",
        "json",
        "--max-invalid",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let invalid = &plan["invalid_identities"];
    assert_eq!(invalid.as_array().map(Vec::len), Some(1), "{invalid}");
    assert_eq!(invalid[0]["identity"], "u-far");
    assert_eq!(
        invalid[0]["error"],
        "attribute `end_date`: `9999-12-31T23:00:00-05:00` is out of range: an instant must fall between 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z in UTC"
    );
    assert_eq!(plan["summary"]["identities"], 83);
}

#[test]
fn a_live_csv_with_an_unbalanced_quote_exits_2_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let live = temp_file(
        &dir,
        "live.csv",
        b"identity,entitlement\nu-1001,okta:sso\nu-1010,\"github:org-member\nu-1011,okta:sso\n",
    );
    let out = entitle(&[
        "plan",
        "--identities",
        "fixtures/identities.jsonl",
        "--live",
        arg(&live),
        "--as-of",
        "2026-11-21",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).trim_end(),
        format!("error: {}:3: a quoted cell opened at line 3 is never closed", live.display())
    );
    assert!(out.stdout.is_empty(), "no plan is printed from half a live state");
}

#[test]
fn a_feed_that_hides_records_holds_back_orphaned_accounts_and_says_where() {
    // The last record of the example feed cut by a partial write, and a stray record glued to it.
    let dir = tempfile::tempdir().unwrap();
    let feed = std::fs::read_to_string(root().join("fixtures/identities.jsonl")).unwrap();
    let mut lines: Vec<&str> = feed.lines().collect();
    let last = lines.pop().unwrap();
    let glued = format!(
        "{}{}\n",
        &last[..40],
        r#"{"id": "u-hidden", "kind": "person", "attributes": {"status": "active"}}"#
    );
    let text = format!("{}\n{glued}", lines.join("\n"));
    let identities = temp_file(&dir, "people.jsonl", text.as_bytes());
    let live = temp_file(&dir, "live.jsonl", b"{\"identity\": \"u-hidden\", \"entitlement\": \"okta:sso\"}\n");
    let out = entitle(&[
        "plan",
        "--identities",
        arg(&identities),
        "--live",
        arg(&live),
        "--as-of",
        "2026-11-21",
        "--format",
        "json",
        "--force",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let changes = plan["changes"].as_array().unwrap();
    assert!(
        changes.iter().all(|c| c["identity"] != "u-hidden" || c["op"] != "revoke"),
        "{changes:?}"
    );
    let held: Vec<&serde_json::Value> = plan["held_back"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["identity"] == "u-hidden")
        .collect();
    assert_eq!(held.len(), 1, "{}", plan["held_back"]);
    let reason = held[0]["reason"].as_str().unwrap();
    let line = lines.len() + 1;
    assert!(
        reason.starts_with(&format!(
            "line {line} of `{}` could not be read with certainty (record is not valid JSON (",
            identities.display()
        )),
        "{reason}"
    );
    assert!(reason.ends_with("; one of those records may be this identity"), "{reason}");
    let invalid = &plan["invalid_identities"][0];
    assert_eq!(invalid["line"], line);
    assert_eq!(invalid["identity_uncertain"], true);
}
