//! Data-driven `entitle prove` cases: every folder under `tests/cases/prove/`
//! is one small policy repository (`roles/`, optionally `policies/`) and an
//! `expect.yaml` with the exact results and warnings proving it must give.
//! Adding a case is adding a folder.
//!
//! # `expect.yaml`
//!
//! ```yaml
//! description: a role lets a leaver keep access     # one line: what the case shows
//! timeout: 60s            # optional: the per-query time limit (`prove --timeout`)
//! definitions: false      # optional: skip dead/shadowed/idle definitions (`prove --no-definitions`)
//! results:                # exactly these, in order (invariants, then SoD rules, by id)
//!   - { id: leavers, kind: invariant, status: failed, entitlements: [app:read] }
//!   - { id: split, kind: sod, status: proved }
//!   - { id: slow, kind: invariant, status: unknown, reason: "time limit" }  # reason: a substring
//! warnings:               # exactly these (dead, shadowed, idle definitions), in order;
//!   - { code: W010, file: roles/org.yaml, line: 12, message: "role `x` can never be held: ..." }
//!                         # `file` is named from the case folder, `file` and `line` are optional
//! ```
//!
//! Beyond comparing, the harness holds every counterexample to what the proof
//! claims, independently of the prover: each record must pass the feed reader
//! (`parse_identities`, as `entitle eval --identity` reads it); the engine and
//! the oracle must agree on it at `as_of` and both give the subject every
//! entitlement listed; for an invariant the subject must match its `for`
//! (asked of Cedar) and the entitlement its filter (computed from the
//! catalog), for an SoD rule the entitlements must come from two sides.
//!
//! The proofs need the cvc5 solver (`CVC5` or `cvc5` on `PATH`): without it
//! these tests fail, they never skip.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cedar_policy::{Authorizer, Decision, Policy, PolicySet};
use entitle::compile::expr::condition;
use entitle::diag::Code;
use entitle::eval::cedar_io::{context_at, hold_request, identity_entity};
use entitle::model::{GrantRef, InvariantRule};
use entitle::project::Project;
use entitle::prove::{prove, Counterexample, Outcome, ProofKind, ProveOptions, ProveReport};
use serde::Deserialize;

use crate::common;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    description: String,
    #[serde(default)]
    timeout: Option<String>,
    #[serde(default = "yes")]
    definitions: bool,
    results: Vec<ExpectedResult>,
    #[serde(default)]
    warnings: Vec<ExpectedWarning>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedResult {
    id: String,
    kind: String,
    status: String,
    #[serde(default)]
    entitlements: Option<Vec<String>>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedWarning {
    code: String,
    message: String,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    line: Option<u32>,
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/prove")
}

fn case_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", cases_dir().display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.join("expect.yaml").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// Loads a case's repository (`roles/`, and `policies/` when there is one).
fn load(dir: &Path) -> Result<Arc<Project>, String> {
    let policies = dir.join("policies");
    Project::load(&dir.join("roles"), policies.exists().then_some(policies.as_path()))
        .map(Arc::new)
        .map_err(|f| {
            f.diagnostics
                .iter()
                .map(|d| d.render(f.sources.text_of(&d.location.file)))
                .collect()
        })
}

fn status_of(o: &Outcome) -> &'static str {
    match o {
        Outcome::Proved => "proved",
        Outcome::Failed { .. } => "failed",
        Outcome::Unknown { .. } => "unknown",
    }
}

fn kind_of(k: ProofKind) -> &'static str {
    match k {
        ProofKind::Invariant => "invariant",
        ProofKind::Sod => "sod",
    }
}

/// The report as `expect.yaml` lines, for pasting once checked.
fn as_expect(report: &ProveReport) -> String {
    let mut out = String::from("results:\n");
    for r in &report.results {
        let _ = write!(
            out,
            "  - {{ id: {}, kind: {}, status: {}",
            r.id,
            kind_of(r.kind),
            status_of(&r.outcome)
        );
        match &r.outcome {
            Outcome::Failed { counterexample } => {
                let _ = write!(out, ", entitlements: [{}]", counterexample.entitlements.join(", "));
            }
            Outcome::Unknown { reason } => {
                let _ = write!(out, ", reason: {}", serde_json::to_string(reason).unwrap_or_default());
            }
            Outcome::Proved => {}
        }
        out.push_str(" }\n");
    }
    out.push_str("warnings:\n");
    for w in &report.warnings {
        let file = w
            .location
            .file
            .rsplit_once("/roles/")
            .map_or(w.location.file.clone(), |(_, f)| format!("roles/{f}"));
        let file = file
            .rsplit_once("/policies/")
            .map_or(file.clone(), |(_, f)| format!("policies/{f}"));
        let _ = writeln!(
            out,
            "  - {{ code: {}, file: {file}, line: {}, message: {} }}",
            w.code,
            w.location.line,
            serde_json::to_string(&w.message).unwrap_or_default()
        );
    }
    out
}

