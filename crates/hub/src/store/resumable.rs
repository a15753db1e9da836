//! The write path of resumable uploads, as each backend implements it (in the manner of tusd's
//! data stores): append a body at the recorded offset, say how much of an upload is really held
//! after a crash, join finished uploads, free an upload's storage. The upload engine
//! (`app::uploads`) decides *whether* bytes are kept; the store decides *how* they are kept, and
//! keeps whatever it needs between PATCHes in the upload's opaque `store_state` (one column of the
//! upload's row that nobody else reads).
//!
//! The default implementation, used by object stores (S3), spools the body to a local temporary
//! file and sends it as multipart parts sized from the upload's length, and keeps the rest that is
//! not yet a whole part in a "pending" blob under a key that changes with each acknowledged offset,
//! so that any instance can continue an upload and a crash never loses an acknowledged byte. A part
//! is in memory only while it is sent, and only with a share of the process's [`PART_MEMORY`]:
//! however many PATCHes arrive, however large their parts, memory stays bounded (a PATCH waiting
//! for its share holds nothing but its spool file). `LocalStore` overrides all of it and writes in
//! place into the upload's file.

use std::sync::LazyLock;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::{BlobKey, BlobStore, PartRef, StoreError, StoreResult, Whole};

/// Bytes that the parts (and other transfer buffers) of all uploads of this process may hold in
/// memory at once, on stores that send parts from memory.
pub const PART_MEMORY: u64 = 256 << 20;

static MEMORY: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new((PART_MEMORY >> 20) as usize));

/// A share of [`PART_MEMORY`] for a buffer of `bytes`, waited for; a buffer larger than the whole
/// budget takes all of it. Hold it while the buffer lives.
pub(super) async fn memory_for(bytes: u64) -> SemaphorePermit<'static> {
    let mib = bytes.div_ceil(1 << 20).clamp(1, PART_MEMORY >> 20) as u32;
    MEMORY.acquire_many(mib).await.expect("the memory budget is never closed")
}

/// Bytes a spool's writes hold in memory on their way to its file.
const SPOOL_BUFFER: usize = 256 << 10;

/// Bytes copied per request when a pending blob is read back.
const COPY_CHUNK: u64 = 8 << 20;

/// A PATCH body as a store receives it. `Ok(Some(chunk))`: more bytes. `Ok(None)`: the body has
/// ended and what came may be kept. `Err(Refused)`: nothing of this body may become part of the
/// upload (too long, a checksum mismatch); the engine knows why and tells the client.
#[async_trait]
pub trait Body: Send {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, Refused>;
}

/// The engine refused the body; see [`Body`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused;

/// An upload as its store sees it.
#[derive(Debug, Clone, Copy)]
pub struct Resumable<'a> {
    pub id: &'a str,
    /// Where the finished bytes go.
    pub key: &'a BlobKey,
    /// Bytes recorded (acknowledged) so far.
    pub offset: u64,
    /// `None` while the length is deferred.
    pub length: Option<u64>,
    /// The most bytes the upload may reach: its length, or the hub's largest upload while the
    /// length is deferred (parts are sized so that this many fit).
    pub most: u64,
    /// The store's own state of the upload, as it last returned it (empty at first).
    pub state: &'a str,
}

/// What an append did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// Bytes of the body taken (all of them, or up to where the client went away).
    pub received: u64,
    /// The store's state to record with the new offset.
    pub state: String,
}

impl Resumable<'_> {
    /// Whether `received` more bytes finish the upload.
    pub fn finished_by(&self, received: u64) -> bool {
        self.length == Some(self.offset + received)
    }
}

/// The part size for an upload of at most `most` bytes: fewer than 9,000 parts, whole MiB, at
/// least 8 MiB (S3 allows 10,000 parts of at least 5 MiB). The same unit as a file's pieces.
pub fn part_size_for(most: u64) -> u64 {
    api_types::tus::piece_size(most)
}

/// The default (multipart) backend's state of an upload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct PartsState {
    #[serde(default)]
    part_size: u64,
    multipart: Option<String>,
    #[serde(default)]
    parts: Vec<PartRef>,
    /// The blob holding the bytes after the last whole part.
    pending: Option<String>,
    #[serde(default)]
    pending_size: u64,
}

