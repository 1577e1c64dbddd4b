//! Data-driven command-line cases: every `tests/cases/cli/*.yaml` runs the
//! `entitle` binary once and says what must come out — exit code, the one
//! error (as JSON under `--format json`, else `error: ...` lines), and parts
//! of standard output. Adding a case is adding a file (files starting with
//! `_` are not cases).
//!
//! # Case format
//!
//! ```yaml
//! description: a live export given as the identity feed is one error   # one line
//! dir: fixtures/tests            # optional: where it runs, from the repository root (default: the root; `{tmp}` allowed)
//! files:                         # optional: written to a fresh temporary directory; `{tmp}` in args names it
//!   live.jsonl: |
//!     {"identity": "u-1", "entitlement": "okta:sso"}
//! args: [eval, --identities, "{tmp}/live.jsonl", --format, json]   # `{root}` names the repository
//! expect:
//!   exit: 2
//!   error:                       # the only error on stderr; these keys must match (a subset of the error object)
//!     code: wrong-feed-kind
//!     message: "..."
//!   stdout_json: { holds: false } # optional: standard output is JSON and holds these keys
//!   stdout_contains: ["..."]      # optional: substrings of standard output
//!   stderr_contains: ["..."]      # optional: substrings of standard error
//! ```
//!
//! Under `--format json` every line of standard error must be a JSON object
//! (the header `{"loaded": ...}`, errors `{"error": ...}`), and exactly one of
//! them an error when `error` is expected. The harness also fails when a
//! command has no case showing its errors as JSON (see `COMMANDS`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::Value;

/// Every subcommand: each needs a case whose error is JSON under `--format json`.
const COMMANDS: &[&str] = &[
    "check",
    "compile",
    "eval",
    "explain",
    "plan",
    "whatif",
    "gen",
    "prove",
    "test",
    "init",
    "completions",
    "man",
    "serve",
    "apply",
    "who",
    "verify",
    "review",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    description: String,
    #[serde(default)]
    dir: Option<String>,
    #[serde(default)]
    files: BTreeMap<String, String>,
    args: Vec<String>,
    expect: Expect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    exit: i32,
    #[serde(default)]
    error: Option<serde_yaml::Value>,
    #[serde(default)]
    stdout_json: Option<serde_yaml::Value>,
    #[serde(default)]
    stdout_contains: Vec<String>,
    #[serde(default)]
    stderr_contains: Vec<String>,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn case_files() -> Vec<PathBuf> {
    let dir = root().join("tests/cases/cli");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter(|p| !p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('_')))
        .collect();
    paths.sort();
    paths
}

/// Does `actual` hold everything `expected` says (objects by key, arrays element by element, the rest exactly)?
fn contains(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => e.iter().all(|(k, v)| a.get(k).is_some_and(|av| contains(av, v))),
        (Value::Array(a), Value::Array(e)) => a.len() == e.len() && a.iter().zip(e).all(|(av, ev)| contains(av, ev)),
        _ => actual == expected,
    }
}

/// The errors on standard error: JSON objects under `--format json` (every line must be one), else `error:` lines.
fn errors_of(stderr: &str, json: bool) -> Result<Vec<Value>, String> {
    if json {
        let mut errors = Vec::new();
        for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
            let value: Value = serde_json::from_str(line).map_err(|e| format!("a stderr line is not JSON ({e}): {line}"))?;
            if let Some(error) = value.get("error") {
                errors.push(error.clone());
            } else if value.get("loaded").is_none() {
                return Err(format!("a stderr line is neither an error nor the header: {line}"));
            }
        }
        Ok(errors)
    } else {
        Ok(stderr
            .lines()
            .filter_map(|l| l.strip_prefix("error: "))
            .map(|m| serde_json::json!({ "message": m }))
            .collect())
    }
}

