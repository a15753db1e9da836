//! Deliveries: declare the files (names, sizes, declared md5, metadata, and for request-based
//! buckets the request each fulfils), upload each through tus, then DELIVER them together.
//! Everything is checked when the delivery is created, before a single byte moves.

use std::collections::{BTreeSet, HashSet};

use axum::extract::State;
use axum::http::StatusCode;
use hub_domain::access::Action;
use hub_domain::metadata::apply_patch;
use hub_domain::names::check_delivery_name;
use hub_domain::{AssetEvent, AssetState, FieldError, Metadata, RequestEvent};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::AppState;
use super::assets::bucket;
use super::auth::{Caller, authorize};
use super::error::{ApiError, ApiResult};
use super::extract::{Json, Path};
use super::tus::{MAX_UPLOAD, encode_metadata, open_upload};
use crate::db::{DeliverPlan, Delivery, NewAsset, PlannedAsset, PlannedRequest};

/// Files one delivery may declare (a zipless frame sequence as one package comes later).
pub const MAX_FILES: usize = 10_000;

#[derive(Debug, Deserialize)]
pub struct NewFile {
    pub name: String,
    pub size: i64,
    /// Hex md5 the vendor computed; the hub compares its own with it.
    pub md5: Option<String>,
    #[serde(default)]
    pub metadata: Map<String, Value>,
    pub request_id: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct NewDelivery {
    pub bucket: String,
    pub files: Vec<NewFile>,
}

#[derive(Debug, Serialize)]
pub struct FileView {
    pub asset_id: i64,
    pub name: String,
    pub version: i64,
    pub size: i64,
    pub state: AssetState,
    /// The tus upload URL for this file.
    pub upload: String,
    pub offset: i64,
    pub complete: bool,
}

#[derive(Debug, Serialize)]
pub struct DeliveryView {
    #[serde(flatten)]
    pub delivery: Delivery,
    pub files: Vec<FileView>,
}

fn field(index: usize, name: &str, message: impl Into<String>) -> FieldError {
    FieldError { field: format!("files[{index}].{name}"), message: message.into() }
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<i64>,
    Json(new): Json<NewDelivery>,
) -> ApiResult<(StatusCode, Json<DeliveryView>)> {
    let bucket = bucket(&new.bucket)?;
    authorize(&state, &caller, project_id, Action::Deliver(bucket)).await?;
    if new.files.is_empty() {
        return Err(ApiError::bad_request("a delivery needs at least one file"));
    }
    if new.files.len() > MAX_FILES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_files",
            format!("a delivery takes at most {MAX_FILES} files; split it"),
        ));
    }
    // Check everything first: nothing is created unless every file is acceptable.
    let mut errors = Vec::new();
    let mut names = HashSet::new();
    let mut planned: Vec<Metadata> = Vec::with_capacity(new.files.len());
    for (i, file) in new.files.iter().enumerate() {
        if let Err(issue) = check_delivery_name(&file.name) {
            errors.push(field(i, "name", format!("{}: {issue}", file.name)));
        } else if file.name.is_empty() {
            errors.push(field(i, "name", "a file needs a name"));
        }
        if !names.insert(file.name.as_str()) {
            errors.push(field(i, "name", format!("{} is in this delivery twice", file.name)));
        }
        if !(0..=MAX_UPLOAD).contains(&file.size) {
            errors.push(field(i, "size", format!("size must be between 0 and {MAX_UPLOAD} bytes")));
        }
        if let Some(md5) = &file.md5
            && (md5.len() != 32 || !md5.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            errors.push(field(i, "md5", "md5 is 32 hexadecimal digits"));
        }
        match apply_patch(bucket, &Metadata::new(), &file.metadata) {
            Ok(metadata) => planned.push(metadata),
            Err(fields) => {
                planned.push(Metadata::new());
                errors.extend(fields.into_iter().map(|f| field(i, &format!("metadata.{}", f.field), f.message)));
            }
        }
        match (bucket.request_based(), file.request_id) {
            (true, None) => {
                errors.push(field(i, "request_id", format!("{} files fulfil a request: choose one", bucket.title())))
            }
            (false, Some(_)) => errors.push(field(i, "request_id", format!("{} takes no requests", bucket.title()))),
            (true, Some(id)) => match state.db.request(id).await {
                Ok(r) if r.project_id == project_id && r.bucket == bucket && r.state.accepts_deliveries() => {}
                Ok(r) if r.project_id == project_id && r.bucket == bucket => {
                    errors.push(field(i, "request_id", format!("request {id} is {} and takes no more files", r.state)))
                }
                Ok(_) | Err(crate::db::RepoError::NotFound) => {
                    errors.push(field(i, "request_id", format!("there is no request {id} in this bucket")))
                }
                Err(e) => return Err(e.into()),
            },
            (false, None) => {}
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid("nothing was created: some files are not acceptable", errors));
    }

    let delivery = state.db.create_delivery(project_id, bucket, caller.user.id).await?;
    for (file, metadata) in new.files.iter().zip(planned) {
        let asset = state
            .db
            .create_asset(&NewAsset {
                project_id,
                bucket,
                name: file.name.clone(),
                state: AssetState::InProgress,
                size: file.size,
                md5: file.md5.as_ref().map(|m| m.to_lowercase()),
                metadata,
                request_id: file.request_id,
                created_by: Some(caller.user.id),
            })
            .await?;
        let raw = encode_metadata(&[
            ("project", &project_id.to_string()),
            ("bucket", bucket.slug()),
            ("filename", &file.name),
            ("delivery", &delivery.id.to_string()),
        ]);
        let upload = open_upload(&state, project_id, bucket, caller.user.id, Some(file.size), raw, None).await?;
        state.db.add_delivery_file(delivery.id, asset.id, &upload.id).await?;
        let detail = format!("{} v{} declared in delivery {}", asset.name, asset.version, delivery.id);
        state
            .db
            .add_history(project_id, Some(asset.id), None, Some(caller.user.id), "delivery_created", &detail)
            .await?;
    }
    Ok((StatusCode::CREATED, Json(view(&state, delivery).await?)))
}

