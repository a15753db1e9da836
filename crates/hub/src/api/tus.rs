//! tus 1.0 resumable uploads under `/api/v1/uploads`: core, creation, creation-with-upload,
//! creation-defer-length, termination, expiration, checksum (md5, sha1, crc32) and concatenation (parallel
//! partial uploads joined into a final one; partials must name their project and bucket too, e.g.
//! tus-js-client's `metadataForPartialUploads`).
//!
//! The bytes go to the blob store as a multipart upload with a part size derived from the length.
//! Each PATCH body is first spooled to a local file (bounded memory, and a checksum can be checked
//! before anything is kept); whole parts are then stored and the remainder is kept as a "pending"
//! blob under a key that changes with each acknowledged offset, so any instance can continue the
//! upload and a crash never loses an acknowledged byte.

use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use futures_util::StreamExt;
use hub_domain::BucketKind;
use hub_domain::access::Action;
use sha1::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::AppState;
use super::auth::{Caller, authorize, authorize_own};
use super::error::{ApiError, ApiResult};
use super::extract::Path;
use crate::db::{Upload, now_ms};
use crate::secrets::random_token;
use crate::store::{BlobKey, PartRef};

pub const TUS_VERSION: &str = "1.0.0";
const EXTENSIONS: &str =
    "creation,creation-with-upload,creation-defer-length,termination,expiration,checksum,concatenation";
const OFFSET_CONTENT_TYPE: &str = "application/offset+octet-stream";
/// S3 allows 10,000 parts of at least 5 MiB; we leave headroom and never go below 8 MiB.
const MIN_PART: i64 = 8 << 20;
const MAX_PARTS: i64 = 9_000;

fn h(name: &'static str) -> HeaderName {
    HeaderName::from_static(name)
}

fn tus_headers(headers: &mut HeaderMap) {
    headers.insert(h("tus-resumable"), HeaderValue::from_static(TUS_VERSION));
}

fn tus_error(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(status, code, message)
}

/// Every tus request but OPTIONS must say which protocol version it speaks.
fn check_version(headers: &HeaderMap) -> ApiResult<()> {
    match headers.get("tus-resumable").and_then(|v| v.to_str().ok()) {
        Some(TUS_VERSION) => Ok(()),
        _ => Err(tus_error(
            StatusCode::PRECONDITION_FAILED,
            "tus_version",
            "send `Tus-Resumable: 1.0.0`; this server speaks tus 1.0.0",
        )),
    }
}

fn header_i64(headers: &HeaderMap, name: &str) -> ApiResult<Option<i64>> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .filter(|n| *n >= 0)
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("{name} must be a non-negative whole number"))),
    }
}

/// Parses `Upload-Metadata`: comma-separated `key base64value` pairs.
fn parse_metadata(raw: &str) -> ApiResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once(' ').unwrap_or((pair, ""));
        let value = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .ok()
            .and_then(|v| String::from_utf8(v).ok())
            .ok_or_else(|| ApiError::bad_request(format!("Upload-Metadata value of {key:?} is not base64 of UTF-8")))?;
        out.push((key.to_owned(), value));
    }
    Ok(out)
}

/// `a / b` rounded up, for non-negative `a` and positive `b`.
fn ceil_div(a: i64, b: i64) -> i64 {
    (a + b - 1) / b
}

fn part_size_for(length: Option<i64>) -> i64 {
    match length {
        Some(length) => ceil_div(ceil_div(length, MAX_PARTS).max(MIN_PART), 1 << 20) * (1 << 20),
        None => MIN_PART * 4,
    }
}

fn expires_header(upload: &Upload) -> HeaderValue {
    let when = SystemTime::UNIX_EPOCH + Duration::from_millis(upload.expires_ms.max(0) as u64);
    HeaderValue::from_str(&httpdate::fmt_http_date(when)).expect("HTTP dates are ASCII")
}

pub async fn options(State(state): State<AppState>) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    tus_headers(headers);
    headers.insert(h("tus-version"), HeaderValue::from_static(TUS_VERSION));
    headers.insert(h("tus-extension"), HeaderValue::from_static(EXTENSIONS));
    headers.insert(h("tus-checksum-algorithm"), HeaderValue::from_static("md5,sha1,crc32"));
    headers.insert(h("tus-max-size"), HeaderValue::from(state.config.max_upload));
    response
}

/// How long one PATCH holds an upload between renewals; a server that died frees it after this.
const PATCH_LEASE: Duration = Duration::from_secs(15);

/// An upload's write lease: renewed every third of its length while held, released when the PATCH
/// ends, or on drop if the request was abandoned midway.
struct Lease {
    renew: tokio::task::JoinHandle<()>,
    db: crate::db::Db,
    id: String,
}

impl Lease {
    fn hold(state: &AppState, id: &str) -> Lease {
        let (db, upload) = (state.db.clone(), id.to_owned());
        let renew = tokio::spawn(async move {
            loop {
                tokio::time::sleep(PATCH_LEASE / 3).await;
                let _ = db.renew_upload_lease(&upload, PATCH_LEASE.as_millis() as i64).await;
            }
        });
        Lease { renew, db: state.db.clone(), id: id.to_owned() }
    }
}

impl Lease {
    async fn release(mut self) {
        self.renew.abort();
        let id = std::mem::take(&mut self.id);
        if let Err(e) = self.db.release_upload(&id).await {
            tracing::warn!(upload = %id, error = %e, "could not release an upload lease; it lapses by itself");
        }
    }
}

