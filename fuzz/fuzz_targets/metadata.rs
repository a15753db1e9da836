//! Metadata values as a vendor sends them (any JSON object), validated against every bucket's
//! schema and applied as a patch: accepted in canonical form or refused field by field, never a
//! panic; what is accepted validates again unchanged.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::metadata(data));
