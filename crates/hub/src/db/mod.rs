//! Metadata storage: SQLite (WAL, a file in the data folder) or PostgreSQL, chosen from the URL.
//!
//! Both backends run the same SQL wherever the two dialects agree (numbered `$N` parameters,
//! integer milliseconds for times, JSON text for metadata); the few places they differ — JSON
//! field access, and the upsert of a new asset version — go through [`Dialect`]. Migrations live
//! per backend under identical names in `migrations/{sqlite,postgres}`.

mod assets;
mod declare;
mod deliveries;
mod jobs;
mod models;
mod packages;
mod people;
mod requests;
mod uploads;

use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

pub use declare::{DeclarePlan, DeclaredFile};
pub use deliveries::{DeliverPlan, Delivery, DeliveryFile, FileProgress, PlannedAsset, PlannedRequest, TransferTarget};
pub use jobs::{CheckResult, JobKind, QueuedJob, ValidationResult};
pub use models::*;
pub use packages::{PackageDigests, PackageFile, PackageMember, PackedMember, StreamRun, stream_key};
pub use uploads::Upload;

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for RepoError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => RepoError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                RepoError::Conflict("an entry with the same name already exists".into())
            }
            _ => RepoError::Database(e),
        }
    }
}

pub type RepoResult<T> = Result<T, RepoError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// SQL reading metadata field `key` as text. The key is written into the SQL (so that the
    /// expression indexes made by `ensure_metadata_indexes` serve it), which is safe because only
    /// schema keys reach here and they are `[a-z_]` by construction (checked again below).
    fn meta_text(self, key: &str) -> String {
        assert!(key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "metadata keys are [a-z_]");
        match self {
            // json_extract returns integers as integers; CAST gives the same text Postgres gives.
            Dialect::Sqlite => format!("CAST(json_extract(metadata, '$.{key}') AS TEXT)"),
            Dialect::Postgres => format!("((metadata)::jsonb ->> '{key}')"),
        }
    }

    /// Case-insensitive substring match of `column` against `$n`.
    fn contains(self, column: &str, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("instr(lower({column}), lower(${n})) > 0"),
            Dialect::Postgres => format!("strpos(lower({column}), lower(${n})) > 0"),
        }
    }
}

#[derive(Clone, Debug)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The metadata store. Cheap to clone (a pool handle).
#[derive(Clone, Debug)]
pub struct Db {
    pool: Pool,
}

/// Runs `$body` with `$pool` bound to whichever backend this is; the body is compiled once per
/// backend, so the same query text serves both.
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match &$db.pool {
            $crate::db::Pool::Sqlite($pool) => $body,
            $crate::db::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// A bound parameter of a dynamically built query.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    I64(i64),
    Text(String),
}

/// Binds `args` in order onto a query of either backend.
macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                $crate::db::Arg::I64(v) => query.bind(v),
                $crate::db::Arg::Text(v) => query.bind(v),
            };
        }
        query
    }};
}
pub(crate) use bind_args;

const SQLITE_MIGRATIONS: &[(&str, &str)] = &[
    ("0001_initial", include_str!("../../migrations/sqlite/0001_initial.sql")),
    ("0002_uploads", include_str!("../../migrations/sqlite/0002_uploads.sql")),
    ("0003_deliveries", include_str!("../../migrations/sqlite/0003_deliveries.sql")),
    ("0004_jobs", include_str!("../../migrations/sqlite/0004_jobs.sql")),
    ("0005_upload_lease", include_str!("../../migrations/sqlite/0005_upload_lease.sql")),
    ("0006_upload_concat", include_str!("../../migrations/sqlite/0006_upload_concat.sql")),
    ("0007_remux_and_reaper", include_str!("../../migrations/sqlite/0007_remux_and_reaper.sql")),
    ("0008_packages", include_str!("../../migrations/sqlite/0008_packages.sql")),
    ("0009_delivery_key", include_str!("../../migrations/sqlite/0009_delivery_key.sql")),
    ("0010_upload_store_state", include_str!("../../migrations/sqlite/0010_upload_store_state.sql")),
    ("0011_delivery_files_by_upload", include_str!("../../migrations/sqlite/0011_delivery_files_by_upload.sql")),
    ("0012_token_scopes", include_str!("../../migrations/sqlite/0012_token_scopes.sql")),
    ("0013_package_streams", include_str!("../../migrations/sqlite/0013_package_streams.sql")),
    ("0014_upload_pieces", include_str!("../../migrations/sqlite/0014_upload_pieces.sql")),
    ("0015_package_digests", include_str!("../../migrations/sqlite/0015_package_digests.sql")),
    ("0016_arrival_digests", include_str!("../../migrations/sqlite/0016_arrival_digests.sql")),
    ("0017_package_files", include_str!("../../migrations/sqlite/0017_package_files.sql")),
];
const POSTGRES_MIGRATIONS: &[(&str, &str)] = &[
    ("0001_initial", include_str!("../../migrations/postgres/0001_initial.sql")),
    ("0002_uploads", include_str!("../../migrations/postgres/0002_uploads.sql")),
    ("0003_deliveries", include_str!("../../migrations/postgres/0003_deliveries.sql")),
    ("0004_jobs", include_str!("../../migrations/postgres/0004_jobs.sql")),
    ("0005_upload_lease", include_str!("../../migrations/postgres/0005_upload_lease.sql")),
    ("0006_upload_concat", include_str!("../../migrations/postgres/0006_upload_concat.sql")),
    ("0007_remux_and_reaper", include_str!("../../migrations/postgres/0007_remux_and_reaper.sql")),
    ("0008_packages", include_str!("../../migrations/postgres/0008_packages.sql")),
    ("0009_delivery_key", include_str!("../../migrations/postgres/0009_delivery_key.sql")),
    ("0010_upload_store_state", include_str!("../../migrations/postgres/0010_upload_store_state.sql")),
    ("0011_delivery_files_by_upload", include_str!("../../migrations/postgres/0011_delivery_files_by_upload.sql")),
    ("0012_token_scopes", include_str!("../../migrations/postgres/0012_token_scopes.sql")),
    ("0013_package_streams", include_str!("../../migrations/postgres/0013_package_streams.sql")),
    ("0014_upload_pieces", include_str!("../../migrations/postgres/0014_upload_pieces.sql")),
    ("0015_package_digests", include_str!("../../migrations/postgres/0015_package_digests.sql")),
    ("0016_arrival_digests", include_str!("../../migrations/postgres/0016_arrival_digests.sql")),
    ("0017_package_files", include_str!("../../migrations/postgres/0017_package_files.sql")),
];

