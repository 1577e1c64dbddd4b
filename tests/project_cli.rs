//! The project as the command line finds it and reports it: `-C DIR`, the
//! root discovered upwards from a subdirectory (by `entitle.toml`, or by
//! `roles/` and `policies/`), entitle.toml's defaults, the header naming what
//! was loaded, `entitle init`'s repository passing `check` and `test`,
//! completions and the man page, colour, and `plan --out`, narrowed and
//! refused plans.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn entitle_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_entitle"))
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .output()
        .unwrap_or_else(|e| panic!("cannot run entitle: {e}"))
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8")
}

fn expect_code(out: &Output, expected: i32) {
    assert_eq!(
        out.status.code(),
        Some(expected),
        "stdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

fn json(out: &Output) -> Value {
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", stdout(out)))
}

/// A fresh repository made by `entitle init`, in a temporary directory.
fn scaffold() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path().join("policy-repo");
    let out = entitle_in(tmp.path(), &["init", "policy-repo"]);
    expect_code(&out, 0);
    (tmp, repo)
}

#[test]
fn init_makes_a_repository_that_passes_check_and_test() {
    let (_tmp, repo) = scaffold();
    for file in [
        "entitle.toml",
        "roles/identity.yaml",
        "roles/applications.yaml",
        "roles/roles.yaml",
        "policies/guardrails.cedar",
        "fixtures/identities.jsonl",
        "fixtures/tests/birthright.yaml",
        "ci/policy-check.sh",
        ".github/workflows/policy-check.yml",
    ] {
        assert!(repo.join(file).is_file(), "init did not write {file}");
    }
    let out = entitle_in(&repo, &["check", "--deny-warnings"]);
    expect_code(&out, 0);
    assert!(stderr(&out).contains("0 errors, 0 warnings"), "{}", stderr(&out));
    let out = entitle_in(&repo, &["test", "--coverage", "--min-coverage", "100"]);
    expect_code(&out, 0);
    assert!(stdout(&out).contains("3 tests in 1 suite: 3 passed, 0 failed"), "{}", stdout(&out));
    // The CI workflow runs the project's recipe, which init copies beside it.
    let workflow = std::fs::read_to_string(repo.join(".github/workflows/policy-check.yml")).unwrap();
    assert!(workflow.contains("run: ci/policy-check.sh"), "{workflow}");
    assert_eq!(
        std::fs::read_to_string(repo.join("ci/policy-check.sh")).unwrap(),
        std::fs::read_to_string(root().join("ci/policy-check.sh")).unwrap()
    );
}

#[test]
fn init_never_overwrites() {
    let (_tmp, repo) = scaffold();
    std::fs::write(repo.join("roles/roles.yaml"), "# mine\n").unwrap();
    std::fs::remove_file(repo.join("policies/guardrails.cedar")).unwrap();
    let out = entitle_in(&repo, &["init"]);
    expect_code(&out, 2);
    assert!(stderr(&out).contains("`roles/roles.yaml`"), "{}", stderr(&out));
    assert!(stderr(&out).contains("nothing was written"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(repo.join("roles/roles.yaml")).unwrap(), "# mine\n");
    assert!(
        !repo.join("policies/guardrails.cedar").exists(),
        "init wrote a file beside one it refused"
    );
}

#[test]
fn commands_find_the_root_from_a_subdirectory_by_entitle_toml() {
    let (_tmp, repo) = scaffold();
    let deep = repo.join("fixtures/tests");
    let out = entitle_in(&deep, &["check"]);
    expect_code(&out, 0);
    assert!(
        stderr(&out).starts_with(
            "loaded `roles/` and `policies/` at ../..: 1 application, 2 entitlements, 1 package, 2 roles, 1 guardrail; policy sha256 "
        ),
        "{}",
        stderr(&out)
    );
    // Paths on the command line stay relative to where the command was started ...
    let out = entitle_in(
        &deep,
        &[
            "eval",
            "--identities",
            "../identities.jsonl",
            "--as-of",
            "2026-01-01",
            "--format",
            "json",
        ],
    );
    expect_code(&out, 0);
    assert!(stdout(&out).starts_with("{\"identity\":\"u-1000\""), "{}", stdout(&out));
    // ... and messages name files from the root.
    std::fs::write(
        deep.join("bad.jsonl"),
        "{\"id\": \"u-9\", \"kind\": \"person\", \"attributes\": {\"status\": \"actve\"}}\n",
    )
    .unwrap();
    let out = entitle_in(&deep, &["-q", "eval", "--identities", "bad.jsonl", "--as-of", "2026-01-01"]);
    expect_code(&out, 1);
    assert!(
        stdout(&out).starts_with("fixtures/tests/bad.jsonl:1: `u-9` is invalid"),
        "{}",
        stdout(&out)
    );
    // The test suites are the root's, wherever the command starts.
    let out = entitle_in(&repo.join("roles"), &["test"]);
    expect_code(&out, 0);
    assert!(
        stdout(&out).contains("fixtures/tests/birthright.yaml: birthright access"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn commands_find_the_example_from_a_subdirectory_by_roles_and_policies() {
    let out = entitle_in(
        &root().join("fixtures/tests"),
        &[
            "-v",
            "explain",
            "u-1010",
            "okta:sso",
            "--identities",
            "../identities.jsonl",
            "--as-of",
            "2026-11-21",
        ],
    );
    expect_code(&out, 0);
    let err = stderr(&out);
    assert!(err.contains("(it holds `roles/` and `policies/`)"), "{err}");
    assert!(
        err.contains("loaded `roles/` and `policies/` at ../..: 14 applications, 76 entitlements"),
        "{err}"
    );
    assert!(stdout(&out).starts_with("`u-1010` holds `okta:sso`"), "{}", stdout(&out));
}

#[test]
fn minus_c_runs_as_if_started_there() {
    let (tmp, repo) = scaffold();
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let out = entitle_in(elsewhere.path(), &["-C", repo.to_str().unwrap(), "test", "--format", "json"]);
    expect_code(&out, 0);
    assert_eq!(json(&out)["summary"]["passed"], 3, "{}", stdout(&out));
    // Relative to the working directory, and before the root is looked for: a subdirectory works too.
    let out = entitle_in(
        tmp.path(),
        &[
            "-C",
            "policy-repo/roles",
            "eval",
            "--identities",
            "../fixtures/identities.jsonl",
            "--as-of",
            "2026-01-01",
            "-q",
        ],
    );
    expect_code(&out, 0);
    assert!(stdout(&out).starts_with("u-1000 (person)\n  roles: employee\n"), "{}", stdout(&out));
    // A directory that does not exist is a usage error naming it.
    let out = entitle_in(tmp.path(), &["-C", "nowhere", "check"]);
    expect_code(&out, 2);
    assert!(
        stderr(&out).starts_with("error: -C: cannot change to directory `nowhere`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn without_a_root_paths_are_the_working_directorys_as_before() {
    // No entitle.toml, no roles/ anywhere up from a fresh temporary directory.
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = entitle_in(tmp.path(), &["check"]);
    expect_code(&out, 2);
    assert!(stderr(&out).contains("directory `roles` does not exist"), "{}", stderr(&out));
    // --roles names the definitions: nothing is looked for.
    let out = entitle_in(
        &root().join("fixtures"),
        &["-v", "--roles", "../roles", "--policies", "../policies", "check"],
    );
    expect_code(&out, 0);
    assert!(stderr(&out).contains("(the working directory)"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("loaded `../roles/` and `../policies/`: 14 applications"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn entitle_toml_sets_directories_guards_and_format() {
    let (_tmp, repo) = scaffold();
    std::fs::rename(repo.join("roles"), repo.join("definitions")).unwrap();
    std::fs::write(
        repo.join("entitle.toml"),
        "roles = \"definitions\"\n[guards]\nmax_revokes = \"0\"\n[output]\nformat = \"json\"\n",
    )
    .unwrap();
    std::fs::write(
        repo.join("live.jsonl"),
        "{\"identity\": \"u-1002\", \"entitlement\": \"wiki:reader\"}\n",
    )
    .unwrap();
    let out = entitle_in(
        &repo,
        &[
            "plan",
            "--identities",
            "fixtures/identities.jsonl",
            "--live",
            "live.jsonl",
            "--as-of",
            "2026-01-01",
        ],
    );
    // One revocation over `max_revokes = "0"`: refused, in JSON (the project's format), errors too.
    expect_code(&out, 1);
    let plan = json(&out);
    assert_eq!(plan["guards"]["max_revokes"], "0");
    assert_eq!(plan["summary"]["revokes"], 1, "a refused plan counts what it would have done");
    assert_eq!(plan["summary"]["grants"], 3);
    assert_eq!(plan["changes"], Value::Array(Vec::new()));
    let last = stderr(&out).lines().last().unwrap_or_default().to_string();
    let error: Value = serde_json::from_str(&last).unwrap_or_else(|e| panic!("{e}: {last}"));
    assert_eq!(error["error"]["code"], "plan-refused");
    // A flag wins over the project file.
    let out = entitle_in(
        &repo,
        &[
            "-q",
            "plan",
            "--identities",
            "fixtures/identities.jsonl",
            "--live",
            "live.jsonl",
            "--as-of",
            "2026-01-01",
            "--max-revokes",
            "5",
            "--format",
            "human",
        ],
    );
    expect_code(&out, 0);
    assert!(stdout(&out).starts_with("plan as of 2026-01-01T00:00:00Z\n"), "{}", stdout(&out));
}

#[test]
fn a_bad_entitle_toml_is_a_located_error() {
    let (_tmp, repo) = scaffold();
    std::fs::write(repo.join("entitle.toml"), "roles = \"roles\"\n\n[output]\nformats = \"json\"\n").unwrap();
    let out = entitle_in(&repo.join("roles"), &["check"]);
    expect_code(&out, 2);
    let err = stderr(&out);
    assert!(err.starts_with("error: ../entitle.toml:4: unknown field `formats`"), "{err}");
    std::fs::write(repo.join("entitle.toml"), "[guards]\nmax_invalid = \"lots\"\n").unwrap();
    let out = entitle_in(&repo, &["check"]);
    expect_code(&out, 2);
    assert!(
        stderr(&out).starts_with("error: entitle.toml: `guards.max_invalid`: `lots` is not a count"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn quiet_drops_the_header_and_the_header_is_json_under_format_json() {
    let out = entitle_in(root(), &["-q", "check"]);
    expect_code(&out, 0);
    assert!(!stderr(&out).contains("loaded"), "{}", stderr(&out));
    let out = entitle_in(
        root(),
        &[
            "eval",
            "--identities",
            "fixtures/identities.jsonl",
            "--as-of",
            "2026-11-21",
            "--format",
            "json",
        ],
    );
    expect_code(&out, 0);
    let header: Value = serde_json::from_str(stderr(&out).lines().next().unwrap_or_default()).expect("header is JSON");
    let loaded = &header["loaded"];
    assert_eq!(
        (loaded["roles"].as_str(), loaded["policies"].as_str()),
        (Some("roles"), Some("policies"))
    );
    assert_eq!(
        (loaded["applications"].as_u64(), loaded["guardrails"].as_u64()),
        (Some(14), Some(5))
    );
    assert_eq!(loaded["policy_sha256"].as_str().map(str::len), Some(64));
}

#[test]
fn completions_and_the_man_page_are_generated() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef entitle"),
        ("fish", "complete -c entitle"),
        ("elvish", "edit:completion"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = entitle_in(root(), &["completions", shell]);
        expect_code(&out, 0);
        let script = stdout(&out);
        assert!(script.contains(marker), "{shell}: no `{marker}`");
        for command in ["explain", "whatif", "init", "completions"] {
            assert!(script.contains(command), "{shell}: `{command}` is not completed");
        }
    }
    let out = entitle_in(root(), &["man"]);
    expect_code(&out, 0);
    let page = stdout(&out);
    assert!(page.starts_with(".ie \\n(.g .ds Aq") || page.contains(".TH entitle"), "{page}");
    assert!(page.contains(".TH entitle 1"), "not a section 1 page");
    assert!(page.contains("init") && page.contains("\\-C"), "the man page lacks init or -C");
}

#[test]
fn colour_follows_color_and_no_color() {
    let args = [
        "plan",
        "--identities",
        "fixtures/identities.jsonl",
        "--live",
        "fixtures/live.jsonl",
        "--as-of",
        "2026-11-21",
        "-q",
    ];
    let coloured = |extra: &[&str], no_color: bool| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_entitle"));
        command.args(args).args(extra).current_dir(root());
        if no_color {
            command.env("NO_COLOR", "1");
        } else {
            command.env_remove("NO_COLOR");
        }
        let out = command.output().expect("runs");
        expect_code(&out, 0);
        stdout(&out).contains('\u{1b}')
    };
    assert!(coloured(&["--color", "always"], false));
    assert!(coloured(&["--color", "always"], true), "--color always wins over NO_COLOR");
    assert!(!coloured(&["--color", "never"], false));
    // Not a terminal: auto never colours.
    assert!(!coloured(&[], false));
}

#[test]
fn plan_out_writes_the_json_plan_and_narrowing_keeps_the_guards_whole() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("plan.json");
    let base = [
        "-q",
        "plan",
        "--identities",
        "fixtures/identities.jsonl",
        "--live",
        "fixtures/live.jsonl",
        "--as-of",
        "2026-11-21",
    ];
    let out = entitle_in(root(), &[&base[..], &["--out", file.to_str().unwrap()]].concat());
    expect_code(&out, 0);
    assert!(stdout(&out).starts_with("plan as of"), "human output on stdout beside --out");
    let written = std::fs::read_to_string(&file).unwrap();
    let json_out = entitle_in(root(), &[&base[..], &["--format", "json"]].concat());
    assert_eq!(written, stdout(&json_out), "--out writes exactly what --format json prints");
    let whole: Value = serde_json::from_str(&written).unwrap();
    for key in ["as_of", "inputs", "summary", "changes", "guards"] {
        assert!(whole.get(key).is_some(), "the plan file lacks `{key}`");
    }
    assert_eq!(whole["inputs"]["policy_sha256"].as_str().map(str::len), Some(64));

    // One identity: only its changes, counted; the population's figures stay whole.
    let out = entitle_in(root(), &[&base[..], &["--format", "json", "--identity", "u-1065"]].concat());
    expect_code(&out, 0);
    let narrowed = json(&out);
    let changes = narrowed["changes"].as_array().unwrap();
    assert!(!changes.is_empty());
    assert!(changes.iter().all(|c| c["identity"] == "u-1065"));
    assert_eq!(narrowed["summary"]["revokes"].as_u64(), Some(changes.len() as u64));
    assert_eq!(narrowed["summary"]["identities"], whole["summary"]["identities"]);
    assert_eq!(narrowed["narrowed"]["identities"], serde_json::json!(["u-1065"]));

    // One application.
    let out = entitle_in(root(), &[&base[..], &["--format", "json", "--app", "aws"]].concat());
    expect_code(&out, 0);
    let aws = json(&out);
    let changes = aws["changes"].as_array().unwrap();
    assert!(!changes.is_empty());
    assert!(changes.iter().all(|c| c["entitlement"].as_str().unwrap().starts_with("aws:")));

    // Narrowed or not, a plan the whole population's guards refuse is refused.
    let out = entitle_in(
        root(),
        &[&base[..], &["--format", "json", "--identity", "u-1065", "--max-revokes", "1"]].concat(),
    );
    expect_code(&out, 1);
    assert!(json(&out)["refused"].is_string());
}

#[test]
fn help_text_names_only_documents_that_ship() {
    let commands = [
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
    ];
    let mut helps = vec![stdout(&entitle_in(root(), &["--help"]))];
    helps.extend(commands.iter().map(|c| stdout(&entitle_in(root(), &[c, "--help"]))));
    helps.push(stdout(&entitle_in(root(), &["man"])));
    let mut named = 0;
    for help in &helps {
        assert!(
            !help.contains("spec §"),
            "help text points at the contract, which does not ship:\n{help}"
        );
        for word in help.split(|c: char| c.is_whitespace() || "()`,;\"".contains(c)) {
            let word = word.trim_end_matches(['.', ':']);
            if let Some(doc) = word.strip_suffix(".md").filter(|d| !d.is_empty() && !d.contains('*')) {
                named += 1;
                assert!(
                    root().join(format!("{doc}.md")).is_file(),
                    "help names `{word}`, which does not ship"
                );
            }
        }
    }
    assert!(named > 0, "no document named in any help text: the check would pass vacuously");
}

#[test]
fn init_looks_for_no_root_above_it() {
    // A broken project file above stops every command but `init`, which starts a new root.
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("entitle.toml"), "nonsense = [\n").unwrap();
    let out = entitle_in(tmp.path(), &["-q", "check"]);
    expect_code(&out, 2);
    assert!(stderr(&out).starts_with("error: entitle.toml:"), "{}", stderr(&out));
    std::fs::create_dir(tmp.path().join("new")).unwrap();
    let out = entitle_in(&tmp.path().join("new"), &["init", "--format", "json"]);
    expect_code(&out, 0);
    assert_eq!(json(&out)["created"][0], "entitle.toml");
    let out = entitle_in(&tmp.path().join("new/roles"), &["-q", "check"]);
    expect_code(&out, 0);
}
