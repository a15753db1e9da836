//! What the rest of the hub requires of uploads (`Hooks`, answered by `app::deliveries`), and
//! what may watch a PATCH's bytes on their way to the store (`Watch`).

use super::{Carried, MemberOf, Place};
use crate::app::access::Caller;
use crate::app::{AppResult, Hub};
use crate::db::Upload;

/// What the rest of the hub requires of uploads, asked at the points named (in the manner of
/// tusd's hooks). `app::deliveries` answers: packages, deliveries and the transfer log.
#[async_trait::async_trait]
pub trait Hooks: Send + Sync + std::fmt::Debug {
    /// An upload naming `package` is about to be made: the declared file(s) of it that it carries.
    async fn package_member(
        &self,
        hub: &Hub,
        place: Place,
        package: &str,
        files: Carried,
        length: Option<i64>,
    ) -> AppResult<MemberOf>;
    /// A final (concatenated) upload names a delivery: it replaces that delivery's file `filename`.
    async fn bind_final_upload(
        &self,
        hub: &Hub,
        caller: &Caller,
        delivery: i64,
        filename: &str,
        upload: &Upload,
    ) -> AppResult<()>;
    /// Before an upload is written or terminated: refuse if its bytes belong to someone now.
    async fn ensure_open(&self, hub: &Hub, upload: &Upload) -> AppResult<()>;
    /// After a PATCH, whatever it did; never fails.
    async fn note_transfer(
        &self,
        hub: &Hub,
        caller: &Caller,
        before: &Upload,
        result: &AppResult<Upload>,
        sent: Option<i64>,
    );
    /// The store held only `held` of the upload's acknowledged bytes.
    async fn note_lost_bytes(&self, hub: &Hub, upload: &Upload, held: i64) -> AppResult<()>;
    /// The reaper removed the upload, unfinished.
    async fn upload_expired(&self, hub: &Hub, upload: &Upload) -> AppResult<()>;
    /// A PATCH is about to append to `upload` at its offset: something that wants to see its
    /// bytes as they go to the store (a package stream's files are hashed as they arrive), if
    /// anything does. Its `kept` is called once the new offset is recorded.
    async fn watch(&self, hub: &Hub, upload: &Upload) -> Option<Box<dyn Watch>>;
}

/// Sees a PATCH's bytes in order as they go to the store (see [`Hooks::watch`]). Dropped
/// unheard if the PATCH keeps nothing.
#[async_trait::async_trait]
pub trait Watch: Send {
    /// The next bytes of the body.
    fn see(&mut self, bytes: &[u8]);
    /// The upload's offset is now recorded as `upload.offset`: the store holds every byte
    /// before it (fewer than were seen, if the store kept less). Never fails.
    async fn kept(self: Box<Self>, hub: &Hub, upload: &Upload);
}
