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
    let principal = Principal { user_id: user.id, site_admin: user.site_admin, token: None };
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

/// Sign-in attempts per user name: after `MAX_ATTEMPTS` in `WINDOW` without a success, further
/// attempts wait. An attempt is counted when it starts (so attempts made at once cannot all slip
/// through before the first failure is known) and forgotten when it succeeds. What is remembered
/// is bounded (`MAX_TRACKED` names; the oldest goes first), and so is the number of passwords
/// hashed at once (argon2 takes 19 MiB each).
#[derive(Debug)]
pub struct LoginLimiter {
    attempts: Mutex<HashMap<String, (u32, Instant)>>,
    /// Password checks running at once.
    pub hashing: tokio::sync::Semaphore,
}

const MAX_ATTEMPTS: u32 = 5;
const WINDOW: Duration = Duration::from_secs(300);
/// Names remembered at most (a few hundred KiB).
const MAX_TRACKED: usize = 10_000;
/// Password checks at once, across the process.
const HASHING_AT_ONCE: usize = 4;
/// The longest user name the hub has (longer ones are refused before anything else).
pub const MAX_USERNAME: usize = 100;

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter { attempts: Mutex::default(), hashing: tokio::sync::Semaphore::new(HASHING_AT_ONCE) }
    }
}

impl LoginLimiter {
    /// Counts an attempt for `username`, or refuses it when the name has had too many.
    pub fn begin(&self, username: &str) -> AppResult<()> {
        let mut map = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, (_, since)| since.elapsed() < WINDOW);
        let key = username.to_lowercase();
        if let Some((n, since)) = map.get(&key)
            && *n >= MAX_ATTEMPTS
        {
            return Err(AppError::too_many(format!(
                "too many failed sign-ins for {username}; try again in {} s",
                WINDOW.saturating_sub(since.elapsed()).as_secs() + 1
            )));
        }
        if !map.contains_key(&key)
            && map.len() >= MAX_TRACKED
            && let Some(oldest) = map.iter().min_by_key(|(_, (_, since))| *since).map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.entry(key).or_insert((0, Instant::now())).0 += 1;
        Ok(())
    }

    /// The attempt succeeded: the name starts afresh.
    pub fn succeeded(&self, username: &str) {
        self.attempts.lock().unwrap_or_else(|p| p.into_inner()).remove(&username.to_lowercase());
    }

    /// Names remembered now.
    pub fn tracked(&self) -> usize {
        self.attempts.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn the_limiter_remembers_a_bounded_number_of_names() {
        let limiter = super::LoginLimiter::default();
        for i in 0..super::MAX_TRACKED + 500 {
            limiter.begin(&format!("name{i}")).unwrap();
        }
        assert_eq!(limiter.tracked(), super::MAX_TRACKED);
        for _ in 0..super::MAX_ATTEMPTS {
            limiter.begin("Admin").unwrap();
        }
        assert!(limiter.begin("admin").is_err(), "names are counted without case");
        limiter.succeeded("ADMIN");
        assert!(limiter.begin("admin").is_ok(), "a success starts afresh");
    }

    #[test]
    fn secrets_match_only_whole() {
        assert!(same_secret("abc123", "abc123"));
        for other in ["abc124", "abc12", "abc1234", "", "ABC123"] {
            assert!(!same_secret(other, "abc123"), "{other}");
        }
    }
}
