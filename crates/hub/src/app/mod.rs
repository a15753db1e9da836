//! The application core: what the hub does, whoever asks. The HTTP API (`api/`), the pages
//! (`web/`), the workers and the admin commands all call in here; it knows nothing of requests,
//! routes or templates. `Hub` is the handle they share: the repositories, the blob store, the
//! configuration, the sign-in limiter and the counters.

pub mod access;
pub mod admin;
pub mod assets;
pub mod deliveries;
pub mod error;
pub mod package_zip;
pub mod projects;
pub mod sessions;
pub mod tokens;
pub mod uploads;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::StatusCode;

pub use access::Caller;
pub use error::{AppError, AppResult};

use crate::db::Db;
use crate::store::BlobStore;

/// What the hub is told at start-up (part of the server's configuration).
#[derive(Debug, Clone)]
pub struct Config {
    /// How long a browser session lasts after signing in.
    pub session_lifetime: std::time::Duration,
    /// Mark the session cookie `Secure` (behind HTTPS).
    pub secure_cookies: bool,
    /// The largest upload accepted, in bytes (`Tus-Max-Size`).
    pub max_upload: i64,
    /// How long an unfinished upload is kept after its last chunk (`Upload-Expires`); then its
    /// storage is freed and its asset becomes Failed Delivery.
    pub upload_lifetime: std::time::Duration,
    /// How long a validation that could not run (storage unreachable) waits before its first
    /// retry; each further retry waits twice as long, and after the last the asset goes back to
    /// Delivered for a manager to ask again.
    pub validation_retry: std::time::Duration,
    /// A running job whose worker has been silent this long is given to another worker (or, out
    /// of attempts, ends its asset Invalid).
    pub stale_job: std::time::Duration,
    /// Validate each asset in a child process with these limits (what `serve` does), so that no
    /// file can take the server down; `None`: in this process (tests, and stores only this process
    /// can open).
    pub isolation: Option<crate::validate::isolated::Isolation>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (for the sign-in limits); others'
    /// is ignored.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            session_lifetime: std::time::Duration::from_secs(12 * 3600),
            secure_cookies: false,
            max_upload: 1 << 40,
            upload_lifetime: std::time::Duration::from_secs(24 * 3600),
            validation_retry: std::time::Duration::from_secs(1),
            stale_job: std::time::Duration::from_secs(60),
            isolation: None,
            trusted_proxies: Vec::new(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Hub {
    pub db: Db,
    pub store: Arc<dyn BlobStore>,
    pub config: Arc<Config>,
    pub limiter: Arc<access::LoginLimiter>,
    pub metrics: Arc<Metrics>,
    /// What deliveries and packages require of uploads, called by the upload engine.
    pub hooks: Arc<dyn uploads::Hooks>,
    /// Wakes this process's idle workers when it queues a job (workers elsewhere find it when
    /// they next look, within half a second).
    pub jobs_queued: Arc<tokio::sync::Notify>,
}

impl Hub {
    pub fn new(db: Db, store: Arc<dyn BlobStore>, config: Config) -> Self {
        Hub {
            db,
            store,
            config: Arc::new(config),
            limiter: Arc::default(),
            metrics: Arc::default(),
            hooks: Arc::new(deliveries::hooks::DeliveryHooks::default()),
            jobs_queued: Arc::default(),
        }
    }
}

/// Request counters by status class, for `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    pub by_class: [AtomicU64; 5],
    /// Bytes read from upload (PATCH and creation-with-upload) bodies, kept or refused.
    pub upload_bytes_received: AtomicU64,
}

impl Metrics {
    pub fn record(&self, status: StatusCode) {
        let class = (status.as_u16() / 100).clamp(1, 5) as usize - 1;
        self.by_class[class].fetch_add(1, Ordering::Relaxed);
    }
}
