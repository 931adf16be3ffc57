#![no_main]
//! See `fuzz_checks::html` (fuzz/checks/src/lib.rs) for what is checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::html(data));
