//! The browser interface: server-rendered pages (askama templates compiled into the binary) and
//! small static files, on top of the same database and access rules as the API. Pages use the
//! session cookie; a page that changes something sends the session's CSRF token.

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{Form, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use hub_domain::access::Action;
use hub_domain::{AssetState, BucketKind, FieldDef, FieldKind};
use serde::Deserialize;

use crate::api::AppState;
use crate::api::auth::{Caller, SESSION_COOKIE, allows, authorize, authorize_own, cookie, session_caller};
use crate::api::error::ApiError;
use crate::api::session::{end_session, start_session};
use crate::db::{Asset, CheckResult, RepoError, User};
use crate::validate::is_proxy;

mod format;

use format::{human_bytes, when, when_exact};

/// The page routes, merged into the service's router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(projects))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/projects/{id}", get(project))
        .route("/projects/{id}/buckets/{bucket}", get(bucket))
        .route("/projects/{id}/buckets/{bucket}/upload", get(upload))
        .route("/projects/{id}/buckets/{bucket}/requests", get(requests))
        .route("/transfers", get(transfers))
        .route("/projects/{id}/members", get(members))
        .route("/assets/{id}", get(asset))
        .route("/static/{file}", get(static_file))
}

/// The signed-in person looking at a page; without a session, the page sends them to sign in
/// and brings them back afterwards.
#[derive(Debug)]
pub struct Viewer {
    caller: Caller,
    csrf: String,
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let here = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let to_login = |expired: bool| {
            let flag = if expired { "&expired=1" } else { "" };
            Redirect::to(&format!("/login?{}{flag}", query_string(&[("next", here)]))).into_response()
        };
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else { return Err(to_login(false)) };
        match session_caller(state, token).await {
            Ok((caller, csrf)) => Ok(Viewer { caller, csrf }),
            Err(RepoError::NotFound) => Err(to_login(true)),
            Err(e) => Err(PageError(e.into()).into_response()),
        }
    }
}

/// What every page shows around its content.
#[derive(Debug)]
pub struct Chrome {
    user_name: Option<String>,
    csrf: String,
    crumbs: Vec<Crumb>,
}

#[derive(Debug)]
pub struct Crumb {
    label: String,
    href: String,
}

impl Chrome {
    /// Around a page for someone not signed in.
    fn anonymous() -> Chrome {
        Chrome { user_name: None, csrf: String::new(), crumbs: Vec::new() }
    }
}

impl Viewer {
    fn chrome(&self, crumbs: Vec<Crumb>) -> Chrome {
        Chrome { user_name: Some(self.caller.user.display_name.clone()), csrf: self.csrf.clone(), crumbs }
    }
    fn user(&self) -> &User {
        &self.caller.user
    }
}

fn crumb(label: impl Into<String>, href: impl Into<String>) -> Crumb {
    Crumb { label: label.into(), href: href.into() }
}

/// An API error shown as a page: what went wrong and where to go from there. Everything a viewer
/// may not see is "not found", exactly as in the API.
#[derive(Debug)]
pub struct PageError(ApiError);

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        PageError(e)
    }
}

impl From<RepoError> for PageError {
    fn from(e: RepoError) -> Self {
        PageError(e.into())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    heading: String,
    message: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status;
        let heading = match status {
            StatusCode::NOT_FOUND => "Not found".to_owned(),
            StatusCode::FORBIDDEN => "Not allowed".to_owned(),
            s if s.is_server_error() => "Something went wrong".to_owned(),
            s => s.canonical_reason().unwrap_or("Error").to_owned(),
        };
        let message = if status == StatusCode::NOT_FOUND {
            "There is nothing here, or it belongs to a project you are not a member of.".to_owned()
        } else {
            self.0.body.message.clone()
        };
        (status, render(&ErrorPage { chrome: Chrome::anonymous(), heading, message })).into_response()
    }
}

type PageResult = Result<Response, PageError>;

fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be shown").into_response()
        }
    }
}

