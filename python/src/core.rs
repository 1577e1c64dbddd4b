//! Every call the binding makes into the `entitle` crate, in one place: the
//! Python classes (`lib.rs`) and the Arrow conversions (`arrow.rs`) go
//! through these few functions, so a change of the library's API is adapted
//! here only.
//!
//! Owns: loading, evaluating, planning, what-if, a partition's plan with its
//! guard figures. Never touches Python objects: errors come back as
//! [`Failure`], which `lib.rs` turns into typed Python exceptions.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use entitle::eval::{DesiredSet, Engine, Evaluator};
use entitle::io::identities::{parse_identities, IdentityFeed, IdentityFormat};
use entitle::io::live::{LiveFile, LiveFileBuilder};
use entitle::plan::guards::{check_counts, GuardCounts};
use entitle::plan::{GuardLimits, Limit, Plan, PlanOptions, Planner};
use entitle::population::Population;
use entitle::project::{Project, Sources};
use entitle::state::IdentityState;
use entitle::whatif::{self, edit, scope, State};
use entitle::{Diagnostic, Instant};

/// Why a call failed: the kind picks the Python exception; the diagnostics
/// carry code, file and line.
#[derive(Debug)]
pub enum Failure {
    /// The definitions do not load (every diagnostic, errors first).
    Load(Vec<Diagnostic>),
    /// An identity record cannot be used.
    Record { message: String, file: String, line: u32 },
    /// An input (feed, live state, argument) cannot be read.
    Input { message: String, file: String, line: u32 },
    /// The evaluation failed.
    Eval(String),
}

impl Failure {
    fn input(file: &str, message: impl ToString) -> Failure {
        let message = message.to_string();
        // Input errors read `file:line[:column]: ...`: the line is the number after the file.
        let line = message
            .strip_prefix(file)
            .and_then(|rest| rest.strip_prefix(':'))
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        Failure::Input {
            message,
            file: file.to_string(),
            line,
        }
    }

    fn argument(name: &str, message: impl std::fmt::Display) -> Failure {
        Failure::Input {
            message: format!("{name}: {message}"),
            file: String::new(),
            line: 0,
        }
    }
}

/// Loads a project from directories; `policies` is `None` only when there are no guardrails.
pub fn load_dirs(roles: &Path, policies: Option<&Path>) -> Result<Project, Failure> {
    Project::load(roles, policies).map_err(|f| Failure::Load(f.diagnostics))
}

/// Loads a project from in-memory files.
pub fn load_strings(sources: Sources) -> Result<Project, Failure> {
    Project::from_sources(&sources).map_err(|f| Failure::Load(f.diagnostics))
}

/// The engine of a project.
pub fn engine(project: Arc<Project>) -> Result<Engine, Failure> {
    Engine::new(project).map_err(|e| Failure::Eval(e.to_string()))
}

/// The instant `text` names, or now.
pub fn instant(text: Option<&str>) -> Result<Instant, Failure> {
    match text {
        None => Ok(Instant::now()),
        Some(t) => Instant::parse(t).map_err(|e| Failure::argument("as_of", e)),
    }
}

/// A record (JSON) as an identity state.
pub fn record(project: &Project, json: &serde_json::Value, file: &str) -> Result<IdentityState, Failure> {
    IdentityState::from_json(json, &project.defs).map_err(|e| Failure::Record {
        message: e.to_string(),
        file: file.to_string(),
        line: 0,
    })
}

/// One identity's desired state.
pub fn desired(engine: &Engine, identity: &IdentityState, owner: Option<&IdentityState>, at: Instant) -> Result<DesiredSet, Failure> {
    // TODO(lib11): `engine.desired_in(&population, id, at)`.
    engine.desired(identity, owner, at).map_err(|e| Failure::Eval(e.to_string()))
}

/// An identity feed from text (JSON, JSON Lines, CSV or SCIM, told by `file`'s extension or the content).
pub fn feed(project: &Project, file: &str, text: &[u8]) -> Result<IdentityFeed, Failure> {
    parse_identities(file, text, None, &project.defs).map_err(|e| Failure::input(file, e))
}

/// A feed of JSON Lines records, exactly as `entitle plan` reads one.
pub fn feed_lines(project: &Project, file: &str, lines: &[String]) -> Result<IdentityFeed, Failure> {
    let text = lines.join("\n");
    parse_identities(file, text.as_bytes(), Some(IdentityFormat::JsonLines), &project.defs).map_err(|e| Failure::input(file, e))
}

