//! Verifying a package ZIP (central directory, local headers, ZIP64, checksum.txt, every byte's
//! CRC and md5) from any bytes: a report or an error, never a panic, a hang or unbounded memory.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::npack_zip(data));
