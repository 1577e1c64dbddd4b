//! Where the policy repository is, as cargo finds a package: the nearest
//! directory, from the working directory (after `-C DIR`) upwards, that holds
//! an `entitle.toml`, or else both a `roles/` and a `policies/` directory
//! (see [`discover`]; with `--roles DIR` nothing is looked for). The command
//! then runs from that root, so the definitions, the test suites and every
//! message's paths are relative to it; paths given on the command line stay
//! relative to where the command was started.
//!
//! It reads `entitle.toml` (the directories, default guard limits, the
//! default output format) and nothing else; it never loads definitions.

use std::path::{Component, Path, PathBuf};

use entitle::plan::Limit;
use serde::Deserialize;

use super::errors::CliError;

/// The project file at a policy repository's root.
pub const PROJECT_FILE: &str = "entitle.toml";

/// `entitle.toml`: every key optional.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The definitions directory, relative to the root (default `roles`).
    pub roles: Option<PathBuf>,
    /// The guardrails directory, relative to the root (default `policies`).
    pub policies: Option<PathBuf>,
    /// Default limits of `plan`'s guards.
    #[serde(default)]
    pub guards: GuardDefaults,
    /// Output defaults.
    #[serde(default)]
    pub output: OutputDefaults,
}

/// `[guards]`: the limits `plan` uses when no flag is given (spec §8's defaults otherwise).
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GuardDefaults {
    /// `--max-revokes`.
    pub max_revokes: Option<String>,
    /// `--max-invalid`.
    pub max_invalid: Option<String>,
    /// `--max-orphaned`.
    pub max_orphaned: Option<String>,
    /// `--max-privileged-grants`.
    pub max_privileged_grants: Option<String>,
}

/// `[output]`.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OutputDefaults {
    /// The format of every command that has it (`human`, `json`, ...) when `--format` is not given.
    pub format: Option<String>,
}

/// The guard limits `entitle.toml` sets, parsed.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct GuardLimitDefaults {
    /// `guards.max_revokes`.
    pub max_revokes: Option<Limit>,
    /// `guards.max_invalid`.
    pub max_invalid: Option<Limit>,
    /// `guards.max_orphaned`.
    pub max_orphaned: Option<Limit>,
    /// `guards.max_privileged_grants`.
    pub max_privileged_grants: Option<Limit>,
}

impl GuardDefaults {
    /// Each limit given, parsed; a bad one is an error naming its key.
    pub fn limits(&self) -> Result<GuardLimitDefaults, String> {
        let parse = |key: &str, value: &Option<String>| -> Result<Option<Limit>, String> {
            value
                .as_deref()
                .map(|v| v.parse::<Limit>().map_err(|e| format!("`guards.{key}`: {e}")))
                .transpose()
        };
        Ok(GuardLimitDefaults {
            max_revokes: parse("max_revokes", &self.max_revokes)?,
            max_invalid: parse("max_invalid", &self.max_invalid)?,
            max_orphaned: parse("max_orphaned", &self.max_orphaned)?,
            max_privileged_grants: parse("max_privileged_grants", &self.max_privileged_grants)?,
        })
    }
}

/// The policy repository a command runs in.
#[derive(Debug)]
pub struct Root {
    /// The root directory (absolute).
    pub dir: PathBuf,
    /// Where the command was started (absolute, after `-C`).
    pub invocation: PathBuf,
    /// `entitle.toml`, when the root has one.
    pub config: Option<Config>,
}

/// Finds the root from `start`: `start` itself when it holds an
/// `entitle.toml` or a `roles/` directory (as before discovery existed); else
/// the nearest directory above with an `entitle.toml`, or with both `roles/`
/// and `policies/` (a lone `roles/` further up may be anything, an Ansible
/// repository's for one). Without any, `start` is the root. Every
/// `entitle.toml` found is read and checked.
pub fn discover(start: &Path) -> Result<Root, CliError> {
    if !start.join(PROJECT_FILE).is_file() && start.join("roles").is_dir() {
        return Ok(Root::at(start));
    }
    let mut dir = Some(start);
    while let Some(d) = dir {
        let file = d.join(PROJECT_FILE);
        if file.is_file() {
            let config = read_config(&file, &relative_to(&file, start))?;
            return Ok(Root {
                dir: d.to_path_buf(),
                invocation: start.to_path_buf(),
                config: Some(config),
            });
        }
        if d.join("roles").is_dir() && d.join("policies").is_dir() {
            return Ok(Root {
                dir: d.to_path_buf(),
                invocation: start.to_path_buf(),
                config: None,
            });
        }
        dir = d.parent();
    }
    Ok(Root::at(start))
}

/// Reads and checks `entitle.toml`; an error is located at its line.
fn read_config(file: &Path, shown: &str) -> Result<Config, CliError> {
    let text =
        std::fs::read_to_string(file).map_err(|e| CliError::new("input", format!("cannot read the project file: {e}")).at(shown, None))?;
    let config: Config = toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() as u32 + 1);
        let message = e.message().trim().trim_end_matches('.').to_string();
        CliError::new("project-file", message).at(shown, line)
    })?;
    config
        .guards
        .limits()
        .map_err(|e| CliError::new("project-file", e).at(shown, None))?;
    if let Some(format) = config.output.format.as_deref() {
        if !["human", "json", "sarif", "junit", "markdown", "scim-patch"].contains(&format) {
            return Err(CliError::new("project-file", format!("`output.format`: unknown format `{format}`"))
                .at(shown, None)
                .with_help("one of `human`, `json`, `sarif`, `junit`, `markdown`, `scim-patch`"));
        }
    }
    Ok(config)
}

