//! Writing a package in one pass: every file is read once, on all cores, and each buffer is hashed
//! (md5 and CRC-32) and written to the archive before the next is read. Entry order and offsets are
//! fixed before the first byte is read, so the workers never wait for each other.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::SystemTime;

use crate::checksum::{self, CHECKSUM_TXT, ChecksumEntry};
use crate::error::{Error, Result};
use crate::read::{Digests, LaneSink, Progress, Stop, hash_files};
use crate::scan::SourceFile;
use crate::zip::format::{self, EntryRecord};

#[derive(Debug, Clone)]
pub struct PackOptions {
    /// Threads that read, hash and write files.
    pub threads: usize,
    /// Replace an existing archive with the final name.
    pub overwrite: bool,
    /// fsync the archive before the rename, so that it survives a power loss. Costs the time the
    /// disk needs to write it all (about as long again as the packing on a laptop SSD).
    pub sync: bool,
}

#[derive(Debug)]
pub struct PackSummary {
    pub path: PathBuf,
    /// In archive order, without checksum.txt.
    pub entries: Vec<ChecksumEntry>,
    pub checksum_txt: String,
    pub archive_bytes: u64,
    pub zip64: bool,
}

/// `npack zip` of a whole folder as a library call: its files into `target` (replaced if it is
/// there), with `threads` threads, no progress, no cancelling, no fsync. For programs that make a
/// package of their own (the hub's demo, tests).
pub fn pack_folder(folder: &Path, target: &Path, threads: usize) -> Result<PackSummary> {
    let scan = crate::scan_folder(folder)?;
    let options = PackOptions { threads, overwrite: true, sync: false };
    write_package(&scan.files, target, &options, &AtomicBool::new(false), &crate::NoProgress)
}

/// Writes `files` (in the order given) and a checksum.txt into `target`, via a temporary file in the
/// same folder that is renamed only when complete and flushed (and synced, with `options.sync`). On
/// any failure the temporary is removed and no file with the final name is created.
pub fn write_package(
    files: &[SourceFile],
    target: &Path,
    options: &PackOptions,
    cancel: &AtomicBool,
    progress: &dyn Progress,
) -> Result<PackSummary> {
    let dir = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if target.exists() && !options.overwrite {
        return Err(Error::Io {
            path: target.to_owned(),
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "already exists; pass --force to replace it, or choose another name with -f",
            ),
        });
    }
    let temp = tempfile::Builder::new()
        .prefix(".npack-")
        .suffix(".zip.partial")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .tempfile_in(dir)
        .map_err(Error::io_at(dir))?;
    let temp_path = temp.path().to_owned();
    let io_err = |e| Error::Io { path: temp_path.clone(), source: e };

    let (entries, records) = write_entries(files, temp.as_file(), &temp_path, options, cancel, progress)?;
    let checksum_txt = checksum::render(&entries);

    let mut offset = records.last().map_or(0, entry_end);
    let mut out = BufWriter::with_capacity(256 * 1024, temp.as_file());
    out.seek(SeekFrom::Start(offset)).map_err(io_err)?;
    let (dos_time, dos_date) = format::dos_time_date(SystemTime::now());
    let manifest = EntryRecord {
        name: CHECKSUM_TXT.to_owned(),
        size: checksum_txt.len() as u64,
        crc32: crc32fast::hash(checksum_txt.as_bytes()),
        offset,
        dos_time,
        dos_date,
    };
    let header = format::local_header(&manifest);
    out.write_all(&header).map_err(io_err)?;
    out.write_all(checksum_txt.as_bytes()).map_err(io_err)?;
    offset += header.len() as u64 + manifest.size;

    let mut central = Vec::with_capacity(64 * 1024);
    let mut cd_size = 0u64;
    for record in records.iter().chain(std::iter::once(&manifest)) {
        format::central_header(record, &mut central);
        if central.len() >= 60 * 1024 {
            cd_size += central.len() as u64;
            out.write_all(&central).map_err(io_err)?;
            central.clear();
        }
    }
    cd_size += central.len() as u64;
    out.write_all(&central).map_err(io_err)?;
    let count = records.len() as u64 + 1;
    let end = format::end_records(count, offset, cd_size);
    out.write_all(&end).map_err(io_err)?;
    out.flush().map_err(io_err)?;
    drop(out);
    Stop::new(cancel).check()?;
    if options.sync {
        temp.as_file().sync_all().map_err(io_err)?;
    }
    let archive_bytes = offset + cd_size + end.len() as u64;
    let zip64 = end.len() > format::EOCD_LEN || records.iter().any(|r| r.size >= format::MAX_32);

    if options.overwrite { temp.persist(target) } else { temp.persist_noclobber(target) }
        .map_err(|e| Error::Io { path: target.to_owned(), source: e.error })?;
    if options.sync
        && let Ok(dir) = File::open(dir)
    {
        // Makes the rename itself durable; a failure here leaves a complete archive, so it is ignored.
        let _ = dir.sync_all();
    }
    Ok(PackSummary { path: target.to_owned(), entries, checksum_txt, archive_bytes, zip64 })
}

