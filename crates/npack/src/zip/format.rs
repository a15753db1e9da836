//! ZIP record layouts and the thresholds that switch a field to ZIP64.

use std::time::{SystemTime, UNIX_EPOCH};

pub const LOCAL_HEADER_SIG: u32 = 0x0403_4b50;
pub const CENTRAL_HEADER_SIG: u32 = 0x0201_4b50;
pub const EOCD_SIG: u32 = 0x0605_4b50;
pub const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
pub const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
pub const ZIP64_EXTRA_ID: u16 = 0x0001;

pub const LOCAL_HEADER_LEN: u64 = 30;
pub const CENTRAL_HEADER_LEN: usize = 46;
pub const EOCD_LEN: usize = 22;
pub const ZIP64_EOCD_LEN: usize = 56;
pub const ZIP64_LOCATOR_LEN: usize = 20;

/// A 32-bit field at this value means "see the ZIP64 extra field"; so does a count at `u16::MAX`.
pub const MAX_32: u64 = 0xFFFF_FFFF;
pub const MAX_16: u64 = 0xFFFF;

pub const FLAG_ENCRYPTED: u16 = 0x0001;
pub const FLAG_DATA_DESCRIPTOR: u16 = 0x0008;
pub const FLAG_UTF8: u16 = 0x0800;
pub const METHOD_STORED: u16 = 0;

const VERSION_STORED: u16 = 10;
const VERSION_ZIP64: u16 = 45;
/// Made by Unix (3), spec version 4.5.
const VERSION_MADE_BY: u16 = (3 << 8) | 45;
/// A regular file, rw-r--r--.
const EXTERNAL_ATTRS: u32 = 0o100_644 << 16;

/// What the writer records about an entry, enough for its central directory header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRecord {
    pub name: String,
    pub size: u64,
    pub crc32: u32,
    pub offset: u64,
    pub dos_time: u16,
    pub dos_date: u16,
}

fn flags_for(name: &str) -> u16 {
    if name.is_ascii() { 0 } else { FLAG_UTF8 }
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn put64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}
/// A 32-bit field, or the ZIP64 marker when the value does not fit.
fn field32(v: u64) -> u32 {
    if v >= MAX_32 { u32::MAX } else { v as u32 }
}

/// Offset of the CRC-32 field within a local header, for patching it once the data is hashed.
pub const LOCAL_CRC_OFFSET: u64 = 14;

/// Length of the local header `local_header` writes for this entry.
pub fn local_header_len(entry: &EntryRecord) -> u64 {
    LOCAL_HEADER_LEN + entry.name.len() as u64 + if entry.size >= MAX_32 { 20 } else { 0 }
}

/// The local file header. Sizes go to a ZIP64 extra field only when the entry is 4 GiB or more.
pub fn local_header(entry: &EntryRecord) -> Vec<u8> {
    let zip64 = entry.size >= MAX_32;
    let extra_len: u16 = if zip64 { 20 } else { 0 };
    let mut out = Vec::with_capacity(LOCAL_HEADER_LEN as usize + entry.name.len() + extra_len as usize);
    put32(&mut out, LOCAL_HEADER_SIG);
    put16(&mut out, if zip64 { VERSION_ZIP64 } else { VERSION_STORED });
    put16(&mut out, flags_for(&entry.name));
    put16(&mut out, METHOD_STORED);
    put16(&mut out, entry.dos_time);
    put16(&mut out, entry.dos_date);
    put32(&mut out, entry.crc32);
    put32(&mut out, field32(entry.size));
    put32(&mut out, field32(entry.size));
    put16(&mut out, entry.name.len() as u16);
    put16(&mut out, extra_len);
    out.extend_from_slice(entry.name.as_bytes());
    if zip64 {
        put16(&mut out, ZIP64_EXTRA_ID);
        put16(&mut out, 16);
        put64(&mut out, entry.size);
        put64(&mut out, entry.size);
    }
    out
}

/// The central directory header, with a ZIP64 extra field holding exactly the fields that overflow.
pub fn central_header(entry: &EntryRecord, out: &mut Vec<u8>) {
    let mut extra = Vec::new();
    if entry.size >= MAX_32 {
        put64(&mut extra, entry.size); // uncompressed
        put64(&mut extra, entry.size); // compressed
    }
    if entry.offset >= MAX_32 {
        put64(&mut extra, entry.offset);
    }
    let zip64 = !extra.is_empty();
    put32(out, CENTRAL_HEADER_SIG);
    put16(out, VERSION_MADE_BY);
    put16(out, if zip64 { VERSION_ZIP64 } else { VERSION_STORED });
    put16(out, flags_for(&entry.name));
    put16(out, METHOD_STORED);
    put16(out, entry.dos_time);
    put16(out, entry.dos_date);
    put32(out, entry.crc32);
    put32(out, field32(entry.size));
    put32(out, field32(entry.size));
    put16(out, entry.name.len() as u16);
    put16(out, if zip64 { extra.len() as u16 + 4 } else { 0 });
    put16(out, 0); // comment length
    put16(out, 0); // disk number start
    put16(out, 0); // internal attributes
    put32(out, EXTERNAL_ATTRS);
    put32(out, field32(entry.offset));
    out.extend_from_slice(entry.name.as_bytes());
    if zip64 {
        put16(out, ZIP64_EXTRA_ID);
        put16(out, extra.len() as u16);
        out.extend_from_slice(&extra);
    }
}

