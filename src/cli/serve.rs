//! `entitle serve`: the decision service (docs/api.md). Loads the
//! definitions, listens (loopback by default), reloads on SIGHUP or
//! `POST /v1/reload`, and shuts down gracefully on SIGTERM or Ctrl-C.

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use entitle::serve::{http, ServeConfig, Service, DEFAULT_MAX_BODY_BYTES};
use entitle::time::Duration;

use super::common::{definitions_failed, print_error};
use super::context::Context;
use super::errors::{report, CliError};
use super::{EXIT_OK, EXIT_USAGE};

/// Output formats of `serve`: how its log lines and errors are written on stderr.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// `entitle serve: ...` sentences.
    #[default]
    Human,
    /// One JSON object per line (`{"event": ...}`), and errors as `{"error": {...}}`.
    Json,
}

/// Arguments of `serve`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The address to listen on (loopback unless told otherwise; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8181")]
    listen: String,
    /// A file holding the bearer token every request but `/healthz` and `/readyz` must carry.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// The largest request body accepted, in bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_BODY_BYTES)]
    max_body: usize,
    /// The longest a request may take (`30s`, `2m`).
    #[arg(long, default_value = "30s")]
    timeout: String,
    /// How log lines and errors are written on stderr (default: `human`, or entitle.toml's `output.format`).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// The identity feed `GET /v1/who/...` answers from (JSON, JSON Lines, CSV or SCIM); re-read on reload.
    #[arg(long)]
    identities: Option<PathBuf>,
    /// Live state, for `who` to say who holds it and whether they should; repeat for one file per
    /// application; re-read on reload.
    #[arg(long)]
    live: Vec<PathBuf>,
    /// The application of SCIM group exports given with `--live`.
    #[arg(long)]
    app: Option<String>,
}

/// One log line on stderr: `event` with its fields as JSON, or the sentence.
fn log(format: Format, event: serde_json::Value, sentence: impl std::fmt::Display) {
    match format {
        Format::Json => eprintln!("{event}"),
        Format::Human => eprintln!("entitle serve: {sentence}"),
    }
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<i32> {
    let (roles, policies) = (ctx.roles.as_path(), ctx.policies());
    let timeout = match Duration::parse(&args.timeout) {
        Ok(d) => std::time::Duration::from_millis(u64::try_from(d.0).unwrap_or(u64::MAX)),
        Err(e) => {
            print_error(format_args!("--timeout: {e}"));
            return Ok(EXIT_USAGE);
        }
    };
    let token = match &args.token_file {
        None => None,
        Some(path) => match std::fs::read_to_string(ctx.input(path)) {
            Ok(text) if !text.trim().is_empty() => Some(text.trim().to_string()),
            Ok(_) => {
                print_error(format_args!("--token-file: `{}` is empty", path.display()));
                return Ok(EXIT_USAGE);
            }
            Err(e) => {
                print_error(format_args!("--token-file: cannot read `{}`: {e}", path.display()));
                return Ok(EXIT_USAGE);
            }
        },
    };
    let config = ServeConfig {
        token,
        max_body_bytes: args.max_body,
        request_timeout: timeout,
        identities: args.identities.as_deref().map(|p| ctx.input(p)),
        live: args.live.iter().map(|p| ctx.input(p)).collect(),
        app: args.app,
        ..ServeConfig::new(roles.to_path_buf(), policies.map(Path::to_path_buf))
    };
    let service = match Service::new(config) {
        Ok(s) => Arc::new(s),
        Err(diagnostics) => {
            return match entitle::Project::load(roles, policies) {
                // The definitions load: it is a feed that does not (exit 2, as `entitle who` says it).
                Ok(_) => {
                    for d in &diagnostics {
                        let error = CliError::located("input", &d.location.file, &d.message);
                        report(&match &d.help {
                            Some(help) => error.at(&d.location.file, None).with_help(help),
                            None => error,
                        });
                    }
                    Ok(EXIT_USAGE)
                }
                Err(failure) => Err(definitions_failed(&diagnostics, &failure.sources)),
            };
        }
    };
    let listener = match TcpListener::bind(&args.listen) {
        Ok(l) => l,
        Err(e) => {
            print_error(format_args!("--listen: cannot listen on `{}`: {e}", args.listen));
            return Ok(EXIT_USAGE);
        }
    };
    let address = listener.local_addr()?;
    let format = ctx.format(args.format);
    let hash = service.current().policy_sha256.clone();
    log(
        format,
        serde_json::json!({"event": "listening", "address": format!("http://{address}"), "policy_sha256": hash}),
        format_args!("listening on http://{address} (policy {hash})"),
    );
    http::serve(service, listener, shutdown(), move |service| {
        Some(Box::pin(reload_on_hangup(service, format)))
    })?;
    log(format, serde_json::json!({"event": "stopped"}), "stopped");
    Ok(EXIT_OK)
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// Reloads the definitions on each SIGHUP, saying on stderr what happened.
async fn reload_on_hangup(service: Arc<Service>, format: Format) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hangup) = signal(SignalKind::hangup()) else {
        return;
    };
    while hangup.recv().await.is_some() {
        let service = service.clone();
        let outcome = tokio::task::spawn_blocking(move || service.reload().map(|l| l.policy_sha256.clone())).await;
        match outcome {
            Ok(Ok(hash)) => log(
                format,
                serde_json::json!({"event": "reloaded", "policy_sha256": hash}),
                format_args!("reloaded (policy {hash})"),
            ),
            Ok(Err(diagnostics)) => {
                let first = diagnostics
                    .iter()
                    .find(|d| d.severity == entitle::Severity::Error)
                    .map(|d| entitle::term::one_line(&format!("{}: {}", d.location, d.message)).to_string())
                    .unwrap_or_default();
                log(
                    format,
                    serde_json::json!({"event": "reload-failed", "message": first}),
                    format_args!("reload failed, the previous policy keeps serving: {first}"),
                );
            }
            Err(_) => log(
                format,
                serde_json::json!({"event": "reload-failed", "message": "the reload did not finish"}),
                "reload failed",
            ),
        }
    }
}