/// Only when the request was dropped before `release` (the client went away mid-body).
impl Drop for Lease {
    fn drop(&mut self) {
        self.renew.abort();
        if self.id.is_empty() {
            return; // released already
        }
        let (db, id) = (self.db.clone(), std::mem::take(&mut self.id));
        tokio::spawn(async move {
            if let Err(e) = db.release_upload(&id).await {
                tracing::warn!(upload = %id, error = %e, "could not release an upload lease; it lapses by itself");
            }
        });
    }
}
/// When an unfinished upload touched at `now` (ms) expires.
fn expiry(state: &AppState, now: i64) -> i64 {
    now + state.config.upload_lifetime.as_millis() as i64
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    check_version(&headers)?;
    let concat = headers.get("upload-concat").and_then(|v| v.to_str().ok()).map(str::trim).map(str::to_owned);
    let final_of = concat.as_deref().and_then(|c| c.strip_prefix("final;")).map(str::to_owned);
    if concat.as_deref().is_some_and(|c| c != "partial" && final_of.is_none()) {
        return Err(ApiError::bad_request("Upload-Concat is `partial` or `final;URL URL …`"));
    }
    let length = header_i64(&headers, "upload-length")?;
    let deferred = headers.get("upload-defer-length").is_some_and(|v| v == "1");
    if length.is_none() && !deferred && final_of.is_none() {
        return Err(ApiError::bad_request("send Upload-Length, or Upload-Defer-Length: 1 if it is not known yet"));
    }
    let max = state.config.max_upload;
    if length.is_some_and(|l| l > max) {
        return Err(tus_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("uploads are at most {max} bytes (max_upload_bytes)"),
        ));
    }
    let raw_metadata = headers.get("upload-metadata").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let metadata = parse_metadata(&raw_metadata)?;
    let get = |key: &str| metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let project_id: i64 = get("project")
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| ApiError::bad_request("Upload-Metadata must name the project (key `project`, its id)"))?;
    let bucket = get("bucket").and_then(BucketKind::from_slug).ok_or_else(|| {
        ApiError::bad_request("Upload-Metadata must name the bucket (key `bucket`, e.g. final-sound)")
    })?;
    // Partial uploads are pieces of a file: they need no name of their own.
    let filename = get("filename").unwrap_or(if concat.as_deref() == Some("partial") { "part" } else { "" });
    if let Err(issue) = hub_domain::names::check_delivery_name(filename) {
        return Err(ApiError::invalid(
            format!("file name {filename:?} breaks the delivery rule: {issue}"),
            vec![hub_domain::FieldError { field: "filename".into(), message: issue.to_string() }],
        ));
    }
    if filename.is_empty() {
        return Err(ApiError::bad_request("Upload-Metadata must give the file name (key `filename`)"));
    }
    authorize(&state, &caller, project_id, Action::Deliver(bucket)).await?;
    if let Some(list) = final_of {
        let upload = concatenate(&state, &caller, project_id, bucket, &list, raw_metadata).await?;
        if let Some(delivery) = get("delivery").and_then(|d| d.parse::<i64>().ok()) {
            bind_to_delivery(&state, &caller, delivery, filename, &upload).await?;
        }
        let mut response = StatusCode::CREATED.into_response();
        let out = response.headers_mut();
        tus_headers(out);
        out.insert(
            header::LOCATION,
            HeaderValue::from_str(&format!("/api/v1/uploads/{}", upload.id)).expect("ASCII id"),
        );
        return Ok(response);
    }
    let with_upload = headers.get(header::CONTENT_TYPE).is_some_and(|v| v == OFFSET_CONTENT_TYPE);
    let place = Place { project_id, bucket, user_id: caller.user.id };
    let member = match get("package") {
        Some(package) => Some(package_member(&state, place, package, filename, length).await?),
        None => None,
    };
    let mut upload = open_upload(&state, place, length, raw_metadata, concat, member).await?;
    if with_upload {
        upload = append(&state, upload, &headers, body).await?;
    }
    let mut response = StatusCode::CREATED.into_response();
    let out = response.headers_mut();
    tus_headers(out);
    out.insert(header::LOCATION, HeaderValue::from_str(&format!("/api/v1/uploads/{}", upload.id)).expect("ASCII id"));
    out.insert(h("upload-expires"), expires_header(&upload));
    if with_upload {
        out.insert(h("upload-offset"), HeaderValue::from(upload.offset));
    }
    Ok(response)
}

/// Where an upload goes and who makes it (the caller has checked access).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Place {
    pub project_id: i64,
    pub bucket: BucketKind,
    pub user_id: i64,
}

/// The package file an upload carries: its bytes go to `blob_key` under the package's prefix.
#[derive(Debug)]
pub(crate) struct MemberOf<'a> {
    pub asset_id: i64,
    pub name: &'a str,
    pub blob_key: String,
}

/// Records a new upload; a zero-length one is complete at once.
/// A new upload's record (not stored yet): its id, where its bytes go, its part size and expiry.
pub(crate) fn new_upload(
    state: &AppState,
    place: Place,
    length: Option<i64>,
    raw_metadata: String,
    concat: Option<String>,
    blob_key: Option<String>,
) -> Upload {
    let id = random_token("", 24);
    let now = now_ms();
    Upload {
        blob_key: blob_key.unwrap_or_else(|| format!("uploads/{id}/data")),
        id,
        project_id: place.project_id,
        bucket: place.bucket,
        created_by: Some(place.user_id),
        length,
        offset: 0,
        metadata: raw_metadata,
        part_size: part_size_for(length),
        multipart_id: None,
        parts: Vec::new(),
        pending_key: None,
        pending_size: 0,
        completed: false,
        created_ms: now,
        expires_ms: expiry(state, now),
        concat,
    }
}

