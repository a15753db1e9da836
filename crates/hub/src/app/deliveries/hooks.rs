//! What packages and deliveries require of uploads, called by the upload engine: a package file's
//! upload must carry a declared file; a final (concatenated) upload may replace a delivery's file;
//! a delivered upload is closed; the transfer log tells each asset's history what its upload did;
//! an expired upload fails its asset.

use async_trait::async_trait;
use hub_domain::HistoryAction;
use hub_domain::access::Action;

use crate::app::access::{Caller, authorize_own};
use crate::app::uploads::{Carried, Hooks, MemberOf, Place, UploadError, Watch};
use crate::app::{AppError, AppResult, Hub};
use crate::db::Upload;

/// Problems a client may log into one asset's history (per kind): enough to explain a failure, too
/// few for a misbehaving client to flood it.
const MAX_TRANSFER_NOTES: i64 = 20;

/// The delivery service's side of the upload engine.
#[derive(Debug, Default)]
pub struct DeliveryHooks {
    /// Package streams whose files this process hashes as they arrive.
    runs: super::arrivals::Runs,
}

#[async_trait]
impl Hooks for DeliveryHooks {
    /// Checks that an upload naming `package` (an asset id) carries declared files of that package
    /// in progress: one file with its declared size that has no upload yet, or a run of files
    /// (a stream) whose sizes add up to the upload's length and that no live upload carries.
    async fn package_member(
        &self,
        state: &Hub,
        place: Place,
        package: &str,
        files: Carried,
        length: Option<i64>,
    ) -> AppResult<MemberOf> {
        let not_ours = || {
            AppError::bad_request(format!(
                "package {package:?} is not a package of yours in progress in this project and bucket"
            ))
        };
        let asset_id: i64 = package.parse().map_err(|_| not_ours())?;
        let asset = state.db.asset(asset_id).await.map_err(|_| not_ours())?;
        let prefix = match (&asset.blob_key, asset.package_files) {
            (Some(prefix), Some(_))
                if asset.project_id == place.project_id
                    && asset.bucket == place.bucket
                    && asset.created_by == Some(place.user_id)
                    && asset.state == hub_domain::AssetState::InProgress =>
            {
                prefix.clone()
            }
            _ => return Err(not_ours()),
        };
        let name = match &files {
            Carried::One(name) => name.clone(),
            Carried::Run { first, last } => {
                let (count, bytes, carried) = state.db.member_run(asset_id, *first, *last).await?;
                if count != last - first + 1 {
                    return Err(AppError::bad_request(format!(
                        "package {} has files 0 to {} (in declared order); there are no files {first} to {last}",
                        asset.name,
                        asset.package_files.unwrap_or(0) - 1
                    )));
                }
                if length != Some(bytes) {
                    return Err(AppError::bad_request(format!(
                        "files {first} to {last} of {} were declared with {bytes} bytes in all; send Upload-Length: {bytes}",
                        asset.name
                    )));
                }
                if carried > 0 {
                    return Err(AppError::conflict(format!(
                        "{carried} of files {first} to {last} of {} already travel in another upload; continue that one (list them at /api/v1/assets/{asset_id}/members)",
                        asset.name
                    )));
                }
                return Ok(MemberOf { asset_id, files, blob_key: prefix });
            }
        };
        let Some((size, upload)) = state.db.package_member(asset_id, &name).await? else {
            return Err(AppError::bad_request(format!("{name} is not a file of package {}", asset.name)));
        };
        if length != Some(size) {
            return Err(AppError::bad_request(format!(
                "{name} was declared with {size} bytes; send Upload-Length: {size}"
            )));
        }
        if let Some(existing) = upload
            && state.db.upload(&existing).await.is_ok()
        {
            return Err(AppError::conflict(format!(
                "{name} already has an upload, /api/v1/uploads/{existing}; continue it (HEAD, then PATCH)"
            )));
        }
        Ok(MemberOf { asset_id, files, blob_key: format!("{prefix}/{name}") })
    }

    /// A final upload that names a delivery replaces the upload of the file of that name there.
    async fn bind_final_upload(
        &self,
        state: &Hub,
        caller: &Caller,
        delivery_id: i64,
        filename: &str,
        upload: &Upload,
    ) -> AppResult<()> {
        let delivery = state.db.delivery(delivery_id).await?;
        authorize_own(state, caller, delivery.project_id, Action::Deliver(delivery.bucket), delivery.created_by)
            .await?;
        if delivery.state != hub_domain::DeliveryState::Open {
            return Err(AppError::conflict(format!("delivery {delivery_id} was delivered; its files cannot change")));
        }
        for file in state.db.delivery_files(delivery_id).await? {
            let asset = state.db.asset(file.asset_id).await?;
            if asset.name == filename {
                if Some(asset.size) != upload.length {
                    return Err(AppError::conflict(format!(
                        "{filename} was declared with {} bytes, but the parts add up to {}",
                        asset.size,
                        upload.length.unwrap_or(0)
                    )));
                }
                return Ok(state.db.rebind_delivery_upload(delivery_id, asset.id, &upload.id).await?);
            }
        }
        Err(AppError::bad_request(format!("delivery {delivery_id} has no file named {filename}")))
    }

