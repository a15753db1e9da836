//! The JSON API under `/api/v1`, one module per resource, merged here. `router(state)` is what the
//! server runs and what tests drive directly.

pub mod assets;
pub mod auth;
pub mod error;
pub mod extract;
pub mod ops;
pub mod projects;
pub mod requests;
pub mod session;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::db::Db;
use crate::store::BlobStore;

/// Settings the API needs; part of the server's configuration.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub session_hours: u32,
    /// Mark the session cookie `Secure` (behind HTTPS).
    pub secure_cookies: bool,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig { session_hours: 12, secure_cookies: false }
    }
}

#[derive(Clone, Debug)]
pub struct AppState {
    pub db: Db,
    pub store: Arc<dyn BlobStore>,
    pub config: Arc<ApiConfig>,
    pub limiter: Arc<auth::LoginLimiter>,
    pub metrics: Arc<ops::Metrics>,
}

impl AppState {
    pub fn new(db: Db, store: Arc<dyn BlobStore>, config: ApiConfig) -> Self {
        AppState { db, store, config: Arc::new(config), limiter: Arc::default(), metrics: Arc::default() }
    }
}

/// JSON bodies larger than this are refused with 413 (uploads do not come through JSON).
const MAX_JSON_BODY: usize = 1 << 20;

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/session", post(session::login).delete(session::logout))
        .route("/me", get(session::me))
        .route("/tokens", get(session::list_tokens).post(session::create_token))
        .route("/tokens/{id}", axum::routing::delete(session::revoke_token))
        .route("/projects", get(projects::list).post(projects::create))
        .route("/projects/{id}", get(projects::get))
        .route("/projects/{id}/buckets", get(projects::buckets))
        .route("/projects/{id}/members", get(projects::members).post(projects::add_member))
        .route(
            "/projects/{id}/members/{user}",
            axum::routing::patch(projects::change_member).delete(projects::remove_member),
        )
        .route("/projects/{id}/buckets/{bucket}/assets", get(assets::list).patch(assets::bulk_update))
        .route("/projects/{id}/buckets/{bucket}/requests", get(requests::list).post(requests::create))
        .route("/assets/{id}", get(assets::get).patch(assets::update).delete(assets::delete))
        .route("/assets/{id}/history", get(assets::history))
        .route("/requests/{id}", get(requests::get).patch(requests::update))
        .route("/requests/{id}/history", get(requests::history))
        .route("/requests/{id}/transition", post(requests::transition))
        .fallback(|| async { error::ApiError::not_found() });
    Router::new()
        .nest("/api/v1", api)
        .route("/", get(ops::home))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .layer(axum::middleware::from_fn_with_state(state.clone(), ops::count_requests))
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` completes, then finishes the requests in flight.
/// Tests bind port 0 and call this with the real router.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}
