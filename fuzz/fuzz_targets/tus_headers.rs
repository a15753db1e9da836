//! The tus header values a client sends (Upload-Metadata, Upload-Checksum, Upload-Concat and its
//! list, the counts): parsed or refused with a message, never a panic; what is accepted holds.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::tus_headers(data));
