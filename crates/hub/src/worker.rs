//! Workers: one loop that does the hub's background jobs. Queued jobs (validating a delivered
//! asset) are claimed from the database, heartbeat while they run and are retried with doubling
//! waits; periodic ones (freeing expired uploads) run on their schedule in the loop that was asked
//! to keep it. They run inside `serve` by default, or alone with `contenthub worker`.

use std::time::{Duration, Instant};

use hub_domain::{AssetEvent, AssetState, HistoryAction};

use crate::app::Hub;
use crate::db::{CheckResult, JobKind, PackageDigests, QueuedJob, RepoError, RepoResult, ValidationResult};
use crate::validate::isolated::Failure;
use crate::validate::{Subject, run_checks};

const HEARTBEAT: Duration = Duration::from_secs(10);
/// Attempts a job gets: retries after the storage failed, or workers that died on it.
pub const MAX_ATTEMPTS: i64 = 5;
/// Attempts a job gets when its validation child dies on the file (a crash, its memory or time
/// limit): the same file stops it again, so the asset is Invalid sooner.
pub const MAX_STOPPED_ATTEMPTS: i64 = 3;

/// What a worker does.
#[derive(Debug)]
pub enum Job {
    /// Check a delivered asset and decide Valid or Invalid (queued by DELIVER or a revalidation).
    Validate(QueuedJob),
    /// Free the storage of unfinished uploads whose time is up, and forget expired sessions
    /// (periodic).
    ReapUploads,
}

/// How often expired uploads are reaped: four times per upload lifetime, between once a second
/// and once a minute.
pub fn reap_period(hub: &Hub) -> Duration {
    (hub.config.upload_lifetime / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// Which jobs a worker loop takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duties {
    /// Queued jobs only.
    Queued,
    /// Queued jobs, and the periodic ones when they are due (one loop per process does these).
    QueuedAndPeriodic,
    /// The periodic jobs only (a hub serving with no validation workers of its own).
    Periodic,
}

/// Works until the process stops: the periodic jobs when they are due, otherwise the next queued
/// job, sleeping briefly when there is nothing to do.
pub async fn run(hub: Hub, worker: String, duties: Duties) {
    tracing::info!(%worker, ?duties, "worker started");
    let periodic = duties != Duties::Queued;
    let mut next_reap = Instant::now();
    loop {
        if duties == Duties::Periodic {
            tokio::time::sleep_until(next_reap.into()).await;
        }
        if periodic && Instant::now() >= next_reap {
            next_reap = Instant::now() + reap_period(&hub);
            if let Err(e) = perform(&hub, &worker, Job::ReapUploads).await {
                tracing::warn!(error = %e, "a periodic job failed; will retry");
            }
            continue;
        }
        match run_one(&hub, &worker).await {
            Ok(true) => continue,
            Ok(false) => {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(500)) => {}
                    () = hub.jobs_queued.notified() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "the job queue is unreachable; retrying");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}

/// Runs the task `make` makes, and makes it again whenever it dies of a panic (logged), so that a
/// background loop that trips over something unexpected is back a second later instead of gone
/// until the process restarts. Returns when the task returns.
pub async fn supervise<F, Fut>(what: String, mut make: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    loop {
        match tokio::spawn(make()).await {
            Ok(()) => return,
            Err(e) if e.is_panic() => {
                tracing::error!(task = %what, "a background task died of a panic; starting it again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(_) => return, // cancelled: the process is stopping
        }
    }
}

/// Processes one queued job if one is ready; returns whether it did.
pub async fn run_one(hub: &Hub, worker: &str) -> RepoResult<bool> {
    let stale_ms = hub.config.stale_job.as_millis() as i64;
    let exhausted = hub.db.take_exhausted_jobs(stale_ms, MAX_ATTEMPTS, worker).await?;
    for job in &exhausted {
        give_up_on(hub, job, None).await?;
    }
    hub.db.requeue_stale_jobs(stale_ms, MAX_ATTEMPTS).await?;
    let Some(job) = hub.db.claim_job(worker).await? else { return Ok(!exhausted.is_empty()) };
    let job = match job.kind {
        JobKind::Validate => Job::Validate(job),
    };
    perform(hub, worker, job).await?;
    Ok(true)
}

async fn perform(hub: &Hub, worker: &str, job: Job) -> RepoResult<()> {
    match job {
        // A reap that fails is tried again at the next period.
        Job::ReapUploads => {
            match crate::app::uploads::reap_expired(hub).await {
                Ok(0) => {}
                Ok(reaped) => tracing::info!(reaped, "expired uploads freed"),
                Err(e) => tracing::warn!(error = ?e, "reaping expired uploads failed; will retry"),
            }
            match hub.db.purge_expired_sessions().await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "expired sessions forgotten"),
                Err(e) => tracing::warn!(error = %e, "forgetting expired sessions failed; will retry"),
            }
            Ok(())
        }
        Job::Validate(job) => {
            let beat = {
                let (db, id, worker) = (hub.db.clone(), job.id, worker.to_owned());
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(HEARTBEAT).await;
                        let _ = db.heartbeat_job(id, &worker).await;
                    }
                })
            };
            let outcome = validate(hub, &job).await;
            beat.abort();
            match outcome {
                Ok(()) => Ok(()),
                Err(Failure::Storage(e)) => retry_later(hub, &job, &e).await,
                Err(Failure::Stopped(why)) if job.attempts >= MAX_STOPPED_ATTEMPTS => {
                    give_up_on(hub, &job, Some(&why)).await
                }
                Err(Failure::Stopped(why)) => {
                    tracing::warn!(job = job.id, asset = job.asset_id, why, "the validator stopped on a file");
                    let retry = hub.config.validation_retry.as_millis() as i64;
                    hub.db.fail_job(job.id, &format!("the validator stopped: {why}"), Some(retry)).await
                }
            }
        }
    }
}

