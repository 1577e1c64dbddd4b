//! `entitle test`: test suites (spec §6) and coverage.
//!
//! The path of a run: [`suite::discover`] finds suite files (under
//! `fixtures/` by default), [`suite::load_suites`] reads them against the
//! project — every problem a located diagnostic, every id checked, with a
//! "did you mean" — [`run::run_suites`] evaluates each test's identity with
//! the [`Engine`](crate::eval::Engine) and compares it with what the test
//! expects, explaining each difference, and [`coverage`] records what the
//! tests exercised, down to each entry of each role's condition through the
//! walker's trace mode. [`render`] writes the run for people and as JSON;
//! [`crate::io::junit`] as JUnit XML.
//!
//! ```
//! # use std::sync::Arc;
//! use entitle::eval::Engine;
//! use entitle::model::SourceFile;
//! use entitle::project::{Project, Sources};
//! use entitle::testing::{load_suites, run_suites};
//! # let roles = "identity:\n  attributes:\n    status: { type: enum, values: [active, terminated], required: true }\napplications:\n  - id: slack\n    entitlements: [{ id: member }]\nroles:\n  - id: employee\n    when: { status: active }\n    grants: [slack:member]\n";
//! # let sources = Sources { roles: vec![SourceFile { name: "roles/org.yaml".into(), text: roles.into() }], policies: vec![] };
//! let project = Arc::new(Project::from_sources(&sources).unwrap());
//! let suite = r#"
//! as_of: 2026-11-21
//! identities:
//!   - { id: u-1, kind: person, attributes: { status: active } }
//!   - { id: u-2, kind: person, attributes: { status: terminated } }
//! tests:
//!   - identity: u-1
//!     expect: { roles: [employee], exactly: [slack:member] }
//!   - name: a leaver holds nothing
//!     identity: u-2
//!     expect: { exactly: [] }
//! "#;
//! let loaded = load_suites(&project, vec![SourceFile { name: "fixtures/people.yaml".into(), text: suite.into() }]);
//! assert!(loaded.diagnostics.is_empty());
//!
//! let engine = Engine::new(project.clone()).unwrap();
//! let report = run_suites(&project, &engine, &loaded.suites, true).unwrap();
//! assert_eq!((report.passed(), report.failed()), (2, 0));
//! // `status: active` was seen true (u-1) and false (u-2): both outcomes of its one entry.
//! let coverage = report.coverage.unwrap();
//! assert_eq!(coverage.conditions_totals().covered, 2);
//! ```
//!
//! It never decides what anyone holds: verdicts come from the engine.

pub mod coverage;
pub mod render;
pub mod run;
pub mod suite;

pub use coverage::{Coverage, Totals};
pub use run::{run_suites, RunReport};
pub use suite::{discover, load_suites, LoadedSuites, Suite};
