//! The `definitions` fuzz target: see `fuzz/src/checks/definitions.rs` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| entitle_fuzz::checks::definitions::check(data));
