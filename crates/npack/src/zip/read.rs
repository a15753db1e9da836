//! Reading a package's structure without trusting it: every count, size and offset is checked
//! against the file before anything is allocated or read.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use crate::zip::format::{
    CENTRAL_HEADER_LEN, CENTRAL_HEADER_SIG, EOCD_LEN, EOCD_SIG, FLAG_UTF8, LOCAL_HEADER_LEN, LOCAL_HEADER_SIG, MAX_16,
    MAX_32, ZIP64_EOCD_LEN, ZIP64_EOCD_SIG, ZIP64_EXTRA_ID, ZIP64_LOCATOR_LEN, ZIP64_LOCATOR_SIG,
};

/// Random access to a package: a local file, or (in the hub) ranges of a stored object.
pub trait ReadAt: Sync {
    fn size(&self) -> io::Result<u64>;
    /// Fills `buf` from `offset`; fails with `UnexpectedEof` past the end.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
}

impl ReadAt for File {
    fn size(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        FileExt::read_exact_at(self, buf, offset)
    }
}

/// What a hostile archive may make us hold in memory.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_entries: u64,
    pub max_central_directory_bytes: u64,
    pub max_checksum_txt_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        // A 250,000-frame package needs about 25 MB of central directory and 20 MB of checksum.txt.
        Limits { max_entries: 1_000_000, max_central_directory_bytes: 128 << 20, max_checksum_txt_bytes: 64 << 20 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    #[error("cannot read the package: {0}")]
    Io(#[from] io::Error),
    #[error("not a ZIP file, or truncated: no end-of-central-directory record in its last bytes")]
    NoEndRecord,
    #[error("archive declares {declared} entries; the limit is {limit}")]
    TooManyEntries { declared: u64, limit: u64 },
    #[error("central directory is {size} bytes; the limit is {limit}")]
    DirectoryTooLarge { size: u64, limit: u64 },
    #[error("corrupt or truncated archive: {0}")]
    Corrupt(String),
}

fn corrupt(message: impl Into<String>) -> ZipError {
    ZipError::Corrupt(message.into())
}

/// One central directory entry, as much of it as verification needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CentralEntry {
    /// The raw name decoded as UTF-8 (lossily when it is not; see `name_is_utf8`).
    pub name: String,
    pub name_is_utf8: bool,
    pub flags: u16,
    pub method: u16,
    pub crc32: u32,
    pub compressed_size: u64,
    pub size: u64,
    pub header_offset: u64,
}

