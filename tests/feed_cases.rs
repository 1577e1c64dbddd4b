//! Data-driven reader cases: every `tests/cases/feeds/*.yaml` is one small
//! identity feed and exactly what reading it must give; every
//! `tests/cases/live/*.yaml` is one live export and its grants or error.
//! Adding a case is adding a file (files starting with `_` are not cases).
//!
//! # Feed case format
//!
//! ```yaml
//! description: a CSV quote that never closes swallows no row   # one line
//! class: 1                 # the failure class of issue #7 it guards (0: plain reading)
//! file: people.csv         # the name it is read as (drives format detection)
//! format: csv              # optional: force a format (json, jsonl, csv, scim)
//! input: |                 # the feed; use a "double-quoted" string for control characters
//!   id,kind,status
//!   u-1,person,"active
//!   u-2,person,active
//! live: |                  # optional: live state (JSON Lines) to plan against
//!   {"identity": "u-9", "entitlement": "okta:sso"}
//! expect:                  # exactly this, compared whole
//!   valid: [u-2]           # ids of the valid records, in input order
//!   invalid:               # invalid records in input order
//!     - { line: 2, id: u-1, guessed: true, error: "a quoted cell opened at line 2 is never closed" }
//!   uncertain:             # uncertain stretches
//!     - { lines: 2-4, reason: "a quoted cell opened at line 2 is never closed" }
//!   plan:                  # with `live`: the forced plan's revocations and held-back identities
//!     revokes: []          # "identity entitlement reason"
//!     held_back: [u-9]
//! # or, for an input that cannot be read at all:
//! expect:
//!   error: "people.csv:1: the CSV has no header line (...)"
//! ```
//!
//! # Live case format
//!
//! ```yaml
//! description: an unbalanced quote is an error with its line
//! class: 3
//! file: live.csv
//! app: github              # optional: the application of a SCIM group export
//! input: "..."
//! expect:
//!   grants: ["u-1 okta:sso 1"]   # "identity entitlement line", in input order
//! # or
//! expect:
//!   error: "live.csv:2: a quoted cell opened at line 2 is never closed"
//! ```
//!
//! The harness runs every case and fails once, listing each failing case with
//! its actual outcome as an `expect:` block ready to paste (after checking
//! it). It also fails when a class of issue #7 has no passing case for a
//! format it applies to (see `REQUIRED`).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use entitle::eval::Engine;
use entitle::io::identities::{parse_identities, IdentityFeed, IdentityFormat};
use entitle::io::live::{parse_live, LiveFormat};
use entitle::model::SourceFile;
use entitle::plan::{plan, Change, GuardLimits, PlanOptions};
use entitle::population::Population;
use entitle::project::{Project, Sources};
use entitle::Instant;
use serde::{Deserialize, Serialize};

/// (class, format) pairs that must each have a passing case: every class of
/// issue #7 the readers own, for every format it applies to.
const REQUIRED: &[(u8, &str)] = &[
    (1, "jsonl"),
    (1, "json"),
    (1, "csv"),
    (1, "scim"),
    (2, "scim"),
    (3, "live-csv"),
    (3, "live-jsonl"),
    (3, "live-scim"),
    (4, "jsonl"),
    (4, "csv"),
    (4, "scim"),
    (6, "jsonl"),
    (6, "json"),
    (6, "csv"),
    (6, "scim"),
    (6, "live-csv"),
    (6, "live-jsonl"),
    (6, "live-scim"),
];

const AS_OF: &str = "2026-11-21T00:00:00Z";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedCase {
    description: String,
    class: u8,
    file: String,
    #[serde(default)]
    format: Option<String>,
    input: String,
    #[serde(default)]
    live: Option<String>,
    expect: FeedOutcome,
}

#[derive(Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct FeedOutcome {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    valid: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    invalid: Vec<Invalid>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    uncertain: Vec<Stretch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    plan: Option<PlanOutcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Invalid {
    line: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    guessed: bool,
    error: String,
}