impl Db {
    /// Connects to `sqlite://PATH` (created if missing; WAL) or `postgres://…`.
    pub async fn connect(url: &str) -> RepoResult<Db> {
        let pool = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            Pool::Sqlite(SqlitePoolOptions::new().max_connections(8).connect_with(options).await?)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Pool::Postgres(PgPoolOptions::new().max_connections(16).connect(url).await?)
        } else {
            return Err(RepoError::Conflict(format!(
                "unsupported database URL {:?}: use sqlite://PATH or postgres://USER@HOST/DB",
                redact_url(url)
            )));
        };
        Ok(Db { pool })
    }

    pub fn dialect(&self) -> Dialect {
        match self.pool {
            Pool::Sqlite(_) => Dialect::Sqlite,
            Pool::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Applies the migrations this database has not seen yet, each in its own transaction.
    pub async fn migrate(&self) -> RepoResult<()> {
        self.migrate_until(None).await
    }

    /// Applies the migrations up to and including `last` (all of them for `None`), as an older
    /// release would have left the database; for upgrade tests.
    pub async fn migrate_until(&self, last: Option<&str>) -> RepoResult<()> {
        let migrations = match self.dialect() {
            Dialect::Sqlite => SQLITE_MIGRATIONS,
            Dialect::Postgres => POSTGRES_MIGRATIONS,
        };
        with_pool!(self, pool => {
            sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_ms BIGINT NOT NULL)")
                .execute(pool)
                .await?;
            for (name, sql) in migrations {
                let done: Option<(String,)> = sqlx::query_as("SELECT name FROM schema_migrations WHERE name = $1")
                    .bind(*name)
                    .fetch_optional(pool)
                    .await?;
                if done.is_some() {
                    continue;
                }
                let mut tx = pool.begin().await?;
                sqlx::raw_sql(audited(sql)).execute(&mut *tx).await?;
                sqlx::query("INSERT INTO schema_migrations (name, applied_ms) VALUES ($1, $2)")
                    .bind(*name)
                    .bind(now_ms())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                tracing::info!(migration = name, "applied database migration");
                if last == Some(*name) {
                    return Ok(());
                }
            }
            Ok::<(), RepoError>(())
        })?;
        self.ensure_metadata_indexes().await
    }

    /// Creates an index per filterable metadata field of the catalogue (if missing), so that
    /// filtered listings stay fast in big buckets. Derived from the schemas, so a new filterable
    /// field gets its index at the next start.
    pub async fn ensure_metadata_indexes(&self) -> RepoResult<()> {
        let dialect = self.dialect();
        let mut keys: Vec<&str> = hub_domain::BucketKind::ALL
            .iter()
            .flat_map(|b| b.schema().iter().filter(|f| f.filterable).map(|f| f.key))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        for key in keys {
            let sql = format!(
                "CREATE INDEX IF NOT EXISTS assets_meta_{key} ON assets (project_id, bucket, {}, name, id)",
                dialect.meta_text(key)
            );
            with_pool!(self, pool => sqlx::query(audited(&sql)).execute(pool).await.map(|_| ())?);
        }
        Ok(())
    }

    /// Whether the database answers; for `/readyz`.
    pub async fn ping(&self) -> RepoResult<()> {
        with_pool!(self, pool => { sqlx::query("SELECT 1").execute(pool).await?; Ok(()) })
    }
}

/// Marks SQL text built at run time as reviewed: every dynamic query here is assembled from
/// constant fragments and numbered placeholders; values are always bound, never formatted in.
pub(crate) fn audited(sql: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql.to_owned())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A database URL with its password replaced, for logs and `config` output.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((userinfo, host)) = rest.split_once('@') else { return url.to_owned() };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact_url("postgres://hub:s3cret@db:5432/hub"), "postgres://hub:***@db:5432/hub");
        assert_eq!(redact_url("postgres://hub@db/hub"), "postgres://hub@db/hub");
        assert_eq!(redact_url("sqlite:///data/hub.db"), "sqlite:///data/hub.db");
    }
}
