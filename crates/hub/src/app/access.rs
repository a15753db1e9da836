//! Who may do what: the caller (a user, by API token or by session) and the access decision of
//! `hub_domain::access` applied to the database's memberships. Both faces (the API and the pages)
//! and the upload engine ask here; nothing else decides access.

use std::collections::HashMap;
use std::net::IpAddr;
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

/// The address a request came from: the TCP peer, or, when the peer is a proxy the hub was told
/// to trust (`Config::trusted_proxies`), the nearest address before it in `X-Forwarded-For`.
/// Unknown (a test calling the router directly): the unspecified address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddress(pub IpAddr);

impl ClientAddress {
    pub fn of(peer: Option<IpAddr>, forwarded_for: Option<&str>, trusted: &[IpAddr]) -> ClientAddress {
        let Some(mut address) = peer else { return ClientAddress(IpAddr::from([0, 0, 0, 0])) };
        if trusted.contains(&address)
            && let Some(chain) = forwarded_for
        {
            // Rightmost first: each trusted proxy appended the address it saw.
            for hop in chain.rsplit(',').map(str::trim) {
                match hop.parse::<IpAddr>() {
                    Ok(hop) => {
                        address = hop;
                        if !trusted.contains(&hop) {
                            break;
                        }
                    }
                    Err(_) => break, // garbage from the client: stop at the last proxy's word
                }
            }
        }
        ClientAddress(address)
    }
}

