//! What every command runs with: the project root and the directories found
//! from it, the paths given on the command line as seen from the root, the
//! defaults of `entitle.toml`, and the conventions of the output (`-q`,
//! `-v`, `--color`/`NO_COLOR`). It also writes the one header line naming the
//! definitions a command loaded, on standard error.
//!
//! It changes the process's working directory once, to the root; nothing
//! else in the command line does.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use entitle::Project;

use super::errors::{self, CliError, ErrorFormat};
use super::project_root::{self, GuardLimitDefaults, Root, PROJECT_FILE};
use super::Cli;

/// `--color`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColorChoice {
    /// Colour when standard output is a terminal and `NO_COLOR` is unset.
    #[default]
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// The run's context; see the module documentation.
#[derive(Debug)]
pub struct Context {
    /// The project root.
    pub root: Root,
    /// The definitions directory, as seen from the root.
    pub roles: PathBuf,
    /// The guardrails directory, as seen from the root (`None`: `--no-policies`).
    pub policies: Option<PathBuf>,
    /// `-q`: no header, no progress.
    pub quiet: bool,
    /// `-v`, counted.
    pub verbose: u8,
    color: ColorChoice,
}

impl Context {
    /// Applies `-C`, finds the root, reads `entitle.toml` and moves to the
    /// root. `errors_follow_config`: the command line has no `--format`, so
    /// the project's default format also chooses the errors' format.
    /// `discover: false` (for `init`): the working directory is the root, whatever is above it.
    pub fn new(cli: &Cli, errors_follow_config: bool, discover: bool) -> Result<Context, CliError> {
        if let Some(dir) = &cli.directory {
            std::env::set_current_dir(dir)
                .map_err(|e| CliError::new("usage", format!("-C: cannot change to directory `{}`: {e}", dir.display())))?;
        }
        let start = std::env::current_dir().map_err(|e| CliError::new("io", format!("cannot read the working directory: {e}")))?;
        // `--roles DIR` names the definitions: nothing is looked for, paths are the working directory's.
        let root = if cli.roles.is_some() || !discover {
            Root::at(&start)
        } else {
            project_root::discover(&start)?
        };
        let config = root.config.as_ref();
        if errors_follow_config && config.and_then(|c| c.output.format.as_deref()) == Some("json") {
            errors::set_format(ErrorFormat::Json);
        }
        let roles = match &cli.roles {
            Some(given) => root.input(given),
            None => config.and_then(|c| c.roles.clone()).unwrap_or_else(|| PathBuf::from("roles")),
        };
        let policies = match (&cli.policies, cli.no_policies) {
            (_, true) => None,
            (Some(given), false) => Some(root.input(given)),
            (None, false) => Some(config.and_then(|c| c.policies.clone()).unwrap_or_else(|| PathBuf::from("policies"))),
        };
        if root.dir != start {
            std::env::set_current_dir(&root.dir)
                .map_err(|e| CliError::new("io", format!("cannot change to the project root `{}`: {e}", root.dir.display())))?;
        }
        let context = Context {
            root,
            roles,
            policies,
            quiet: cli.quiet,
            verbose: cli.verbose,
            color: cli.color,
        };
        if context.verbose > 0 {
            eprintln!("{}", context.root_line());
        }
        Ok(context)
    }

    /// `--policies`, or `None` under `--no-policies`.
    pub fn policies(&self) -> Option<&Path> {
        self.policies.as_deref()
    }

    /// A path given on the command line, as the command sees it from the root.
    pub fn input(&self, path: &Path) -> PathBuf {
        self.root.input(path)
    }

