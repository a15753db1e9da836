//! Pieces: a big file sent as parallel uploads that each write one range of it in place (a hub
//! extension to tus; the rule is `api_types::tus::piece_size`). A piece is made with
//! `Upload-Metadata` `whole` (the file's upload id) and `at` (where it starts); its bytes go
//! straight into the file's storage (a range of the file on the local disk, a run of the file's
//! multipart parts on S3), so nothing is copied when the last piece finishes: the file is then
//! complete, as if it had been sent as one stream. While it has pieces, the file takes no PATCH of
//! its own; once it has bytes of its own, it takes no pieces.

use std::time::Duration;

use super::lease::{Lease, PATCH_LEASE};
use super::{NewUpload, Place, UploadError, blob_key, load, new_upload, record, resumable, storage};
use crate::app::access::Caller;
use crate::app::{AppError, AppResult, Hub};
use crate::db::{Upload, now_ms};
use crate::store::{Appended, BlobKey, Body, StoreError, StoreResult, Whole};

/// The file (whole) as its store sees it.
fn whole_view<'a>(whole: &'a Upload, key: &'a BlobKey) -> Whole<'a> {
    Whole { key, length: whole.length.unwrap_or(0) as u64, state: &whole.store_state }
}

/// A piece's file and where its bytes go.
async fn whole_and_key(hub: &Hub, piece: &Upload) -> AppResult<(Upload, BlobKey)> {
    let whole = whole_of(hub, piece).await?;
    let key = blob_key(&whole)?;
    Ok((whole, key))
}

/// Appends a piece's body into its file's storage, at the piece's place.
pub(super) async fn append(hub: &Hub, piece: &Upload, body: &mut dyn Body) -> AppResult<StoreResult<Appended>> {
    let (whole, key) = whole_and_key(hub, piece).await?;
    let at = piece.piece_at.unwrap_or(0) as u64;
    Ok(hub.store.append_piece(whole_view(&whole, &key), at, resumable(hub, piece, &key), body).await)
}

/// How many of a piece's recorded bytes its file's storage really holds.
pub(super) async fn held(hub: &Hub, piece: &Upload) -> AppResult<StoreResult<u64>> {
    let (whole, key) = whole_and_key(hub, piece).await?;
    let at = piece.piece_at.unwrap_or(0) as u64;
    Ok(hub.store.piece_held(whole_view(&whole, &key), at, resumable(hub, piece, &key)).await)
}

/// A file that is being sent in pieces takes no PATCH of its own.
pub(super) async fn refuse_if_in_pieces(hub: &Hub, upload: &Upload) -> AppResult<()> {
    // Only a file with the pieces' room made and no bytes of its own can have pieces.
    if upload.offset > 0 || upload.piece_of.is_some() || upload.store_state.is_empty() {
        return Ok(());
    }
    if hub.db.pieces_of(&upload.id).await?.is_empty() {
        return Ok(());
    }
    Err(AppError::conflict(
        "this file is being sent in pieces (uploads with `whole` naming it); continue those, or terminate them first",
    ))
}

/// Tells the file's transfer log what a piece's PATCH did: where in the file, and whether the
/// file is whole now (the piece whose last byte arrived makes it whole if every other is there).
pub(super) async fn note_transfer(
    hub: &Hub,
    caller: &Caller,
    whole: &Upload,
    piece: &Upload,
    result: &AppResult<Upload>,
    announced: Option<i64>,
) {
    let at = piece.piece_at.unwrap_or(0);
    let before = Upload { offset: at + piece.offset, ..whole.clone() };
    let so_far = |after: &Upload| Upload { offset: at + after.offset, ..whole.clone() };
    let after = match result {
        Ok(after) if after.completed && !piece.completed => Ok(match finish_whole(hub, &whole.id).await {
            Ok(Some(done)) => done,
            Ok(None) => so_far(after),
            Err(e) => {
                tracing::warn!(upload = %whole.id, error = %e.body.message, "a file's pieces are all here but it was not made whole; a HEAD of it tries again");
                so_far(after)
            }
        }),
        Ok(after) => Ok(so_far(after)),
        Err(e) => Err(e.clone()),
    };
    hub.hooks.note_transfer(hub, caller, &before, &after, announced).await;
}