/// A job whose workers (or validation children) died on it at every attempt: the file is what
/// stops the validator (a crash, a hang, memory), so the asset ends Invalid with that reason
/// rather than being handed to the next worker for ever. `why`: what the last child died of.
async fn give_up_on(hub: &Hub, job: &QueuedJob, why: Option<&str>) -> RepoResult<()> {
    let mut asset = match hub.db.asset(job.asset_id).await {
        Err(RepoError::NotFound) => return hub.db.finish_job(job.id).await,
        other => other?,
    };
    if asset.state == AssetState::Delivered
        && let Ok(next) = asset.state.next(AssetEvent::ValidationStarted)
    {
        hub.db.transition_asset(asset.id, asset.state, next).await?;
        asset.state = next;
    }
    let last = why.map(|why| format!(" (the last time: {why})")).unwrap_or_default();
    let detail = format!(
        "the validator could not process this file: it stopped {} times while checking it{last}; \
         export the file again, or ask the studio to look at it",
        job.attempts
    );
    tracing::error!(
        job = job.id,
        asset = asset.id,
        attempts = job.attempts,
        "validation keeps dying; the asset is Invalid"
    );
    let check = CheckResult { check: hub_domain::Check::Validator, passed: false, detail, files: Vec::new(), at_ms: 0 };
    let Ok(result) = verdict(job, &asset, vec![check], None) else {
        return hub.db.finish_job(job.id).await; // decided meanwhile
    };
    hub.db.finish_validation(&result).await
}

/// The result `checks` decide for an asset being validated: Valid if all passed, Invalid with the
/// reasons otherwise, through the state machine.
fn verdict(
    job: &QueuedJob,
    asset: &crate::db::Asset,
    checks: Vec<CheckResult>,
    remuxed: Option<String>,
) -> Result<ValidationResult, hub_domain::TransitionError> {
    let passed = checks.iter().all(|r| r.passed);
    let event = if passed { AssetEvent::ValidationPassed } else { AssetEvent::ValidationFailed };
    let next = asset.state.next(event)?;
    let reasons: Vec<String> =
        checks.iter().filter(|r| !r.passed).map(|r| format!("{}: {}", r.check, r.detail)).collect();
    Ok(ValidationResult {
        job_id: job.id,
        asset_id: asset.id,
        project_id: asset.project_id,
        request_id: asset.request_id,
        from: asset.state,
        to: next,
        remuxed,
        detail: if passed { "all checks passed".to_owned() } else { reasons.join("; ") },
        checks,
    })
}

