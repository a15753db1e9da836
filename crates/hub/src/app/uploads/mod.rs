//! The upload engine: resumable uploads whatever protocol carries them (tus today, `api/tus.rs`).
//! It creates uploads, appends bodies at their offset (one writer at a time, by lease), joins
//! partial uploads, takes a big file in parallel pieces written in place (`pieces`), terminates
//! uploads and reaps the expired; the blob store's write path
//! (`store::resumable`) keeps the bytes. Each change of offset is a compare-and-set on the offset
//! read, so no acknowledged byte is lost to a race, a crash or another instance. What packages
//! and deliveries require of an upload is asked through `Hooks`, which `app::deliveries` answers.

mod concat;
mod hooks;
mod incoming;
mod lease;
pub mod metadata;
mod pieces;
mod reaper;

use axum::http::StatusCode;
use hub_domain::BucketKind;
use hub_domain::access::Action;

pub use hooks::{Hooks, Watch};
pub use incoming::{Algorithm, ByteStream, Checksum};
pub use reaper::reap_expired;

use self::incoming::Incoming;
use self::lease::{Lease, PATCH_LEASE};
use super::access::{Caller, authorize, authorize_own};
use super::{AppError, AppResult, Hub};
use crate::db::{RepoError, Upload, now_ms};
use crate::secrets::random_token;
use crate::store::{BlobKey, Resumable, StoreError};

/// Why the engine refused an upload request (besides access and the database).
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("the upload is at offset {at}, not {sent}; continue from there")]
    OffsetMismatch { at: i64, sent: i64 },
    #[error("{0}")]
    MovedOn(String),
    #[error("another PATCH of this upload is in progress; wait for it, then ask for the offset (HEAD)")]
    Busy,
    #[error("this upload was delivered and is closed: its bytes belong to the asset now")]
    Delivered,
    #[error("this upload expired; start a new one")]
    Expired,
    #[error("the body goes past Upload-Length; nothing of it was kept")]
    TooLarge,
    #[error("uploads are at most {0} bytes (max_upload_bytes)")]
    LongerThanAllowed(i64),
    #[error("{0}; it was discarded and the offset is unchanged")]
    ChecksumMismatch(&'static str),
    #[error("partial upload {0} is not complete yet")]
    PartialIncomplete(String),
    #[error("the storage did not take the data; retry from the last offset")]
    Storage,
}

