//! The movie box reader and the fast-start remux, on any bytes: an answer or an error, never a
//! panic, a hang or unbounded memory.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::media(data));
