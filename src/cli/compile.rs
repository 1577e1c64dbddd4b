//! `entitle compile`: write the Cedar artefacts, or check they are up to date.

use std::path::PathBuf;

use anyhow::Context as _;

use super::common::load_project;
use super::context::Context;
use super::{EXIT_FINDINGS, EXIT_OK};

/// Output formats of `compile`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// One sentence on standard error.
    #[default]
    Human,
    /// `{"out", "policies", "written"}`, or with `--check` `{"out", "up_to_date", "stale"}`.
    Json,
}

/// Arguments of `compile`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory to write `schema.cedarschema`, `policies.cedar` and `entities.json` to.
    #[arg(long)]
    out: PathBuf,
    /// Write nothing; exit 1 when DIR is out of date.
    #[arg(long)]
    check: bool,
    /// Output format (default: `human`, or entitle.toml's `output.format`).
    #[arg(long, value_enum)]
    format: Option<Format>,
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<i32> {
    let json = ctx.format(args.format) == Format::Json;
    let project = load_project(ctx)?;
    let out = ctx.input(&args.out);
    let files = [
        ("schema.cedarschema", &project.compiled.schema_text),
        ("policies.cedar", &project.compiled.policies_text),
        ("entities.json", &project.compiled.entities_json),
    ];
    if args.check {
        let stale: Vec<&str> = files
            .iter()
            .filter(|(name, content)| std::fs::read_to_string(out.join(name)).ok().as_deref() != Some(content.as_str()))
            .map(|(name, _)| *name)
            .collect();
        if json {
            println!(
                "{}",
                serde_json::json!({"out": out.display().to_string(), "up_to_date": stale.is_empty(), "stale": stale})
            );
        } else if stale.is_empty() {
            eprintln!("{} is up to date", out.display());
        } else {
            eprintln!(
                "{} is out of date: {} differ; run `entitle compile --out {}`",
                out.display(),
                stale.join(", "),
                out.display()
            );
        }
        return Ok(if stale.is_empty() { EXIT_OK } else { EXIT_FINDINGS });
    }
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create `{}`", out.display()))?;
    for (name, content) in files {
        let path = out.join(name);
        std::fs::write(&path, content).with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    if json {
        let written: Vec<&str> = files.iter().map(|(name, _)| *name).collect();
        println!(
            "{}",
            serde_json::json!({"out": out.display().to_string(), "policies": project.compiled.info.len(), "written": written})
        );
    } else {
        eprintln!("wrote {} policies to {}", project.compiled.info.len(), out.display());
    }
    Ok(EXIT_OK)
}
