//! A bucket's assets: filters, sort, paging, table or grid.

use super::*;

pub(super) struct Filter {
    field: FieldView,
    value: String,
}

pub(super) struct Row {
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
pub(super) struct BucketPage {
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
    /// The viewer manages the bucket: revalidation and deletion among the bulk actions.
    manages: bool,
    /// Files arrive through the API only (Footage); `with_token`: this viewer could deliver
    /// here with a token of the deliver scope, so the page says how.
    api_only: bool,
    with_token: bool,
    /// Tiles (with a frame of each proxy) instead of the table.
    grid: bool,
    grid_href: String,
    table_href: String,
    fields: Vec<FieldView>,
    project_id: i64,
    slug: &'static str,
}

pub(super) async fn bucket(
    State(state): State<Hub>,
    viewer: Viewer,
    axum::extract::Path((id, slug)): axum::extract::Path<(i64, String)>,
    Query(params): Query<Vec<(String, String)>>,
) -> PageResult {
    let bucket = BucketKind::from_slug(&slug).ok_or_else(AppError::not_found)?;
    let member = authorize(&state, &viewer.caller, id, Action::ViewBucket(bucket)).await?;
    let project = state.db.project(id).await?;
    let param = |key: &str| params.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default();
    let listing: Vec<(String, String)> =
        params.iter().filter(|(k, _)| k != "delivered" && k != "view").cloned().collect();
    let (query, problem) = match crate::app::assets::asset_query(bucket, listing) {
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
            proxy: is_movie(&a.name),
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
        manages: allows(&viewer.caller, member.as_ref(), Action::ManageBucket(bucket)),
        api_only: bucket.api_only(),
        with_token: bucket.api_only() && allows(&with_token(&viewer.caller), member.as_ref(), Action::Deliver(bucket)),
        grid,
        grid_href: with_view("grid"),
        table_href: with_view("table"),
        fields: field_views(bucket),
        project_id: id,
        slug: bucket.slug(),
        delivered: delivered_id(&param("delivered")),
    }))
}
