#![no_main]
//! See `refeed_fuzz::html` (fuzz/src/lib.rs) for what is checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| refeed_fuzz::html(data));
