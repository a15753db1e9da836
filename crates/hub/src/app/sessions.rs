//! Browser sessions: signing in (rate-limited per user name), the session cookie, signing out.
//! Both faces use these: the API's `POST /session` and the sign-in page.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Serialize;

use super::Hub;
use super::error::{AppError, AppResult};
use crate::db::{RepoError, User, now_ms};
use crate::secrets::{random_token, verify_password};

pub const SESSION_COOKIE: &str = "contenthub_session";

/// The value of cookie `name` in a request's headers.
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

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SessionInfo {
    pub user: User,
    /// Send as `X-CSRF-Token` with every request that changes something.
    pub csrf_token: String,
    pub expires_ms: i64,
}

/// Checks the credentials (rate-limited per user name and per address `from`, same time whether
/// or not the user exists) and opens a session: its details and the `Set-Cookie` value.
pub async fn start_session(
    state: &Hub,
    username: &str,
    password: &str,
    from: super::access::ClientAddress,
) -> AppResult<(SessionInfo, HeaderValue)> {
    let username = username.trim();
    if username.len() > super::access::MAX_USERNAME || password.len() > 1024 {
        return Err(AppError::bad_request(format!(
            "a user name has at most {} characters, a password at most 1024",
            super::access::MAX_USERNAME
        )));
    }
    state.limiter.begin(username, from)?;
    // A bounded number of password checks at once (each takes argon2's memory).
    let _hashing = state.limiter.hashing.acquire().await.map_err(|_| AppError::internal())?;
    let bad = || AppError::new(StatusCode::UNAUTHORIZED, "bad_credentials", "wrong user name or password");
    let (user, hash) = match state.db.user_for_login(username).await {
        Ok(found) => found,
        Err(RepoError::NotFound) => {
            // Spend the same time as a real check, so that timing does not reveal which names exist.
            let password = password.to_owned();
            let _ = tokio::task::spawn_blocking(move || verify_password(&password, crate::secrets::dummy_hash())).await;
            return Err(bad());
        }
        Err(e) => return Err(e.into()),
    };
    let password = password.to_owned();
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await.unwrap_or(false);
    if !ok {
        return Err(bad());
    }
    state.limiter.succeeded(username, from);
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
pub async fn end_session(state: &Hub, headers: &HeaderMap) -> AppResult<HeaderValue> {
    if let Some(token) = cookie(headers, SESSION_COOKIE) {
        state.db.delete_session(token).await?;
    }
    let expired = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    Ok(HeaderValue::from_str(&expired).expect("ASCII cookie"))
}
