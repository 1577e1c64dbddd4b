//! `entitle apply --plan PLAN.json --scim URL --app APP [--dry-run]`: a
//! plan's changes for one application sent to a SCIM 2.0 service provider
//! (docs/scim.md), and the `plan --live-scim` reader. The token comes from
//! a file or `ENTITLE_SCIM_TOKEN`, never from a flag.

use std::io::Write;
use std::path::{Path, PathBuf};

use entitle::io::live::LiveFile;
use entitle::scim::{apply, read_snapshot, ApplyOptions, PlanDocument, ScimClient, ScimError};
use entitle::time::{Duration, Instant};

use super::common::{print_error, Reported};
use super::context::Context;
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};

/// The environment variable holding the SCIM bearer token when no token file is given.
pub const TOKEN_VARIABLE: &str = "ENTITLE_SCIM_TOKEN";

/// Output formats of `apply`: how the summary on stderr and the errors are written (the report is JSON either way).
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// One sentence of counts.
    #[default]
    Human,
    /// The summary as one JSON object, and errors as `{"error": {...}}`.
    Json,
}

/// Arguments of `apply`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The plan, as written by `entitle plan --format json` (made with `--live-scim`).
    #[arg(long)]
    plan: PathBuf,
    /// The SCIM service provider's base URL (`http://host:port/scim/v2`).
    #[arg(long)]
    scim: String,
    /// The application: only the plan's `APP:` changes are sent; groups are `APP:displayName`.
    #[arg(long)]
    app: String,
    /// Say what would be sent; send nothing.
    #[arg(long)]
    dry_run: bool,
    /// A file holding the bearer token (else `ENTITLE_SCIM_TOKEN`).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// The oldest plan accepted (`24h`, `30m`): its `as_of` at most this long ago.
    #[arg(long, default_value = "24h")]
    max_age: String,
    /// The report of an earlier, partial run of this plan: resume from where it left the live state.
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Write the apply report here (else standard output).
    #[arg(long)]
    report: Option<PathBuf>,
    /// Write the live state read back after the apply as JSON Lines (for `entitle verify --live`).
    #[arg(long)]
    live_out: Option<PathBuf>,
    /// How the summary and errors are written on stderr (default: `human`, or entitle.toml's `output.format`).
    #[arg(long, value_enum)]
    format: Option<Format>,
}

fn usage(message: impl std::fmt::Display) -> anyhow::Error {
    print_error(message);
    Reported(EXIT_USAGE).into()
}

/// The SCIM bearer token: the file's text, else the environment variable, else none.
pub fn token(file: Option<&Path>) -> anyhow::Result<Option<String>> {
    match file {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) if !text.trim().is_empty() => Ok(Some(text.trim().to_string())),
            Ok(_) => Err(usage(format_args!("--token-file: `{}` is empty", path.display()))),
            Err(e) => Err(usage(format_args!("--token-file: cannot read `{}`: {e}", path.display()))),
        },
        None => Ok(std::env::var(TOKEN_VARIABLE)
            .ok()
            .filter(|t| !t.trim().is_empty())
            .map(|t| t.trim().to_string())),
    }
}

/// `plan --live-scim URL --app APP`: the application's live state read from the service provider.
pub fn read_scim_live(url: &str, app: Option<&str>, token_file: Option<&Path>) -> anyhow::Result<LiveFile> {
    let Some(app) = app else {
        return Err(usage("--live-scim needs `--app APP`: each group `G` is the entitlement `APP:G`"));
    };
    let client = ScimClient::new(url, token(token_file)?).map_err(|e| usage(format_args!("--live-scim: {e}")))?;
    let snapshot = read_snapshot(&client, app).map_err(|e| usage(format_args!("--live-scim: {e}")))?;
    snapshot.to_live_file().map_err(|e| usage(format_args!("--live-scim: {e}")))
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<i32> {
    let (plan_path, report_path, live_out, resume_path, token_file) = (
        ctx.input(&args.plan),
        args.report.as_deref().map(|p| ctx.input(p)),
        args.live_out.as_deref().map(|p| ctx.input(p)),
        args.resume.as_deref().map(|p| ctx.input(p)),
        args.token_file.as_deref().map(|p| ctx.input(p)),
    );
    let max_age = Duration::parse(&args.max_age).map_err(|e| usage(format_args!("--max-age: {e}")))?;
    let bytes = std::fs::read(&plan_path).map_err(|e| usage(format_args!("--plan: cannot read `{}`: {e}", plan_path.display())))?;
    let plan = PlanDocument::parse(&plan_path.display().to_string(), &bytes).map_err(|e| usage(format_args!("--plan: {e}")))?;
    let resume = match &resume_path {
        None => None,
        Some(path) => {
            let text = std::fs::read(path).map_err(|e| usage(format_args!("--resume: cannot read `{}`: {e}", path.display())))?;
            Some(serde_json::from_slice(&text).map_err(|e| usage(format_args!("--resume: `{}` is not JSON: {e}", path.display())))?)
        }
    };
    let client = ScimClient::new(&args.scim, token(token_file.as_deref())?).map_err(|e| usage(format_args!("--scim: {e}")))?;
    let options = ApplyOptions {
        app: args.app.clone(),
        dry_run: args.dry_run,
        max_age,
        now: Instant::now(),
        resume,
    };
    let mut report = match apply(&client, &plan, &options) {
        Ok(report) => report,
        Err(ScimError::Refused(why)) => {
            print_error(format_args!("apply refused: {why}; nothing was sent"));
            return Ok(EXIT_FINDINGS);
        }
        Err(e) => return Err(usage(e)),
    };
    if let (Some(path), false) = (&live_out, args.dry_run) {
        let snapshot = read_snapshot(&client, &args.app).map_err(|e| usage(format_args!("--live-out: {e}")))?;
        std::fs::write(path, snapshot.canonical_jsonl())
            .map_err(|e| usage(format_args!("--live-out: cannot write `{}`: {e}", path.display())))?;
        if let Some(after) = &mut report.live_after {
            if after.sha256 == snapshot.sha256() {
                after.file = Some(path.display().to_string());
            }
        }
    }
    let mut text = serde_json::to_string_pretty(&report)?;
    text.push('\n');
    match &report_path {
        Some(path) => std::fs::write(path, text).map_err(|e| usage(format_args!("--report: cannot write `{}`: {e}", path.display())))?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    let s = &report.summary;
    if ctx.format(args.format) == Format::Json {
        eprintln!("{}", serde_json::json!({"summary": s, "dry_run": args.dry_run}));
    } else {
        eprintln!(
            "apply{}: {} applied, {} already applied, {} would apply, {} failed, {} skipped (other applications); {} requests, {} retries",
            if args.dry_run { " (dry run)" } else { "" },
            s.applied,
            s.already_applied,
            s.would_apply,
            s.failed,
            s.skipped,
            s.requests,
            s.retries
        );
    }
    if s.failed > 0 {
        print_error(format_args!(
            "{} changes failed (see the report); re-run with `--resume REPORT` once the cause is fixed",
            s.failed
        ));
        return Ok(EXIT_FINDINGS);
    }
    Ok(EXIT_OK)
}