/// A validation that could not run (storage away): queued again after a doubling wait, and after
/// the last attempt the asset goes back to Delivered for a manager to ask again.
async fn retry_later(hub: &Hub, job: &QueuedJob, error: &str) -> RepoResult<()> {
    // The asset was deleted while it was being checked: nothing is left to validate.
    let asset = match hub.db.asset(job.asset_id).await {
        Err(RepoError::NotFound) => return hub.db.finish_job(job.id).await,
        other => other?,
    };
    let base = hub.config.validation_retry.as_millis() as i64;
    let retry = (job.attempts < MAX_ATTEMPTS).then(|| base * 2i64.pow(job.attempts as u32));
    tracing::warn!(job = job.id, asset = job.asset_id, error, ?retry, "validation could not run");
    hub.db.fail_job(job.id, error, retry).await?;
    if retry.is_none()
        && let Ok(next) = asset.state.next(AssetEvent::ValidationAbandoned)
    {
        hub.db.transition_asset(asset.id, asset.state, next).await?;
        let detail =
            format!("validation could not run after {} attempts ({error}); a manager can ask again", job.attempts);
        hub.db
            .add_history(asset.project_id, Some(asset.id), None, None, HistoryAction::ValidationAbandoned, &detail)
            .await?;
    }
    Ok(())
}

/// Runs the checks (in a child process when the hub isolates validation) and applies their
/// verdict as one result (`Db::finish_validation`).
async fn validate(hub: &Hub, job: &QueuedJob) -> Result<(), Failure> {
    let storage = |e: &dyn std::fmt::Display| Failure::Storage(e.to_string());
    let asset = match hub.db.asset(job.asset_id).await {
        Ok(asset) => asset,
        Err(RepoError::NotFound) => return hub.db.finish_job(job.id).await.map_err(|e| storage(&e)),
        Err(e) => return Err(storage(&e)),
    };
    let asset = match asset.state {
        AssetState::Delivered => {
            let next = asset.state.next(AssetEvent::ValidationStarted).map_err(|e| storage(&e))?;
            hub.db.transition_asset(asset.id, asset.state, next).await.map_err(|e| storage(&e))?;
            crate::db::Asset { state: next, ..asset }
        }
        AssetState::Validating => asset, // a retry, or a job taken over from a silent worker
        _ => return hub.db.finish_job(job.id).await.map_err(|e| storage(&e)), // already decided
    };
    let began = Instant::now();
    let remux = hub.db.project(asset.project_id).await.map_err(|e| storage(&e))?.fast_start_remux;
    let mut subject = Subject::of(&asset, remux);
    if asset.package_files.is_some() {
        let layout = hub.db.package_layout(asset.id).await.map_err(|e| storage(&e))?;
        if layout.iter().any(|m| m.stream.is_some()) {
            subject.arrived = Some(hub.db.arrivals(asset.id, layout.len()).await.map_err(|e| storage(&e))?);
            subject.layout = Some(layout);
        }
    }
    let arrived = subject.arrived.as_ref().map_or(0, PackageDigests::count_read);
    let laid_out = began.elapsed();
    let checked = match (&hub.config.isolation, hub.store.spec()) {
        (Some(isolation), Some(spec)) => crate::validate::isolated::run(isolation, spec, &subject).await?,
        _ => run_checks(hub.store.clone(), &subject).await.map_err(|e| storage(&e))?,
    };
    let ran = began.elapsed();
    if let Some(digests) = &checked.digests {
        hub.db.record_member_digests(asset.id, digests).await.map_err(|e| storage(&e))?;
        // What was read as the files arrived has served: a revalidation reads every byte back.
        hub.db.forget_arrivals(asset.id).await.map_err(|e| storage(&e))?;
    }
    if let Some(files) = &checked.files {
        hub.db.record_package_files(asset.id, files).await.map_err(|e| storage(&e))?;
    }
    let recorded = began.elapsed();
    let remuxed = checked.remuxed.filter(|_| asset.original_blob_key.is_none());
    let result = verdict(job, &asset, checked.results, remuxed).map_err(|e| storage(&e))?;
    hub.db.finish_validation(&result).await.map_err(|e| storage(&e))?;
    let ms = |d: Duration| d.as_millis() as u64;
    tracing::info!(
        asset = asset.id,
        arrived,
        layout_ms = ms(laid_out),
        checks_ms = ms(ran - laid_out),
        digests_ms = ms(recorded - ran),
        verdict_ms = ms(began.elapsed() - recorded),
        "validated"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn a_task_that_panics_is_started_again() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        super::supervise("test".into(), move || {
            let runs = counted.clone();
            async move {
                if runs.fetch_add(1, Ordering::SeqCst) < 2 {
                    panic!("tripped");
                }
            }
        })
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 3, "two panics, two restarts, then it ended");
    }
}
