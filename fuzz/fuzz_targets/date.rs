#![no_main]
//! See `fuzz_checks::date` (fuzz/checks/src/lib.rs) for what is checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::date(data));
