//! Transfers: my deliveries (and, for managers, everyone's), live.

use super::*;

pub(super) struct TransferFile {
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

pub(super) struct TransferView {
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
pub(super) struct TransfersPage {
    chrome: Chrome,
    deliveries: Vec<TransferView>,
}

/// The latest deliveries the transfers page lists.
pub(super) const TRANSFERS_SHOWN: i64 = 50;

pub(super) async fn transfers(State(state): State<Hub>, viewer: Viewer) -> PageResult {
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
        let view = crate::app::deliveries::view(&state, delivery).await?;
        // An open delivery whose every file failed has nothing left to resume.
        let taking = view.delivery.state == DeliveryState::Open;
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
