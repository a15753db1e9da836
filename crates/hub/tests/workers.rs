//! Validation workers when things go wrong: the storage goes away (retries with back-off, then
//! the asset goes back to Delivered and a manager asks again), the asset is deleted while it is
//! being checked, and two workers race for the same queue. On both backends.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::{FlakyStore, TestHub, eventually};
use hub::app;
use hub::worker::run_one;
use hub_domain::{AssetState, BucketKind, Metadata, Role};
use serde_json::json;
use testkit::Stack;

/// A worker's view of the hub: the same database, `store` for its blobs.
fn worker(hub: &TestHub, store: Arc<FlakyStore>, retry: Duration) -> app::Hub {
    let mut config = (*hub.state.config).clone();
    config.validation_retry = retry;
    app::Hub::new(hub.stack.db.clone(), store, config)
}

/// Delivers `count` small files into Final Sound; returns their asset ids.
async fn delivered(hub: &TestHub, vendor: &str, count: usize) -> Vec<i64> {
    let meta: Metadata = serde_json::from_value(json!({"reel": 1})).unwrap();
    let request = hub.stack.db.create_request(hub.project, BucketKind::FinalSound, "Reel 1", &meta).await.unwrap();
    let files: Vec<_> = (0..count)
        .map(|i| {
            json!({"name": format!("cue_{i}.wav"), "size": 6, "request_id": request.id,
                   "metadata": {"reel": 1, "mix_type": "stems", "format": "5.1"}})
        })
        .collect();
    let delivery = hub.declare(vendor, "final-sound", json!(files)).await;
    let mut assets = Vec::new();
    for file in delivery["files"].as_array().unwrap() {
        hub.upload_all(vendor, file["upload"].as_str().unwrap(), b"sound!").await;
        assets.push(file["asset_id"].as_i64().unwrap());
    }
    let deliver = format!("/api/v1/deliveries/{}/deliver", delivery["id"]);
    assert_eq!(hub.call(vendor, Method::POST, &deliver, &[], Body::empty()).await.status, StatusCode::OK);
    assets
}

async fn storage_away_retries_backs_off_then_gives_up(stack: Stack) {
    let hub = TestHub::new(stack, |_| {}).await;
    let vendor = hub.member("vendor", Role::Contributor).await;
    let studio = hub.member("studio", Role::Manager).await;
    let asset = delivered(&hub, &vendor, 1).await[0];
    let store = Arc::new(FlakyStore::new(hub.stack.open_store().await));
    store.down.store(true, Ordering::SeqCst);
    let base = Duration::from_millis(40);
    let state = worker(&hub, store.clone(), base);

    let mut attempts = Vec::new();
    for attempt in 1..=5 {
        common::eventually(&format!("attempt {attempt}"), Duration::from_secs(20), || async {
            run_one(&state, "w1").await.unwrap()
        })
        .await;
        attempts.push(Instant::now());
        let now = hub.stack.db.asset(asset).await.unwrap().state;
        let expected = if attempt < 5 { AssetState::Validating } else { AssetState::Delivered };
        assert_eq!(now, expected, "after attempt {attempt}");
    }
    // Each retry waited about twice as long as the one before: 80, 160, 320, 640 ms. Measured
    // between the ends of attempts, so a loaded machine shortens an interval by however late the
    // earlier attempt returned after recording its failure: a quarter's slack still tells
    // doubling from a fixed wait.
    for (i, pair) in attempts.windows(2).enumerate() {
        let waited = pair[1] - pair[0];
        let scheduled = base * 2u32.pow(i as u32 + 1);
        assert!(waited * 4 >= scheduled * 3, "retry {} after {waited:?}, not {scheduled:?}", i + 1);
    }
    assert!(!run_one(&state, "w1").await.unwrap(), "given up: nothing more is queued");
    let history = hub.stack.db.history(Some(asset), None).await.unwrap();
    let last = history.last().unwrap();
    assert_eq!(last.action, "validation_abandoned");
    assert!(
        last.detail.contains("after 5 attempts") && last.detail.contains("took the storage away"),
        "{}",
        last.detail
    );

    // The storage is back; a manager asks again and the asset is decided.
    store.down.store(false, Ordering::SeqCst);
    let revalidate = format!("/api/v1/assets/{asset}/revalidate");
    let answer = hub.call(&vendor, Method::POST, &revalidate, &[], Body::empty()).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "a manager's action");
    let answer = hub.call(&studio, Method::POST, &revalidate, &[], Body::empty()).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(run_one(&state, "w1").await.unwrap());
    assert_eq!(hub.stack.db.asset(asset).await.unwrap().state, AssetState::Valid);
}

async fn an_asset_deleted_while_it_is_checked(stack: Stack) {
    let hub = TestHub::new(stack, |_| {}).await;
    let vendor = hub.member("vendor", Role::Contributor).await;
    let studio = hub.member("studio", Role::Manager).await;
    let asset = delivered(&hub, &vendor, 1).await[0];
    let store = Arc::new(FlakyStore::new(hub.stack.open_store().await));
    let state = worker(&hub, store.clone(), Duration::from_millis(10));
    let held = store.gate.write().await;
    let job = tokio::spawn(async move { run_one(&state, "w1").await });
    eventually("the worker to reach the store", Duration::from_secs(20), || async {
        store.reads.load(Ordering::SeqCst) > 0
    })
    .await;
    let answer = hub.call(&studio, Method::DELETE, &format!("/api/v1/assets/{asset}"), &[], Body::empty()).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.body);
    drop(held);
    assert!(job.await.unwrap().unwrap(), "the job ran");
    assert!(hub.stack.db.claim_job("w2").await.unwrap().is_none(), "and is done: no retry of a deleted asset");
    assert!(hub.stack.db.asset(asset).await.is_err());
    assert!(hub.stack.db.checks(asset).await.unwrap().is_empty(), "nothing recorded for it");
}

