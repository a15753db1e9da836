//! Writing a package in one pass: files are read and hashed on worker threads while this thread
//! writes the archive strictly in order.
//!
//! Memory stays bounded whatever the file count or frame size: each worker owns a small pool of
//! chunk buffers and blocks when all of them are queued for the writer. A worker's buffers are only
//! ever held by its current file or by earlier files, which the writer finishes first, so the
//! pipeline cannot deadlock.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::time::SystemTime;

use crate::checksum::{self, CHECKSUM_TXT, ChecksumEntry};
use crate::error::{Error, Result};
use crate::read::{CHUNK_SIZE, ChunkSink, Digests, Progress, Stop, read_file};
use crate::scan::SourceFile;
use crate::zip::format::{self, EntryRecord};

/// Total chunk buffers shared out among the workers; the archive's memory bound.
const BUFFER_BUDGET: usize = 16;

#[derive(Debug, Clone)]
pub struct PackOptions {
    /// Reader threads; the writer runs on the calling thread.
    pub threads: usize,
    /// Replace an existing archive with the final name.
    pub overwrite: bool,
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

enum Piece {
    /// Part of a file bigger than one chunk; the CRC is patched into its header at the end.
    Part {
        data: Vec<u8>,
        owner: usize,
    },
    /// The whole file in one buffer, digests known before its header is written.
    Whole {
        data: Vec<u8>,
        owner: usize,
        digests: Digests,
    },
    /// End of a file that came in parts.
    End(Digests),
    Failed(Error),
}

/// Writes `files` (in the order given) and a checksum.txt into `target`, via a temporary file in the
/// same folder that is flushed, synced and renamed only when complete. On any failure the
/// temporary is removed and no file with the final name is created.
pub fn write_package(
    files: &[SourceFile],
    target: &Path,
    options: &PackOptions,
    cancel: &AtomicBool,
    progress: &dyn Progress,
) -> Result<PackSummary> {
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
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
    let io_err = |e| Error::Io {
        path: temp_path.clone(),
        source: e,
    };

    let (entries, records) =
        write_entries(files, temp.as_file(), &temp_path, options, cancel, progress)?;
    let checksum_txt = checksum::render(&entries);

    let mut out = BufWriter::with_capacity(256 * 1024, temp.as_file());
    let mut offset = records.last().map_or(0, entry_end);
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
    temp.as_file().sync_all().map_err(io_err)?;
    let archive_bytes = offset + cd_size + end.len() as u64;
    let zip64 = end.len() > format::EOCD_LEN || records.iter().any(|r| r.size >= format::MAX_32);

    if options.overwrite {
        temp.persist(target)
    } else {
        temp.persist_noclobber(target)
    }
    .map_err(|e| Error::Io {
        path: target.to_owned(),
        source: e.error,
    })?;
    if let Ok(dir) = File::open(dir) {
        // Makes the rename itself durable; a failure here leaves a complete archive, so it is ignored.
        let _ = dir.sync_all();
    }
    Ok(PackSummary {
        path: target.to_owned(),
        entries,
        checksum_txt,
        archive_bytes,
        zip64,
    })
}

fn entry_end(record: &EntryRecord) -> u64 {
    record.offset + format::local_header(record).len() as u64 + record.size
}

/// Runs the readers and writes every file's header and data; returns checksums and records.
fn write_entries(
    files: &[SourceFile],
    file: &File,
    temp_path: &Path,
    options: &PackOptions,
    cancel: &AtomicBool,
    progress: &dyn Progress,
) -> Result<(Vec<ChecksumEntry>, Vec<EntryRecord>)> {
    let workers = options.threads.clamp(1, files.len().max(1));
    let per_worker = (BUFFER_BUDGET / workers).max(2);
    let stop = Stop::new(cancel);
    let (order_tx, order_rx) = mpsc::sync_channel::<Receiver<Piece>>(workers * 2);
    let claim = Mutex::new((0usize, Some(order_tx)));

    let mut returns = Vec::with_capacity(workers);
    let mut pools = Vec::with_capacity(workers);
    for _ in 0..workers {
        let (tx, rx) = mpsc::channel::<Vec<u8>>();
        for _ in 0..per_worker {
            tx.send(Vec::with_capacity(CHUNK_SIZE))
                .expect("receiver is alive");
        }
        returns.push(tx);
        pools.push(rx);
    }

    std::thread::scope(|scope| {
        for (owner, pool) in pools.into_iter().enumerate() {
            let (claim, stop) = (&claim, &stop);
            scope.spawn(move || {
                let mut sink = ToWriter {
                    owner,
                    pool,
                    tx: None,
                };
                while !stop.requested() {
                    let Some((index, tx)) = claim_next(claim, files.len()) else {
                        break;
                    };
                    sink.tx = Some(tx);
                    let file = &files[index];
                    let delivered = match read_file(file, true, stop, &mut sink) {
                        Ok(digests) if file.size > CHUNK_SIZE as u64 => {
                            sink.send(Piece::End(digests))
                        }
                        Ok(_) => Ok(()),
                        Err(e) => sink.send(Piece::Failed(e)),
                    };
                    if delivered.is_err() {
                        break; // the writer has stopped
                    }
                }
                // Whether done, stopped or failed, no worker claims another file now; dropping the
                // order channel lets the writer see the end instead of waiting for a file nobody reads.
                claim.lock().unwrap_or_else(|p| p.into_inner()).1 = None;
            });
        }
        let result = run_writer(files, file, temp_path, order_rx, &returns, progress, &stop);
        if result.is_err() {
            stop.fail();
        }
        // Closing the buffer pools and the order channel releases every blocked worker.
        drop(returns);
        result
    })
}

/// Claims the next file in order and queues its channel for the writer, under one lock so that the
/// writer sees the files in claim order.
fn claim_next(
    claim: &Mutex<(usize, Option<SyncSender<Receiver<Piece>>>)>,
    count: usize,
) -> Option<(usize, Sender<Piece>)> {
    let mut guard = claim.lock().unwrap_or_else(|p| p.into_inner());
    let index = guard.0;
    if index >= count {
        return None;
    }
    let (tx, rx) = mpsc::channel();
    guard.1.as_ref()?.send(rx).ok()?;
    guard.0 += 1;
    Some((index, tx))
}

/// A worker's end of the pipeline: takes buffers from its own pool, sends filled ones on.
struct ToWriter {
    owner: usize,
    pool: Receiver<Vec<u8>>,
    tx: Option<Sender<Piece>>,
}

impl ToWriter {
    fn send(&self, piece: Piece) -> Result<()> {
        let tx = self
            .tx
            .as_ref()
            .expect("a file is claimed before it is read");
        tx.send(piece).map_err(|_| Error::Interrupted)
    }
}

impl ChunkSink for ToWriter {
    fn buffer(&mut self) -> Result<Vec<u8>> {
        self.pool.recv().map_err(|_| Error::Interrupted)
    }
    fn chunk(&mut self, data: Vec<u8>, whole: Option<Digests>) -> Result<()> {
        let owner = self.owner;
        self.send(match whole {
            Some(digests) => Piece::Whole {
                data,
                owner,
                digests,
            },
            None => Piece::Part { data, owner },
        })
    }
}

/// Writes entries in order as their pieces arrive, patching each large file's CRC into its header.
fn run_writer(
    files: &[SourceFile],
    file: &File,
    temp_path: &Path,
    order: Receiver<Receiver<Piece>>,
    returns: &[Sender<Vec<u8>>],
    progress: &dyn Progress,
    stop: &Stop<'_>,
) -> Result<(Vec<ChecksumEntry>, Vec<EntryRecord>)> {
    let io_err = |e| Error::Io {
        path: temp_path.to_owned(),
        source: e,
    };
    let mut out = BufWriter::with_capacity(256 * 1024, file);
    let mut entries = Vec::with_capacity(files.len());
    let mut records = Vec::with_capacity(files.len());
    let mut offset = 0u64;
    let give_back = |owner: usize, data: Vec<u8>| {
        // A worker that already stopped no longer needs its buffer.
        let _ = returns[owner].send(data);
    };
    for (source, pieces) in files.iter().zip(order.iter()) {
        stop.check()?;
        let (dos_time, dos_date) =
            format::dos_time_date(source.modified.unwrap_or(SystemTime::UNIX_EPOCH));
        let mut record = EntryRecord {
            name: source.name.clone(),
            size: source.size,
            crc32: 0,
            offset,
            dos_time,
            dos_date,
        };
        let mut header_written = false;
        let digests = loop {
            let piece = pieces.recv().map_err(|_| Error::Interrupted)?;
            match piece {
                Piece::Whole {
                    data,
                    owner,
                    digests,
                } => {
                    record.crc32 = digests.crc32;
                    out.write_all(&format::local_header(&record))
                        .map_err(io_err)?;
                    out.write_all(&data).map_err(io_err)?;
                    progress.bytes_done(data.len() as u64);
                    give_back(owner, data);
                    break digests;
                }
                Piece::Part { data, owner } => {
                    if !header_written {
                        out.write_all(&format::local_header(&record))
                            .map_err(io_err)?;
                        header_written = true;
                    }
                    out.write_all(&data).map_err(io_err)?;
                    progress.bytes_done(data.len() as u64);
                    give_back(owner, data);
                }
                Piece::End(digests) => {
                    record.crc32 = digests.crc32;
                    out.flush().map_err(io_err)?;
                    file.write_all_at(
                        &digests.crc32.to_le_bytes(),
                        offset + format::LOCAL_CRC_OFFSET,
                    )
                    .map_err(io_err)?;
                    break digests;
                }
                Piece::Failed(e) => return Err(e),
            }
        };
        offset = entry_end(&record);
        progress.file_done(source);
        entries.push(ChecksumEntry {
            name: source.name.clone(),
            size: source.size,
            md5: digests.md5,
        });
        records.push(record);
    }
    stop.check()?;
    if records.len() != files.len() {
        return Err(Error::Interrupted);
    }
    out.flush().map_err(io_err)?;
    Ok((entries, records))
}
