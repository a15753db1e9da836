//! Who is calling the API: an API token (`Authorization: Bearer …`) or a browser session cookie.
//! Session requests that change state must also carry the session's CSRF token in `X-CSRF-Token`,
//! which a page of another site cannot read, so a forged form or fetch is refused.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use hub_domain::Principal;

use crate::app::access::{Caller, same_secret, session_caller};
use crate::app::sessions::{SESSION_COOKIE, cookie};
use crate::app::{AppError, Hub};
use crate::db::RepoError;

pub const CSRF_HEADER: &str = "x-csrf-token";

impl FromRequestParts<Hub> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &Hub) -> Result<Self, Self::Rejection> {
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or_else(|| AppError::bad_request("the Authorization header must be `Bearer TOKEN`"))?;
            let (user, scope) = state.db.user_for_token(token.trim()).await.map_err(unknown_is_unauthenticated)?;
            let principal = Principal { user_id: user.id, site_admin: user.site_admin, token: Some(scope) };
            return Ok(Caller { user, principal });
        }
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or_else(AppError::unauthenticated)?;
        let (caller, csrf) = session_caller(state, token).await.map_err(unknown_is_unauthenticated)?;
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if !sent.is_some_and(|sent| same_secret(sent, &csrf)) {
                return Err(AppError::new(
                    StatusCode::FORBIDDEN,
                    "csrf",
                    "missing or wrong X-CSRF-Token header: send the csrf_token you got when signing in",
                ));
            }
        }
        Ok(caller)
    }
}

fn unknown_is_unauthenticated(e: RepoError) -> AppError {
    match e {
        RepoError::NotFound => {
            let mut error = AppError::unauthenticated();
            error.body.message =
                "the session has expired, or the token is not valid (revoked or expired); sign in again or make a new token"
                    .into();
            error
        }
        other => other.into(),
    }
}