    /// Refuses to change an upload whose bytes were delivered: they are an asset's now. (Only a
    /// complete upload can have been delivered, so unfinished ones cost no look-up.)
    async fn ensure_open(&self, state: &Hub, upload: &Upload) -> AppResult<()> {
        if !upload.completed {
            return Ok(());
        }
        if let Some(target) = state.db.transfer_target(&upload.id).await?
            && state.db.asset(target.asset_id).await?.state != hub_domain::AssetState::InProgress
        {
            return Err(UploadError::Delivered.into());
        }
        Ok(())
    }

    /// Tells the asset's history what a PATCH did when it is worth telling: the file is now whole, the
    /// connection dropped midway, or a chunk was refused and why. These are the log lines the
    /// transfers page shows beside a file that stopped.
    async fn note_transfer(
        &self,
        state: &Hub,
        caller: &Caller,
        before: &Upload,
        result: &AppResult<Upload>,
        sent: Option<i64>,
    ) {
        let (action, detail) = match result {
            Ok(after) if after.completed && !before.completed => {
                (HistoryAction::TransferComplete, format!("all {} bytes received", after.offset))
            }
            Ok(after) if sent.is_some_and(|n| after.offset - before.offset < n) => {
                let (kept, sent) = (after.offset - before.offset, sent.unwrap_or_default());
                let what = if kept == 0 {
                    format!("the connection dropped before any of the chunk's {sent} bytes arrived")
                } else {
                    format!("the connection dropped after {kept} of the chunk's {sent} bytes; the hub kept them")
                };
                (
                    HistoryAction::TransferInterrupted,
                    format!("{what}, and the upload continues from byte {}", after.offset),
                )
            }
            Err(e) => (
                HistoryAction::TransferError,
                format!("a chunk at byte {} was refused ({}): {}", before.offset, e.status.as_u16(), e.body.message),
            ),
            Ok(_) => return,
        };
        let target = match state.db.transfer_target(&before.id).await {
            Ok(Some(target)) => target,
            Ok(None) => return, // an upload outside any delivery: its client has the answer
            Err(e) => return tracing::warn!(upload = %before.id, error = %e, "transfer note not written"),
        };
        let detail = match &target.member {
            // A package's files complete by the thousand; its check tells the story.
            Some(_) if action == HistoryAction::TransferComplete => return,
            Some(member) => format!("{member}: {detail}"),
            None => detail,
        };
        if action != HistoryAction::TransferComplete
            && state.db.count_history(target.asset_id, action).await.is_ok_and(|n| n >= MAX_TRANSFER_NOTES)
        {
            return;
        }
        let written = state
            .db
            .add_history(target.project_id, Some(target.asset_id), None, Some(caller.user.id), action, &detail)
            .await;
        if let Err(e) = written {
            tracing::warn!(upload = %before.id, error = %e, "transfer note not written");
        }
    }

    /// The store held fewer bytes than were acknowledged (a power cut): the asset's history says so.
    async fn note_lost_bytes(&self, state: &Hub, upload: &Upload, held: i64) -> AppResult<()> {
        // What was read of files past `held` as they arrived is not what will be there.
        state.db.drop_arrivals(&upload.id, held).await?;
        if let Some(asset_id) = state.db.asset_of_upload(&upload.id).await? {
            let detail = format!(
                "the hub's storage held {held} of the {} bytes it had acknowledged (a power cut, or an object store that lost an unfinished upload); the upload continues from byte {held}",
                upload.offset
            );
            state
                .db
                .add_history(upload.project_id, Some(asset_id), None, None, HistoryAction::TransferInterrupted, &detail)
                .await?;
        }
        Ok(())
    }

    /// An expired upload will never bring its asset's bytes: Failed Delivery, with the reason. (The
    /// delivery still names the upload after the reaper's claim removed it.)
    async fn upload_expired(&self, state: &Hub, upload: &Upload) -> AppResult<()> {
        if let Some(asset_id) = state.db.asset_of_upload(&upload.id).await? {
            let asset = state.db.asset(asset_id).await?;
            if let Ok(next) = asset.state.next(hub_domain::AssetEvent::TransferFailed)
                && state.db.transition_asset(asset.id, asset.state, next).await.is_ok()
            {
                let detail =
                    format!("the upload expired at {} of {} bytes; deliver the file again", upload.offset, asset.size);
                state
                    .db
                    .add_history(asset.project_id, Some(asset.id), None, None, HistoryAction::TransferFailed, &detail)
                    .await?;
            }
        }
        Ok(())
    }

    async fn watch(&self, state: &Hub, upload: &Upload) -> Option<Box<dyn Watch>> {
        self.runs.watch(state, upload).await
    }
}