#[derive(Debug)]
pub struct CentralDirectory {
    pub entries: Vec<CentralEntry>,
    pub offset: u64,
    pub size: u64,
    pub zip64: bool,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Finds and reads the end records and the central directory.
pub fn read_central_directory(src: &impl ReadAt, limits: &Limits) -> Result<CentralDirectory, ZipError> {
    let len = src.size()?;
    if len < EOCD_LEN as u64 {
        return Err(ZipError::NoEndRecord);
    }
    let tail_len = len.min(EOCD_LEN as u64 + 0xFFFF) as usize;
    let tail_start = len - tail_len as u64;
    let mut tail = vec![0u8; tail_len];
    src.read_exact_at(&mut tail, tail_start)?;
    // The end record is the last signature whose comment length reaches exactly to the end of file.
    let eocd_at = (0..=tail_len - EOCD_LEN)
        .rev()
        .find(|&i| u32_at(&tail, i) == EOCD_SIG && i + EOCD_LEN + u16_at(&tail, i + 20) as usize == tail_len)
        .ok_or(ZipError::NoEndRecord)?;
    let eocd = &tail[eocd_at..];
    let eocd_offset = tail_start + eocd_at as u64;
    if u16_at(eocd, 4) != 0 || u16_at(eocd, 6) != 0 {
        return Err(corrupt("multi-disk (spanned) archives are not supported"));
    }
    let mut count = u64::from(u16_at(eocd, 10));
    let mut cd_size = u64::from(u32_at(eocd, 12));
    let mut cd_offset = u64::from(u32_at(eocd, 16));
    let mut directory_end = eocd_offset;

    let needs_zip64 = count == MAX_16 || cd_size == MAX_32 || cd_offset == MAX_32;
    let has_locator = eocd_offset >= ZIP64_LOCATOR_LEN as u64 && {
        let mut sig = [0u8; 4];
        src.read_exact_at(&mut sig, eocd_offset - ZIP64_LOCATOR_LEN as u64)?;
        u32::from_le_bytes(sig) == ZIP64_LOCATOR_SIG
    };
    let zip64 = has_locator;
    if has_locator {
        let mut locator = [0u8; ZIP64_LOCATOR_LEN];
        src.read_exact_at(&mut locator, eocd_offset - ZIP64_LOCATOR_LEN as u64)?;
        let record_offset = u64_at(&locator, 8);
        if record_offset.checked_add(ZIP64_EOCD_LEN as u64) != Some(eocd_offset - ZIP64_LOCATOR_LEN as u64) {
            return Err(corrupt("the ZIP64 end record is not where its locator says"));
        }
        let mut record = [0u8; ZIP64_EOCD_LEN];
        src.read_exact_at(&mut record, record_offset)?;
        if u32_at(&record, 0) != ZIP64_EOCD_SIG {
            return Err(corrupt("the ZIP64 end record has a bad signature"));
        }
        count = u64_at(&record, 32);
        if u64_at(&record, 24) != count {
            return Err(corrupt("multi-disk (spanned) archives are not supported"));
        }
        cd_size = u64_at(&record, 40);
        cd_offset = u64_at(&record, 48);
        directory_end = record_offset;
    } else if needs_zip64 {
        return Err(corrupt("the end record points to a ZIP64 record that is missing"));
    }

    if count > limits.max_entries {
        return Err(ZipError::TooManyEntries { declared: count, limit: limits.max_entries });
    }
    if cd_size > limits.max_central_directory_bytes {
        return Err(ZipError::DirectoryTooLarge { size: cd_size, limit: limits.max_central_directory_bytes });
    }
    if cd_offset.checked_add(cd_size) != Some(directory_end) {
        return Err(corrupt(format!(
            "the central directory ({cd_size} bytes at offset {cd_offset}) does not end where the end record \
             begins ({directory_end}); the file is truncated or has data prepended"
        )));
    }
    if count.saturating_mul(CENTRAL_HEADER_LEN as u64) > cd_size {
        return Err(corrupt(format!(
            "the archive declares {count} entries but its {cd_size}-byte central directory cannot hold them"
        )));
    }

    let mut directory = vec![0u8; cd_size as usize];
    src.read_exact_at(&mut directory, cd_offset)?;
    let mut entries = Vec::with_capacity(count as usize);
    let mut at = 0usize;
    for index in 0..count {
        let (entry, next) = parse_central_entry(&directory, at)
            .map_err(|m| corrupt(format!("central directory entry {}: {m}", index + 1)))?;
        entries.push(entry);
        at = next;
    }
    if at != directory.len() {
        return Err(corrupt(format!(
            "{} bytes after the {count} entries the end record declares",
            directory.len() - at
        )));
    }
    Ok(CentralDirectory { entries, offset: cd_offset, size: cd_size, zip64 })
}

fn parse_central_entry(dir: &[u8], at: usize) -> Result<(CentralEntry, usize), String> {
    let fixed = dir.get(at..at + CENTRAL_HEADER_LEN).ok_or("runs past the end of the directory")?;
    if u32_at(fixed, 0) != CENTRAL_HEADER_SIG {
        return Err("bad signature".into());
    }
    let flags = u16_at(fixed, 8);
    let method = u16_at(fixed, 10);
    let crc32 = u32_at(fixed, 16);
    let mut compressed_size = u64::from(u32_at(fixed, 20));
    let mut size = u64::from(u32_at(fixed, 24));
    let name_len = usize::from(u16_at(fixed, 28));
    let extra_len = usize::from(u16_at(fixed, 30));
    let comment_len = usize::from(u16_at(fixed, 32));
    let mut header_offset = u64::from(u32_at(fixed, 42));
    let name_at = at + CENTRAL_HEADER_LEN;
    let end = name_at + name_len + extra_len + comment_len;
    let raw_name = dir.get(name_at..name_at + name_len).ok_or("name runs past the end of the directory")?;
    let extra = dir.get(name_at + name_len..name_at + name_len + extra_len).ok_or("extra field is truncated")?;
    if end > dir.len() {
        return Err("comment runs past the end of the directory".into());
    }
    // ZIP64 extra: the 64-bit values of exactly the fields that hold the marker, in this order.
    let wants = [size == MAX_32, compressed_size == MAX_32, header_offset == MAX_32];
    if wants.iter().any(|w| *w) {
        let data = find_extra(extra, ZIP64_EXTRA_ID).ok_or("a size or offset needs a ZIP64 field that is missing")?;
        let mut values = data.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")));
        let mut next = || values.next().ok_or("the ZIP64 extra field is too short");
        if wants[0] {
            size = next()?;
        }
        if wants[1] {
            compressed_size = next()?;
        }
        if wants[2] {
            header_offset = next()?;
        }
    }
    let (name, name_is_utf8) = match std::str::from_utf8(raw_name) {
        Ok(name) => (name.to_owned(), true),
        Err(_) => (String::from_utf8_lossy(raw_name).into_owned(), flags & FLAG_UTF8 == 0 && raw_name.is_ascii()),
    };
    let entry = CentralEntry { name, name_is_utf8, flags, method, crc32, compressed_size, size, header_offset };
    Ok((entry, end))
}

fn find_extra(mut extra: &[u8], id: u16) -> Option<&[u8]> {
    while extra.len() >= 4 {
        let (tag, len) = (u16_at(extra, 0), usize::from(u16_at(extra, 2)));
        let data = extra.get(4..4 + len)?;
        if tag == id {
            return Some(data);
        }
        extra = &extra[4 + len..];
    }
    None
}

/// Reads an entry's local header and returns where its data starts; the header must agree with
/// the central directory and the data must lie before the directory.
pub fn data_offset(src: &impl ReadAt, entry: &CentralEntry, directory_offset: u64) -> Result<u64, ZipError> {
    let bad = |m: &str| corrupt(format!("{}: {m}", entry.name));
    if entry.header_offset.saturating_add(LOCAL_HEADER_LEN) > directory_offset {
        return Err(bad("its local header lies past the start of the central directory"));
    }
    let mut fixed = [0u8; LOCAL_HEADER_LEN as usize];
    src.read_exact_at(&mut fixed, entry.header_offset)?;
    if u32_at(&fixed, 0) != LOCAL_HEADER_SIG {
        return Err(bad("no local header at the offset the central directory gives"));
    }
    let name_len = u64::from(u16_at(&fixed, 26));
    let extra_len = u64::from(u16_at(&fixed, 28));
    let start = entry.header_offset + LOCAL_HEADER_LEN + name_len + extra_len;
    if name_len != entry.name.len() as u64 && entry.name_is_utf8 {
        return Err(bad("the local header's name differs from the central directory's"));
    }
    if start.saturating_add(entry.compressed_size) > directory_offset {
        return Err(bad("its data runs past the start of the central directory (truncated or lying sizes)"));
    }
    let mut name = vec![0u8; name_len as usize];
    src.read_exact_at(&mut name, entry.header_offset + LOCAL_HEADER_LEN)?;
    if entry.name_is_utf8 && name != entry.name.as_bytes() {
        return Err(bad("the local header's name differs from the central directory's"));
    }
    Ok(start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zip::format::{EntryRecord, central_header, end_records, local_header};

    struct Mem(Vec<u8>);
    impl ReadAt for Mem {
        fn size(&self) -> io::Result<u64> {
            Ok(self.0.len() as u64)
        }
        fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
            let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
            let src = self.0.get(start..start + buf.len()).ok_or(io::ErrorKind::UnexpectedEof)?;
            buf.copy_from_slice(src);
            Ok(())
        }
    }

    fn archive(names: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut records = Vec::new();
        for name in names {
            let record = EntryRecord {
                name: (*name).into(),
                size: 3,
                crc32: crc32fast::hash(b"abc"),
                offset: out.len() as u64,
                dos_time: 0,
                dos_date: 33,
            };
            out.extend(local_header(&record));
            out.extend(b"abc");
            records.push(record);
        }
        let cd_offset = out.len() as u64;
        let mut cd = Vec::new();
        for r in &records {
            central_header(r, &mut cd);
        }
        out.extend(&cd);
        out.extend(end_records(records.len() as u64, cd_offset, cd.len() as u64));
        out
    }

    #[test]
    fn reads_what_the_writer_writes() {
        let src = Mem(archive(&["a.dpx", "b.dpx"]));
        let dir = read_central_directory(&src, &Limits::default()).unwrap();
        assert_eq!(dir.entries.len(), 2);
        assert_eq!(dir.entries[1].name, "b.dpx");
        assert_eq!(data_offset(&src, &dir.entries[1], dir.offset).unwrap(), 38 + 30 + 5);
    }

    #[test]
    fn rejects_hostile_structures_without_allocating_them() {
        let good = archive(&["a.dpx"]);
        let eocd = good.len() - EOCD_LEN;
        // An absurd entry count.
        let mut absurd = good.clone();
        absurd[eocd + 8..eocd + 10].copy_from_slice(&0xFFFEu16.to_le_bytes());
        absurd[eocd + 10..eocd + 12].copy_from_slice(&0xFFFEu16.to_le_bytes());
        let err = read_central_directory(&Mem(absurd), &Limits::default()).unwrap_err();
        assert!(err.to_string().contains("cannot hold"), "{err}");
        let limits = Limits { max_entries: 10, ..Limits::default() };
        let err = read_central_directory(&Mem(archive(&["a"; 11])), &limits).unwrap_err();
        assert!(matches!(err, ZipError::TooManyEntries { declared: 11, .. }));
        // Truncated: the end record is gone.
        let err = read_central_directory(&Mem(good[..good.len() - 5].to_vec()), &Limits::default()).unwrap_err();
        assert!(matches!(err, ZipError::NoEndRecord));
        // Truncated in the middle: the directory no longer ends where the end record begins.
        let mut cut = good.clone();
        cut.drain(10..12);
        let err = read_central_directory(&Mem(cut), &Limits::default()).unwrap_err();
        assert!(err.to_string().contains("does not end where"), "{err}");
        // A lying size: data would run into the directory.
        let mut lying = good.clone();
        let cd = u32_at(&good, eocd + 16) as usize;
        lying[cd + 20..cd + 28].copy_from_slice(&[0xFF, 0, 0, 0, 0xFF, 0, 0, 0]);
        let src = Mem(lying);
        let dir = read_central_directory(&src, &Limits::default()).unwrap();
        let err = data_offset(&src, &dir.entries[0], dir.offset).unwrap_err();
        assert!(err.to_string().contains("runs past"), "{err}");
        let err = read_central_directory(&Mem(vec![0; 10]), &Limits::default()).unwrap_err();
        assert!(err.to_string().contains("end-of-central-directory"), "{err}");
    }
}
