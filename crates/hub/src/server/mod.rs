//! The service as one HTTP server: the API under `/api/v1`, the pages, and the operator's endpoints
//! (`/healthz`, `/readyz`, `/metrics`), over one core. `router(hub)` is what `serve` runs and what
//! tests drive directly.

pub mod ops;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

use crate::app::Hub;

/// JSON bodies larger than this are refused with 413 (uploads do not come through JSON; an
/// endpoint that takes more says so in the API's table).
const MAX_JSON_BODY: usize = 1 << 20;

pub fn router(hub: Hub) -> Router {
    Router::new()
        .nest("/api/v1", crate::api::routes())
        .merge(crate::web::routes())
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .layer(axum::middleware::from_fn_with_state(hub.clone(), ops::security_headers))
        .layer(axum::middleware::from_fn_with_state(hub.clone(), ops::count_requests))
        .layer(axum::middleware::from_fn_with_state(hub.clone(), ops::client_address))
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .with_state(hub)
}

/// Serves the hub on `listener` until `shutdown` completes, then finishes the requests in flight.
/// Tests bind port 0 and call this with the real router.
pub async fn serve(
    listener: tokio::net::TcpListener,
    hub: Hub,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let service = router(hub).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service).with_graceful_shutdown(shutdown).await
}
