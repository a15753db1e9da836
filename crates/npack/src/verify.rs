//! Verifying a package — a flat ZIP or a "zipless" folder — against its checksum.txt.
//! This is the code the hub runs on every delivered package.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use md5_many::Md5State;
use serde::Serialize;

use crate::checksum::{self, CHECKSUM_TXT, ChecksumEntry, hex};
use crate::error::{Error, Result};
use crate::names::check_delivery_name;
use crate::read::{LANE_CHUNK, Progress, Stop, checksum_files};
use crate::scan::{is_excluded_name, scan_folder};
use crate::sequence::{SequenceReport, analyse};
use crate::zip::format::{FLAG_ENCRYPTED, METHOD_STORED};
use crate::zip::read::{CentralEntry, Limits, ReadAt, ZipError, data_offset, read_central_directory};

#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Names outside the delivery rule and sequence warnings become errors.
    pub strict: bool,
    pub threads: usize,
    pub limits: Limits,
}

/// What was found for one file. `Ok` is the only passing status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum FileStatus {
    Ok,
    /// Listed in checksum.txt but not in the package.
    Missing,
    /// In the package but not listed in checksum.txt.
    Unlisted,
    SizeMismatch {
        expected: u64,
        actual: u64,
    },
    Md5Mismatch {
        expected: String,
        actual: String,
    },
    CrcMismatch {
        expected: u32,
        actual: u32,
    },
    /// The entry cannot be part of a flat package (a folder, a path, a compressed or encrypted entry).
    Rejected {
        reason: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub name: String,
    pub size: u64,
    #[serde(flatten)]
    pub status: FileStatus,
    /// The md5 of what the file holds, when it was read (not in the JSON report, which is the
    /// original npack's).
    #[serde(skip)]
    pub md5: Option<[u8; 16]>,
}

