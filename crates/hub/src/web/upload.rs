//! Delivering files: the upload page.

use super::*;

#[derive(Template)]
#[template(path = "upload.html")]
pub(super) struct UploadPage {
    chrome: Chrome,
    title: &'static str,
    project_name: String,
    request_based: bool,
    fields: Vec<FieldView>,
    /// The page's settings for upload.js, as JSON safe inside a script element.
    config_json: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct UploadQuery {
    /// Requests chosen on the requests page, comma-separated.
    #[serde(default)]
    requests: String,
    /// An open delivery of the viewer's to continue (from the transfers page).
    delivery: Option<i64>,
}

pub(super) async fn upload(
    State(state): State<Hub>,
    viewer: Viewer,
    axum::extract::Path((id, slug)): axum::extract::Path<(i64, String)>,
    Query(query): Query<UploadQuery>,
) -> PageResult {
    let bucket = BucketKind::from_slug(&slug).ok_or_else(AppError::not_found)?;
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
                return Err(AppError::not_found().into());
            }
            if delivery.state != DeliveryState::Open {
                return Err(AppError::conflict(format!("delivery {delivery_id} was delivered already")).into());
            }
            let view = crate::app::deliveries::view(&state, delivery).await?;
            serde_json::to_value(&view).map_err(|_| AppError::internal())?
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
        "fields": fields
            .iter()
            .map(|f| serde_json::json!({"key": f.key, "kind": f.kind, "label": f.label, "required": f.required, "choices": f.choices}))
            .collect::<Vec<_>>(),
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