pub(crate) async fn open_upload(
    state: &AppState,
    place: Place,
    length: Option<i64>,
    raw_metadata: String,
    concat: Option<String>,
    member: Option<MemberOf<'_>>,
) -> ApiResult<Upload> {
    let blob_key = member.as_ref().map(|m| m.blob_key.clone());
    let upload = new_upload(state, place, length, raw_metadata, concat, blob_key);
    state.db.create_upload(&upload).await?;
    if let Some(member) = &member {
        state.db.bind_member_upload(member.asset_id, member.name, &upload.id).await?;
    }
    if length == Some(0) {
        return append(state, upload, &HeaderMap::new(), Body::empty()).await;
    }
    Ok(upload)
}

/// Checks that an upload naming `package` (an asset id) carries a declared file of that package
/// in progress, with the declared size, that has no upload yet.
async fn package_member<'a>(
    state: &AppState,
    place: Place,
    package: &str,
    name: &'a str,
    length: Option<i64>,
) -> ApiResult<MemberOf<'a>> {
    let not_ours = || {
        ApiError::bad_request(format!(
            "package {package:?} is not a package of yours in progress in this project and bucket"
        ))
    };
    let asset_id: i64 = package.parse().map_err(|_| not_ours())?;
    let asset = state.db.asset(asset_id).await.map_err(|_| not_ours())?;
    let prefix = match (&asset.blob_key, asset.package_files) {
        (Some(prefix), Some(_))
            if asset.project_id == place.project_id
                && asset.bucket == place.bucket
                && asset.created_by == Some(place.user_id)
                && asset.state == hub_domain::AssetState::InProgress =>
        {
            prefix.clone()
        }
        _ => return Err(not_ours()),
    };
    let Some((size, upload)) = state.db.package_member(asset_id, name).await? else {
        return Err(ApiError::bad_request(format!("{name} is not a file of package {}", asset.name)));
    };
    if length != Some(size) {
        return Err(ApiError::bad_request(format!(
            "{name} was declared with {size} bytes; send Upload-Length: {size}"
        )));
    }
    if let Some(existing) = upload
        && state.db.upload(&existing).await.is_ok()
    {
        return Err(ApiError::conflict(format!(
            "{name} already has an upload, /api/v1/uploads/{existing}; continue it (HEAD, then PATCH)"
        )));
    }
    Ok(MemberOf { asset_id, name, blob_key: format!("{prefix}/{name}") })
}

/// `Upload-Metadata` for the given pairs.
pub(crate) fn encode_metadata(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k} {}", base64::engine::general_purpose::STANDARD.encode(v)))
        .collect::<Vec<_>>()
        .join(",")
}

/// Joins complete partial uploads of the caller, in the order given, into a new final upload.
async fn concatenate(
    state: &AppState,
    caller: &Caller,
    project_id: i64,
    bucket: BucketKind,
    list: &str,
    raw_metadata: String,
) -> ApiResult<Upload> {
    let mut partials = Vec::new();
    for url in list.split_whitespace() {
        let id = url.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
        // Someone else's upload is not there for the caller (unless they manage the project).
        let partial = state.db.upload(id).await?;
        authorize_own(state, caller, partial.project_id, Action::Deliver(partial.bucket), partial.created_by).await?;
        let same_place = partial.project_id == project_id && partial.bucket == bucket;
        if partial.concat.as_deref() != Some("partial") || !same_place {
            return Err(ApiError::bad_request(format!("{url} is not a partial upload in this project and bucket")));
        }
        if !partial.completed {
            return Err(tus_error(StatusCode::CONFLICT, "partial_incomplete", format!("{url} is not complete yet")));
        }
        partials.push(partial);
    }
    if partials.is_empty() {
        return Err(ApiError::bad_request("Upload-Concat: final; needs at least one partial upload"));
    }
    let length: i64 = partials.iter().map(|p| p.length.unwrap_or(0)).sum();
    let concat = Some(format!("final;{list}"));
    let place = Place { project_id, bucket, user_id: caller.user.id };
    let upload = open_upload(state, place, Some(length), raw_metadata, concat, None).await?;
    if length == 0 {
        return Ok(upload);
    }
    let key = BlobKey::new(upload.blob_key.clone()).expect("upload keys are valid");
    let mut next = upload.clone();
    if let Some(target) = state.store.local_path(&key) {
        // The local backend: the pieces are copied file to file by the kernel (copy_file_range).
        let pieces: Vec<std::path::PathBuf> = partials
            .iter()
            .filter_map(|p| state.store.local_path(&BlobKey::new(p.blob_key.clone()).expect("upload keys are valid")))
            .collect();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            if let Some(dir) = target.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut out = std::fs::File::create(&target)?;
            for piece in pieces {
                std::io::copy(&mut std::fs::File::open(piece)?, &mut out)?;
            }
            Ok(())
        })
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(spool_error)?;
    } else {
        concatenate_parts(state, &mut next, &key, &partials).await?;
    }
    next.offset = length;
    next.completed = true;
    state.db.advance_upload(&next, 0).await?;
    for partial in &partials {
        discard(state, partial).await;
        state.db.delete_upload(&partial.id).await?;
    }
    Ok(next)
}

