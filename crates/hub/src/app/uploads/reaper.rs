//! The reaper: unfinished uploads whose time is up lose their storage, and what they carried
//! fails (through the delivery hooks).

use super::discard;
use crate::app::{AppResult, Hub};
use crate::db::Upload;

/// Frees the storage of unfinished uploads whose time is up; returns how many.
///
/// Each upload is claimed first (removed only if it is still unfinished, expired and not being
/// written), so that a PATCH finishing it, a DELIVER using it or another instance's reaper never
/// lose bytes to this one: storage is freed only for what this call claimed. Works through every
/// batch.
pub async fn reap_expired(hub: &Hub) -> AppResult<usize> {
    const BATCH: i64 = 100;
    let mut reaped = 0;
    loop {
        let expired = hub.db.expired_uploads(BATCH).await?;
        for upload in &expired {
            if reap(hub, upload).await? {
                reaped += 1;
            }
        }
        if (expired.len() as i64) < BATCH {
            return Ok(reaped);
        }
    }
}

async fn reap(hub: &Hub, upload: &Upload) -> AppResult<bool> {
    if !hub.db.claim_expired_upload(&upload.id).await? {
        return Ok(false);
    }
    hub.db.unbind_member(&upload.id).await?;
    discard(hub, upload).await;
    hub.hooks.upload_expired(hub, upload).await?;
    tracing::info!(upload = %upload.id, "expired upload removed");
    Ok(true)
}
