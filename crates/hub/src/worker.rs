//! Workers: claim validation jobs from the database, run the checks, and move the asset (and its
//! request) to the state the results decide. They run inside `serve` by default.

use std::time::Duration;

use hub_domain::{AssetEvent, AssetState, RequestEvent, RequestState};

use crate::app::Hub;
use crate::db::{Job, RepoError, RepoResult};
use crate::validate::run_checks;

/// A job whose worker has been silent this long is given to another worker.
const STALE_MS: i64 = 60_000;
const HEARTBEAT: Duration = Duration::from_secs(10);
const MAX_ATTEMPTS: i64 = 5;

/// Works until the process stops: claims, validates, sleeps briefly when there is nothing to do.
pub async fn run(state: Hub, worker: String) {
    tracing::info!(%worker, "validation worker started");
    loop {
        match run_one(&state, &worker).await {
            Ok(true) => continue,
            Ok(false) => tokio::time::sleep(Duration::from_millis(500)).await,
            Err(e) => {
                tracing::warn!(error = %e, "the job queue is unreachable; retrying");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}

/// Processes one job if one is ready; returns whether it did.
pub async fn run_one(state: &Hub, worker: &str) -> RepoResult<bool> {
    state.db.requeue_stale_jobs(STALE_MS).await?;
    let Some(job) = state.db.claim_job(worker).await? else { return Ok(false) };
    let beat = {
        let (db, id, worker) = (state.db.clone(), job.id, worker.to_owned());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(HEARTBEAT).await;
                let _ = db.heartbeat_job(id, &worker).await;
            }
        })
    };
    let outcome = match job.kind {
        crate::db::JobKind::Validate => validate(state, &job).await,
    };
    beat.abort();
    let Err(e) = outcome else {
        state.db.finish_job(job.id).await?;
        return Ok(true);
    };
    // The asset was deleted while it was being checked: nothing is left to validate.
    let asset = match state.db.asset(job.asset_id).await {
        Err(RepoError::NotFound) => {
            state.db.finish_job(job.id).await?;
            return Ok(true);
        }
        other => other?,
    };
    let base = state.config.validation_retry.as_millis() as i64;
    let retry = (job.attempts < MAX_ATTEMPTS).then(|| base * 2i64.pow(job.attempts as u32));
    tracing::warn!(job = job.id, asset = job.asset_id, error = %e, ?retry, "validation could not run");
    state.db.fail_job(job.id, &e, retry).await?;
    if retry.is_none()
        && let Ok(next) = asset.state.next(AssetEvent::ValidationAbandoned)
    {
        // Given up: back to Delivered, where a manager can ask for validation again.
        state.db.transition_asset(asset.id, asset.state, next).await?;
        let detail = format!("validation could not run after {} attempts ({e}); a manager can ask again", job.attempts);
        state.db.add_history(asset.project_id, Some(asset.id), None, None, "validation_abandoned", &detail).await?;
    }
    Ok(true)
}

async fn validate(state: &Hub, job: &Job) -> Result<(), String> {
    let asset = match state.db.asset(job.asset_id).await {
        Ok(asset) => asset,
        Err(RepoError::NotFound) => return Ok(()), // deleted meanwhile: nothing to do
        Err(e) => return Err(e.to_string()),
    };
    let asset = match asset.state {
        AssetState::Delivered => {
            let next = asset.state.next(AssetEvent::ValidationStarted).map_err(|e| e.to_string())?;
            state.db.transition_asset(asset.id, asset.state, next).await.map_err(|e| e.to_string())?;
            crate::db::Asset { state: next, ..asset }
        }
        AssetState::Validating => asset, // a retry, or a job taken over from a silent worker
        _ => return Ok(()),              // already decided
    };
    let remux = state.db.project(asset.project_id).await.map_err(|e| e.to_string())?.fast_start_remux;
    let checked = run_checks(state.store.clone(), &asset, remux).await.map_err(|e| e.to_string())?;
    if let Some(copy) = &checked.remuxed
        && asset.original_blob_key.is_none()
    {
        state.db.replace_asset_blob(asset.id, copy.as_str()).await.map_err(|e| e.to_string())?;
    }
    let results = checked.results;
    for result in &results {
        state.db.record_check(asset.id, result).await.map_err(|e| e.to_string())?;
    }
    let passed = results.iter().all(|r| r.passed);
    let event = if passed { AssetEvent::ValidationPassed } else { AssetEvent::ValidationFailed };
    let next = asset.state.next(event).map_err(|e| e.to_string())?;
    state.db.transition_asset(asset.id, asset.state, next).await.map_err(|e| e.to_string())?;
    let reasons: Vec<String> =
        results.iter().filter(|r| !r.passed).map(|r| format!("{}: {}", r.check, r.detail)).collect();
    let detail = if passed { "all checks passed".to_owned() } else { reasons.join("; ") };
    state
        .db
        .add_history(asset.project_id, Some(asset.id), None, None, next.as_str(), &detail)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(request_id) = asset.request_id {
        update_request(state, request_id).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A request whose assets are all Valid is Processed; one that was Processed and now has an
/// Invalid asset goes back to Submitted.
async fn update_request(state: &Hub, request_id: i64) -> RepoResult<()> {
    let request = state.db.request(request_id).await?;
    let states = state.db.request_asset_states(request_id).await?;
    let all_valid = !states.is_empty() && states.iter().all(|s| s == AssetState::Valid.as_str());
    let event = match (request.state, all_valid) {
        (RequestState::Submitted, true) => RequestEvent::AllAssetsValid,
        (RequestState::Processed, false) => RequestEvent::AssetInvalid,
        _ => return Ok(()),
    };
    if let Ok(next) = request.state.next(event) {
        state.db.transition_request(request_id, request.state, next, None).await?;
        state.db.add_history(request.project_id, None, Some(request_id), None, "request_state", next.as_str()).await?;
    }
    Ok(())
}
