//! Requests in the request-based buckets: what the studio asks vendors to deliver.

use hub_domain::{BucketKind, Metadata, RequestState};
use sqlx::Row;

use super::assets::{metadata_text, parse_bucket, parse_metadata};
use super::{Db, RepoError, RepoResult, Request, audited, now_ms, with_pool};

const REQUEST_COLUMNS: &str = "id, project_id, bucket, title, state, metadata, reason, created_ms, updated_ms";

macro_rules! request_from {
    ($row:expr) => {{
        let bucket: String = $row.try_get("bucket")?;
        let state: String = $row.try_get("state")?;
        let metadata: String = $row.try_get("metadata")?;
        Request {
            id: $row.try_get("id")?,
            project_id: $row.try_get("project_id")?,
            bucket: parse_bucket(&bucket)?,
            title: $row.try_get("title")?,
            state: RequestState::parse(&state)
                .ok_or_else(|| RepoError::Corrupt(format!("unknown request state {state:?}")))?,
            metadata: parse_metadata(&metadata)?,
            reason: $row.try_get("reason")?,
            created_ms: $row.try_get("created_ms")?,
            updated_ms: $row.try_get("updated_ms")?,
        }
    }};
}

impl Db {
    pub async fn create_request(
        &self,
        project_id: i64,
        bucket: BucketKind,
        title: &str,
        metadata: &Metadata,
    ) -> RepoResult<Request> {
        let now = now_ms();
        let sql = format!(
            "INSERT INTO requests (project_id, bucket, title, state, metadata, created_ms, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {REQUEST_COLUMNS}"
        );
        with_pool!(self, pool => {
            let row = sqlx::query(audited(&sql))
                .bind(project_id).bind(bucket.slug()).bind(title).bind(RequestState::Open.as_str())
                .bind(metadata_text(metadata)).bind(now)
                .fetch_one(pool).await?;
            Ok(request_from!(row))
        })
    }

    pub async fn request(&self, id: i64) -> RepoResult<Request> {
        let sql = format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE id = $1");
        with_pool!(self, pool => {
            let row = sqlx::query(audited(&sql)).bind(id).fetch_one(pool).await?;
            Ok(request_from!(row))
        })
    }

    /// A bucket's requests, optionally in one state, newest first.
    pub async fn list_requests(
        &self,
        project_id: i64,
        bucket: BucketKind,
        state: Option<RequestState>,
    ) -> RepoResult<Vec<Request>> {
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM requests WHERE project_id = $1 AND bucket = $2 \
             AND ($3 = '' OR state = $3) ORDER BY id DESC LIMIT 1000"
        );
        with_pool!(self, pool => {
            let rows = sqlx::query(audited(&sql))
                .bind(project_id).bind(bucket.slug()).bind(state.map_or("", RequestState::as_str))
                .fetch_all(pool).await?;
            let mut requests = Vec::with_capacity(rows.len());
            for row in &rows {
                requests.push(request_from!(row));
            }
            Ok(requests)
        })
    }

    pub async fn update_request(&self, id: i64, title: &str, metadata: &Metadata) -> RepoResult<()> {
        let n = with_pool!(self, pool => sqlx::query("UPDATE requests SET title = $1, metadata = $2, updated_ms = $3 WHERE id = $4")
            .bind(title).bind(metadata_text(metadata)).bind(now_ms()).bind(id).execute(pool).await?.rows_affected());
        if n == 0 { Err(RepoError::NotFound) } else { Ok(()) }
    }

    /// Compare-and-set of a request's state, with the reason a manager gave (redelivery, reject).
    pub async fn transition_request(
        &self,
        id: i64,
        from: RequestState,
        to: RequestState,
        reason: Option<&str>,
    ) -> RepoResult<()> {
        let n = with_pool!(self, pool => sqlx::query(
            "UPDATE requests SET state = $1, reason = $2, updated_ms = $3 WHERE id = $4 AND state = $5",
        ).bind(to.as_str()).bind(reason).bind(now_ms()).bind(id).bind(from.as_str()).execute(pool).await?.rows_affected());
        if n == 1 {
            return Ok(());
        }
        let current = self.request(id).await?;
        Err(RepoError::Conflict(format!("the request is {} now, not {from}", current.state)))
    }
}
