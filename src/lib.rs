//! entitle: a policy-as-code entitlement engine.
//!
//! Role and access-package definitions in YAML compile to Cedar policies;
//! an evaluator computes the **desired** entitlements of any identity state
//! (a person's HR record, or a service account or AI agent with an owner),
//! with every reason; a plan diffs that against the **live** state. See
//! ARCHITECTURE.md for the map of the code and `../shared/spec` for the
//! contract.
//!
//! # Load once, evaluate many times
//!
//! A provisioning workflow loads the definitions once (from directories with
//! [`Project::load`], or from strings as below), builds an [`eval::Engine`],
//! and asks for the desired state of each identity it handles. The engine is
//! `Send + Sync`: share it (in an `Arc`) between threads.
//!
//! ```
//! use std::sync::Arc;
//! use entitle::eval::{Engine, Evaluator};
//! use entitle::model::SourceFile;
//! use entitle::project::{Project, Sources};
//! use entitle::state::IdentityState;
//! use entitle::Instant;
//!
//! let roles = r#"
//! identity:
//!   attributes:
//!     status: { type: enum, values: [active, terminated], required: true }
//!     department: { type: string }
//! applications:
//!   - id: github
//!     entitlements: [{ id: org-member }, { id: org-owner, privileged: true }]
//! packages:
//!   - id: eng-base
//!     entitlements: [github:org-member]
//! roles:
//!   - id: engineer
//!     when: { status: active, department: Engineering }
//!     grants: [eng-base]
//! "#;
//! let sources = Sources {
//!     roles: vec![SourceFile { name: "roles/org.yaml".into(), text: roles.into() }],
//!     policies: vec![],
//! };
//! let project = Arc::new(Project::from_sources(&sources).expect("definitions load"));
//! let engine = Engine::new(project.clone()).expect("engine builds");
//!
//! let record = serde_json::json!({"id": "u-1042", "kind": "person",
//!     "attributes": {"status": "active", "department": "Engineering"}});
//! let identity = IdentityState::from_json(&record, &project.defs).expect("valid record");
//! let desired = engine.desired(&identity, None, Instant::parse("2026-11-21").unwrap()).unwrap();
//!
//! assert!(desired.holds_role("engineer"));
//! let why = &desired.justifications("github:org-member").unwrap()[0];
//! assert_eq!(why.role.as_deref(), Some("engineer"));
//! assert_eq!(why.via, ["eng-base"]);
//! assert_eq!(why.source, "roles/org.yaml:13");
//! ```
//!
//! # A leaver, planned
//!
//! A joiner/mover/leaver workflow reads the HR feed and the live grants and
//! gets a plan of grants and revocations, each with its reason. The plan is
//! refused (no changes) when the safety guards trip, say on a truncated feed.
//!
//! ```
//! # use std::sync::Arc;
//! # use entitle::eval::Engine;
//! # use entitle::model::SourceFile;
//! # use entitle::project::{Project, Sources};
//! use entitle::io::{identities::parse_identities, live::parse_live};
//! use entitle::plan::{plan, Change, GuardLimits, PlanOptions, RevokeReason};
//! use entitle::population::Population;
//! # let roles = "identity:\n  attributes:\n    status: { type: enum, values: [active, terminated], required: true }\napplications:\n  - id: slack\n    entitlements: [{ id: member }]\nroles:\n  - id: employee\n    when: { status: active }\n    grants: [slack:member]\n";
//! # let sources = Sources { roles: vec![SourceFile { name: "roles/org.yaml".into(), text: roles.into() }], policies: vec![] };
//! # let project = Arc::new(Project::from_sources(&sources).unwrap());
//! let engine = Engine::new(project.clone()).unwrap();
//!
//! // HR says u-7 left; the chat application still has them and their eleven colleagues.
//! let mut hr = String::from(r#"{"id": "u-7", "kind": "person", "attributes": {"status": "terminated"}}"#);
//! let mut live = String::from(r#"{"identity": "u-7", "entitlement": "slack:member"}"#);
//! for n in 10..21 {
//!     hr += &format!("\n{{\"id\": \"u-{n}\", \"kind\": \"person\", \"attributes\": {{\"status\": \"active\"}}}}");
//!     live += &format!("\n{{\"identity\": \"u-{n}\", \"entitlement\": \"slack:member\"}}");
//! }
//! let feed = parse_identities("hr.jsonl", hr.as_bytes(), None, &project.defs).unwrap();
//! let live = parse_live("live.jsonl", live.as_bytes(), None, None).unwrap();
//!
//! let options = PlanOptions { as_of: entitle::Instant::parse("2026-11-21").unwrap(), limits: GuardLimits::default(), force: false, governance: Default::default() };
//! let plan = plan(&project, &engine, &Population::new(feed), &[live], &options, &|_| ()).unwrap();
//! // One revocation of 12 live grants: under the default guard (500 or 10% of live grants).
//! assert!(plan.refused.is_none());
//! assert_eq!(plan.changes.len(), 1);
//! assert!(matches!(&plan.changes[0],
//!     Change::Revoke { identity, reason: RevokeReason::NotJustified, .. } if identity == "u-7"));
//! ```
//!
//! # A mover, previewed
//!
//! [`whatif`] compares a population in two states — other definitions, HR
//! edits ([`whatif::edit`]), another instant — and says who gains and who
//! loses what, with the reasons, evaluating only the identities a change can
//! reach. Its documentation previews a mover from a workflow (what happens
//! when u-1042 moves to Finance on Monday?); `examples/mover.rs` runs one on
//! the example organisation.

#![warn(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod catalog;
pub mod check;
pub mod compile;
pub mod diag;
pub mod eval;
pub mod gen;
pub mod graph;
pub mod io;
pub mod model;
pub mod plan;
pub mod population;
pub mod project;
pub mod prove;
pub mod rego;
pub mod state;
pub mod term;
pub mod testing;
pub mod time;
pub mod whatif;

pub use diag::{Code, Diagnostic, Location, Severity};
pub use project::Project;
pub use time::{Duration, Instant};

#[cfg(test)]
mod tests {
    /// The evaluators are shared between threads by provisioning workflows.
    #[test]
    fn evaluators_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<crate::eval::Engine>();
        assert_send_sync::<crate::eval::Oracle>();
        assert_send_sync::<crate::project::Project>();
    }
}
