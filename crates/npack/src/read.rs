//! Reading a file once, hashing each buffer as it is read: the one pass everything else builds on.

use std::fs::File;
use std::io::Read;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use md5::{Digest, Md5};

use crate::checksum::ChecksumEntry;
use crate::error::{Error, Result};
use crate::scan::SourceFile;

/// Size of one read; large enough that syscalls are cheap, small enough to keep memory bounded.
pub const CHUNK_SIZE: usize = 1 << 20;

/// What one pass over a file's bytes yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digests {
    pub md5: [u8; 16],
    pub crc32: u32,
}

/// Where the bytes go: the ZIP writer takes ownership of each buffer; a checksum run reuses one.
pub(crate) trait ChunkSink {
    /// A buffer of `CHUNK_SIZE` bytes to fill (length is reset by the reader).
    fn buffer(&mut self) -> Result<Vec<u8>>;
    /// A filled buffer. `whole` is set when it holds the entire file and `digests` is then known.
    fn chunk(&mut self, data: Vec<u8>, whole: Option<Digests>) -> Result<()>;
}

/// Stops long loops: on the user's Ctrl-C, or when another part of the same run has failed.
#[derive(Debug)]
pub(crate) struct Stop<'a> {
    cancel: &'a AtomicBool,
    failed: AtomicBool,
}

impl<'a> Stop<'a> {
    pub(crate) fn new(cancel: &'a AtomicBool) -> Self {
        Stop {
            cancel,
            failed: AtomicBool::new(false),
        }
    }
    pub(crate) fn requested(&self) -> bool {
        self.cancel.load(Ordering::Relaxed) || self.failed.load(Ordering::Relaxed)
    }
    pub(crate) fn fail(&self) {
        self.failed.store(true, Ordering::Relaxed);
    }
    /// Every loop over data calls this once per chunk.
    pub(crate) fn check(&self) -> Result<()> {
        if self.requested() {
            Err(Error::Interrupted)
        } else {
            Ok(())
        }
    }
}

/// Reads `file` exactly once, in order, computing md5 and (when `crc` is set) CRC-32 from the same
/// buffers that are handed to `sink`. The file must still have the size the scan saw: a file that
/// grew or shrank meanwhile is an error, never a silently different package.
pub(crate) fn read_file(
    file: &SourceFile,
    crc: bool,
    stop: &Stop<'_>,
    sink: &mut impl ChunkSink,
) -> Result<Digests> {
    let io_err = |e| Error::Io {
        path: file.path.clone(),
        source: e,
    };
    let mut reader = File::open(&file.path).map_err(io_err)?;
    let mut md5 = Md5::new();
    let mut crc32 = crc32fast::Hasher::new();
    let mut remaining = file.size;
    let whole = file.size <= CHUNK_SIZE as u64;
    loop {
        stop.check()?;
        let want = remaining.min(CHUNK_SIZE as u64) as usize;
        let mut buf = sink.buffer()?;
        buf.resize(want, 0);
        let mut filled = 0;
        while filled < want {
            match reader.read(&mut buf[filled..]) {
                Ok(0) => return Err(changed(file, file.size - remaining + filled as u64)),
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_err(e)),
            }
        }
        md5.update(&buf);
        if crc {
            crc32.update(&buf);
        }
        remaining -= want as u64;
        if remaining == 0 {
            let mut probe = [0u8; 1];
            if reader.read(&mut probe).map_err(io_err)? != 0 {
                let found = std::fs::metadata(&file.path)
                    .map(|m| m.len())
                    .unwrap_or(file.size + 1);
                return Err(changed(file, found));
            }
            let digests = Digests {
                md5: md5.finalize().into(),
                crc32: crc32.finalize(),
            };
            sink.chunk(buf, whole.then_some(digests))?;
            return Ok(digests);
        }
        sink.chunk(buf, None)?;
    }
}

fn changed(file: &SourceFile, found: u64) -> Error {
    Error::Changed {
        path: file.path.clone(),
        expected: file.size,
        found,
    }
}

/// A sink that keeps reusing one buffer: hashing without copying anything anywhere.
struct Discard(Option<Vec<u8>>);

impl ChunkSink for Discard {
    fn buffer(&mut self) -> Result<Vec<u8>> {
        Ok(self
            .0
            .take()
            .unwrap_or_else(|| Vec::with_capacity(CHUNK_SIZE)))
    }
    fn chunk(&mut self, data: Vec<u8>, _whole: Option<Digests>) -> Result<()> {
        self.0 = Some(data);
        Ok(())
    }
}

/// Progress callbacks; called from worker threads, so implementations must be cheap and `Sync`.
pub trait Progress: Sync {
    fn bytes_done(&self, _bytes: u64) {}
    fn file_done(&self, _file: &SourceFile) {}
}

/// Progress that goes nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;
impl Progress for NoProgress {}

/// md5 of every file on `threads` threads; the result is in `files` order. After a failure no new
/// file is started and the failure is returned.
pub fn checksum_files(
    files: &[SourceFile],
    threads: usize,
    cancel: &AtomicBool,
    progress: &dyn Progress,
) -> Result<Vec<ChecksumEntry>> {
    let next = AtomicUsize::new(0);
    let stop = Stop::new(cancel);
    let slots: Vec<Mutex<Option<Result<[u8; 16]>>>> =
        files.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, files.len().max(1)) {
            scope.spawn(|| {
                let mut sink = Discard(None);
                while !stop.requested() {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(file) = files.get(index) else { break };
                    let result = read_file(file, false, &stop, &mut sink).map(|d| d.md5);
                    match &result {
                        Ok(_) => {
                            progress.bytes_done(file.size);
                            progress.file_done(file);
                        }
                        Err(_) => stop.fail(),
                    }
                    *slots[index].lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
                }
            });
        }
    });
    let mut entries = Vec::with_capacity(files.len());
    let mut first_error = None;
    for (file, slot) in files.iter().zip(slots) {
        match slot.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some(Ok(md5)) => entries.push(ChecksumEntry {
                name: file.name.clone(),
                size: file.size,
                md5,
            }),
            // A user's Ctrl-C outranks the file errors it may have caused.
            Some(Err(e)) if first_error.is_none() || matches!(e, Error::Interrupted) => {
                first_error = Some(e)
            }
            Some(Err(_)) => {}
            None => {}
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(entries),
    }
}