#[derive(Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Stretch {
    lines: String,
    reason: String,
}

#[derive(Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct PlanOutcome {
    #[serde(default)]
    revokes: Vec<String>,
    #[serde(default)]
    held_back: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LiveCase {
    description: String,
    class: u8,
    file: String,
    #[serde(default)]
    app: Option<String>,
    #[serde(default)]
    format: Option<String>,
    input: String,
    expect: LiveOutcome,
}

#[derive(Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct LiveOutcome {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    grants: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn cases_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases").join(kind)
}

fn case_files(kind: &str) -> Vec<PathBuf> {
    let dir = cases_dir(kind);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter(|p| !p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('_')))
        .collect();
    paths.sort();
    paths
}

fn project() -> Arc<Project> {
    let path = cases_dir("feeds").join("_definitions.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let sources = Sources {
        roles: vec![SourceFile {
            name: "_definitions.yaml".into(),
            text,
        }],
        policies: vec![],
    };
    match Project::from_sources(&sources) {
        Ok(project) => Arc::new(project),
        Err(f) => panic!("the shared definitions do not load: {:?}", f.diagnostics),
    }
}

fn as_yaml(value: &impl Serialize) -> String {
    let text = serde_yaml::to_string(value).unwrap_or_else(|e| format!("(cannot render: {e})"));
    text.lines().map(|l| format!("  {l}\n")).collect()
}

fn feed_outcome(feed: &IdentityFeed) -> FeedOutcome {
    FeedOutcome {
        valid: feed.identities.iter().map(|i| i.id.clone()).collect(),
        invalid: feed
            .invalid
            .iter()
            .map(|r| Invalid {
                line: r.line,
                id: r.id.clone(),
                guessed: r.id_uncertain && r.id.is_some(),
                error: r.error.clone(),
            })
            .collect(),
        uncertain: feed
            .uncertain
            .iter()
            .map(|s| Stretch {
                lines: if s.last_line > s.first_line {
                    format!("{}-{}", s.first_line, s.last_line)
                } else {
                    s.first_line.to_string()
                },
                reason: s.reason.clone(),
            })
            .collect(),
        plan: None,
        error: None,
    }
}

fn plan_outcome(project: &Arc<Project>, feed: IdentityFeed, live: &str) -> Result<PlanOutcome, String> {
    let live = parse_live("live.jsonl", live.as_bytes(), None, None).map_err(|e| format!("the case's live state: {e}"))?;
    let engine = Engine::new(project.clone()).map_err(|e| e.to_string())?;
    let options = PlanOptions {
        as_of: Instant::parse(AS_OF)?,
        limits: GuardLimits::default(),
        // The readers must protect people by themselves: the guards are off.
        force: true,
        governance: Default::default(),
    };
    let plan = plan(project, &engine, &Population::new(feed), &[live], &options, &|_| ()).map_err(|e| e.to_string())?;
    Ok(PlanOutcome {
        revokes: plan
            .changes
            .iter()
            .filter_map(|c| match c {
                Change::Revoke {
                    identity,
                    entitlement,
                    reason,
                    ..
                } => Some(format!("{identity} {entitlement} {}", reason.as_str())),
                Change::Grant { .. } => None,
            })
            .collect(),
        held_back: plan.held_back.iter().map(|h| h.identity.clone()).collect(),
    })
}

fn feed_format(case: &FeedCase) -> Result<(Option<IdentityFormat>, &'static str), String> {
    let forced = case.format.as_deref().map(str::parse::<IdentityFormat>).transpose()?;
    let format = forced.unwrap_or_else(|| IdentityFormat::detect(&case.file, &case.input));
    Ok((forced, format.name()))
}