    /// Whether human output on standard output is coloured.
    pub fn colour(&self) -> bool {
        match self.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal(),
        }
    }

    /// Whether progress bars may be drawn.
    pub fn progress(&self) -> bool {
        !self.quiet
    }

    /// The output format: `--format` when given, else entitle.toml's `output.format`
    /// when this command has it, else the command's default.
    pub fn format<F: clap::ValueEnum + Default + Clone>(&self, given: Option<F>) -> F {
        given
            .or_else(|| {
                let name = self.root.config.as_ref()?.output.format.as_deref()?;
                F::from_str(name, true).ok()
            })
            .unwrap_or_default()
    }

    /// The guard limits entitle.toml sets (none without one; it was checked when read).
    pub fn guard_defaults(&self) -> GuardLimitDefaults {
        self.root.config.as_ref().and_then(|c| c.guards.limits().ok()).unwrap_or_default()
    }

    /// Where the root is and why, for `-v`.
    fn root_line(&self) -> String {
        let why = if self.root.config.is_some() {
            format!("its {PROJECT_FILE}")
        } else if self.root.dir != self.root.invocation {
            "it holds `roles/` and `policies/`".to_string()
        } else {
            "the working directory".to_string()
        };
        format!("project root: {} ({why})", self.root.dir.display())
    }

    /// Writes the header naming what was loaded on standard error (not under `-q`):
    /// `loaded roles/ and policies/: 14 applications, ... ; policy sha256 1a2b3c4d5e6f`.
    pub fn loaded(&self, project: &Project, took: Duration) {
        if self.quiet {
            return;
        }
        match errors::format() {
            ErrorFormat::Human => {
                eprintln!("{}", entitle::term::one_line(&self.header(project)));
                if self.verbose > 0 {
                    eprintln!("loaded in {} ms", took.as_millis());
                }
            }
            // Standard error is JSON Lines under `--format json`: the header is one object too.
            ErrorFormat::Json => eprintln!("{}", self.header_json(project)),
        }
    }

    /// `{"loaded": {...}}`: the header for a program.
    pub fn header_json(&self, project: &Project) -> serde_json::Value {
        let defs = &project.defs;
        serde_json::json!({"loaded": {
            "root": self.root.dir.display().to_string(),
            "roles": self.roles.display().to_string(),
            "policies": self.policies().map(|p| p.display().to_string()),
            "applications": defs.applications.len(),
            "entitlements": defs.entitlements.len(),
            "packages": defs.packages.len(),
            "roles_defined": defs.roles.len(),
            "guardrails": guardrails(project),
            "policy_sha256": entitle::plan::policy_sha256(project),
        }})
    }

    /// The header line (see [`Context::loaded`]).
    pub fn header(&self, project: &Project) -> String {
        let dir = |p: &Path| {
            let shown = p.display().to_string();
            if shown.ends_with('/') {
                format!("`{shown}`")
            } else {
                format!("`{shown}/`")
            }
        };
        let policies = match self.policies() {
            Some(p) => format!(" and {}", dir(p)),
            None => " (no guardrails: --no-policies)".to_string(),
        };
        let at = if self.root.dir == self.root.invocation {
            String::new()
        } else {
            format!(" at {}", self.root.shown())
        };
        format!("loaded {}{policies}{at}: {}", dir(&self.roles), contents(project))
    }

    /// Names a second set of definitions a command loaded (`whatif`'s base), as [`Context::loaded`] does.
    pub fn loaded_other(&self, label: &str, project: &Project) {
        if self.quiet {
            return;
        }
        match errors::format() {
            ErrorFormat::Human => eprintln!("{}", entitle::term::one_line(&format!("loaded {label}: {}", contents(project)))),
            ErrorFormat::Json => {
                let defs = &project.defs;
                let json = serde_json::json!({"loaded": {
                    "label": label,
                    "applications": defs.applications.len(),
                    "entitlements": defs.entitlements.len(),
                    "packages": defs.packages.len(),
                    "roles_defined": defs.roles.len(),
                    "guardrails": guardrails(project),
                    "policy_sha256": entitle::plan::policy_sha256(project),
                }});
                eprintln!("{json}");
            }
        }
    }
}

/// `14 applications, 76 entitlements, 23 packages, 54 roles, 5 guardrails; policy sha256 1a2b3c4d5e6f`.
fn contents(project: &Project) -> String {
    let defs = &project.defs;
    let hash = entitle::plan::policy_sha256(project);
    let count = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    format!(
        "{}, {}, {}, {}, {}; policy sha256 {}",
        count(defs.applications.len(), "application", "applications"),
        count(defs.entitlements.len(), "entitlement", "entitlements"),
        count(defs.packages.len(), "package", "packages"),
        count(defs.roles.len(), "role", "roles"),
        count(guardrails(project), "guardrail", "guardrails"),
        &hash[..12.min(hash.len())]
    )
}

/// The hand-written guardrails among the project's policies.
fn guardrails(project: &Project) -> usize {
    project
        .compiled
        .info
        .values()
        .filter(|i| matches!(i.origin, entitle::compile::PolicyOrigin::Guardrail))
        .count()
}
