//! Data-driven evaluation scenarios: every `tests/scenarios/eval-*/` folder
//! is a small policy repository, an identity feed, and the exact desired
//! state of some identities at some instants. Adding a case is adding a
//! line to an `expect.yaml`; adding a scenario is adding a folder.
//!
//! # Scenario format
//!
//! ```text
//! tests/scenarios/eval-NAME/
//!   roles/            YAML definitions
//!   policies/         Cedar guardrails (may be empty)
//!   identities.jsonl  the feed (invalid records allowed: they are checked with `invalid: true`)
//!   expect.yaml       a list of checks
//! ```
//!
//! ```yaml
//! - identity: u-1                     # required
//!   as_of: "2026-11-21T00:00:00Z"     # required: RFC 3339 (any offset) or a date
//!   roles: [employee]                 # exactly these roles (optional)
//!   entitlements: [okta:sso]          # exactly these desired entitlements (optional)
//!   forbidden: { aws:admin: [g] }     # exactly these forbidden entitlements, with the guardrails (optional)
//!   because:                          # exactly these justifications, for the entitlements named (optional);
//!     okta:sso:                       #   `source` is relative to the scenario folder
//!       - { role: employee, inherited: [], via: [all-staff], policy: "role:employee", source: "roles/roles.yaml:5" }
//!   invalid: true                     # the record is in the feed but invalid (nothing else may be given)
//!   note: "why this case"             # optional, shown when the check fails
//! ```
//!
//! For every check the harness also evaluates **every** valid identity of the
//! feed at the check's instant with both the [`Engine`] and the Cedar
//! [`Oracle`] (owners looked up as `entitle eval` does: an unknown or invalid
//! owner is no owner) and requires the two to agree on the whole
//! [`DesiredSet`] and on `forbidding` for every catalog entitlement.
//!
//! The harness runs every check of every scenario and fails once, listing
//! every failing check with its `expect.yaml` line.
//!
//! The CLI tests at the end run `entitle eval` and `entitle explain` on the
//! same scenarios.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use entitle::eval::{DesiredSet, Engine, Evaluator, Justification, Oracle};
use entitle::io::identities::parse_identities;
use entitle::population::Population;
use entitle::project::Project;
use entitle::Instant;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Check {
    identity: String,
    as_of: String,
    #[serde(default)]
    roles: Option<BTreeSet<String>>,
    #[serde(default)]
    entitlements: Option<BTreeSet<String>>,
    #[serde(default)]
    forbidden: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    because: Option<BTreeMap<String, Vec<ExpectedJustification>>>,
    #[serde(default)]
    invalid: Option<bool>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
struct ExpectedJustification {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    inherited: Vec<String>,
    #[serde(default)]
    via: Vec<String>,
    policy: String,
    source: String,
}

/// A scenario, loaded.
struct Scenario {
    name: String,
    dir: PathBuf,
    project: Arc<Project>,
    population: Population,
    engine: Engine,
    oracle: Oracle,
}

fn scenarios_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios")
}

fn scenario_dirs() -> Vec<PathBuf> {
    let root = scenarios_root();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", root.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.is_dir() && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("eval-")))
        .collect();
    dirs.sort();
    dirs
}

fn load_scenario(dir: &Path) -> Result<Scenario, String> {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
    let (sources, result) = Project::load(&dir.join("roles"), Some(&dir.join("policies")));
    let project = match result {
        Ok(p) => Arc::new(p),
        Err(f) => {
            let text: String = f.diagnostics.iter().map(|d| d.render(sources.text_of(&d.location.file))).collect();
            return Err(format!("{name}: the definitions do not load:\n{text}"));
        }
    };
    let feed_path = dir.join("identities.jsonl");
    let bytes = std::fs::read(&feed_path).map_err(|e| format!("{}: {e}", feed_path.display()))?;
    let feed = parse_identities("identities.jsonl", &bytes, None, &project.defs).map_err(|e| format!("{name}: {e}"))?;
    let engine = Engine::new(project.clone()).map_err(|e| format!("{name}: the engine cannot be built: {e}"))?;
    let oracle = Oracle::new(project.clone());
    Ok(Scenario {
        name,
        dir: dir.to_path_buf(),
        project,
        population: Population::new(feed),
        engine,
        oracle,
    })
}