fn compare(expect: &Expect, report: &ProveReport, problems: &mut Vec<String>) {
    if expect.results.len() != report.results.len() {
        problems.push(format!("{} results, expected {}", report.results.len(), expect.results.len()));
    }
    for (e, a) in expect.results.iter().zip(&report.results) {
        let mut why = Vec::new();
        if e.id != a.id || e.kind != kind_of(a.kind) || e.status != status_of(&a.outcome) {
            why.push(format!("{} {} {}", kind_of(a.kind), a.id, status_of(&a.outcome)));
        }
        match (&a.outcome, &e.entitlements, &e.reason) {
            (Outcome::Failed { counterexample }, Some(want), _) if &counterexample.entitlements != want => {
                why.push(format!("entitlements {:?}", counterexample.entitlements))
            }
            (Outcome::Unknown { reason }, _, Some(want)) if !reason.contains(want.as_str()) => why.push(format!("reason {reason:?}")),
            _ => {}
        }
        if !why.is_empty() {
            problems.push(format!(
                "result `{}`: {} (expected {} {} {})",
                e.id,
                why.join("; "),
                e.kind,
                e.id,
                e.status
            ));
        }
    }
    if expect.warnings.len() != report.warnings.len() {
        problems.push(format!("{} warnings, expected {}", report.warnings.len(), expect.warnings.len()));
    }
    for (e, a) in expect.warnings.iter().zip(&report.warnings) {
        // Files are named from the case folder (`roles/org.yaml`).
        let file_ok = e.file.as_deref().is_none_or(|f| a.location.file.ends_with(&format!("/{f}")));
        let line_ok = e.line.is_none_or(|l| l == a.location.line);
        if e.code != a.code.as_str() || e.message != a.message || !file_ok || !line_ok {
            problems.push(format!("warning {} at {}: {:?}", a.code, a.location, a.message));
        }
    }
}

