//! Reading files once and hashing every buffer as it is read: the one pass everything builds on.
//!
//! MD5 is sequential within a file, so a single stream is bound by one core's MD5 speed. Packages
//! are many files, though, so each worker keeps up to [`LANES`] files open at once and hashes one
//! chunk of each per round in SIMD lanes (AVX-512: 16 streams per instruction). Every chunk is then
//! CRC'd and handed to a sink (the archive, or nothing) before the next round is read.

use std::fs::File;
use std::io::Read;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use md5_many::{Md5Many, Md5State};

use crate::checksum::ChecksumEntry;
use crate::error::{Error, Result};
use crate::scan::SourceFile;

/// Files one worker hashes side by side.
pub const LANES: usize = 16;
/// Bytes read from each file per round; a worker holds `LANES * LANE_CHUNK` (4 MiB) of buffers.
pub const LANE_CHUNK: usize = 256 * 1024;

/// What one pass over a file's bytes yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digests {
    pub md5: [u8; 16],
    pub crc32: u32,
}

/// Stops long loops: on the user's Ctrl-C, or when another part of the same run has failed.
#[derive(Debug)]
pub(crate) struct Stop<'a> {
    cancel: &'a AtomicBool,
    failed: AtomicBool,
}

impl<'a> Stop<'a> {
    pub(crate) fn new(cancel: &'a AtomicBool) -> Self {
        Stop { cancel, failed: AtomicBool::new(false) }
    }
    pub(crate) fn requested(&self) -> bool {
        self.cancel.load(Ordering::Relaxed) || self.failed.load(Ordering::Relaxed)
    }
    pub(crate) fn fail(&self) {
        self.failed.store(true, Ordering::Relaxed);
    }
    /// Every loop over data calls this once per chunk.
    pub(crate) fn check(&self) -> Result<()> {
        if self.requested() { Err(Error::Interrupted) } else { Ok(()) }
    }
}