/// The checks of a scenario, each with the line of `expect.yaml` it starts on.
fn read_checks(dir: &Path) -> Result<Vec<(usize, Check)>, String> {
    let path = dir.join("expect.yaml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let checks: Vec<Check> = serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    // Each check is an item of the top-level list: a line starting with `- `.
    let lines: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with("- "))
        .map(|(i, _)| i + 1)
        .collect();
    if lines.len() != checks.len() {
        return Err(format!(
            "{}: write each check as a top-level `- ` item ({} items, {} checks)",
            path.display(),
            lines.len(),
            checks.len()
        ));
    }
    Ok(lines.into_iter().zip(checks).collect())
}

impl Scenario {
    /// Every valid identity's desired set at `at`, from the engine, after
    /// holding the engine to the oracle. Disagreements go to `failures`.
    fn evaluate_all(&self, at: Instant, failures: &mut Vec<String>) -> BTreeMap<String, DesiredSet> {
        let mut out = BTreeMap::new();
        for identity in &self.population.feed.identities {
            let owner = self.population.owner_of(identity).record();
            let (fast, slow) = match (self.engine.desired(identity, owner, at), self.oracle.desired(identity, owner, at)) {
                (Ok(f), Ok(s)) => (f, s),
                (f, s) => {
                    failures.push(format!(
                        "{}: `{}` at {at}: evaluation failed: engine {:?}, oracle {:?}",
                        self.name,
                        identity.id,
                        f.err(),
                        s.err()
                    ));
                    continue;
                }
            };
            if fast != slow {
                failures.push(format!(
                    "{}: engine and oracle disagree on `{}` at {at}:\n{}",
                    self.name,
                    identity.id,
                    desired_diff(&fast, &slow)
                ));
            }
            for entitlement in self.project.defs.entitlements.keys() {
                let f = self.engine.forbidding(identity, owner, at, entitlement);
                let o = self.oracle.forbidding(identity, owner, at, entitlement);
                if f != o {
                    failures.push(format!(
                        "{}: `forbidding` disagrees on `{}` / `{entitlement}` at {at}: engine {f:?}, oracle {o:?}",
                        self.name, identity.id
                    ));
                }
            }
            out.insert(identity.id.clone(), fast);
        }
        out
    }

    /// A justification's `source` relative to the scenario folder.
    fn relative_source(&self, source: &str) -> String {
        let prefix = format!("{}/", self.dir.display());
        source.strip_prefix(&prefix).unwrap_or(source).to_string()
    }

    /// The failures of one check (empty when it passes).
    fn run_check(&self, check: &Check, desired: &BTreeMap<String, DesiredSet>) -> Vec<String> {
        let mut problems = Vec::new();
        let asserts_something = check.roles.is_some()
            || check.entitlements.is_some()
            || check.forbidden.is_some()
            || check.because.is_some()
            || check.invalid.is_some();
        if !asserts_something {
            problems.push("the check asserts nothing: give `roles`, `entitlements`, `forbidden`, `because` or `invalid`".to_string());
        }
        if check.invalid == Some(true) {
            if check.roles.is_some() || check.entitlements.is_some() || check.forbidden.is_some() || check.because.is_some() {
                problems.push("an invalid record has no desired state: give `invalid: true` alone".to_string());
            }
            if !self.population.is_invalid(&check.identity) {
                problems.push(format!("expected an invalid record `{}` in the feed", check.identity));
            }
            if self.population.get(&check.identity).is_some() {
                problems.push(format!("`{}` has a valid record", check.identity));
            }
            return problems;
        }
        let Some(d) = desired.get(&check.identity) else {
            let why = if self.population.is_invalid(&check.identity) {
                "its record is invalid"
            } else {
                "it is not in identities.jsonl"
            };
            problems.push(format!("no desired state for `{}`: {why}", check.identity));
            return problems;
        };
        if let Some(expected) = &check.roles {
            let actual = strings(d.roles());
            if *expected != actual {
                problems.push(format!("roles: expected {}, got {}", list(expected), list(&actual)));
            }
        }
        if let Some(expected) = &check.entitlements {
            let actual = strings(d.entitlements());
            if *expected != actual {
                problems.push(format!(
                    "entitlements: expected {}, got {} (missing {}, unexpected {})",
                    list(expected),
                    list(&actual),
                    list(&expected.difference(&actual).cloned().collect()),
                    list(&actual.difference(expected).cloned().collect())
                ));
            }
        }
        if let Some(expected) = &check.forbidden {
            let actual = forbidden(d);
            if *expected != actual {
                problems.push(format!("forbidden: expected {expected:?}, got {actual:?}"));
            }
        }
        for (entitlement, expected) in check.because.iter().flatten() {
            let Some(actual) = d.justifications(entitlement) else {
                problems.push(format!("because `{entitlement}`: it is not desired"));
                continue;
            };
            // Justifications come sorted (role, inherited, via, policy, source);
            // the expected ones are compared in that order.
            let mut expected: Vec<&ExpectedJustification> = expected.iter().collect();
            expected.sort();
            let expected: Vec<String> = expected.into_iter().map(show_expected).collect();
            let actual: Vec<String> = actual.iter().map(|j| show_actual(j, |s| self.relative_source(s))).collect();
            if expected != actual {
                problems.push(format!(
                    "because `{entitlement}`:\n      expected:\n{}      got:\n{}",
                    indent(&expected),
                    indent(&actual)
                ));
            }
        }
        problems
    }
}

