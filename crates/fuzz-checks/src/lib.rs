//! What each fuzz target checks of a parser of untrusted bytes: any input gets an answer or a
//! clear refusal, never a panic, a hang or unbounded memory, and what is accepted holds its
//! promises (round trips, bounds). The targets in `fuzz/` call these under libFuzzer; the test in
//! `tests/corpus.rs` replays every input kept in `fuzz/corpus/` (and every crash ever found) on
//! stable Rust, so they stay fixed.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::atomic::AtomicBool;

use api_types::tus;
use hub_domain::BucketKind;
use hub_domain::metadata::{apply_patch, validate};
use npack::verify::{Manifest, VerifyOptions, verify_listing};
use npack::zip::read::ReadAt;

/// What a target checks of one input (it panics when a promise is broken).
pub type Check = fn(&[u8]);

/// The targets, by name (as in `fuzz/Cargo.toml` and `fuzz/corpus/`).
pub const TARGETS: &[(&str, Check)] = &[
    ("media", media),
    ("npack_zip", npack_zip),
    ("checksum_txt", checksum_txt),
    ("tus_headers", tus_headers),
    ("cursor", cursor),
    ("metadata", metadata),
];

/// The movie box reader and the fast-start remux.
pub fn media(data: &[u8]) {
    let len = data.len() as u64;
    let _ = media::inspect(&mut Cursor::new(data), len);
    let mut out = Vec::new();
    if let Ok(true) = media::remux_fast_start(&mut Cursor::new(data), len, &mut out) {
        // What the remux wrote is a movie the reader takes, of the same length.
        assert_eq!(out.len() as u64, len);
        assert!(media::inspect(&mut Cursor::new(&out[..]), len).is_ok());
    }
}

struct Mem<'a>(&'a [u8]);

impl ReadAt for Mem<'_> {
    fn size(&self) -> std::io::Result<u64> {
        Ok(self.0.len() as u64)
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| std::io::ErrorKind::UnexpectedEof)?;
        let end =
            start.checked_add(buf.len()).filter(|e| *e <= self.0.len()).ok_or(std::io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(&self.0[start..end]);
        Ok(())
    }
}

/// Verifying a package ZIP (central directory, local headers, ZIP64, checksum.txt, every byte's
/// CRC and md5).
pub fn npack_zip(data: &[u8]) {
    let options = VerifyOptions { threads: 1, ..Default::default() };
    let _ = npack::verify::verify_zip(&Mem(data), &options, &AtomicBool::new(false), &npack::NoProgress);
}

/// checksum.txt: parsed or refused with a line number; what parses renders to text that parses
/// and renders the same; a folder check against it (the files it lists, and one it does not).
pub fn checksum_txt(data: &[u8]) {
    let listed = npack::checksum::parse(data);
    if let Ok(entries) = &listed {
        let rendered = npack::checksum::render(entries);
        let again = npack::checksum::parse(rendered.as_bytes()).expect("rendered text parses");
        assert_eq!(npack::checksum::render(&again), rendered);
    }
    let mut present: Vec<(String, u64)> = listed.unwrap_or_default().iter().map(|e| (e.name.clone(), e.size)).collect();
    present.push(("extra.dpx".to_owned(), 3));
    let options = VerifyOptions { threads: 1, ..Default::default() };
    let _ = verify_listing(Manifest::Bytes(data.to_vec()), &present, &options, |wanted| {
        Ok(wanted.iter().map(|(name, _)| (name.clone(), [0u8; 16])).collect::<HashMap<_, _>>())
    });
}

/// The tus header values a client sends (Upload-Metadata, Upload-Checksum, Upload-Concat and its
/// list, the counts).
pub fn tus_headers(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(pairs) = api_types::upload_metadata::parse(text)
        && pairs.iter().all(|(k, _)| !k.is_empty() && !k.contains([' ', ',']) && k.trim() == k)
    {
        let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let encoded = api_types::upload_metadata::encode(&borrowed);
        assert_eq!(api_types::upload_metadata::parse(&encoded), Ok(pairs));
    }
    let _ = tus::parse_checksum(text);
    if let Ok(n) = tus::parse_count("Upload-Offset", text) {
        assert!(n >= 0);
    }
    if let Ok(tus::ConcatHeader::Final(list)) = tus::parse_concat(text)
        && let Ok(ids) = tus::partial_ids(list)
    {
        assert!(!ids.is_empty() && ids.len() <= tus::MAX_PARTIALS);
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "each partial once");
    }
}

/// The listing's paging cursor as a client sends it back (the first version sliced a string at a
/// byte index and panicked on `é`): what decodes re-encodes to a cursor that decodes the same.
pub fn cursor(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some((key, id)) = api_types::cursor::decode(text) {
        assert_eq!(api_types::cursor::decode(&api_types::cursor::encode(&key, id)), Some((key, id)));
    }
}

/// Metadata as a vendor sends it (any JSON object), validated against every bucket's schema and
/// applied as a patch: what is accepted validates again unchanged.
pub fn metadata(data: &[u8]) {
    let Ok(serde_json::Value::Object(input)) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    for bucket in BucketKind::ALL {
        if let Ok(metadata) = validate(bucket, &input) {
            let again: serde_json::Map<String, serde_json::Value> =
                metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            assert_eq!(validate(bucket, &again).as_ref(), Ok(&metadata), "{bucket:?}");
            let _ = apply_patch(bucket, &metadata, &input);
        }
        let _ = apply_patch(bucket, &Default::default(), &input);
    }
}
