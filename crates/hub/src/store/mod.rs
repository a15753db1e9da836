//! Blob storage behind one small trait: a local folder (the default) or any S3-compatible store.
//!
//! Resumable uploads are written through each backend's own write path (`resumable`): the
//! store keeps what it needs between PATCHes in an opaque state the caller records with the
//! upload, so that an upload begun on one instance can be continued on another or after a restart.
//! Nothing outside this module asks which backend it is talking to.

mod local;
pub mod resumable;
mod s3;

use std::fmt;
use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::AsyncRead;

pub use local::LocalStore;
pub use resumable::{Appended, Body, Refused, Resumable};
pub use s3::{S3Settings, S3Store};

/// How to open a store again, in another process (a validation child): a local folder or S3
/// settings. It carries the S3 secret, so it travels only through a pipe, never as an argument,
/// and its `Debug` redacts it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StoreSpec {
    Local { root: std::path::PathBuf },
    S3(S3Settings),
}

impl StoreSpec {
    pub async fn open(&self) -> StoreResult<std::sync::Arc<dyn BlobStore>> {
        Ok(match self {
            StoreSpec::Local { root } => std::sync::Arc::new(LocalStore::open(root).await?),
            StoreSpec::S3(settings) => std::sync::Arc::new(S3Store::new(settings.clone())?),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no such blob: {0}")]
    NotFound(String),
    #[error("invalid blob key {0:?}: keys are /-separated segments of [A-Za-z0-9._-], without . or ..")]
    InvalidKey(String),
    #[error("range {start}..{end} is outside the blob ({size} bytes)")]
    BadRange { start: u64, end: u64, size: u64 },
    #[error("blob storage I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("object storage failed: {0}")]
    Backend(String),
    /// The body of an append was refused by the engine; nothing of it was kept.
    #[error("the body was refused; nothing of it was kept")]
    Refused,
    /// The store no longer holds the unfinished upload an append continued (an object store lost
    /// its multipart upload): it can only start again from its first byte.
    #[error("the storage no longer holds this unfinished upload")]
    Lost,
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A validated object key: it can never climb out of the store's root.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobKey(String);

impl BlobKey {
    pub fn new(key: impl Into<String>) -> StoreResult<BlobKey> {
        let key = key.into();
        let ok = !key.is_empty()
            && key.len() <= 512
            && key.split('/').all(|seg| {
                !seg.is_empty()
                    && seg != "."
                    && seg != ".."
                    && !seg.starts_with('.')
                    && seg.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            });
        if ok { Ok(BlobKey(key)) } else { Err(StoreError::InvalidKey(key)) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A file sent as pieces (see `api_types::tus::piece_size`): its key, length and store state,
/// which [`BlobStore::begin_pieces`] made.
#[derive(Debug, Clone, Copy)]
pub struct Whole<'a> {
    pub key: &'a BlobKey,
    pub length: u64,
    pub state: &'a str,
}

/// One uploaded part of a multipart upload: what `complete_multipart` needs back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartRef(pub String);

#[async_trait]
pub trait BlobStore: Send + Sync + fmt::Debug {
    /// For logs: `local folder /x` or `s3://bucket at http://…` (never credentials).
    fn describe(&self) -> String;
    /// How another process opens this same store; `None` for a store only this process has (a
    /// test double), whose work then stays in this process.
    fn spec(&self) -> Option<StoreSpec> {
        None
    }
    /// Streams `reader` into `key` (replacing it) without holding it in memory; returns its size.
    async fn put_stream(&self, key: &BlobKey, reader: &mut (dyn AsyncRead + Unpin + Send)) -> StoreResult<u64>;
    /// Bytes `range` of the blob; the range must lie within it.
    async fn get_range(&self, key: &BlobKey, range: Range<u64>) -> StoreResult<Bytes>;
    async fn size(&self, key: &BlobKey) -> StoreResult<u64>;
    /// Deleting a missing blob is not an error.
    async fn delete(&self, key: &BlobKey) -> StoreResult<()>;
    /// Keys and sizes under `prefix` (a key prefix ending in `/`, or empty for all), sorted.
    async fn list(&self, prefix: &str) -> StoreResult<Vec<(String, u64)>>;
    /// Starts a multipart upload; the returned id is the resumable state, with the part refs.
    async fn create_multipart(&self, key: &BlobKey) -> StoreResult<String>;
    /// Uploads part `index` (0-based). Every part but the last must be at least 5 MiB on S3.
    async fn put_part(&self, key: &BlobKey, upload: &str, index: usize, data: Bytes) -> StoreResult<PartRef>;
    /// Joins the parts, in order, into the blob.
    async fn complete_multipart(&self, key: &BlobKey, upload: &str, parts: Vec<PartRef>) -> StoreResult<()>;
    async fn abort_multipart(&self, key: &BlobKey, upload: &str) -> StoreResult<()>;

    // The write path of resumable uploads (see `resumable`). The defaults go through multipart
    // parts and suit object stores; a backend with a better way overrides them.

    /// Appends `body` to the upload after its recorded offset. On `Err` (including
    /// [`StoreError::Refused`]) nothing of the body is part of the upload.
    async fn append(&self, upload: Resumable<'_>, body: &mut dyn Body) -> StoreResult<Appended> {
        resumable::append_parts(self, upload, body).await
    }
    /// How many of the upload's recorded bytes the store really holds (fewer after a power cut
    /// on a store that does not sync every append).
    async fn held(&self, upload: Resumable<'_>) -> StoreResult<u64> {
        Ok(upload.offset)
    }
    /// Called once `after` is recorded in place of `before`: whatever only `before` needed goes.
    async fn settle(&self, before: &str, after: &str) {
        resumable::settle_parts(self, before, after).await
    }
    /// Joins finished blobs (key, size), in order, into `key`.
    async fn concatenate(&self, key: &BlobKey, pieces: &[(BlobKey, u64)]) -> StoreResult<()> {
        resumable::concatenate_parts(self, key, pieces).await
    }
    /// Frees all an upload holds, finished or not (a file sent as pieces too); failures are
    /// logged, never fatal.
    async fn discard(&self, upload: Resumable<'_>) {
        resumable::discard_parts(self, upload).await
    }

    // Pieces: parallel uploads that each write one range of a file in place, so that nothing is
    // copied when the last one finishes. The defaults make each piece a run of the file's
    // multipart parts (part numbers from its start), for object stores.

    /// Makes room for a file of `length` bytes to be written as pieces; returns its state.
    async fn begin_pieces(&self, key: &BlobKey, length: u64) -> StoreResult<String> {
        resumable::begin_piece_parts(self, key, length).await
    }
    /// Appends `body` to the piece of `whole` that starts at `at` (`piece.key` is the whole's).
    async fn append_piece(
        &self,
        whole: Whole<'_>,
        at: u64,
        piece: Resumable<'_>,
        body: &mut dyn Body,
    ) -> StoreResult<Appended> {
        resumable::append_piece_parts(self, whole, at, piece, body).await
    }
    /// How many of the piece's recorded bytes the store really holds.
    async fn piece_held(&self, _whole: Whole<'_>, _at: u64, piece: Resumable<'_>) -> StoreResult<u64> {
        Ok(piece.offset)
    }
    /// Every piece is complete (their states, in order of where they start): the file is made
    /// whole. Done again after a crash in between, it succeeds.
    async fn finish_pieces(&self, whole: Whole<'_>, pieces: &[&str]) -> StoreResult<()> {
        resumable::finish_piece_parts(self, whole, pieces).await
    }
    /// Frees what only the piece holds (never the file's bytes).
    async fn discard_piece(&self, piece: Resumable<'_>) {
        resumable::discard_piece_parts(self, piece).await
    }
    /// The md5 of each of `keys` (with their sizes), in order. Stores that can hash faster in
    /// place override it.
    async fn md5s(&self, keys: &[(BlobKey, u64)]) -> StoreResult<Vec<[u8; 16]>> {
        let mut out = Vec::with_capacity(keys.len());
        for (key, size) in keys {
            out.push(md5_of(self, key, *size).await?);
        }
        Ok(out)
    }
}

/// Whether the store answers, with its credentials: reading a key that need not exist must either
/// find it or say it is missing. For start-up checks and `/readyz`.
pub async fn probe(store: &dyn BlobStore) -> StoreResult<()> {
    match store.size(&BlobKey::new("contenthub-probe").expect("valid key")).await {
        Ok(_) | Err(StoreError::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The md5 of a blob, read in 8 MiB ranges.
pub async fn md5_of<S: BlobStore + ?Sized>(store: &S, key: &BlobKey, size: u64) -> StoreResult<[u8; 16]> {
    let mut hasher = md5_many::Md5State::new();
    let mut at = 0;
    while at < size {
        let end = (at + (8 << 20)).min(size);
        hasher.update(&store.get_range(key, at..end).await?);
        at = end;
    }
    Ok(hasher.finalize())
}

/// The md5 and CRC-32 of each of `ranges` (start, length) of one blob, in order of start and not
/// overlapping: one pass over the blob in 8 MiB reads, however many ranges (a package stream's
/// files). The ranges a read holds whole are hashed side by side (md5 in SIMD lanes, as npack
/// hashes a folder); a range longer than a read is streamed through on its own.
pub async fn digests_of_ranges<S: BlobStore + ?Sized>(
    store: &S,
    key: &BlobKey,
    ranges: &[(u64, u64)],
) -> StoreResult<Vec<([u8; 16], u32)>> {
    const READ: u64 = 8 << 20;
    let engine = md5_many::Md5Many::new();
    let mut out = Vec::with_capacity(ranges.len());
    let mut i = 0;
    while i < ranges.len() {
        let (start, len) = ranges[i];
        if len > READ {
            let mut md5 = md5_many::Md5State::new();
            let mut crc = crc32fast::Hasher::new();
            let mut at = start;
            while at < start + len {
                let piece = store.get_range(key, at..(at + READ).min(start + len)).await?;
                md5.update(&piece);
                crc.update(&piece);
                at += piece.len() as u64;
            }
            out.push((md5.finalize(), crc.finalize()));
            i += 1;
            continue;
        }
        let (j, stop) = window(ranges, i, READ);
        let buf = store.get_range(key, start..stop).await?;
        let slices: Vec<&[u8]> =
            ranges[i..j].iter().map(|&(s, l)| &buf[(s - start) as usize..(s - start + l) as usize]).collect();
        let mut md5s = vec![[0u8; 16]; slices.len()];
        engine.hash_many(&slices, &mut md5s);
        out.extend(md5s.into_iter().zip(slices.iter().map(|slice| crc32fast::hash(slice))));
        i = j;
    }
    Ok(out)
}

/// One read of [`digests_of_ranges`] from range `i` (no longer than `most`): the ranges after it
/// that end within `most` bytes of its start, and where the last of them ends. Only that is read,
/// so that files read back here and there (the few an interruption cut) cost their own bytes, not
/// a whole read each.
fn window(ranges: &[(u64, u64)], i: usize, most: u64) -> (usize, u64) {
    let start = ranges[i].0;
    let mut j = i;
    while j < ranges.len() && ranges[j].0 + ranges[j].1 <= start + most {
        j += 1;
    }
    (j, ranges[j - 1].0 + ranges[j - 1].1)
}

fn check_range(range: &Range<u64>, size: u64) -> StoreResult<()> {
    if range.start > range.end || range.end > size {
        return Err(StoreError::BadRange { start: range.start, end: range.end, size });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A read holds the ranges that end within its reach, and ends where the last of them does.
    #[test]
    fn a_read_takes_only_the_bytes_its_ranges_need() {
        let most = 8 << 20;
        // Two files far apart: each is a read of its own bytes, not of 8 MiB.
        let sparse = [(0, 100), (50 << 20, 16_384)];
        assert_eq!(window(&sparse, 0, most), (1, 100));
        assert_eq!(window(&sparse, 1, most), (2, (50 << 20) + 16_384));
        // Files back to back: as many as fit in one read, up to the last one's end.
        let packed: Vec<(u64, u64)> = (0..1000).map(|i| (i * 16_384, 16_384)).collect();
        assert_eq!(window(&packed, 0, most), (512, 512 * 16_384));
        assert_eq!(window(&packed, 990, most), (1000, 1000 * 16_384));
        // A gap inside the reach is read through; a file that would end past it waits.
        let gapped = [(0, 10), (1000, 10), (most - 5, 10)];
        assert_eq!(window(&gapped, 0, most), (2, 1010));
    }

    #[tokio::test]
    async fn ranges_are_hashed_side_by_side_or_streamed_each_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).await.unwrap();
        let key = BlobKey::new("stream").unwrap();
        let data: Vec<u8> = (0..(20u32 << 20)).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        store.put_stream(&key, &mut &data[..]).await.unwrap();
        // Small files back to back, one across a read's end, an empty one, one longer than a
        // read, and the rest.
        let mut ranges = Vec::new();
        let mut at = 0u64;
        for len in [16_384u64, 1, 0, 65_536, (8 << 20) - 70_000, 9 << 20, 100, 3_000_000] {
            ranges.push((at, len));
            at += len;
        }
        let digests = digests_of_ranges(&store, &key, &ranges).await.unwrap();
        assert_eq!(digests.len(), ranges.len());
        for ((start, len), (md5, crc)) in ranges.iter().zip(digests) {
            let bytes = &data[*start as usize..(start + len) as usize];
            assert_eq!(md5, md5_many::md5(bytes), "md5 of {len} bytes at {start}");
            assert_eq!(crc, crc32fast::hash(bytes), "CRC-32 of {len} bytes at {start}");
        }
    }

    #[test]
    fn keys_cannot_escape() {
        for good in ["a", "projects/1/assets/2/v1/file.wav", "x-y_z.0"] {
            assert!(BlobKey::new(good).is_ok(), "{good}");
        }
        for bad in ["", "/abs", "a//b", "../x", "a/../b", "a/./b", ".hidden", "a/.multipart/x", "sp ace", "a\\b", "é"]
        {
            assert!(matches!(BlobKey::new(bad), Err(StoreError::InvalidKey(k)) if k == bad), "{bad}");
        }
    }
}