async fn two_workers_validate_each_asset_once(stack: Stack) {
    let hub = TestHub::new(stack, |_| {}).await;
    let vendor = hub.member("vendor", Role::Contributor).await;
    let assets = delivered(&hub, &vendor, 8).await;
    let work = |name: &'static str| {
        let state = worker(&hub, Arc::new(FlakyStore::new(hub.state.store.clone())), Duration::from_millis(10));
        async move {
            let mut done = 0;
            while run_one(&state, name).await.unwrap() {
                done += 1;
            }
            done
        }
    };
    let (a, b) = tokio::join!(work("w1"), work("w2"));
    assert_eq!(a + b, assets.len(), "every job once ({a} + {b})");
    for asset in assets {
        assert_eq!(hub.stack.db.asset(asset).await.unwrap().state, AssetState::Valid);
        assert_eq!(hub.stack.db.checks(asset).await.unwrap().len(), 1, "checked once");
        assert_eq!(
            hub.stack.db.count_history(asset, hub_domain::HistoryAction::Valid).await.unwrap(),
            1,
            "decided once"
        );
    }
}

testkit::on_every_backend!(
    storage_away_retries_backs_off_then_gives_up,
    an_asset_deleted_while_it_is_checked,
    two_workers_validate_each_asset_once,
);

/// A file that kills its worker every time (issue 12, scenario 1): after the job's last attempt
/// died with its worker, the asset ends Invalid ("the validator could not process this file")
/// instead of being handed to the next worker for ever.
async fn a_job_whose_workers_keep_dying_ends_invalid(stack: Stack) {
    let hub = TestHub::new(stack, |c| c.stale_job = Duration::from_millis(1)).await;
    let vendor = hub.member("vendor", Role::Contributor).await;
    let asset = delivered(&hub, &vendor, 1).await[0];
    let db = &hub.stack.db;
    // Five workers take the job and die on it (they stop heartbeating); each time it is found
    // silent and queued again, until its attempts are spent.
    for crash in 1..=5 {
        let job = db.claim_job(&format!("doomed-{crash}")).await.unwrap().expect("the job is there to take");
        assert_eq!(job.attempts, crash);
        tokio::time::sleep(Duration::from_millis(5)).await;
        let requeued = db.requeue_stale_jobs(1, hub::worker::MAX_ATTEMPTS).await.unwrap();
        assert_eq!(requeued, u64::from(crash < 5), "crash {crash}");
    }
    // The next worker to look finds the job out of attempts.
    assert!(run_one(&hub.state, "survivor").await.unwrap(), "it did something");
    assert_eq!(db.asset(asset).await.unwrap().state, AssetState::Invalid);
    let checks = db.checks(asset).await.unwrap();
    let last = checks.last().expect("a check says why");
    assert_eq!(last.check, hub_domain::Check::Validator);
    assert!(last.detail.contains("could not process this file"), "{}", last.detail);
    assert!(db.claim_job("next").await.unwrap().is_none(), "the job is not handed out again");
}

testkit::on_every_backend!(a_job_whose_workers_keep_dying_ends_invalid);

/// A validation child that dies on the file, or hangs (issue 12, scenario 2): each try counts,
/// a hung child is killed at its time limit, and after the last try the asset is Invalid with
/// what the child died of. The worker, in this process, carries on. (The children here are
/// scripts standing in for `contenthub validate-job`; the real one is tested with the binary.)
async fn a_validation_child_that_dies_or_hangs_fails_only_its_file(stack: Stack) {
    use std::os::unix::fs::PermissionsExt;
    let hub = TestHub::new(stack, |c| c.validation_retry = Duration::from_millis(1)).await;
    let vendor = hub.member("vendor", Role::Contributor).await;
    let scripts = tempfile::tempdir().unwrap();
    for (name, body) in [("crash", "cat >/dev/null; kill -SEGV $$"), ("hang", "exec sleep 600")] {
        let path = scripts.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    for (program, why) in [("crash", "segmentation fault"), ("hang", "took longer than the 1 s allowed")] {
        let asset = delivered(&hub, &vendor, 1).await[0];
        let mut isolation = hub::validate::isolated::Isolation::with_program(scripts.path().join(program));
        isolation.time_base = Duration::from_secs(1);
        let (state, _) = hub.instance(|c| c.isolation = Some(isolation)).await;
        let started = Instant::now();
        for attempt in 1..=hub::worker::MAX_STOPPED_ATTEMPTS {
            let before = hub.stack.db.asset(asset).await.unwrap().state;
            assert!(
                matches!(before, AssetState::Delivered | AssetState::Validating),
                "{program} {attempt}: {before:?}"
            );
            common::eventually(&format!("{program}: try {attempt}"), Duration::from_secs(10), || async {
                run_one(&state, "survivor").await.unwrap()
            })
            .await;
        }
        assert!(started.elapsed() < Duration::from_secs(8), "{program}: each try ends at its limit");
        let checks = hub.stack.db.checks(asset).await.unwrap();
        let last = checks.last().expect("a check says why");
        assert_eq!(hub.stack.db.asset(asset).await.unwrap().state, AssetState::Invalid, "{program}: {}", last.detail);
        assert_eq!(last.check, hub_domain::Check::Validator);
        assert!(last.detail.contains("stopped 3 times") && last.detail.contains(why), "{program}: {}", last.detail);
    }
}

testkit::on_every_backend!(a_validation_child_that_dies_or_hangs_fails_only_its_file);