/// A URL query string (without `?`) of these pairs.
fn query_string<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// This page's query with the `drop` keys removed and `set` added (links to the next page, or to
/// another view of the same listing).
fn requery(params: &[(String, String)], drop: &[&str], set: (&str, &str)) -> String {
    let mut pairs: Vec<(&str, &str)> =
        params.iter().filter(|(k, _)| !drop.contains(&k.as_str())).map(|(k, v)| (k.as_str(), v.as_str())).collect();
    pairs.push(set);
    format!("?{}", query_string(&pairs))
}

/// A delivery id passed back to a page after DELIVER, if it is one.
fn delivered_id(value: &str) -> Option<String> {
    Some(value.to_owned()).filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Only a path on this site may be a place to come back to after signing in.
fn local_path(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') { next } else { "/" }
}

// ---- sign in and out ----

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    error: Option<String>,
    expired: bool,
    next: String,
    username: String,
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    #[serde(default)]
    next: String,
    #[serde(default)]
    expired: Option<String>,
}

async fn login_page(Query(query): Query<LoginQuery>) -> Response {
    let next = local_path(&query.next).to_owned();
    let chrome = Chrome::anonymous();
    render(&LoginPage { chrome, error: None, expired: query.expired.is_some(), next, username: String::new() })
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    next: String,
}

async fn login(State(state): State<AppState>, Form(form): Form<LoginForm>) -> Response {
    let next = local_path(&form.next).to_owned();
    match start_session(&state, &form.username, &form.password).await {
        Ok((_, cookie)) => {
            let mut response = Redirect::to(&next).into_response();
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            response
        }
        Err(e) => {
            let chrome = Chrome::anonymous();
            let page = LoginPage {
                chrome,
                error: Some(e.body.message.clone()),
                expired: false,
                next,
                username: form.username,
            };
            (e.status, render(&page)).into_response()
        }
    }
}

