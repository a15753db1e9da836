//! The listing's paging cursor as a client sends it back: decoded or refused, never a panic (the
//! first version sliced a string at a byte index and panicked on `é`); what decodes re-encodes to
//! a cursor that decodes the same.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::cursor(data));
