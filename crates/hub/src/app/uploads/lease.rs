//! An upload's write lease: two PATCHes of one upload, on any instances, never write at once.

use std::time::Duration;

use crate::db::Db;

/// How long one PATCH holds an upload between renewals; a server that died frees it after this.
pub(super) const PATCH_LEASE: Duration = Duration::from_secs(15);

/// An upload's write lease: renewed every third of its length while held, released when the PATCH
/// ends, or on drop if the request was abandoned midway.
pub(super) struct Lease {
    renew: tokio::task::JoinHandle<()>,
    db: Db,
    id: String,
}

impl Lease {
    pub(super) fn hold(db: &Db, id: &str) -> Lease {
        let (renewing, upload) = (db.clone(), id.to_owned());
        let renew = tokio::spawn(async move {
            loop {
                tokio::time::sleep(PATCH_LEASE / 3).await;
                let _ = renewing.renew_upload_lease(&upload, PATCH_LEASE.as_millis() as i64).await;
            }
        });
        Lease { renew, db: db.clone(), id: id.to_owned() }
    }

    pub(super) async fn release(mut self) {
        self.renew.abort();
        let id = std::mem::take(&mut self.id);
        if let Err(e) = self.db.release_upload(&id).await {
            tracing::warn!(upload = %id, error = %e, "could not release an upload lease; it lapses by itself");
        }
    }
}

/// Only when the request was dropped before `release` (the client went away mid-body).
impl Drop for Lease {
    fn drop(&mut self) {
        self.renew.abort();
        if self.id.is_empty() {
            return; // released already
        }
        let (db, id) = (self.db.clone(), std::mem::take(&mut self.id));
        tokio::spawn(async move {
            if let Err(e) = db.release_upload(&id).await {
                tracing::warn!(upload = %id, error = %e, "could not release an upload lease; it lapses by itself");
            }
        });
    }
}
