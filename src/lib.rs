//! entitle: a policy-as-code entitlement engine.
//!
//! Role and access-package definitions in YAML compile to Cedar policies;
//! an evaluator computes the desired entitlements of any identity state.
//! See ARCHITECTURE.md for the map of the code.

#![warn(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod check;
pub mod compile;
pub mod diag;
pub mod eval;
pub mod graph;
pub mod io;
pub mod model;
pub mod plan;
pub mod population;
pub mod project;
pub mod state;
pub mod time;

pub use diag::{Code, Diagnostic, Location, Severity};
pub use project::Project;
pub use time::{Duration, Instant};