fn strings<'a>(items: impl Iterator<Item = &'a str>) -> BTreeSet<String> {
    items.map(str::to_string).collect()
}

fn forbidden(d: &DesiredSet) -> BTreeMap<String, Vec<String>> {
    d.forbidden()
        .map(|(e, by)| (e.to_string(), by.into_iter().map(str::to_string).collect()))
        .collect()
}

fn list(items: &BTreeSet<String>) -> String {
    format!("[{}]", items.iter().cloned().collect::<Vec<_>>().join(", "))
}

fn indent(lines: &[String]) -> String {
    lines.iter().map(|l| format!("        {l}\n")).collect()
}

fn show_justification(role: Option<&str>, inherited: &[String], via: &[String], policy: &str, source: &str) -> String {
    format!(
        "{{ role: {}, inherited: [{}], via: [{}], policy: \"{policy}\", source: \"{source}\" }}",
        role.unwrap_or("~"),
        inherited.join(", "),
        via.join(", ")
    )
}

fn show_expected(j: &ExpectedJustification) -> String {
    show_justification(j.role.as_deref(), &j.inherited, &j.via, &j.policy, &j.source)
}

fn show_actual(j: &Justification, relative: impl Fn(&str) -> String) -> String {
    show_justification(j.role.as_deref(), &j.inherited, &j.via, &j.policy, &relative(&j.source))
}

/// What differs between the engine's and the oracle's answer, field by field.
fn desired_diff(fast: &DesiredSet, slow: &DesiredSet) -> String {
    let mut s = String::new();
    let (fast_roles, slow_roles) = (strings(fast.roles()), strings(slow.roles()));
    if fast_roles != slow_roles {
        let _ = writeln!(s, "    roles: engine {}, oracle {}", list(&fast_roles), list(&slow_roles));
    }
    let keys: BTreeSet<&str> = fast.entitlements().chain(slow.entitlements()).collect();
    for k in keys {
        let (f, o) = (fast.justifications(k), slow.justifications(k));
        if f != o {
            let _ = writeln!(s, "    `{k}`: engine {f:?}\n      oracle {o:?}");
        }
    }
    if forbidden(fast) != forbidden(slow) {
        let _ = writeln!(s, "    forbidden: engine {:?}, oracle {:?}", forbidden(fast), forbidden(slow));
    }
    s
}

