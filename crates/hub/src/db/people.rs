//! Users, sessions, API tokens, projects and memberships.

use hub_domain::{BucketKind, Role, TokenScope};
use sqlx::Row;

use super::{ApiToken, Db, Member, Project, RepoError, RepoResult, User, audited, now_ms, with_pool};
use crate::secrets::token_hash;

const USER_COLUMNS: &str = "id, username, display_name, site_admin, created_ms";

macro_rules! user_from {
    ($row:expr) => {
        User {
            id: $row.try_get("id")?,
            username: $row.try_get("username")?,
            display_name: $row.try_get("display_name")?,
            site_admin: $row.try_get("site_admin")?,
            created_ms: $row.try_get("created_ms")?,
        }
    };
}

fn encode_buckets(buckets: Option<&[BucketKind]>) -> Option<String> {
    buckets.map(|b| b.iter().map(|k| k.slug()).collect::<Vec<_>>().join(","))
}

fn decode_buckets(text: Option<String>) -> RepoResult<Option<Vec<BucketKind>>> {
    text.map(|t| {
        t.split(',')
            .filter(|s| !s.is_empty())
            .map(|s| BucketKind::from_slug(s).ok_or_else(|| RepoError::Corrupt(format!("unknown bucket {s:?}"))))
            .collect()
    })
    .transpose()
}

fn decode_role(text: &str) -> RepoResult<Role> {
    Role::parse(text).ok_or_else(|| RepoError::Corrupt(format!("unknown role {text:?}")))
}

impl Db {
    pub async fn create_user(
        &self,
        username: &str,
        display_name: &str,
        password_hash: &str,
        site_admin: bool,
    ) -> RepoResult<User> {
        let sql = format!(
            "INSERT INTO users (username, display_name, password_hash, site_admin, created_ms) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {USER_COLUMNS}"
        );
        let result: RepoResult<User> = async {
            with_pool!(self, pool => {
                let row = sqlx::query(audited(&sql))
                    .bind(username)
                    .bind(display_name)
                    .bind(password_hash)
                    .bind(site_admin)
                    .bind(now_ms())
                    .fetch_one(pool)
                    .await?;
                Ok(user_from!(row))
            })
        }
        .await;
        result.map_err(|e| match e {
            RepoError::Conflict(_) => RepoError::Conflict(format!("a user named {username} already exists")),
            other => other,
        })
    }

