//! A mover previewed from a provisioning workflow, through the library: what
//! happens when u-1042 moves from Finance to Engineering on Monday?
//!
//! ```text
//! cargo run --example mover [-- ID DEPARTMENT JOB_CODE AS_OF]
//! ```
//!
//! It loads the example organisation (`roles/`, `policies/`,
//! `fixtures/identities.jsonl`) once, applies the HR change to a copy of the
//! population, and compares the two: what the mover gains (and the role,
//! package path and YAML line that grant it) and loses (and why), the SoD
//! violations that appear or go, and the non-human identities they own,
//! which follow their owner. Only the mover and what they own are evaluated.

use std::path::Path;
use std::sync::Arc;

use entitle::eval::Engine;
use entitle::io::identities::read_identities;
use entitle::population::Population;
use entitle::whatif::edit::{apply, Edit};
use entitle::whatif::render::loss_phrase;
use entitle::whatif::{compare, scope, SodChangeKind, State};
use entitle::{Instant, Project};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_string());
    let (id, department, job_code, monday) = (arg(0, "u-1042"), arg(1, "Engineering"), arg(2, "ENG-110"), arg(3, "2026-11-23"));
    if let Err(e) = run(&id, &department, &job_code, &monday) {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

fn run(id: &str, department: &str, job_code: &str, monday: &str) -> Result<(), Box<dyn std::error::Error>> {
    // The repository root, so sources are named `roles/...` as the command names them.
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR"))?;

    // Once, when the workflow starts.
    let project = Arc::new(Project::load(Path::new("roles"), Some(Path::new("policies")))?);
    let engine = Engine::new(project.clone())?;
    let today = Population::new(read_identities(Path::new("fixtures/identities.jsonl"), None, &project.defs)?);

    // The HR event: a department and job code change, typed and validated like a feed record.
    let edits = [
        Edit::set(&format!("{id}.department={department}"))?,
        Edit::set(&format!("{id}.job_code={job_code}"))?,
    ];
    let after_move = apply(&project, &today, &edits)?;

    let at = Instant::parse(monday)?;
    let before = State {
        label: "today",
        project: &project,
        evaluator: &engine,
        population: &today,
        at,
    };
    let after = State {
        label: "after the move",
        population: &after_move,
        ..before
    };
    let scope = scope::between(&before, &after, Some((&engine, &engine)));
    let whatif = compare(&before, &after, &scope, &|_| ())?;

    println!(
        "{id} moves to {department} ({job_code}) on {monday}: evaluated {} of {} identities ({})",
        whatif.evaluation.evaluated, whatif.evaluation.identities, whatif.evaluation.reason
    );
    if whatif.changes.is_empty() {
        println!("nothing changes");
    }
    for change in &whatif.changes {
        println!("\n{}", change.identity);
        for role in &change.roles_gained {
            println!("  + role {role}");
        }
        for role in &change.roles_lost {
            println!("  - role {role}");
        }
        for e in &change.gained {
            let why = change.because.get(e).and_then(|j| j.first());
            let via = why
                .map(|j| format!(" (role `{}`, {})", j.role.as_deref().unwrap_or("-"), j.source))
                .unwrap_or_default();
            println!("  + {e}{via}");
        }
        for e in &change.lost {
            let why = change.lost_because.get(e).map(loss_phrase).unwrap_or_default();
            println!("  - {e}  ({why})");
            for grant in change.lost_because.get(e).map(|l| l.roles.as_slice()).unwrap_or_default() {
                for reason in &grant.reasons {
                    println!("      {reason}");
                }
            }
        }
    }
    for v in &whatif.sod_violations {
        let change = match v.change {
            SodChangeKind::Added => "now violates",
            SodChangeKind::Removed => "no longer violates",
        };
        println!("\n{} {change} separation of duties `{}`", v.identity, v.rule);
    }
    Ok(())
}
