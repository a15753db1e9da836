//! Frame-sequence packages as a careless or hostile packager might make them: each case is one
//! defect, built entry by entry. The same cases go through `npack verify` (the npack crate's
//! tests) and through the hub's validation on both backends (the hub's tests).

use npack::zip::format::{
    CENTRAL_HEADER_LEN, EOCD_SIG, EntryRecord, FLAG_ENCRYPTED, ZIP64_EOCD_SIG, ZIP64_LOCATOR_SIG, central_header,
    end_records, local_header,
};

/// One entry's defects, written into its headers.
#[derive(Debug, Clone, Default)]
pub struct Defects {
    /// A compression method other than stored, in both headers.
    pub method: Option<u16>,
    /// The encryption flag, in both headers.
    pub encrypted: bool,
    /// A different name in the local header than in the central directory (same length).
    pub local_name: Option<String>,
    /// The central directory's compressed size, when it lies.
    pub central_compressed_size: Option<u32>,
}

/// Builds an archive entry by entry.
#[derive(Debug, Default)]
pub struct Builder {
    out: Vec<u8>,
    records: Vec<(EntryRecord, Defects)>,
    zip64_end: bool,
}

impl Builder {
    pub fn new() -> Self {
        Builder::default()
    }

    pub fn add(self, name: &str, data: &[u8]) -> Self {
        self.add_with(name, data, Defects::default())
    }

    pub fn add_with(mut self, name: &str, data: &[u8], defects: Defects) -> Self {
        let record = EntryRecord {
            name: name.into(),
            size: data.len() as u64,
            crc32: crc32fast::hash(data),
            offset: self.out.len() as u64,
            dos_time: 0,
            dos_date: 33,
        };
        let mut header = local_header(&record);
        patch_common(&mut header, 6, &defects);
        if let Some(local) = &defects.local_name {
            assert_eq!(local.len(), name.len(), "same length, so that only the name differs");
            header[30..30 + local.len()].copy_from_slice(local.as_bytes());
        }
        self.out.extend(header);
        self.out.extend(data);
        self.records.push((record, defects));
        self
    }

    /// Entries and a checksum.txt listing them.
    pub fn package(self, files: &[(&str, &[u8])]) -> Self {
        let manifest: String = files.iter().map(|(name, data)| checksum_line(name, data)).collect();
        files.iter().fold(self, |b, (n, d)| b.add(n, d)).add("checksum.txt", manifest.as_bytes())
    }

    /// `outer` whose data is, byte for byte, a whole entry `inner` (header and data): the central
    /// directory lists both, so their data overlap (the classic way to make a small ZIP expand).
    pub fn overlapping(mut self, outer: &str, inner: &str, inner_data: &[u8]) -> Self {
        let inner_offset = self.out.len() as u64 + 30 + outer.len() as u64;
        let inner_record = EntryRecord {
            name: inner.into(),
            size: inner_data.len() as u64,
            crc32: crc32fast::hash(inner_data),
            offset: inner_offset,
            dos_time: 0,
            dos_date: 33,
        };
        let mut payload = local_header(&inner_record);
        payload.extend(inner_data);
        self = self.add(outer, &payload);
        self.records.push((inner_record, Defects::default()));
        self
    }

    /// End the archive with ZIP64 end records even though it is small.
    pub fn zip64_end(mut self) -> Self {
        self.zip64_end = true;
        self
    }

    pub fn finish(self) -> Vec<u8> {
        self.finish_claiming(None)
    }

