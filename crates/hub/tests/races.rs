//! Things that happen at once: two DELIVERs of one delivery, DELIVER against a manager changing
//! the request, the reaper against DELIVER, against a PATCH holding an upload and against another
//! reaper, over more uploads than one batch, and across partial, concatenated and package uploads.
//! On both backends. Each round checks that the outcome is one a serial order would give.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::{TestHub, eventually};
use hub::store::BlobKey;
use hub_domain::{AssetState, BucketKind, Metadata, RequestState, Role};
use serde_json::{Value, json};
use testkit::Stack;

const SOUND: &str = "final-sound";

fn sound_file(name: &str, size: usize, request: i64) -> Value {
    json!({"name": name, "size": size, "metadata": {"reel": 1, "mix_type": "stems", "format": "5.1"},
           "request_id": request})
}

async fn request(hub: &TestHub, title: &str) -> i64 {
    let meta: Metadata = serde_json::from_value(json!({"reel": 1})).unwrap();
    hub.stack.db.create_request(hub.project, BucketKind::FinalSound, title, &meta).await.unwrap().id
}

fn ids(delivery: &Value, key: &str) -> Vec<Value> {
    delivery["files"].as_array().unwrap().iter().map(|f| f[key].clone()).collect()
}

/// Jobs queued, claimed until none is left; returns the asset of each.
async fn drain_jobs(hub: &TestHub) -> Vec<i64> {
    let mut assets = Vec::new();
    while let Some(job) = hub.stack.db.claim_job("counting").await.unwrap() {
        assets.push(job.asset_id);
        hub.stack.db.finish_job(job.id).await.unwrap();
    }
    assets.sort_unstable();
    assets
}

async fn two_delivers_of_one_delivery(stack: Stack) {
    let hub = TestHub::new(stack, |_| {}).await;
    let vendor = hub.member("vendor", Role::Contributor).await;
    for round in 0..8 {
        let r = request(&hub, &format!("Reel {round}")).await;
        let files = json!([sound_file(&format!("r{round}_a.wav"), 4, r), sound_file(&format!("r{round}_b.wav"), 3, r)]);
        let delivery = hub.declare(&vendor, SOUND, files).await;
        for (url, data) in ids(&delivery, "upload").iter().zip([&b"abcd"[..], b"xyz"]) {
            hub.upload_all(&vendor, url.as_str().unwrap(), data).await;
        }
        let uri = format!("/api/v1/deliveries/{}/deliver", delivery["id"]);
        let (a, b) = tokio::join!(
            hub.call(&vendor, Method::POST, &uri, &[], Body::empty()),
            hub.call(&vendor, Method::POST, &uri, &[], Body::empty())
        );
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT], "round {round}: {} / {}", a.body, b.body);
        let assets: Vec<i64> = ids(&delivery, "asset_id").iter().map(|v| v.as_i64().unwrap()).collect();
        for asset in &assets {
            assert_eq!(hub.stack.db.asset(*asset).await.unwrap().state, AssetState::Delivered);
            assert_eq!(
                hub.stack.db.count_history(*asset, hub_domain::HistoryAction::Delivered).await.unwrap(),
                1,
                "delivered once"
            );
        }
        let mut want = assets.clone();
        want.sort_unstable();
        assert_eq!(drain_jobs(&hub).await, want, "round {round}: one validation job per asset");
        assert_eq!(hub.stack.db.request(r).await.unwrap().state, RequestState::Submitted);
    }
}

