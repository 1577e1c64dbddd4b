//! The readers' promises as a user meets them at the command line: bad
//! input exits 2 with the file, the line and one sentence, and nothing is
//! half-read.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn entitle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_entitle"))
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
