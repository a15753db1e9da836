//! Who is calling: an API token (`Authorization: Bearer …`) or a browser session cookie. Session
//! requests that change state must also carry the session's CSRF token in `X-CSRF-Token`, which a
//! page of another site cannot read, so a forged form or fetch is refused.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use hub_domain::Principal;
use hub_domain::access::{Action, Decision, decide};

use super::AppState;
use super::error::{ApiError, ApiResult};
use crate::db::{Member, RepoError, User};

pub const SESSION_COOKIE: &str = "contenthub_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub principal: Principal,
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or_else(|| ApiError::bad_request("the Authorization header must be `Bearer TOKEN`"))?;
            let user = state.db.user_for_token(token.trim()).await.map_err(unknown_is_unauthenticated)?;
            let principal = Principal { user_id: user.id, site_admin: user.site_admin, via_token: true };
            return Ok(Caller { user, principal });
        }
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or_else(ApiError::unauthenticated)?;
        let (caller, csrf) = session_caller(state, token).await.map_err(unknown_is_unauthenticated)?;
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if sent != Some(csrf.as_str()) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "csrf",
                    "missing or wrong X-CSRF-Token header: send the csrf_token you got when signing in",
                ));
            }
        }
        Ok(caller)
    }
}

/// The caller behind a session cookie's token, and the session's CSRF token.
pub async fn session_caller(state: &AppState, token: &str) -> Result<(Caller, String), RepoError> {
    let (user, csrf) = state.db.session(token).await?;
    let principal = Principal { user_id: user.id, site_admin: user.site_admin, via_token: false };
    Ok((Caller { user, principal }, csrf))
}

fn unknown_is_unauthenticated(e: RepoError) -> ApiError {
    match e {
        RepoError::NotFound => {
            let mut error = ApiError::unauthenticated();
            error.body.message = "the session has expired or the token is not valid; sign in again".into();
            error
        }
        other => other.into(),
    }
}

/// Whether the caller may also do `action` in a project where `authorize` found this membership
/// (no second look at the database).
pub fn allows(caller: &Caller, member: Option<&Member>, action: Action) -> bool {
    decide(&caller.principal, member.map(Member::membership).as_ref(), action) == Decision::Allow
}

/// Checks `action` in `project_id` for the caller; returns their membership (none for site admins
/// who are not members). Everything a caller may not see is 404, whether or not it exists.
pub async fn authorize(
    state: &AppState,
    caller: &Caller,
    project_id: i64,
    action: Action,
) -> ApiResult<Option<Member>> {
    let member = state.db.member(project_id, caller.user.id).await?;
    match decide(&caller.principal, member.as_ref().map(Member::membership).as_ref(), action) {
        Decision::Allow => {
            if member.is_none() {
                // A site admin: the project must still exist.
                state.db.project(project_id).await?;
            }
            Ok(member)
        }
        Decision::Forbidden(reason) => Err(ApiError::forbidden(reason)),
        Decision::NotFound => Err(ApiError::not_found()),
    }
}

/// Authorises `action` and, on top, that the caller made the thing (`created_by`) or manages the
/// project (a site admin too): another contributor's deliveries and uploads do not exist for them
/// (404), whatever their role in the bucket.
pub async fn authorize_own(
    state: &AppState,
    caller: &Caller,
    project_id: i64,
    action: Action,
    created_by: Option<i64>,
) -> ApiResult<Option<Member>> {
    let member = authorize(state, caller, project_id, action).await?;
    let manages = caller.principal.site_admin || member.as_ref().is_some_and(|m| m.role == hub_domain::Role::Manager);
    if created_by != Some(caller.user.id) && !manages {
        return Err(ApiError::not_found());
    }
    Ok(member)
}

/// Failed sign-ins per user name: after `MAX_FAILURES` in `WINDOW`, further attempts wait.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

const MAX_FAILURES: u32 = 5;
const WINDOW: Duration = Duration::from_secs(300);

impl LoginLimiter {
    pub fn check(&self, username: &str) -> ApiResult<()> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, (_, since)| since.elapsed() < WINDOW);
        match map.get(&username.to_lowercase()) {
            Some((n, since)) if *n >= MAX_FAILURES => Err(ApiError::too_many(format!(
                "too many failed sign-ins for {username}; try again in {} s",
                WINDOW.saturating_sub(since.elapsed()).as_secs() + 1
            ))),
            _ => Ok(()),
        }
    }
    pub fn failed(&self, username: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(username.to_lowercase()).or_insert((0, Instant::now())).0 += 1;
    }
    pub fn succeeded(&self, username: &str) {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).remove(&username.to_lowercase());
    }
}