/// Runs every check of one scenario; returns (checks run, failures).
fn run_scenario(dir: &Path) -> (usize, Vec<String>) {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
    let scenario = match load_scenario(dir) {
        Ok(s) => s,
        Err(e) => return (0, vec![e]),
    };
    let checks = match read_checks(dir) {
        Ok(c) => c,
        Err(e) => return (0, vec![e]),
    };
    if checks.is_empty() {
        return (0, vec![format!("{name}: expect.yaml has no checks")]);
    }
    let mut failures = Vec::new();
    let mut by_instant: BTreeMap<Instant, BTreeMap<String, DesiredSet>> = BTreeMap::new();
    for (line, check) in &checks {
        let at = match Instant::parse(&check.as_of) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{name}/expect.yaml:{line}: as_of: {e}"));
                continue;
            }
        };
        let desired = by_instant.entry(at).or_insert_with(|| scenario.evaluate_all(at, &mut failures));
        let problems = scenario.run_check(check, desired);
        if !problems.is_empty() {
            let note = check.note.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
            let mut text = format!("{name}/expect.yaml:{line}: `{}` at {}{note}:", check.identity, check.as_of);
            for p in problems {
                let _ = write!(text, "\n    {p}");
            }
            failures.push(text);
        }
    }
    (checks.len(), failures)
}

#[test]
fn eval_scenarios() {
    let dirs = scenario_dirs();
    assert!(
        dirs.len() >= 3,
        "expected at least three eval-* scenarios under {}, found {dirs:?}",
        scenarios_root().display()
    );
    let mut total = 0;
    let mut failures = Vec::new();
    for dir in &dirs {
        let (n, f) = run_scenario(dir);
        total += n;
        failures.extend(f);
    }
    assert!(
        failures.is_empty(),
        "{} of the {total} checks in {} scenarios failed (or engine and oracle disagree):\n\n{}\n",
        failures.len(),
        dirs.len(),
        failures.join("\n\n")
    );
}

// ---------------------------------------------------------------------------
// The CLI on the same scenarios.

fn scenario(name: &str) -> PathBuf {
    scenarios_root().join(name)
}

/// Runs `entitle --roles roles --policies policies ARGS` in a scenario folder,
/// so sources print as `roles/<file>:<line>`.
fn entitle_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_entitle"))
        .current_dir(dir)
        .args(["--roles", "roles", "--policies", "policies"])
        .args(args)
        .output()
        .expect("entitle runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn describe(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        stdout(o),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The 1-based line of the first line of `file` that contains `needle`.
fn line_of(file: &Path, needle: &str) -> usize {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("`{needle}` not in {}", file.display()))
        + 1
}

/// The human `eval` block of one identity (blocks are separated by a blank line).
fn human_block<'a>(out: &'a str, identity: &str) -> &'a str {
    out.split("\n\n")
        .find(|b| b.starts_with(&format!("{identity} (")))
        .unwrap_or_else(|| panic!("no block for `{identity}` in:\n{out}"))
}

