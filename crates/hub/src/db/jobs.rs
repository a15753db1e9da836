//! The job queue in the database. Workers claim a job atomically (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL; one UPDATE … WHERE id = (SELECT …) on SQLite, whose single writer makes it atomic),
//! heartbeat while they work, and jobs whose worker stopped heartbeating are queued again.

use hub_domain::{AssetState, HistoryAction, RequestState};
use serde::Serialize;
use sqlx::Row;

pub use api_types::CheckResult;

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
pub struct QueuedJob {
    pub id: i64,
    pub kind: JobKind,
    pub asset_id: i64,
    pub attempts: i64,
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
    pub async fn claim_job(&self, worker: &str) -> RepoResult<Option<QueuedJob>> {
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
                Some(row) => Ok(Some(QueuedJob {
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

    /// Queues again the running jobs whose worker has not been heard of since `stale_ms` ago and
    /// that have attempts left (fewer than `max_attempts`).
    pub async fn requeue_stale_jobs(&self, stale_ms: i64, max_attempts: i64) -> RepoResult<u64> {
        let n = with_pool!(self, pool => sqlx::query(
            "UPDATE jobs SET state = 'queued', worker = NULL WHERE state = 'running' AND heartbeat_ms < $1 AND attempts < $2",
        ).bind(now_ms() - stale_ms).bind(max_attempts).execute(pool).await?.rows_affected());
        Ok(n)
    }

    /// Takes the running jobs whose worker went silent on their last attempt (`max_attempts`):
    /// their workers keep dying on them. Each is taken by one caller only (for `worker`).
    pub async fn take_exhausted_jobs(
        &self,
        stale_ms: i64,
        max_attempts: i64,
        worker: &str,
    ) -> RepoResult<Vec<QueuedJob>> {
        let now = now_ms();
        with_pool!(self, pool => sqlx::query(
            "UPDATE jobs SET worker = $1, heartbeat_ms = $2 WHERE state = 'running' AND heartbeat_ms < $3 \
             AND attempts >= $4 RETURNING id, kind, asset_id, attempts",
        ).bind(worker).bind(now).bind(now - stale_ms).bind(max_attempts).fetch_all(pool).await?
         .into_iter()
         .map(|row| -> RepoResult<QueuedJob> {
             Ok(QueuedJob {
                 id: row.try_get("id")?,
                 kind: JobKind::parse(&row.try_get::<String, _>("kind")?)?,
                 asset_id: row.try_get("asset_id")?,
                 attempts: row.try_get("attempts")?,
             })
         })
         .collect::<RepoResult<Vec<_>>>())
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
                    check: {
                        let name: String = row.try_get("check_name")?;
                        hub_domain::Check::parse(&name)
                            .ok_or_else(|| super::RepoError::Corrupt(format!("unknown check {name:?}")))?
                    },
                    passed: row.try_get("passed")?,
                    detail: row.try_get("detail")?,
                    files: serde_json::from_str(&files).map_err(|e| super::RepoError::Corrupt(e.to_string()))?,
                    at_ms: row.try_get("at_ms")?,
                });
            }
            Ok(out)
        })
    }

    /// How a validation ends, in one transaction: the checks recorded, a remuxed copy put in place,
    /// the asset moved (compare-and-set on the state the worker read), its history, its request
    /// moved as `RequestState::event_after_validation` decides from the states of all its assets
    /// (read inside the transaction, with the request locked, so two validations of one request's
    /// assets cannot both miss that all are Valid), and the job finished. All of it or none.
    pub async fn finish_validation(&self, result: &ValidationResult) -> RepoResult<()> {
        let now = now_ms();
        let history = "INSERT INTO history (project_id, asset_id, request_id, user_id, action, detail, at_ms) \
                       VALUES ($1, $2, $3, NULL, $4, $5, $6)";
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            if let Some(request_id) = result.request_id {
                // Taken first: a row lock on PostgreSQL, the write lock on SQLite.
                sqlx::query("UPDATE requests SET updated_ms = updated_ms WHERE id = $1")
                    .bind(request_id).execute(&mut *tx).await?;
            }
            if let Some(copy) = &result.remuxed {
                sqlx::query("UPDATE assets SET original_blob_key = blob_key, blob_key = $1 WHERE id = $2 AND original_blob_key IS NULL")
                    .bind(copy).bind(result.asset_id).execute(&mut *tx).await?;
            }
            for check in &result.checks {
                let files = serde_json::to_string(&check.files).expect("findings serialise");
                sqlx::query(
                    "INSERT INTO validation_results (asset_id, check_name, passed, detail, files, at_ms) VALUES ($1, $2, $3, $4, $5, $6)",
                ).bind(result.asset_id).bind(check.check.as_str()).bind(check.passed).bind(&check.detail).bind(files).bind(now)
                .execute(&mut *tx).await?;
            }
            let n = sqlx::query("UPDATE assets SET state = $1, updated_ms = $2 WHERE id = $3 AND state = $4")
                .bind(result.to.as_str()).bind(now).bind(result.asset_id).bind(result.from.as_str())
                .execute(&mut *tx).await?.rows_affected();
            if n != 1 {
                return Err(RepoError::Conflict(format!("asset {} is no longer {}", result.asset_id, result.from)));
            }
            sqlx::query(history)
                .bind(result.project_id).bind(result.asset_id).bind(None::<i64>)
                .bind(HistoryAction::verdict(result.to == AssetState::Valid).as_str()).bind(&result.detail).bind(now)
                .execute(&mut *tx).await?;
            if let Some(request_id) = result.request_id {
                let state: String = sqlx::query_scalar("SELECT state FROM requests WHERE id = $1")
                    .bind(request_id).fetch_one(&mut *tx).await?;
                let state = RequestState::parse(&state)
                    .ok_or_else(|| RepoError::Corrupt(format!("unknown request state {state:?}")))?;
                let assets: Vec<String> = sqlx::query_scalar("SELECT state FROM assets WHERE request_id = $1")
                    .bind(request_id).fetch_all(&mut *tx).await?;
                let assets = assets
                    .iter()
                    .map(|s| AssetState::parse(s).ok_or_else(|| RepoError::Corrupt(format!("unknown asset state {s:?}"))))
                    .collect::<RepoResult<Vec<_>>>()?;
                if let Some(next) = state.event_after_validation(&assets).and_then(|event| state.next(event).ok()) {
                    sqlx::query("UPDATE requests SET state = $1, updated_ms = $2 WHERE id = $3")
                        .bind(next.as_str()).bind(now).bind(request_id).execute(&mut *tx).await?;
                    sqlx::query(history)
                        .bind(result.project_id).bind(None::<i64>).bind(request_id)
                        .bind(HistoryAction::RequestState.as_str()).bind(next.as_str()).bind(now)
                        .execute(&mut *tx).await?;
                }
            }
            sqlx::query("UPDATE jobs SET state = 'done', heartbeat_ms = $1 WHERE id = $2")
                .bind(now).bind(result.job_id).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(())
        })
    }
}

/// How one validation ends, as the worker decided it; see [`Db::finish_validation`].
#[derive(Debug, Clone)]
pub struct ValidationResult {
    pub job_id: i64,
    pub asset_id: i64,
    pub project_id: i64,
    pub request_id: Option<i64>,
    /// The state the worker read (Validating) and the one the checks decided (Valid or Invalid).
    pub from: AssetState,
    pub to: AssetState,
    pub checks: Vec<CheckResult>,
    /// A fast-start copy that serves the asset from now on (the delivered bytes are kept).
    pub remuxed: Option<String>,
    /// For the history: all passed, or what failed.
    pub detail: String,
}