impl FileReport {
    pub fn describe(&self) -> String {
        match &self.status {
            FileStatus::Ok => "ok".into(),
            FileStatus::Missing => "listed in checksum.txt but missing from the package".into(),
            FileStatus::Unlisted => "in the package but not listed in checksum.txt".into(),
            FileStatus::SizeMismatch { expected, actual } => {
                format!("size is {actual} bytes; checksum.txt says {expected}")
            }
            FileStatus::Md5Mismatch { expected, actual } => {
                format!("md5 is {actual}; checksum.txt says {expected}")
            }
            FileStatus::CrcMismatch { expected, actual } => {
                format!("CRC-32 is {actual:08x}; the archive says {expected:08x} (damaged in transfer?)")
            }
            FileStatus::Rejected { reason } => reason.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// "zip" or "folder".
    pub kind: &'static str,
    pub files: Vec<FileReport>,
    /// Problems with the package as a whole (no checksum.txt, a malformed line, ...).
    pub problems: Vec<String>,
    /// Names outside the delivery rule and sequence findings; errors when `strict`.
    pub warnings: Vec<String>,
    pub sequences: SequenceReport,
    pub strict: bool,
    pub total_bytes: u64,
}

impl Report {
    pub fn failed_files(&self) -> usize {
        self.files.iter().filter(|f| f.status != FileStatus::Ok).count()
    }
    pub fn passed(&self) -> bool {
        let warnings_fail = self.strict && !self.warnings.is_empty();
        self.problems.is_empty() && self.failed_files() == 0 && !warnings_fail
    }
}

/// Verifies a package: a ZIP file or a folder with checksum.txt beside its files.
pub fn verify_path(
    path: &Path,
    options: &VerifyOptions,
    cancel: &AtomicBool,
    progress: &dyn Progress,
) -> Result<Report> {
    if path.is_dir() {
        return verify_folder(path, options, cancel, progress);
    }
    let file = File::open(path).map_err(Error::io_at(path))?;
    verify_zip(&file, options, cancel, progress).map_err(|e| match e {
        _ if cancel.load(Ordering::Relaxed) => Error::Interrupted,
        ZipError::Io(source) => Error::Io { path: path.to_owned(), source },
        other => Error::Package { path: path.to_owned(), source: other },
    })
}

fn name_warnings<'a>(names: impl IntoIterator<Item = &'a str>, warnings: &mut Vec<String>) {
    for name in names {
        if let Err(issue) = check_delivery_name(name) {
            warnings.push(format!("{name}: {issue}"));
        }
    }
}

/// Compares what the package holds with checksum.txt; `hashed` gives the md5 of files whose data
/// was read (absent when the size already differs or the entry was rejected).
fn compare(
    listed: &[ChecksumEntry],
    present: &[(String, u64, Option<FileStatus>)],
    hashed: &HashMap<String, [u8; 16]>,
) -> Vec<FileReport> {
    let listed_by_name: HashMap<&str, &ChecksumEntry> = listed.iter().map(|e| (e.name.as_str(), e)).collect();
    let mut reports = BTreeMap::new();
    for (name, size, early) in present {
        let status = match (early, listed_by_name.get(name.as_str())) {
            (Some(status), _) => status.clone(),
            (None, None) => FileStatus::Unlisted,
            (None, Some(entry)) if entry.size != *size => {
                FileStatus::SizeMismatch { expected: entry.size, actual: *size }
            }
            (None, Some(entry)) => match hashed.get(name) {
                Some(md5) if *md5 == entry.md5 => FileStatus::Ok,
                Some(md5) => FileStatus::Md5Mismatch { expected: hex(&entry.md5), actual: hex(md5) },
                None => FileStatus::Rejected { reason: "could not be read".into() },
            },
        };
        reports.insert(
            name.clone(),
            FileReport { name: name.clone(), size: *size, status, md5: hashed.get(name).copied() },
        );
    }
    for entry in listed {
        reports.entry(entry.name.clone()).or_insert_with(|| FileReport {
            name: entry.name.clone(),
            size: entry.size,
            status: FileStatus::Missing,
            md5: None,
        });
    }
    reports.into_values().collect()
}

fn finish(kind: &'static str, files: Vec<FileReport>, mut problems: Vec<String>, options: &VerifyOptions) -> Report {
    let mut warnings = Vec::new();
    name_warnings(files.iter().map(|f| f.name.as_str()), &mut warnings);
    let sequences = analyse(files.iter().filter(|f| f.status != FileStatus::Missing).map(|f| f.name.as_str()));
    warnings.extend(sequences.warnings.iter().cloned());
    problems.dedup();
    // Sizes come from a checksum.txt or a ZIP directory: a sum that would overflow saturates.
    let total_bytes = files.iter().fold(0u64, |sum, f| sum.saturating_add(f.size));
    Report { kind, files, problems, warnings, sequences, strict: options.strict, total_bytes }
}

/// Verifies a zipless folder: checksum.txt beside the files, every file listed and matching.
pub fn verify_folder(
    dir: &Path,
    options: &VerifyOptions,
    cancel: &AtomicBool,
    progress: &dyn Progress,
) -> Result<Report> {
    let manifest_path = dir.join(CHECKSUM_TXT);
    let scan = scan_folder(dir)?;
    let manifest = match std::fs::metadata(&manifest_path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Manifest::Missing,
        Err(e) => return Err(Error::Io { path: manifest_path, source: e }),
        Ok(meta) if meta.len() > options.limits.max_checksum_txt_bytes => Manifest::TooLarge(meta.len()),
        Ok(_) => Manifest::Bytes(std::fs::read(&manifest_path).map_err(Error::io_at(&manifest_path))?),
    };
    let present: Vec<(String, u64)> = scan.files.iter().map(|f| (f.name.clone(), f.size)).collect();
    verify_listing(manifest, &present, options, |wanted| {
        let wanted: std::collections::HashSet<&str> = wanted.iter().map(|(name, _)| name.as_str()).collect();
        let to_hash: Vec<_> = scan.files.iter().filter(|f| wanted.contains(f.name.as_str())).cloned().collect();
        Ok(checksum_files(&to_hash, options.threads, cancel, progress)?.into_iter().map(|e| (e.name, e.md5)).collect())
    })
}

/// A zipless package's checksum.txt as found where the package is kept.
#[derive(Debug)]
pub enum Manifest {
    Missing,
    /// Bigger than the limit (its size); not read.
    TooLarge(u64),
    Bytes(Vec<u8>),
}

/// Verifies a zipless package wherever it is kept: its checksum.txt, the files present (name and
/// size, checksum.txt itself excluded) and `hash`, which returns the md5 of the files it is given
/// (those whose size matches the listing; the others fail without being read).
pub fn verify_listing(
    manifest: Manifest,
    present: &[(String, u64)],
    options: &VerifyOptions,
    hash: impl FnOnce(&[(String, u64)]) -> Result<HashMap<String, [u8; 16]>>,
) -> Result<Report> {
    let mut problems = Vec::new();
    let listed = match manifest {
        Manifest::Missing => {
            problems.push(format!("{CHECKSUM_TXT} is missing; create it with `npack checksum -s FOLDER`"));
            Vec::new()
        }
        Manifest::TooLarge(size) => {
            let limit = options.limits.max_checksum_txt_bytes;
            problems.push(format!("{CHECKSUM_TXT} is {size} bytes; the limit is {limit}"));
            Vec::new()
        }
        Manifest::Bytes(bytes) => checksum::parse(&bytes).unwrap_or_else(|e| {
            problems.push(e.to_string());
            Vec::new()
        }),
    };
    let sizes: HashMap<&str, u64> = listed.iter().map(|e| (e.name.as_str(), e.size)).collect();
    let to_hash: Vec<(String, u64)> =
        present.iter().filter(|(name, size)| sizes.get(name.as_str()) == Some(size)).cloned().collect();
    let hashed = if problems.is_empty() { hash(&to_hash)? } else { HashMap::new() };
    let present: Vec<_> = present.iter().map(|(name, size)| (name.clone(), *size, None)).collect();
    let files = if problems.is_empty() { compare(&listed, &present, &hashed) } else { Vec::new() };
    Ok(finish("folder", files, problems, options))
}

/// Why an entry cannot be in a flat, stored package, if it cannot.
fn reject_reason(entry: &CentralEntry) -> Option<String> {
    let name = &entry.name;
    if !entry.name_is_utf8 {
        return Some("name is not valid UTF-8".into());
    }
    if name.ends_with('/') || name.ends_with('\\') {
        return Some("is a folder; packages are flat (no folders)".into());
    }
    if name.contains(['/', '\\']) || name == ".." || name == "." || name.is_empty() || name.contains('\0') {
        return Some("has a path in its name; packages are flat and names are bare file names".into());
    }
    if entry.flags & FLAG_ENCRYPTED != 0 {
        return Some("is encrypted".into());
    }
    if entry.method != METHOD_STORED {
        return Some(format!(
            "is compressed (method {}); package entries are stored, re-pack with `npack zip`",
            entry.method
        ));
    }
    if entry.compressed_size != entry.size {
        return Some("stored entry whose stored and real sizes differ".into());
    }
    None
}

/// Verifies a flat ZIP from any random-access source.
pub fn verify_zip(
    src: &impl ReadAt,
    options: &VerifyOptions,
    cancel: &AtomicBool,
    progress: &dyn Progress,
) -> Result<Report, ZipError> {
    let directory = read_central_directory(src, &options.limits)?;
    let mut problems = Vec::new();
    let mut present = Vec::new();
    let mut to_read = Vec::new();
    let mut seen = HashMap::new();
    let mut manifest = None;
    let mut extents = Vec::new();
    for entry in &directory.entries {
        if *seen.entry(entry.name.as_str()).and_modify(|n| *n += 1).or_insert(1) == 2 {
            problems.push(format!("{} appears more than once in the archive", entry.name));
        }
        let start = data_offset(src, entry, directory.offset)?;
        extents.push((start, start + entry.compressed_size, &entry.name));
        if entry.name == CHECKSUM_TXT {
            manifest = Some((entry, start));
            continue;
        }
        let early = reject_reason(entry).map(|reason| FileStatus::Rejected { reason });
        if early.is_none() && !is_excluded_name(&entry.name) {
            to_read.push((entry, start));
        }
        present.push((entry.name.clone(), entry.size, early));
    }
    extents.sort_unstable();
    for pair in extents.windows(2) {
        if pair[1].0 < pair[0].1 {
            return Err(ZipError::Corrupt(format!("entries {} and {} overlap", pair[0].2, pair[1].2)));
        }
    }

    let listed = match manifest {
        None => {
            problems.push(format!("{CHECKSUM_TXT} is missing from the archive; make packages with `npack zip`"));
            Vec::new()
        }
        Some((entry, _)) if entry.size > options.limits.max_checksum_txt_bytes => {
            problems.push(format!(
                "{CHECKSUM_TXT} is {} bytes; the limit is {}",
                entry.size, options.limits.max_checksum_txt_bytes
            ));
            Vec::new()
        }
        Some((entry, start)) => match reject_reason(entry) {
            Some(reason) => {
                problems.push(format!("{CHECKSUM_TXT} {reason}"));
                Vec::new()
            }
            None => {
                let mut bytes = vec![0u8; entry.size as usize];
                src.read_exact_at(&mut bytes, start)?;
                if crc32fast::hash(&bytes) != entry.crc32 {
                    problems.push(format!("{CHECKSUM_TXT} is damaged (CRC-32 mismatch)"));
                }
                checksum::parse(&bytes).unwrap_or_else(|e| {
                    problems.push(e.to_string());
                    Vec::new()
                })
            }
        },
    };
    // Every entry is read in full, even one whose size already disagrees, so that its CRC is checked.
    let (hashed, crc_failures) = read_entries(src, &to_read, options.threads, cancel, progress)?;
    // By name through a map: a linear search per failure made a small zip of a million damaged
    // entries cost a million squared comparisons. (A name listed twice is marked at its first.)
    let mut at: HashMap<&str, usize> = HashMap::with_capacity(present.len());
    for (i, p) in present.iter().enumerate() {
        at.entry(p.0.as_str()).or_insert(i);
    }
    let marks: Vec<(usize, FileStatus)> = crc_failures
        .into_iter()
        .filter_map(|(name, expected, actual)| {
            at.get(name.as_str()).map(|&i| (i, FileStatus::CrcMismatch { expected, actual }))
        })
        .collect();
    for (i, status) in marks {
        present[i].2 = Some(status);
    }
    let files = if problems.iter().any(|p| p.contains(CHECKSUM_TXT)) {
        present_only(&present)
    } else {
        compare(&listed, &present, &hashed)
    };
    Ok(finish("zip", files, problems, options))
}

/// Without a usable checksum.txt, only structural findings are per-file; the rest is unknown.
fn present_only(present: &[(String, u64, Option<FileStatus>)]) -> Vec<FileReport> {
    present
        .iter()
        .filter_map(|(name, size, early)| {
            early.clone().map(|status| FileReport { name: name.clone(), size: *size, status, md5: None })
        })
        .collect()
}

type CrcFailure = (String, u32, u32);
/// The md5 of every entry read, and the entries whose CRC-32 did not match.
type EntryDigests = (HashMap<String, [u8; 16]>, Vec<CrcFailure>);

/// Reads entries on `threads` threads, checking each CRC and computing each md5.
fn read_entries(
    src: &impl ReadAt,
    entries: &[(&CentralEntry, u64)],
    threads: usize,
    cancel: &AtomicBool,
    progress: &dyn Progress,
) -> Result<EntryDigests, ZipError> {
    let next = AtomicUsize::new(0);
    let stop = Stop::new(cancel);
    let out = Mutex::new((HashMap::with_capacity(entries.len()), Vec::new()));
    let failure: Mutex<Option<ZipError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, entries.len().max(1)) {
            scope.spawn(|| {
                let mut buf = vec![0u8; 4 * LANE_CHUNK];
                while !stop.requested() {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some((entry, start)) = entries.get(index) else {
                        break;
                    };
                    let mut md5 = Md5State::new();
                    let mut crc = crc32fast::Hasher::new();
                    let mut done = 0u64;
                    while done < entry.size {
                        if stop.requested() {
                            return;
                        }
                        let n = (entry.size - done).min(buf.len() as u64) as usize;
                        if let Err(e) = src.read_exact_at(&mut buf[..n], start + done) {
                            stop.fail();
                            *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.into());
                            return;
                        }
                        md5.update(&buf[..n]);
                        crc.update(&buf[..n]);
                        progress.bytes_done(n as u64);
                        done += n as u64;
                    }
                    let crc = crc.finalize();
                    let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
                    if crc != entry.crc32 {
                        out.1.push((entry.name.clone(), entry.crc32, crc));
                    }
                    out.0.insert(entry.name.clone(), md5.finalize());
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    if cancel.load(Ordering::Relaxed) {
        return Err(ZipError::Io(std::io::Error::new(std::io::ErrorKind::Interrupted, "interrupted")));
    }
    Ok(out.into_inner().unwrap_or_else(|p| p.into_inner()))
}
