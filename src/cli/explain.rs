//! `entitle explain ID ENTITLEMENT`: why an identity holds it, or why not —
//! with the reason `plan` would give for revoking it (a leaver's
//! `forbidden by leavers-hold-nothing`). Exit 0 when it holds it, 1 when not.

use std::path::PathBuf;

use entitle::diag::did_you_mean;
use entitle::eval::explain::{explain, render, Explanation};
use entitle::plan::reasons::revocation;
use entitle::plan::Change;
use entitle::population::{OwnerRecord, Population};
use entitle::Project;

use super::common::{as_of, evaluator, load_project, read_population, EvalArgs, Reported};
use super::context::Context;
use super::errors::{report, CliError};
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};
use entitle::io::ReadBudget;
use entitle::term::one_line;

/// Output formats of `explain`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// The reasons, one per line.
    #[default]
    Human,
    /// One JSON object: `holds`, `because` or `reason` and `roles`.
    Json,
}

/// Arguments of `explain`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The identity id.
    id: String,
    /// The full entitlement id (`application:entitlement`).
    entitlement: String,
    /// Identity states holding the identity (and its owner).
    #[arg(long, visible_alias = "identity", value_name = "FILE")]
    identities: PathBuf,
    #[command(flatten)]
    eval: EvalArgs,
    /// Output format (default: `human`, or entitle.toml's `output.format`).
    #[arg(long, value_enum)]
    format: Option<Format>,
}