    /// Finishes with the end record claiming `count` entries (whatever there are).
    pub fn finish_claiming(self, count: Option<u16>) -> Vec<u8> {
        let mut out = self.out;
        let cd_offset = out.len() as u64;
        let mut cd = Vec::new();
        for (record, defects) in &self.records {
            let at = cd.len();
            central_header(record, &mut cd);
            patch_common(&mut cd[at..at + CENTRAL_HEADER_LEN], 8, defects);
            if let Some(size) = defects.central_compressed_size {
                cd[at + 20..at + 24].copy_from_slice(&size.to_le_bytes());
            }
        }
        out.extend(&cd);
        let entries = self.records.len() as u64;
        if self.zip64_end {
            out.extend(zip64_end_records(entries, cd_offset, cd.len() as u64, out.len() as u64));
        } else {
            out.extend(end_records(entries, cd_offset, cd.len() as u64));
        }
        if let Some(count) = count {
            let n = out.len();
            out[n - 14..n - 12].copy_from_slice(&count.to_le_bytes());
            out[n - 12..n - 10].copy_from_slice(&count.to_le_bytes());
        }
        out
    }
}

/// Patches the flags (at `flags_at`) and method (two bytes later) of a local or central header.
fn patch_common(header: &mut [u8], flags_at: usize, defects: &Defects) {
    if defects.encrypted {
        let flags = u16::from_le_bytes([header[flags_at], header[flags_at + 1]]) | FLAG_ENCRYPTED;
        header[flags_at..flags_at + 2].copy_from_slice(&flags.to_le_bytes());
    }
    if let Some(method) = defects.method {
        header[flags_at + 2..flags_at + 4].copy_from_slice(&method.to_le_bytes());
    }
}

/// ZIP64 end record, its locator and a classic end record full of "see ZIP64" markers.
fn zip64_end_records(entries: u64, cd_offset: u64, cd_size: u64, at: u64) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(ZIP64_EOCD_SIG.to_le_bytes());
    out.extend(44u64.to_le_bytes());
    out.extend(45u16.to_le_bytes());
    out.extend(45u16.to_le_bytes());
    out.extend(0u32.to_le_bytes());
    out.extend(0u32.to_le_bytes());
    out.extend(entries.to_le_bytes());
    out.extend(entries.to_le_bytes());
    out.extend(cd_size.to_le_bytes());
    out.extend(cd_offset.to_le_bytes());
    out.extend(ZIP64_LOCATOR_SIG.to_le_bytes());
    out.extend(0u32.to_le_bytes());
    out.extend(at.to_le_bytes());
    out.extend(1u32.to_le_bytes());
    out.extend(EOCD_SIG.to_le_bytes());
    out.extend([0u8; 4]);
    out.extend([0xFF; 4]);
    out.extend([0xFF; 8]);
    out.extend([0u8; 2]);
    out
}

/// A checksum.txt line as npack writes it.
pub fn checksum_line(name: &str, data: &[u8]) -> String {
    format!("{name}\t{}\tmd5\t{}\n", data.len(), npack::checksum::hex(&md5_many::md5(data)))
}

/// A well-formed package of two frames: what every hostile case departs from.
pub fn good_package() -> Vec<u8> {
    Builder::new().package(&[("a.dpx", FRAME_A), ("b.dpx", FRAME_B)]).finish()
}

const FRAME_A: &[u8] = b"frame a";
const FRAME_B: &[u8] = b"frame bb";

