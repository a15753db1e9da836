//! One asset: metadata, validation, history, versions, player.

use super::*;

pub(super) struct VersionView {
    id: i64,
    version: i64,
    state: &'static str,
    state_label: &'static str,
    updated: String,
}

#[derive(Template)]
#[template(path = "asset.html")]
pub(super) struct AssetPage {
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
    /// A validated package: downloadable as one ZIP.
    zip: bool,
    playable: bool,
    not_playable: Option<String>,
    /// A validated package's first files by name, as validation found them, and how many it has.
    files: Vec<FileRow>,
    files_total: usize,
}

/// One file of a validated package on its page.
pub(super) struct FileRow {
    name: String,
    size: String,
    md5: String,
    ok: bool,
    result: String,
}

/// How many of a package's files its page lists (the rest are a link to the API away).
const FILES_SHOWN: usize = 200;

pub(super) async fn asset(
    State(state): State<Hub>,
    viewer: Viewer,
    axum::extract::Path(id): axum::extract::Path<i64>,
) -> PageResult {
    let asset = state.db.asset(id).await?;
    authorize(&state, &viewer.caller, asset.project_id, Action::ViewBucket(asset.bucket)).await?;
    let project = state.db.project(asset.project_id).await?;
    let checks = state.db.checks(id).await?;
    let history = state.db.history(Some(id), None).await?;
    let versions = state.db.asset_versions(asset.project_id, asset.bucket, &asset.name).await?;
    let (files, files_total) = state.db.package_files(id, "", FILES_SHOWN).await?.unwrap_or_default();
    let files = files
        .into_iter()
        .map(|f| FileRow {
            size: human_bytes(f.size),
            md5: f.md5.unwrap_or_default(),
            name: f.name,
            ok: f.ok,
            result: f.result,
        })
        .collect();
    // A proxy plays when its proxy check passed; any other movie when its media check found it
    // playable (H.264, fast start); the page says plainly when it does not.
    let movie_check =
        checks.iter().rev().find(|c| matches!(c.check, hub_domain::Check::Proxy | hub_domain::Check::Media));
    let (playable, not_playable) = playability(
        &asset,
        is_movie(&asset.name),
        movie_check.map(|c| match c.check {
            hub_domain::Check::Media if c.passed && !c.detail.contains(crate::validate::PLAYS_IN_BROWSERS) => (
                false,
                format!("it is {}", c.detail.trim_end_matches(crate::validate::NOT_IN_BROWSERS).trim_end_matches("; ")),
            ),
            _ => (c.passed, c.detail.clone()),
        }),
    );
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
        zip: asset.package_files.is_some() && matches!(asset.state, AssetState::Valid | AssetState::Invalid),
        playable,
        not_playable,
        files,
        files_total,
    }))
}

/// Whether the page offers the player for a movie, or says why not. `check`: what validation
/// found (playable or not, and why).
pub(super) fn playability(asset: &Asset, movie: bool, check: Option<(bool, String)>) -> (bool, Option<String>) {
    if !movie {
        return (false, None);
    }
    if asset.blob_key.is_none() || asset.state == AssetState::InProgress {
        return (false, Some("The file is still being delivered; it plays once its bytes are here.".into()));
    }
    match check {
        Some((false, detail)) => {
            (false, Some(format!("This file cannot be played in the browser: {detail}. Download it to view it.")))
        }
        _ => (true, None),
    }
}