impl From<UploadError> for AppError {
    fn from(e: UploadError) -> AppError {
        let (status, code) = match &e {
            UploadError::OffsetMismatch { .. } | UploadError::MovedOn(_) => (StatusCode::CONFLICT, "offset_mismatch"),
            UploadError::Busy => (StatusCode::CONFLICT, "upload_busy"),
            UploadError::Delivered => (StatusCode::CONFLICT, "delivered"),
            UploadError::Expired => (StatusCode::GONE, "expired"),
            UploadError::TooLarge | UploadError::LongerThanAllowed(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            UploadError::ChecksumMismatch(_) => {
                (StatusCode::from_u16(460).expect("460 is a valid status"), "checksum_mismatch")
            }
            UploadError::PartialIncomplete(_) => (StatusCode::CONFLICT, "partial_incomplete"),
            UploadError::Storage => (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable"),
        };
        AppError::new(status, code, e.to_string())
    }
}

fn storage(e: StoreError) -> AppError {
    tracing::error!(error = %e, "blob storage failed during an upload");
    UploadError::Storage.into()
}

/// The most partial uploads one final upload joins (clients use a few dozen at most).
pub const MAX_PARTIALS: usize = api_types::tus::MAX_PARTIALS;

/// tus concatenation: a piece of a file, or a file made of pieces (their URLs, in order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Concat {
    Partial,
    Final(String),
}

impl Concat {
    /// As recorded with the upload and echoed on HEAD.
    fn text(&self) -> String {
        match self {
            Concat::Partial => "partial".into(),
            Concat::Final(list) => format!("final;{list}"),
        }
    }
}

/// A new upload as a client asks for it.
#[derive(Debug, Clone)]
pub struct NewUpload {
    /// `None`: deferred (or a final upload, whose length is its pieces').
    pub length: Option<i64>,
    /// The raw metadata (tus `Upload-Metadata`), kept and echoed back.
    pub metadata: String,
    pub concat: Option<Concat>,
}

/// One body for an upload, as a client sends it.
#[derive(Debug, Clone, Default)]
pub struct Chunk {
    /// Where the client believes the upload stands.
    pub offset: i64,
    /// The length, if the client gives it now (a deferred length is set once).
    pub length: Option<i64>,
    pub checksum: Option<Checksum>,
    /// How many bytes the client said it sends, for the transfer log.
    pub announced: Option<i64>,
}

/// Where an upload goes and who makes it (the caller has checked access).
#[derive(Debug, Clone, Copy)]
pub struct Place {
    pub project_id: i64,
    pub bucket: BucketKind,
    pub user_id: i64,
}

/// The package files an upload carries: one file (its bytes go to `blob_key`, under the package's
/// prefix), or a stream of files `first..=last` back to back (`blob_key` is the package's prefix;
/// the stream's blob is beside it, named by the upload).
#[derive(Debug)]
pub struct MemberOf {
    pub asset_id: i64,
    pub files: Carried,
    pub blob_key: String,
}

/// Which files of a package one upload carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Carried {
    One(String),
    /// Files `first..=last` in declared order.
    Run {
        first: i64,
        last: i64,
    },
}

/// `members=FIRST-LAST` of a stream's `Upload-Metadata`: the run of files (numbered from 0 in
/// declared order) it carries. Numbers past any package's files are refused here, so that no
/// arithmetic on them can overflow.
pub fn parse_run(text: &str) -> Option<(i64, i64)> {
    const MOST: i64 = 1 << 32;
    let (first, last) = text.split_once('-')?;
    let (first, last) = (first.parse::<i64>().ok()?, last.parse::<i64>().ok()?);
    (0 <= first && first <= last && last < MOST).then_some((first, last))
}

/// When an unfinished upload touched at `now` (ms) expires.
fn expiry(hub: &Hub, now: i64) -> i64 {
    now + hub.config.upload_lifetime.as_millis() as i64
}

/// The upload as its store sees it.
fn resumable<'a>(hub: &Hub, upload: &'a Upload, key: &'a BlobKey) -> Resumable<'a> {
    let length = upload.length.map(|l| l as u64);
    Resumable {
        id: &upload.id,
        key,
        offset: upload.offset as u64,
        length,
        most: length.unwrap_or(hub.config.max_upload.max(0) as u64),
        state: &upload.store_state,
    }
}

/// Where an upload's bytes go. A stored key that is not a valid key is a damaged record: an
/// error for this upload, never a panic that takes the request (or the reaper) down.
fn blob_key(upload: &Upload) -> AppResult<BlobKey> {
    BlobKey::new(upload.blob_key.clone()).map_err(|e| {
        tracing::error!(upload = %upload.id, error = %e, "an upload's stored key is not valid");
        AppError::internal()
    })
}

/// A new upload's record (not stored yet): its id, where its bytes go, its expiry.
pub(crate) fn new_upload(
    hub: &Hub,
    place: Place,
    length: Option<i64>,
    raw_metadata: String,
    concat: Option<String>,
    blob_key: Option<String>,
) -> Upload {
    let id = random_token("", 24);
    let now = now_ms();
    Upload {
        blob_key: blob_key.unwrap_or_else(|| format!("uploads/{id}/data")),
        id,
        project_id: place.project_id,
        bucket: place.bucket,
        created_by: Some(place.user_id),
        length,
        offset: 0,
        metadata: raw_metadata,
        store_state: String::new(),
        completed: false,
        created_ms: now,
        expires_ms: expiry(hub, now),
        concat,
        piece_of: None,
        piece_at: None,
    }
}