fn usage(error: CliError) -> anyhow::Error {
    report(&error);
    Reported(EXIT_USAGE).into()
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<i32> {
    let output = ctx.format(args.format);
    let project = load_project(ctx)?;
    let at = as_of(args.eval.as_of.as_deref())?;
    let population = read_population(&ctx.input(&args.identities), &project, &ReadBudget::per_run())?;
    check_arguments(&project, &population, &args.id, &args.entitlement).map_err(usage)?;
    let Some(identity) = population.get(&args.id) else {
        return Err(usage(unknown_identity(&population, &args.id)));
    };
    let owner = population.owner_of(identity);
    let evaluator = evaluator(&project, args.eval.engine)?;
    let explanation = explain(&project, evaluator.as_ref(), identity, owner.record(), at, &args.entitlement)?;
    let holds = matches!(explanation, Explanation::Holds(_));
    // What `plan` would say when revoking it from a live account: the same function decides.
    let plan_reason = if holds {
        None
    } else {
        Some(revocation(
            &project,
            evaluator.as_ref(),
            identity,
            owner.record(),
            at,
            &args.entitlement,
        )?)
    };
    let note = match owner {
        OwnerRecord::Unknown => Some(format!(
            "owner `{}` is not in {}; owner conditions are false",
            identity.owner.as_deref().unwrap_or_default(),
            population.feed.file
        )),
        OwnerRecord::Invalid => Some(format!(
            "owner `{}` has an invalid record",
            identity.owner.as_deref().unwrap_or_default()
        )),
        _ => None,
    };
    match output {
        Format::Human => {
            print!("{}", render(&identity.id, &args.entitlement, &explanation));
            if let Some(Change::Revoke {
                reason,
                forbidden_by,
                detail,
                ..
            }) = &plan_reason
            {
                let mut line = format!("plan's reason: {}", reason.as_str());
                if let Some(by) = forbidden_by {
                    let ids: Vec<String> = by.split(", ").map(|id| format!("`{id}`")).collect();
                    line.push_str(&format!(" by {}", ids.join(", ")));
                }
                if let Some(detail) = detail {
                    line.push_str(&format!(" ({detail})"));
                }
                println!("{}", one_line(&line));
            }
            if let Some(note) = &note {
                println!("note: {}", one_line(note));
            }
        }
        Format::Json => {
            let json = explanation_json(&args.id, &args.entitlement, at, &explanation, plan_reason.as_ref(), note.as_deref());
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
    }
    Ok(if holds { EXIT_OK } else { EXIT_FINDINGS })
}

/// An unknown entitlement, or the two arguments swapped (an entitlement given as ID), said plainly.
fn check_arguments(project: &Project, population: &Population, id: &str, entitlement: &str) -> Result<(), CliError> {
    let entitlements = &project.defs.entitlements;
    if entitlements.contains_key(entitlement) {
        return Ok(());
    }
    let id_is_identity = population.get(id).is_some();
    let swapped = |what: String| {
        CliError::new("swapped-arguments", format!("{what}: the arguments look swapped"))
            .with_help(format!("the identity comes first: `entitle explain {entitlement} {id} ...`"))
    };
    if entitlements.contains_key(id) {
        return Err(swapped(format!("`{id}` is an entitlement, not an identity")));
    }
    if population.get(entitlement).is_some() {
        if !id_is_identity {
            return Err(swapped(format!("`{entitlement}` is an identity, not an entitlement")));
        }
        return Err(
            CliError::new("unknown-entitlement", format!("`{entitlement}` is an identity, not an entitlement"))
                .with_help("the second argument is an entitlement id, `application:entitlement`"),
        );
    }
    let help = did_you_mean(entitlement, entitlements.keys().map(String::as_str)).unwrap_or_default();
    let mut error = CliError::new("unknown-entitlement", format!("unknown entitlement `{entitlement}`"));
    if !help.is_empty() {
        error = error.with_help(help);
    }
    Err(error)
}

/// The error for an identity the feed does not have (or has as an invalid record).
fn unknown_identity(population: &Population, id: &str) -> CliError {
    let file = &population.feed.file;
    if let Some(r) = population.feed.invalid.iter().find(|r| r.id.as_deref() == Some(id)) {
        return CliError::new("invalid-identity", format!("`{id}` is invalid: {}", r.error)).at(file.clone(), Some(r.line));
    }
    let mut error = CliError::new("unknown-identity", format!("no identity `{id}` in {file}"));
    if let Some(help) = did_you_mean(id, population.feed.identities.iter().map(|s| s.id.as_str())) {
        error = error.with_help(help);
    }
    error
}

/// `{"identity", "entitlement", "as_of", "holds", "because" | "reason", "forbidden_by", "roles", ...}`.
fn explanation_json(
    id: &str,
    entitlement: &str,
    at: entitle::Instant,
    explanation: &Explanation,
    plan_reason: Option<&Change>,
    note: Option<&str>,
) -> serde_json::Value {
    let mut json = serde_json::json!({
        "identity": id,
        "entitlement": entitlement,
        "as_of": at.to_rfc3339(),
        "holds": matches!(explanation, Explanation::Holds(_)),
    });
    match explanation {
        Explanation::Holds(because) => json["because"] = serde_json::to_value(because).unwrap_or_default(),
        Explanation::Forbidden { by } => {
            json["guardrails"] = by
                .iter()
                .map(|(id, source)| serde_json::json!({"id": id, "source": source}))
                .collect();
        }
        Explanation::NotGranted(misses) => {
            json["roles"] = misses
                .iter()
                .map(|m| serde_json::json!({"role": m.role, "source": m.source, "reasons": m.reasons}))
                .collect();
        }
        Explanation::NothingGrants => json["roles"] = serde_json::json!([]),
        Explanation::ExceptionExpired { exception, source, misses } => {
            json["expired_exception"] = serde_json::json!({
                "id": exception.id, "ticket": exception.ticket, "approved_by": exception.approved_by,
                "expires": exception.expires, "source": source,
            });
            json["roles"] = misses
                .iter()
                .map(|m| serde_json::json!({"role": m.role, "source": m.source, "reasons": m.reasons}))
                .collect();
        }
    }
    if let Some(Change::Revoke {
        reason,
        forbidden_by,
        detail,
        ..
    }) = plan_reason
    {
        json["reason"] = reason.as_str().into();
        if let Some(by) = forbidden_by {
            json["forbidden_by"] = by.split(", ").collect::<Vec<_>>().into();
        }
        if let Some(detail) = detail {
            json["detail"] = detail.clone().into();
        }
    }
    if let Some(note) = note {
        json["note"] = note.into();
    }
    json
}