#[test]
fn cli_eval_explain_human_shows_role_package_path_and_yaml_line() {
    let dir = scenario("eval-hierarchy");
    let o = entitle_in(
        &dir,
        &["eval", "--identity", "identities.jsonl", "--as-of", "2026-11-21", "--explain"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let out = stdout(&o);
    let block = human_block(&out, "s-1");
    let line = line_of(&dir.join("roles/roles.yaml"), "id: staff-engineer");
    let expected = format!(
        "role `staff-engineer` (inherited from `senior-engineer`) via `platform` → `platform-core` → `platform-secrets` [policy `role:staff-engineer`, roles/roles.yaml:{line}]"
    );
    // The justification sits under the entitlement it explains.
    let at = block
        .find("    prod-read\n")
        .and_then(|i| block[i..].find(&expected).map(|j| i + j));
    assert!(at.is_some(), "expected under `vault` / `prod-read`:\n  {expected}\nin:\n{block}");
    let vault = block.find("  vault\n").expect("vault group");
    assert!(at.is_some_and(|i| i > vault), "{block}");

    // The three-deep inheritance chain is spelt out.
    let employee_line = line_of(&dir.join("roles/roles.yaml"), "id: employee");
    assert!(
        block.contains(&format!(
            "role `staff-engineer` (inherited from `senior-engineer` → `engineer` → `employee`) via `all-staff` [policy `role:staff-engineer`, roles/roles.yaml:{line}]"
        )),
        "{block}"
    );
    assert!(
        block.contains(&format!(
            "role `employee` via `all-staff` [policy `role:employee`, roles/roles.yaml:{employee_line}]"
        )),
        "{block}"
    );

    // A forbidden entitlement is shown as such, with the guardrail.
    let support = human_block(&out, "sup-1");
    assert!(
        support.contains("forbidden: vault:prod-read (by no-prod-secrets-for-support)"),
        "{support}"
    );
}

#[test]
fn cli_eval_json_explain_has_because_with_role_via_policy_source() {
    let dir = scenario("eval-hierarchy");
    let o = entitle_in(
        &dir,
        &[
            "eval",
            "--identity",
            "identities.jsonl",
            "--as-of",
            "2026-11-21",
            "--explain",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let out = stdout(&o);
    let rows: BTreeMap<String, serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("not JSON: {e}: {l}")))
        .map(|v| (v["identity"].as_str().expect("identity").to_string(), v))
        .collect();
    let feed = std::fs::read_to_string(dir.join("identities.jsonl")).expect("feed");
    assert_eq!(rows.len(), feed.lines().count(), "one line per identity:\n{out}");
    let s1 = &rows["s-1"];
    assert_eq!(s1["valid"], true);
    assert_eq!(s1["roles"], serde_json::json!(["employee", "engineer", "staff-engineer"]));
    let line = line_of(&dir.join("roles/roles.yaml"), "id: staff-engineer");
    let because = &s1["because"]["vault:prod-read"];
    assert_eq!(
        *because,
        serde_json::json!([{
            "role": "staff-engineer",
            "inherited": ["senior-engineer"],
            "via": ["platform", "platform-core", "platform-secrets"],
            "policy": "role:staff-engineer",
            "source": format!("roles/roles.yaml:{line}"),
        }]),
        "{s1}"
    );
    // Every desired entitlement is explained, and only those.
    let listed: BTreeSet<&str> = s1["entitlements"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    let explained: BTreeSet<&str> = s1["because"].as_object().expect("because").keys().map(String::as_str).collect();
    assert_eq!(listed, explained);
    for (entitlement, reasons) in s1["because"].as_object().expect("because") {
        for r in reasons.as_array().expect("list") {
            for key in ["role", "via", "policy", "source"] {
                assert!(r.get(key).is_some(), "`{entitlement}` justification without `{key}`: {r}");
            }
        }
    }
    // Forbidden entitlements are listed apart, with their guardrail.
    assert_eq!(
        rows["sup-1"]["forbidden"],
        serde_json::json!({"vault:prod-read": ["no-prod-secrets-for-support"]})
    );
    assert!(rows["sup-1"]["because"].get("vault:prod-read").is_none());
}

#[test]
fn cli_explain_why_not_names_the_failing_clause_and_the_value() {
    let dir = scenario("eval-time");
    let out = explain_in(&dir, "c-1", "workspace:sso", "2026-12-31");
    assert!(out.contains("`c-1` does not hold `workspace:sso`"), "{out}");
    let contractor = line_of(&dir.join("roles/roles.yaml"), "id: contractor");
    let clause = line_of(&dir.join("roles/roles.yaml"), "end_date: { after: now }");
    assert!(out.contains(&format!("role `contractor` (roles/roles.yaml:{contractor})")), "{out}");
    assert!(
        out.contains(&format!(
            "`end_date: {{ after: now }}` (roles/roles.yaml:{clause}) fails: `end_date` is `2026-12-31`"
        )),
        "{out}"
    );
    // The clauses that hold are not blamed.
    assert!(!out.contains("`status: active` (roles/roles.yaml:"), "{out}");
    // The other roles granting it say why they do not apply, with the identity's values.
    assert!(out.contains("`worker_type: employee`"), "{out}");
    assert!(out.contains("`worker_type` is `contractor`"), "{out}");
    assert!(out.contains("`status` is `active`"), "{out}");

    // One millisecond earlier it holds.
    let o = entitle_in(
        &dir,
        &[
            "explain",
            "c-1",
            "workspace:sso",
            "--identities",
            "identities.jsonl",
            "--as-of",
            "2026-12-30T23:59:59.999Z",
        ],
    );
    assert!(stdout(&o).contains("`c-1` holds `workspace:sso`"), "{}", describe(&o));
}

#[test]
fn cli_explain_forbidden_names_the_guardrail() {
    let dir = scenario("eval-hierarchy");
    let out = explain_in(&dir, "sup-1", "vault:prod-read", "2026-11-21");
    assert!(out.contains("`sup-1` does not hold `vault:prod-read`"), "{out}");
    assert!(out.contains("forbid"), "{out}");
    let guardrails = dir.join("policies/guardrails.cedar");
    let annotation = line_of(&guardrails, "@id(\"no-prod-secrets-for-support\")");
    // A policy starts at its annotations.
    assert!(
        out.contains(&format!("`no-prod-secrets-for-support` (policies/guardrails.cedar:{annotation})")),
        "expected the guardrail and its line:\n{out}"
    );
    assert!(!out.contains("interns-outside-platform-core"), "{out}");
}

#[test]
fn cli_explain_says_the_assignment_expired() {
    let dir = scenario("eval-time");
    let explain = |id: &str, at: &str| {
        let o = entitle_in(
            &dir,
            &["explain", id, "aws:prod-admin", "--identities", "identities.jsonl", "--as-of", at],
        );
        expect_explain_code(&o);
        stdout(&o)
    };
    let out = explain("a-1", "2026-11-17T09:00:00Z");
    assert!(out.contains("`a-1` does not hold `aws:prod-admin`"), "{out}");
    assert!(out.contains("role `prod-access`"), "{out}");
    assert!(
        out.contains("the assignment to `prod-access` expired at 2026-11-17T09:00:00Z"),
        "{out}"
    );

    let out = explain("a-1", "2026-11-17T08:59:59.999Z");
    assert!(out.contains("`a-1` holds `aws:prod-admin`"), "{out}");

    let out = explain("a-1", "2026-11-10T08:59:59.999Z");
    assert!(
        out.contains("the assignment to `prod-access` starts at 2026-11-10T09:00:00Z"),
        "{out}"
    );

    let out = explain("a-2", "2026-11-12");
    assert!(out.contains("longer than the role's max_duration 7d"), "{out}");
}

#[test]
fn cli_eval_reports_an_invalid_record_with_its_line_and_evaluates_the_others() {
    let dir = scenario("eval-time");
    let roles = dir.join("roles");
    let policies = dir.join("policies");
    let good = std::fs::read_to_string(dir.join("identities.jsonl")).expect("feed");
    let mut lines: Vec<&str> = good.lines().collect();
    lines.insert(
        2,
        r#"{"id": "bad-1", "kind": "person", "attributes": {"status": "actve", "worker_type": "employee"}}"#,
    );
    lines.insert(5, "this is not json");
    let with_bad = lines.join("\n") + "\n";
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("good.jsonl"), &good).expect("write");
    std::fs::write(tmp.path().join("identities.jsonl"), &with_bad).expect("write");
    let run = |file: &str, format: &str| {
        Command::new(env!("CARGO_BIN_EXE_entitle"))
            .current_dir(tmp.path())
            .arg("--roles")
            .arg(&roles)
            .arg("--policies")
            .arg(&policies)
            .args(["eval", "--identity", file, "--as-of", "2026-11-21", "--format", format])
            .output()
            .expect("entitle runs")
    };

    let bad = run("identities.jsonl", "human");
    assert_eq!(bad.status.code(), Some(1), "{}", describe(&bad));
    let out = stdout(&bad);
    assert!(
        out.contains("identities.jsonl:3: `bad-1` is invalid: unknown value `actve` for `status`"),
        "{out}"
    );
    assert!(out.contains("identities.jsonl:6: a record is invalid: "), "{out}");

    let bad = run("identities.jsonl", "json");
    assert_eq!(bad.status.code(), Some(1), "{}", describe(&bad));
    let clean = run("good.jsonl", "json");
    assert_eq!(clean.status.code(), Some(0), "{}", describe(&clean));
    let (invalid, valid): (Vec<serde_json::Value>, Vec<serde_json::Value>) = stdout(&bad)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("not JSON: {e}: {l}")))
        .partition(|v| v["valid"] == false);
    assert_eq!(invalid.len(), 2, "{}", stdout(&bad));
    assert_eq!(invalid[0]["identity"], "bad-1");
    assert_eq!(invalid[0]["line"], 3);
    assert!(
        invalid[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("unknown value `actve` for `status`")),
        "{}",
        invalid[0]
    );
    assert_eq!(
        invalid[1]["identity"],
        serde_json::Value::Null,
        "the id of an unreadable record is unknown"
    );
    assert_eq!(invalid[1]["line"], 6);
    let expected: Vec<serde_json::Value> = stdout(&clean).lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    assert_eq!(valid, expected, "the invalid record changed the other identities' output");
    assert_eq!(valid.len(), good.lines().count());
}