/// Copies the pieces into whole parts of the final object, carrying the rest across pieces.
async fn concatenate_parts(state: &AppState, next: &mut Upload, key: &BlobKey, partials: &[Upload]) -> ApiResult<()> {
    let part_size = next.part_size as u64;
    let mut buffer: Vec<u8> = Vec::new();
    for partial in partials {
        let from = BlobKey::new(partial.blob_key.clone()).expect("upload keys are valid");
        let size = partial.length.unwrap_or(0) as u64;
        let mut at = 0;
        while at < size {
            let end = (at + part_size - buffer.len() as u64).min(size);
            buffer.extend_from_slice(&state.store.get_range(&from, at..end).await.map_err(store_error)?);
            at = end;
            if buffer.len() as u64 == part_size {
                put_part(state, next, key, std::mem::take(&mut buffer)).await?;
            }
        }
    }
    if !buffer.is_empty() || next.parts.is_empty() {
        put_part(state, next, key, buffer).await?;
    }
    let multipart = next.multipart_id.clone().expect("a part was stored");
    state.store.complete_multipart(key, &multipart, next.parts.clone()).await.map_err(store_error)?;
    Ok(())
}

/// A final upload that names a delivery replaces the upload of the file of that name there.
async fn bind_to_delivery(
    state: &AppState,
    caller: &Caller,
    delivery_id: i64,
    filename: &str,
    upload: &Upload,
) -> ApiResult<()> {
    let delivery = state.db.delivery(delivery_id).await?;
    authorize_own(state, caller, delivery.project_id, Action::Deliver(delivery.bucket), delivery.created_by).await?;
    if delivery.state != hub_domain::DeliveryState::Open {
        return Err(ApiError::conflict(format!("delivery {delivery_id} was delivered; its files cannot change")));
    }
    for file in state.db.delivery_files(delivery_id).await? {
        let asset = state.db.asset(file.asset_id).await?;
        if asset.name == filename {
            if Some(asset.size) != upload.length {
                return Err(ApiError::conflict(format!(
                    "{filename} was declared with {} bytes, but the parts add up to {}",
                    asset.size,
                    upload.length.unwrap_or(0)
                )));
            }
            return Ok(state.db.rebind_delivery_upload(delivery_id, asset.id, &upload.id).await?);
        }
    }
    Err(ApiError::bad_request(format!("delivery {delivery_id} has no file named {filename}")))
}

/// Refuses to change an upload whose bytes were delivered: they are an asset's now. (Only a
/// complete upload can have been delivered, so unfinished ones cost no look-up.)
async fn ensure_open(state: &AppState, upload: &Upload) -> ApiResult<()> {
    if !upload.completed {
        return Ok(());
    }
    if let Some(target) = state.db.transfer_target(&upload.id).await?
        && state.db.asset(target.asset_id).await?.state != hub_domain::AssetState::InProgress
    {
        return Err(tus_error(
            StatusCode::CONFLICT,
            "delivered",
            "this upload was delivered and is closed: its bytes belong to the asset now",
        ));
    }
    Ok(())
}

/// Loads an upload of the caller's (or of a project they manage); expired ones are gone (410).
async fn load(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Upload> {
    let upload = state.db.upload(id).await?;
    authorize_own(state, caller, upload.project_id, Action::Deliver(upload.bucket), upload.created_by).await?;
    if !upload.completed && upload.expires_ms < now_ms() {
        return Err(tus_error(StatusCode::GONE, "expired", "this upload expired; start a new one"));
    }
    Ok(upload)
}

pub async fn head(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    check_version(&headers)?;
    let upload = reconcile(&state, load(&state, &caller, &id).await?).await?;
    let mut response = StatusCode::OK.into_response();
    let out = response.headers_mut();
    tus_headers(out);
    out.insert(h("upload-offset"), HeaderValue::from(upload.offset));
    match upload.length {
        Some(length) => out.insert(h("upload-length"), HeaderValue::from(length)),
        None => out.insert(h("upload-defer-length"), HeaderValue::from_static("1")),
    };
    if !upload.metadata.is_empty() {
        out.insert(h("upload-metadata"), HeaderValue::from_str(&upload.metadata).map_err(|_| ApiError::internal())?);
    }
    if let Some(concat) = upload.concat.as_deref().and_then(|c| HeaderValue::from_str(c).ok()) {
        out.insert(h("upload-concat"), concat);
    }
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if !upload.completed {
        out.insert(h("upload-expires"), expires_header(&upload));
    }
    Ok(response)
}

pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    check_version(&headers)?;
    if headers.get(header::CONTENT_TYPE).is_none_or(|v| v != OFFSET_CONTENT_TYPE) {
        return Err(tus_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("PATCH bodies are `Content-Type: {OFFSET_CONTENT_TYPE}`"),
        ));
    }
    let upload = load(&state, &caller, &id).await?;
    ensure_open(&state, &upload).await?;
    if upload.concat.as_deref().is_some_and(|c| c.starts_with("final")) {
        return Err(ApiError::forbidden("a final upload is made of its partial uploads; it takes no PATCH"));
    }
    if !state.db.lease_upload(&upload.id, PATCH_LEASE.as_millis() as i64).await? {
        return Err(tus_error(
            StatusCode::CONFLICT,
            "upload_busy",
            "another PATCH of this upload is in progress; wait for it, then ask for the offset (HEAD)",
        ));
    }
    // Held while this PATCH runs, renewed as it goes, and released however the request ends --
    // also when the client goes away and the request is dropped midway.
    let lease = Lease::hold(&state, &upload.id);
    let result = append(&state, upload.clone(), &headers, body).await;
    // Released before answering: the client may go on (or this process may die) right after.
    lease.release().await;
    let sent = header_i64(&headers, "content-length").ok().flatten();
    note_transfer(&state, &caller, &upload, &result, sent).await;
    let upload = result?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    let out = response.headers_mut();
    tus_headers(out);
    out.insert(h("upload-offset"), HeaderValue::from(upload.offset));
    if !upload.completed {
        out.insert(h("upload-expires"), expires_header(&upload));
    }
    Ok(response)
}

