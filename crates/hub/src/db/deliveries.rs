//! Deliveries: a batch of files into one bucket; each file is an asset and an upload.

use hub_domain::{AssetState, DeliveryState, RequestState};
use serde::Serialize;
use sqlx::Row;

pub use api_types::Delivery;

use super::assets::parse_bucket;
use super::{Db, RepoError, RepoResult, now_ms, with_pool};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryFile {
    pub asset_id: i64,
    pub upload_id: String,
}

/// Where one file of a delivery stands: see [`Db::delivery_progress`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProgress {
    pub asset_id: i64,
    pub name: String,
    pub version: i64,
    pub size: i64,
    pub state: AssetState,
    /// The request the file fulfils, if any.
    pub request_id: Option<i64>,
    pub upload_id: String,
    /// A package: how many files it holds, and how many are not whole yet.
    pub package: Option<(i64, i64)>,
    /// Bytes the hub holds (a package: its whole files plus what its unfinished uploads received).
    pub received: i64,
    /// The upload finished (a package: every file of it).
    pub complete: bool,
}

/// Where an upload's bytes go: see [`Db::transfer_target`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferTarget {
    pub asset_id: i64,
    pub project_id: i64,
    /// The package file the upload carries, if it carries one.
    pub member: Option<String>,
}

fn parse_delivery_state(text: &str) -> RepoResult<DeliveryState> {
    DeliveryState::parse(text).ok_or_else(|| RepoError::Corrupt(format!("unknown delivery state {text:?}")))
}

impl Db {
    /// The delivery `user_id` declared with `client_key`, if any.
    pub async fn delivery_by_key(&self, user_id: i64, client_key: &str) -> RepoResult<Option<Delivery>> {
        let id: Option<i64> = with_pool!(self, pool => sqlx::query_scalar(
            "SELECT id FROM deliveries WHERE created_by = $1 AND client_key = $2",
        ).bind(user_id).bind(client_key).fetch_optional(pool).await?);
        match id {
            Some(id) => Ok(Some(self.delivery(id).await?)),
            None => Ok(None),
        }
    }

    pub async fn delivery(&self, id: i64) -> RepoResult<Delivery> {
        with_pool!(self, pool => {
            let row = sqlx::query(
                "SELECT id, project_id, bucket, created_by, state, created_ms, delivered_ms FROM deliveries WHERE id = $1",
            ).bind(id).fetch_one(pool).await?;
            let bucket: String = row.try_get("bucket")?;
            Ok(Delivery {
                id: row.try_get("id")?,
                project_id: row.try_get("project_id")?,
                bucket: parse_bucket(&bucket)?,
                created_by: row.try_get("created_by")?,
                state: parse_delivery_state(&row.try_get::<String, _>("state")?)?,
                created_ms: row.try_get("created_ms")?,
                delivered_ms: row.try_get("delivered_ms")?,
            })
        })
    }

    /// The deliveries `user_id` made, and everyone's in the projects they manage, newest first.
    pub async fn deliveries_seen_by(&self, user_id: i64, limit: i64) -> RepoResult<Vec<i64>> {
        Ok(with_pool!(self, pool => sqlx::query_scalar(
            "SELECT id FROM deliveries WHERE created_by = $1 \
             OR project_id IN (SELECT project_id FROM members WHERE user_id = $1 AND role = 'manager') \
             ORDER BY id DESC LIMIT $2",
        ).bind(user_id).bind(limit).fetch_all(pool).await?))
    }

