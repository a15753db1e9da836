//! Browsing a bucket's assets, one asset, metadata edits (one or many at once), deletion, history.

use axum::extract::State;
use axum::http::StatusCode;
use hub_domain::access::Action;
use hub_domain::metadata::apply_patch;
use hub_domain::{BucketKind, FieldError, HistoryAction};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::extract::{Json, Path, Query};
use crate::app::Hub;
use crate::app::access::{Caller, authorize};
use crate::app::assets::{asset_query, bucket};
use crate::app::{AppError, AppResult};
use crate::db::{Asset, HistoryEntry, Page};

/// The most assets one bulk edit may touch.
pub const MAX_BULK: usize = 1000;

/// `GET …/buckets/{b}/assets?state=&q=&sort=name|updated&order=asc|desc&after=&limit=&meta.FIELD=VALUE`
pub async fn list(
    State(state): State<Hub>,
    caller: Caller,
    Path((project_id, slug)): Path<(i64, String)>,
    Query(params): Query<Vec<(String, String)>>,
) -> AppResult<Json<Page<Asset>>> {
    let bucket = bucket(&slug)?;
    authorize(&state, &caller, project_id, Action::ViewBucket(bucket)).await?;
    let query = asset_query(bucket, params)?;
    Ok(Json(state.db.list_assets(project_id, bucket, &query).await?))
}

/// Loads an asset the caller can see (404 otherwise, as for a missing one) and, for a write,
/// checks that they may do `write` on its bucket (403 with the reason otherwise).
async fn load(state: &Hub, caller: &Caller, id: i64, write: Option<fn(BucketKind) -> Action>) -> AppResult<Asset> {
    let asset = state.db.asset(id).await?;
    let action = write.unwrap_or(Action::ViewBucket);
    authorize(state, caller, asset.project_id, action(asset.bucket)).await?;
    Ok(asset)
}

pub async fn get(State(state): State<Hub>, caller: Caller, Path(id): Path<i64>) -> AppResult<Json<Asset>> {
    Ok(Json(load(&state, &caller, id, None).await?))
}

pub async fn history(
    State(state): State<Hub>,
    caller: Caller,
    Path(id): Path<i64>,
) -> AppResult<Json<Vec<HistoryEntry>>> {
    load(&state, &caller, id, None).await?;
    Ok(Json(state.db.history(Some(id), None).await?))
}

/// The validation report: one result per check, newest run last.
pub async fn validation(
    State(state): State<Hub>,
    caller: Caller,
    Path(id): Path<i64>,
) -> AppResult<Json<Vec<crate::db::CheckResult>>> {
    load(&state, &caller, id, None).await?;
    Ok(Json(state.db.checks(id).await?))
}