/// Takes the file's lease for a moment (pieces are made, and the file is finished, one at a
/// time): waits up to two seconds for another piece's turn to end.
async fn lease_whole(hub: &Hub, id: &str) -> AppResult<Option<Lease>> {
    for _ in 0..40 {
        if hub.db.lease_upload(id, PATCH_LEASE.as_millis() as i64).await? {
            return Ok(Some(Lease::hold(&hub.db, id)));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(None)
}

/// Makes a piece of the caller's file `whole_id` from byte `at`, of `new.length` bytes; the
/// piece made before, if one was made so (creating a piece is idempotent).
pub(super) async fn create_piece(
    hub: &Hub,
    caller: &Caller,
    place: Place,
    whole_id: &str,
    at: Option<&str>,
    new: &NewUpload,
) -> AppResult<Upload> {
    let bad = |m: String| AppError::bad_request(m);
    if new.concat.is_some() {
        return Err(bad(
            "a piece (`whole`) is an upload of its own, not part of a concatenation; leave out Upload-Concat".into(),
        ));
    }
    let length = new.length.filter(|l| *l > 0).ok_or_else(|| {
        bad("a piece (`whole`) gives its Upload-Length up front: the bytes of the file it carries (more than 0)".into())
    })?;
    let at: i64 = at.and_then(|a| a.parse().ok()).filter(|a| *a >= 0).ok_or_else(|| {
        bad("a piece (`whole`) gives `at` in Upload-Metadata: where in the file it starts, in bytes from 0".into())
    })?;
    let whole = load(hub, caller, whole_id).await?;
    hub.hooks.ensure_open(hub, &whole).await?;
    let carried = super::metadata::parse(&whole.metadata)?;
    let plain = whole.concat.is_none()
        && whole.piece_of.is_none()
        && !carried.iter().any(|(k, _)| k == "package" || k == "members");
    let total = match whole.length {
        Some(total) if plain && whole.project_id == place.project_id && whole.bucket == place.bucket => total,
        _ => {
            return Err(bad(format!(
                "upload {whole_id} is not a file of known length in this project and bucket; pieces belong to a declared file's upload"
            )));
        }
    };
    if whole.completed {
        return Err(AppError::conflict(format!(
            "the file of upload {whole_id} is complete already; it needs no pieces"
        )));
    }
    let unit = api_types::tus::piece_size(total as u64) as i64;
    let end = at.checked_add(length).filter(|end| *end <= total);
    if at % unit != 0 || end.is_none() || (length % unit != 0 && end != Some(total)) {
        return Err(bad(format!(
            "a piece of this {total}-byte file starts at a multiple of {unit} bytes and is a multiple of {unit} bytes long \
             (only the piece that ends the file may be shorter), within the file; {length} bytes at {at} is not"
        )));
    }
    let end = end.expect("checked");
    let Some(lease) = lease_whole(hub, whole_id).await? else {
        return Err(UploadError::Busy.into());
    };
    let made = async {
        let whole = hub.db.upload(whole_id).await?;
        if whole.offset > 0 || whole.completed {
            return Err(AppError::conflict(format!(
                "upload {whole_id} is being sent as one stream (it is at byte {}); continue it instead of sending pieces",
                whole.offset
            )));
        }
        let pieces = hub.db.pieces_of(whole_id).await?;
        // Asked again (an answer lost on the way, a page reloaded): the same piece, to continue.
        if let Some(same) = pieces.iter().find(|p| p.piece_at == Some(at) && p.length == Some(length)) {
            return Ok(same.clone());
        }
        if let Some(other) = pieces.iter().find(|p| {
            let (start, stop) = (p.piece_at.unwrap_or(0), p.piece_at.unwrap_or(0) + p.length.unwrap_or(0));
            start < end && at < stop
        }) {
            return Err(AppError::conflict(format!(
                "bytes {at} to {end} of the file overlap piece {} (from byte {}); continue that piece, or send another range",
                other.id,
                other.piece_at.unwrap_or(0)
            )));
        }
        let key = blob_key(&whole)?;
        let mut whole = whole;
        if whole.store_state.is_empty() {
            let state = hub.store.begin_pieces(&key, total as u64).await.map_err(storage)?;
            let next = Upload { store_state: state, ..whole.clone() };
            record(hub, &next, whole.offset).await?;
            whole = next;
        }
        let mut piece = new_upload(hub, place, Some(length), new.metadata.clone(), None, Some(whole.blob_key.clone()));
        piece.piece_of = Some(whole.id.clone());
        piece.piece_at = Some(at);
        hub.db.create_upload(&piece).await?;
        hub.db.touch_pieces(&whole.id, piece.expires_ms).await?;
        Ok(piece)
    }
    .await;
    lease.release().await;
    made
}

/// The file a piece belongs to (it is gone if the file expired or was terminated).
pub(super) async fn whole_of(hub: &Hub, piece: &Upload) -> AppResult<Upload> {
    let id = piece.piece_of.as_deref().unwrap_or_default();
    hub.db.upload(id).await.map_err(|e| match e {
        crate::db::RepoError::NotFound => AppError::conflict(format!(
            "the file this piece belongs to (upload {id}) is gone (expired or terminated); start the file again"
        )),
        other => other.into(),
    })
}

/// Once every piece of the file is complete, the file is made whole and recorded complete.
/// Returns the file if it is complete (now or before); `None` while a piece is missing or
/// unfinished, or another instance is finishing it.
pub(super) async fn finish_whole(hub: &Hub, whole_id: &str) -> AppResult<Option<Upload>> {
    let Some(lease) = lease_whole(hub, whole_id).await? else { return Ok(None) };
    let finished = async {
        let whole = hub.db.upload(whole_id).await?;
        if whole.completed {
            return Ok(Some(whole));
        }
        let pieces = hub.db.pieces_of(whole_id).await?;
        let total = whole.length.unwrap_or(-1);
        let mut at = 0;
        for piece in &pieces {
            if !piece.completed || piece.piece_at != Some(at) {
                return Ok(None);
            }
            at += piece.length.unwrap_or(0);
        }
        if pieces.is_empty() || at != total {
            return Ok(None);
        }
        let key = blob_key(&whole)?;
        let states: Vec<&str> = pieces.iter().map(|p| p.store_state.as_str()).collect();
        match hub.store.finish_pieces(whole_view(&whole, &key), &states).await {
            Ok(()) => {}
            Err(StoreError::Lost) => {
                start_again(hub, &whole, &key, &pieces).await?;
                return Ok(None);
            }
            Err(e) => return Err(storage(e)),
        }
        let next = Upload { offset: total, completed: true, expires_ms: super::expiry(hub, now_ms()), ..whole.clone() };
        record(hub, &next, whole.offset).await?;
        // The pieces' records stay, complete, until the reaper takes them (nothing uses them): a
        // client whose answer to its last PATCH was lost asks again and finds its piece complete.
        tracing::info!(upload = %whole_id, pieces = pieces.len(), bytes = total, "a file sent in pieces is whole");
        Ok(Some(next))
    }
    .await;
    lease.release().await;
    finished
}

/// The store lost the file's multipart upload while completing it (see [`StoreError::Lost`]): the
/// file gets a new one, every piece starts again from its first byte (its client is told so when
/// it next asks or sends), and the asset's history says what happened.
async fn start_again(hub: &Hub, whole: &Upload, key: &BlobKey, pieces: &[Upload]) -> AppResult<()> {
    let length = whole.length.unwrap_or(0);
    let state = hub.store.begin_pieces(key, length as u64).await.map_err(storage)?;
    record(hub, &Upload { store_state: state, ..whole.clone() }, whole.offset).await?;
    for piece in pieces {
        let again = Upload { offset: 0, completed: false, store_state: String::new(), ..piece.clone() };
        record(hub, &again, piece.offset).await?;
    }
    tracing::warn!(upload = %whole.id, pieces = pieces.len(), "the storage lost a file sent in pieces as it was made whole; its pieces start again");
    hub.hooks.note_lost_bytes(hub, &Upload { offset: length, ..whole.clone() }, 0).await
}