/// Problems a client may log into one asset's history (per kind): enough to explain a failure, too
/// few for a misbehaving client to flood it.
const MAX_TRANSFER_NOTES: i64 = 20;

/// Tells the asset's history what a PATCH did when it is worth telling: the file is now whole, the
/// connection dropped midway, or a chunk was refused and why. These are the log lines the
/// transfers page shows beside a file that stopped.
async fn note_transfer(
    state: &AppState,
    caller: &Caller,
    before: &Upload,
    result: &ApiResult<Upload>,
    sent: Option<i64>,
) {
    let (action, detail) = match result {
        Ok(after) if after.completed && !before.completed => {
            ("transfer_complete", format!("all {} bytes received", after.offset))
        }
        Ok(after) if sent.is_some_and(|n| after.offset - before.offset < n) => {
            let (kept, sent) = (after.offset - before.offset, sent.unwrap_or_default());
            let what = if kept == 0 {
                format!("the connection dropped before any of the chunk's {sent} bytes arrived")
            } else {
                format!("the connection dropped after {kept} of the chunk's {sent} bytes; the hub kept them")
            };
            ("transfer_interrupted", format!("{what}, and the upload continues from byte {}", after.offset))
        }
        Err(e) => (
            "transfer_error",
            format!("a chunk at byte {} was refused ({}): {}", before.offset, e.status.as_u16(), e.body.message),
        ),
        Ok(_) => return,
    };
    let target = match state.db.transfer_target(&before.id).await {
        Ok(Some(target)) => target,
        Ok(None) => return, // an upload outside any delivery: its client has the answer
        Err(e) => return tracing::warn!(upload = %before.id, error = %e, "transfer note not written"),
    };
    let detail = match &target.member {
        // A package's files complete by the thousand; its check tells the story.
        Some(_) if action == "transfer_complete" => return,
        Some(member) => format!("{member}: {detail}"),
        None => detail,
    };
    if action != "transfer_complete"
        && state.db.count_history(target.asset_id, action).await.is_ok_and(|n| n >= MAX_TRANSFER_NOTES)
    {
        return;
    }
    let written = state
        .db
        .add_history(target.project_id, Some(target.asset_id), None, Some(caller.user.id), action, &detail)
        .await;
    if let Err(e) = written {
        tracing::warn!(upload = %before.id, error = %e, "transfer note not written");
    }
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    check_version(&headers)?;
    let upload = load(&state, &caller, &id).await?;
    ensure_open(&state, &upload).await?;
    discard(&state, &upload).await;
    state.db.unbind_member(&upload.id).await?;
    state.db.delete_upload(&upload.id).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    tus_headers(response.headers_mut());
    Ok(response)
}

/// Frees an upload's storage; failures are logged, never fatal (the blobs are unreachable anyway).
async fn discard(state: &AppState, upload: &Upload) {
    let key = BlobKey::new(upload.blob_key.clone()).expect("upload keys are valid");
    if let Some(multipart) = &upload.multipart_id
        && let Err(e) = state.store.abort_multipart(&key, multipart).await
    {
        tracing::warn!(upload = %upload.id, error = %e, "could not abort a multipart upload");
    }
    if let Some(pending) = upload.pending_key.as_deref().and_then(|k| BlobKey::new(k).ok())
        && let Err(e) = state.store.delete(&pending).await
    {
        tracing::warn!(upload = %upload.id, error = %e, "could not delete a pending chunk");
    }
    // The finished blob, or on the local backend the file an unfinished upload is appended to.
    if upload.completed || state.store.local_path(&key).is_some() {
        let _ = state.store.delete(&key).await;
    }
}

/// Frees the storage of unfinished uploads whose time is up; returns how many.
///
/// Each upload is claimed first (removed only if it is still unfinished, expired and not being
/// written), so that a PATCH finishing it, a DELIVER using it or another instance's reaper never
/// lose bytes to this one: storage is freed only for what this call claimed. Works through every
/// batch.
pub async fn reap_expired(state: &AppState) -> ApiResult<usize> {
    const BATCH: i64 = 100;
    let mut reaped = 0;
    loop {
        let expired = state.db.expired_uploads(BATCH).await?;
        for upload in &expired {
            if reap(state, upload).await? {
                reaped += 1;
            }
        }
        if (expired.len() as i64) < BATCH {
            return Ok(reaped);
        }
    }
}