/// Runs one feed case: `Err` describes how it failed.
fn run_feed_case(project: &Arc<Project>, path: &Path, covered: &mut BTreeSet<(u8, String)>) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let case: FeedCase = serde_yaml::from_str(&text).map_err(|e| format!("not a valid case file: {e}"))?;
    let (forced, format) = feed_format(&case)?;
    let actual = match parse_identities(&case.file, case.input.as_bytes(), forced, &project.defs) {
        Err(e) => FeedOutcome {
            error: Some(e.to_string()),
            ..FeedOutcome::default()
        },
        Ok(feed) => {
            let mut outcome = feed_outcome(&feed);
            if let Some(live) = &case.live {
                outcome.plan = Some(plan_outcome(project, feed, live)?);
            }
            outcome
        }
    };
    if actual == case.expect {
        covered.insert((case.class, format.to_string()));
        return Ok(());
    }
    Err(format!(
        "{}\n  expected:\n{}  actual (as `expect:`, to paste once checked):\n{}",
        case.description,
        as_yaml(&case.expect),
        as_yaml(&actual)
    ))
}

/// Runs one live case: `Err` describes how it failed.
fn run_live_case(path: &Path, covered: &mut BTreeSet<(u8, String)>) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let case: LiveCase = serde_yaml::from_str(&text).map_err(|e| format!("not a valid case file: {e}"))?;
    let forced = match case.format.as_deref() {
        None => None,
        Some("jsonl") => Some(LiveFormat::JsonLines),
        Some("csv") => Some(LiveFormat::Csv),
        Some("scim") => Some(LiveFormat::ScimGroups {
            app: case.app.clone().unwrap_or_default(),
        }),
        Some(other) => return Err(format!("unknown live format `{other}` (jsonl, csv, scim)")),
    };
    let format = match (&forced, LiveFormat::from_extension(&case.file)) {
        (Some(LiveFormat::Csv), _) | (None, Some(LiveFormat::Csv)) => "live-csv",
        (Some(LiveFormat::ScimGroups { .. }), _) => "live-scim",
        _ if case.input.contains("ListResponse") => "live-scim",
        _ if case.input.trim_start().starts_with('{') => "live-jsonl",
        _ => "live-csv",
    };
    let actual = match parse_live(&case.file, case.input.as_bytes(), forced, case.app.as_deref()) {
        Ok(live) => LiveOutcome {
            grants: live
                .grants()
                .map(|g| format!("{} {} {}", g.identity(), g.entitlement(), g.line()))
                .collect(),
            error: None,
        },
        Err(e) => LiveOutcome {
            grants: Vec::new(),
            error: Some(e.to_string()),
        },
    };
    if actual == case.expect {
        covered.insert((case.class, format.to_string()));
        return Ok(());
    }
    Err(format!(
        "{}\n  expected:\n{}  actual (as `expect:`, to paste once checked):\n{}",
        case.description,
        as_yaml(&case.expect),
        as_yaml(&actual)
    ))
}

#[test]
fn feed_and_live_cases() {
    let project = project();
    let mut covered = BTreeSet::new();
    let mut failures = Vec::new();
    let mut count = 0;
    for (kind, path) in case_files("feeds")
        .into_iter()
        .map(|p| ("feeds", p))
        .chain(case_files("live").into_iter().map(|p| ("live", p)))
    {
        count += 1;
        let result = if kind == "feeds" {
            run_feed_case(&project, &path, &mut covered)
        } else {
            run_live_case(&path, &mut covered)
        };
        if let Err(report) = result {
            let name = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(&path);
            failures.push(format!("{}: {report}", name.display()));
        }
    }
    assert!(count > 0, "no cases under tests/cases/feeds or tests/cases/live");
    let missing: Vec<String> = REQUIRED
        .iter()
        .filter(|(class, format)| !covered.contains(&(*class, format.to_string())))
        .map(|(class, format)| format!("class {class} in {format}"))
        .collect();
    if !missing.is_empty() {
        failures.push(format!("no passing case covers: {}", missing.join(", ")));
    }
    let mut report = String::new();
    for f in &failures {
        let _ = writeln!(report, "{f}\n");
    }
    assert!(
        failures.is_empty(),
        "{} of {count} reader cases failed:\n\n{report}",
        failures.len()
    );
}
