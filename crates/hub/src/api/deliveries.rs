//! Deliveries over HTTP: declare, look, DELIVER. The service is `app::deliveries`.

use axum::extract::State;
use axum::http::StatusCode;

use super::extract::{Json, Path};
use crate::app::access::Caller;
use crate::app::deliveries::{self, Declared, DeliveryView, NewDelivery};
use crate::app::{AppResult, Hub};

pub async fn create(
    State(hub): State<Hub>,
    caller: Caller,
    Path(project_id): Path<i64>,
    Json(new): Json<NewDelivery>,
) -> AppResult<(StatusCode, Json<DeliveryView>)> {
    let (declared, view) = deliveries::declare(&hub, &caller, project_id, new).await?;
    let status = if declared == Declared::New { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(view)))
}

pub async fn get(State(hub): State<Hub>, caller: Caller, Path(id): Path<i64>) -> AppResult<Json<DeliveryView>> {
    Ok(Json(deliveries::get(&hub, &caller, id).await?))
}

/// DELIVER: every upload must be complete. Assets become Delivered, their requests Submitted.
pub async fn deliver(State(hub): State<Hub>, caller: Caller, Path(id): Path<i64>) -> AppResult<Json<DeliveryView>> {
    Ok(Json(deliveries::deliver(&hub, &caller, id).await?))
}
