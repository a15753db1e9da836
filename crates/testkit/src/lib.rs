//! What the integration tests share: the backends they run on, for real, with no quiet skips.
//!
//! Every behaviour suite runs twice, on **SQLite + a local folder** (the embedded default) and on
//! **PostgreSQL + S3** (the studio set-up), through [`on_every_backend!`]. A backend the suite is
//! meant to cover but that does not answer fails the test with a message naming it — unless whoever
//! runs the tests says so explicitly with `CONTENTHUB_TEST_SKIP=postgres,s3` (CI never does). Each
//! skipped half is printed, and appended to `CONTENTHUB_TEST_SKIP_LOG` when that names a file, so
//! that `scripts/test.sh` can list the skipped halves in its summary.
//!
//! Where the backends are: `CONTENTHUB_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`; each stack gets its own fresh database, dropped
//! afterwards) and `CONTENTHUB_TEST_S3_ENDPOINT`, `_BUCKET`, `_ACCESS_KEY`, `_SECRET_KEY` (the
//! S3-compatible server `scripts/test.sh` starts; each stack gets its own key prefix).

pub mod delayline;
pub mod media;
pub mod zip;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use hub::Db;
use hub::store::{BlobStore, LocalStore, S3Settings, S3Store};

/// Names the backends to leave out, comma-separated: `postgres`, `s3`, `browser`.
pub const SKIP_VAR: &str = "CONTENTHUB_TEST_SKIP";
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Whether the person running the tests asked to leave `what` out (`postgres`, `s3`, `browser`).
pub fn skipping(what: &str) -> bool {
    std::env::var(SKIP_VAR).unwrap_or_default().split(',').any(|s| s.trim().eq_ignore_ascii_case(what))
}

/// Says that `half` of a test did not run, and why, where the summary will find it.
pub fn record_skip(half: &str) {
    let line = format!("SKIPPED {half} ({SKIP_VAR}={})", std::env::var(SKIP_VAR).unwrap_or_default());
    eprintln!("{line}");
    if let Ok(path) = std::env::var("CONTENTHUB_TEST_SKIP_LOG") {
        use std::io::Write;
        if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = writeln!(file, "{line}");
        }
    }
}

fn test_name() -> String {
    std::thread::current().name().unwrap_or("a test").to_owned()
}

/// The PostgreSQL server's URL, or `None` when skipped on purpose.
pub fn postgres_url() -> Option<String> {
    if skipping("postgres") {
        record_skip(&format!("{}: the PostgreSQL half", test_name()));
        return None;
    }
    Some(std::env::var("CONTENTHUB_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned()))
}

/// The S3-compatible test server's settings (no prefix), or `None` when skipped on purpose.
/// Panics, naming what is missing, when the server was not started.
pub fn s3_settings() -> Option<S3Settings> {
    if skipping("s3") {
        record_skip(&format!("{}: the S3 half", test_name()));
        return None;
    }
    let Ok(endpoint) = std::env::var("CONTENTHUB_TEST_S3_ENDPOINT") else {
        panic!(
            "no S3-compatible server: CONTENTHUB_TEST_S3_ENDPOINT is not set. Run the tests with \
             `bash scripts/test.sh` (it starts s3s-fs), point the CONTENTHUB_TEST_S3_* variables at a \
             server, or leave S3 out on purpose with {SKIP_VAR}=s3"
        )
    };
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} must be set with the endpoint"));
    Some(S3Settings {
        bucket: var("CONTENTHUB_TEST_S3_BUCKET"),
        endpoint: Some(endpoint),
        region: Some("us-east-1".into()),
        access_key_id: Some(var("CONTENTHUB_TEST_S3_ACCESS_KEY")),
        secret_access_key: Some(var("CONTENTHUB_TEST_S3_SECRET_KEY")),
        path_style: true,
        prefix: String::new(),
    })
}

/// A name no other test process or stack of this run uses (process id, time, counter).
pub fn unique(stem: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!("{stem}_{}_{}_{}", std::process::id(), hub::db::now_ms(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A fresh PostgreSQL database of the test server, dropped (with its connections) when this is.
#[derive(Debug)]
pub struct PgDatabase {
    pub url: String,
    server: String,
    name: String,
}

impl PgDatabase {
    /// `None` when PostgreSQL is skipped on purpose; panics, naming the server, when it does not answer.
    pub async fn create() -> Option<PgDatabase> {
        let server = postgres_url()?;
        let name = unique("contenthub_test");
        let admin = sqlx::postgres::PgPoolOptions::new()
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect(&server)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL at {} does not answer ({e}). Start it, point CONTENTHUB_TEST_POSTGRES_URL at one, \
                 or leave PostgreSQL out on purpose with {SKIP_VAR}=postgres",
                    hub::db::redact_url(&server)
                )
            });
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.unwrap();
        admin.close().await;
        let (base, _) = server.rsplit_once('/').expect("the PostgreSQL URL ends in /DATABASE");
        Some(PgDatabase { url: format!("{base}/{name}"), server, name })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Dropping runs inside and outside runtimes alike: a thread of its own with its own runtime.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let admin = sqlx::PgPool::connect(&server).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                    .execute(&admin)
                    .await?;
                admin.close().await;
                Ok::<(), sqlx::Error>(())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

/// Which metadata database and blob store a stack runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default: SQLite in the data folder, blobs in a local folder.
    SqliteLocal,
    /// The studio set-up: PostgreSQL and an S3-compatible store.
    PostgresS3,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::SqliteLocal => "SQLite + local folder",
            Backend::PostgresS3 => "PostgreSQL + S3",
        }
    }
}