    pub async fn user(&self, id: i64) -> RepoResult<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        with_pool!(self, pool => {
            let row = sqlx::query(audited(&sql)).bind(id).fetch_one(pool).await?;
            Ok(user_from!(row))
        })
    }

    /// The user and their password hash, for a login.
    pub async fn user_for_login(&self, username: &str) -> RepoResult<(User, String)> {
        let sql = format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = $1");
        with_pool!(self, pool => {
            let row = sqlx::query(audited(&sql)).bind(username).fetch_one(pool).await?;
            Ok((user_from!(row), row.try_get("password_hash")?))
        })
    }

    pub async fn set_password(&self, user_id: i64, password_hash: &str) -> RepoResult<()> {
        let done = with_pool!(self, pool => sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash).bind(user_id).execute(pool).await?.rows_affected());
        // Sessions and API tokens die with the old password.
        with_pool!(self, pool => sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(pool).await.map(|_| ())?);
        with_pool!(self, pool => sqlx::query("UPDATE api_tokens SET revoked_ms = $1 WHERE user_id = $2 AND revoked_ms IS NULL")
            .bind(now_ms()).bind(user_id).execute(pool).await.map(|_| ())?);
        if done == 0 { Err(RepoError::NotFound) } else { Ok(()) }
    }

    pub async fn count_users(&self) -> RepoResult<i64> {
        with_pool!(self, pool => Ok(sqlx::query("SELECT COUNT(*) AS n FROM users").fetch_one(pool).await?.try_get("n")?))
    }

    /// Stores a browser session (by the hash of its token) and its CSRF token.
    pub async fn create_session(&self, token: &str, user_id: i64, csrf: &str, expires_ms: i64) -> RepoResult<()> {
        with_pool!(self, pool => {
            sqlx::query("INSERT INTO sessions (token_hash, user_id, csrf_token, expires_ms) VALUES ($1, $2, $3, $4)")
                .bind(token_hash(token)).bind(user_id).bind(csrf).bind(expires_ms).execute(pool).await?;
        });
        Ok(())
    }

    /// The session's user and CSRF token, if the session exists and has not expired.
    pub async fn session(&self, token: &str) -> RepoResult<(User, String)> {
        let sql = "SELECT u.id, u.username, u.display_name, u.site_admin, u.created_ms, s.csrf_token \
                   FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_ms > $2";
        with_pool!(self, pool => {
            let row = sqlx::query(sql).bind(token_hash(token)).bind(now_ms()).fetch_one(pool).await?;
            Ok((user_from!(row), row.try_get("csrf_token")?))
        })
    }

    /// Removes sessions whose time is up (they no longer sign anyone in); returns how many.
    pub async fn purge_expired_sessions(&self) -> RepoResult<u64> {
        Ok(with_pool!(self, pool => sqlx::query("DELETE FROM sessions WHERE expires_ms <= $1")
            .bind(now_ms()).execute(pool).await?.rows_affected()))
    }

    pub async fn delete_session(&self, token: &str) -> RepoResult<()> {
        with_pool!(self, pool => sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash(token)).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// A new token of `scope` for the user, valid until `expires_ms` (for ever when `None`).
    pub async fn create_token(
        &self,
        user_id: i64,
        name: &str,
        token: &str,
        scope: TokenScope,
        expires_ms: Option<i64>,
    ) -> RepoResult<ApiToken> {
        with_pool!(self, pool => {
            let row = sqlx::query(
                "INSERT INTO api_tokens (user_id, name, token_hash, created_ms, scope, expires_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 RETURNING id, user_id, name, created_ms, last_used_ms, revoked_ms, scope, expires_ms",
            )
            .bind(user_id).bind(name).bind(token_hash(token)).bind(now_ms()).bind(scope.as_str()).bind(expires_ms)
            .fetch_one(pool)
            .await?;
            Ok(token_from(&row)?)
        })
    }

    /// The user a live API token (not revoked, not expired) belongs to, and the token's scope;
    /// records its use.
    pub async fn user_for_token(&self, token: &str) -> RepoResult<(User, TokenScope)> {
        let sql = "SELECT u.id, u.username, u.display_name, u.site_admin, u.created_ms, t.id AS token_id, t.scope \
                   FROM api_tokens t JOIN users u ON u.id = t.user_id \
                   WHERE t.token_hash = $1 AND t.revoked_ms IS NULL AND (t.expires_ms IS NULL OR t.expires_ms > $2)";
        let now = now_ms();
        let (user, token_id, scope) = with_pool!(self, pool => {
            let row = sqlx::query(sql).bind(token_hash(token)).bind(now).fetch_one(pool).await?;
            (user_from!(row), row.try_get::<i64, _>("token_id")?, row.try_get::<String, _>("scope")?)
        });
        let scope = TokenScope::parse(&scope).ok_or_else(|| RepoError::Corrupt(format!("token scope {scope:?}")))?;
        with_pool!(self, pool => sqlx::query("UPDATE api_tokens SET last_used_ms = $1 WHERE id = $2")
            .bind(now).bind(token_id).execute(pool).await.map(|_| ())?);
        Ok((user, scope))
    }

    pub async fn tokens(&self, user_id: i64) -> RepoResult<Vec<ApiToken>> {
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT id, user_id, name, created_ms, last_used_ms, revoked_ms, scope, expires_ms FROM api_tokens \
                 WHERE user_id = $1 ORDER BY id",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await?;
            rows.iter().map(token_from).collect()
        })
    }

    pub async fn revoke_token(&self, user_id: i64, token_id: i64) -> RepoResult<()> {
        let n = with_pool!(self, pool => sqlx::query(
            "UPDATE api_tokens SET revoked_ms = $1 WHERE id = $2 AND user_id = $3 AND revoked_ms IS NULL",
        ).bind(now_ms()).bind(token_id).bind(user_id).execute(pool).await?.rows_affected());
        if n == 0 { Err(RepoError::NotFound) } else { Ok(()) }
    }

    pub async fn create_project(&self, name: &str, code: &str) -> RepoResult<Project> {
        let result: RepoResult<Project> = async {
            with_pool!(self, pool => {
                let row = sqlx::query("INSERT INTO projects (name, code, created_ms) VALUES ($1, $2, $3) RETURNING id, name, code, created_ms, fast_start_remux")
                    .bind(name).bind(code).bind(now_ms()).fetch_one(pool).await?;
                project_from(&row)
            })
        }
        .await;
        result.map_err(|e| match e {
            RepoError::Conflict(_) => RepoError::Conflict(format!("a project named {name} already exists")),
            other => other,
        })
    }

    pub async fn project(&self, id: i64) -> RepoResult<Project> {
        with_pool!(self, pool => {
            let row = sqlx::query("SELECT id, name, code, created_ms, fast_start_remux FROM projects WHERE id = $1").bind(id).fetch_one(pool).await?;
            Ok(project_from(&row)?)
        })
    }

    /// Project settings a manager may change.
    pub async fn set_fast_start_remux(&self, id: i64, on: bool) -> RepoResult<()> {
        let n = with_pool!(self, pool => sqlx::query("UPDATE projects SET fast_start_remux = $1 WHERE id = $2")
            .bind(i64::from(on)).bind(id).execute(pool).await?.rows_affected());
        if n == 0 { Err(RepoError::NotFound) } else { Ok(()) }
    }

    /// Projects `user_id` belongs to (all of them for a site admin), by name.
    pub async fn projects_for(&self, user: &User) -> RepoResult<Vec<Project>> {
        let sql = if user.site_admin {
            "SELECT id, name, code, created_ms, fast_start_remux FROM projects WHERE $1 = $1 ORDER BY name, id"
        } else {
            "SELECT p.id, p.name, p.code, p.created_ms, p.fast_start_remux FROM projects p JOIN members m ON m.project_id = p.id \
             WHERE m.user_id = $1 ORDER BY p.name, p.id"
        };
        with_pool!(self, pool => {
            let rows = sqlx::query(audited(sql)).bind(user.id).fetch_all(pool).await?;
            rows.iter().map(project_from).collect()
        })
    }

    /// Adds a member, or changes the role and bucket scope of an existing one.
    pub async fn set_member(
        &self,
        project_id: i64,
        user_id: i64,
        role: Role,
        buckets: Option<&[BucketKind]>,
    ) -> RepoResult<()> {
        let buckets = encode_buckets(buckets);
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO members (project_id, user_id, role, buckets) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role, buckets = excluded.buckets",
            )
            .bind(project_id).bind(user_id).bind(role.as_str()).bind(buckets)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    pub async fn remove_member(&self, project_id: i64, user_id: i64) -> RepoResult<()> {
        let n = with_pool!(self, pool => sqlx::query("DELETE FROM members WHERE project_id = $1 AND user_id = $2")
            .bind(project_id).bind(user_id).execute(pool).await?.rows_affected());
        if n == 0 { Err(RepoError::NotFound) } else { Ok(()) }
    }

    /// The user's membership in the project, if any.
    pub async fn member(&self, project_id: i64, user_id: i64) -> RepoResult<Option<Member>> {
        Ok(self.members_where(project_id, Some(user_id)).await?.pop())
    }

    pub async fn members(&self, project_id: i64) -> RepoResult<Vec<Member>> {
        self.members_where(project_id, None).await
    }

    async fn members_where(&self, project_id: i64, user_id: Option<i64>) -> RepoResult<Vec<Member>> {
        let sql = "SELECT u.id, u.username, u.display_name, u.site_admin, u.created_ms, m.role, m.buckets \
                   FROM members m JOIN users u ON u.id = m.user_id \
                   WHERE m.project_id = $1 AND ($2 < 0 OR m.user_id = $2) ORDER BY u.username";
        with_pool!(self, pool => {
            let rows = sqlx::query(audited(sql)).bind(project_id).bind(user_id.unwrap_or(-1)).fetch_all(pool).await?;
            let mut members = Vec::with_capacity(rows.len());
            for row in &rows {
                let role: String = row.try_get("role")?;
                members.push(Member {
                    user: user_from!(row),
                    role: decode_role(&role)?,
                    buckets: decode_buckets(row.try_get("buckets")?)?,
                });
            }
            Ok(members)
        })
    }
}

fn token_from<R: Row>(row: &R) -> RepoResult<ApiToken>
where
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
{
    Ok(ApiToken {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        name: row.try_get("name")?,
        created_ms: row.try_get("created_ms")?,
        last_used_ms: row.try_get("last_used_ms")?,
        scope: {
            let scope: String = row.try_get("scope")?;
            TokenScope::parse(&scope).ok_or_else(|| RepoError::Corrupt(format!("token scope {scope:?}")))?
        },
        expires_ms: row.try_get("expires_ms")?,
        revoked_ms: row.try_get("revoked_ms")?,
    })
}

fn project_from<R: Row>(row: &R) -> RepoResult<Project>
where
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
{
    Ok(Project {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        code: row.try_get("code")?,
        created_ms: row.try_get("created_ms")?,
        fast_start_remux: row.try_get::<i64, _>("fast_start_remux")? != 0,
    })
}
