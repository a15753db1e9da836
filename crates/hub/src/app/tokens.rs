//! API tokens: made by their user (in the browser, or with a token of the manage scope), each
//! with a scope (read, deliver, manage) and an expiry, listed without their secrets, revoked one
//! by one or all at once by a password reset.

use hub_domain::TokenScope;

use super::access::Caller;
use super::{AppError, AppResult, Hub};
use crate::db::{ApiToken, Db, now_ms};
use crate::secrets::random_token;

/// Days a token lives when its maker does not say.
pub const DEFAULT_DAYS: u32 = 90;
/// The longest life a token may be given, in days (`0` asks for no expiry at all).
pub const MAX_DAYS: u32 = 3650;

/// When a token made now for `days` expires (`0`: never).
pub fn expiry(days: u32) -> AppResult<Option<i64>> {
    match days {
        0 => Ok(None),
        1..=MAX_DAYS => Ok(Some(now_ms() + i64::from(days) * 86_400_000)),
        _ => Err(AppError::bad_request(format!(
            "expires_in_days must be 1 to {MAX_DAYS}, or 0 for a token that never expires"
        ))),
    }
}

fn check_name(name: &str) -> AppResult<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::bad_request("give the token a name of 1 to 100 characters (what uses it)"));
    }
    Ok(name)
}

/// Makes a token for the caller; returns it and its secret (shown once). A caller signed in with
/// a token needs the manage scope for this, so that a leaked read or deliver token cannot make
/// itself a stronger one.
pub async fn create(
    hub: &Hub,
    caller: &Caller,
    name: &str,
    scope: TokenScope,
    expires_in_days: Option<u32>,
) -> AppResult<(ApiToken, String)> {
    if caller.principal.token.is_some_and(|own| own < TokenScope::Manage) {
        return Err(AppError::forbidden(
            "only a signed-in browser or a token with the manage scope can make API tokens",
        ));
    }
    let name = check_name(name)?;
    let expires_ms = expiry(expires_in_days.unwrap_or(DEFAULT_DAYS))?;
    let secret = random_token("cht_", 32);
    let token = hub.db.create_token(caller.user.id, name, &secret, scope, expires_ms).await?;
    Ok((token, secret))
}

/// The operator's way (`contenthub admin create-token`): a token for any user.
pub async fn create_for(
    db: &Db,
    user_id: i64,
    name: &str,
    scope: TokenScope,
    expires_in_days: u32,
) -> AppResult<String> {
    let name = check_name(name)?;
    let expires_ms = expiry(expires_in_days)?;
    let secret = random_token("cht_", 32);
    db.create_token(user_id, name, &secret, scope, expires_ms).await?;
    Ok(secret)
}