/// The subject matches the invariant's `for`, asked of Cedar on the oracle's store.
fn matches_for(project: &Project, cx: &Counterexample, for_cedar: &str) -> Result<bool, String> {
    let subject = &cx.identities[0];
    let owner = cx.identities.get(1);
    let mut extra = vec![identity_entity(&project.defs, subject, cx.as_of, owner.is_some()).map_err(|e| e.to_string())?];
    if let Some(o) = owner {
        extra.push(identity_entity(&project.defs, o, cx.as_of, false).map_err(|e| e.to_string())?);
    }
    let entities = project
        .compiled
        .entities()?
        .clone()
        .add_entities(extra, None)
        .map_err(|e| e.to_string())?;
    let policy: Policy = format!("permit (principal, action, resource) when {{ {for_cedar} }};")
        .parse()
        .map_err(|e| format!("{e}"))?;
    let mut set = PolicySet::new();
    set.add(policy).map_err(|e| e.to_string())?;
    let request =
        hold_request(&subject.id, &cx.entitlements[0], context_at(cx.as_of).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    Ok(Authorizer::new().is_authorized(&request, &set, &entities).decision() == Decision::Allow)
}

fn expand(project: &Project, grants: &[GrantRef]) -> BTreeSet<String> {
    grants.iter().flat_map(|g| project.graph.expand(g)).collect()
}

/// Holds a failed result's counterexample to what it claims (see the module doc).
fn check_counterexample(project: &Arc<Project>, id: &str, kind: ProofKind, cx: &Counterexample) -> Result<(), String> {
    // The feed reader accepts every record, as `entitle eval --identity` would read them.
    let jsonl: String = cx
        .identities
        .iter()
        .map(|i| serde_json::to_string(&i.to_json()).unwrap_or_default() + "\n")
        .collect();
    let feed = entitle::io::identities::parse_identities("counterexample.jsonl", jsonl.as_bytes(), None, &project.defs)
        .map_err(|e| format!("the feed reader refuses the counterexample: {e}"))?;
    if !feed.invalid.is_empty() {
        return Err(format!("invalid records: {:?}\n{jsonl}", feed.invalid));
    }
    if feed.identities != cx.identities {
        return Err("the records read back differently".into());
    }
    // Engine and oracle agree, and the subject holds everything listed.
    let desired = common::assert_engine_matches_oracle(project, &feed.identities, cx.as_of);
    let subject = &cx.identities[0];
    let held: BTreeSet<&str> = desired[&subject.id].entitlements().collect();
    for e in &cx.entitlements {
        if !held.contains(e.as_str()) {
            return Err(format!("`{}` does not hold `{e}` at {}: {held:?}", subject.id, cx.as_of));
        }
    }
    match kind {
        ProofKind::Invariant => {
            let inv = &project.defs.invariants[id];
            let [e] = cx.entitlements.as_slice() else {
                return Err(format!("an invariant counterexample names one entitlement: {:?}", cx.entitlements));
            };
            if !matches_for(project, cx, &condition(&inv.subject))? {
                return Err(format!("`{}` does not match the `for` of `{id}`", subject.id));
            }
            let entitlement = &project.defs.entitlements[e];
            let forbidden = match &inv.rule {
                InvariantRule::HoldsNothing => true,
                InvariantRule::Never(f) => {
                    f.privileged.is_none_or(|p| p == entitlement.privileged)
                        && f.application.as_ref().is_none_or(|a| *a == entitlement.application)
                        && (f.entitlements.is_empty() || expand(project, &f.entitlements).contains(e))
                }
                InvariantRule::Only(allowed) => !expand(project, allowed).contains(e),
            };
            if !forbidden {
                return Err(format!("`{e}` is not something `{id}` forbids"));
            }
        }
        ProofKind::Sod => {
            let rule = &project.defs.sod[id];
            let sides: Vec<BTreeSet<String>> = rule.sides.iter().map(|s| expand(project, s)).collect();
            let two_sides = match cx.entitlements.as_slice() {
                [one] => sides.iter().filter(|s| s.contains(one)).count() >= 2,
                [a, b] => (0..sides.len()).any(|i| (0..sides.len()).any(|j| i != j && sides[i].contains(a) && sides[j].contains(b))),
                _ => false,
            };
            if !two_sides {
                return Err(format!("{:?} are not from two sides of `{id}`", cx.entitlements));
            }
        }
    }
    Ok(())
}

fn run_case(dir: &Path, covered: &mut BTreeSet<String>) -> Result<(), String> {
    let text = std::fs::read_to_string(dir.join("expect.yaml")).map_err(|e| format!("cannot read expect.yaml: {e}"))?;
    let expect: Expect = serde_yaml::from_str(&text).map_err(|e| format!("not a valid expect.yaml: {e}"))?;
    let project = load(dir)?;
    let mut options = ProveOptions {
        jobs: 2,
        definitions: expect.definitions,
        ..ProveOptions::default()
    };
    if let Some(t) = &expect.timeout {
        options.timeout = parse_duration(t)?;
    }
    let report = prove(&project, &options).map_err(|e| format!("prove: {e}"))?;
    let mut problems = Vec::new();
    compare(&expect, &report, &mut problems);
    for r in &report.results {
        if let Outcome::Failed { counterexample } = &r.outcome {
            if let Err(why) = check_counterexample(&project, &r.id, r.kind, counterexample) {
                problems.push(format!("counterexample of `{}`: {why}", r.id));
            }
        }
    }
    if !problems.is_empty() {
        let mut report_text = format!("{}\n  problems:\n", expect.description);
        for p in &problems {
            let _ = writeln!(report_text, "    - {p}");
        }
        let _ = write!(report_text, "  actual, as expect.yaml lines:\n{}", as_expect(&report));
        return Err(report_text);
    }
    for r in &report.results {
        if let Some(d) = r.diagnostic() {
            covered.insert(d.code.as_str().to_string());
        }
    }
    covered.extend(report.warnings.iter().map(|w| w.code.as_str().to_string()));
    Ok(())
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let (n, scale) = match text.strip_suffix("ms") {
        Some(n) => (n, 1),
        None => (
            text.strip_suffix('s').ok_or_else(|| format!("`{text}`: write `60s` or `5ms`"))?,
            1000,
        ),
    };
    n.parse::<u64>()
        .map(|n| Duration::from_millis(n * scale))
        .map_err(|e| format!("`{text}`: {e}"))
}

#[test]
fn prove_cases() {
    let dirs = case_dirs();
    assert!(!dirs.is_empty(), "no cases under {}", cases_dir().display());
    let mut covered = BTreeSet::new();
    let mut failures = BTreeMap::new();
    for dir in &dirs {
        if let Err(report) = run_case(dir, &mut covered) {
            let name = dir.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(dir);
            failures.insert(name.display().to_string(), report);
        }
    }
    let uncovered: Vec<&str> = Code::FROM_SOLVER
        .iter()
        .filter(|c| !covered.contains(c.as_str()))
        .map(|c| c.as_str())
        .collect();
    if !uncovered.is_empty() {
        failures.insert(
            "coverage".into(),
            format!("no passing case shows these codes: {}", uncovered.join(", ")),
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {} prove cases failed:\n\n{}",
        failures.len(),
        dirs.len(),
        failures.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("\n\n")
    );
}
