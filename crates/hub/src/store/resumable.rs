//! The write path of resumable uploads, as each backend implements it (in the manner of tusd's
//! data stores): append a body at the recorded offset, say how much of an upload is really held
//! after a crash, join finished uploads, free an upload's storage. The upload engine
//! (`app::uploads`) decides *whether* bytes are kept; the store decides *how* they are kept, and
//! keeps whatever it needs between PATCHes in the upload's opaque `store_state` (one column of the
//! upload's row that nobody else reads).
//!
//! The default implementation, used by object stores (S3), streams the body into multipart parts
//! sized from the upload's length and keeps the rest that is not yet a whole part in a "pending"
//! blob under a key that changes with each acknowledged offset, so that any instance can continue
//! an upload and a crash never loses an acknowledged byte. `LocalStore` overrides it and writes in
//! place into the upload's file.

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{BlobKey, BlobStore, PartRef, StoreError, StoreResult};

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

/// S3 allows 10,000 parts of at least 5 MiB; we leave headroom and never go below 8 MiB.
const MIN_PART: u64 = 8 << 20;
const MAX_PARTS: u64 = 9_000;

/// The part size for an upload of `length` bytes (32 MiB while the length is unknown).
pub fn part_size_for(length: Option<u64>) -> u64 {
    match length {
        Some(length) => length.div_ceil(MAX_PARTS).max(MIN_PART).div_ceil(1 << 20) * (1 << 20),
        None => MIN_PART * 4,
    }
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

/// The default append: whole parts as multipart parts, the rest as a new pending blob, or
/// everything into the final blob when the body finishes the upload. Parts stored for a body that
/// is then refused are not recorded; the next body stores those part numbers again.
pub(super) async fn append_parts<S: BlobStore + ?Sized>(
    store: &S,
    upload: Resumable<'_>,
    body: &mut dyn Body,
) -> StoreResult<Appended> {
    let before = PartsState::parse(upload.state)?;
    let mut next = before.clone();
    if next.part_size == 0 {
        next.part_size = part_size_for(upload.length);
    }
    let part_size = next.part_size as usize;
    let mut buffer: Vec<u8> = match before.pending.as_deref() {
        Some(pending) => store.get_range(&BlobKey::new(pending)?, 0..before.pending_size).await?.to_vec(),
        None => Vec::new(),
    };
    let mut received = 0u64;
    let result: StoreResult<()> = async {
        loop {
            let chunk = match body.next_chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => return Ok(()),
                Err(Refused) => return Err(StoreError::Refused),
            };
            received += chunk.len() as u64;
            buffer.extend_from_slice(&chunk);
            while buffer.len() >= part_size {
                let rest = buffer.split_off(part_size);
                put_part(store, &mut next, upload.key, std::mem::replace(&mut buffer, rest)).await?;
            }
        }
    }
    .await;
    if let Err(e) = result {
        // A multipart upload begun by this body alone is nobody's: give it back.
        if before.multipart.is_none()
            && let Some(multipart) = &next.multipart
        {
            let _ = store.abort_multipart(upload.key, multipart).await;
        }
        return Err(e);
    }
    if upload.finished_by(received) {
        if next.multipart.is_none() {
            store.put_stream(upload.key, &mut &buffer[..]).await?;
        } else {
            if !buffer.is_empty() {
                put_part(store, &mut next, upload.key, std::mem::take(&mut buffer)).await?;
            }
            let multipart = next.multipart.clone().expect("a part was stored");
            store.complete_multipart(upload.key, &multipart, next.parts.clone()).await?;
        }
        next.pending = None;
        next.pending_size = 0;
    } else if buffer.is_empty() {
        next.pending = None;
        next.pending_size = 0;
    } else {
        let pending = BlobKey::new(format!("uploads/{}/pending-{}", upload.id, upload.offset + received))?;
        store.put_stream(&pending, &mut &buffer[..]).await?;
        next.pending = Some(pending.to_string());
        next.pending_size = buffer.len() as u64;
    }
    Ok(Appended { received, state: next.text() })
}

async fn put_part<S: BlobStore + ?Sized>(
    store: &S,
    next: &mut PartsState,
    key: &BlobKey,
    data: Vec<u8>,
) -> StoreResult<()> {
    if next.multipart.is_none() {
        next.multipart = Some(store.create_multipart(key).await?);
    }
    let multipart = next.multipart.clone().expect("just created");
    let part = store.put_part(key, &multipart, next.parts.len(), Bytes::from(data)).await?;
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

/// Copies finished blobs, in order, into whole parts of `key`, carrying the rest across pieces.
pub(super) async fn concatenate_parts<S: BlobStore + ?Sized>(
    store: &S,
    key: &BlobKey,
    pieces: &[(BlobKey, u64)],
) -> StoreResult<()> {
    let total = pieces.iter().map(|(_, size)| size).sum();
    let mut next = PartsState { part_size: part_size_for(Some(total)), ..PartsState::default() };
    let part_size = next.part_size;
    let mut buffer: Vec<u8> = Vec::new();
    for (from, size) in pieces {
        let mut at = 0;
        while at < *size {
            let end = (at + part_size - buffer.len() as u64).min(*size);
            buffer.extend_from_slice(&store.get_range(from, at..end).await?);
            at = end;
            if buffer.len() as u64 == part_size {
                put_part(store, &mut next, key, std::mem::take(&mut buffer)).await?;
            }
        }
    }
    if next.multipart.is_none() {
        store.put_stream(key, &mut &buffer[..]).await?;
        return Ok(());
    }
    if !buffer.is_empty() {
        put_part(store, &mut next, key, buffer).await?;
    }
    let multipart = next.multipart.clone().expect("a part was stored");
    store.complete_multipart(key, &multipart, next.parts).await
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
        assert_eq!(part_size_for(Some(0)), MIN_PART);
        assert_eq!(part_size_for(Some(1 << 30)), MIN_PART);
        let huge = 500u64 << 30;
        let part = part_size_for(Some(huge));
        assert!(huge.div_ceil(part) <= 10_000 && part.is_multiple_of(1 << 20), "{part}");
        assert!(part_size_for(None) >= 5 << 20);
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
