//! Zipless packages: the member files of a package asset, each with its own upload.

use sqlx::Row;

pub use api_types::PackageMember;

use super::{Db, RepoError, RepoResult, audited, with_pool};

/// Rows per INSERT when members are recorded (3 bound values each, well under SQLite's limit).
pub(super) const INSERT_BATCH: usize = 1000;

impl Db {
    /// A member's size and upload, if the package has a file of that name.
    pub async fn package_member(&self, asset_id: i64, name: &str) -> RepoResult<Option<(i64, Option<String>)>> {
        Ok(with_pool!(self, pool => sqlx::query_as(
            "SELECT size, upload_id FROM package_members WHERE asset_id = $1 AND name = $2",
        ).bind(asset_id).bind(name).fetch_optional(pool).await?))
    }

    /// Records the upload that carries a member's bytes.
    pub async fn bind_member_upload(&self, asset_id: i64, name: &str, upload_id: &str) -> RepoResult<()> {
        let n = with_pool!(self, pool => sqlx::query(
            "UPDATE package_members SET upload_id = $1 WHERE asset_id = $2 AND name = $3",
        ).bind(upload_id).bind(asset_id).bind(name).execute(pool).await?.rows_affected());
        if n == 1 { Ok(()) } else { Err(RepoError::NotFound) }
    }

    /// Marks the member carried by `upload_id` complete (nothing if it carries none).
    pub async fn complete_member(&self, upload_id: &str) -> RepoResult<()> {
        with_pool!(self, pool => sqlx::query("UPDATE package_members SET complete = 1 WHERE upload_id = $1")
            .bind(upload_id).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// The upload of a package file was terminated or expired: the file needs a new one.
    pub async fn unbind_member(&self, upload_id: &str) -> RepoResult<()> {
        with_pool!(self, pool => sqlx::query("UPDATE package_members SET complete = 0, upload_id = NULL WHERE upload_id = $1")
            .bind(upload_id).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// How many of a package's files are not fully uploaded yet.
    pub async fn incomplete_members(&self, asset_id: i64) -> RepoResult<i64> {
        Ok(with_pool!(self, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM package_members WHERE asset_id = $1 AND complete = 0",
        ).bind(asset_id).fetch_one(pool).await?))
    }

    /// A page of a package's files by name, after `after`; only the incomplete ones if asked.
    pub async fn package_members(
        &self,
        asset_id: i64,
        after: &str,
        limit: i64,
        incomplete_only: bool,
    ) -> RepoResult<Vec<PackageMember>> {
        let sql = format!(
            "SELECT m.name, m.size, m.upload_id, m.complete, u.upload_offset FROM package_members m \
             LEFT JOIN uploads u ON u.id = m.upload_id \
             WHERE m.asset_id = $1 AND m.name > $2 {} ORDER BY m.name LIMIT $3",
            if incomplete_only { "AND m.complete = 0" } else { "" }
        );
        with_pool!(self, pool => {
            let rows = sqlx::query(audited(&sql)).bind(asset_id).bind(after).bind(limit).fetch_all(pool).await?;
            let mut members = Vec::with_capacity(rows.len());
            for row in &rows {
                let upload: Option<String> = row.try_get("upload_id")?;
                let complete: i64 = row.try_get("complete")?;
                let size: i64 = row.try_get("size")?;
                let offset: Option<i64> = row.try_get("upload_offset")?;
                members.push(PackageMember {
                    name: row.try_get("name")?,
                    size,
                    upload: upload.map(|id| format!("/api/v1/uploads/{id}")),
                    offset: if complete != 0 { size } else { offset.unwrap_or(0) },
                    complete: complete != 0,
                });
            }
            Ok(members)
        })
    }
}
