//! Every error the API returns is the core's `AppError` as `{code, message}` JSON (plus `fields`
//! for validation), with its status.

use axum::Json;
use axum::response::{IntoResponse, Response};

use crate::app::AppError;

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}