/// Live grants as a live file (a grant given twice counts once).
pub fn live(file: &str, grants: impl IntoIterator<Item = (String, String)>) -> Result<(LiveFile, usize), Failure> {
    let mut builder = LiveFileBuilder::new(file);
    let mut identities = HashSet::new();
    for (n, (identity, entitlement)) in grants.into_iter().enumerate() {
        let line = u32::try_from(n + 1).unwrap_or(u32::MAX);
        builder.add(&identity, &entitlement, line).map_err(|e| Failure::Input {
            message: format!("{file}:{line}: {e}"),
            file: file.to_string(),
            line,
        })?;
        identities.insert(identity);
    }
    Ok((builder.finish(""), identities.len()))
}

/// Guard limits from their textual forms (`500 or 10%`); `None` keeps the default.
pub fn limits(given: [(&str, Option<&str>); 4]) -> Result<GuardLimits, Failure> {
    let mut limits = GuardLimits::default();
    for (name, text) in given {
        let Some(text) = text else { continue };
        let limit: Limit = text.parse().map_err(|e| Failure::argument(name, e))?;
        match name {
            "max_revokes" => limits.max_revokes = limit,
            "max_invalid" => limits.max_invalid = limit,
            "max_orphaned" => limits.max_orphaned = limit,
            _ => limits.max_privileged_grants = limit,
        }
    }
    Ok(limits)
}

/// The plan of a feed against live files, as `entitle plan` computes it.
pub fn plan_of(
    project: &Project,
    engine: &Engine,
    population: &Population,
    live: &[LiveFile],
    at: Instant,
    limits: GuardLimits,
    force: bool,
) -> Result<Plan, Failure> {
    let _ = project; // the engine names the definitions
    let options = PlanOptions::new(at).with_limits(limits).with_force(force);
    Planner::new(engine, options).plan(population, live).map_err(|e| Failure::Eval(e.to_string()))
}

/// A part of a population closed under ownership, planned without its
/// guards: its changes (none held back by a guard) and the figures the
/// guards read, to be added up over every part before anything is emitted.
pub fn plan_part(
    project: &Project,
    engine: &Engine,
    feed: IdentityFeed,
    live: LiveFile,
    live_identities: usize,
    at: Instant,
) -> Result<(Plan, GuardCounts), Failure> {
    let records = feed.identities.len() + feed.invalid.len();
    let population = Population::new(feed);
    let live = [live];
    // Forced: the guards are judged once, on the figures of every part together.
    let plan = plan_of(project, engine, &population, &live, at, GuardLimits::default(), true)?;
    let catalog = project.catalog();
    let privileged = |e: &str| catalog.entitlements.id(e).is_some_and(|e| catalog.entitlement(e).privileged);
    let counts = GuardCounts::of(&plan, records, live_identities, &privileged);
    Ok((plan, counts))
}

/// Every guard the figures of a whole population trip.
pub fn guards(counts: &GuardCounts, limits: &GuardLimits) -> Vec<String> {
    check_counts(counts, limits)
}

/// What-if: the population before and after `edits` (`--set` syntax), at
/// `at` and `to`, under `base` (before) and `project` (after) definitions.
#[allow(clippy::too_many_arguments)]
pub fn whatif(
    base: (&Arc<Project>, &Engine),
    head: (&Arc<Project>, &Engine),
    file: &str,
    text: &[u8],
    edits: &[String],
    at: Instant,
    to: Instant,
) -> Result<whatif::WhatIf, Failure> {
    let head_population = Population::new(feed(head.0, file, text)?);
    let policy_change = !Arc::ptr_eq(base.0, head.0);
    let base_population = if policy_change && !scope::read_feeds_alike(base.0, head.0) {
        Some(Population::new(feed(base.0, file, text)?))
    } else {
        None
    };
    let edits: Vec<edit::Edit> = edits
        .iter()
        .map(|e| edit::Edit::set(e).map_err(|e| Failure::argument("edits", e.to_string())))
        .collect::<Result<_, _>>()?;
    let after_population = if edits.is_empty() {
        None
    } else {
        Some(edit::apply(head.0, &head_population, &edits).map_err(|e| Failure::argument("edits", e.to_string()))?)
    };
    // Labelled as `entitle whatif` labels them.
    let mut after_label = if policy_change { "working tree" } else { "current" }.to_string();
    if !edits.is_empty() {
        after_label.push_str(&format!(
            " with {} HR {}",
            edits.len(),
            if edits.len() == 1 { "edit" } else { "edits" }
        ));
    }
    let before = State {
        label: if policy_change { "base" } else { "current" },
        project: base.0,
        evaluator: base.1 as &dyn Evaluator,
        population: base_population.as_ref().unwrap_or(&head_population),
        at,
    };
    let after = State {
        label: &after_label,
        project: head.0,
        evaluator: head.1 as &dyn Evaluator,
        population: after_population.as_ref().unwrap_or(&head_population),
        at: to,
    };
    let scope = scope::between(&before, &after, Some((base.1, head.1)));
    whatif::compare(&before, &after, &scope, &|_| ()).map_err(|e| Failure::Eval(e.to_string()))
}
