//! Blobs as files under a root folder. Writes go to a temporary name and are renamed when
//! complete, so a reader never sees half a blob; multipart parts wait in `.multipart/`.

use std::io::SeekFrom;
use std::ops::Range;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::fs;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::{
    Appended, BlobKey, BlobStore, Body, PartRef, Refused, Resumable, StoreError, StoreResult, Whole, check_range,
};
use crate::secrets::random_token;

#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

const STAGING: &str = ".multipart";
const TEMP: &str = ".tmp";
/// The state of a file being written as pieces (nothing else to keep: they write in place).
const PIECES: &str = "pieces";

impl LocalStore {
    pub async fn open(root: impl Into<PathBuf>) -> StoreResult<LocalStore> {
        let root = root.into();
        fs::create_dir_all(root.join(STAGING)).await?;
        fs::create_dir_all(root.join(TEMP)).await?;
        Ok(LocalStore { root })
    }

    fn path(&self, key: &BlobKey) -> PathBuf {
        self.root.join(key.as_str())
    }

    fn upload_dir(&self, upload: &str) -> StoreResult<PathBuf> {
        if upload.is_empty() || !upload.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(StoreError::NotFound(format!("multipart upload {upload:?}")));
        }
        Ok(self.root.join(STAGING).join(upload))
    }

    fn temp_path(&self) -> PathBuf {
        self.root.join(TEMP).join(random_token("", 18))
    }

    /// Moves a finished temporary file into place.
    async fn publish(&self, temp: &Path, key: &BlobKey) -> StoreResult<()> {
        let target = self.path(key);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).await?;
        }
        fs::rename(temp, &target).await?;
        Ok(())
    }
}

/// Feeds a body's chunks to `write`, run on a blocking thread with a plain file: each chunk goes
/// to the kernel as it is, without the copies and thread hops of an async file. Returns the bytes
/// taken from the body, and whether the body and the writer both ended well.
async fn write_through(
    body: &mut dyn Body,
    write: impl FnOnce(tokio::sync::mpsc::Receiver<Bytes>) -> std::io::Result<()> + Send + 'static,
) -> (u64, StoreResult<()>) {
    let (sender, chunks) = tokio::sync::mpsc::channel::<Bytes>(16);
    let writer = tokio::task::spawn_blocking(move || write(chunks));
    let mut received = 0u64;
    let fed: StoreResult<()> = async {
        loop {
            match body.next_chunk().await {
                Ok(Some(chunk)) => {
                    received += chunk.len() as u64;
                    // The writer stopped: its error is reported when it is joined.
                    if sender.send(chunk).await.is_err() {
                        return Ok(());
                    }
                }
                Ok(None) => return Ok(()),
                Err(Refused) => return Err(StoreError::Refused),
            }
        }
    }
    .await;
    drop(sender);
    let written = match writer.await {
        Ok(written) => written.map_err(StoreError::from),
        Err(e) => Err(StoreError::Backend(format!("the upload writer stopped: {e}"))),
    };
    (received, fed.and(written))
}

fn not_found(key: &BlobKey) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |e| if e.kind() == std::io::ErrorKind::NotFound { StoreError::NotFound(key.to_string()) } else { e.into() }
}

#[async_trait]
impl BlobStore for LocalStore {
    fn describe(&self) -> String {
        format!("local folder {}", self.root.display())
    }

    fn spec(&self) -> Option<super::StoreSpec> {
        Some(super::StoreSpec::Local { root: self.root.clone() })
    }

    async fn put_stream(&self, key: &BlobKey, reader: &mut (dyn AsyncRead + Unpin + Send)) -> StoreResult<u64> {
        let temp = self.temp_path();
        let result = async {
            let mut file = fs::File::create(&temp).await?;
            let written = tokio::io::copy(reader, &mut file).await?;
            file.flush().await?;
            file.sync_data().await?;
            Ok::<u64, StoreError>(written)
        }
        .await;
        match result {
            Ok(written) => {
                self.publish(&temp, key).await?;
                Ok(written)
            }
            Err(e) => {
                let _ = fs::remove_file(&temp).await;
                Err(e)
            }
        }
    }

    async fn get_range(&self, key: &BlobKey, range: Range<u64>) -> StoreResult<Bytes> {
        let mut file = fs::File::open(self.path(key)).await.map_err(not_found(key))?;
        check_range(&range, file.metadata().await?.len())?;
        file.seek(SeekFrom::Start(range.start)).await?;
        let mut buf = vec![0u8; (range.end - range.start) as usize];
        file.read_exact(&mut buf).await?;
        Ok(Bytes::from(buf))
    }

    async fn size(&self, key: &BlobKey) -> StoreResult<u64> {
        let meta = fs::metadata(self.path(key)).await.map_err(not_found(key))?;
        if !meta.is_file() {
            return Err(StoreError::NotFound(key.to_string()));
        }
        Ok(meta.len())
    }