/// A migrated, empty database and blob store of one backend, with a data folder of its own.
#[derive(Debug)]
pub struct Stack {
    pub backend: Backend,
    pub db: Db,
    pub store: Arc<dyn BlobStore>,
    /// The data folder: SQLite's file and the local blobs (under `blobs/`).
    pub dir: tempfile::TempDir,
    pub database_url: String,
    /// The S3 settings (with this stack's own prefix), on PostgreSQL + S3.
    pub s3: Option<S3Settings>,
    pg: Option<PgDatabase>,
}

impl Stack {
    /// A fresh stack; `None` only when its backend is skipped on purpose.
    pub async fn new(backend: Backend) -> Option<Stack> {
        let dir = tempfile::tempdir().unwrap();
        let (database_url, pg, s3) = match backend {
            Backend::SqliteLocal => (format!("sqlite://{}", dir.path().join("hub.db").display()), None, None),
            Backend::PostgresS3 => {
                let pg = PgDatabase::create().await?;
                let mut s3 = s3_settings()?;
                s3.prefix = unique("t").replace('_', "-");
                (pg.url.clone(), Some(pg), Some(s3))
            }
        };
        let db = Db::connect(&database_url).await.unwrap();
        db.migrate().await.unwrap();
        let store = open_store(&s3, dir.path()).await;
        Some(Stack { backend, db, store, dir, database_url, s3, pg })
    }

    /// Another handle on the same blobs, as a second instance would open them.
    pub async fn open_store(&self) -> Arc<dyn BlobStore> {
        open_store(&self.s3, self.dir.path()).await
    }

    /// Arguments and environment for `contenthub serve|worker` on this stack's database and store
    /// (the S3 secret goes through the environment, as an operator would pass it).
    pub fn binary_args(&self) -> (Vec<String>, Vec<(String, String)>) {
        let mut args = vec!["--database-url".to_owned(), self.database_url.clone()];
        let mut envs = Vec::new();
        match &self.s3 {
            Some(s3) => {
                args.extend([
                    "--storage-url".to_owned(),
                    format!("s3://{}/{}", s3.bucket, s3.prefix),
                    "--s3-endpoint".to_owned(),
                    s3.endpoint.clone().unwrap_or_default(),
                    "--s3-access-key-id".to_owned(),
                    s3.access_key_id.clone().unwrap_or_default(),
                    "--s3-path-style".to_owned(),
                    "true".to_owned(),
                ]);
                envs.push((
                    "CONTENTHUB_S3_SECRET_ACCESS_KEY".to_owned(),
                    s3.secret_access_key.clone().unwrap_or_default(),
                ));
            }
            None => {
                args.extend(["--storage-url".to_owned(), format!("file://{}", self.dir.path().join("blobs").display())])
            }
        }
        (args, envs)
    }

    /// Whether this stack runs on PostgreSQL (its database is dropped with the stack).
    pub fn on_postgres(&self) -> bool {
        self.pg.is_some()
    }
}

async fn open_store(s3: &Option<S3Settings>, dir: &std::path::Path) -> Arc<dyn BlobStore> {
    match s3 {
        Some(settings) => Arc::new(S3Store::new(settings.clone()).unwrap()),
        None => Arc::new(LocalStore::open(dir.join("blobs")).await.unwrap()),
    }
}

/// Runs `test` on a fresh stack of `backend`, unless that backend is skipped on purpose.
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Stack) -> Fut,
    Fut: Future<Output = ()>,
{
    if let Some(stack) = Stack::new(backend).await {
        test(stack).await;
    }
}

/// Declares each named `async fn(Stack)` as two tests, `NAME::sqlite_local` and `NAME::postgres_s3`.
#[macro_export]
macro_rules! on_every_backend {
    ($($test:ident),+ $(,)?) => {$(
        mod $test {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_local() {
                $crate::run($crate::Backend::SqliteLocal, super::$test).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_s3() {
                $crate::run($crate::Backend::PostgresS3, super::$test).await
            }
        }
    )+};
}

/// A stack for tests that drive the binaries and have no runtime of their own: the runtime that
/// serves the stack's connection pool comes along (and is dropped after it).
#[derive(Debug)]
pub struct BlockingStack {
    pub stack: Stack,
    pub runtime: tokio::runtime::Runtime,
}

impl BlockingStack {
    /// A fresh stack; `None` only when its backend is skipped on purpose.
    pub fn new(backend: Backend) -> Option<BlockingStack> {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let stack = runtime.block_on(Stack::new(backend))?;
        Some(BlockingStack { stack, runtime })
    }
}

/// Runs `test` on a fresh blocking stack of `backend`, unless that backend is skipped on purpose.
pub fn run_blocking(backend: Backend, test: impl FnOnce(&BlockingStack)) {
    if let Some(stack) = BlockingStack::new(backend) {
        test(&stack);
    }
}

/// [`on_every_backend!`] for plain (non-async) tests taking a `&BlockingStack`.
#[macro_export]
macro_rules! on_every_backend_blocking {
    ($($test:ident),+ $(,)?) => {$(
        mod $test {
            #[test]
            fn sqlite_local() {
                $crate::run_blocking($crate::Backend::SqliteLocal, super::$test)
            }
            #[test]
            fn postgres_s3() {
                $crate::run_blocking($crate::Backend::PostgresS3, super::$test)
            }
        }
    )+};
}