async fn reap(state: &AppState, upload: &Upload) -> ApiResult<bool> {
    if !state.db.claim_expired_upload(&upload.id).await? {
        return Ok(false);
    }
    state.db.unbind_member(&upload.id).await?;
    discard(state, upload).await;
    // The asset it was carrying will never get its bytes: Failed Delivery, with the reason. (The
    // delivery still names the upload after the claim removed it.)
    if let Some(asset_id) = state.db.asset_of_upload(&upload.id).await? {
        let asset = state.db.asset(asset_id).await?;
        if let Ok(next) = asset.state.next(hub_domain::AssetEvent::TransferFailed)
            && state.db.transition_asset(asset.id, asset.state, next).await.is_ok()
        {
            let detail =
                format!("the upload expired at {} of {} bytes; deliver the file again", upload.offset, asset.size);
            state.db.add_history(asset.project_id, Some(asset.id), None, None, "transfer_failed", &detail).await?;
        }
    }
    tracing::info!(upload = %upload.id, "expired upload removed");
    Ok(true)
}

/// What `Upload-Checksum` asks for.
enum Checksum {
    Md5(md5_many::Md5State, Vec<u8>),
    Sha1(sha1::Sha1, Vec<u8>),
    /// CRC-32 (IEEE), big-endian: cheap enough to check every chunk of a fast upload.
    Crc32(crc32fast::Hasher, Vec<u8>),
}

fn parse_checksum(headers: &HeaderMap) -> ApiResult<Option<Checksum>> {
    let Some(value) = headers.get("upload-checksum").and_then(|v| v.to_str().ok()) else { return Ok(None) };
    let (algorithm, digest) = value.trim().split_once(' ').unwrap_or((value, ""));
    let digest = base64::engine::general_purpose::STANDARD
        .decode(digest.trim())
        .map_err(|_| ApiError::bad_request("the Upload-Checksum digest is not base64"))?;
    match algorithm {
        "md5" => Ok(Some(Checksum::Md5(md5_many::Md5State::new(), digest))),
        "sha1" => Ok(Some(Checksum::Sha1(sha1::Sha1::new(), digest))),
        "crc32" => Ok(Some(Checksum::Crc32(crc32fast::Hasher::new(), digest))),
        other => {
            Err(ApiError::bad_request(format!("checksum algorithm {other:?} is not supported; use md5, sha1 or crc32")))
        }
    }
}

/// Receives a PATCH body at the upload's offset and stores it; returns the upload as recorded.
async fn append(state: &AppState, upload: Upload, headers: &HeaderMap, body: Body) -> ApiResult<Upload> {
    let upload = reconcile(state, upload).await?;
    let offset = header_i64(headers, "upload-offset")?.unwrap_or(0);
    if offset != upload.offset {
        return Err(tus_error(
            StatusCode::CONFLICT,
            "offset_mismatch",
            format!("the upload is at offset {}, not {offset}; continue from there", upload.offset),
        ));
    }
    let mut next = upload.clone();
    if let Some(length) = header_i64(headers, "upload-length")? {
        match upload.length {
            None if length >= upload.offset && length <= state.config.max_upload => next.length = Some(length),
            Some(known) if known == length => {}
            _ => return Err(ApiError::bad_request("Upload-Length cannot change once set")),
        }
    }
    let room = next.length.map_or(state.config.max_upload - offset, |l| l - offset);
    let checksum = parse_checksum(headers)?;
    if let Some(path) = state.store.local_path(&BlobKey::new(upload.blob_key.clone()).expect("upload keys are valid")) {
        return append_in_place(state, &upload, next, &path, room, checksum, body).await;
    }

    // Spool the body: bounded memory whatever its size, and nothing is kept before it is checked.
    let spool_path = state.config.spool_dir.join(format!("{}-{}", upload.id, random_token("", 12)));
    let _cleanup = RemoveOnDrop(spool_path.clone());
    let mut spool = tokio::fs::File::create(&spool_path).await.map_err(spool_error)?;
    let received = receive(body, room, checksum, &mut spool, &state.metrics).await?;
    drop(spool);

    if upload.completed {
        return Ok(upload); // an empty PATCH on a finished upload changes nothing
    }
    next.offset = offset + received;
    let finished = next.length == Some(next.offset);
    store_chunk(state, &upload, &mut next, &spool_path, received, finished).await?;
    next.completed = finished;
    next.expires_ms = expiry(state, now_ms());
    record(state, &next, upload.offset).await?;
    // The old pending chunk is superseded only once the new state is recorded.
    if let Some(old) = upload.pending_key.as_deref().filter(|k| Some(*k) != next.pending_key.as_deref())
        && let Ok(old) = BlobKey::new(old)
    {
        let _ = state.store.delete(&old).await;
    }
    Ok(next)
}

/// The local backend after a power cut: acknowledged bytes that had not reached the disk are gone,
/// so the offset goes back to what the upload's file holds and the client sends the rest again
/// (its next PATCH gets 409 with the offset to continue from). This is instead of syncing every
/// PATCH, which halved upload speed here; on ext4's default `data=ordered` a file never claims
/// bytes it lost. Whatever slipped through (zeros on other filesystems) fails the md5 check.
async fn reconcile(state: &AppState, upload: Upload) -> ApiResult<Upload> {
    if upload.completed || upload.offset == 0 {
        return Ok(upload);
    }
    let key = BlobKey::new(upload.blob_key.clone()).expect("upload keys are valid");
    let Some(path) = state.store.local_path(&key) else { return Ok(upload) };
    let on_disk = match tokio::fs::metadata(&path).await {
        Ok(meta) => meta.len() as i64,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(spool_error(e)),
    };
    if on_disk >= upload.offset {
        return Ok(upload);
    }
    let mut next = upload.clone();
    next.offset = on_disk;
    record(state, &next, upload.offset).await?;
    tracing::warn!(upload = %upload.id, acknowledged = upload.offset, on_disk, "an upload lost bytes it had acknowledged; its offset goes back");
    if let Some(asset_id) = state.db.asset_of_upload(&upload.id).await? {
        let detail = format!(
            "the hub's disk held {on_disk} of the {} bytes it had acknowledged (a power cut?); the upload continues from byte {on_disk}",
            upload.offset
        );
        state.db.add_history(upload.project_id, Some(asset_id), None, None, "transfer_interrupted", &detail).await?;
    }
    Ok(next)
}

