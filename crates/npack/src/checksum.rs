//! `checksum.txt`: the manifest of a package, in the original npack's exact format.
//!
//! One line per file, `NAME<TAB>SIZE<TAB>md5<TAB>HEX<LF>`, UTF-8, lines sorted by byte order (the
//! original sorts whole lines, so we do too: it only differs from sorting names when a name holds a
//! control character, and then we still match it).

use std::collections::HashSet;
use std::fmt::Write as _;

/// The manifest's file name, inside a ZIP or beside the frames.
pub const CHECKSUM_TXT: &str = "checksum.txt";

/// Longest line we accept when parsing; a file name is at most 255 bytes on every common file system.
const MAX_LINE_BYTES: usize = 4096;

/// One file of a package as recorded in checksum.txt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecksumEntry {
    pub name: String,
    pub size: u64,
    pub md5: [u8; 16],
}

impl ChecksumEntry {
    /// The line without its newline, exactly as the original writes it.
    pub fn line(&self) -> String {
        format!("{}\t{}\tmd5\t{}", self.name, self.size, hex(&self.md5))
    }
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The name the original records for a file: its base name with surrounding whitespace stripped.
pub fn recorded_name(file_name: &str) -> &str {
    file_name.trim()
}

/// Renders the whole checksum.txt, lines sorted by byte order, each ending in LF. Names hold no
/// TAB (it separates the fields), so ordering by name followed by TAB is the line order, and no
/// line needs building twice.
pub fn render(entries: &[ChecksumEntry]) -> String {
    let mut order: Vec<&ChecksumEntry> = entries.iter().collect();
    order.sort_unstable_by(|a, b| crate::scan::line_order(&a.name, &b.name));
    let mut out = String::with_capacity(entries.iter().map(|e| e.name.len() + 56).sum());
    for entry in order {
        let _ = writeln!(out, "{}\t{}\tmd5\t{}", entry.name, entry.size, hex(&entry.md5));
    }
    out
}

/// Why a checksum.txt could not be read, with the 1-based line it happened on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("checksum.txt line {line}: {message}")]
pub struct ChecksumParseError {
    pub line: usize,
    pub message: String,
}

/// Parses checksum.txt. Accepts LF or CRLF line ends and a missing final newline; rejects anything
/// else that is not `NAME<TAB>SIZE<TAB>md5<TAB>HEX`, names with a path in them, and duplicate names.
pub fn parse(bytes: &[u8]) -> Result<Vec<ChecksumEntry>, ChecksumParseError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
        ChecksumParseError { line, message: "is not valid UTF-8".into() }
    })?;
    let mut entries = Vec::new();
    let mut seen = HashSet::new();
    let body = text.strip_suffix('\n').unwrap_or(text);
    if body.is_empty() {
        return Ok(entries);
    }
    for (index, raw) in body.split('\n').enumerate() {
        let line_no = index + 1;
        let err = |message: String| ChecksumParseError { line: line_no, message };
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.len() > MAX_LINE_BYTES {
            return Err(err(format!("is {} bytes long; the limit is {MAX_LINE_BYTES}", line.len())));
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [name, size, algo, digest] = fields[..] else {
            return Err(err(format!(
                "expected 4 tab-separated fields NAME, SIZE, md5, HEX but found {}",
                fields.len()
            )));
        };
        if name.is_empty() {
            return Err(err("the file name is empty".into()));
        }
        if name.contains(['/', '\\']) || name == "." || name == ".." {
            return Err(err(format!("file name {name:?} has a path in it; packages are flat")));
        }
        let size: u64 = size.parse().map_err(|_| err(format!("size {size:?} is not a whole number of bytes")))?;
        if !algo.eq_ignore_ascii_case("md5") {
            return Err(err(format!("algorithm {algo:?} is not supported; expected md5")));
        }
        let md5 = parse_md5(digest).ok_or_else(|| err(format!("md5 {digest:?} is not 32 hexadecimal digits")))?;
        if !seen.insert(name) {
            return Err(err(format!("{name} is listed twice")));
        }
        entries.push(ChecksumEntry { name: name.to_owned(), size, md5 });
    }
    Ok(entries)
}

fn parse_md5(digest: &str) -> Option<[u8; 16]> {
    if digest.len() != 32 || !digest.is_ascii() {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&digest[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, size: u64, fill: u8) -> ChecksumEntry {
        ChecksumEntry { name: name.into(), size, md5: [fill; 16] }
    }

    #[test]
    fn renders_sorted_lines_in_the_original_format() {
        let text = render(&[entry("b.dpx", 10, 0xab), entry("a.dpx", 0, 0x01)]);
        assert_eq!(
            text,
            "a.dpx\t0\tmd5\t01010101010101010101010101010101\n\
             b.dpx\t10\tmd5\tabababababababababababababababab\n"
        );
    }

    #[test]
    fn sorts_whole_lines_like_the_original() {
        // "a" + TAB sorts before "a.b": the line order, not the name order, decides.
        let text = render(&[entry("a.b", 1, 0), entry("a", 1, 0)]);
        assert!(text.starts_with("a\t"));
    }

    #[test]
    fn parses_what_it_renders() {
        let entries = vec![entry("a.dpx", 3, 0x11), entry("é.dpx", 4, 0xfe)];
        assert_eq!(parse(render(&entries).as_bytes()).unwrap(), entries);
        assert_eq!(parse(b"").unwrap(), vec![]);
        let crlf = "a.dpx\t3\tmd5\t11111111111111111111111111111111\r\n";
        assert_eq!(parse(crlf.as_bytes()).unwrap(), vec![entry("a.dpx", 3, 0x11)]);
    }

    #[test]
    fn rejects_malformed_lines_with_their_line_number() {
        let good = "a\t1\tmd5\t00000000000000000000000000000000\n";
        let cases: &[(&str, &str)] = &[
            ("a\t1\tmd5\n", "expected 4"),
            ("a\tx\tmd5\t00000000000000000000000000000000\n", "whole number"),
            ("a\t1\tsha1\t00000000000000000000000000000000\n", "not supported"),
            ("a\t1\tmd5\t0000\n", "32 hexadecimal"),
            ("a\t1\tmd5\t0000000000000000000000000000000g\n", "32 hexadecimal"),
            ("../a\t1\tmd5\t00000000000000000000000000000000\n", "path in it"),
            ("\t1\tmd5\t00000000000000000000000000000000\n", "empty"),
            ("a\t1\tmd5\t00000000000000000000000000000000\n", "listed twice"),
            ("\n", "expected 4"),
        ];
        for (bad, expect) in cases {
            let err = parse(format!("{good}{bad}").as_bytes()).unwrap_err();
            assert_eq!(err.line, 2, "{bad:?}");
            assert!(err.message.contains(expect), "{bad:?}: {err}");
        }
        let err = parse(b"a\t1\tmd5\t00\xff").unwrap_err();
        assert!(err.message.contains("UTF-8"));
    }
}
