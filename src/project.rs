//! A loaded policy repository: definitions, graph and Cedar artefacts, plus
//! the sources they came from (for rendering diagnostics).
//!
//! This is the one place that runs load → graph → compile → lint in order;
//! every command starts here.

use std::path::Path;

use std::sync::{Arc, OnceLock};

use crate::catalog::Catalog;
use crate::check;
use crate::compile::{self, Compiled};
use crate::diag::{self, Code, Diagnostic, Location, Severity};
use crate::graph::RoleGraph;
use crate::model::{self, Definitions, SourceFile};

/// A policy repository that compiled without errors.
#[derive(Debug, Clone)]
pub struct Project {
    /// The typed definitions.
    pub defs: Definitions,
    /// The role/package graph and its closures.
    pub graph: RoleGraph,
    /// The Cedar artefacts.
    pub compiled: Compiled,
    /// Every name as a dense id: built on first use (`check` never needs it).
    catalog: OnceLock<Arc<Catalog>>,
    /// The SHA-256 of the compiled policy set: taken on first use, once (the
    /// command's header and a plan's inputs both name it; a large set is tens of megabytes).
    pub(crate) policy_sha256: OnceLock<String>,
    /// Warnings found on the way (lints included).
    pub warnings: Vec<Diagnostic>,
}

/// Every diagnostic of a failed load, with the sources to render them.
#[derive(Debug, Clone)]
pub struct LoadFailure {
    /// Errors and warnings, sorted.
    pub diagnostics: Vec<Diagnostic>,
}

/// The sources of a policy repository.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// YAML definition files.
    pub roles: Vec<SourceFile>,
    /// Hand-written Cedar policy files.
    pub policies: Vec<SourceFile>,
}

impl Sources {
    /// Reads `roles_dir` (every `*.yaml`/`*.yml`) and `policies_dir` (every
    /// `*.cedar`). I/O problems are diagnostics.
    ///
    /// A roles directory that does not exist or holds no definitions is an
    /// error, and so is a policies directory that does not exist: loading the
    /// roles without their guardrails would silently grant what the guardrails
    /// forbid (a contractor's admin rights, a leaver's access). `None` for
    /// `policies_dir` says explicitly that there are none (`--no-policies`).
    pub fn read(roles_dir: &Path, policies_dir: Option<&Path>, diagnostics: &mut Vec<Diagnostic>) -> Sources {
        let before = diagnostics.len();
        let roles = model::read_tree(roles_dir, &["yaml", "yml"], diagnostics);
        if roles.is_empty() && diagnostics.len() == before {
            diagnostics.push(
                Diagnostic::new(
                    Code::Io,
                    Location::new(roles_dir.display().to_string(), 0, 0),
                    format!("no definitions (`*.yaml`, `*.yml`) under `{}`", roles_dir.display()),
                )
                .with_help("point `--roles DIR` at the directory holding the role definitions"),
            );
        }
        let policies = match policies_dir {
            None => Vec::new(),
            Some(dir) if !dir.is_dir() => {
                diagnostics.push(missing_policies(roles_dir, dir));
                Vec::new()
            }
            Some(dir) => model::read_tree(dir, &["cedar"], diagnostics),
        };
        Sources { roles, policies }
    }

    /// The text of the named file, for rendering diagnostics.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.roles
            .iter()
            .chain(&self.policies)
            .find(|f| f.name == name)
            .map(|f| f.text.as_str())
    }

    /// An index of every file's lines, for rendering many diagnostics: each
    /// line is found without scanning its file again.
    pub fn line_index(&self) -> LineIndex<'_> {
        let files = self
            .roles
            .iter()
            .chain(&self.policies)
            .map(|f| {
                let starts = std::iter::once(0).chain(f.text.match_indices('\n').map(|(i, _)| i + 1)).collect();
                (f.name.as_str(), (f.text.as_str(), starts))
            })
            .collect();
        LineIndex { files }
    }
}

/// The lines of the sources' files, by file name and 1-based line number.
#[derive(Debug)]
pub struct LineIndex<'a> {
    files: std::collections::HashMap<&'a str, (&'a str, Vec<usize>)>,
}

impl<'a> LineIndex<'a> {
    /// The text of line `line` (1-based) of `file`, without its line break.
    pub fn line(&self, file: &str, line: u32) -> Option<&'a str> {
        let (text, starts) = self.files.get(file)?;
        let index = (line as usize).checked_sub(1)?;
        let start = *starts.get(index)?;
        let end = starts.get(index + 1).map_or(text.len(), |next| next - 1);
        let line = text.get(start..end)?;
        Some(line.strip_suffix('\r').unwrap_or(line))
    }
}