    pub async fn delivery_files(&self, delivery_id: i64) -> RepoResult<Vec<DeliveryFile>> {
        let rows: Vec<(i64, String)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT asset_id, upload_id FROM delivery_files WHERE delivery_id = $1 ORDER BY asset_id",
        ).bind(delivery_id).fetch_all(pool).await?);
        Ok(rows.into_iter().map(|(asset_id, upload_id)| DeliveryFile { asset_id, upload_id }).collect())
    }

    /// Every file of a delivery with its progress, in one query (the transfers page asks every
    /// two seconds). A package file in a stream has the bytes of it the stream's offset passed; a
    /// file sent in pieces, what its pieces received.
    pub async fn delivery_progress(&self, delivery_id: i64) -> RepoResult<Vec<FileProgress>> {
        let sql = "SELECT a.id, a.name, a.version, a.size, a.state, a.request_id, a.package_files, f.upload_id, \
                   CASE WHEN u.completed THEN u.upload_offset ELSE COALESCE(u.upload_offset, 0) + \
                     (SELECT CAST(COALESCE(SUM(p.upload_offset), 0) AS BIGINT) FROM uploads p WHERE p.piece_of = u.id) END \
                     AS upload_offset, \
                   CAST(CASE WHEN u.completed THEN 1 ELSE 0 END AS BIGINT) AS completed, \
                   CASE WHEN a.package_files IS NULL THEN 0 ELSE \
                     (SELECT COUNT(*) FROM package_members m WHERE m.asset_id = a.id AND m.complete = 0) END AS incomplete, \
                   CASE WHEN a.package_files IS NULL THEN 0 ELSE \
                     (SELECT CAST(COALESCE(SUM(CASE WHEN m.complete = 1 THEN m.size \
                       WHEN mu.upload_offset IS NULL OR mu.upload_offset <= m.stream_offset THEN 0 \
                       WHEN mu.upload_offset >= m.stream_offset + m.size THEN m.size \
                       ELSE mu.upload_offset - m.stream_offset END), 0) AS BIGINT) \
                      FROM package_members m LEFT JOIN uploads mu ON mu.id = m.upload_id WHERE m.asset_id = a.id) END AS package_received \
                   FROM delivery_files f JOIN assets a ON a.id = f.asset_id LEFT JOIN uploads u ON u.id = f.upload_id \
                   WHERE f.delivery_id = $1 ORDER BY a.id";
        with_pool!(self, pool => {
            let rows = sqlx::query(sql).bind(delivery_id).fetch_all(pool).await?;
            let mut files = Vec::with_capacity(rows.len());
            for row in &rows {
                let state: String = row.try_get("state")?;
                let size: i64 = row.try_get("size")?;
                let package_files: Option<i64> = row.try_get("package_files")?;
                let incomplete: i64 = row.try_get("incomplete")?;
                let (received, complete) = match package_files {
                    Some(_) => (row.try_get("package_received")?, incomplete == 0),
                    None => (row.try_get("upload_offset")?, row.try_get::<i64, _>("completed")? != 0),
                };
                files.push(FileProgress {
                    asset_id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    version: row.try_get("version")?,
                    size,
                    state: super::assets::parse_state(&state)?,
                    request_id: row.try_get("request_id")?,
                    upload_id: row.try_get("upload_id")?,
                    package: package_files.map(|n| (n, incomplete)),
                    received,
                    complete,
                });
            }
            Ok(files)
        })
    }

    /// Points a file of an open delivery at another upload (a concatenated one that replaces it).
    pub async fn rebind_delivery_upload(&self, delivery_id: i64, asset_id: i64, upload_id: &str) -> RepoResult<()> {
        let n = with_pool!(self, pool => sqlx::query(
            "UPDATE delivery_files SET upload_id = $1 WHERE delivery_id = $2 AND asset_id = $3 \
             AND delivery_id IN (SELECT id FROM deliveries WHERE state = 'open')",
        ).bind(upload_id).bind(delivery_id).bind(asset_id).execute(pool).await?.rows_affected());
        if n == 1 {
            Ok(())
        } else {
            Err(RepoError::Conflict("the delivery is not open, or the file is not in it".into()))
        }
    }

    /// The asset an upload carries the bytes of, if it belongs to a delivery.
    pub async fn asset_of_upload(&self, upload_id: &str) -> RepoResult<Option<i64>> {
        Ok(with_pool!(self, pool => sqlx::query_scalar("SELECT asset_id FROM delivery_files WHERE upload_id = $1")
            .bind(upload_id).fetch_optional(pool).await?))
    }

    /// The asset an upload's bytes go to — a delivered file's, or the package's one of its files
    /// belongs to (with that file's name, or the names that begin and end a stream) — and the
    /// asset's project.
    pub async fn transfer_target(&self, upload_id: &str) -> RepoResult<Option<TransferTarget>> {
        let row: Option<(i64, i64, Option<String>)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT a.id, a.project_id, NULL FROM delivery_files f JOIN assets a ON a.id = f.asset_id WHERE f.upload_id = $1 \
             UNION ALL \
             SELECT a.id, a.project_id, \
                    CASE WHEN MIN(m.stream) IS NULL THEN MIN(m.name) ELSE 'the stream of files ' || MIN(m.name) || ' to ' || MAX(m.name) END \
             FROM package_members m JOIN assets a ON a.id = m.asset_id WHERE m.upload_id = $1 GROUP BY a.id, a.project_id",
        ).bind(upload_id).fetch_optional(pool).await?);
        Ok(row.map(|(asset_id, project_id, member)| TransferTarget { asset_id, project_id, member }))
    }

    /// DELIVER, all or nothing in one transaction: the delivery open → delivered (once; a second
    /// DELIVER is a conflict), each asset gets its bytes and moves on, its validation job is
    /// queued, and its requests move on. A crash at any point leaves either all of it or none.
    pub async fn deliver(&self, plan: &DeliverPlan) -> RepoResult<()> {
        let now = now_ms();
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query("UPDATE deliveries SET state = 'delivered', delivered_ms = $1 WHERE id = $2 AND state = 'open'")
                .bind(now).bind(plan.delivery_id).execute(&mut *tx).await?.rows_affected();
            if n != 1 {
                return Err(RepoError::Conflict("this delivery was already delivered".into()));
            }
            let history = "INSERT INTO history (project_id, asset_id, request_id, user_id, action, detail, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)";
            for asset in &plan.assets {
                let n = sqlx::query("UPDATE assets SET state = $1, blob_key = $2, updated_ms = $3 WHERE id = $4 AND state = $5")
                    .bind(asset.to.as_str()).bind(&asset.blob_key).bind(now).bind(asset.id).bind(asset.from.as_str())
                    .execute(&mut *tx).await?.rows_affected();
                if n != 1 {
                    return Err(RepoError::Conflict(format!("asset {} changed while it was being delivered; try again", asset.id)));
                }
                sqlx::query(history).bind(plan.project_id).bind(asset.id).bind(None::<i64>).bind(plan.user_id)
                    .bind("delivered").bind("all bytes stored").bind(now).execute(&mut *tx).await?;
                sqlx::query("INSERT INTO jobs (kind, asset_id, state, run_after_ms, created_ms) VALUES ($1, $2, 'queued', $3, $3)")
                    .bind(plan.job_kind.as_str()).bind(asset.id).bind(now).execute(&mut *tx).await?;
            }
            for request in &plan.requests {
                let n = sqlx::query("UPDATE requests SET state = $1, reason = NULL, updated_ms = $2 WHERE id = $3 AND state = $4")
                    .bind(request.to.as_str()).bind(now).bind(request.id).bind(request.from.as_str())
                    .execute(&mut *tx).await?.rows_affected();
                if n != 1 {
                    return Err(RepoError::Conflict(format!("request {} changed while it was being delivered; try again", request.id)));
                }
                let detail = format!("files delivered in delivery {}", plan.delivery_id);
                sqlx::query(history).bind(plan.project_id).bind(None::<i64>).bind(request.id).bind(plan.user_id)
                    .bind("request_state").bind(&detail).bind(now).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }
}

/// What one DELIVER changes; see [`Db::deliver`].
#[derive(Debug, Clone)]
pub struct DeliverPlan {
    pub delivery_id: i64,
    pub project_id: i64,
    pub user_id: i64,
    /// The job queued for each asset.
    pub job_kind: super::JobKind,
    pub assets: Vec<PlannedAsset>,
    pub requests: Vec<PlannedRequest>,
}

#[derive(Debug, Clone)]
pub struct PlannedAsset {
    pub id: i64,
    pub blob_key: String,
    pub from: AssetState,
    pub to: AssetState,
}

#[derive(Debug, Clone)]
pub struct PlannedRequest {
    pub id: i64,
    pub from: RequestState,
    pub to: RequestState,
}