async fn deliver_against_a_request_transition(stack: Stack) {
    let hub = TestHub::new(stack, |_| {}).await;
    let vendor = hub.member("vendor", Role::Contributor).await;
    let studio = hub.member("studio", Role::Manager).await;
    let (mut deliver_first, mut reject_first, mut cas_conflicts) = (0, 0, 0);
    for round in 0..12 {
        let r = request(&hub, &format!("Reel {round}")).await;
        let delivery = hub.declare(&vendor, SOUND, json!([sound_file(&format!("r{round}.wav"), 0, r)])).await;
        let asset = ids(&delivery, "asset_id")[0].as_i64().unwrap();
        let deliver = format!("/api/v1/deliveries/{}/deliver", delivery["id"]);
        let transition = format!("/api/v1/requests/{r}/transition");
        let reject = json!({"event": "reject", "reason": "not needed"}).to_string();
        let json_type = [("content-type", "application/json")];
        let (delivered, rejected) = tokio::join!(
            hub.call(&vendor, Method::POST, &deliver, &[], Body::empty()),
            hub.call(&studio, Method::POST, &transition, &json_type, Body::from(reject))
        );
        let request = hub.stack.db.request(r).await.unwrap();
        let asset_state = hub.stack.db.asset(asset).await.unwrap().state;
        let delivery_state = hub.stack.db.delivery(delivery["id"].as_i64().unwrap()).await.unwrap().state;
        let message = delivered.body["message"].as_str().unwrap_or_default().to_owned();
        match (delivered.status, rejected.status) {
            // DELIVER first (Open -> Submitted), then the rejection of a submitted request.
            (StatusCode::OK, StatusCode::OK) => {
                deliver_first += 1;
                assert_eq!(
                    (request.state, asset_state, delivery_state.as_str()),
                    (RequestState::Rejected, AssetState::Delivered, "delivered")
                );
            }
            // The rejection first: DELIVER refuses a rejected request, or finds it changed under it.
            (StatusCode::CONFLICT, StatusCode::OK) => {
                reject_first += 1;
                cas_conflicts += usize::from(message.contains("changed while it was being delivered"));
                assert!(
                    message.contains("request is Rejected") || message.contains("changed while"),
                    "round {round}: {message}"
                );
                assert_eq!(
                    (request.state, asset_state, delivery_state.as_str()),
                    (RequestState::Rejected, AssetState::InProgress, "open")
                );
                assert!(drain_jobs(&hub).await.is_empty(), "round {round}: nothing was queued");
            }
            // DELIVER committed between the rejection's read and write.
            (StatusCode::OK, StatusCode::CONFLICT) => {
                deliver_first += 1;
                assert_eq!((request.state, asset_state), (RequestState::Submitted, AssetState::Delivered));
            }
            other => panic!("round {round}: {other:?}: {} / {}", delivered.body, rejected.body),
        }
        drain_jobs(&hub).await;
    }
    eprintln!(
        "DELIVER first {deliver_first}, rejection first {reject_first} ({cas_conflicts} caught by the compare-and-set)"
    );
}

/// Uploads made through an instance whose uploads live `lifetime`, each of `length` bytes with
/// nothing sent; returns their URLs.
async fn brief_uploads(hub: &TestHub, token: &str, count: usize, lifetime: Duration) -> Vec<String> {
    let (_, brief) = hub.instance(|c| c.upload_lifetime = lifetime).await;
    let b64 = |v: &str| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, v);
    let mut urls = Vec::new();
    for i in 0..count {
        let metadata = format!(
            "project {},bucket {},filename {}",
            b64(&hub.project.to_string()),
            b64(SOUND),
            b64(&format!("u{i}.wav"))
        );
        let headers = [("tus-resumable", "1.0.0"), ("upload-length", "10"), ("upload-metadata", metadata.as_str())];
        let answer = TestHub::call_on(&brief, token, Method::POST, "/api/v1/uploads", &headers, Body::empty()).await;
        assert_eq!(answer.status, StatusCode::CREATED);
        urls.push(answer.headers["location"].to_str().unwrap().to_owned());
    }
    urls
}

async fn wait_until_expired(hub: &TestHub, token: &str, url: &str) {
    eventually("the upload to expire", Duration::from_secs(30), || async {
        hub.call(token, Method::HEAD, url, &[("tus-resumable", "1.0.0")], Body::empty()).await.status
            == StatusCode::GONE
    })
    .await;
}