/// Creates an upload (with its first body, for tus creation-with-upload). The metadata names the
/// project, the bucket and the file; for a package file, the package; for a final upload, the
/// delivery whose file it replaces.
pub async fn create(
    hub: &Hub,
    caller: &Caller,
    new: NewUpload,
    first: Option<(Chunk, ByteStream)>,
) -> AppResult<Upload> {
    let max = hub.config.max_upload;
    if new.length.is_some_and(|l| l > max) {
        return Err(UploadError::LongerThanAllowed(max).into());
    }
    let pairs = metadata::parse(&new.metadata)?;
    let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let project_id: i64 = get("project")
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| AppError::bad_request("Upload-Metadata must name the project (key `project`, its id)"))?;
    let bucket = get("bucket").and_then(BucketKind::from_slug).ok_or_else(|| {
        AppError::bad_request("Upload-Metadata must name the bucket (key `bucket`, e.g. final-sound)")
    })?;
    // A stream of package files carries the files named by their numbers.
    let run = match get("members") {
        Some(text) => Some(parse_run(text).ok_or_else(|| {
            AppError::bad_request(format!(
                "Upload-Metadata `members` is {text:?}: write FIRST-LAST, the numbers (from 0, in declared order) of the package files the upload carries"
            ))
        })?),
        None => None,
    };
    if run.is_some() && new.concat.is_some() {
        return Err(AppError::bad_request(
            "a stream of package files (`members`) is one upload of its own, not part of a concatenation; leave out Upload-Concat",
        ));
    }
    let whole = get("whole");
    if whole.is_some() && (run.is_some() || get("package").is_some()) {
        return Err(AppError::bad_request(
            "a piece of a file (`whole`) is not a package's; leave out `package` and `members`",
        ));
    }
    // Partial uploads and pieces are parts of a file and streams carry many: they need no name of
    // their own.
    let unnamed = new.concat == Some(Concat::Partial) || run.is_some() || whole.is_some();
    let filename = get("filename").unwrap_or(if unnamed { "part" } else { "" });
    if let Err(issue) = hub_domain::names::check_delivery_name(filename) {
        return Err(AppError::invalid(
            format!("file name {filename:?} breaks the delivery rule: {issue}"),
            vec![hub_domain::FieldError { field: "filename".into(), message: issue.to_string() }],
        ));
    }
    if filename.is_empty() {
        return Err(AppError::bad_request("Upload-Metadata must give the file name (key `filename`)"));
    }
    if filename.len() > hub_domain::MAX_NAME_BYTES {
        let message = format!("a file name has at most {} bytes, not {}", hub_domain::MAX_NAME_BYTES, filename.len());
        return Err(AppError::invalid(
            message.clone(),
            vec![hub_domain::FieldError { field: "filename".into(), message }],
        ));
    }
    authorize(hub, caller, project_id, Action::Deliver(bucket)).await?;
    let place = Place { project_id, bucket, user_id: caller.user.id };
    if let Some(whole) = whole {
        let piece = pieces::create_piece(hub, caller, place, whole, get("at"), &new).await?;
        return match first {
            Some((chunk, body)) => append(hub, piece, &chunk, body).await,
            None => Ok(piece),
        };
    }
    if let Some(Concat::Final(list)) = &new.concat {
        let (upload, partials) = concat::concatenate(hub, caller, place, list, new.metadata.clone()).await?;
        // Bound to its delivery before its pieces go: a failed bind loses nothing (the joined copy
        // goes instead, and the client may try again).
        if let Some(delivery) = get("delivery").and_then(|d| d.parse::<i64>().ok())
            && let Err(e) = hub.hooks.bind_final_upload(hub, caller, delivery, filename, &upload).await
        {
            discard(hub, &upload).await;
            hub.db.delete_upload(&upload.id).await?;
            return Err(e);
        }
        for partial in &partials {
            discard(hub, partial).await;
            hub.db.delete_upload(&partial.id).await?;
        }
        return Ok(upload);
    }
    let member = match (get("package"), run) {
        (Some(package), Some((first, last))) => {
            let files = Carried::Run { first, last };
            Some(hub.hooks.package_member(hub, place, package, files, new.length).await?)
        }
        (Some(package), None) => {
            let files = Carried::One(filename.to_owned());
            Some(hub.hooks.package_member(hub, place, package, files, new.length).await?)
        }
        (None, Some(_)) => {
            return Err(AppError::bad_request("Upload-Metadata names `members` but no `package` they belong to"));
        }
        (None, None) => None,
    };
    let concat = new.concat.as_ref().map(Concat::text);
    let upload = open(hub, place, new.length, new.metadata.clone(), concat, member).await?;
    match first {
        Some((chunk, body)) => append(hub, upload, &chunk, body).await,
        None => Ok(upload),
    }
}