/// Runs one case; `Err` says what differs.
fn run(case: &Case) -> Result<(), String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    for (name, text) in &case.files {
        let path = tmp.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap_or(tmp.path())).map_err(|e| e.to_string())?;
        std::fs::write(&path, text).map_err(|e| e.to_string())?;
    }
    let tmp_text = tmp.path().to_str().ok_or("temporary path is not UTF-8")?;
    let root_text = root().to_str().ok_or("repository path is not UTF-8")?;
    let args: Vec<String> = case
        .args
        .iter()
        .map(|a| a.replace("{tmp}", tmp_text).replace("{root}", root_text))
        .collect();
    let dir = match &case.dir {
        Some(d) => PathBuf::from(d.replace("{tmp}", tmp_text)),
        None => PathBuf::from("."),
    };
    let out = Command::new(env!("CARGO_BIN_EXE_entitle"))
        .args(&args)
        .current_dir(root().join(dir))
        .env_remove("NO_COLOR")
        .output()
        .map_err(|e| format!("cannot run entitle: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let shown = || format!("exit {:?}\n--- stdout\n{stdout}--- stderr\n{stderr}", out.status.code());
    let mut why = Vec::new();
    if out.status.code() != Some(case.expect.exit) {
        why.push(format!("exit {:?}, expected {}", out.status.code(), case.expect.exit));
    }
    let json = args.windows(2).any(|w| w[0] == "--format" && w[1] == "json");
    match errors_of(&stderr, json) {
        Err(e) => why.push(e),
        Ok(errors) => match &case.expect.error {
            Some(expected) => {
                let expected: Value = serde_json::to_value(expected).map_err(|e| e.to_string())?;
                match errors.as_slice() {
                    [one] if contains(one, &expected) => {}
                    [one] => why.push(format!("the error {one} does not hold {expected}")),
                    many => why.push(format!("{} errors on stderr, expected exactly one", many.len())),
                }
            }
            None if !errors.is_empty() => why.push(format!("{} unexpected errors", errors.len())),
            None => {}
        },
    }
    if let Some(expected) = &case.expect.stdout_json {
        let expected: Value = serde_json::to_value(expected).map_err(|e| e.to_string())?;
        match serde_json::from_str::<Value>(&stdout) {
            Ok(actual) if contains(&actual, &expected) => {}
            Ok(_) => why.push(format!("stdout does not hold {expected}")),
            Err(e) => why.push(format!("stdout is not JSON: {e}")),
        }
    }
    for s in &case.expect.stdout_contains {
        if !stdout.contains(s.as_str()) {
            why.push(format!("stdout lacks {s:?}"));
        }
    }
    for s in &case.expect.stderr_contains {
        if !stderr.contains(s.as_str()) {
            why.push(format!("stderr lacks {s:?}"));
        }
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(format!("{}\n{}", why.join("\n"), shown()))
    }
}

#[test]
fn cli_cases() {
    let files = case_files();
    assert!(!files.is_empty(), "no case under tests/cases/cli");
    let mut failures = Vec::new();
    let mut json_errors: BTreeMap<&str, usize> = COMMANDS.iter().map(|c| (*c, 0)).collect();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("case file");
        let case: Case = match serde_yaml::from_str(&text) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{}: not a case: {e}", path.display()));
                continue;
            }
        };
        match run(&case) {
            Ok(()) => {
                let json = case.args.windows(2).any(|w| w[0] == "--format" && w[1] == "json");
                if let (true, Some(_)) = (json, &case.expect.error) {
                    if let Some(command) = case.args.iter().find_map(|a| COMMANDS.iter().find(|c| **c == a.as_str())) {
                        *json_errors.entry(command).or_default() += 1;
                    }
                }
            }
            Err(why) => failures.push(format!("{} ({}):\n{why}", path.display(), case.description)),
        }
    }
    for (command, n) in json_errors {
        if n == 0 {
            failures.push(format!(
                "`{command}` has no passing case with `--format json` and an `error` to expect"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases fail:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

/// `COMMANDS` is every command the binary lists, so a new command cannot go without its JSON-error case.
#[test]
fn every_command_of_the_binary_is_in_commands() {
    let out = Command::new(env!("CARGO_BIN_EXE_entitle"))
        .arg("--help")
        .output()
        .expect("entitle --help");
    let help = String::from_utf8_lossy(&out.stdout);
    let mut listed: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(listed.len() > 10, "`entitle --help` lists too few commands:\n{help}");
    listed.sort_unstable();
    let mut expected: Vec<&str> = COMMANDS.to_vec();
    expected.sort_unstable();
    assert_eq!(listed, expected, "COMMANDS must list exactly the commands `entitle --help` lists");
}
