//! `entitle eval`: the desired entitlements and roles of each identity in a feed.

use entitle::term::one_line;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use entitle::eval::explain::render_justification;
use entitle::eval::DesiredSet;
use entitle::population::OwnerRecord;

use super::common::{as_of, evaluator, load_project, read_population, EvalArgs};
use super::context::Context;
use super::{EXIT_FINDINGS, EXIT_OK};
use entitle::io::ReadBudget;

/// Output formats of `eval`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default)]
pub enum Format {
    /// Grouped by application, readable at a glance.
    #[default]
    Human,
    /// JSON Lines, one object per identity (docs/cli.md, "Output").
    Json,
}

/// Arguments of `eval`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Identity states: JSON, JSON Lines, CSV or SCIM (`-` for stdin).
    #[arg(long, visible_alias = "identity", value_name = "FILE")]
    identities: PathBuf,
    #[command(flatten)]
    eval: EvalArgs,
    /// Add every justification (role, package path, policy, YAML line).
    #[arg(long)]
    explain: bool,
    /// Output format (default: `human`, or entitle.toml's `output.format`).
    #[arg(long, value_enum)]
    format: Option<Format>,
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<i32> {
    let output = ctx.format(args.format);
    let project = load_project(ctx)?;
    let at = as_of(args.eval.as_of.as_deref())?;
    let population = read_population(&ctx.input(&args.identities), &project, &ReadBudget::per_run())?;
    let evaluator = evaluator(&project, args.eval.engine)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());

    // Valid records in input order, then invalid ones by line.
    enum Row<'a> {
        Valid(&'a entitle::state::IdentityState),
        Invalid(&'a entitle::io::identities::InvalidRecord),
    }
    let mut rows: Vec<(u32, usize, Row<'_>)> = population.feed.invalid.iter().map(|r| (r.line, 0, Row::Invalid(r))).collect();
    rows.extend(population.feed.identities.iter().enumerate().map(|(i, s)| (0, i, Row::Valid(s))));
    rows.sort_by_key(|(line, i, row)| match row {
        Row::Valid(_) => (0, *i as u32),
        Row::Invalid(_) => (1, *line),
    });
    // Rendered on every core a batch at a time (what is held between evaluating and writing stays
    // small) and written in order, so the output is the same whatever the number of cores.
    let render = |row: &Row<'_>| -> anyhow::Result<String> {
        Ok(match row {
            Row::Invalid(r) => match output {
                Format::Json => format!(
                    "{}\n",
                    serde_json::json!({"identity": r.id, "valid": false, "line": r.line, "error": r.error})
                ),
                Format::Human => format!(
                    "{}\n\n",
                    one_line(&format!(
                        "{}:{}: {} is invalid: {}",
                        population.feed.file,
                        r.line,
                        r.id.as_deref().map(|i| format!("`{i}`")).unwrap_or_else(|| "a record".into()),
                        r.error
                    ))
                ),
            },
            Row::Valid(identity) => {
                let owner = population.owner_of(identity);
                let warning = match owner {
                    OwnerRecord::Invalid => Some(format!(
                        "owner `{}` has an invalid record; owner conditions are false here, and `plan` makes no change for this identity",
                        identity.owner.as_deref().unwrap_or_default()
                    )),
                    OwnerRecord::Unknown => Some(format!(
                        "owner `{}` is not in the feed; owner conditions are false",
                        identity.owner.as_deref().unwrap_or_default()
                    )),
                    _ => None,
                };
                let desired = evaluator.desired(identity, owner.record(), at)?;
                match output {
                    Format::Json => format!("{}\n", eval_json(&desired, args.explain, warning.as_deref())),
                    Format::Human => eval_human(&desired, &identity.kind, args.explain, warning.as_deref()),
                }
            }
        })
    };
    for batch in rows.chunks(RENDER_BATCH) {
        let rendered: Vec<anyhow::Result<String>> = batch.par_iter().map(|(_, _, row)| render(row)).collect();
        for text in rendered {
            out.write_all(text?.as_bytes())?;
        }
    }
    let failed = !population.feed.invalid.is_empty();
    out.flush()?;
    Ok(if failed { EXIT_FINDINGS } else { EXIT_OK })
}

/// Identities evaluated and rendered together before being written.
const RENDER_BATCH: usize = 4096;

/// One identity's desired set as a JSON object (spec §7).
pub fn eval_json(d: &DesiredSet, explain: bool, warning: Option<&str>) -> serde_json::Value {
    let mut v = if explain {
        serde_json::to_value(d)
    } else {
        serde_json::to_value(d.summary())
    }
    .unwrap_or_default();
    if let Some(w) = warning {
        v["warning"] = w.into();
    }
    v
}

fn eval_human(d: &DesiredSet, kind: &str, explain: bool, warning: Option<&str>) -> String {
    // Ids and kinds come from the feed: each line is made terminal-safe on its own.
    let mut s = format!("{}\n", one_line(&format!("{} ({kind})", d.identity())));
    let roles: Vec<&str> = d.roles().collect();
    s.push_str(&format!(
        "  roles: {}\n",
        if roles.is_empty() { "none".to_string() } else { roles.join(", ") }
    ));
    if let Some(w) = warning {
        s.push_str(&format!("  warning: {}\n", one_line(w)));
    }
    if d.is_empty() {
        s.push_str("  entitlements: none\n");
    }
    let mut by_app: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for e in d.entitlements() {
        let (app, slug) = e.split_once(':').unwrap_or(("", e));
        by_app.entry(app).or_default().push(slug);
    }
    for (app, slugs) in by_app {
        if explain {
            s.push_str(&format!("  {app}\n"));
            for slug in slugs {
                s.push_str(&format!("    {slug}\n"));
                for j in d.justifications(&format!("{app}:{slug}")).into_iter().flatten() {
                    s.push_str(&format!("      - {}\n", one_line(&render_justification(&j))));
                }
            }
        } else {
            s.push_str(&format!("  {app}: {}\n", slugs.join(", ")));
        }
    }
    for (e, by) in d.forbidden() {
        s.push_str(&format!("  forbidden: {e} (by {})\n", by.join(", ")));
    }
    s.push('\n');
    s
}
