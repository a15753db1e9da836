//! Signing in and out, who am I, API tokens.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::{Caller, SESSION_COOKIE, cookie};
use super::error::{ApiError, ApiResult};
use super::extract::{Json, Path};
use crate::db::{ApiToken, Project, RepoError, User, now_ms};
use crate::secrets::{random_token, verify_password};

#[derive(Debug, Deserialize)]
pub struct Login {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize)]
pub struct SessionInfo {
    pub user: User,
    /// Send as `X-CSRF-Token` with every request that changes something.
    pub csrf_token: String,
    pub expires_ms: i64,
}

pub async fn login(State(state): State<AppState>, Json(login): Json<Login>) -> ApiResult<Response> {
    let (info, cookie) = start_session(&state, &login.username, &login.password).await?;
    let mut response = Json(info).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// Checks the credentials (rate-limited per user name, same time whether or not the user exists)
/// and opens a session: its details and the `Set-Cookie` value.
pub async fn start_session(state: &AppState, username: &str, password: &str) -> ApiResult<(SessionInfo, HeaderValue)> {
    let username = username.trim();
    state.limiter.check(username)?;
    let bad = || ApiError::new(StatusCode::UNAUTHORIZED, "bad_credentials", "wrong user name or password");
    let (user, hash) = match state.db.user_for_login(username).await {
        Ok(found) => found,
        Err(RepoError::NotFound) => {
            // Spend the same time as a real check, so that timing does not reveal which names exist.
            let password = password.to_owned();
            let _ = tokio::task::spawn_blocking(move || verify_password(&password, crate::secrets::dummy_hash())).await;
            state.limiter.failed(username);
            return Err(bad());
        }
        Err(e) => return Err(e.into()),
    };
    let password = password.to_owned();
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await.unwrap_or(false);
    if !ok {
        state.limiter.failed(username);
        return Err(bad());
    }
    state.limiter.succeeded(username);
    let token = random_token("chs_", 32);
    let csrf = random_token("", 24);
    let expires_ms = now_ms() + state.config.session_lifetime.as_millis() as i64;
    state.db.create_session(&token, user.id, &csrf, expires_ms).await?;
    let secure = if state.config.secure_cookies { "; Secure" } else { "" };
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        state.config.session_lifetime.as_secs().max(1)
    );
    Ok((SessionInfo { user, csrf_token: csrf, expires_ms }, HeaderValue::from_str(&cookie).expect("ASCII cookie")))
}

/// Ends the session in the request's cookie, if any; returns the `Set-Cookie` value that clears it.
pub async fn end_session(state: &AppState, headers: &HeaderMap) -> ApiResult<HeaderValue> {
    if let Some(token) = cookie(headers, SESSION_COOKIE) {
        state.db.delete_session(token).await?;
    }
    let expired = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    Ok(HeaderValue::from_str(&expired).expect("ASCII cookie"))
}

pub async fn logout(State(state): State<AppState>, _caller: Caller, headers: HeaderMap) -> ApiResult<Response> {
    let cookie = end_session(&state, &headers).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

#[derive(Debug, Serialize)]
pub struct Me {
    pub user: User,
    pub projects: Vec<Project>,
    pub via_token: bool,
}

pub async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Me>> {
    let projects = state.db.projects_for(&caller.user).await?;
    Ok(Json(Me { user: caller.user, projects, via_token: caller.principal.via_token }))
}

#[derive(Debug, Deserialize)]
pub struct NewToken {
    pub name: String,
}

#[derive(Debug, Serialize)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub token: ApiToken,
    /// Shown once; only its hash is stored.
    pub secret: String,
}

pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let name = new.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::bad_request("give the token a name of 1 to 100 characters (what uses it)"));
    }
    let secret = random_token("cht_", 32);
    let token = state.db.create_token(caller.user.id, name, &secret).await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { token, secret })))
}

pub async fn list_tokens(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<ApiToken>>> {
    Ok(Json(state.db.tokens(caller.user.id).await?))
}

pub async fn revoke_token(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    state.db.revoke_token(caller.user.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