#[derive(Deserialize)]
struct LogoutForm {
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> PageResult {
    if form.csrf != viewer.csrf {
        return Err(
            ApiError::forbidden("this sign-out did not come from a contenthub page; reload and try again").into()
        );
    }
    let cookie = end_session(&state, &headers).await?;
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

// ---- projects ----

struct ProjectCard {
    id: i64,
    name: String,
    code: String,
}

#[derive(Template)]
#[template(path = "projects.html")]
struct ProjectsPage {
    chrome: Chrome,
    projects: Vec<ProjectCard>,
    /// A site admin with no projects yet (a plain first start) is told how to make one.
    site_admin: bool,
}

async fn projects(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    let projects = state.db.projects_for(viewer.user()).await?;
    let projects = projects.into_iter().map(|p| ProjectCard { id: p.id, name: p.name, code: p.code }).collect();
    let site_admin = viewer.user().site_admin;
    Ok(render(&ProjectsPage { chrome: viewer.chrome(Vec::new()), projects, site_admin }))
}

struct BucketCard {
    slug: &'static str,
    title: &'static str,
    total: i64,
    request_based: bool,
    open_requests: i64,
    /// (state, label, count) for the states that have assets.
    states: Vec<(&'static str, &'static str, i64)>,
}

#[derive(Template)]
#[template(path = "project.html")]
struct ProjectPage {
    chrome: Chrome,
    project_id: i64,
    name: String,
    code: String,
    role: Option<&'static str>,
    buckets: Vec<BucketCard>,
    /// Managers (and site admins) manage the members.
    manages: bool,
}

async fn project(
    State(state): State<AppState>,
    viewer: Viewer,
    axum::extract::Path(id): axum::extract::Path<i64>,
) -> PageResult {
    let member = authorize(&state, &viewer.caller, id, Action::ViewProject).await?;
    let project = state.db.project(id).await?;
    let counts = crate::api::projects::visible_counts(&state, id, member.as_ref()).await?;
    let manages = allows(&viewer.caller, member.as_ref(), Action::ManageMembers);
    let buckets = counts
        .into_iter()
        .map(|c| BucketCard {
            slug: c.bucket.slug(),
            title: c.bucket.title(),
            total: c.counts.values().sum(),
            request_based: c.bucket.request_based(),
            open_requests: c.open_requests,
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
        buckets,
        manages,
    }))
}

// ---- a bucket's assets ----

struct Filter {
    field: FieldView,
    value: String,
}

struct Row {
    id: i64,
    name: String,
    version: i64,
    state: &'static str,
    state_label: &'static str,
    size: String,
    package: bool,
    /// A proxy (MP4/MOV) that the grid can show a frame of.
    proxy: bool,
    cells: Vec<String>,
    updated: String,
}

#[derive(Template)]
#[template(path = "bucket.html")]
struct BucketPage {
    chrome: Chrome,
    title: &'static str,
    project_name: String,
    q: String,
    sort: String,
    order: String,
    states: Vec<(&'static str, &'static str, bool)>,
    filters: Vec<Filter>,
    columns: Vec<&'static str>,
    rows: Vec<Row>,
    next_href: Option<String>,
    problem: Option<String>,
    /// Where this viewer delivers files into the bucket, if they may.
    upload_href: Option<String>,
    /// Just delivered (after the upload page): the delivery's id.
    delivered: Option<String>,
    requests_href: Option<String>,
    /// The viewer may edit metadata here: rows can be selected for bulk actions.
    editable: bool,
    /// Tiles (with a frame of each proxy) instead of the table.
    grid: bool,
    grid_href: String,
    table_href: String,
    fields: Vec<FieldView>,
    project_id: i64,
    slug: &'static str,
}

async fn bucket(
    State(state): State<AppState>,
    viewer: Viewer,
    axum::extract::Path((id, slug)): axum::extract::Path<(i64, String)>,
    Query(params): Query<Vec<(String, String)>>,
) -> PageResult {
    let bucket = BucketKind::from_slug(&slug).ok_or_else(ApiError::not_found)?;
    let member = authorize(&state, &viewer.caller, id, Action::ViewBucket(bucket)).await?;
    let project = state.db.project(id).await?;
    let param = |key: &str| params.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default();
    let listing: Vec<(String, String)> =
        params.iter().filter(|(k, _)| k != "delivered" && k != "view").cloned().collect();
    let (query, problem) = match crate::api::assets::asset_query(bucket, listing) {
        Ok(query) => (query, None),
        Err(e) => (crate::db::AssetQuery { limit: 100, ..Default::default() }, Some(e.body.message.clone())),
    };
    let page = state.db.list_assets(id, bucket, &query).await?;
    let schema = bucket.schema();
    let shown: Vec<_> = schema.iter().filter(|f| f.filterable).take(5).collect();
    let rows = page
        .items
        .iter()
        .map(|a| Row {
            id: a.id,
            name: a.name.clone(),
            version: a.version,
            state: a.state.as_str(),
            state_label: a.state.label(),
            size: human_bytes(a.size),
            package: a.package_files.is_some(),
            proxy: is_proxy(&a.name),
            cells: shown.iter().map(|f| a.metadata.get(f.key).map(display_value).unwrap_or_default()).collect(),
            updated: when(a.updated_ms),
        })
        .collect();
    let next_href = page.next.map(|after| requery(&params, &["after", "delivered"], ("after", &after)));
    let current_state = param("state");
    let grid = param("view") == "grid";
    let with_view = |view: &str| requery(&params, &["view", "after", "delivered"], ("view", view));
    let may_deliver = allows(&viewer.caller, member.as_ref(), Action::Deliver(bucket));
    let upload_href = may_deliver.then(|| format!("/projects/{id}/buckets/{slug}/upload"));
    let filters =
        shown.iter().map(|f| Filter { field: field_view(f), value: param(&format!("meta.{}", f.key)) }).collect();
    let chrome = viewer.chrome(vec![
        crumb(&project.name, format!("/projects/{id}")),
        crumb(bucket.title(), format!("/projects/{id}/buckets/{slug}")),
    ]);
    Ok(render(&BucketPage {
        chrome,
        title: bucket.title(),
        project_name: project.name,
        q: param("q"),
        sort: if param("sort") == "updated" { "updated".into() } else { "name".into() },
        order: if param("order") == "desc" { "desc".into() } else { "asc".into() },
        states: AssetState::ALL.into_iter().map(|s| (s.as_str(), s.label(), s.as_str() == current_state)).collect(),
        filters,
        columns: shown.iter().map(|f| f.label).collect(),
        rows,
        next_href,
        problem,
        upload_href,
        requests_href: bucket.request_based().then(|| format!("/projects/{id}/buckets/{slug}/requests")),
        editable: may_deliver && !grid,
        grid,
        grid_href: with_view("grid"),
        table_href: with_view("table"),
        fields: field_views(bucket),
        project_id: id,
        slug: bucket.slug(),
        delivered: delivered_id(&param("delivered")),
    }))
}

fn display_value(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

// ---- delivering files ----

struct FieldView {
    key: &'static str,
    label: &'static str,
    required: bool,
    kind: &'static str,
    choices: Vec<&'static str>,
}

/// The bucket's metadata fields as the forms show them.
fn field_views(bucket: BucketKind) -> Vec<FieldView> {
    bucket.schema().iter().map(field_view).collect()
}

fn field_view(f: &FieldDef) -> FieldView {
    let (kind, choices) = match f.kind {
        FieldKind::Text { .. } => ("text", Vec::new()),
        FieldKind::Integer { .. } => ("integer", Vec::new()),
        FieldKind::Date => ("date", Vec::new()),
        FieldKind::Choice { choices } => ("choice", choices.to_vec()),
    };
    FieldView { key: f.key, label: f.label, required: f.required, kind, choices }
}

#[derive(Template)]
#[template(path = "upload.html")]
struct UploadPage {
    chrome: Chrome,
    title: &'static str,
    project_name: String,
    request_based: bool,
    fields: Vec<FieldView>,
    /// The page's settings for upload.js, as JSON safe inside a script element.
    config_json: String,
}

#[derive(Debug, Deserialize)]
struct UploadQuery {
    /// Requests chosen on the requests page, comma-separated.
    #[serde(default)]
    requests: String,
    /// An open delivery of the viewer's to continue (from the transfers page).
    delivery: Option<i64>,
}

async fn upload(
    State(state): State<AppState>,
    viewer: Viewer,
    axum::extract::Path((id, slug)): axum::extract::Path<(i64, String)>,
    Query(query): Query<UploadQuery>,
) -> PageResult {
    let bucket = BucketKind::from_slug(&slug).ok_or_else(ApiError::not_found)?;
    authorize(&state, &viewer.caller, id, Action::Deliver(bucket)).await?;
    let project = state.db.project(id).await?;
    let fields = field_views(bucket);
    let chosen: Vec<i64> = query.requests.split(',').filter_map(|r| r.trim().parse().ok()).collect();
    let requests: Vec<serde_json::Value> = if bucket.request_based() {
        state
            .db
            .list_requests(id, bucket, None)
            .await?
            .into_iter()
            .filter(|r| r.state.accepts_deliveries() && (chosen.is_empty() || chosen.contains(&r.id)))
            .map(|r| serde_json::json!({"id": r.id, "title": r.title, "metadata": r.metadata}))
            .collect()
    } else {
        Vec::new()
    };
    let resume = match query.delivery {
        Some(delivery_id) => {
            let delivery = state.db.delivery(delivery_id).await?;
            let mine = delivery.created_by == Some(viewer.user().id);
            if !mine || delivery.project_id != id || delivery.bucket != bucket {
                return Err(ApiError::not_found().into());
            }
            if delivery.state != "open" {
                return Err(ApiError::conflict(format!("delivery {delivery_id} was delivered already")).into());
            }
            let view = crate::api::deliveries::view(&state, delivery).await?;
            serde_json::to_value(&view).map_err(|_| ApiError::internal())?
        }
        None => serde_json::Value::Null,
    };
    let config = serde_json::json!({
        "resume": resume,
        "project": id,
        "bucket": bucket.slug(),
        "request_based": bucket.request_based(),
        "requests": requests,
        "chosen": !chosen.is_empty(),
        "fields": fields.iter().map(|f| serde_json::json!({"key": f.key, "kind": f.kind})).collect::<Vec<_>>(),
        "done_url": if bucket.request_based() {
            format!("/projects/{id}/buckets/{slug}/requests")
        } else {
            format!("/projects/{id}/buckets/{slug}")
        },
    });
    let chrome = viewer.chrome(vec![
        crumb(&project.name, format!("/projects/{id}")),
        crumb(bucket.title(), format!("/projects/{id}/buckets/{slug}")),
        crumb("Deliver", format!("/projects/{id}/buckets/{slug}/upload")),
    ]);
    Ok(render(&UploadPage {
        chrome,
        title: bucket.title(),
        project_name: project.name,
        request_based: bucket.request_based(),
        fields,
        // `<` escaped so that no text in it can close the script element.
        config_json: config.to_string().replace('<', "\\u003c"),
    }))
}

// ---- members (managers) ----

struct MemberRow {
    user_id: i64,
    username: String,
    display_name: String,
    role: &'static str,
    buckets: String,
    bucket_slugs: String,
}

#[derive(Template)]
#[template(path = "members.html")]
struct MembersPage {
    chrome: Chrome,
    project_id: i64,
    name: String,
    members: Vec<MemberRow>,
    roles: Vec<&'static str>,
    buckets: Vec<(&'static str, &'static str)>,
}

async fn members(
    State(state): State<AppState>,
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

// ---- transfers ----

struct TransferFile {
    asset_id: i64,
    name: String,
    state: &'static str,
    state_label: &'static str,
    size: i64,
    offset: i64,
    progress: String,
    /// What to do next, or why it stopped.
    note: String,
    /// The transfer's log: every history line of the file's asset.
    log: Vec<HistoryView>,
    failed: bool,
    redeliver_href: Option<String>,
}

struct TransferView {
    id: i64,
    project: String,
    bucket: &'static str,
    /// Who declared it, when it is not the viewer (a manager sees the project's deliveries).
    by: Option<String>,
    /// Still taking files (else delivered or stopped).
    open: bool,
    /// Never delivered and never will be: every file of it failed (its uploads expired).
    stopped: bool,
    when: String,
    done: String,
    total: String,
    size: i64,
    files: Vec<TransferFile>,
    resume_href: Option<String>,
}

#[derive(Template)]
#[template(path = "transfers.html")]
struct TransfersPage {
    chrome: Chrome,
    deliveries: Vec<TransferView>,
}

/// The latest deliveries the transfers page lists.
const TRANSFERS_SHOWN: i64 = 50;

async fn transfers(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    let mut deliveries = Vec::new();
    let mut projects = std::collections::HashMap::new();
    let mut people = std::collections::HashMap::new();
    for id in state.db.deliveries_seen_by(viewer.user().id, TRANSFERS_SHOWN).await? {
        let delivery = state.db.delivery(id).await?;
        // Only what the viewer may still see (a membership may have ended); a failing database is
        // an error, not an empty list.
        let action = Action::ViewBucket(delivery.bucket);
        match authorize_own(&state, &viewer.caller, delivery.project_id, action, delivery.created_by).await {
            Ok(_) => {}
            Err(e) if matches!(e.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN) => continue,
            Err(e) => return Err(e.into()),
        }
        if let std::collections::hash_map::Entry::Vacant(slot) = projects.entry(delivery.project_id) {
            slot.insert(state.db.project(delivery.project_id).await?.name);
        }
        let project = projects[&delivery.project_id].clone();
        let by = match delivery.created_by {
            Some(user) if user != viewer.user().id => {
                if let std::collections::hash_map::Entry::Vacant(slot) = people.entry(user) {
                    slot.insert(
                        state.db.user(user).await.map(|u| u.display_name).unwrap_or_else(|_| format!("user {user}")),
                    );
                }
                Some(people[&user].clone())
            }
            _ => None,
        };
        let view = crate::api::deliveries::view(&state, delivery).await?;
        // An open delivery whose every file failed has nothing left to resume.
        let taking = view.delivery.state == "open";
        let stopped =
            taking && !view.files.is_empty() && view.files.iter().all(|f| f.state == AssetState::FailedDelivery);
        let open = taking && !stopped;
        let ids: Vec<i64> = view.files.iter().map(|f| f.asset_id).collect();
        let mut logs: std::collections::HashMap<i64, Vec<HistoryView>> = std::collections::HashMap::new();
        for entry in state.db.assets_history(&ids).await? {
            logs.entry(entry.asset_id.unwrap_or_default()).or_default().push(HistoryView::exact(entry));
        }
        let upload_href =
            format!("/projects/{}/buckets/{}/upload", view.delivery.project_id, view.delivery.bucket.slug());
        let mut files = Vec::new();
        for f in &view.files {
            let offset = if f.complete { f.size } else { f.offset };
            let log = logs.remove(&f.asset_id).unwrap_or_default();
            let failed = matches!(f.state, AssetState::FailedDelivery | AssetState::Invalid);
            let note = match (f.state, &f.package) {
                (AssetState::FailedDelivery | AssetState::Invalid, _) => {
                    log.last().map(|h| h.detail.clone()).unwrap_or_default()
                }
                (_, Some(p)) if p.incomplete > 0 => format!("{} of {} files still to upload", p.incomplete, p.files),
                (AssetState::InProgress, _) if !f.complete => "waiting for the rest of the file".into(),
                (AssetState::InProgress, _) => "uploaded; waiting for DELIVER".into(),
                _ => String::new(),
            };
            files.push(TransferFile {
                asset_id: f.asset_id,
                name: f.name.clone(),
                state: f.state.as_str(),
                state_label: f.state.label(),
                size: f.size,
                offset,
                progress: format!("{} of {}", human_bytes(offset), human_bytes(f.size)),
                note,
                log,
                failed,
                // Back to the upload page, with the request it was to fulfil already chosen.
                redeliver_href: (f.state == AssetState::FailedDelivery).then(|| {
                    f.request_id.map_or_else(|| upload_href.clone(), |r| format!("{upload_href}?requests={r}"))
                }),
            });
        }
        let size: i64 = files.iter().map(|f| f.size).sum();
        let received: i64 = files.iter().map(|f| f.offset).sum();
        deliveries.push(TransferView {
            id: view.delivery.id,
            project,
            bucket: view.delivery.bucket.title(),
            by,
            open,
            stopped,
            when: when(view.delivery.created_ms),
            done: human_bytes(received),
            total: human_bytes(size),
            size,
            files,
            resume_href: open.then(|| format!("{upload_href}?delivery={}", view.delivery.id)),
        });
    }
    let chrome = viewer.chrome(vec![crumb("Transfers", "/transfers")]);
    Ok(render(&TransfersPage { chrome, deliveries }))
}

// ---- requests ----

struct RequestRow {
    id: i64,
    title: String,
    state: &'static str,
    reason: Option<String>,
    needs: String,
    updated: String,
    /// Vendors can still deliver against it.
    open: bool,
    /// (event, label) a manager may do now.
    actions: Vec<(&'static str, &'static str)>,
    /// Its metadata as the edit form's fields take it (a JSON object of strings).
    metadata_json: String,
}

#[derive(Template)]
#[template(path = "requests.html")]
struct RequestsPage {
    chrome: Chrome,
    project_id: i64,
    slug: &'static str,
    title: &'static str,
    project_name: String,
    q: String,
    states: Vec<(&'static str, bool)>,
    requests: Vec<RequestRow>,
    manager: bool,
    may_deliver: bool,
    fields: Vec<FieldView>,
    delivered: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RequestsQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    delivered: String,
}

async fn requests(
    State(state): State<AppState>,
    viewer: Viewer,
    axum::extract::Path((id, slug)): axum::extract::Path<(i64, String)>,
    Query(query): Query<RequestsQuery>,
) -> PageResult {
    let bucket = BucketKind::from_slug(&slug).filter(|b| b.request_based()).ok_or_else(ApiError::not_found)?;
    let member = authorize(&state, &viewer.caller, id, Action::ViewBucket(bucket)).await?;
    let project = state.db.project(id).await?;
    let manager = allows(&viewer.caller, member.as_ref(), Action::ManageBucket(bucket));
    let may_deliver = allows(&viewer.caller, member.as_ref(), Action::Deliver(bucket));
    let wanted = hub_domain::RequestState::parse(&query.state);
    let needle = query.q.trim().to_lowercase();
    let decisions: [(hub_domain::RequestEvent, &str, &str); 4] = [
        (hub_domain::RequestEvent::Accept, "accept", "Accept"),
        (hub_domain::RequestEvent::AskRedelivery, "ask_redelivery", "Ask for redelivery"),
        (hub_domain::RequestEvent::Reject, "reject", "Reject"),
        (hub_domain::RequestEvent::Reopen, "reopen", "Reopen"),
    ];
    let rows = state
        .db
        .list_requests(id, bucket, wanted)
        .await?
        .into_iter()
        .filter(|r| needle.is_empty() || r.title.to_lowercase().contains(&needle))
        .map(|r| RequestRow {
            id: r.id,
            metadata_json: serde_json::to_string(
                &r.metadata.iter().map(|(k, v)| (k.as_str(), display_value(v))).collect::<BTreeMap<_, _>>(),
            )
            .unwrap_or_default(),
            needs: r.metadata.iter().map(|(k, v)| format!("{k}={}", display_value(v))).collect::<Vec<_>>().join(", "),
            title: r.title,
            state: r.state.as_str(),
            reason: r.reason,
            updated: when(r.updated_ms),
            open: r.state.accepts_deliveries(),
            actions: decisions
                .iter()
                .filter(|(event, _, _)| r.state.next(*event).is_ok())
                .map(|(_, event, label)| (*event, *label))
                .collect(),
        })
        .collect();
    let chrome = viewer.chrome(vec![
        crumb(&project.name, format!("/projects/{id}")),
        crumb(bucket.title(), format!("/projects/{id}/buckets/{slug}/requests")),
    ]);
    Ok(render(&RequestsPage {
        chrome,
        project_id: id,
        slug: bucket.slug(),
        title: bucket.title(),
        project_name: project.name,
        q: query.q.clone(),
        states: hub_domain::RequestState::ALL.into_iter().map(|s| (s.as_str(), Some(s) == wanted)).collect(),
        requests: rows,
        manager,
        may_deliver,
        fields: field_views(bucket),
        delivered: delivered_id(&query.delivered),
    }))
}

// ---- one asset ----

struct HistoryView {
    at: String,
    action: String,
    who: String,
    detail: String,
}

impl HistoryView {
    fn new(h: crate::db::HistoryEntry, at: fn(i64) -> String) -> Self {
        HistoryView {
            at: at(h.at_ms),
            action: h.action.replace('_', " "),
            who: h.username.unwrap_or_else(|| "contenthub".into()),
            detail: h.detail,
        }
    }
    /// To the second: a transfer's log lines are often seconds apart.
    fn exact(h: crate::db::HistoryEntry) -> Self {
        Self::new(h, when_exact)
    }
}

struct VersionView {
    id: i64,
    version: i64,
    state: &'static str,
    state_label: &'static str,
    updated: String,
}

#[derive(Template)]
#[template(path = "asset.html")]
struct AssetPage {
    chrome: Chrome,
    id: i64,
    name: String,
    version: i64,
    state: &'static str,
    state_label: &'static str,
    size: String,
    bucket_title: &'static str,
    md5: Option<String>,
    created: String,
    metadata: Vec<(String, String)>,
    checks: Vec<CheckResult>,
    history: Vec<HistoryView>,
    versions: Vec<VersionView>,
    downloadable: bool,
    playable: bool,
    not_playable: Option<String>,
}

async fn asset(
    State(state): State<AppState>,
    viewer: Viewer,
    axum::extract::Path(id): axum::extract::Path<i64>,
) -> PageResult {
    let asset = state.db.asset(id).await?;
    authorize(&state, &viewer.caller, asset.project_id, Action::ViewBucket(asset.bucket)).await?;
    let project = state.db.project(asset.project_id).await?;
    let checks = state.db.checks(id).await?;
    let history = state.db.history(Some(id), None).await?;
    let versions = state.db.asset_versions(asset.project_id, asset.bucket, &asset.name).await?;
    let proxy_check = checks.iter().rev().find(|c| c.check == "proxy");
    let (playable, not_playable) =
        playability(&asset, is_proxy(&asset.name), proxy_check.map(|c| (c.passed, c.detail.as_str())));
    let metadata = asset
        .bucket
        .schema()
        .iter()
        .filter_map(|f| asset.metadata.get(f.key).map(|v| (f.label.to_owned(), display_value(v))))
        .collect();
    let chrome = viewer.chrome(vec![
        crumb(&project.name, format!("/projects/{}", project.id)),
        crumb(asset.bucket.title(), format!("/projects/{}/buckets/{}", project.id, asset.bucket.slug())),
        crumb(&asset.name, format!("/assets/{id}")),
    ]);
    Ok(render(&AssetPage {
        chrome,
        id,
        name: asset.name.clone(),
        version: asset.version,
        state: asset.state.as_str(),
        state_label: asset.state.label(),
        size: human_bytes(asset.size),
        bucket_title: asset.bucket.title(),
        md5: asset.md5.clone(),
        created: when(asset.created_ms),
        metadata,
        checks,
        history: history.into_iter().map(|h| HistoryView::new(h, when)).collect(),
        versions: versions
            .into_iter()
            .map(|v| VersionView {
                id: v.id,
                version: v.version,
                state: v.state.as_str(),
                state_label: v.state.label(),
                updated: when(v.updated_ms),
            })
            .collect(),
        downloadable: asset.blob_key.is_some()
            && asset.package_files.is_none()
            && asset.state != AssetState::InProgress,
        playable,
        not_playable,
    }))
}

/// Whether the page offers the player, or says why not.
fn playability(asset: &Asset, proxy: bool, check: Option<(bool, &str)>) -> (bool, Option<String>) {
    if !proxy {
        return (false, None);
    }
    if asset.blob_key.is_none() || asset.state == AssetState::InProgress {
        return (false, Some("The proxy is still being delivered; it plays once its bytes are here.".into()));
    }
    match check {
        Some((false, detail)) => (false, Some(format!("This proxy cannot be played in the browser: {detail}."))),
        _ => (true, None),
    }
}

// ---- static files ----

async fn static_file(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    let (body, kind): (&'static [u8], &str) = match file.as_str() {
        "app.css" => (include_bytes!("../../static/app.css"), "text/css; charset=utf-8"),
        "player.js" => (include_bytes!("../../static/player.js"), "text/javascript; charset=utf-8"),
        "hub.js" => (include_bytes!("../../static/hub.js"), "text/javascript; charset=utf-8"),
        "browse.js" => (include_bytes!("../../static/browse.js"), "text/javascript; charset=utf-8"),
        "upload.js" => (include_bytes!("../../static/upload.js"), "text/javascript; charset=utf-8"),
        "transfers.js" => (include_bytes!("../../static/transfers.js"), "text/javascript; charset=utf-8"),
        "tus.min.js" => (include_bytes!("../../static/tus.min.js"), "text/javascript; charset=utf-8"),
        "tus-js-client.LICENSE" => (include_bytes!("../../static/tus-js-client.LICENSE"), "text/plain; charset=utf-8"),
        _ => return PageError(ApiError::not_found()).into_response(),
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(kind).expect("ASCII"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_places_to_return_to() {
        assert_eq!(local_path("/projects/1?state=valid"), "/projects/1?state=valid");
        for outside in ["//evil.example/x", "https://evil.example/", "/\\evil.example", "", "javascript:alert(1)"] {
            assert_eq!(local_path(outside), "/", "{outside}");
        }
        assert_eq!(query_string(&[("next", "/a b?c=d&e")]), "next=%2Fa+b%3Fc%3Dd%26e");
    }
}
