//! The `live` fuzz target: see `fuzz/src/checks/live.rs` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| entitle_fuzz::checks::live::check(data));