impl PartsState {
    pub(super) fn parse(state: &str) -> StoreResult<PartsState> {
        if state.is_empty() {
            return Ok(PartsState::default());
        }
        serde_json::from_str(state).map_err(|e| StoreError::Backend(format!("unreadable upload state: {e}")))
    }

    fn text(&self) -> String {
        if *self == PartsState::default() {
            return String::new();
        }
        serde_json::to_string(self).expect("upload state serialises")
    }
}

/// A body on its way to the store, in an anonymous temporary file (gone when dropped).
struct Spool {
    file: tokio::fs::File,
    len: u64,
}

impl Spool {
    fn new() -> StoreResult<Spool> {
        let mut file = tokio::fs::File::from_std(tempfile::tempfile()?);
        // What a write may hold before it reaches the file (tokio's default is 2 MiB, which
        // across many PATCHes adds up).
        file.set_max_buf_size(SPOOL_BUFFER);
        Ok(Spool { file, len: 0 })
    }

    async fn write(&mut self, bytes: &[u8]) -> StoreResult<()> {
        self.file.write_all(bytes).await?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Everything spooled, in memory (with its share of the budget), and the spool emptied.
    async fn take(&mut self) -> StoreResult<(Vec<u8>, SemaphorePermit<'static>)> {
        let memory = memory_for(self.len).await;
        let mut data = vec![0; self.len as usize];
        self.file.flush().await?;
        self.file.seek(std::io::SeekFrom::Start(0)).await?;
        self.file.read_exact(&mut data).await?;
        self.file.set_len(0).await?;
        self.file.seek(std::io::SeekFrom::Start(0)).await?;
        self.len = 0;
        Ok((data, memory))
    }

    /// Everything spooled, to stream from.
    async fn reader(&mut self) -> StoreResult<impl AsyncRead + Unpin + Send + '_> {
        self.file.flush().await?;
        self.file.seek(std::io::SeekFrom::Start(0)).await?;
        Ok((&mut self.file).take(self.len))
    }
}

/// The default append: the body is spooled and sent as whole multipart parts, the rest kept as a
/// new pending blob, or everything into the final blob when the body finishes the upload. Parts
/// stored for a body that is then refused are not recorded; the next body stores those part
/// numbers again.
pub(super) async fn append_parts<S: BlobStore + ?Sized>(
    store: &S,
    upload: Resumable<'_>,
    body: &mut dyn Body,
) -> StoreResult<Appended> {
    append_parts_to(store, upload, body, None).await
}

/// Where a piece's parts go: a run of its file's multipart upload, from part `first` on.
#[derive(Debug, Clone)]
struct PieceParts {
    multipart: String,
    part_size: u64,
    first: usize,
}

/// [`append_parts`], or for a piece, into its run of the file's parts: a piece's last part is
/// stored when its last byte arrives, and the file is completed only by [`finish_piece_parts`].
async fn append_parts_to<S: BlobStore + ?Sized>(
    store: &S,
    upload: Resumable<'_>,
    body: &mut dyn Body,
    piece: Option<PieceParts>,
) -> StoreResult<Appended> {
    let before = PartsState::parse(upload.state)?;
    // The process may have died after the store completed the object and before the hub
    // recorded it: the multipart upload is closed, and the object is whole. The client sends the
    // last bytes again from the recorded offset; they are taken as they are (without it, every
    // retry failed on the closed multipart upload, for ever).
    if piece.is_none()
        && before.multipart.is_some()
        && let Some(length) = upload.length
        && matches!(store.size(upload.key).await, Ok(size) if size == length)
    {
        let mut received = 0u64;
        loop {
            match body.next_chunk().await {
                Ok(Some(chunk)) => received += chunk.len() as u64,
                Ok(None) => break,
                Err(Refused) => return Err(StoreError::Refused),
            }
        }
        let done = PartsState { pending: None, pending_size: 0, ..before };
        return Ok(Appended { received, state: done.text() });
    }
    let multipart = before.multipart.clone().filter(|_| piece.is_none());
    match append_parts_after(store, upload, body, piece, before).await {
        // A store can lose a multipart upload it was completing (s3s-fs forgets the upload first,
        // then joins its parts into the object; a completion cut short by the hub's death leaves
        // neither): every later part or completion fails, for ever. Told so, the engine starts
        // the upload again from its first byte.
        Err(e)
            if !matches!(e, StoreError::Refused)
                && let Some(multipart) = &multipart
                && after_failure(store, upload.key, upload.length, multipart).await == Aftermath::Lost =>
        {
            tracing::warn!(upload = %upload.id, error = %e, "the store lost this upload's multipart upload");
            Err(StoreError::Lost)
        }
        other => other,
    }
}

