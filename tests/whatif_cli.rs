//! `entitle whatif` as a user runs it: `--base GITREF` read from a real git
//! repository (and equal to the same change given as directories), the
//! errors of a base that cannot be read or loaded, of a wrong `--set`, of an
//! identity that is not there, and the exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::copy_dir;
use serde_json::Value;

fn case_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/whatif").join(name)
}

fn entitle_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_entitle"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run entitle: {e}"))
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run git: {e}"));
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A repository whose `HEAD~1` holds `base` and `HEAD` holds `head` (each with `roles/` and `policies/`).
fn repository(base: &Path, head: &Path) -> tempfile::TempDir {
    let repo = tempfile::tempdir().expect("tempdir");
    let dir = repo.path();
    git(dir, &["init", "-q"]);
    copy_dir(&base.join("roles"), &dir.join("roles"));
    copy_dir(&base.join("policies"), &dir.join("policies"));
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "base"]);
    std::fs::remove_dir_all(dir.join("roles")).expect("rm");
    std::fs::remove_dir_all(dir.join("policies")).expect("rm");
    copy_dir(&head.join("roles"), &dir.join("roles"));
    copy_dir(&head.join("policies"), &dir.join("policies"));
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "head"]);
    repo
}

/// The output JSON with the labels and the directories the sources were read from taken out.
fn normalised(out: &Output, prefixes: &[&str]) -> Value {
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let mut text = String::from_utf8_lossy(&out.stdout).to_string();
    for p in prefixes {
        text = text.replace(p, "roles/");
    }
    let mut v: Value = serde_json::from_str(&text).expect("json");
    // Labels name where each side was read, and the policy hashes cover the compiled `@source` file names.
    for side in ["before", "after"] {
        v[side]["label"] = Value::Null;
        v[side]["policy_sha256"] = Value::Null;
    }
    v
}

