//! tus concatenation: complete partial uploads joined, in order, into a final upload (a copy,
//! unlike pieces, which write in place).

use hub_domain::access::Action;

use super::{Concat, Place, UploadError, blob_key, open, storage};
use crate::app::access::{Caller, authorize_own};
use crate::app::{AppError, AppResult, Hub};
use crate::db::Upload;
use crate::store::BlobKey;

/// Joins complete partial uploads of the caller, in the order given, into a new final upload;
/// returns it and the partials (still there: the caller removes them once the join is kept).
pub(super) async fn concatenate(
    hub: &Hub,
    caller: &Caller,
    place: Place,
    list: &str,
    raw_metadata: String,
) -> AppResult<(Upload, Vec<Upload>)> {
    // Each piece once (a partial listed again would be copied again, and again…), and few.
    let ids = api_types::tus::partial_ids(list).map_err(AppError::bad_request)?;
    let mut partials = Vec::new();
    for id in ids {
        // Someone else's upload is not there for the caller (unless they manage the project).
        let partial = hub.db.upload(id).await?;
        authorize_own(hub, caller, partial.project_id, Action::Deliver(partial.bucket), partial.created_by).await?;
        let same_place = partial.project_id == place.project_id && partial.bucket == place.bucket;
        if partial.concat.as_deref() != Some("partial") || !same_place {
            return Err(AppError::bad_request(format!(
                "upload {id} is not a partial upload in this project and bucket"
            )));
        }
        if !partial.completed {
            return Err(UploadError::PartialIncomplete(id.to_owned()).into());
        }
        partials.push(partial);
    }
    let length: i64 = partials.iter().map(|p| p.length.unwrap_or(0)).sum();
    if length > hub.config.max_upload {
        return Err(UploadError::LongerThanAllowed(hub.config.max_upload).into());
    }
    let concat = Some(Concat::Final(list.to_owned()).text());
    let upload = open(hub, place, Some(length), raw_metadata, concat, None).await?;
    if length == 0 {
        return Ok((upload, partials));
    }
    let pieces = partials
        .iter()
        .map(|p| Ok((blob_key(p)?, p.length.unwrap_or(0) as u64)))
        .collect::<AppResult<Vec<(BlobKey, u64)>>>()?;
    hub.store.concatenate(&blob_key(&upload)?, &pieces).await.map_err(storage)?;
    let next = Upload { offset: length, completed: true, ..upload };
    hub.db.advance_upload(&next, 0).await?;
    Ok((next, partials))
}
