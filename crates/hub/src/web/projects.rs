//! My projects, and one project with its buckets.

use super::*;

pub(super) struct ProjectCard {
    id: i64,
    name: String,
    code: String,
}

#[derive(Template)]
#[template(path = "projects.html")]
pub(super) struct ProjectsPage {
    chrome: Chrome,
    projects: Vec<ProjectCard>,
    /// A site admin with no projects yet (a plain first start) is told how to make one.
    site_admin: bool,
}

pub(super) async fn projects(State(state): State<Hub>, viewer: Viewer) -> PageResult {
    let projects = state.db.projects_for(viewer.user()).await?;
    let projects = projects.into_iter().map(|p| ProjectCard { id: p.id, name: p.name, code: p.code }).collect();
    let site_admin = viewer.user().site_admin;
    Ok(render(&ProjectsPage { chrome: viewer.chrome(Vec::new()), projects, site_admin }))
}

pub(super) struct BucketCard {
    slug: &'static str,
    title: &'static str,
    total: i64,
    request_based: bool,
    /// Files arrive through the API only (Footage).
    api_only: bool,
    open_requests: i64,
    /// Where files dropped onto the card go: the bucket's delivery page, for those who may deliver
    /// there from a browser.
    drop_href: Option<String>,
    /// (state, label, count) for the states that have assets.
    states: Vec<(&'static str, &'static str, i64)>,
}

#[derive(Template)]
#[template(path = "project.html")]
pub(super) struct ProjectPage {
    chrome: Chrome,
    project_id: i64,
    name: String,
    code: String,
    role: Option<&'static str>,
    buckets: Vec<BucketCard>,
    /// The bucket filter's text: only the buckets whose title holds it are shown.
    filter: String,
    /// Buckets hidden by the filter.
    hidden: usize,
    /// Managers (and site admins) manage the members.
    manages: bool,
}

pub(super) async fn project(
    State(state): State<Hub>,
    viewer: Viewer,
    axum::extract::Path(id): axum::extract::Path<i64>,
    Query(params): Query<Vec<(String, String)>>,
) -> PageResult {
    let member = authorize(&state, &viewer.caller, id, Action::ViewProject).await?;
    let filter = params.iter().find(|(k, _)| k == "bucket").map(|(_, v)| v.trim().to_owned()).unwrap_or_default();
    let wanted = filter.to_lowercase();
    let project = state.db.project(id).await?;
    let counts = crate::app::projects::visible_counts(&state, id, member.as_ref()).await?;
    let manages = allows(&viewer.caller, member.as_ref(), Action::ManageMembers);
    let total = counts.len();
    let buckets: Vec<BucketCard> = counts
        .into_iter()
        .filter(|c| c.bucket.title().to_lowercase().contains(&wanted) || c.bucket.slug().contains(&wanted))
        .map(|c| BucketCard {
            slug: c.bucket.slug(),
            title: c.bucket.title(),
            total: c.counts.values().sum(),
            request_based: c.bucket.request_based(),
            api_only: c.bucket.api_only(),
            open_requests: c.open_requests,
            drop_href: allows(&viewer.caller, member.as_ref(), Action::Deliver(c.bucket))
                .then(|| format!("/projects/{id}/buckets/{}/upload", c.bucket.slug())),
            states: AssetState::ALL
                .into_iter()
                .filter_map(|s| c.counts.get(s.as_str()).filter(|n| **n > 0).map(|n| (s.as_str(), s.label(), *n)))
                .collect(),
        })
        .collect();
    let chrome = viewer.chrome(vec![crumb(&project.name, format!("/projects/{id}"))]);
    Ok(render(&ProjectPage {
        chrome,
        project_id: id,
        name: project.name,
        code: project.code,
        role: member.map(|m| m.role.as_str()),
        hidden: total - buckets.len(),
        buckets,
        filter,
        manages,
    }))
}