fn entry_end(record: &EntryRecord) -> u64 {
    record.offset + format::local_header_len(record) + record.size
}

/// Writes every file's header and data; returns checksums and records in `files` order.
///
/// Sizes are known from the scan, so every entry's offset is known before any byte is read: each
/// worker writes the data it hashes straight to its place in the archive and, once a file is
/// complete, its header with the CRC. Workers never wait for each other. A file whose size changed
/// since the scan fails the run (its place would be wrong).
fn write_entries(
    files: &[SourceFile],
    file: &File,
    temp_path: &Path,
    options: &PackOptions,
    cancel: &AtomicBool,
    progress: &dyn Progress,
) -> Result<(Vec<ChecksumEntry>, Vec<EntryRecord>)> {
    let mut records = Vec::with_capacity(files.len());
    let mut offset = 0u64;
    for source in files {
        let (dos_time, dos_date) = format::dos_time_date(source.modified.unwrap_or(SystemTime::UNIX_EPOCH));
        let record = EntryRecord { name: source.name.clone(), size: source.size, crc32: 0, offset, dos_time, dos_date };
        offset = entry_end(&record);
        records.push(record);
    }
    let stop = Stop::new(cancel);
    let make_sink = || PlaceInArchive { file, temp_path, records: &records, written: HashMap::new() };
    let digests = hash_files(files, options.threads, true, &stop, progress, make_sink)?;
    let mut entries = Vec::with_capacity(files.len());
    for ((source, record), d) in files.iter().zip(&mut records).zip(digests) {
        record.crc32 = d.crc32;
        entries.push(ChecksumEntry { name: source.name.clone(), size: source.size, md5: d.md5 });
    }
    Ok((entries, records))
}

/// A worker's sink: writes each hashed chunk at its place in the archive, then the header.
struct PlaceInArchive<'a> {
    file: &'a File,
    temp_path: &'a Path,
    records: &'a [EntryRecord],
    /// Bytes written so far of each file this worker has open.
    written: HashMap<usize, u64>,
}

impl LaneSink for PlaceInArchive<'_> {
    fn chunk(&mut self, index: usize, data: &[u8]) -> Result<()> {
        let record = &self.records[index];
        let written = self.written.entry(index).or_insert(0);
        let at = record.offset + format::local_header_len(record) + *written;
        self.file.write_all_at(data, at).map_err(Error::io_at(self.temp_path))?;
        *written += data.len() as u64;
        Ok(())
    }

    fn done(&mut self, index: usize, digests: Digests) -> Result<()> {
        self.written.remove(&index);
        let record = &self.records[index];
        let header = format::local_header(&EntryRecord { crc32: digests.crc32, ..record.clone() });
        self.file.write_all_at(&header, record.offset).map_err(Error::io_at(self.temp_path))
    }
}
