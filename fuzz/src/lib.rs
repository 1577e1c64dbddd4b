//! The checks behind entitle's fuzz targets, one module per target.
//!
//! Each `check(data)` runs one input through the code under test and panics
//! when an invariant breaks (a panic is how a fuzzer learns of a finding).
//! `tests/fuzz_regressions.rs` in the main crate includes the same module
//! (by path) and runs every committed corpus file through it, so CI re-checks
//! the corpora on every commit without the fuzzer.

pub mod checks;
