//! Requests in the request-based buckets: listed by everyone who sees the bucket, created, edited
//! and moved on (accept, ask for redelivery, reject, reopen) by the project's managers.

use axum::extract::State;
use axum::http::StatusCode;
use hub_domain::access::Action;
use hub_domain::metadata::canonical;
use hub_domain::{BucketKind, FieldError, HistoryAction, Metadata, RequestEvent, RequestState};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::extract::{Json, Path, Query};
use crate::app::Hub;
use crate::app::access::{Caller, authorize};
use crate::app::assets::bucket;
use crate::app::{AppError, AppResult};
use crate::db::{HistoryEntry, Request};

fn request_bucket(slug: &str) -> AppResult<BucketKind> {
    let bucket = bucket(slug)?;
    if !bucket.request_based() {
        return Err(AppError::bad_request(format!("{} does not take requests", bucket.title())));
    }
    Ok(bucket)
}

/// Request metadata names what is wanted; every field is optional, each must fit the schema.
fn request_metadata(bucket: BucketKind, input: &Map<String, Value>) -> AppResult<Metadata> {
    let mut metadata = Metadata::new();
    let mut errors = Vec::new();
    for (key, value) in input {
        match bucket.field(key) {
            None => {
                errors.push(FieldError { field: key.clone(), message: format!("is not a field of {}", bucket.title()) })
            }
            Some(_) if value.is_null() => {}
            Some(field) => match canonical(field, value) {
                Ok(v) => {
                    metadata.insert(key.clone(), v);
                }
                Err(message) => errors.push(FieldError { field: key.clone(), message }),
            },
        }
    }
    if errors.is_empty() { Ok(metadata) } else { Err(AppError::invalid("the request's metadata is not valid", errors)) }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListParams {
    pub state: Option<String>,
}

pub async fn list(
    State(state): State<Hub>,
    caller: Caller,
    Path((project_id, slug)): Path<(i64, String)>,
    Query(params): Query<ListParams>,
) -> AppResult<Json<Vec<Request>>> {
    let bucket = request_bucket(&slug)?;
    authorize(&state, &caller, project_id, Action::ViewBucket(bucket)).await?;
    let wanted = match params.state.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => {
            Some(RequestState::parse(s).ok_or_else(|| AppError::bad_request(format!("unknown request state {s:?}")))?)
        }
    };
    Ok(Json(state.db.list_requests(project_id, bucket, wanted).await?))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RequestBody {
    pub title: Option<String>,
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

fn title(body: &RequestBody) -> AppResult<String> {
    let title = body.title.as_deref().map(str::trim).unwrap_or_default();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(AppError::invalid(
            "a request needs a title",
            vec![FieldError { field: "title".into(), message: "Title has 1 to 200 characters".into() }],
        ));
    }
    Ok(title.to_owned())
}

pub async fn create(
    State(state): State<Hub>,
    caller: Caller,
    Path((project_id, slug)): Path<(i64, String)>,
    Json(body): Json<RequestBody>,
) -> AppResult<(StatusCode, Json<Request>)> {
    let bucket = request_bucket(&slug)?;
    authorize(&state, &caller, project_id, Action::ManageBucket(bucket)).await?;
    let title = title(&body)?;
    let metadata = request_metadata(bucket, &body.metadata)?;
    let request = state.db.create_request(project_id, bucket, &title, &metadata).await?;
    state
        .db
        .add_history(project_id, None, Some(request.id), Some(caller.user.id), HistoryAction::RequestCreated, &title)
        .await?;
    Ok((StatusCode::CREATED, Json(request)))
}

async fn load(state: &Hub, caller: &Caller, id: i64, manage: bool) -> AppResult<Request> {
    let request = state.db.request(id).await?;
    let action = if manage { Action::ManageBucket } else { Action::ViewBucket };
    authorize(state, caller, request.project_id, action(request.bucket)).await?;
    Ok(request)
}

pub async fn get(State(state): State<Hub>, caller: Caller, Path(id): Path<i64>) -> AppResult<Json<Request>> {
    Ok(Json(load(&state, &caller, id, false).await?))
}

pub async fn history(
    State(state): State<Hub>,
    caller: Caller,
    Path(id): Path<i64>,
) -> AppResult<Json<Vec<HistoryEntry>>> {
    load(&state, &caller, id, false).await?;
    Ok(Json(state.db.history(None, Some(id)).await?))
}

pub async fn update(
    State(state): State<Hub>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<RequestBody>,
) -> AppResult<Json<Request>> {
    let request = load(&state, &caller, id, true).await?;
    let title = if body.title.is_some() { title(&body)? } else { request.title.clone() };
    let metadata = request_metadata(request.bucket, &body.metadata)?;
    state.db.update_request(id, &title, &metadata).await?;
    state
        .db
        .add_history(request.project_id, None, Some(id), Some(caller.user.id), HistoryAction::RequestEdited, &title)
        .await?;
    Ok(Json(state.db.request(id).await?))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Transition {
    pub event: RequestEvent,
    pub reason: Option<String>,
}

pub async fn transition(
    State(state): State<Hub>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<Transition>,
) -> AppResult<Json<Request>> {
    let request = load(&state, &caller, id, true).await?;
    if !matches!(
        body.event,
        RequestEvent::Accept | RequestEvent::AskRedelivery | RequestEvent::Reject | RequestEvent::Reopen
    ) {
        return Err(AppError::bad_request(
            "managers accept, ask_redelivery, reject or reopen; the other events come from deliveries and validation",
        ));
    }
    let reason = body.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
    if matches!(body.event, RequestEvent::AskRedelivery | RequestEvent::Reject) && reason.is_none() {
        return Err(AppError::invalid(
            "say why, so that the vendor can act on it",
            vec![FieldError { field: "reason".into(), message: "Reason is required".into() }],
        ));
    }
    let next = request.state.next(body.event)?;
    state.db.transition_request(id, request.state, next, reason).await?;
    let detail = format!("{} -> {}{}", request.state, next, reason.map(|r| format!(": {r}")).unwrap_or_default());
    state
        .db
        .add_history(request.project_id, None, Some(id), Some(caller.user.id), HistoryAction::RequestState, &detail)
        .await?;
    Ok(Json(state.db.request(id).await?))
}
