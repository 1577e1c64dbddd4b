//! Lints: definitions that compile but are very likely mistakes.
//!
//! One file per lint, each with its stable code (see [`crate::diag::Code`]),
//! a doc comment saying what it catches and why, and its tests beside it.
//! Lints run only on definitions without errors, so they never pile noise on
//! top of a real fault.

mod contradiction;
mod duplicate_role;
mod long_exception;
mod privileged_birthright;
mod unbounded_assignment;
pub(crate) mod unbounded_permit;
mod ungrantable;
mod unreferenced;

use crate::diag::Diagnostic;
use crate::graph::RoleGraph;
use crate::model::Definitions;

/// Runs every lint.
pub fn lint(defs: &Definitions, graph: &RoleGraph) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    privileged_birthright::check(defs, graph, &mut out);
    ungrantable::check(defs, graph, &mut out);
    unreferenced::check(defs, graph, &mut out);
    contradiction::check(defs, &mut out);
    unbounded_assignment::check(defs, &mut out);
    duplicate_role::check(defs, graph, &mut out);
    long_exception::check(defs, crate::time::Instant::now(), &mut out);
    out
}

#[cfg(test)]
pub(crate) mod test_support {
    use crate::diag::{Code, Diagnostic};
    use crate::graph::RoleGraph;
    use crate::model::{load, Definitions, SourceFile};

    /// A small catalog the lint tests add roles and packages to.
    pub const BASE: &str = r#"
identity:
  attributes:
    status: { type: enum, values: [active, terminated], required: true }
    department: { type: string }
    tags: { type: set }
applications:
  - id: app
    entitlements:
      - id: read
      - id: admin
        privileged: true
"#;

    /// Loads `BASE` plus `extra`, asserting it has no errors.
    pub fn load_ok(extra: &str) -> (Definitions, RoleGraph) {
        let sources = [SourceFile {
            name: "t.yaml".into(),
            text: format!("{BASE}{extra}"),
        }];
        let (defs, diags) = load(&sources);
        assert!(diags.is_empty(), "{diags:?}");
        let graph = RoleGraph::build(&defs).expect("acyclic");
        (defs, graph)
    }

    /// The diagnostics of one lint with `code` for `BASE` plus `extra`.
    pub fn run(extra: &str, code: Code) -> Vec<Diagnostic> {
        let (defs, graph) = load_ok(extra);
        super::lint(&defs, &graph).into_iter().filter(|d| d.code == code).collect()
    }
}