/// Where hashed bytes go. One sink per worker; calls for one file come in file order.
pub(crate) trait LaneSink {
    /// `data` is the next chunk of `files[index]`, already hashed.
    fn chunk(&mut self, index: usize, data: &[u8]) -> Result<()>;
    /// `files[index]` is complete and unchanged since the scan.
    fn done(&mut self, _index: usize, _digests: Digests) -> Result<()> {
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

/// One open file in a worker's lanes.
struct Lane {
    index: usize,
    reader: File,
    remaining: u64,
    crc: crc32fast::Hasher,
    buffer: Vec<u8>,
}

/// Reads every file of `files` exactly once on `threads` workers, hashing md5 and (with `crc`)
/// CRC-32 from the same buffers that are handed to the worker's sink. A file that grew or shrank
/// since the scan is an error, never a silently different package. Returns digests in `files`
/// order; after the first failure no new file is started and that failure is returned (a user's
/// Ctrl-C outranks the errors it causes elsewhere).
pub(crate) fn hash_files<S: LaneSink>(
    files: &[SourceFile],
    threads: usize,
    crc: bool,
    stop: &Stop<'_>,
    progress: &dyn Progress,
    make_sink: impl Fn() -> S + Sync,
) -> Result<Vec<Digests>> {
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Digests>>> = files.iter().map(|_| Mutex::new(None)).collect();
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    let engine = Md5Many::new();
    std::thread::scope(|scope| {
        let workers = threads.clamp(1, files.len().div_ceil(LANES).max(1));
        for _ in 0..workers {
            scope.spawn(|| {
                let mut sink = make_sink();
                let result = run_worker(files, &next, crc, stop, progress, engine, &mut sink, &slots);
                if let Err(e) = result {
                    stop.fail();
                    let mut slot = failure.lock().unwrap_or_else(|p| p.into_inner());
                    if slot.is_none() || matches!(e, Error::Interrupted) {
                        *slot = Some(e);
                    }
                }
            });
        }
    });
    if stop.cancel.load(Ordering::Relaxed) {
        return Err(Error::Interrupted);
    }
    if let Some(e) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    slots.into_iter().map(|s| s.into_inner().unwrap_or_else(|p| p.into_inner()).ok_or(Error::Interrupted)).collect()
}

#[allow(clippy::too_many_arguments)]
fn run_worker<S: LaneSink>(
    files: &[SourceFile],
    next: &AtomicUsize,
    crc: bool,
    stop: &Stop<'_>,
    progress: &dyn Progress,
    engine: Md5Many,
    sink: &mut S,
    slots: &[Mutex<Option<Digests>>],
) -> Result<()> {
    let mut lanes: Vec<Lane> = Vec::with_capacity(LANES);
    let mut states: Vec<Md5State> = Vec::with_capacity(LANES);
    let mut spare: Vec<Vec<u8>> = Vec::new();
    let mut digests = [[0u8; 16]; LANES];
    loop {
        stop.check()?;
        while lanes.len() < LANES {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(file) = files.get(index) else { break };
            let reader = File::open(&file.path).map_err(Error::io_at(&file.path))?;
            let buffer = spare.pop().unwrap_or_else(|| Vec::with_capacity(LANE_CHUNK));
            lanes.push(Lane { index, reader, remaining: file.size, crc: crc32fast::Hasher::new(), buffer });
            states.push(Md5State::new());
        }
        if lanes.is_empty() {
            return Ok(());
        }
        for lane in &mut lanes {
            fill(lane, &files[lane.index])?;
        }
        let inputs: Vec<&[u8]> = lanes.iter().map(|l| l.buffer.as_slice()).collect();
        engine.update_many(&mut states, &inputs);
        let mut bytes = 0;
        for lane in &mut lanes {
            if crc {
                lane.crc.update(&lane.buffer);
            }
            sink.chunk(lane.index, &lane.buffer)?;
            bytes += lane.buffer.len() as u64;
        }
        progress.bytes_done(bytes);
        if lanes.iter().all(|l| l.remaining > 0) {
            continue;
        }
        engine.finalize_many(&states, &mut digests[..lanes.len()]);
        let mut k = 0;
        while k < lanes.len() {
            if lanes[k].remaining > 0 {
                k += 1;
                continue;
            }
            let file = &files[lanes[k].index];
            expect_end(&mut lanes[k].reader, file)?;
            let lane = lanes.swap_remove(k);
            let md5 = digests[k];
            digests.swap(k, states.len() - 1);
            states.swap_remove(k);
            let result = Digests { md5, crc32: lane.crc.finalize() };
            sink.done(lane.index, result)?;
            *slots[lane.index].lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
            progress.file_done(file);
            spare.push(lane.buffer);
        }
    }
}

/// Reads the lane's next chunk: `LANE_CHUNK` bytes, or what is left of the file.
fn fill(lane: &mut Lane, file: &SourceFile) -> Result<()> {
    let want = lane.remaining.min(LANE_CHUNK as u64) as usize;
    lane.buffer.resize(want, 0);
    let mut filled = 0;
    while filled < want {
        match lane.reader.read(&mut lane.buffer[filled..]) {
            Ok(0) => return Err(changed(file, file.size - lane.remaining + filled as u64)),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Io { path: file.path.clone(), source: e }),
        }
    }
    lane.remaining -= want as u64;
    Ok(())
}

/// After the scan's size is read, the file must be at its end: it did not grow meanwhile.
fn expect_end(reader: &mut File, file: &SourceFile) -> Result<()> {
    let mut probe = [0u8; 1];
    if reader.read(&mut probe).map_err(Error::io_at(&file.path))? != 0 {
        let found = std::fs::metadata(&file.path).map(|m| m.len()).unwrap_or(file.size + 1);
        return Err(changed(file, found));
    }
    Ok(())
}

fn changed(file: &SourceFile, found: u64) -> Error {
    Error::Changed { path: file.path.clone(), expected: file.size, found }
}

/// Counts bytes for the progress display and keeps them nowhere.
struct Discard;

impl LaneSink for Discard {
    fn chunk(&mut self, _index: usize, _data: &[u8]) -> Result<()> {
        Ok(())
    }
}

/// md5 of every file on `threads` threads; the result is in `files` order.
pub fn checksum_files(
    files: &[SourceFile],
    threads: usize,
    cancel: &AtomicBool,
    progress: &dyn Progress,
) -> Result<Vec<ChecksumEntry>> {
    let stop = Stop::new(cancel);
    let digests = hash_files(files, threads, false, &stop, progress, || Discard)?;
    Ok(files
        .iter()
        .zip(digests)
        .map(|(f, d)| ChecksumEntry { name: f.name.clone(), size: f.size, md5: d.md5 })
        .collect())
}

/// md5 of one byte string (single stream).
pub fn md5(data: &[u8]) -> [u8; 16] {
    md5_many::md5(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use md5::Digest as _;

    fn write_files(dir: &std::path::Path, sizes: &[usize]) -> Vec<SourceFile> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, size)| {
                let path = dir.join(format!("f{i:03}"));
                let data: Vec<u8> = (0..*size).map(|b| (b * 131 + i * 7 + (b >> 9)) as u8).collect();
                std::fs::write(&path, data).unwrap();
                SourceFile { name: format!("f{i:03}"), path, size: *size as u64, modified: None }
            })
            .collect()
    }

    /// The lane engine against an independent MD5 and CRC-32, over sizes around every boundary:
    /// empty, one byte, MD5 blocks, lane chunks, and lanes finishing in different rounds.
    #[test]
    fn lanes_agree_with_reference_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let mut sizes = vec![0, 1, 55, 56, 63, 64, 65, 127, 128, 1000, LANE_CHUNK - 1, LANE_CHUNK, LANE_CHUNK + 1];
        sizes.extend([3 * LANE_CHUNK + 17, 5 * LANE_CHUNK, 70_000, 2, 4096]);
        sizes.extend((0..20).map(|i| i * 9_973 + 3));
        let files = write_files(dir.path(), &sizes);
        let cancel = AtomicBool::new(false);
        for threads in [1, 3] {
            let stop = Stop::new(&cancel);
            let digests = hash_files(&files, threads, true, &stop, &NoProgress, || Discard).unwrap();
            for (file, got) in files.iter().zip(&digests) {
                let data = std::fs::read(&file.path).unwrap();
                let want: [u8; 16] = md5::Md5::digest(&data).into();
                assert_eq!(got.md5, want, "md5 of {} bytes", data.len());
                assert_eq!(got.crc32, crc32fast::hash(&data), "crc of {} bytes", data.len());
            }
        }
        assert_eq!(md5(b"abc"), <[u8; 16]>::from(md5::Md5::digest(b"abc")));
    }

    #[test]
    fn a_file_that_changed_since_the_scan_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = write_files(dir.path(), &[10, 20]);
        files[1].size = 25;
        let cancel = AtomicBool::new(false);
        let err = checksum_files(&files, 1, &cancel, &NoProgress).unwrap_err();
        assert!(err.to_string().contains("expected 25 bytes, found 20"), "{err}");
        files[1].size = 15;
        let err = checksum_files(&files, 1, &cancel, &NoProgress).unwrap_err();
        assert!(err.to_string().contains("expected 15 bytes, found 20"), "{err}");
    }
}