    async fn delete(&self, key: &BlobKey) -> StoreResult<()> {
        match fs::remove_file(self.path(key)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    async fn list(&self, prefix: &str) -> StoreResult<Vec<(String, u64)>> {
        let mut out = Vec::new();
        // Only the folder the prefix is in is walked, not the whole store.
        let mut pending = vec![self.root.join(prefix.rsplit_once('/').map_or("", |(dir, _)| dir))];
        while let Some(dir) = pending.pop() {
            let mut entries = match fs::read_dir(&dir).await {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            while let Some(entry) = entries.next_entry().await? {
                let name = entry.file_name();
                if name.to_string_lossy().starts_with('.') {
                    continue; // staging and temporaries
                }
                let meta = entry.metadata().await?;
                if meta.is_dir() {
                    pending.push(entry.path());
                } else if let Ok(rel) = entry.path().strip_prefix(&self.root) {
                    let key = rel.to_string_lossy().into_owned();
                    if key.starts_with(prefix) {
                        out.push((key, meta.len()));
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    async fn create_multipart(&self, key: &BlobKey) -> StoreResult<String> {
        let upload = random_token("", 24);
        let dir = self.upload_dir(&upload)?;
        fs::create_dir_all(&dir).await?;
        fs::write(dir.join("key"), key.as_str()).await?;
        Ok(upload)
    }

    async fn put_part(&self, key: &BlobKey, upload: &str, index: usize, data: Bytes) -> StoreResult<PartRef> {
        let dir = self.upload_dir(upload)?;
        let owner = fs::read_to_string(dir.join("key"))
            .await
            .map_err(|_| StoreError::NotFound(format!("multipart upload {upload}")))?;
        if owner != key.as_str() {
            return Err(StoreError::NotFound(format!("multipart upload {upload} of {key}")));
        }
        // Written aside, synced and renamed, so a retried part replaces a torn one whole and an
        // acknowledged part survives a power cut.
        let temp = dir.join(format!("{index:05}.partial"));
        let mut file = fs::File::create(&temp).await?;
        file.write_all(&data).await?;
        file.sync_data().await?;
        drop(file);
        fs::rename(&temp, dir.join(format!("{index:05}"))).await?;
        Ok(PartRef(format!("{index:05}")))
    }

    async fn complete_multipart(&self, key: &BlobKey, upload: &str, parts: Vec<PartRef>) -> StoreResult<()> {
        let dir = self.upload_dir(upload)?;
        let temp = self.temp_path();
        let result = async {
            let mut out = fs::File::create(&temp).await?;
            for part in &parts {
                if part.0.len() != 5 || !part.0.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(StoreError::NotFound(format!("part {:?}", part.0)));
                }
                let mut file = fs::File::open(dir.join(&part.0))
                    .await
                    .map_err(|_| StoreError::NotFound(format!("part {} of upload {upload}", part.0)))?;
                tokio::io::copy(&mut file, &mut out).await?;
            }
            out.flush().await?;
            out.sync_data().await?;
            Ok(())
        }
        .await;
        match result {
            Ok(()) => {
                self.publish(&temp, key).await?;
                fs::remove_dir_all(&dir).await?;
                Ok(())
            }
            Err(e) => {
                let _ = fs::remove_file(&temp).await;
                Err(e)
            }
        }
    }

    async fn abort_multipart(&self, _key: &BlobKey, upload: &str) -> StoreResult<()> {
        match fs::remove_dir_all(self.upload_dir(upload)?).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    // The write path: an upload is appended in place to the file that will be its blob. Bytes
    // past the recorded offset are not part of the upload until the engine records the new
    // offset, so a refused body or a crash loses nothing acknowledged: the file is cut back to
    // the recorded offset before each append.

    async fn append(&self, upload: Resumable<'_>, body: &mut dyn Body) -> StoreResult<Appended> {
        let path = self.path(upload.key);
        let at = upload.offset;
        let target = path.clone();
        let (received, written) = write_through(body, move |mut chunks| {
            use std::io::{Seek, Write};
            if let Some(dir) = target.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut file = std::fs::OpenOptions::new().create(true).write(true).truncate(false).open(&target)?;
            file.set_len(at)?;
            file.seek(std::io::SeekFrom::Start(at))?;
            while let Some(chunk) = chunks.blocking_recv() {
                file.write_all(&chunk)?;
            }
            Ok(())
        })
        .await;
        if let Err(e) = written {
            // Refused or failed: what this body wrote is cut away again.
            if let Ok(file) = std::fs::OpenOptions::new().write(true).open(&path) {
                let _ = file.set_len(at);
            }
            return Err(e);
        }
        Ok(Appended { received, state: String::new() })
    }

    /// After a power cut, acknowledged bytes that had not reached the disk are gone: the file
    /// says how many are really there. (Instead of syncing every append, which halved upload
    /// speed here; on ext4's default `data=ordered` a file never claims bytes it lost, and
    /// whatever slipped through elsewhere fails the md5 check.)
    async fn held(&self, upload: Resumable<'_>) -> StoreResult<u64> {
        match fs::metadata(self.path(upload.key)).await {
            Ok(meta) => Ok(meta.len().min(upload.offset)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    async fn settle(&self, _before: &str, _after: &str) {}

    /// The pieces are copied file to file by the kernel (copy_file_range).
    async fn concatenate(&self, key: &BlobKey, pieces: &[(BlobKey, u64)]) -> StoreResult<()> {
        let pieces: Vec<PathBuf> = pieces.iter().map(|(piece, _)| self.path(piece)).collect();
        let target = self.path(key);
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            if let Some(dir) = target.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut out = std::fs::File::create(&target)?;
            for piece in pieces {
                std::io::copy(&mut std::fs::File::open(piece)?, &mut out)?;
            }
            Ok(())
        })
        .await
        .map_err(|e| StoreError::Backend(format!("the concatenation stopped: {e}")))??;
        Ok(())
    }

    async fn discard(&self, upload: Resumable<'_>) {
        if let Err(e) = self.delete(upload.key).await {
            tracing::warn!(upload = %upload.id, error = %e, "could not delete an upload's file");
        }
    }

    // Pieces write straight into the file, each at its own range: the file is made its full
    // length at once (sparse: ranges not written yet are holes), and each piece's body is
    // written at its start plus its offset. Bytes past a piece's recorded offset are not part of
    // it until recorded, and the next body writes over them.

    async fn begin_pieces(&self, key: &BlobKey, length: u64) -> StoreResult<String> {
        let path = self.path(key);
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let file = std::fs::OpenOptions::new().create(true).write(true).truncate(false).open(&path)?;
            if file.metadata()?.len() != length {
                file.set_len(length)?;
            }
            Ok(())
        })
        .await
        .map_err(|e| StoreError::Backend(format!("preparing the file stopped: {e}")))??;
        Ok(PIECES.into())
    }

    async fn append_piece(
        &self,
        whole: Whole<'_>,
        at: u64,
        piece: Resumable<'_>,
        body: &mut dyn Body,
    ) -> StoreResult<Appended> {
        let path = self.path(whole.key);
        let end = at + piece.length.unwrap_or(0);
        let mut position = at + piece.offset;
        let (received, written) = write_through(body, move |mut chunks| {
            use std::os::unix::fs::FileExt;
            let file = std::fs::OpenOptions::new().write(true).open(&path)?;
            while let Some(chunk) = chunks.blocking_recv() {
                // The engine never lets a body past the piece's length; never past its range.
                if position + chunk.len() as u64 > end {
                    return Err(std::io::Error::other("a piece's body went past its range"));
                }
                file.write_all_at(&chunk, position)?;
                position += chunk.len() as u64;
            }
            Ok(())
        })
        .await;
        written?;
        Ok(Appended { received, state: String::new() })
    }

    /// What of the piece reached the disk: up to the first hole in its range (a power cut leaves
    /// the blocks that never reached the disk unallocated). A file system that does not report
    /// holes says the whole range is there, as for a file appended in place.
    async fn piece_held(&self, whole: Whole<'_>, at: u64, piece: Resumable<'_>) -> StoreResult<u64> {
        let path = self.path(whole.key);
        let offset = piece.offset;
        tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
            let file = match std::fs::File::open(&path) {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
                Err(e) => return Err(e),
            };
            if offset == 0 || file.metadata()?.len() < at + offset {
                return Ok(0);
            }
            let hole = rustix::fs::seek(&file, rustix::fs::SeekFrom::Hole(at)).map_err(std::io::Error::from)?;
            Ok(hole.saturating_sub(at).min(offset))
        })
        .await
        .map_err(|e| StoreError::Backend(format!("checking a piece stopped: {e}")))?
        .map_err(StoreError::from)
    }

    /// The pieces wrote the file in place: nothing to join. (Not synced, as a file appended in
    /// place is not: syncing a 1 GiB file took longer than sending it on loopback; validation's
    /// md5 reads what is really there.)
    async fn finish_pieces(&self, whole: Whole<'_>, _pieces: &[&str]) -> StoreResult<()> {
        let size = self.size(whole.key).await?;
        if size != whole.length {
            return Err(StoreError::Backend(format!("the file is {size} bytes long, not {}", whole.length)));
        }
        Ok(())
    }

    async fn discard_piece(&self, _piece: Resumable<'_>) {}

    /// Hashed in place with npack's multi-lane hasher.
    async fn md5s(&self, keys: &[(BlobKey, u64)]) -> StoreResult<Vec<[u8; 16]>> {
        let files: Vec<npack::SourceFile> = keys
            .iter()
            .map(|(key, size)| npack::SourceFile {
                name: key.to_string(),
                path: self.path(key),
                size: *size,
                modified: None,
            })
            .collect();
        let entries = tokio::task::spawn_blocking(move || {
            npack::checksum_files(&files, 2, &std::sync::atomic::AtomicBool::new(false), &npack::NoProgress)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("hashing stopped: {e}")))?
        .map_err(|e| StoreError::Backend(format!("hashing failed: {e}")))?;
        let by_name: std::collections::HashMap<String, [u8; 16]> =
            entries.into_iter().map(|e| (e.name, e.md5)).collect();
        keys.iter()
            .map(|(key, _)| by_name.get(key.as_str()).copied().ok_or_else(|| StoreError::NotFound(key.to_string())))
            .collect()
    }
}
