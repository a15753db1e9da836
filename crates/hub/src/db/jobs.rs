//! The job queue in the database. Workers claim a job atomically (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL; one UPDATE … WHERE id = (SELECT …) on SQLite, whose single writer makes it atomic),
//! heartbeat while they work, and jobs whose worker stopped heartbeating are queued again.

use serde::Serialize;
use sqlx::Row;

use super::{Db, Dialect, RepoError, RepoResult, audited, now_ms, with_pool};

/// What a job does. Validation is the one kind today; what later work queues joins it here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Check a delivered asset and decide Valid or Invalid.
    Validate,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Validate => "validate",
        }
    }

    fn parse(text: &str) -> RepoResult<JobKind> {
        match text {
            "validate" => Ok(JobKind::Validate),
            other => Err(RepoError::Corrupt(format!("unknown job kind {other:?}"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Job {
    pub id: i64,
    pub kind: JobKind,
    pub asset_id: i64,
    pub attempts: i64,
}

/// The outcome of one validation check of an asset, with the files it concerns.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct CheckResult {
    pub check: String,
    pub passed: bool,
    pub detail: String,
    /// Per-file findings (name, what is wrong), for packages.
    pub files: Vec<(String, String)>,
    #[serde(default)]
    pub at_ms: i64,
}

impl Db {
    pub async fn enqueue_job(&self, kind: JobKind, asset_id: i64) -> RepoResult<()> {
        let now = now_ms();
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO jobs (kind, asset_id, state, run_after_ms, created_ms) VALUES ($1, $2, 'queued', $3, $3)",
        ).bind(kind.as_str()).bind(asset_id).bind(now).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// Claims the oldest ready job for `worker`, if any.
    pub async fn claim_job(&self, worker: &str) -> RepoResult<Option<Job>> {
        let now = now_ms();
        let pick = match self.dialect() {
            Dialect::Postgres => {
                "SELECT id FROM jobs WHERE state = 'queued' AND run_after_ms <= $2 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
            }
            Dialect::Sqlite => "SELECT id FROM jobs WHERE state = 'queued' AND run_after_ms <= $2 ORDER BY id LIMIT 1",
        };
        let sql = format!(
            "UPDATE jobs SET state = 'running', worker = $1, heartbeat_ms = $2, attempts = attempts + 1 \
             WHERE id = ({pick}) RETURNING id, kind, asset_id, attempts"
        );
        with_pool!(self, pool => {
            let row = sqlx::query(audited(&sql)).bind(worker).bind(now).fetch_optional(pool).await?;
            match row {
                None => Ok(None),
                Some(row) => Ok(Some(Job {
                    id: row.try_get("id")?,
                    kind: JobKind::parse(&row.try_get::<String, _>("kind")?)?,
                    asset_id: row.try_get("asset_id")?,
                    attempts: row.try_get("attempts")?,
                })),
            }
        })
    }

    pub async fn heartbeat_job(&self, id: i64, worker: &str) -> RepoResult<()> {
        with_pool!(self, pool => sqlx::query("UPDATE jobs SET heartbeat_ms = $1 WHERE id = $2 AND worker = $3")
            .bind(now_ms()).bind(id).bind(worker).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    pub async fn finish_job(&self, id: i64) -> RepoResult<()> {
        with_pool!(self, pool => sqlx::query("UPDATE jobs SET state = 'done', heartbeat_ms = $1 WHERE id = $2")
            .bind(now_ms()).bind(id).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// Records a failed attempt: queued again after `retry_in_ms`, or `failed` for good.
    pub async fn fail_job(&self, id: i64, error: &str, retry_in_ms: Option<i64>) -> RepoResult<()> {
        let (state, run_after) = match retry_in_ms {
            Some(delay) => ("queued", now_ms() + delay),
            None => ("failed", now_ms()),
        };
        with_pool!(self, pool => sqlx::query("UPDATE jobs SET state = $1, run_after_ms = $2, last_error = $3, worker = NULL WHERE id = $4")
            .bind(state).bind(run_after).bind(error).bind(id).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// Queues again the running jobs whose worker has not been heard of since `stale_ms` ago.
    pub async fn requeue_stale_jobs(&self, stale_ms: i64) -> RepoResult<u64> {
        let n = with_pool!(self, pool => sqlx::query(
            "UPDATE jobs SET state = 'queued', worker = NULL WHERE state = 'running' AND heartbeat_ms < $1",
        ).bind(now_ms() - stale_ms).execute(pool).await?.rows_affected());
        Ok(n)
    }

    pub async fn record_check(&self, asset_id: i64, result: &CheckResult) -> RepoResult<()> {
        let files = serde_json::to_string(&result.files).expect("findings serialise");
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO validation_results (asset_id, check_name, passed, detail, files, at_ms) VALUES ($1, $2, $3, $4, $5, $6)",
        ).bind(asset_id).bind(&result.check).bind(result.passed).bind(&result.detail).bind(files).bind(now_ms())
        .execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// An asset's validation results, newest run last.
    pub async fn checks(&self, asset_id: i64) -> RepoResult<Vec<CheckResult>> {
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT check_name, passed, detail, files, at_ms FROM validation_results WHERE asset_id = $1 ORDER BY id",
            ).bind(asset_id).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                let files: String = row.try_get("files")?;
                out.push(CheckResult {
                    check: row.try_get("check_name")?,
                    passed: row.try_get("passed")?,
                    detail: row.try_get("detail")?,
                    files: serde_json::from_str(&files).map_err(|e| super::RepoError::Corrupt(e.to_string()))?,
                    at_ms: row.try_get("at_ms")?,
                });
            }
            Ok(out)
        })
    }

    /// Asset ids linked to a request, with their states, for deciding whether it is Processed.
    pub async fn request_asset_states(&self, request_id: i64) -> RepoResult<Vec<String>> {
        let rows: Vec<(String,)> = with_pool!(self, pool => sqlx::query_as("SELECT state FROM assets WHERE request_id = $1")
            .bind(request_id).fetch_all(pool).await?);
        Ok(rows.into_iter().map(|r| r.0).collect())
    }
}