/// A page of a package's files: 1,000 names unless asked, at most 5,000.
fn page_limit(asked: Option<i64>) -> AppResult<i64> {
    match asked.unwrap_or(1000) {
        limit @ 1..=5000 => Ok(limit),
        _ => Err(AppError::bad_request("limit is 1 to 5000")),
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct MembersQuery {
    #[serde(default)]
    pub after: String,
    pub limit: Option<i64>,
    #[serde(default)]
    pub incomplete: bool,
}

/// A page of a package's files, with each one's upload and progress.
pub async fn members(
    State(state): State<Hub>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(query): Query<MembersQuery>,
) -> AppResult<Json<Vec<crate::db::PackageMember>>> {
    let asset = load(&state, &caller, id, None).await?;
    if asset.package_files.is_none() {
        return Err(AppError::conflict(format!("{} is a single file, not a package", asset.name)));
    }
    let limit = page_limit(query.limit)?;
    Ok(Json(state.db.package_members(id, &query.after, limit, query.incomplete).await?))
}

/// Revalidation is an explicit action of a manager (`app::assets::revalidate`).
pub async fn revalidate(State(state): State<Hub>, caller: Caller, Path(id): Path<i64>) -> AppResult<Json<Asset>> {
    let asset = load(&state, &caller, id, Some(Action::ManageBucket)).await?;
    Ok(Json(crate::app::assets::revalidate(&state, &caller, &asset).await?))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct FilesQuery {
    #[serde(default)]
    pub after: String,
    pub limit: Option<i64>,
}

/// A page of a validated package's files (a frame-sequence ZIP's or a zipless package's), by
/// name, as its latest validation found each: size, md5, result.
pub async fn files(
    State(state): State<Hub>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(query): Query<FilesQuery>,
) -> AppResult<Json<Vec<crate::db::PackageFile>>> {
    let asset = load(&state, &caller, id, None).await?;
    match state.db.package_files(id, &query.after, page_limit(query.limit)? as usize).await? {
        Some((page, _)) => Ok(Json(page)),
        None => Err(AppError::conflict(format!(
            "{} has no list of files: it is not a package, or no validation has read it yet",
            asset.name
        ))),
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct MetadataPatch {
    /// Fields to set; `null` removes one.
    pub metadata: Map<String, Value>,
}

pub async fn update(
    State(state): State<Hub>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(patch): Json<MetadataPatch>,
) -> AppResult<Json<Asset>> {
    let asset = load(&state, &caller, id, Some(Action::Deliver)).await?;
    let metadata = apply_patch(asset.bucket, &asset.metadata, &patch.metadata)
        .map_err(|fields| AppError::invalid(format!("the metadata of {} is not valid", asset.name), fields))?;
    state.db.set_asset_metadata(id, &metadata).await?;
    let detail = serde_json::to_string(&patch.metadata).unwrap_or_default();
    state
        .db
        .add_history(asset.project_id, Some(id), None, Some(caller.user.id), HistoryAction::MetadataEdited, &detail)
        .await?;
    Ok(Json(state.db.asset(id).await?))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct BulkPatch {
    pub ids: Vec<i64>,
    pub metadata: Map<String, Value>,
}

/// The bulk edit: one patch applied to many assets of one bucket. Every asset is checked first;
/// if any would be invalid nothing changes, and the errors say which asset and which field.
pub async fn bulk_update(
    State(state): State<Hub>,
    caller: Caller,
    Path((project_id, slug)): Path<(i64, String)>,
    Json(patch): Json<BulkPatch>,
) -> AppResult<Json<Vec<Asset>>> {
    let bucket = bucket(&slug)?;
    authorize(&state, &caller, project_id, Action::Deliver(bucket)).await?;
    if patch.ids.is_empty() {
        return Err(AppError::bad_request("select at least one asset"));
    }
    if patch.ids.len() > MAX_BULK {
        return Err(AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_assets",
            format!("a bulk edit takes at most {MAX_BULK} assets; split the selection"),
        ));
    }
    let mut planned = Vec::with_capacity(patch.ids.len());
    let mut errors = Vec::new();
    for id in &patch.ids {
        let asset = match state.db.asset(*id).await {
            Ok(a) if a.project_id == project_id && a.bucket == bucket => a,
            Ok(_) | Err(crate::db::RepoError::NotFound) => {
                errors.push(FieldError {
                    field: format!("ids[{id}]"),
                    message: format!("asset {id} is not in this bucket"),
                });
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        match apply_patch(bucket, &asset.metadata, &patch.metadata) {
            Ok(metadata) => planned.push((asset, metadata)),
            Err(fields) => errors.extend(fields.into_iter().map(|f| FieldError {
                field: format!("{}.{}", asset.id, f.field),
                message: format!("{}: {}", asset.name, f.message),
            })),
        }
    }
    if !errors.is_empty() {
        return Err(AppError::invalid("nothing was changed: some assets would not be valid", errors));
    }
    let detail = serde_json::to_string(&patch.metadata).unwrap_or_default();
    let mut updated = Vec::with_capacity(planned.len());
    for (asset, metadata) in planned {
        state.db.set_asset_metadata(asset.id, &metadata).await?;
        state
            .db
            .add_history(project_id, Some(asset.id), None, Some(caller.user.id), HistoryAction::MetadataEdited, &detail)
            .await?;
        updated.push(Asset { metadata, ..asset });
    }
    Ok(Json(updated))
}

pub async fn delete(State(state): State<Hub>, caller: Caller, Path(id): Path<i64>) -> AppResult<StatusCode> {
    let asset = load(&state, &caller, id, Some(Action::DeleteAsset)).await?;
    state.db.delete_asset(id).await?;
    let detail = format!("{} v{} deleted", asset.name, asset.version);
    state
        .db
        .add_history(asset.project_id, None, None, Some(caller.user.id), HistoryAction::AssetDeleted, &detail)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