/// Sign-in attempts, limited per user name *from each address* (so that nobody can lock a user,
/// the admin included, out from elsewhere) and per address across names (so that one client
/// cannot try a few passwords on every name): after `MAX_ATTEMPTS` for a name, or
/// `MAX_PER_ADDRESS` in all, within `WINDOW` without a success, further attempts wait. An attempt
/// is counted when it starts (so attempts made at once cannot all slip through before the first
/// failure is known). What is remembered is bounded (`MAX_TRACKED` entries; the oldest goes
/// first), and so is the number of passwords hashed at once (argon2 takes 19 MiB each).
#[derive(Debug)]
pub struct LoginLimiter {
    attempts: Mutex<HashMap<Attempts, (u32, Instant)>>,
    /// Password checks running at once.
    pub hashing: tokio::sync::Semaphore,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Attempts {
    Name(String, IpAddr),
    Address(IpAddr),
}

const MAX_ATTEMPTS: u32 = 5;
const MAX_PER_ADDRESS: u32 = 30;
const WINDOW: Duration = Duration::from_secs(300);
/// Entries remembered at most (a few hundred KiB).
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
    /// Counts an attempt for `username` from `from`, or refuses it when the name (from there) or
    /// the address has had too many.
    pub fn begin(&self, username: &str, from: ClientAddress) -> AppResult<()> {
        let mut map = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, (_, since)| since.elapsed() < WINDOW);
        let keys = [
            (Attempts::Name(username.to_lowercase(), from.0), MAX_ATTEMPTS),
            (Attempts::Address(from.0), MAX_PER_ADDRESS),
        ];
        for (key, max) in &keys {
            if let Some((n, since)) = map.get(key)
                && n >= max
            {
                let wait = WINDOW.saturating_sub(since.elapsed()).as_secs() + 1;
                return Err(AppError::too_many(match key {
                    Attempts::Name(..) => format!("too many failed sign-ins for {username}; try again in {wait} s"),
                    Attempts::Address(_) => {
                        format!("too many failed sign-ins from your address; try again in {wait} s")
                    }
                }));
            }
        }
        for (key, _) in keys {
            if !map.contains_key(&key)
                && map.len() >= MAX_TRACKED
                && let Some(oldest) = map.iter().min_by_key(|(_, (_, since))| *since).map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
            map.entry(key).or_insert((0, Instant::now())).0 += 1;
        }
        Ok(())
    }

    /// The attempt succeeded: the name starts afresh from that address, and the attempt does
    /// not count against the address (its earlier failures still do).
    pub fn succeeded(&self, username: &str, from: ClientAddress) {
        let mut map = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&Attempts::Name(username.to_lowercase(), from.0));
        if let Some((n, _)) = map.get_mut(&Attempts::Address(from.0)) {
            *n = n.saturating_sub(1);
        }
    }

    /// Entries remembered now.
    pub fn tracked(&self) -> usize {
        self.attempts.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::{ClientAddress, same_secret};

    fn from(last: u8) -> ClientAddress {
        ClientAddress(std::net::IpAddr::from([192, 0, 2, last]))
    }

    #[test]
    fn the_limiter_remembers_a_bounded_number_of_names() {
        let limiter = super::LoginLimiter::default();
        for i in 0..super::MAX_TRACKED + 500 {
            // Many addresses, each under its own limit.
            limiter
                .begin(&format!("name{i}"), ClientAddress(std::net::IpAddr::from((i as u32).to_be_bytes())))
                .unwrap();
        }
        assert_eq!(limiter.tracked(), super::MAX_TRACKED);
        for _ in 0..super::MAX_ATTEMPTS {
            limiter.begin("Admin", from(1)).unwrap();
        }
        assert!(limiter.begin("admin", from(1)).is_err(), "names are counted without case");
        limiter.succeeded("ADMIN", from(1));
        assert!(limiter.begin("admin", from(1)).is_ok(), "a success starts afresh");
    }

    /// Per address as well as per name (issue 12, scenario 5), without letting anyone lock the
    /// admin out from elsewhere.
    #[test]
    fn the_limiter_counts_per_address_and_locks_nobody_out_from_elsewhere() {
        let limiter = super::LoginLimiter::default();
        for _ in 0..super::MAX_ATTEMPTS {
            limiter.begin("admin", from(66)).unwrap();
        }
        let refused = limiter.begin("admin", from(66)).unwrap_err();
        assert!(refused.body.message.contains("for admin"), "{}", refused.body.message);
        assert!(limiter.begin("admin", from(7)).is_ok(), "the admin signs in from their own address");
        // One address trying a few passwords on many names is stopped too.
        let mut refused = None;
        for i in 0..100 {
            if let Err(e) = limiter.begin(&format!("user{i}"), from(99)) {
                refused = Some((i, e));
                break;
            }
        }
        let (after, e) = refused.expect("the address is limited across names");
        assert_eq!(after, super::MAX_PER_ADDRESS as usize);
        assert!(e.body.message.contains("from your address"), "{}", e.body.message);
        assert!(limiter.begin("user0", from(98)).is_ok(), "another address is not");
    }

    #[test]
    fn the_address_is_the_peer_unless_a_trusted_proxy_forwarded_it() {
        let proxy: std::net::IpAddr = "10.0.0.1".parse().unwrap();
        let peer: std::net::IpAddr = "203.0.113.9".parse().unwrap();
        let of = |peer, header| ClientAddress::of(Some(peer), header, &[proxy]).0.to_string();
        assert_eq!(of(peer, Some("198.51.100.1")), "203.0.113.9", "an untrusted peer's header is ignored");
        assert_eq!(of(proxy, Some("198.51.100.1")), "198.51.100.1");
        assert_eq!(
            of(proxy, Some("1.2.3.4, 198.51.100.1")),
            "198.51.100.1",
            "what the client wrote itself is not believed"
        );
        assert_eq!(of(proxy, Some("198.51.100.1, 10.0.0.1")), "198.51.100.1", "proxies in a chain are skipped");
        assert_eq!(of(proxy, Some("evil")), "10.0.0.1");
        assert_eq!(of(proxy, None), "10.0.0.1");
        assert_eq!(ClientAddress::of(None, Some("1.2.3.4"), &[proxy]).0.to_string(), "0.0.0.0");
    }

    #[test]
    fn secrets_match_only_whole() {
        assert!(same_secret("abc123", "abc123"));
        for other in ["abc124", "abc12", "abc1234", "", "ABC123"] {
            assert!(!same_secret(other, "abc123"), "{other}");
        }
    }
}
