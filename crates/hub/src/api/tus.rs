//! tus 1.0 resumable uploads under `/api/v1/uploads`, the protocol face of the upload engine
//! (`app::uploads`): core, creation, creation-with-upload, creation-defer-length, termination,
//! expiration, checksum (md5, sha1, crc32) and concatenation (parallel partial uploads joined into
//! a final one; partials must name their project and bucket too, e.g. tus-js-client's
//! `metadataForPartialUploads`). These handlers read and write headers; the engine does the rest.

use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;

use super::extract::Path;
use crate::app::access::Caller;
use crate::app::uploads::{self, Algorithm, ByteStream, Checksum, Chunk, Concat, NewUpload};
use crate::app::{AppError, AppResult, Hub};
use crate::db::Upload;

pub const TUS_VERSION: &str = "1.0.0";
const EXTENSIONS: &str =
    "creation,creation-with-upload,creation-defer-length,termination,expiration,checksum,concatenation";
const OFFSET_CONTENT_TYPE: &str = "application/offset+octet-stream";

fn h(name: &'static str) -> HeaderName {
    HeaderName::from_static(name)
}

/// An answer with `Tus-Resumable` and the given headers.
fn answer(status: StatusCode, headers: impl IntoIterator<Item = (HeaderName, HeaderValue)>) -> Response {
    let mut response = status.into_response();
    let out = response.headers_mut();
    out.insert(h("tus-resumable"), HeaderValue::from_static(TUS_VERSION));
    out.extend(headers);
    response
}

/// Every tus request but OPTIONS must say which protocol version it speaks.
fn check_version(headers: &HeaderMap) -> AppResult<()> {
    match headers.get("tus-resumable").and_then(|v| v.to_str().ok()) {
        Some(TUS_VERSION) => Ok(()),
        _ => Err(AppError::new(
            StatusCode::PRECONDITION_FAILED,
            "tus_version",
            "send `Tus-Resumable: 1.0.0`; this server speaks tus 1.0.0",
        )),
    }
}

fn header_i64(headers: &HeaderMap, name: &str) -> AppResult<Option<i64>> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => {
            let text = v.to_str().map_err(|_| AppError::bad_request(format!("{name} must be plain text")))?;
            api_types::tus::parse_count(name, text).map(Some).map_err(AppError::bad_request)
        }
    }
}

fn parse_checksum(headers: &HeaderMap) -> AppResult<Option<Checksum>> {
    let Some(value) = headers.get("upload-checksum").and_then(|v| v.to_str().ok()) else { return Ok(None) };
    api_types::tus::parse_checksum(value).map(Some).map_err(AppError::bad_request)
}

/// What the PATCH (or creation-with-upload) headers say about its body.
fn chunk(headers: &HeaderMap) -> AppResult<Chunk> {
    Ok(Chunk {
        offset: header_i64(headers, "upload-offset")?.unwrap_or(0),
        length: header_i64(headers, "upload-length")?,
        checksum: parse_checksum(headers)?,
        announced: header_i64(headers, "content-length").ok().flatten(),
    })
}

fn byte_stream(body: Body) -> ByteStream {
    Box::pin(body.into_data_stream().map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>))
}

fn location(upload: &Upload) -> (HeaderName, HeaderValue) {
    (header::LOCATION, HeaderValue::from_str(&format!("/api/v1/uploads/{}", upload.id)).expect("ASCII id"))
}

fn offset(upload: &Upload) -> (HeaderName, HeaderValue) {
    (h("upload-offset"), HeaderValue::from(upload.offset))
}

/// `Upload-Expires`: when the upload goes if it is not finished by then.
fn expires(upload: &Upload) -> (HeaderName, HeaderValue) {
    let when = SystemTime::UNIX_EPOCH + Duration::from_millis(upload.expires_ms.max(0) as u64);
    (h("upload-expires"), HeaderValue::from_str(&httpdate::fmt_http_date(when)).expect("HTTP dates are ASCII"))
}

/// `Upload-Expires` while the upload is unfinished.
fn expires_if_unfinished(upload: &Upload) -> Option<(HeaderName, HeaderValue)> {
    (!upload.completed).then(|| expires(upload))
}