/// Records a new upload (and the package file it carries); a zero-length one is complete at once.
pub(crate) async fn open(
    hub: &Hub,
    place: Place,
    length: Option<i64>,
    raw_metadata: String,
    concat: Option<String>,
    member: Option<MemberOf>,
) -> AppResult<Upload> {
    let blob_key = member.as_ref().map(|m| m.blob_key.clone());
    let mut upload = new_upload(hub, place, length, raw_metadata, concat, blob_key);
    if let Some(MemberOf { files: Carried::Run { .. }, blob_key: prefix, .. }) = &member {
        upload.blob_key = crate::db::stream_key(prefix, &upload.id);
    }
    hub.db.create_upload(&upload).await?;
    let bound = match &member {
        Some(MemberOf { asset_id, files: Carried::One(name), .. }) => {
            hub.db.bind_member_upload(*asset_id, name, &upload.id).await
        }
        Some(MemberOf { asset_id, files: Carried::Run { first, last }, .. }) => {
            hub.db.bind_stream(*asset_id, *first, *last, &upload.id).await
        }
        None => Ok(()),
    };
    if let Err(e) = bound {
        hub.db.delete_upload(&upload.id).await?;
        return Err(e.into());
    }
    if length == Some(0) {
        let empty: ByteStream = Box::pin(futures_util::stream::empty());
        return append(hub, upload, &Chunk::default(), empty).await;
    }
    Ok(upload)
}

/// Loads an upload of the caller's (or of a project they manage); expired ones are gone.
async fn load(hub: &Hub, caller: &Caller, id: &str) -> AppResult<Upload> {
    let upload = hub.db.upload(id).await?;
    authorize_own(hub, caller, upload.project_id, Action::Deliver(upload.bucket), upload.created_by).await?;
    if !upload.completed && upload.expires_ms < now_ms() {
        return Err(UploadError::Expired.into());
    }
    Ok(upload)
}

/// An upload as it stands (tus HEAD): what the store really holds. A file sent in pieces whose
/// pieces are all complete is made whole here if it was not yet (its last piece's finishing was
/// cut short), so that asking is enough to finish it.
pub async fn status(hub: &Hub, caller: &Caller, id: &str) -> AppResult<Upload> {
    let upload = load(hub, caller, id).await?;
    if !upload.completed
        && upload.offset == 0
        && upload.piece_of.is_none()
        && !upload.store_state.is_empty()
        && let Some(finished) = pieces::finish_whole(hub, &upload.id).await?
    {
        return Ok(finished);
    }
    reconcile(hub, upload).await
}

