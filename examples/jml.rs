//! A joiner, a mover and a leaver, handled by a provisioning workflow through
//! the library alone (no command line, no files in between):
//!
//! ```text
//! cargo run --no-default-features --example jml
//! ```
//!
//! It loads the example organisation (`roles/`, `policies/`,
//! `fixtures/identities.jsonl`) once, takes what yesterday's run provisioned
//! as the live grants (built in memory, as a connector would hand them over),
//! applies three HR events — u-2001 joins Engineering, u-1042 moves from
//! Finance to Engineering, u-1015 leaves — evaluates each person (their owned
//! service accounts follow them: the engine finds owners in the population),
//! and plans the grants and revocations.
//!
//! Errors travel with `?` in both usual styles: `Box<dyn Error>` (`load`,
//! `main`) and `anyhow` (the rest). Without the `cli` feature, none of the
//! command's dependencies are compiled.

use std::collections::BTreeSet;
use std::error::Error;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use entitle::eval::{Engine, Evaluator};
use entitle::io::identities::read_identities;
use entitle::io::live::LiveFile;
use entitle::plan::{Change, Plan, PlanOptions, Planner};
use entitle::population::Population;
use entitle::state::IdentityState;
use entitle::{Instant, Project};

fn main() -> Result<(), Box<dyn Error>> {
    let (project, engine, yesterday) = load()?;
    let today = Instant::parse("2026-11-23")?;

    // What yesterday's run provisioned: every identity's desired grants. A
    // real workflow gets them from its connectors; no export file is needed.
    let live = provisioned(&engine, &yesterday, today)?;

    let joiner = joiner(&project)?;
    let population = hr_events(&yesterday, joiner, &project)?;

    for id in ["u-2001", "u-1042", "u-1015", "svc-ci-dev"] {
        let before = entitlements(&engine, &yesterday, id, today)?;
        let after = entitlements(&engine, &population, id, today)?;
        let gained: Vec<&String> = after.difference(&before).collect();
        let lost: Vec<&String> = before.difference(&after).collect();
        println!("{id}: +{} -{} entitlements", gained.len(), lost.len());
    }
    // Why the joiner gets their first entitlement: the role, the package path, the YAML line.
    let desired = engine.desired_in(&population, "u-2001", today)?;
    if let Some((entitlement, why)) = desired.because().next() {
        println!("u-2001 gets {entitlement} because of {}", serde_json::to_string(&why)?);
    }

    let plan = plan(&engine, &population, live, today)?;
    let s = &plan.summary;
    println!("plan: {} grants, {} revocations {:?}", s.grants, s.revokes, s.revokes_by_reason);
    for change in plan.changes.iter().filter(|c| c.key().0 == "u-1015").take(3) {
        if let Change::Revoke {
            entitlement,
            reason,
            forbidden_by,
            ..
        } = change
        {
            println!(
                "  revoke {entitlement} from u-1015: {} {}",
                reason.as_str(),
                forbidden_by.as_deref().unwrap_or("")
            );
        }
    }
    Ok(())
}

/// Once, when the workflow starts: the definitions, the engine, the HR feed.
fn load() -> Result<(Arc<Project>, Engine, Population), Box<dyn Error>> {
    // The repository root, so sources are named `roles/...` as the command names them.
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR"))?;
    // A definition error arrives here as a `LoadFailure`: printed, it shows each diagnostic with its line.
    let project = Arc::new(Project::load(Path::new("roles"), Some(Path::new("policies")))?);
    let engine = Engine::new(project.clone())?;
    let feed = read_identities(Path::new("fixtures/identities.jsonl"), None, &project.defs)?;
    Ok((project, engine, Population::new(feed)))
}

/// Every valid identity's desired grants, as live grants built in memory.
fn provisioned(engine: &Engine, population: &Population, at: Instant) -> anyhow::Result<LiveFile> {
    let mut grants = Vec::new();
    for identity in &population.feed.identities {
        let desired = engine.desired_in(population, &identity.id, at)?;
        grants.extend(desired.entitlements().map(|e| (identity.id.clone(), e.to_string())));
    }
    Ok(LiveFile::from_grants("connectors", grants)?)
}

/// The joiner's record, as the HR system sends it (validated like a feed record).
fn joiner(project: &Project) -> anyhow::Result<IdentityState> {
    let record = serde_json::json!({"id": "u-2001", "kind": "person", "attributes": {
        "status": "active", "department": "Engineering", "job_code": "ENG-110",
        "location": "London", "worker_type": "employee", "start_date": "2026-11-23", "clearance": 1}});
    IdentityState::from_json(&record, &project.defs).context("the joiner's record")
}

/// Today's population: yesterday's, with the joiner added, u-1042 moved and u-1015 gone.
fn hr_events(yesterday: &Population, joiner: IdentityState, project: &Project) -> anyhow::Result<Population> {
    let mut records = Vec::new();
    for identity in &yesterday.feed.identities {
        let mut record = identity.to_json();
        match identity.id.as_str() {
            "u-1042" => {
                record["attributes"]["department"] = "Engineering".into();
                record["attributes"]["job_code"] = "ENG-110".into();
            }
            "u-1015" => record["attributes"]["status"] = "terminated".into(),
            _ => {}
        }
        records.push(IdentityState::from_json(&record, &project.defs)?);
    }
    records.push(joiner);
    Ok(Population::from_records(records))
}

/// The entitlements `id` should hold in `population` (none when it is not there).
fn entitlements(engine: &Engine, population: &Population, id: &str, at: Instant) -> anyhow::Result<BTreeSet<String>> {
    if population.get(id).is_none() {
        return Ok(BTreeSet::new());
    }
    let desired = engine
        .desired_in(population, id, at)
        .with_context(|| format!("evaluating `{id}`"))?;
    Ok(desired.entitlements().map(str::to_string).collect())
}

/// The plan of today's population against the live grants, with the default guards.
fn plan(engine: &Engine, population: &Population, live: LiveFile, at: Instant) -> anyhow::Result<Plan> {
    let plan = Planner::new(engine, PlanOptions::new(at)).plan(population, &[live])?;
    if let Some(why) = &plan.refused {
        anyhow::bail!("the plan is refused: {why}");
    }
    Ok(plan)
}