#[test]
fn cli_explain_owner_why_not_names_the_owner_value_or_its_absence() {
    let dir = scenario("eval-nhi-owners");
    let clause = line_of(&dir.join("roles/roles.yaml"), "owner.status: active }");
    let explain = |id: &str| {
        let o = entitle_in(
            &dir,
            &[
                "explain",
                id,
                "aws:deploy",
                "--identities",
                "identities.jsonl",
                "--as-of",
                "2026-11-21",
            ],
        );
        expect_explain_code(&o);
        stdout(&o)
    };
    let out = explain("svc-2");
    assert!(
        out.contains(&format!(
            "`owner.status: active` (roles/roles.yaml:{clause}) fails: the owner's `status` is `terminated`"
        )),
        "{out}"
    );
    let out = explain("svc-4");
    assert!(
        out.contains(&format!(
            "`owner.status: active` (roles/roles.yaml:{clause}) fails: the identity has no known owner"
        )),
        "{out}"
    );
    assert!(out.contains("owner `u-ghost` is not in identities.jsonl"), "{out}");
    let out = explain("svc-6");
    assert!(out.contains("the identity has no known owner"), "{out}");
    assert!(out.contains("owner `u-bad` has an invalid record"), "{out}");
    let out = explain("svc-1");
    assert!(out.contains("`svc-1` holds `aws:deploy`"), "{out}");
}

