//! Projects, members, and buckets with their counts.

use axum::extract::State;
use axum::http::StatusCode;
use hub_domain::access::Action;
use hub_domain::{BucketKind, HistoryAction, Role};
use serde::{Deserialize, Serialize};

use api_types::ProjectView;

use super::extract::{Json, Path};
use crate::app::Hub;
use crate::app::access::{Caller, allows, authorize};
use crate::app::{AppError, AppResult};
use crate::db::{BucketCounts, Member, Project};

pub async fn list(State(state): State<Hub>, caller: Caller) -> AppResult<Json<Vec<Project>>> {
    Ok(Json(state.db.projects_for(&caller.user).await?))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct NewProject {
    pub name: String,
    pub code: Option<String>,
}

pub async fn create(
    State(state): State<Hub>,
    caller: Caller,
    Json(new): Json<NewProject>,
) -> AppResult<(StatusCode, Json<Project>)> {
    if !caller.user.site_admin {
        return Err(AppError::forbidden("only site administrators create projects"));
    }
    if caller.principal.token.is_some_and(|scope| scope < hub_domain::TokenScope::Manage) {
        return Err(AppError::forbidden("this API token may not manage; creating projects needs the manage scope"));
    }
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 120 {
        return Err(AppError::bad_request("a project name has 1 to 120 characters"));
    }
    let code = new.code.as_deref().map(str::trim).filter(|c| !c.is_empty()).unwrap_or(name);
    let project = state.db.create_project(name, &code.chars().take(16).collect::<String>()).await?;
    state.db.add_history(project.id, None, None, Some(caller.user.id), HistoryAction::ProjectCreated, name).await?;
    Ok((StatusCode::CREATED, Json(project)))
}

pub async fn get(State(state): State<Hub>, caller: Caller, Path(id): Path<i64>) -> AppResult<Json<ProjectView>> {
    let member = authorize(&state, &caller, id, Action::ViewProject).await?;
    let project = state.db.project(id).await?;
    let buckets = crate::app::projects::visible_counts(&state, id, member.as_ref()).await?;
    Ok(Json(ProjectView { project, role: member.map(|m| m.role), buckets }))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectSettings {
    /// Remux proxies without fast start (moov first, no re-encode) instead of marking them Invalid.
    pub fast_start_remux: Option<bool>,
}

pub async fn update(
    State(state): State<Hub>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(settings): Json<ProjectSettings>,
) -> AppResult<Json<Project>> {
    authorize(&state, &caller, id, Action::ManageMembers).await?;
    if let Some(on) = settings.fast_start_remux {
        state.db.set_fast_start_remux(id, on).await?;
        let detail = format!("fast-start remux of proxies {}", if on { "on" } else { "off" });
        state.db.add_history(id, None, None, Some(caller.user.id), HistoryAction::ProjectSettings, &detail).await?;
    }
    Ok(Json(state.db.project(id).await?))
}

pub async fn buckets(
    State(state): State<Hub>,
    caller: Caller,
    Path(id): Path<i64>,
) -> AppResult<Json<Vec<BucketCounts>>> {
    let member = authorize(&state, &caller, id, Action::ViewProject).await?;
    Ok(Json(crate::app::projects::visible_counts(&state, id, member.as_ref()).await?))
}

/// A member as the caller may see them: who they are and their role to every member; which
/// buckets they work in only to whoever may manage members (and to themselves).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct MemberView {
    pub user: crate::db::User,
    pub role: Role,
    /// The buckets they work in (null: all); absent when the caller may not see it.
    #[serde(skip_serializing_if = "Scope::is_hidden")]
    pub buckets: Scope,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Scope {
    Shown(Option<Vec<BucketKind>>),
    Hidden,
}

impl Scope {
    fn is_hidden(&self) -> bool {
        matches!(self, Scope::Hidden)
    }
}

pub async fn members(
    State(state): State<Hub>,
    caller: Caller,
    Path(id): Path<i64>,
) -> AppResult<Json<Vec<MemberView>>> {
    let mine = authorize(&state, &caller, id, Action::ViewProject).await?;
    let manages = allows(&caller, mine.as_ref(), Action::ManageMembers);
    let members = state.db.members(id).await?;
    Ok(Json(
        members
            .into_iter()
            .map(|m: Member| {
                let shown = manages || m.user.id == caller.user.id;
                let buckets = if shown { Scope::Shown(m.buckets) } else { Scope::Hidden };
                MemberView { user: m.user, role: m.role, buckets }
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct MemberChange {
    /// For adding: who.
    pub username: Option<String>,
    pub role: Role,
    /// Bucket slugs this member works in; absent or null for all.
    pub buckets: Option<Vec<BucketKind>>,
}

pub async fn add_member(
    State(state): State<Hub>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(change): Json<MemberChange>,
) -> AppResult<StatusCode> {
    authorize(&state, &caller, id, Action::ManageMembers).await?;
    let username = change.username.as_deref().ok_or_else(|| AppError::bad_request("give the username to add"))?;
    let (user, _) = state
        .db
        .user_for_login(username)
        .await
        .map_err(|_| AppError::invalid(format!("there is no user named {username}"), Vec::new()))?;
    state.db.set_member(id, user.id, change.role, change.buckets.as_deref()).await?;
    let detail = format!("{} added as {}", user.username, change.role.as_str());
    state.db.add_history(id, None, None, Some(caller.user.id), HistoryAction::MemberAdded, &detail).await?;
    Ok(StatusCode::CREATED)
}

pub async fn change_member(
    State(state): State<Hub>,
    caller: Caller,
    Path((id, user_id)): Path<(i64, i64)>,
    Json(change): Json<MemberChange>,
) -> AppResult<StatusCode> {
    authorize(&state, &caller, id, Action::ManageMembers).await?;
    if state.db.member(id, user_id).await?.is_none() {
        return Err(AppError::not_found());
    }
    state.db.set_member(id, user_id, change.role, change.buckets.as_deref()).await?;
    let detail = format!("user {user_id} is now {}", change.role.as_str());
    state.db.add_history(id, None, None, Some(caller.user.id), HistoryAction::MemberChanged, &detail).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn remove_member(
    State(state): State<Hub>,
    caller: Caller,
    Path((id, user_id)): Path<(i64, i64)>,
) -> AppResult<StatusCode> {
    authorize(&state, &caller, id, Action::ManageMembers).await?;
    state.db.remove_member(id, user_id).await?;
    state
        .db
        .add_history(id, None, None, Some(caller.user.id), HistoryAction::MemberRemoved, &format!("user {user_id}"))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