impl Root {
    /// `dir` as the root, without a project file: paths as before discovery.
    pub fn at(dir: &Path) -> Root {
        Root {
            dir: dir.to_path_buf(),
            invocation: dir.to_path_buf(),
            config: None,
        }
    }

    /// `path` as given on the command line (relative to where the command was
    /// started), as the command sees it from the root: relative to the root
    /// when it lies inside, absolute otherwise. `-` (standard input) stays.
    pub fn input(&self, path: &Path) -> PathBuf {
        // Started at the root: paths as given, as before discovery existed.
        if path == Path::new("-") || self.dir == self.invocation {
            return path.to_path_buf();
        }
        let absolute = normalise(&self.invocation.join(path));
        match absolute.strip_prefix(&self.dir) {
            Ok(inside) if inside.as_os_str().is_empty() => PathBuf::from("."),
            Ok(inside) => inside.to_path_buf(),
            Err(_) => absolute,
        }
    }

    /// The root as shown to a person: relative to where the command was started.
    pub fn shown(&self) -> String {
        relative_to(&self.dir, &self.invocation)
    }
}

/// `path` with `.` and `..` resolved by name (no symbolic link is followed).
pub fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// `path` relative to `base` (both absolute), as text: `.`, `roles`, `../..`.
pub fn relative_to(path: &Path, base: &Path) -> String {
    let (path, base) = (normalise(path), normalise(base));
    let common = path.components().zip(base.components()).take_while(|(a, b)| a == b).count();
    let ups = base.components().count() - common;
    let mut out = PathBuf::new();
    for _ in 0..ups {
        out.push("..");
    }
    for c in path.components().skip(common) {
        out.push(c);
    }
    if out.as_os_str().is_empty() {
        ".".to_string()
    } else {
        out.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(relative_to(Path::new("/a/b"), Path::new("/a/b/c/d")), "../..");
        assert_eq!(relative_to(Path::new("/a/b/x"), Path::new("/a/b")), "x");
        assert_eq!(relative_to(Path::new("/a"), Path::new("/a")), ".");
        assert_eq!(normalise(Path::new("/a/b/../c/./d")), PathBuf::from("/a/c/d"));
    }

    #[test]
    fn inputs_are_resolved_from_the_invocation_and_shown_from_the_root() {
        let root = Root {
            dir: PathBuf::from("/repo"),
            invocation: PathBuf::from("/repo/roles/sub"),
            config: None,
        };
        assert_eq!(root.input(Path::new("../../fixtures/a.jsonl")), PathBuf::from("fixtures/a.jsonl"));
        assert_eq!(root.input(Path::new("x.jsonl")), PathBuf::from("roles/sub/x.jsonl"));
        assert_eq!(root.input(Path::new("/elsewhere/x.jsonl")), PathBuf::from("/elsewhere/x.jsonl"));
        assert_eq!(root.input(Path::new("../../../out")), PathBuf::from("/out"));
        assert_eq!(root.input(Path::new("-")), PathBuf::from("-"));
        assert_eq!(root.shown(), "../..");
    }

    #[test]
    fn discovery_prefers_the_working_directory_then_the_nearest_marker() {
        let tmp = tempfile::tempdir().unwrap();
        let top = tmp.path().canonicalize().unwrap();
        let mkdir = |p: &str| std::fs::create_dir_all(top.join(p)).unwrap();
        // An Ansible-like `roles/` alone high up; a repository with entitle.toml below it.
        mkdir("roles");
        mkdir("work/repo/roles/sub");
        mkdir("work/repo/docs/deep");
        std::fs::write(top.join("work/repo/entitle.toml"), "[output]\nformat = \"json\"\n").unwrap();
        let found = |from: &str| discover(&top.join(from)).unwrap();
        let root = found("work/repo/docs/deep");
        assert_eq!(root.dir, top.join("work/repo"));
        assert_eq!(root.config.and_then(|c| c.output.format).as_deref(), Some("json"));
        // A working directory holding `roles/` is the root, as before discovery existed.
        assert_eq!(found("work/repo").dir, top.join("work/repo"));
        assert_eq!(found("work/repo/roles/sub").dir, top.join("work/repo"));
        // Above the repository, the lone `roles/` is not a marker: the working directory stays the root.
        mkdir("other/place");
        assert_eq!(found("other/place").dir, top.join("other/place"));
        // `roles/` and `policies/` together are.
        mkdir("other/policies");
        mkdir("other/roles");
        assert_eq!(found("other/place").dir, top.join("other"));
        assert!(found("other/place").config.is_none());
    }

    #[test]
    fn guard_defaults_are_checked() {
        let config: Config = toml::from_str("[guards]\nmax_revokes = \"50 or 5%\"\n").unwrap();
        assert_eq!(config.guards.limits().unwrap().max_revokes, Some(Limit::Smaller(50, 5.0)));
        let config: Config = toml::from_str("[guards]\nmax_revokes = \"lots\"\n").unwrap();
        assert!(config.guards.limits().unwrap_err().contains("guards.max_revokes"));
        assert!(toml::from_str::<Config>("role = \"x\"\n").is_err());
    }
}
