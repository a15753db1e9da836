//! A bucket's requests (request-based buckets).

use super::*;

pub(super) struct RequestRow {
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
pub(super) struct RequestsPage {
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
pub(super) struct RequestsQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    delivered: String,
}

pub(super) async fn requests(
    State(state): State<Hub>,
    viewer: Viewer,
    axum::extract::Path((id, slug)): axum::extract::Path<(i64, String)>,
    Query(query): Query<RequestsQuery>,
) -> PageResult {
    let bucket = BucketKind::from_slug(&slug).filter(|b| b.request_based()).ok_or_else(AppError::not_found)?;
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
