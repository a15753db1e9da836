//! What an operator does at the server's console (`contenthub admin …` and the first start): no
//! caller to authorise, the console is trusted. Passwords and token secrets are made here and
//! returned once; only their hashes are kept.

use hub_domain::{BucketKind, Role};

use crate::db::{Db, Project, RepoResult, User};
use crate::secrets::{generate_password, hash_password};

/// On a hub without users: the site admin `admin` and its password (shown once).
pub async fn first_admin(db: &Db) -> RepoResult<Option<String>> {
    if db.count_users().await? > 0 {
        return Ok(None);
    }
    let password = generate_password();
    db.create_user("admin", "Administrator", &hash_password(&password), true).await?;
    Ok(Some(password))
}

/// A new user with a generated password (returned, shown once).
pub async fn create_user(db: &Db, username: &str, display_name: &str, site_admin: bool) -> RepoResult<(User, String)> {
    let password = generate_password();
    let user = db.create_user(username, display_name, &hash_password(&password), site_admin).await?;
    Ok((user, password))
}

/// A new generated password for `username` (returned, shown once); their sessions end.
pub async fn reset_password(db: &Db, username: &str) -> RepoResult<String> {
    let (user, _) = db.user_for_login(username).await?;
    let password = generate_password();
    db.set_password(user.id, &hash_password(&password)).await?;
    Ok(password)
}

pub async fn create_project(db: &Db, name: &str, code: Option<&str>) -> RepoResult<Project> {
    db.create_project(name, code.unwrap_or(name)).await
}

/// Makes `username` a member of the project (or changes their role and buckets).
pub async fn add_member(
    db: &Db,
    project_id: i64,
    username: &str,
    role: Role,
    buckets: Option<&[BucketKind]>,
) -> RepoResult<()> {
    db.project(project_id).await?;
    let (user, _) = db.user_for_login(username).await?;
    db.set_member(project_id, user.id, role, buckets).await
}

/// A new API token for `username` of `scope`, expiring after `expires_in_days` (0: never): its
/// secret (returned, shown once).
pub async fn create_token(
    db: &Db,
    username: &str,
    name: &str,
    scope: hub_domain::TokenScope,
    expires_in_days: u32,
) -> super::AppResult<String> {
    let (user, _) = db.user_for_login(username).await?;
    super::tokens::create_for(db, user.id, name, scope, expires_in_days).await
}