pub async fn options(State(hub): State<Hub>) -> Response {
    answer(
        StatusCode::NO_CONTENT,
        [
            (h("tus-version"), HeaderValue::from_static(TUS_VERSION)),
            (h("tus-extension"), HeaderValue::from_static(EXTENSIONS)),
            (h("tus-checksum-algorithm"), HeaderValue::from_static(Algorithm::NAMES)),
            (h("tus-max-size"), HeaderValue::from(hub.config.max_upload)),
        ],
    )
}

pub async fn create(State(hub): State<Hub>, caller: Caller, headers: HeaderMap, body: Body) -> AppResult<Response> {
    check_version(&headers)?;
    let concat = match headers.get("upload-concat").map(|v| v.to_str().unwrap_or("")) {
        None => None,
        Some(value) => match api_types::tus::parse_concat(value).map_err(AppError::bad_request)? {
            api_types::tus::ConcatHeader::Partial => Some(Concat::Partial),
            api_types::tus::ConcatHeader::Final(list) => Some(Concat::Final(list.to_owned())),
        },
    };
    let length = header_i64(&headers, "upload-length")?;
    let deferred = headers.get("upload-defer-length").is_some_and(|v| v == "1");
    let is_final = matches!(concat, Some(Concat::Final(_)));
    if length.is_none() && !deferred && !is_final {
        return Err(AppError::bad_request("send Upload-Length, or Upload-Defer-Length: 1 if it is not known yet"));
    }
    let metadata = headers.get("upload-metadata").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let with_upload = !is_final && headers.get(header::CONTENT_TYPE).is_some_and(|v| v == OFFSET_CONTENT_TYPE);
    let first = if with_upload { Some((chunk(&headers)?, byte_stream(body))) } else { None };
    let upload = uploads::create(&hub, &caller, NewUpload { length, metadata, concat }, first).await?;
    if is_final {
        return Ok(answer(StatusCode::CREATED, [location(&upload)]));
    }
    let mut out = vec![location(&upload)];
    out.push(expires(&upload));
    if with_upload {
        out.push(offset(&upload));
    }
    Ok(answer(StatusCode::CREATED, out))
}

pub async fn head(
    State(hub): State<Hub>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> AppResult<Response> {
    check_version(&headers)?;
    let upload = uploads::status(&hub, &caller, &id).await?;
    let mut out = vec![offset(&upload), (header::CACHE_CONTROL, HeaderValue::from_static("no-store"))];
    out.push(match upload.length {
        Some(length) => (h("upload-length"), HeaderValue::from(length)),
        None => (h("upload-defer-length"), HeaderValue::from_static("1")),
    });
    if !upload.metadata.is_empty() {
        out.push((h("upload-metadata"), HeaderValue::from_str(&upload.metadata).map_err(|_| AppError::internal())?));
    }
    if let Some(concat) = upload.concat.as_deref().and_then(|c| HeaderValue::from_str(c).ok()) {
        out.push((h("upload-concat"), concat));
    }
    out.extend(expires_if_unfinished(&upload));
    Ok(answer(StatusCode::OK, out))
}

pub async fn patch(
    State(hub): State<Hub>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Response> {
    check_version(&headers)?;
    if headers.get(header::CONTENT_TYPE).is_none_or(|v| v != OFFSET_CONTENT_TYPE) {
        return Err(AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("PATCH bodies are `Content-Type: {OFFSET_CONTENT_TYPE}`"),
        ));
    }
    let upload = uploads::patch(&hub, &caller, &id, chunk(&headers)?, byte_stream(body)).await?;
    let mut out = vec![offset(&upload)];
    out.extend(expires_if_unfinished(&upload));
    Ok(answer(StatusCode::NO_CONTENT, out))
}

pub async fn delete(
    State(hub): State<Hub>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> AppResult<Response> {
    check_version(&headers)?;
    uploads::terminate(&hub, &caller, &id).await?;
    Ok(answer(StatusCode::NO_CONTENT, []))
}
