//! A PATCH body on its way to the store: counted against the room the upload has left, hashed
//! for its `Upload-Checksum`, and judged at its end. The store takes chunks from it and keeps
//! nothing of a body it refuses.

use std::pin::Pin;
use std::sync::atomic::Ordering;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sha1::Digest;

use super::UploadError;
use crate::app::Metrics;
use crate::store::{Body, Refused};

/// The bytes of a request body, however the face received them.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, Box<dyn std::error::Error + Send + Sync>>> + Send>>;

/// A checksum the client sent for the body (tus `Upload-Checksum`), as `api_types::tus` parses
/// it.
pub use api_types::tus::{Algorithm, Checksum};

enum Hasher {
    Md5(md5_many::Md5State),
    Sha1(sha1::Sha1),
    Crc32(crc32fast::Hasher),
}

impl Hasher {
    fn new(algorithm: Algorithm) -> Hasher {
        match algorithm {
            Algorithm::Md5 => Hasher::Md5(md5_many::Md5State::new()),
            Algorithm::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            Algorithm::Crc32 => Hasher::Crc32(crc32fast::Hasher::new()),
        }
    }
    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Md5(state) => state.update(data),
            Hasher::Sha1(state) => state.update(data),
            Hasher::Crc32(state) => state.update(data),
        }
    }
    fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Md5(state) => state.finalize().to_vec(),
            Hasher::Sha1(state) => state.finalize().to_vec(),
            Hasher::Crc32(state) => state.finalize().to_be_bytes().to_vec(),
        }
    }
}

/// See the module documentation.
pub(super) struct Incoming<'a> {
    stream: ByteStream,
    room: i64,
    received: i64,
    hasher: Option<(Hasher, Vec<u8>)>,
    metrics: &'a Metrics,
    /// Sees every byte handed to the store.
    pub(super) watch: Option<Box<dyn super::Watch>>,
    ended: bool,
    /// Why the body was refused, once it was.
    pub(super) refusal: Option<UploadError>,
}

impl<'a> Incoming<'a> {
    pub(super) fn new(stream: ByteStream, room: i64, checksum: Option<Checksum>, metrics: &'a Metrics) -> Self {
        let hasher = checksum.map(|c| (Hasher::new(c.algorithm), c.digest));
        Incoming { stream, room, received: 0, hasher, metrics, watch: None, ended: false, refusal: None }
    }

    fn refuse(&mut self, why: UploadError) -> Result<Option<Bytes>, Refused> {
        self.ended = true;
        self.refusal = Some(why);
        Err(Refused)
    }

    /// The body ended (or the client went away): kept unless a checksum says otherwise. A
    /// checksummed body cut short is refused, since its checksum cannot be checked.
    fn end(&mut self, interrupted: bool) -> Result<Option<Bytes>, Refused> {
        self.ended = true;
        let Some((hasher, wanted)) = self.hasher.take() else { return Ok(None) };
        if interrupted {
            return self
                .refuse(UploadError::ChecksumMismatch("the connection dropped midway through a checksummed chunk"));
        }
        if hasher.finish() != wanted {
            return self.refuse(UploadError::ChecksumMismatch("the chunk does not match its Upload-Checksum"));
        }
        Ok(None)
    }

    /// Reads the whole body without keeping it (a PATCH on a finished upload): only an empty
    /// body is accepted, as there is no room left.
    pub(super) async fn drain(&mut self) -> Result<(), UploadError> {
        loop {
            match self.next_chunk().await {
                Ok(Some(_)) => {}
                Ok(None) => return Ok(()),
                Err(Refused) => return Err(self.refusal.take().unwrap_or(UploadError::TooLarge)),
            }
        }
    }
}

#[async_trait]
impl Body for Incoming<'_> {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, Refused> {
        if self.ended {
            return if self.refusal.is_some() { Err(Refused) } else { Ok(None) };
        }
        let chunk = match self.stream.next().await {
            Some(Ok(chunk)) => chunk,
            // The client went away: what arrived is kept (unless checksummed).
            Some(Err(_)) => return self.end(true),
            None => return self.end(false),
        };
        self.received += chunk.len() as i64;
        self.metrics.upload_bytes_received.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        if self.received > self.room {
            return self.refuse(UploadError::TooLarge);
        }
        if let Some((hasher, _)) = &mut self.hasher {
            hasher.update(&chunk);
        }
        if let Some(watch) = &mut self.watch {
            watch.see(&chunk);
        }
        Ok(Some(chunk))
    }
}