#[test]
fn cli_explain_pre_hire_names_the_start_date() {
    let dir = scenario("eval-time");
    let out = explain_in(&dir, "p-1", "hr:day-one", "2026-11-30T23:59:59.999Z");
    let clause = line_of(&dir.join("roles/roles.yaml"), "start_date: { lte: now }");
    assert!(
        out.contains(&format!(
            "`start_date: {{ lte: now }}` (roles/roles.yaml:{clause}) fails: `start_date` is `2026-12-01`"
        )),
        "{out}"
    );
}

/// `explain` exits 0 when the identity holds the entitlement and 1 when it does not.
fn expect_explain_code(o: &std::process::Output) {
    let holds = !stdout(o).contains("` does not hold `");
    assert_eq!(o.status.code(), Some(if holds { 0 } else { 1 }), "{}", describe(o));
}

/// `entitle explain ID ENTITLEMENT` in a scenario folder: asserts it ran (exit 0 when it holds, 1 when not), returns stdout.
fn explain_in(dir: &Path, id: &str, entitlement: &str, at: &str) -> String {
    let o = entitle_in(
        dir,
        &["explain", id, entitlement, "--identities", "identities.jsonl", "--as-of", at],
    );
    expect_explain_code(&o);
    stdout(&o)
}

/// An assignment two levels down an `extends` chain of assignable roles
/// makes its holder a member of the top role (the engine and the oracle
/// agree: see t-2 in eval-hierarchy). When that role's condition fails, the
/// explanation must blame the condition, not claim there is no assignment.
#[test]
fn cli_explain_does_not_call_an_assignment_to_a_grandchild_role_missing() {
    let dir = scenario("eval-hierarchy");
    let out = explain_in(&dir, "t-3", "tickets:read", "2026-11-21");
    let clause = line_of(&dir.join("roles/roles.yaml"), "department: { in: [Support, Engineering] }");
    assert!(
        out.contains(&format!(
            "`department: {{ in: [Support, Engineering] }}` (roles/roles.yaml:{clause}) fails: `department` is `Marketing`"
        )),
        "{out}"
    );
    assert!(
        !out.contains("role `tickets-reader` is assignable and `t-3` has no assignment to it"),
        "t-3's assignment to tickets-lead (which extends tickets-agent, which extends tickets-reader) makes it a member of tickets-reader:\n{out}"
    );
}
