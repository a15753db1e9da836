//! The state of resumable uploads. Every change of offset is a compare-and-set on the offset the
//! caller read, so two PATCHes racing on one upload cannot both be acknowledged.

use hub_domain::BucketKind;
use sqlx::Row;

use super::assets::parse_bucket;
use super::{Db, RepoError, RepoResult, audited, now_ms, with_pool};

#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    pub id: String,
    pub project_id: i64,
    pub bucket: BucketKind,
    pub created_by: Option<i64>,
    /// `None` while the length is deferred.
    pub length: Option<i64>,
    pub offset: i64,
    /// The raw `Upload-Metadata` header, echoed back on HEAD.
    pub metadata: String,
    /// The blob store's own state of the upload (see `store::resumable`): opaque here.
    pub store_state: String,
    /// Where the finished bytes are.
    pub blob_key: String,
    pub completed: bool,
    pub created_ms: i64,
    pub expires_ms: i64,
    /// tus concatenation: `partial`, or `final;URL URL…` for an upload made of partial ones.
    pub concat: Option<String>,
    /// A piece of a file sent in parallel pieces: the file's upload (the "whole") and where in it
    /// this piece starts. Its bytes are written in place into the whole's storage.
    pub piece_of: Option<String>,
    pub piece_at: Option<i64>,
}

pub(super) const COLUMNS: &str = "id, project_id, bucket, created_by, length, upload_offset, metadata, store_state, \
                       blob_key, completed, created_ms, expires_ms, concat, piece_of, piece_at";

macro_rules! upload_from {
    ($row:expr) => {{
        let bucket: String = $row.try_get("bucket")?;
        Upload {
            id: $row.try_get("id")?,
            project_id: $row.try_get("project_id")?,
            bucket: parse_bucket(&bucket)?,
            created_by: $row.try_get("created_by")?,
            length: $row.try_get("length")?,
            offset: $row.try_get("upload_offset")?,
            metadata: $row.try_get("metadata")?,
            store_state: $row.try_get("store_state")?,
            blob_key: $row.try_get("blob_key")?,
            completed: $row.try_get("completed")?,
            created_ms: $row.try_get("created_ms")?,
            expires_ms: $row.try_get("expires_ms")?,
            concat: $row.try_get("concat")?,
            piece_of: $row.try_get("piece_of")?,
            piece_at: $row.try_get("piece_at")?,
        }
    }};
}

/// Which uploads the reaper may take once their time is up (`unfinished` is the placeholder bound
/// to false): unfinished ones, and finished ones that no delivery and no package uses (a vendor
/// filling the disk through tus alone, or partials never joined). A finished upload a delivery or
/// a package uses is never reaped, however old.
fn reapable(unfinished: &str) -> String {
    format!(
        "(completed = {unfinished} OR (NOT EXISTS (SELECT 1 FROM delivery_files f WHERE f.upload_id = uploads.id) \
         AND NOT EXISTS (SELECT 1 FROM package_members m WHERE m.upload_id = uploads.id)))"
    )
}

/// The insert of an upload row, for `create_upload` and `declare`.
pub(super) fn insert_upload_sql() -> String {
    format!("INSERT INTO uploads ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)")
}

/// Binds an upload's values to [`insert_upload_sql`].
macro_rules! bind_upload {
    ($query:expr, $upload:expr) => {{
        let upload = $upload;
        $query
            .bind(&upload.id)
            .bind(upload.project_id)
            .bind(upload.bucket.slug())
            .bind(upload.created_by)
            .bind(upload.length)
            .bind(upload.offset)
            .bind(&upload.metadata)
            .bind(&upload.store_state)
            .bind(&upload.blob_key)
            .bind(upload.completed)
            .bind(upload.created_ms)
            .bind(upload.expires_ms)
            .bind(&upload.concat)
            .bind(&upload.piece_of)
            .bind(upload.piece_at)
    }};
}
pub(super) use bind_upload;

