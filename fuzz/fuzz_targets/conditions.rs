//! The `conditions` fuzz target: see `fuzz/src/checks/conditions.rs` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| entitle_fuzz::checks::conditions::check(data));