/// The end records: a ZIP64 end record and locator only when the count, size or offset needs them.
pub fn end_records(entries: u64, cd_offset: u64, cd_size: u64) -> Vec<u8> {
    let zip64 = entries >= MAX_16 || cd_offset >= MAX_32 || cd_size >= MAX_32;
    let mut out = Vec::with_capacity(ZIP64_EOCD_LEN + ZIP64_LOCATOR_LEN + EOCD_LEN);
    if zip64 {
        let zip64_eocd_offset = cd_offset + cd_size;
        put32(&mut out, ZIP64_EOCD_SIG);
        put64(&mut out, (ZIP64_EOCD_LEN - 12) as u64);
        put16(&mut out, VERSION_MADE_BY);
        put16(&mut out, VERSION_ZIP64);
        put32(&mut out, 0); // this disk
        put32(&mut out, 0); // disk with the central directory
        put64(&mut out, entries);
        put64(&mut out, entries);
        put64(&mut out, cd_size);
        put64(&mut out, cd_offset);
        put32(&mut out, ZIP64_LOCATOR_SIG);
        put32(&mut out, 0);
        put64(&mut out, zip64_eocd_offset);
        put32(&mut out, 1); // total disks
    }
    let count16 = if entries >= MAX_16 { u16::MAX } else { entries as u16 };
    put32(&mut out, EOCD_SIG);
    put16(&mut out, 0);
    put16(&mut out, 0);
    put16(&mut out, count16);
    put16(&mut out, count16);
    put32(&mut out, field32(cd_size));
    put32(&mut out, field32(cd_offset));
    put16(&mut out, 0); // comment length
    out
}

/// MS-DOS time and date (UTC; DOS time has no zone) of `time`, clamped to the format's range.
pub fn dos_time_date(time: SystemTime) -> (u16, u16) {
    let secs = time.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    if year < 1980 {
        return (0, (1 << 5) | 1);
    }
    if year > 2107 {
        return ((23 << 11) | (59 << 5) | 29, (127 << 9) | (12 << 5) | 31);
    }
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let time = ((h << 11) | (m << 5) | (s / 2)) as u16;
    let date = (((year - 1980) << 9) as u16) | ((month << 5) as u16) | day as u16;
    (time, date)
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn dos_time_of_a_known_instant() {
        // 2026-11-28 10:04:31 UTC
        let t = UNIX_EPOCH + Duration::from_secs(1_795_860_271);
        let (time, date) = dos_time_date(t);
        assert_eq!(date >> 9, 2026 - 1980);
        assert_eq!((date >> 5) & 0xF, 11);
        assert_eq!(date & 0x1F, 28);
        assert_eq!(time >> 11, 10);
        assert_eq!((time >> 5) & 0x3F, 4);
        assert_eq!((time & 0x1F) * 2, 30);
        assert_eq!(dos_time_date(UNIX_EPOCH), (0, 33));
    }

    #[test]
    fn zip64_only_when_needed() {
        let small =
            EntryRecord { name: "a".into(), size: MAX_32 - 1, crc32: 0, offset: MAX_32 - 1, dos_time: 0, dos_date: 0 };
        assert_eq!(local_header(&small).len(), 31);
        assert_eq!(local_header_len(&small), 31);
        let mut cd = Vec::new();
        central_header(&small, &mut cd);
        assert_eq!(cd.len(), CENTRAL_HEADER_LEN + 1);
        let big = EntryRecord { size: MAX_32, offset: MAX_32, ..small };
        assert_eq!(local_header(&big).len(), 31 + 20);
        assert_eq!(local_header_len(&big), 31 + 20);
        let mut cd = Vec::new();
        central_header(&big, &mut cd);
        assert_eq!(cd.len(), CENTRAL_HEADER_LEN + 1 + 4 + 24);
        assert_eq!(end_records(MAX_16 - 1, 0, 0).len(), EOCD_LEN);
        assert_eq!(end_records(MAX_16, 0, 0).len(), EOCD_LEN + ZIP64_EOCD_LEN + ZIP64_LOCATOR_LEN);
        assert_eq!(end_records(1, MAX_32, 0).len(), EOCD_LEN + ZIP64_EOCD_LEN + ZIP64_LOCATOR_LEN);
    }
}