impl Db {
    pub async fn create_upload(&self, upload: &Upload) -> RepoResult<()> {
        let sql = insert_upload_sql();
        with_pool!(self, pool => bind_upload!(sqlx::query(audited(&sql)), upload).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    pub async fn upload(&self, id: &str) -> RepoResult<Upload> {
        let sql = format!("SELECT {COLUMNS} FROM uploads WHERE id = $1");
        with_pool!(self, pool => {
            let row = sqlx::query(audited(&sql)).bind(id).fetch_one(pool).await?;
            Ok(upload_from!(row))
        })
    }

    /// Records what a PATCH stored, if the upload is still at `expected_offset`.
    pub async fn advance_upload(&self, next: &Upload, expected_offset: i64) -> RepoResult<()> {
        let n = with_pool!(self, pool => sqlx::query(
            "UPDATE uploads SET length = $1, upload_offset = $2, store_state = $3, completed = $4, expires_ms = $5 \
             WHERE id = $6 AND upload_offset = $7",
        )
        .bind(next.length).bind(next.offset).bind(&next.store_state).bind(next.completed).bind(next.expires_ms)
        .bind(&next.id).bind(expected_offset)
        .execute(pool).await?.rows_affected());
        if n == 1 {
            Ok(())
        } else {
            Err(RepoError::Conflict(
                "the upload moved on meanwhile; ask for its offset (HEAD) and continue from there".into(),
            ))
        }
    }

    /// Takes the upload's write lease for `ms` milliseconds, unless another writer holds it: two
    /// PATCHes of one upload, on any instances, never store parts at the same time.
    pub async fn lease_upload(&self, id: &str, ms: i64) -> RepoResult<bool> {
        let now = now_ms();
        let n = with_pool!(self, pool => sqlx::query(
            "UPDATE uploads SET lease_until_ms = $1 WHERE id = $2 AND (lease_until_ms IS NULL OR lease_until_ms < $3)",
        ).bind(now + ms).bind(id).bind(now).execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    /// Extends a lease this writer holds.
    pub async fn renew_upload_lease(&self, id: &str, ms: i64) -> RepoResult<()> {
        with_pool!(self, pool => sqlx::query("UPDATE uploads SET lease_until_ms = $1 WHERE id = $2 AND lease_until_ms IS NOT NULL")
            .bind(now_ms() + ms).bind(id).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    pub async fn release_upload(&self, id: &str) -> RepoResult<()> {
        with_pool!(self, pool => sqlx::query("UPDATE uploads SET lease_until_ms = NULL WHERE id = $1")
            .bind(id).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// Removes an upload for the reaper, if it is still unfinished, expired and not being written
    /// (by a PATCH on any instance): whoever removes it may free its storage; `false` if it was
    /// finished, renewed, taken by a PATCH or already reaped meanwhile.
    pub async fn claim_expired_upload(&self, id: &str) -> RepoResult<bool> {
        let now = now_ms();
        let sql = format!(
            "DELETE FROM uploads WHERE id = $1 AND {} AND expires_ms < $3 \
             AND (lease_until_ms IS NULL OR lease_until_ms < $3)",
            reapable("$2")
        );
        let n = with_pool!(self, pool => sqlx::query(audited(&sql))
            .bind(id).bind(false).bind(now).execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    /// The pieces of a file sent in pieces, in the order of where they start.
    pub async fn pieces_of(&self, whole: &str) -> RepoResult<Vec<Upload>> {
        let sql = format!("SELECT {COLUMNS} FROM uploads WHERE piece_of = $1 ORDER BY piece_at");
        with_pool!(self, pool => {
            let rows = sqlx::query(audited(&sql)).bind(whole).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push(upload_from!(row));
            }
            Ok(out)
        })
    }

    /// A file sent in pieces and all its pieces live until `expires_ms` (each piece's progress
    /// keeps the others, and the file, from being reaped).
    pub async fn touch_pieces(&self, whole: &str, expires_ms: i64) -> RepoResult<()> {
        with_pool!(self, pool => sqlx::query("UPDATE uploads SET expires_ms = $1 WHERE id = $2 OR piece_of = $2")
            .bind(expires_ms).bind(whole).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    pub async fn delete_upload(&self, id: &str) -> RepoResult<()> {
        with_pool!(self, pool => sqlx::query("DELETE FROM uploads WHERE id = $1").bind(id).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// Uploads whose time is up (unfinished, or finished but used by nothing) and that no PATCH
    /// holds, for the reaper.
    pub async fn expired_uploads(&self, limit: i64) -> RepoResult<Vec<Upload>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM uploads WHERE {} AND expires_ms < $2 \
             AND (lease_until_ms IS NULL OR lease_until_ms < $2) ORDER BY expires_ms LIMIT $3",
            reapable("$1")
        );
        with_pool!(self, pool => {
            let rows = sqlx::query(audited(&sql)).bind(false).bind(now_ms()).bind(limit).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push(upload_from!(row));
            }
            Ok(out)
        })
    }
}
