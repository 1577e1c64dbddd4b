//! Human output never lets input text act on the terminal: a value with a
//! newline cannot forge a line of the plan, and escape sequences or bidi
//! overrides show as visible `\u{..}` escapes (security.md: injection into
//! terminals).

use std::path::Path;
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn entitle(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_entitle"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("entitle runs")
}

/// Every byte a terminal would act on, other than the newlines between lines.
fn assert_terminal_safe(what: &str, text: &str) {
    for (n, line) in text.lines().enumerate() {
        let bad: Vec<char> = line.chars().filter(|c| entitle::term::is_unsafe(*c) && *c != '\t').collect();
        assert!(bad.is_empty(), "{what}, line {}: {bad:?} in {line:?}", n + 1);
    }
}

/// The hostile value: a newline that would start a forged plan line, an escape
/// sequence that clears the screen, and a right-to-left override.
const HOSTILE: &str = "Eng\n  + grant    aws:prod-admin\u{1b}[2J\u{202e}";

fn hostile_feed(dir: &Path) -> std::path::PathBuf {
    let record = |id: &str, status: &str, department: &str| {
        serde_json::json!({"id": id, "kind": "person",
            "attributes": {"status": status, "worker_type": "employee", "department": department}})
        .to_string()
    };
    // Control characters inside attribute text make a record invalid (docs/decisions.md,
    // "Reading inputs"): both records are invalid, and their error messages quote the value.
    let text = [record("u-7001", "active", HOSTILE), record("u-7002", HOSTILE, "Engineering")].join("\n");
    let path = dir.join("hr.jsonl");
    std::fs::write(&path, text + "\n").unwrap();
    path
}

#[test]
fn plan_eval_and_explain_show_hostile_values_as_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let feed = hostile_feed(dir.path());
    let feed = feed.to_str().unwrap();
    let live = dir.path().join("live.jsonl");
    std::fs::write(&live, "{\"identity\": \"u-7001\", \"entitlement\": \"slack:member\"}\n").unwrap();
    let live = live.to_str().unwrap();
    let runs: [(&str, Vec<&str>); 3] = [
        (
            "plan",
            vec!["plan", "--identities", feed, "--live", live, "--as-of", "2026-11-21", "--force"],
        ),
        ("eval", vec!["eval", "--identity", feed, "--as-of", "2026-11-21", "--explain"]),
        (
            "explain",
            vec![
                "explain",
                "u-7001",
                "github:org-member",
                "--identities",
                feed,
                "--as-of",
                "2026-11-21",
            ],
        ),
    ];
    for (what, args) in &runs {
        let out = entitle(root(), args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_terminal_safe(what, &stdout);
        assert_terminal_safe(what, &stderr);
        assert!(
            !stdout.lines().any(|l| l.trim_start().starts_with("+ grant    aws:prod-admin")),
            "{what}: a forged line:\n{stdout}"
        );
    }
    // The invalid records are listed with the hostile value visible on one line.
    let out = entitle(root(), &runs[0].1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "attribute `status` contains the invisible or control character U+000A: `Eng\\u{a}  + grant    aws:prod-admin\\u{1b}[2J\\u{202e}`"
        ),
        "{stdout}"
    );
}

#[test]
fn diagnostics_show_hostile_yaml_as_escapes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("roles")).unwrap();
    std::fs::create_dir(dir.path().join("policies")).unwrap();
    std::fs::write(
        dir.path().join("roles/org.yaml"),
        "identity:\n  attributes:\n    status: { type: enum, values: [active, terminated], required: true }\n\
         applications:\n  - id: app\n    entitlements: [{ id: read }]\n\
         roles:\n  - id: r\n    when: { status: \"act\\e[31m\\nive\" }\n    grants: [app:read]\n",
    )
    .unwrap();
    let out = entitle(dir.path(), &["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_terminal_safe("check", &stderr);
    assert!(stderr.contains("`act\\u{1b}[31m\\u{a}ive`"), "{stderr}");
}
