//! `entitle explain ID ENTITLEMENT`: why an identity holds it, or why not.

use std::path::{Path, PathBuf};

use entitle::diag::did_you_mean;
use entitle::eval::explain::{explain, render};
use entitle::population::OwnerRecord;

use super::common::{as_of, evaluator, load_project, print_error, read_population, EvalArgs};
use super::{EXIT_OK, EXIT_USAGE};
use entitle::io::ReadBudget;
use entitle::term::one_line;

/// Arguments of `explain`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The identity id.
    id: String,
    /// The full entitlement id (`application:entitlement`).
    entitlement: String,
    /// Identity states holding the identity (and its owner).
    #[arg(long)]
    identities: PathBuf,
    #[command(flatten)]
    eval: EvalArgs,
}

pub fn run(roles: &Path, policies: Option<&Path>, args: Args) -> anyhow::Result<i32> {
    let project = load_project(roles, policies)?;
    let at = as_of(args.eval.as_of.as_deref())?;
    let population = read_population(&args.identities, &project, &ReadBudget::per_run())?;
    if !project.defs.entitlements.contains_key(&args.entitlement) {
        let help = did_you_mean(&args.entitlement, project.defs.entitlements.keys().map(String::as_str)).unwrap_or_default();
        print_error(format_args!("unknown entitlement `{}` {help}", args.entitlement));
        return Ok(EXIT_USAGE);
    }
    let Some(identity) = population.get(&args.id) else {
        if let Some(r) = population.feed.invalid.iter().find(|r| r.id.as_deref() == Some(args.id.as_str())) {
            print_error(format_args!(
                "{}:{}: `{}` is invalid: {}",
                population.feed.file, r.line, args.id, r.error
            ));
        } else {
            let help = did_you_mean(&args.id, population.feed.identities.iter().map(|s| s.id.as_str())).unwrap_or_default();
            print_error(format_args!("no identity `{}` in {} {help}", args.id, population.feed.file));
        }
        return Ok(EXIT_USAGE);
    };
    let owner = population.owner_of(identity);
    let evaluator = evaluator(&project, args.eval.engine)?;
    let explanation = explain(&project, evaluator.as_ref(), identity, owner.record(), at, &args.entitlement)?;
    print!("{}", render(&identity.id, &args.entitlement, &explanation));
    match owner {
        OwnerRecord::Unknown => println!(
            "note: {}",
            one_line(&format!(
                "owner `{}` is not in {}; owner conditions are false",
                identity.owner.as_deref().unwrap_or_default(),
                population.feed.file
            ))
        ),
        OwnerRecord::Invalid => println!(
            "note: {}",
            one_line(&format!(
                "owner `{}` has an invalid record",
                identity.owner.as_deref().unwrap_or_default()
            ))
        ),
        _ => {}
    }
    Ok(EXIT_OK)
}