/// Appends a body (tus PATCH) under the upload's lease, and tells the transfer log about it.
pub async fn patch(hub: &Hub, caller: &Caller, id: &str, chunk: Chunk, body: ByteStream) -> AppResult<Upload> {
    let upload = load(hub, caller, id).await?;
    let whole = match &upload.piece_of {
        Some(_) => Some(pieces::whole_of(hub, &upload).await?),
        None => None,
    };
    hub.hooks.ensure_open(hub, whole.as_ref().unwrap_or(&upload)).await?;
    if upload.concat.as_deref().is_some_and(|c| c.starts_with("final")) {
        return Err(AppError::forbidden("a final upload is made of its partial uploads; it takes no PATCH"));
    }
    if !hub.db.lease_upload(&upload.id, PATCH_LEASE.as_millis() as i64).await? {
        return Err(UploadError::Busy.into());
    }
    if let Err(e) = pieces::refuse_if_in_pieces(hub, &upload).await {
        hub.db.release_upload(&upload.id).await?;
        return Err(e);
    }
    // Held while this PATCH runs, renewed as it goes, and released however the request ends --
    // also when the client goes away and the request is dropped midway.
    let lease = Lease::hold(&hub.db, &upload.id);
    let result = append(hub, upload.clone(), &chunk, body).await;
    // Released before answering: the client may go on (or this process may die) right after.
    lease.release().await;
    match &whole {
        Some(whole) => pieces::note_transfer(hub, caller, whole, &upload, &result, chunk.announced).await,
        None => hub.hooks.note_transfer(hub, caller, &upload, &result, chunk.announced).await,
    }
    result
}

/// Discards an upload (tus termination), unless it was delivered.
pub async fn terminate(hub: &Hub, caller: &Caller, id: &str) -> AppResult<()> {
    let upload = load(hub, caller, id).await?;
    hub.hooks.ensure_open(hub, &upload).await?;
    // A file sent in pieces goes with its pieces.
    if upload.piece_of.is_none() && !upload.completed {
        for piece in hub.db.pieces_of(&upload.id).await? {
            discard(hub, &piece).await;
            hub.db.delete_upload(&piece.id).await?;
        }
    }
    discard(hub, &upload).await;
    hub.db.unbind_member(&upload.id).await?;
    hub.db.delete_upload(&upload.id).await?;
    Ok(())
}

/// Frees an upload's storage; failures are logged, never fatal (the blobs are unreachable anyway).
pub(crate) async fn discard(hub: &Hub, upload: &Upload) {
    if let Ok(key) = blob_key(upload) {
        match upload.piece_of {
            // A piece's bytes are its file's: only what the piece keeps of its own goes.
            Some(_) => hub.store.discard_piece(resumable(hub, upload, &key)).await,
            None => hub.store.discard(resumable(hub, upload, &key)).await,
        }
    }
}

/// Receives a body at the upload's offset and stores it; returns the upload as recorded.
async fn append(hub: &Hub, upload: Upload, chunk: &Chunk, body: ByteStream) -> AppResult<Upload> {
    let upload = reconcile(hub, upload).await?;
    if chunk.offset != upload.offset {
        return Err(UploadError::OffsetMismatch { at: upload.offset, sent: chunk.offset }.into());
    }
    let mut next = upload.clone();
    if let Some(length) = chunk.length {
        match upload.length {
            None if length >= upload.offset && length <= hub.config.max_upload => next.length = Some(length),
            Some(known) if known == length => {}
            _ => return Err(AppError::bad_request("Upload-Length cannot change once set")),
        }
    }
    let room = next.length.map_or(hub.config.max_upload - upload.offset, |l| l - upload.offset);
    let mut incoming = Incoming::new(body, room, chunk.checksum.clone(), &hub.metrics);
    if upload.completed {
        // An empty PATCH on a finished upload changes nothing; anything more is too much.
        incoming.drain().await?;
        return Ok(upload);
    }
    if next.piece_of.is_none() {
        incoming.watch = hub.hooks.watch(hub, &next).await;
    }
    let key = blob_key(&next)?;
    let stored = match &next.piece_of {
        Some(_) => pieces::append(hub, &next, &mut incoming).await?,
        None => hub.store.append(resumable(hub, &next, &key), &mut incoming).await,
    };
    let appended = match stored {
        Ok(appended) => appended,
        Err(StoreError::Refused) => return Err(incoming.refusal.take().unwrap_or(UploadError::TooLarge).into()),
        Err(StoreError::Lost) => {
            start_again(hub, &upload).await?;
            return Err(UploadError::OffsetMismatch { at: 0, sent: chunk.offset }.into());
        }
        Err(e) => return Err(storage(e)),
    };
    next.offset = upload.offset + appended.received as i64;
    next.completed = next.length == Some(next.offset);
    next.store_state = appended.state;
    next.expires_ms = expiry(hub, now_ms());
    record(hub, &next, upload.offset).await?;
    // What only the old state needed is freed once the new one is recorded.
    hub.store.settle(&upload.store_state, &next.store_state).await;
    if let Some(watch) = incoming.watch.take() {
        watch.kept(hub, &next).await;
    }
    if let Some(whole) = &next.piece_of {
        // The file and its other pieces live as long as any piece moves.
        hub.db.touch_pieces(whole, next.expires_ms).await?;
    }
    Ok(next)
}

