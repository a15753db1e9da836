//! Signing in and out, who am I, API tokens.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hub_domain::TokenScope;
use serde::Deserialize;

use api_types::{CreatedToken, Me};

use super::extract::{Json, Path};
use crate::app::access::{Caller, ClientAddress};
use crate::app::sessions::{end_session, start_session};
use crate::app::{AppResult, Hub, tokens};
use crate::db::ApiToken;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Login {
    pub username: String,
    pub password: String,
}

pub async fn login(
    State(state): State<Hub>,
    axum::Extension(from): axum::Extension<ClientAddress>,
    Json(login): Json<Login>,
) -> AppResult<Response> {
    let (info, cookie) = start_session(&state, &login.username, &login.password, from).await?;
    let mut response = Json(info).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

pub async fn logout(State(state): State<Hub>, _caller: Caller, headers: HeaderMap) -> AppResult<Response> {
    let cookie = end_session(&state, &headers).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

pub async fn me(State(state): State<Hub>, caller: Caller) -> AppResult<Json<Me>> {
    let projects = state.db.projects_for(&caller.user).await?;
    Ok(Json(Me { user: caller.user, projects, via_token: caller.principal.via_token() }))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct NewToken {
    pub name: String,
    /// read, deliver (the default) or manage.
    #[serde(default)]
    pub scope: Option<TokenScope>,
    /// Days until it expires (default 90; 0: never).
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

pub async fn create_token(
    State(state): State<Hub>,
    caller: Caller,
    Json(new): Json<NewToken>,
) -> AppResult<(StatusCode, Json<CreatedToken>)> {
    let scope = new.scope.unwrap_or(TokenScope::Deliver);
    let (token, secret) = tokens::create(&state, &caller, &new.name, scope, new.expires_in_days).await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { token, secret })))
}

pub async fn list_tokens(State(state): State<Hub>, caller: Caller) -> AppResult<Json<Vec<ApiToken>>> {
    Ok(Json(state.db.tokens(caller.user.id).await?))
}

pub async fn revoke_token(State(state): State<Hub>, caller: Caller, Path(id): Path<i64>) -> AppResult<StatusCode> {
    state.db.revoke_token(caller.user.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
