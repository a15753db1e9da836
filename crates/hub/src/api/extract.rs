//! Extractors whose rejections are API errors: a malformed body, a path id that is not a number or
//! a bad query string get `{code, message}` like every other error, not the framework's plain text.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::app::AppError;

/// `axum::Json` with API errors.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(json_error(rejection)),
        }
    }
}

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

fn json_error(rejection: JsonRejection) -> AppError {
    match rejection {
        JsonRejection::JsonDataError(e) => AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            format!("the JSON body does not have the expected fields: {}", e.body_text()),
        ),
        JsonRejection::JsonSyntaxError(e) => {
            AppError::new(StatusCode::BAD_REQUEST, "bad_json", format!("the body is not valid JSON: {}", e.body_text()))
        }
        JsonRejection::MissingJsonContentType(_) => AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with `Content-Type: application/json`",
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "the JSON body is larger than 1 MiB; files go through uploads, not JSON",
        ),
        other => AppError::bad_request(format!("could not read the body: {}", other.body_text())),
    }
}

/// `axum::extract::Path` with API errors.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                Err(AppError::bad_request(format!("bad path: {} (ids are whole numbers)", e.body_text())))
            }
            Err(other) => Err(AppError::bad_request(other.body_text())),
        }
    }
}

/// `axum::extract::Query` with API errors.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                Err(AppError::bad_request(format!("bad query string: {}", e.body_text())))
            }
            Err(other) => Err(AppError::bad_request(other.body_text())),
        }
    }
}
