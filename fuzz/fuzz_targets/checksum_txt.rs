//! checksum.txt, as a package or a folder carries it: parsed or refused with a line number; what
//! parses renders back to text that parses to the same entries; a folder check against it (with
//! the files it lists, and one it does not) never panics.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::checksum_txt(data));