/// The store lost what it held of the upload (see [`StoreError::Lost`]): the upload starts again
/// from its first byte (its client is then told so: 409 with offset 0; it asks and sends from
/// there), and the asset's history says what happened. What only the old state needed is freed.
async fn start_again(hub: &Hub, upload: &Upload) -> AppResult<()> {
    let next = Upload { offset: 0, store_state: String::new(), ..upload.clone() };
    record(hub, &next, upload.offset).await?;
    tracing::warn!(upload = %upload.id, acknowledged = upload.offset, "the storage lost an unfinished upload; it starts again");
    hub.store.settle(&upload.store_state, &next.store_state).await;
    hub.hooks.note_lost_bytes(hub, upload, 0).await
}

/// After a power cut a store may hold fewer bytes than were acknowledged: the offset goes back
/// to what it holds, the client is told to continue from there (its next PATCH gets 409 with the
/// offset), and the asset's history says what happened.
async fn reconcile(hub: &Hub, upload: Upload) -> AppResult<Upload> {
    if upload.completed || upload.offset == 0 {
        return Ok(upload);
    }
    let key = blob_key(&upload)?;
    let held = match &upload.piece_of {
        Some(_) => pieces::held(hub, &upload).await?,
        None => hub.store.held(resumable(hub, &upload, &key)).await,
    };
    let held = held.map_err(storage)? as i64;
    if held >= upload.offset {
        return Ok(upload);
    }
    let next = Upload { offset: held, ..upload.clone() };
    record(hub, &next, upload.offset).await?;
    tracing::warn!(upload = %upload.id, acknowledged = upload.offset, held, "an upload lost bytes it had acknowledged; its offset goes back");
    hub.hooks.note_lost_bytes(hub, &upload, held).await?;
    Ok(next)
}

/// Records an upload's new offset (only if it is still at `expected`), and a package file whose
/// upload just completed.
async fn record(hub: &Hub, next: &Upload, expected: i64) -> AppResult<()> {
    hub.db.advance_upload(next, expected).await.map_err(|e| match e {
        RepoError::Conflict(message) => UploadError::MovedOn(message).into(),
        other => AppError::from(other),
    })?;
    if next.completed {
        hub.db.complete_member(&next.id).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_run;

    #[test]
    fn runs_of_files_read_as_first_and_last_and_refuse_nonsense() {
        assert_eq!(parse_run("0-0"), Some((0, 0)));
        assert_eq!(parse_run("12-40"), Some((12, 40)));
        for bad in ["", "5", "5-", "-5", "3-2", "a-b", "1-2-3", "-1-2", "0-9223372036854775807", "0-4294967296"] {
            assert_eq!(parse_run(bad), None, "{bad}");
        }
    }
}