/// Streams a PATCH body into `out`, at most `room` bytes, and checks its `Upload-Checksum`;
/// returns how many bytes arrived. On an error none of the body may be kept.
async fn receive(
    body: Body,
    room: i64,
    mut checksum: Option<Checksum>,
    out: &mut impl Sink,
    metrics: &super::ops::Metrics,
) -> ApiResult<i64> {
    let mut received: i64 = 0;
    let mut stream = body.into_data_stream();
    let mut interrupted = false;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(_) => {
                interrupted = true; // the client went away: keep what arrived (unless checksummed)
                break;
            }
        };
        received += chunk.len() as i64;
        metrics.upload_bytes_received.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
        if received > room {
            return Err(tus_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "the body goes past Upload-Length; nothing of it was kept",
            ));
        }
        match &mut checksum {
            Some(Checksum::Md5(state, _)) => state.update(&chunk),
            Some(Checksum::Sha1(state, _)) => state.update(&chunk),
            Some(Checksum::Crc32(state, _)) => state.update(&chunk),
            None => {}
        }
        out.put(chunk).await?;
    }
    out.finish().await?;
    if let Some(checksum) = checksum {
        let (computed, wanted): (Vec<u8>, Vec<u8>) = match checksum {
            Checksum::Md5(s, wanted) => (s.finalize().to_vec(), wanted),
            Checksum::Sha1(s, wanted) => (s.finalize().to_vec(), wanted),
            Checksum::Crc32(s, wanted) => (s.finalize().to_be_bytes().to_vec(), wanted),
        };
        if interrupted || computed != wanted {
            let why = if interrupted {
                "the connection dropped midway through a checksummed chunk"
            } else {
                "the chunk does not match its Upload-Checksum"
            };
            return Err(tus_error(
                StatusCode::from_u16(460).expect("460 is a valid status"),
                "checksum_mismatch",
                format!("{why}; it was discarded and the offset is unchanged"),
            ));
        }
    }
    Ok(received)
}

/// The local backend: the body goes straight into the upload's file at its offset. Bytes past the
/// recorded offset are not part of the upload until the new offset is recorded, so a refused
/// chunk or a crash loses nothing acknowledged: the file is cut back to the recorded offset first.
async fn append_in_place(
    state: &AppState,
    upload: &Upload,
    mut next: Upload,
    path: &std::path::Path,
    room: i64,
    checksum: Option<Checksum>,
    body: Body,
) -> ApiResult<Upload> {
    let at = upload.offset as u64;
    // A plain file written by one blocking thread: each body chunk goes to the kernel as it is,
    // without the copies and thread hops of an async file.
    let (sender, mut chunks) = tokio::sync::mpsc::channel::<Bytes>(16);
    let target = path.to_owned();
    let writer = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
        use std::io::{Seek, Write};
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = std::fs::OpenOptions::new().create(true).write(true).truncate(false).open(&target)?;
        file.set_len(at)?;
        file.seek(std::io::SeekFrom::Start(at))?;
        while let Some(chunk) = chunks.blocking_recv() {
            file.write_all(&chunk)?;
        }
        Ok(file)
    });
    let received = receive(body, room, checksum, &mut ChannelWriter(sender), &state.metrics).await;
    let written = writer.await.map_err(|_| ApiError::internal())?.map_err(spool_error);
    let received = match (received, written) {
        (Ok(received), Ok(_)) => received,
        (Err(e), _) | (_, Err(e)) => {
            // Refused or failed: what this PATCH wrote is cut away again.
            if let Ok(file) = std::fs::OpenOptions::new().write(true).open(path) {
                let _ = file.set_len(at);
            }
            return Err(e);
        }
    };
    if upload.completed {
        return Ok(upload.clone()); // an empty PATCH on a finished upload changes nothing
    }
    next.offset = upload.offset + received;
    next.completed = next.length == Some(next.offset);
    next.expires_ms = expiry(state, now_ms());
    record(state, &next, upload.offset).await?;
    Ok(next)
}

/// Records an upload's new offset (only if it is still at `expected`), and a package file whose
/// upload just completed.
async fn record(state: &AppState, next: &Upload, expected: i64) -> ApiResult<()> {
    state.db.advance_upload(next, expected).await.map_err(|e| match e {
        crate::db::RepoError::Conflict(message) => tus_error(StatusCode::CONFLICT, "offset_mismatch", message),
        other => ApiError::from(other),
    })?;
    if next.completed {
        state.db.complete_member(&next.id).await?;
    }
    Ok(())
}

/// Where [`receive`] puts a PATCH body.
trait Sink {
    async fn put(&mut self, chunk: Bytes) -> ApiResult<()>;
    async fn finish(&mut self) -> ApiResult<()>;
}