/// The error for a policies directory that does not exist, with the likeliest fix.
fn missing_policies(roles_dir: &Path, policies_dir: &Path) -> Diagnostic {
    let beside_roles = roles_dir
        .parent()
        .map(|parent| parent.join("policies"))
        .filter(|p| p.is_dir() && p != policies_dir);
    let help = match beside_roles {
        Some(p) => format!("did you mean `--policies {}`? it sits beside the roles directory", p.display()),
        None => {
            "without it no guardrail applies: create it, pass `--policies DIR`, or `--no-policies` to load the roles without guardrails"
                .to_string()
        }
    };
    Diagnostic::new(
        Code::Io,
        Location::new(policies_dir.display().to_string(), 0, 0),
        format!("policies directory `{}` does not exist", policies_dir.display()),
    )
    .with_help(help)
}

impl Project {
    /// Every name as a dense id, with the numbered closures: the catalog the
    /// evaluators and their desired sets share. Built on first use.
    pub fn catalog(&self) -> &Arc<Catalog> {
        self.catalog
            .get_or_init(|| Arc::new(Catalog::new(&self.defs, &self.graph, &self.compiled)))
    }

    /// Loads, compiles and lints a policy repository from directories;
    /// `policies_dir` is `None` only when the user said there are no guardrails.
    pub fn load(roles_dir: &Path, policies_dir: Option<&Path>) -> (Sources, Result<Project, LoadFailure>) {
        let mut diagnostics = Vec::new();
        let sources = Sources::read(roles_dir, policies_dir, &mut diagnostics);
        let result = Project::from_sources_with(&sources, diagnostics);
        (sources, result)
    }

    /// Loads, compiles and lints from in-memory sources.
    pub fn from_sources(sources: &Sources) -> Result<Project, LoadFailure> {
        Project::from_sources_with(sources, Vec::new())
    }

    fn from_sources_with(sources: &Sources, mut diagnostics: Vec<Diagnostic>) -> Result<Project, LoadFailure> {
        if sources.roles.is_empty() && diagnostics.iter().any(|d| d.severity == Severity::Error) {
            // The definitions could not be read at all: that is the whole story.
            return Err(LoadFailure { diagnostics });
        }
        let (defs, load_diags) = model::load(&sources.roles);
        diagnostics.extend(load_diags);
        let fail = |mut diagnostics: Vec<Diagnostic>| {
            diag::sort(&mut diagnostics);
            Err(LoadFailure { diagnostics })
        };
        if diagnostics.iter().any(|d| d.severity == Severity::Error) {
            // Cycles are reported with the other errors: the graph of what did load still shows them.
            if let Err(cycles) = RoleGraph::build(&defs) {
                diagnostics.extend(cycles);
            }
            return fail(diagnostics);
        }
        let graph = match RoleGraph::build(&defs) {
            Ok(g) => g,
            Err(cycles) => {
                diagnostics.extend(cycles);
                return fail(diagnostics);
            }
        };
        let compiled = match compile::compile(&defs, &graph, &sources.policies) {
            Ok((c, warnings)) => {
                diagnostics.extend(warnings);
                c
            }
            Err(errors) => {
                diagnostics.extend(errors);
                return fail(diagnostics);
            }
        };
        diagnostics.extend(check::lint(&defs, &graph));
        diag::sort(&mut diagnostics);
        Ok(Project {
            defs,
            graph,
            compiled,
            catalog: OnceLock::new(),
            policy_sha256: OnceLock::new(),
            warnings: diagnostics,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_index_finds_every_line() {
        let sources = Sources {
            roles: vec![SourceFile {
                name: "a.yaml".into(),
                text: "one\r\ntwo\n\nfour".into(),
            }],
            policies: vec![SourceFile {
                name: "g.cedar".into(),
                text: "forbid;\n".into(),
            }],
        };
        let index = sources.line_index();
        let lines: Vec<Option<&str>> = (0..=5).map(|n| index.line("a.yaml", n)).collect();
        assert_eq!(lines, [None, Some("one"), Some("two"), Some(""), Some("four"), None]);
        assert_eq!(index.line("g.cedar", 1), Some("forbid;"));
        assert_eq!(index.line("g.cedar", 2), Some(""));
        assert_eq!(index.line("missing.yaml", 1), None);
        // The same lines `render` finds by scanning the text.
        let text = &sources.roles[0].text;
        for n in 1..=4u32 {
            assert_eq!(index.line("a.yaml", n), text.lines().nth(n as usize - 1), "line {n}");
        }
    }
}