/// The S3 part number (index 9,999) the hub never stores a part under (an upload's parts number
/// fewer than 9,000): an empty part sent there asks whether a multipart upload still takes parts.
/// S3 keeps only the parts its completion lists, so the probe leaves nothing in the object.
const PROBE_PART: usize = 9_999;

/// What a failed part or completion of `multipart` (into `key`, of `length` bytes) left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aftermath {
    /// The object is whole: the store completed it.
    Whole,
    /// The store answers (the object's size, or that it is missing) but no longer knows the
    /// multipart upload (404 on S3 and the local store; s3s-fs says 403), and the object is not
    /// whole: what the parts held is gone.
    Lost,
    /// Anything else, such as a store that does not answer at all: nothing is known to be lost.
    Unknown,
}

async fn after_failure<S: BlobStore + ?Sized>(
    store: &S,
    key: &BlobKey,
    length: Option<u64>,
    multipart: &str,
) -> Aftermath {
    match store.size(key).await {
        Ok(size) if Some(size) == length => return Aftermath::Whole,
        Ok(_) | Err(StoreError::NotFound(_)) => {}
        Err(_) => return Aftermath::Unknown,
    }
    match store.put_part(key, multipart, PROBE_PART, Bytes::new()).await {
        Err(StoreError::NotFound(_)) => Aftermath::Lost,
        _ => Aftermath::Unknown,
    }
}

async fn append_parts_after<S: BlobStore + ?Sized>(
    store: &S,
    upload: Resumable<'_>,
    body: &mut dyn Body,
    piece: Option<PieceParts>,
    before: PartsState,
) -> StoreResult<Appended> {
    let mut next = before.clone();
    if let Some(piece) = &piece {
        next.multipart = Some(piece.multipart.clone());
        next.part_size = piece.part_size;
    }
    if next.part_size == 0 {
        next.part_size = part_size_for(upload.length.unwrap_or(upload.most));
    }
    let part_size = next.part_size;
    let first = piece.as_ref().map_or(0, |p| p.first);
    let mut spool = Spool::new()?;
    if let Some(pending) = before.pending.as_deref() {
        let pending = BlobKey::new(pending)?;
        let mut at = 0;
        while at < before.pending_size {
            let end = (at + COPY_CHUNK).min(before.pending_size);
            let _memory = memory_for(end - at).await;
            spool.write(&store.get_range(&pending, at..end).await?).await?;
            at = end;
        }
    }
    let mut received = 0u64;
    let result: StoreResult<()> = async {
        loop {
            let chunk = match body.next_chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => return Ok(()),
                Err(Refused) => return Err(StoreError::Refused),
            };
            received += chunk.len() as u64;
            let mut rest = &chunk[..];
            while !rest.is_empty() {
                let room = (part_size - spool.len).min(rest.len() as u64) as usize;
                spool.write(&rest[..room]).await?;
                rest = &rest[room..];
                if spool.len == part_size {
                    put_part(store, &mut next, upload.key, first, &mut spool).await?;
                }
            }
        }
    }
    .await;
    if let Err(e) = result {
        // A multipart upload begun by this body alone is nobody's: give it back.
        if piece.is_none()
            && before.multipart.is_none()
            && let Some(multipart) = &next.multipart
        {
            let _ = store.abort_multipart(upload.key, multipart).await;
        }
        return Err(e);
    }
    if upload.finished_by(received) && piece.is_some() {
        if spool.len > 0 {
            put_part(store, &mut next, upload.key, first, &mut spool).await?;
        }
        next.pending = None;
        next.pending_size = 0;
    } else if upload.finished_by(received) {
        match next.multipart.clone() {
            None => {
                store.put_stream(upload.key, &mut spool.reader().await?).await?;
            }
            Some(multipart) => {
                if spool.len > 0 {
                    put_part(store, &mut next, upload.key, 0, &mut spool).await?;
                }
                store.complete_multipart(upload.key, &multipart, next.parts.clone()).await?;
            }
        }
        next.pending = None;
        next.pending_size = 0;
    } else if spool.len == 0 {
        next.pending = None;
        next.pending_size = 0;
    } else {
        let pending = BlobKey::new(format!("uploads/{}/pending-{}", upload.id, upload.offset + received))?;
        next.pending_size = spool.len;
        store.put_stream(&pending, &mut spool.reader().await?).await?;
        next.pending = Some(pending.to_string());
    }
    Ok(Appended { received, state: next.text() })
}