/// (what, archive, a part of the reason it must be refused with), one defect each. Every case
/// must fail verification; `good_package()` and a well-formed ZIP64 archive must pass.
pub fn hostile_packages() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let (a, b) = (FRAME_A, FRAME_B);
    let good = good_package();
    let manifest_a = checksum_line("a.dpx", a);
    let cd_offset = u32::from_le_bytes(good[good.len() - 6..good.len() - 2].try_into().unwrap()) as usize;
    vec![
        (
            "a folder inside",
            Builder::new().package(&[("a.dpx", a)]).add("reel1/", b"").add("reel1/b.dpx", b).finish(),
            "packages are flat",
        ),
        ("a name with ..", Builder::new().package(&[("a.dpx", a)]).add("../evil.dpx", b).finish(), "has a path"),
        ("no checksum.txt", Builder::new().add("a.dpx", a).finish(), "checksum.txt is missing"),
        (
            "a malformed checksum.txt",
            Builder::new().add("a.dpx", a).add("checksum.txt", b"a.dpx 7 md5 nothex\n").finish(),
            "checksum.txt line 1",
        ),
        (
            "an md5 that differs",
            Builder::new().add("a.dpx", b"frame A").add("checksum.txt", manifest_a.as_bytes()).finish(),
            "md5 is",
        ),
        (
            "a size that differs from checksum.txt",
            Builder::new().add("a.dpx", b"frame").add("checksum.txt", manifest_a.as_bytes()).finish(),
            "checksum.txt says 7",
        ),
        ("an entry not listed", Builder::new().package(&[("a.dpx", a)]).add("extra.dpx", b).finish(), "extra.dpx"),
        (
            "a listed file missing",
            Builder::new()
                .add("a.dpx", a)
                .add("checksum.txt", format!("{manifest_a}{}", checksum_line("b.dpx", b)).as_bytes())
                .finish(),
            "b.dpx",
        ),
        ("the same name twice", Builder::new().package(&[("a.dpx", a)]).add("a.dpx", a).finish(), "more than once"),
        (
            "a compressed entry",
            Builder::new()
                .add_with("a.dpx", a, Defects { method: Some(8), ..Defects::default() })
                .add("checksum.txt", manifest_a.as_bytes())
                .finish(),
            "is compressed (method 8)",
        ),
        (
            "an encrypted entry",
            Builder::new()
                .add_with("a.dpx", a, Defects { encrypted: true, ..Defects::default() })
                .add("checksum.txt", manifest_a.as_bytes())
                .finish(),
            "is encrypted",
        ),
        (
            "local and central names differ",
            Builder::new()
                .add_with("a.dpx", a, Defects { local_name: Some("x.dpx".into()), ..Defects::default() })
                .add("checksum.txt", manifest_a.as_bytes())
                .finish(),
            "local header's name differs",
        ),
        (
            "stored and real sizes differ",
            Builder::new()
                .add_with("a.dpx", a, Defects { central_compressed_size: Some(3), ..Defects::default() })
                .add("checksum.txt", manifest_a.as_bytes())
                .finish(),
            "sizes differ",
        ),
        (
            "overlapping entries",
            Builder::new().overlapping("a.dpx", "b.dpx", b).add("checksum.txt", manifest_a.as_bytes()).finish(),
            "overlap",
        ),
        (
            "an absurd entry count",
            Builder::new().package(&[("a.dpx", a)]).finish_claiming(Some(0xFFFE)),
            "cannot hold them",
        ),
        (
            "a ZIP64 record that is missing",
            Builder::new().package(&[("a.dpx", a)]).finish_claiming(Some(0xFFFF)),
            "ZIP64",
        ),
        (
            "a damaged byte",
            {
                let mut damaged = good.clone();
                damaged[30 + "a.dpx".len() + 2] ^= 0x55;
                damaged
            },
            "CRC-32 is",
        ),
        ("truncated", good[..good.len() - 30].to_vec(), "truncated"),
        ("cut in the middle", [&good[..20], &good[40..]].concat(), "truncated"),
        (
            "a central directory past the end",
            {
                let mut lying = good.clone();
                let n = lying.len();
                lying[n - 6..n - 2].copy_from_slice(&((cd_offset + 10_000) as u32).to_le_bytes());
                lying
            },
            "central directory",
        ),
        ("an empty file", Vec::new(), "not a ZIP file"),
        ("not a ZIP at all", b"this is a text file, not an archive at all".to_vec(), "not a ZIP file"),
    ]
}

/// A well-formed package ending in ZIP64 records: it must pass.
pub fn zip64_package() -> Vec<u8> {
    Builder::new().package(&[("a.dpx", FRAME_A), ("b.dpx", FRAME_B)]).zip64_end().finish()
}
