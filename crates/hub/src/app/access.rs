//! Who may do what: the caller (a user, by API token or by session) and the access decision of
//! `hub_domain::access` applied to the database's memberships. Both faces (the API and the pages)
//! and the upload engine ask here; nothing else decides access.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hub_domain::Principal;
use hub_domain::access::{Action, Decision, decide};

use super::Hub;
use super::error::{AppError, AppResult};
use crate::db::{Member, RepoError, User};

#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub principal: Principal,
}

/// The caller behind a session cookie's token, and the session's CSRF token.
pub async fn session_caller(state: &Hub, token: &str) -> Result<(Caller, String), RepoError> {
    let (user, csrf) = state.db.session(token).await?;
    let principal = Principal { user_id: user.id, site_admin: user.site_admin, via_token: false };
    Ok((Caller { user, principal }, csrf))
}

/// Whether a secret the client sent is the one we hold, in time that does not depend on where
/// they differ (a CSRF token compared with `==` leaks its prefix to a patient attacker).
pub fn same_secret(sent: &str, held: &str) -> bool {
    let (sent, held) = (sent.as_bytes(), held.as_bytes());
    sent.len() == held.len() && sent.iter().zip(held).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0
}

/// Whether the caller may also do `action` in a project where `authorize` found this membership
/// (no second look at the database).
pub fn allows(caller: &Caller, member: Option<&Member>, action: Action) -> bool {
    decide(&caller.principal, member.map(Member::membership).as_ref(), action) == Decision::Allow
}

/// Checks `action` in `project_id` for the caller; returns their membership (none for site admins
/// who are not members). Everything a caller may not see is 404, whether or not it exists.
pub async fn authorize(state: &Hub, caller: &Caller, project_id: i64, action: Action) -> AppResult<Option<Member>> {
    let member = state.db.member(project_id, caller.user.id).await?;
    match decide(&caller.principal, member.as_ref().map(Member::membership).as_ref(), action) {
        Decision::Allow => {
            if member.is_none() {
                // A site admin: the project must still exist.
                state.db.project(project_id).await?;
            }
            Ok(member)
        }
        Decision::Forbidden(reason) => Err(AppError::forbidden(reason)),
        Decision::NotFound => Err(AppError::not_found()),
    }
}

/// Authorises `action` and, on top, that the caller made the thing (`created_by`) or manages the
/// project (a site admin too): another contributor's deliveries and uploads do not exist for them
/// (404), whatever their role in the bucket.
pub async fn authorize_own(
    state: &Hub,
    caller: &Caller,
    project_id: i64,
    action: Action,
    created_by: Option<i64>,
) -> AppResult<Option<Member>> {
    let member = authorize(state, caller, project_id, action).await?;
    let manages = caller.principal.site_admin || member.as_ref().is_some_and(|m| m.role == hub_domain::Role::Manager);
    if created_by != Some(caller.user.id) && !manages {
        return Err(AppError::not_found());
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
    pub fn check(&self, username: &str) -> AppResult<()> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, (_, since)| since.elapsed() < WINDOW);
        match map.get(&username.to_lowercase()) {
            Some((n, since)) if *n >= MAX_FAILURES => Err(AppError::too_many(format!(
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

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn secrets_match_only_whole() {
        assert!(same_secret("abc123", "abc123"));
        for other in ["abc124", "abc12", "abc1234", "", "ABC123"] {
            assert!(!same_secret(other, "abc123"), "{other}");
        }
    }
}