/// Sends what is spooled as the upload's next part (numbered from `first`).
async fn put_part<S: BlobStore + ?Sized>(
    store: &S,
    next: &mut PartsState,
    key: &BlobKey,
    first: usize,
    spool: &mut Spool,
) -> StoreResult<()> {
    let (data, memory) = spool.take().await?;
    send_part(store, next, key, first, data).await?;
    drop(memory);
    Ok(())
}

async fn send_part<S: BlobStore + ?Sized>(
    store: &S,
    next: &mut PartsState,
    key: &BlobKey,
    first: usize,
    data: Vec<u8>,
) -> StoreResult<()> {
    if next.multipart.is_none() {
        next.multipart = Some(store.create_multipart(key).await?);
    }
    let multipart = next.multipart.clone().expect("just created");
    let part = store.put_part(key, &multipart, first + next.parts.len(), Bytes::from(data)).await?;
    next.parts.push(part);
    Ok(())
}

/// Once the new state is recorded, the pending blob it replaced is deleted.
pub(super) async fn settle_parts<S: BlobStore + ?Sized>(store: &S, before: &str, after: &str) {
    let (Ok(before), Ok(after)) = (PartsState::parse(before), PartsState::parse(after)) else { return };
    if let Some(old) = before.pending.filter(|old| Some(old) != after.pending.as_ref())
        && let Ok(old) = BlobKey::new(old)
    {
        let _ = store.delete(&old).await;
    }
}

/// Copies finished blobs, in order, into whole parts of `key`, carrying the rest across pieces;
/// each part is in memory with its share of the budget.
pub(super) async fn concatenate_parts<S: BlobStore + ?Sized>(
    store: &S,
    key: &BlobKey,
    pieces: &[(BlobKey, u64)],
) -> StoreResult<()> {
    let total = pieces.iter().map(|(_, size)| size).sum();
    let mut next = PartsState { part_size: part_size_for(total), ..PartsState::default() };
    let part_size = next.part_size;
    let mut buffer: Vec<u8> = Vec::new();
    let mut memory = None;
    for (from, size) in pieces {
        let mut at = 0;
        while at < *size {
            if memory.is_none() {
                memory = Some(memory_for(part_size).await);
            }
            let end = (at + part_size - buffer.len() as u64).min(*size);
            buffer.extend_from_slice(&store.get_range(from, at..end).await?);
            at = end;
            if buffer.len() as u64 == part_size {
                send_part(store, &mut next, key, 0, std::mem::take(&mut buffer)).await?;
                memory = None;
            }
        }
    }
    if next.multipart.is_none() {
        store.put_stream(key, &mut &buffer[..]).await?;
        return Ok(());
    }
    if !buffer.is_empty() {
        send_part(store, &mut next, key, 0, buffer).await?;
    }
    drop(memory);
    let multipart = next.multipart.clone().expect("a part was stored");
    store.complete_multipart(key, &multipart, next.parts).await
}

/// A file to be written as pieces: one multipart upload, whose parts the pieces fill in runs.
pub(super) async fn begin_piece_parts<S: BlobStore + ?Sized>(
    store: &S,
    key: &BlobKey,
    length: u64,
) -> StoreResult<String> {
    let multipart = store.create_multipart(key).await?;
    Ok(PartsState { part_size: part_size_for(length), multipart: Some(multipart), ..PartsState::default() }.text())
}

