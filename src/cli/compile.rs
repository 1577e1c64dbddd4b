//! `entitle compile`: write the Cedar artefacts, or check they are up to date.

use std::path::{Path, PathBuf};

use anyhow::Context;
use entitle::Project;

use super::{print_human, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};

/// Arguments of `compile`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory to write `schema.cedarschema`, `policies.cedar` and `entities.json` to.
    #[arg(long)]
    out: PathBuf,
    /// Write nothing; exit 1 when DIR is out of date.
    #[arg(long)]
    check: bool,
}

pub fn run(roles: &Path, policies: Option<&Path>, args: Args) -> anyhow::Result<i32> {
    let project = match Project::load(roles, policies) {
        Ok(p) => p,
        Err(f) => {
            print_human(&f.diagnostics, &f.sources);
            let io = f.is_io();
            return Ok(if io { EXIT_USAGE } else { EXIT_FINDINGS });
        }
    };
    let files = [
        ("schema.cedarschema", &project.compiled.schema_text),
        ("policies.cedar", &project.compiled.policies_text),
        ("entities.json", &project.compiled.entities_json),
    ];
    if args.check {
        let stale: Vec<&str> = files
            .iter()
            .filter(|(name, content)| std::fs::read_to_string(args.out.join(name)).ok().as_deref() != Some(content.as_str()))
            .map(|(name, _)| *name)
            .collect();
        if stale.is_empty() {
            eprintln!("{} is up to date", args.out.display());
            return Ok(EXIT_OK);
        }
        eprintln!(
            "{} is out of date: {} differ; run `entitle compile --out {}`",
            args.out.display(),
            stale.join(", "),
            args.out.display()
        );
        return Ok(EXIT_FINDINGS);
    }
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create `{}`", args.out.display()))?;
    for (name, content) in files {
        let path = args.out.join(name);
        std::fs::write(&path, content).with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    eprintln!("wrote {} policies to {}", project.compiled.info.len(), args.out.display());
    Ok(EXIT_OK)
}