#[test]
fn a_role_change_read_from_git_equals_the_same_change_as_directories() {
    let case = case_dir("role-change");
    let repo = repository(&case.join("base"), &case.join("head"));
    let dir = repo.path();
    std::fs::copy(case.join("population.jsonl"), dir.join("population.jsonl")).expect("copy");
    copy_dir(&case.join("base"), &dir.join("old"));
    let args = [
        "whatif",
        "--identities",
        "population.jsonl",
        "--as-of",
        "2026-12-15",
        "--format",
        "json",
    ];

    let from_git = entitle_in(dir, &[&args[..], &["--base", "HEAD~1"]].concat());
    let stdout = String::from_utf8_lossy(&from_git.stdout);
    assert!(stdout.contains("\"label\": \"base HEAD~1\""), "{stdout}");
    let from_dirs = entitle_in(
        dir,
        &[&args[..], &["--base-roles", "old/roles", "--base-policies", "old/policies"]].concat(),
    );
    let git_json = normalised(&from_git, &[]);
    assert_eq!(git_json, normalised(&from_dirs, &["old/roles/"]));
    // And what the data-driven case expects, read from its folders.
    let expected = std::fs::read(case.join("expected.json")).expect("expected.json");
    let expected = Output {
        status: from_git.status,
        stdout: expected,
        stderr: Vec::new(),
    };
    assert_eq!(git_json, normalised(&expected, &["head/roles/", "base/roles/"]));
    assert!(git_json["summary"]["gained"].as_u64() == Some(2) && git_json["summary"]["lost"].as_u64() == Some(2));

    // The working tree is what is compared: an uncommitted edit shows, and nothing in the repository changes.
    let status = |dir: &Path| {
        let out = Command::new("git")
            .args(["status", "--porcelain"])
            .current_dir(dir)
            .output()
            .expect("git");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let before = status(dir);
    let same = entitle_in(dir, &[&args[..], &["--base", "HEAD", "--detailed-exitcode"]].concat());
    assert_eq!(same.status.code(), Some(0), "{}", String::from_utf8_lossy(&same.stderr));
    let v: Value = serde_json::from_slice(&same.stdout).expect("json");
    assert_eq!(v["summary"]["identities_affected"], 0);
    assert_eq!(v["evaluation"]["evaluated"], 0, "nothing differs, so nobody is evaluated");
    assert_eq!(status(dir), before);
}

#[test]
fn a_base_that_cannot_be_read_or_loaded_names_the_revision_and_the_file() {
    let case = case_dir("role-change");
    let repo = repository(&case.join("base"), &case.join("head"));
    let dir = repo.path();
    std::fs::copy(case.join("population.jsonl"), dir.join("population.jsonl")).expect("copy");
    let run = |extra: &[&str]| {
        entitle_in(
            dir,
            // `-q`: no header naming the working tree's definitions; stderr is the error alone.
            &[
                &["-q", "whatif", "--identities", "population.jsonl", "--as-of", "2026-12-15"],
                extra,
            ]
            .concat(),
        )
    };

    let out = run(&["--base", "no-such-branch"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: cannot read `roles` at revision `no-such-branch`: git knows no such commit in the repository holding the directory\n"
    );
    // Never an option of git's.
    let out = run(&["--base=--upload-pack=touch"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: cannot read `roles` at revision `--upload-pack=touch`: not a revision git can name (`main`, `HEAD~1`, a commit id)\n"
    );

    // A third commit whose definitions do not load: comparing with it names the revision and the file.
    let text = std::fs::read_to_string(dir.join("roles/org.yaml")).expect("read");
    std::fs::write(
        dir.join("roles/org.yaml"),
        text.replace("    grants: [all-staff]\n", "    grnts: [all-staff]\n"),
    )
    .expect("write");
    git(dir, &["commit", "-q", "-am", "broken"]);
    std::fs::write(dir.join("roles/org.yaml"), text).expect("write");
    let out = run(&["--base", "HEAD"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: the definitions at revision `HEAD` do not load: roles/org.yaml:32: unknown key `grnts` in a role"),
        "{stderr}"
    );

    // A revision without the policies directory.
    std::fs::remove_dir_all(dir.join("policies")).expect("rm");
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "no guardrails"]);
    copy_dir(&case.join("head/policies"), &dir.join("policies"));
    let out = run(&["--base", "HEAD"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: cannot read `policies` at revision `HEAD`: the directory does not exist at that revision\n"
    );

    // Outside a repository.
    let plain = tempfile::tempdir().expect("tempdir");
    copy_dir(&case.join("head"), plain.path());
    std::fs::copy(case.join("population.jsonl"), plain.path().join("population.jsonl")).expect("copy");
    let out = entitle_in(
        plain.path(),
        &["-q", "whatif", "--identities", "population.jsonl", "--base", "HEAD"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: cannot read `roles` at revision `HEAD`: the directory is not in a git repository\n"
    );
}

#[test]
fn hr_edits_that_cannot_apply_are_located_errors() {
    let dir = case_dir("mover");
    let run = |extra: &[&str]| {
        let out = entitle_in(
            &dir,
            &[
                &[
                    "-q",
                    "--roles",
                    "head/roles",
                    "--policies",
                    "head/policies",
                    "whatif",
                    "--identities",
                    "population.jsonl",
                ],
                extra,
            ]
            .concat(),
        );
        (out.status.code(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    assert_eq!(
        run(&["--set", "u-1.status=actve"]),
        (
            Some(2),
            "error: --set `u-1.status=actve`: unknown value `actve` for `status` (did you mean `active`?)\n".into()
        )
    );
    assert_eq!(
        run(&["--set", "u-1.departmnt=Finance"]),
        (
            Some(2),
            "error: --set `u-1.departmnt=Finance`: unknown attribute `departmnt` (did you mean `department`?)\n".into()
        )
    );
    let (code, stderr) = run(&["--set", "u-77.status=terminated"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.starts_with("error: --set `u-77.status=terminated`: no identity `u-77` in `population.jsonl`"),
        "{stderr}"
    );
    assert_eq!(
        run(&["--set", "u-1.end_date=soon"]),
        (
            Some(2),
            "error: --set `u-1.end_date=soon`: attribute `end_date`: `soon` is not a date (YYYY-MM-DD) or an RFC 3339 instant (YYYY-MM-DDThh:mm:ssZ)\n".into()
        )
    );
    assert_eq!(
        run(&["--set", "u-1status=active"]),
        (
            Some(2),
            "error: --set `u-1status=active`: expected `ID.attr=value`: the attribute follows the identity id after a `.`\n".into()
        )
    );
    assert_eq!(
        run(&["--remove", "nobody"]),
        (
            Some(2),
            "error: --remove `nobody`: no identity `nobody` in `population.jsonl`\n".into()
        )
    );
    assert_eq!(
        run(&["--set", "svc-deploy.owner=svc-deploy"]),
        (
            Some(2),
            "error: --set `svc-deploy.owner=svc-deploy`: `svc-deploy` names itself as its owner; an owner must be another identity\n"
                .into()
        )
    );
    let (code, stderr) = run(&[]);
    assert_eq!(code, Some(2));
    assert!(stderr.starts_with("error: nothing to compare: give `--base GITREF`"), "{stderr}");
    assert_eq!(
        run(&["--timeline", "2026-12-31..2026-11-21"]),
        (
            Some(2),
            "error: --timeline `2026-12-31..2026-11-21`: the window must end after it starts\n".into()
        )
    );
}

#[test]
fn an_nhi_given_another_owner_follows_the_new_owner() {
    let dir = case_dir("leaver");
    // svc-deploy's owner u-2 leaves; moved to u-9 first, it keeps its deployment access.
    let out = entitle_in(
        &dir,
        &[
            "--roles",
            "head/roles",
            "--policies",
            "head/policies",
            "whatif",
            "--identities",
            "population.jsonl",
            "--as-of",
            "2026-11-21",
            "--set",
            "svc-deploy.owner=u-9",
            "--set",
            "u-2.status=terminated",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let changed: Vec<&str> = v["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["identity"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(changed, ["bot-triage", "u-2"], "svc-deploy keeps its access under its new owner");
}

/// The event of `identity` at `at` in a timeline's JSON.
fn event<'v>(timeline: &'v Value, at: &str, identity: &str) -> &'v Value {
    timeline["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["at"] == at && e["identity"] == identity)
        .unwrap_or_else(|| panic!("no event for `{identity}` at {at} in {timeline:#}"))
}

#[test]
fn the_timeline_lists_an_assignment_expiry_and_a_contract_end_on_their_dates() {
    // The bundled example organisation, from the day its fixtures were written for.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = entitle_in(
        root,
        &[
            "whatif",
            "--identities",
            "fixtures/identities.jsonl",
            "--timeline",
            "2026-11-21..2027-03-01",
            "--format",
            "json",
            "--detailed-exitcode",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let t: Value = serde_json::from_slice(&out.stdout).expect("json");

    // u-1017's on-call assignment (RITM0041533) expires on 2026-11-28.
    let expiry = event(&t, "2026-11-28T00:00:00Z", "u-1017");
    assert_eq!(
        expiry["causes"],
        serde_json::json!(["assignment to `prod-oncall` expires (ticket RITM0041533)"])
    );
    assert_eq!(expiry["lost"], serde_json::json!(["aws:prod-admin"]));
    assert_eq!(expiry["roles_lost"], serde_json::json!(["prod-oncall"]));
    assert_eq!(expiry["lost_because"]["aws:prod-admin"]["reason"], "expired-assignment");

    // u-1047 is a contractor whose contract ends on 2026-12-31: the contractor role goes that day.
    let end = event(&t, "2026-12-31T00:00:00Z", "u-1047");
    assert_eq!(end["causes"], serde_json::json!(["`end_date` (2026-12-31) is reached"]));
    assert_eq!(end["roles_lost"], serde_json::json!(["contractor"]));
    let sso = &end["lost_because"]["okta:sso"];
    assert_eq!(sso["reason"], "not-justified");
    assert_eq!(
        sso["roles"][0]["reasons"],
        serde_json::json!(["`end_date: { after: now }` (roles/roles-birthright.yaml:18) fails: `end_date` is `2026-12-31`"])
    );
    // Nothing happens to them before that day.
    let events = t["events"].as_array().expect("events");
    let instant = |e: &Value| entitle::Instant::parse(e["at"].as_str().expect("at")).expect("instant");
    let first = events.iter().find(|e| e["identity"] == "u-1047").expect("u-1047 has events");
    assert_eq!(first["at"], "2026-12-31T00:00:00Z");

    // Events are in time order (a millisecond past midnight after midnight, whatever their text sorts as).
    let instants: Vec<entitle::Instant> = events.iter().map(instant).collect();
    assert!(instants.windows(2).all(|w| w[0] <= w[1]), "events out of order: {instants:?}");
}

#[test]
fn the_readme_shows_what_whatif_prints_for_its_pull_request() {
    // The README's example: a branch of this repository that gives senior engineers
    // `aws:staging-admin` and takes the billing console from engineering managers.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let section = &readme[readme.find("## What-if in a pull request").expect("the README's what-if section")..];
    let block = |fence: &str| -> String {
        let start = section.find(fence).unwrap_or_else(|| panic!("no {fence} block")) + fence.len();
        let end = start + section[start..].find("\n```\n").expect("the block ends") + 1;
        section[start..end].to_string()
    };
    let printed = block("```markdown\n");
    let diff = block("```diff\n");
    assert!(diff.contains("+    grants: [eng-senior, aws:staging-admin]"), "{diff}");

    let repo = tempfile::tempdir().expect("tempdir");
    let dir = repo.path();
    git(dir, &["init", "-q", "-b", "main"]);
    for sub in ["roles", "policies", "fixtures"] {
        copy_dir(&root.join(sub), &dir.join(sub));
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "base"]);
    git(dir, &["checkout", "-q", "-b", "pr"]);
    let file = dir.join("roles/roles-engineering.yaml");
    let text = std::fs::read_to_string(&file).expect("roles-engineering.yaml");
    let edited = text
        .replacen(
            "job_code: { matches: \"ENG-2*\" } }\n    grants: [eng-senior]\n",
            "job_code: { matches: \"ENG-2*\" } }\n    grants: [eng-senior, aws:staging-admin]\n",
            1,
        )
        .replacen(
            "grants: [aws:billing-viewer, snowflake:analyst-reader]",
            "grants: [snowflake:analyst-reader]",
            1,
        );
    assert_ne!(edited, text, "the README's change applies to roles/roles-engineering.yaml");
    std::fs::write(&file, edited).expect("write");
    git(dir, &["commit", "-q", "-am", "pr"]);
    let out = Command::new("git")
        .args(["diff", "main", "pr"])
        .current_dir(dir)
        .output()
        .expect("git diff");
    let actual_diff = String::from_utf8_lossy(&out.stdout);
    // The index line names blobs, which depend on the whole file: compare the hunks.
    let hunks = |d: &str| d.lines().skip_while(|l| !l.starts_with("@@")).collect::<Vec<_>>().join("\n");
    assert_eq!(hunks(&actual_diff), hunks(&diff), "the README's diff is the change made here");

    let out = entitle_in(
        dir,
        &[
            "whatif",
            "--identities",
            "fixtures/identities.jsonl",
            "--base",
            "main",
            "--as-of",
            "2026-11-21",
            "--format",
            "markdown",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        printed,
        "README.md's what-if output is out of date: paste what the command prints"
    );
}
