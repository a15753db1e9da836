//! The one error of the application core: a stable code, a message that says what to do, the
//! fields at fault, and the HTTP status the faces answer with. Repository errors are mapped here,
//! once; the API turns it into `{code, message}` JSON, the pages into an error page.

pub use api_types::ErrorBody;
use axum::http::StatusCode;
use hub_domain::{FieldError, TransitionError};

use crate::db::RepoError;

#[derive(Debug, Clone)]
pub struct AppError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AppError { status, body: ErrorBody { code: code.to_owned(), message: message.into(), fields: Vec::new() } }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "sign in, or send an API token as `Authorization: Bearer TOKEN`",
        )
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    /// Also what callers get for things they may not see, so that they learn nothing.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such thing here, or you do not have access to it")
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }
    pub fn invalid(message: impl Into<String>, fields: Vec<FieldError>) -> Self {
        let mut error = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message);
        error.body.fields = fields;
        error
    }
    pub fn too_many(message: impl Into<String>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts", message)
    }
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "something went wrong on the server; it is logged")
    }
}

impl From<RepoError> for AppError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::NotFound => AppError::not_found(),
            RepoError::Conflict(message) => AppError::conflict(message),
            RepoError::Corrupt(_) | RepoError::Database(_) => {
                tracing::error!(error = %e, "repository failure");
                AppError::internal()
            }
        }
    }
}

impl From<TransitionError> for AppError {
    fn from(e: TransitionError) -> Self {
        AppError::conflict(e.to_string())
    }
}

pub type AppResult<T> = Result<T, AppError>;
