//! The `identities` fuzz target: see `fuzz/src/checks/identities.rs` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| entitle_fuzz::checks::identities::check(data));
