//! Liveness, readiness and Prometheus metrics.

use std::sync::atomic::Ordering;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::Hub;
use crate::app::access::ClientAddress;

pub async fn count_requests(State(state): State<Hub>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    state.metrics.record(response.status());
    response
}

/// Who sent the request ([`ClientAddress`]: the peer, or what a trusted proxy says), for the
/// handlers that limit per client (sign-in).
pub async fn client_address(State(state): State<Hub>, mut request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    let forwarded = request.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok());
    let address = ClientAddress::of(peer, forwarded, &state.config.trusted_proxies);
    request.extensions_mut().insert(address);
    next.run(request).await
}

/// What every answer says about itself to the browser: no sniffing of types, no framing, no
/// referrer leaving the site, and for pages a content policy that runs only the hub's own scripts
/// (no inline script, no eval; media and images from the hub only). Behind HTTPS (the
/// `secure_cookies` setting), HSTS as well.
pub async fn security_headers(State(state): State<Hub>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_POLICY));
    if state.config.secure_cookies {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    response
}

/// The content policy of every answer (see [`security_headers`]).
pub const CONTENT_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                                  img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; \
                                  object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Until the web UI lands, the root page says what is running and how to reach it.
pub async fn healthz() -> &'static str {
    "ok\n"
}

pub async fn readyz(State(state): State<Hub>) -> Response {
    if let Err(e) = state.db.ping().await {
        tracing::warn!(error = %e, "not ready: database unreachable");
        return (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response();
    }
    if let Err(e) = crate::store::probe(state.store.as_ref()).await {
        tracing::warn!(error = %e, "not ready: blob storage unreachable");
        return (StatusCode::SERVICE_UNAVAILABLE, "blob storage unreachable\n").into_response();
    }
    (StatusCode::OK, "ready\n").into_response()
}

pub async fn metrics(State(state): State<Hub>) -> Response {
    let mut out = String::from(
        "# HELP contenthub_http_requests_total HTTP requests answered, by status class.\n\
         # TYPE contenthub_http_requests_total counter\n",
    );
    for (i, counter) in state.metrics.by_class.iter().enumerate() {
        out +=
            &format!("contenthub_http_requests_total{{class=\"{}xx\"}} {}\n", i + 1, counter.load(Ordering::Relaxed));
    }
    out += &format!(
        "# HELP contenthub_upload_bytes_received_total Bytes read from upload bodies, kept or refused.\n\
         # TYPE contenthub_upload_bytes_received_total counter\n\
         contenthub_upload_bytes_received_total {}\n",
        state.metrics.upload_bytes_received.load(Ordering::Relaxed)
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
