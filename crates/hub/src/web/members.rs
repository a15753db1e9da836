//! Members of a project (managers).

use super::*;

pub(super) struct MemberRow {
    user_id: i64,
    username: String,
    display_name: String,
    role: &'static str,
    buckets: String,
    bucket_slugs: String,
    /// Every bucket (slug, title) and whether the member's scope names it (none ticked: all).
    scope: Vec<(&'static str, &'static str, bool)>,
}

#[derive(Template)]
#[template(path = "members.html")]
pub(super) struct MembersPage {
    chrome: Chrome,
    project_id: i64,
    name: String,
    members: Vec<MemberRow>,
    roles: Vec<&'static str>,
    buckets: Vec<(&'static str, &'static str)>,
}

pub(super) async fn members(
    State(state): State<Hub>,
    viewer: Viewer,
    axum::extract::Path(id): axum::extract::Path<i64>,
) -> PageResult {
    authorize(&state, &viewer.caller, id, Action::ManageMembers).await?;
    let project = state.db.project(id).await?;
    let members = state
        .db
        .members(id)
        .await?
        .into_iter()
        .map(|m| MemberRow {
            user_id: m.user.id,
            username: m.user.username,
            display_name: m.user.display_name,
            role: m.role.as_str(),
            buckets: m
                .buckets
                .as_ref()
                .map_or_else(|| "all".to_owned(), |b| b.iter().map(|b| b.title()).collect::<Vec<_>>().join(", ")),
            bucket_slugs: m
                .buckets
                .as_ref()
                .map_or_else(String::new, |b| b.iter().map(|b| b.slug()).collect::<Vec<_>>().join(",")),
            scope: BucketKind::ALL
                .into_iter()
                .map(|b| (b.slug(), b.title(), m.buckets.as_ref().is_some_and(|list| list.contains(&b))))
                .collect(),
        })
        .collect();
    let chrome = viewer.chrome(vec![
        crumb(&project.name, format!("/projects/{id}")),
        crumb("Members", format!("/projects/{id}/members")),
    ]);
    Ok(render(&MembersPage {
        chrome,
        project_id: id,
        name: project.name,
        members,
        roles: vec!["manager", "contributor", "viewer"],
        buckets: BucketKind::ALL.into_iter().map(|b| (b.slug(), b.title())).collect(),
    }))
}