async fn the_reaper_takes_each_expired_upload_once_and_nothing_else(stack: Stack) {
    let hub = TestHub::new(stack, |_| {}).await;
    let vendor = hub.member("vendor", Role::Contributor).await;
    let db = hub.stack.db.clone();

    // More than one batch, taken by two reapers at once: each upload is reaped exactly once.
    let many = brief_uploads(&hub, &vendor, 230, Duration::from_millis(300)).await;
    // One is held by a PATCH that is still running (its lease is live): it is left alone.
    let held = many[0].rsplit('/').next().unwrap().to_owned();
    assert!(db.lease_upload(&held, 60_000).await.unwrap());
    wait_until_expired(&hub, &vendor, many.last().unwrap()).await;
    let (a, b) = tokio::join!(hub::app::uploads::reap_expired(&hub.state), hub::app::uploads::reap_expired(&hub.state));
    assert_eq!(a.unwrap() + b.unwrap(), 229, "every expired upload but the held one, once");
    assert!(db.upload(&held).await.is_ok(), "the held upload is still there");
    db.release_upload(&held).await.unwrap();
    assert_eq!(hub::app::uploads::reap_expired(&hub.state).await.unwrap(), 1, "and reaped once released");
    assert!(hub.stack.store.list("uploads/").await.unwrap().is_empty(), "their storage is freed");

    // DELIVER while the reaper runs: the finished file's bytes survive, the unfinished one fails.
    let r = request(&hub, "Reel 1").await;
    let (_, brief) = hub.instance(|c| c.upload_lifetime = Duration::from_millis(500)).await;
    let files = json!([sound_file("done.wav", 5, r), sound_file("stalled.wav", 5, r)]);
    let delivery = hub.declare_on(&brief, &vendor, SOUND, files).await;
    let uploads = ids(&delivery, "upload");
    let assets: Vec<i64> = ids(&delivery, "asset_id").iter().map(|v| v.as_i64().unwrap()).collect();
    hub.upload_all(&vendor, uploads[0].as_str().unwrap(), b"12345").await;
    wait_until_expired(&hub, &vendor, uploads[1].as_str().unwrap()).await;
    let deliver = format!("/api/v1/deliveries/{}/deliver", delivery["id"]);
    let (reaped, delivered) = tokio::join!(
        hub::app::uploads::reap_expired(&hub.state),
        hub.call(&vendor, Method::POST, &deliver, &[], Body::empty())
    );
    assert_eq!(reaped.unwrap(), 1, "only the unfinished upload");
    assert_eq!(delivered.status, StatusCode::CONFLICT, "{}", delivered.body);
    assert_eq!(db.asset(assets[1]).await.unwrap().state, AssetState::FailedDelivery);
    assert_eq!(db.asset(assets[0]).await.unwrap().state, AssetState::InProgress);
    let done = db.upload(uploads[0].as_str().unwrap().rsplit('/').next().unwrap()).await.unwrap();
    let kept = hub.stack.store.get_range(&BlobKey::new(done.blob_key).unwrap(), 0..5).await.unwrap();
    assert_eq!(&kept[..], b"12345", "the finished file's bytes are intact");

    // Partial uploads expire like any other; a final upload made of them later finds them gone.
    let partials = {
        let (_, brief) = hub.instance(|c| c.upload_lifetime = Duration::from_millis(300)).await;
        let b64 = |v: &str| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, v);
        let metadata = format!("project {},bucket {}", b64(&hub.project.to_string()), b64(SOUND));
        let headers = [
            ("tus-resumable", "1.0.0"),
            ("upload-length", "4"),
            ("upload-metadata", &metadata),
            ("upload-concat", "partial"),
        ];
        let answer = TestHub::call_on(&brief, &vendor, Method::POST, "/api/v1/uploads", &headers, Body::empty()).await;
        assert_eq!(answer.status, StatusCode::CREATED);
        answer.headers["location"].to_str().unwrap().to_owned()
    };
    wait_until_expired(&hub, &vendor, &partials).await;
    assert_eq!(hub::app::uploads::reap_expired(&hub.state).await.unwrap(), 1);
    let b64 = |v: &str| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, v);
    let metadata =
        format!("project {},bucket {},filename {}", b64(&hub.project.to_string()), b64(SOUND), b64("joined.wav"));
    let final_list = format!("final;{partials}");
    let headers =
        [("tus-resumable", "1.0.0"), ("upload-metadata", metadata.as_str()), ("upload-concat", final_list.as_str())];
    let answer = hub.call(&vendor, Method::POST, "/api/v1/uploads", &headers, Body::empty()).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.body);

    // A package file whose upload expires is free for a new upload; the package is not failed.
    let members = json!([{"name": "f.0001.dpx", "size": 3}, {"name": "checksum.txt", "size": 40}]);
    let package = hub
        .declare_on(
            &brief,
            &vendor,
            SOUND,
            json!([{"name": "frames", "package": members,
            "metadata": {"reel": 1, "mix_type": "stems", "format": "5.1"}, "request_id": r}]),
        )
        .await;
    let asset = package["files"][0]["asset_id"].as_i64().unwrap();
    let (_, brief_instance) = hub.instance(|c| c.upload_lifetime = Duration::from_millis(300)).await;
    let metadata = format!(
        "project {},bucket {},filename {},package {}",
        b64(&hub.project.to_string()),
        b64(SOUND),
        b64("f.0001.dpx"),
        b64(&asset.to_string())
    );
    let headers = [("tus-resumable", "1.0.0"), ("upload-length", "3"), ("upload-metadata", metadata.as_str())];
    let answer =
        TestHub::call_on(&brief_instance, &vendor, Method::POST, "/api/v1/uploads", &headers, Body::empty()).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    let member_upload = answer.headers["location"].to_str().unwrap().to_owned();
    wait_until_expired(&hub, &vendor, &member_upload).await;
    assert_eq!(hub::app::uploads::reap_expired(&hub.state).await.unwrap(), 1);
    let open = hub
        .call(&vendor, Method::GET, &format!("/api/v1/assets/{asset}/members?incomplete=true"), &[], Body::empty())
        .await;
    let frame = open.body.as_array().unwrap().iter().find(|m| m["name"] == "f.0001.dpx").unwrap().clone();
    assert!(frame["upload"].is_null(), "the file needs a new upload: {frame}");
    assert_eq!(db.asset(asset).await.unwrap().state, AssetState::InProgress, "the package goes on");
    let again = hub.call(&vendor, Method::POST, "/api/v1/uploads", &headers, Body::empty()).await;
    assert_eq!(again.status, StatusCode::CREATED, "a new upload of the same file: {}", again.body);
}

testkit::on_every_backend!(
    two_delivers_of_one_delivery,
    deliver_against_a_request_transition,
    the_reaper_takes_each_expired_upload_once_and_nothing_else,
);
