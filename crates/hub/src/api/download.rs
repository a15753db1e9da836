//! Downloading an asset's bytes, with HTTP Range so that players can seek and downloads resume.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use hub_domain::access::Action;

use super::extract::{Path, Query};
use crate::app::Hub;
use crate::app::access::{Caller, authorize};
use crate::app::{AppError, AppResult};
use crate::store::{BlobKey, BlobStore};

/// Bytes fetched from the store per piece of the response.
const PIECE: u64 = 1 << 20;

/// Parses a single `bytes=` range against `size`: `Ok(None)` for no (or an ignorable) header,
/// `Err(())` when the range cannot be satisfied.
fn parse_range(value: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else { return Ok(None) };
    if spec.contains(',') {
        return Ok(None); // multiple ranges: answer with the whole file, as RFC 9110 allows
    }
    let (start, end) = spec.split_once('-').ok_or(())?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().map_err(|_| ())?;
            if n == 0 || size == 0 {
                return Err(());
            }
            (size.saturating_sub(n), size - 1)
        }
        (start, "") => (start.parse().map_err(|_| ())?, size.saturating_sub(1)),
        (start, end) => {
            (start.parse().map_err(|_| ())?, end.parse::<u64>().map_err(|_| ())?.min(size.saturating_sub(1)))
        }
    };
    if start >= size || start > end {
        return Err(());
    }
    Ok(Some((start, end)))
}

fn content_type(name: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    let ext = lower.rsplit('.').next().unwrap_or_default();
    match ext {
        "mp4" | "m4v" => "video/mp4",
        "mov" => "video/quicktime",
        "wav" => "audio/wav",
        "zip" => "application/zip",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// `?inline=1`: the page's player asks to play the file where it is.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ContentQuery {
    #[serde(default)]
    inline: Option<String>,
}

/// How a file is served: as a download, always, unless the player asks for audio or video inline.
/// Stored content never renders as a page of the hub's own origin (a delivered `.html` or `.svg`
/// would run script with the viewer's session).
fn disposition(name: &str, kind: &str, inline: bool) -> String {
    let media = kind.starts_with("video/") || kind.starts_with("audio/");
    let how = if inline && media { "inline" } else { "attachment" };
    let safe: String = name.chars().filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\').collect();
    format!("{how}; filename=\"{safe}\"")
}

pub async fn content(
    State(state): State<Hub>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(query): Query<ContentQuery>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let asset = state.db.asset(id).await?;
    authorize(&state, &caller, asset.project_id, Action::ViewBucket(asset.bucket)).await?;
    if let Some(files) = asset.package_files {
        return Err(AppError::conflict(format!(
            "{} is a package of {files} files, not one file; download it as a ZIP at /api/v1/assets/{id}/zip, or list its files at /api/v1/assets/{id}/members",
            asset.name
        )));
    }
    let key =
        asset.blob_key.as_deref().and_then(|k| BlobKey::new(k).ok()).ok_or_else(|| {
            AppError::conflict(format!("{} has no stored bytes yet (it is {})", asset.name, asset.state))
        })?;
    let size = state.store.size(&key).await.map_err(|e| {
        tracing::error!(asset = id, error = %e, "stored bytes of an asset are unreachable");
        AppError::internal()
    })?;
    let (status, start, end) = match answered_range(&headers, size) {
        Ok(range) => range,
        Err(refusal) => return Ok(*refusal),
    };
    let store = state.store.clone();
    let pieces = stream::unfold(start, move |at| {
        let (store, key): (std::sync::Arc<dyn BlobStore>, BlobKey) = (store.clone(), key.clone());
        async move {
            if at >= end {
                return None;
            }
            let next = (at + PIECE).min(end);
            Some((store.get_range(&key, at..next).await.map_err(std::io::Error::other), next))
        }
    });
    let inline = query.inline.as_deref().is_some_and(|v| v == "1" || v == "true");
    let kind = content_type(&asset.name);
    Ok(ranged_response(
        Body::from_stream(pieces),
        (status, start, end, size),
        kind,
        &disposition(&asset.name, kind, inline),
    ))
}

/// The range a request asks for, against `size` bytes: (status, start, end exclusive), or the 416
/// answer.
fn answered_range(headers: &HeaderMap, size: u64) -> Result<(StatusCode, u64, u64), Box<Response>> {
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    match parse_range(range, size) {
        Ok(Some((start, end))) => Ok((StatusCode::PARTIAL_CONTENT, start, end + 1)),
        Ok(None) => Ok((StatusCode::OK, 0, size)),
        Err(()) => {
            let mut response =
                AppError::new(StatusCode::RANGE_NOT_SATISFIABLE, "bad_range", format!("the file has {size} bytes"))
                    .into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_RANGE, HeaderValue::from_str(&format!("bytes */{size}")).expect("ASCII"));
            Err(Box::new(response))
        }
    }
}

/// A download's answer: `body` is bytes `start..end` of `size`.
fn ranged_response(
    body: Body,
    (status, start, end, size): (StatusCode, u64, u64, u64),
    kind: &'static str,
    disposition: &str,
) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let out = response.headers_mut();
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if status == StatusCode::PARTIAL_CONTENT {
        out.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes {start}-{}/{size}", end - 1)).expect("ASCII"),
        );
    }
    out.insert(header::CONTENT_DISPOSITION, HeaderValue::from_str(disposition).expect("ASCII without quotes"));
    response
}

/// A zipless package as one ZIP (stored, flat, with its checksum.txt), streamed from its blobs,
/// with Range so that the download resumes.
pub async fn package_zip(
    State(state): State<Hub>,
    caller: Caller,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let asset = state.db.asset(id).await?;
    authorize(&state, &caller, asset.project_id, Action::ViewBucket(asset.bucket)).await?;
    let (Some(_), Some(prefix)) = (asset.package_files, asset.blob_key.clone()) else {
        return Err(AppError::conflict(format!(
            "{} is one file, not a package; download it at /api/v1/assets/{id}/content",
            asset.name
        )));
    };
    let layout = state.db.package_layout(id).await?;
    let plan = std::sync::Arc::new(crate::app::package_zip::ZipPlan::new(&asset, &prefix, layout)?);
    let size = plan.size;
    let (status, start, end) = match answered_range(&headers, size) {
        Ok(range) => range,
        Err(refusal) => return Ok(*refusal),
    };
    let body = Body::from_stream(plan.stream(state.store.clone(), start, end));
    Ok(ranged_response(
        body,
        (status, start, end, size),
        "application/zip",
        &disposition(&format!("{}.zip", asset.name), "application/zip", false),
    ))
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 100), Ok(None));
        assert_eq!(parse_range(Some("bytes=0-9"), 100), Ok(Some((0, 9))));
        assert_eq!(parse_range(Some("bytes=90-"), 100), Ok(Some((90, 99))));
        assert_eq!(parse_range(Some("bytes=-10"), 100), Ok(Some((90, 99))));
        assert_eq!(parse_range(Some("bytes=95-200"), 100), Ok(Some((95, 99))));
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100), Ok(None));
        assert_eq!(parse_range(Some("bytes=100-"), 100), Err(()));
        assert_eq!(parse_range(Some("bytes=5-2"), 100), Err(()));
        assert_eq!(parse_range(Some("bytes=x-"), 100), Err(()));
        assert_eq!(parse_range(Some("items=0-1"), 100), Ok(None));
    }
}