impl Sink for tokio::fs::File {
    async fn put(&mut self, chunk: Bytes) -> ApiResult<()> {
        self.write_all(&chunk).await.map_err(spool_error)
    }
    async fn finish(&mut self) -> ApiResult<()> {
        self.flush().await.map_err(spool_error)
    }
}

impl Sink for ChannelWriter {
    async fn put(&mut self, chunk: Bytes) -> ApiResult<()> {
        // The writer thread stopped: its error is reported when it is joined.
        self.0.send(chunk).await.map_err(|_| spool_error(std::io::ErrorKind::BrokenPipe.into()))
    }
    async fn finish(&mut self) -> ApiResult<()> {
        Ok(())
    }
}

/// Body chunks handed to the writer thread of [`append_in_place`].
struct ChannelWriter(tokio::sync::mpsc::Sender<Bytes>);

fn spool_error(e: std::io::Error) -> ApiError {
    tracing::error!(error = %e, "cannot spool an upload chunk");
    ApiError::internal()
}

struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Moves pending + spooled bytes into the blob store: whole parts as multipart parts, the rest as a
/// new pending blob, or everything into the final blob when the upload is finished.
async fn store_chunk(
    state: &AppState,
    before: &Upload,
    next: &mut Upload,
    spool_path: &std::path::Path,
    received: i64,
    finished: bool,
) -> ApiResult<()> {
    let store = &state.store;
    let key = BlobKey::new(next.blob_key.clone()).expect("upload keys are valid");
    let part_size = next.part_size as usize;
    let mut buffer: Vec<u8> = match before.pending_key.as_deref() {
        Some(pending) => {
            let pending = BlobKey::new(pending).expect("pending keys are valid");
            store.get_range(&pending, 0..before.pending_size as u64).await.map_err(store_error)?.to_vec()
        }
        None => Vec::new(),
    };
    let mut spool = tokio::fs::File::open(spool_path).await.map_err(spool_error)?;
    let mut left = received as usize;
    let mut read_buf = vec![0u8; 1 << 20];
    loop {
        while buffer.len() >= part_size {
            let rest = buffer.split_off(part_size);
            put_part(state, next, &key, std::mem::replace(&mut buffer, rest)).await?;
        }
        if left == 0 {
            break;
        }
        let n = spool.read(&mut read_buf[..left.min(1 << 20)]).await.map_err(spool_error)?;
        if n == 0 {
            return Err(spool_error(std::io::ErrorKind::UnexpectedEof.into()));
        }
        buffer.extend_from_slice(&read_buf[..n]);
        left -= n;
    }
    if finished {
        if next.multipart_id.is_none() && buffer.is_empty() {
            store.put_stream(&key, &mut &buffer[..]).await.map_err(store_error)?;
        } else {
            if !buffer.is_empty() || next.parts.is_empty() {
                put_part(state, next, &key, std::mem::take(&mut buffer)).await?;
            }
            let multipart = next.multipart_id.clone().expect("a part was stored");
            store.complete_multipart(&key, &multipart, next.parts.clone()).await.map_err(store_error)?;
        }
        next.pending_key = None;
        next.pending_size = 0;
    } else if buffer.is_empty() {
        next.pending_key = None;
        next.pending_size = 0;
    } else {
        let pending = BlobKey::new(format!("uploads/{}/pending-{}", next.id, next.offset)).expect("valid key");
        store.put_stream(&pending, &mut &buffer[..]).await.map_err(store_error)?;
        next.pending_key = Some(pending.to_string());
        next.pending_size = buffer.len() as i64;
    }
    Ok(())
}

async fn put_part(state: &AppState, next: &mut Upload, key: &BlobKey, data: Vec<u8>) -> ApiResult<()> {
    if next.multipart_id.is_none() {
        next.multipart_id = Some(state.store.create_multipart(key).await.map_err(store_error)?);
    }
    let multipart = next.multipart_id.clone().expect("just created");
    let index = next.parts.len();
    let part: PartRef = state.store.put_part(key, &multipart, index, Bytes::from(data)).await.map_err(store_error)?;
    next.parts.push(part);
    Ok(())
}

pub(crate) fn store_error(e: crate::store::StoreError) -> ApiError {
    tracing::error!(error = %e, "blob storage failed during an upload");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "storage_unavailable",
        "the storage did not take the data; retry from the last offset",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_sizes_respect_s3_limits() {
        assert_eq!(part_size_for(Some(0)), MIN_PART);
        assert_eq!(part_size_for(Some(1 << 30)), MIN_PART);
        let huge = 500i64 << 30;
        let part = part_size_for(Some(huge));
        assert!(ceil_div(huge, part) <= 10_000 && part % (1 << 20) == 0, "{part}");
        assert!(part_size_for(None) >= 5 << 20);
    }

    #[test]
    fn metadata_is_base64_pairs() {
        let parsed = parse_metadata("filename cmVlbDEud2F2,project MQ==,empty").unwrap();
        assert_eq!(
            parsed,
            vec![
                ("filename".into(), "reel1.wav".into()),
                ("project".into(), "1".into()),
                ("empty".into(), String::new())
            ]
        );
        let err = parse_metadata("filename !!!").unwrap_err();
        assert_eq!(err.status, axum::http::StatusCode::BAD_REQUEST);
        assert!(err.body.message.contains("\"filename\" is not base64"), "{}", err.body.message);
    }
}
