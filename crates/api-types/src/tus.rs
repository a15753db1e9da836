//! The values of tus headers a client sends, parsed without trusting them: `Upload-Checksum`,
//! `Upload-Concat`, and the counts (`Upload-Offset`, `Upload-Length`). Pure functions over text,
//! fuzzed in `fuzz/`; the error says what is wrong in words a client author can act on.

use base64::Engine;

/// A checksum the client sent for a body (`Upload-Checksum: ALGORITHM BASE64`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    pub algorithm: Algorithm,
    pub digest: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Sha1,
    /// CRC-32 (IEEE), big-endian: cheap enough to check every chunk of a fast upload.
    Crc32,
}

impl Algorithm {
    pub const NAMES: &'static str = "md5,sha1,crc32";

    pub fn parse(name: &str) -> Option<Algorithm> {
        match name {
            "md5" => Some(Algorithm::Md5),
            "sha1" => Some(Algorithm::Sha1),
            "crc32" => Some(Algorithm::Crc32),
            _ => None,
        }
    }
}

/// An `Upload-Checksum` value.
pub fn parse_checksum(value: &str) -> Result<Checksum, String> {
    let (name, digest) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    let algorithm = Algorithm::parse(name)
        .ok_or_else(|| format!("checksum algorithm {name:?} is not supported; use md5, sha1 or crc32"))?;
    let digest = base64::engine::general_purpose::STANDARD
        .decode(digest.trim())
        .map_err(|_| "the Upload-Checksum digest is not base64".to_owned())?;
    Ok(Checksum { algorithm, digest })
}

/// A count header (`Upload-Offset`, `Upload-Length`): a non-negative whole number that fits in
/// 63 bits.
pub fn parse_count(name: &str, value: &str) -> Result<i64, String> {
    value
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| format!("{name} must be a non-negative whole number"))
}

/// An `Upload-Concat` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConcatHeader<'a> {
    Partial,
    /// `final;URL URL …`: the list, as sent (see [`partial_ids`]).
    Final(&'a str),
}

pub fn parse_concat(value: &str) -> Result<ConcatHeader<'_>, String> {
    match value.trim() {
        "partial" => Ok(ConcatHeader::Partial),
        other => other
            .strip_prefix("final;")
            .map(ConcatHeader::Final)
            .ok_or_else(|| "Upload-Concat is `partial` or `final;URL URL …`".to_owned()),
    }
}

/// The most partial uploads one final upload joins.
pub const MAX_PARTIALS: usize = 256;

/// The upload ids of a `final;` list (the last segment of each URL), each once, at most
/// [`MAX_PARTIALS`]: a piece listed twice would be copied twice, and a long list would make one
/// request copy without end.
pub fn partial_ids(list: &str) -> Result<Vec<&str>, String> {
    let mut ids = Vec::new();
    for (n, url) in list.split_whitespace().enumerate() {
        if n == MAX_PARTIALS {
            let count = list.split_whitespace().count();
            return Err(format!("a final upload joins at most {MAX_PARTIALS} partial uploads, not {count}"));
        }
        let id = url.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
        if id.is_empty() {
            return Err(format!("{url:?} does not name an upload"));
        }
        if ids.contains(&id) {
            return Err(format!("{url} is listed twice; each partial upload joins once"));
        }
        ids.push(id);
    }
    if ids.is_empty() {
        return Err("Upload-Concat: final; needs at least one partial upload (`final;URL URL …`)".to_owned());
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse_or_say_what_is_wrong() {
        let sum = parse_checksum("md5 1B2M2Y8AsgTpgAmY7PhCfg==").unwrap();
        assert_eq!((sum.algorithm, sum.digest.len()), (Algorithm::Md5, 16));
        assert!(parse_checksum("sha256 AAAA").unwrap_err().contains("not supported"));
        assert!(parse_checksum("md5 !!").unwrap_err().contains("not base64"));
        assert_eq!(parse_count("Upload-Offset", " 42 "), Ok(42));
        for bad in ["-1", "1e3", "", "99999999999999999999"] {
            assert!(parse_count("Upload-Offset", bad).is_err(), "{bad}");
        }
        assert_eq!(parse_concat("partial"), Ok(ConcatHeader::Partial));
        assert_eq!(parse_concat("final;/a /b"), Ok(ConcatHeader::Final("/a /b")));
        assert!(parse_concat("whole").is_err());
        assert_eq!(partial_ids("/api/v1/uploads/a http://h/api/v1/uploads/b/"), Ok(vec!["a", "b"]));
        assert!(partial_ids("/u/a /u/a").unwrap_err().contains("twice"));
        assert!(partial_ids("").is_err() && partial_ids("/ //").is_err());
        let many: String = (0..MAX_PARTIALS + 1).map(|i| format!("/u/{i} ")).collect();
        assert!(partial_ids(&many).unwrap_err().contains(&format!("not {}", MAX_PARTIALS + 1)));
    }
}

/// Pieces (a hub extension to tus): a big file's declared upload (the "whole") may be sent as
/// parallel uploads that each carry one range of it, made with `Upload-Metadata` `whole` (the
/// whole's upload id) and `at` (where the range starts), and `Upload-Length` the range's length.
/// Each writes its range in place, so nothing is copied when the last one finishes (the whole is
/// complete then). Pieces start at multiples of `piece_size(length)` of the file and are
/// multiples of it long, except the one that ends the file: on S3 each piece is a run of the
/// file's multipart parts, which are all this long but the last.
pub fn piece_size(length: u64) -> u64 {
    const MIN: u64 = 8 << 20;
    // S3 allows 10,000 parts; leave headroom.
    const MAX_PARTS: u64 = 9_000;
    length.div_ceil(MAX_PARTS).max(MIN).div_ceil(1 << 20) * (1 << 20)
}

/// `size` bytes cut into at most `count` pieces of whole [`piece_size`] units (the last takes
/// the rest): (start, length) of each, in order. Fewer pieces when the file is small.
pub fn split_into_pieces(size: u64, count: u64) -> Vec<(u64, u64)> {
    let unit = piece_size(size);
    let units = size.div_ceil(unit).max(1);
    let count = count.clamp(1, units);
    let per = units.div_ceil(count) * unit;
    let mut out = Vec::new();
    let mut start = 0;
    while start < size || out.is_empty() {
        let len = per.min(size - start);
        out.push((start, len));
        start += len;
    }
    out
}

#[cfg(test)]
mod piece_tests {
    use super::*;

    #[test]
    fn pieces_are_whole_units_but_the_last_and_cover_the_file() {
        assert_eq!(piece_size(0), 8 << 20);
        assert_eq!(piece_size(2 << 30), 8 << 20);
        for size in [1u64, (8 << 20) - 1, 8 << 20, (2 << 30) + 12345, 100 << 30, 5 << 40] {
            let unit = piece_size(size);
            assert!(size.div_ceil(unit) <= 10_000 && unit.is_multiple_of(1 << 20), "{size}");
            for count in [1, 2, 6, 32] {
                let pieces = split_into_pieces(size, count);
                assert!(pieces.len() as u64 <= count, "{size} {count}");
                let mut at = 0;
                for (i, (start, len)) in pieces.iter().enumerate() {
                    assert_eq!(*start, at);
                    assert!(start.is_multiple_of(unit));
                    assert!(i + 1 == pieces.len() || len.is_multiple_of(unit), "{size} {count}: {len}");
                    at += len;
                }
                assert_eq!(at, size);
            }
        }
        assert_eq!(split_into_pieces(2 << 30, 6).len(), 6);
    }
}