/// A piece's body, into its run of the file's parts (from the part its start falls in).
pub(super) async fn append_piece_parts<S: BlobStore + ?Sized>(
    store: &S,
    whole: Whole<'_>,
    at: u64,
    piece: Resumable<'_>,
    body: &mut dyn Body,
) -> StoreResult<Appended> {
    let state = PartsState::parse(whole.state)?;
    let Some(multipart) = state.multipart else {
        return Err(StoreError::Backend("the file's pieces were not begun".into()));
    };
    if state.part_size == 0 || !at.is_multiple_of(state.part_size) {
        return Err(StoreError::Backend(format!("a piece at {at} does not start at a part of {}", state.part_size)));
    }
    let target = PieceParts { multipart, part_size: state.part_size, first: (at / state.part_size) as usize };
    append_parts_to(store, piece, body, Some(target)).await
}

/// Completes the file's multipart upload from every piece's parts, in order. If it was completed
/// already (the process died before recording it), the object is there, whole.
pub(super) async fn finish_piece_parts<S: BlobStore + ?Sized>(
    store: &S,
    whole: Whole<'_>,
    pieces: &[&str],
) -> StoreResult<()> {
    let Some(multipart) = PartsState::parse(whole.state)?.multipart else {
        return Err(StoreError::Backend("the file's pieces were not begun".into()));
    };
    let mut parts = Vec::new();
    for piece in pieces {
        parts.extend(PartsState::parse(piece)?.parts);
    }
    match store.complete_multipart(whole.key, &multipart, parts).await {
        Ok(()) => Ok(()),
        Err(e) => match after_failure(store, whole.key, Some(whole.length), &multipart).await {
            Aftermath::Whole => Ok(()),
            // Cut short after the store forgot the multipart upload (see `append_parts_to`).
            Aftermath::Lost => {
                tracing::warn!(key = %whole.key, error = %e, "the store lost the multipart upload of a file sent in pieces");
                Err(StoreError::Lost)
            }
            Aftermath::Unknown => Err(e),
        },
    }
}

/// A piece holds nothing of its own but the rest of a part not yet sent (its pending blob).
pub(super) async fn discard_piece_parts<S: BlobStore + ?Sized>(store: &S, piece: Resumable<'_>) {
    let state = PartsState::parse(piece.state).unwrap_or_default();
    if let Some(pending) = state.pending.as_deref().and_then(|k| BlobKey::new(k).ok())
        && let Err(e) = store.delete(&pending).await
    {
        tracing::warn!(upload = %piece.id, error = %e, "could not delete a piece's pending chunk");
    }
}

/// Frees everything an upload holds: its multipart upload, its pending blob, its blob.
pub(super) async fn discard_parts<S: BlobStore + ?Sized>(store: &S, upload: Resumable<'_>) {
    let state = PartsState::parse(upload.state).unwrap_or_default();
    if let Some(multipart) = &state.multipart
        && let Err(e) = store.abort_multipart(upload.key, multipart).await
    {
        tracing::warn!(upload = %upload.id, error = %e, "could not abort a multipart upload");
    }
    if let Some(pending) = state.pending.as_deref().and_then(|k| BlobKey::new(k).ok())
        && let Err(e) = store.delete(&pending).await
    {
        tracing::warn!(upload = %upload.id, error = %e, "could not delete a pending chunk");
    }
    let _ = store.delete(upload.key).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_sizes_respect_s3_limits() {
        assert_eq!(part_size_for(0), 8 << 20);
        assert_eq!(part_size_for(1 << 30), 8 << 20);
        for most in [500u64 << 30, 1 << 40, 5 << 40] {
            let part = part_size_for(most);
            assert!(most.div_ceil(part) <= 10_000 && part.is_multiple_of(1 << 20), "{part}");
        }
    }

    #[test]
    fn the_state_is_opaque_text_that_round_trips() {
        assert_eq!(PartsState::parse("").unwrap(), PartsState::default());
        assert_eq!(PartsState::default().text(), "");
        let state = PartsState {
            part_size: 8 << 20,
            multipart: Some("m1".into()),
            parts: vec![PartRef("e1".into())],
            pending: Some("uploads/u/pending-9".into()),
            pending_size: 9,
        };
        assert_eq!(PartsState::parse(&state.text()).unwrap(), state);
        // What the migration makes of an upload recorded before the state was opaque.
        let migrated = r#"{"multipart":"m1","parts":["e1"],"pending":"uploads/u/pending-9","pending_size":9}"#;
        assert_eq!(PartsState::parse(migrated).unwrap(), PartsState { part_size: 0, ..state });
        assert!(PartsState::parse("{not json").is_err());
    }
}