async fn view(state: &AppState, delivery: Delivery) -> ApiResult<DeliveryView> {
    let mut files = Vec::new();
    for file in state.db.delivery_files(delivery.id).await? {
        let asset = state.db.asset(file.asset_id).await?;
        let upload = state.db.upload(&file.upload_id).await.ok();
        files.push(FileView {
            asset_id: asset.id,
            name: asset.name,
            version: asset.version,
            size: asset.size,
            state: asset.state,
            upload: format!("/api/v1/uploads/{}", file.upload_id),
            offset: upload.as_ref().map_or(0, |u| u.offset),
            complete: upload.as_ref().is_some_and(|u| u.completed),
        });
    }
    Ok(DeliveryView { delivery, files })
}

async fn load(state: &AppState, caller: &Caller, id: i64, write: bool) -> ApiResult<Delivery> {
    let delivery = state.db.delivery(id).await?;
    let action = if write { Action::Deliver } else { Action::ViewBucket };
    authorize(state, caller, delivery.project_id, action(delivery.bucket)).await?;
    Ok(delivery)
}

pub async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> ApiResult<Json<DeliveryView>> {
    let delivery = load(&state, &caller, id, false).await?;
    Ok(Json(view(&state, delivery).await?))
}

/// DELIVER: every upload must be complete. Assets become Delivered, their requests Submitted.
pub async fn deliver(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<DeliveryView>> {
    let delivery = load(&state, &caller, id, true).await?;
    if delivery.state != "open" {
        return Err(ApiError::conflict("this delivery was already delivered"));
    }
    let files = state.db.delivery_files(id).await?;
    let mut incomplete = Vec::new();
    let mut uploads = Vec::with_capacity(files.len());
    for file in &files {
        let upload = match state.db.upload(&file.upload_id).await {
            Ok(upload) => upload,
            Err(crate::db::RepoError::NotFound) => {
                let asset = state.db.asset(file.asset_id).await?;
                return Err(ApiError::conflict(format!(
                    "{} is {}: its upload expired before it was complete; declare it again in a new delivery",
                    asset.name, asset.state
                )));
            }
            Err(e) => return Err(e.into()),
        };
        if !upload.completed {
            let asset = state.db.asset(file.asset_id).await?;
            incomplete.push(format!("{} ({} of {} bytes)", asset.name, upload.offset, asset.size));
        }
        uploads.push(upload);
    }
    if !incomplete.is_empty() {
        return Err(ApiError::conflict(format!(
            "{} file(s) are not fully uploaded yet: {}",
            incomplete.len(),
            incomplete.join(", ")
        )));
    }
    let mut plan = DeliverPlan {
        delivery_id: id,
        project_id: delivery.project_id,
        user_id: caller.user.id,
        job_kind: crate::worker::VALIDATE,
        assets: Vec::with_capacity(files.len()),
        requests: Vec::new(),
    };
    let mut requests = BTreeSet::new();
    for (file, upload) in files.iter().zip(&uploads) {
        let asset = state.db.asset(file.asset_id).await?;
        let next = asset.state.next(AssetEvent::TransferCompleted)?;
        plan.assets.push(PlannedAsset { id: asset.id, blob_key: upload.blob_key.clone(), from: asset.state, to: next });
        requests.extend(asset.request_id);
    }
    for request_id in requests {
        let request = state.db.request(request_id).await?;
        let next = request.state.next(RequestEvent::FilesDelivered)?;
        plan.requests.push(PlannedRequest { id: request_id, from: request.state, to: next });
    }
    state.db.deliver(&plan).await?;
    let delivery = state.db.delivery(id).await?;
    Ok(Json(view(&state, delivery).await?))
}
