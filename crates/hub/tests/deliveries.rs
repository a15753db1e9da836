//! Deliveries end to end through the router, on SQLite + a local folder and on PostgreSQL + S3:
//! declare, upload each file with tus, DELIVER.

mod common;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::TestHub;
use hub::store::BlobKey;
use hub_domain::{BucketKind, Metadata, Role};
use serde_json::{Value, json};
use testkit::Stack;

/// A call as the holder of `token`: status and JSON body.
async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: Body,
) -> (StatusCode, Value) {
    let answer = TestHub::call_on(app, token, method, uri, headers, body).await;
    (answer.status, answer.body)
}

fn json_body(v: Value) -> Body {
    Body::from(v.to_string())
}

const JSON: (&str, &str) = ("content-type", "application/json");

testkit::on_every_backend!(declare_upload_deliver);

async fn declare_upload_deliver(stack: Stack) {
    let hub = TestHub::new(stack, |_| {}).await;
    let (db, state, app, project) = (hub.stack.db.clone(), hub.state.clone(), hub.app.clone(), hub.project);
    // Uploads made through this one live two seconds: long enough for a few chunks, then they expire.
    let (_, brief) = hub.instance(|c| c.upload_lifetime = Duration::from_secs(2)).await;
    let mut tokens = std::collections::HashMap::new();
    for (name, role) in [("vendor", Role::Contributor), ("viewer", Role::Viewer)] {
        tokens.insert(name, hub.member(name, role).await);
    }
    tokens.insert("outsider", hub.user("outsider", false).await.1);
    let meta: Metadata = serde_json::from_value(json!({"reel": 1})).unwrap();
    let request = db.create_request(project, BucketKind::FinalSound, "Reel 1 printmaster", &meta).await.unwrap();
    let path = format!("/api/v1/projects/{project}/deliveries");
    let good_files = json!([
        {"name": "r1_pm_51.wav", "size": 3000, "md5": "0123456789abcdef0123456789ABCDEF",
         "metadata": {"reel": 1, "mix_type": "printmaster", "format": "5.1"}, "request_id": request.id},
        {"name": "r1_pm_20.wav", "size": 0,
         "metadata": {"reel": 1, "mix_type": "printmaster", "format": "2.0"}, "request_id": request.id},
    ]);

    // Refusals, and nothing is created by a bad declaration.
    let body = json!({"bucket": "final-sound", "files": good_files});
    assert_eq!(
        call(&app, Method::POST, &path, &tokens["outsider"], &[JSON], json_body(body.clone())).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&app, Method::POST, &path, &tokens["viewer"], &[JSON], json_body(body.clone())).await.0,
        StatusCode::FORBIDDEN
    );
    let bad = json!({"bucket": "final-sound", "files": [
        {"name": "bad name.wav", "size": 1, "metadata": {"reel": 1, "mix_type": "stems", "format": "5.1"}, "request_id": request.id},
        {"name": "dup.wav", "size": 1, "metadata": {"mix_type": "stems", "format": "5.1"}, "request_id": request.id},
        {"name": "dup.wav", "size": -1, "md5": "xyz", "metadata": {"reel": 1, "mix_type": "stems", "format": "5.1"}},
    ]});
    let (status, error) = call(&app, Method::POST, &path, &tokens["vendor"], &[JSON], json_body(bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    let fields: Vec<&str> = error["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    for expected in [
        "files[0].name",
        "files[1].metadata.reel",
        "files[2].name",
        "files[2].size",
        "files[2].md5",
        "files[2].request_id",
    ] {
        assert!(fields.contains(&expected), "{expected} missing from {fields:?}");
    }
    let page = db
        .list_assets(project, BucketKind::FinalSound, &hub::db::AssetQuery { limit: 10, ..Default::default() })
        .await
        .unwrap();
    assert!(page.items.is_empty(), "nothing was created");

    // Declare, upload, deliver.
    let (status, delivery) = call(&app, Method::POST, &path, &tokens["vendor"], &[JSON], json_body(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{delivery}");
    let id = delivery["id"].as_i64().unwrap();
    let files = delivery["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    let big = files.iter().find(|f| f["name"] == "r1_pm_51.wav").unwrap();
    assert_eq!((big["state"].as_str(), big["complete"].as_bool()), (Some("in_progress"), Some(false)));
    let empty = files.iter().find(|f| f["name"] == "r1_pm_20.wav").unwrap();
    assert_eq!(empty["complete"], true, "a zero-byte file is complete at once");

    let deliver = format!("/api/v1/deliveries/{id}/deliver");
    let (status, error) = call(&app, Method::POST, &deliver, &tokens["vendor"], &[], Body::empty()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(error["message"].as_str().unwrap().contains("r1_pm_51.wav (0 of 3000 bytes)"), "{error}");

    let upload = big["upload"].as_str().unwrap();
    let data: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let tus = [("tus-resumable", "1.0.0"), ("content-type", "application/offset+octet-stream"), ("upload-offset", "0")];
    let (status, _) = call(&app, Method::PATCH, upload, &tokens["vendor"], &tus, Body::from(data.clone())).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, progress) =
        call(&app, Method::GET, &format!("/api/v1/deliveries/{id}"), &tokens["vendor"], &[], Body::empty()).await;
    assert!(progress["files"].as_array().unwrap().iter().all(|f| f["complete"] == true), "{progress}");
    for who in ["outsider", "viewer"] {
        let uri = format!("/api/v1/deliveries/{id}");
        assert_eq!(
            call(&app, Method::GET, &uri, &tokens[who], &[], Body::empty()).await.0,
            StatusCode::NOT_FOUND,
            "a delivery is its maker's and the managers': {who}"
        );
    }
    assert_eq!(
        call(&app, Method::POST, &deliver, &tokens["viewer"], &[], Body::empty()).await.0,
        StatusCode::FORBIDDEN
    );

    let (status, delivered) = call(&app, Method::POST, &deliver, &tokens["vendor"], &[], Body::empty()).await;
    assert_eq!(status, StatusCode::OK, "{delivered}");
    assert_eq!(delivered["state"], "delivered");
    assert!(delivered["files"].as_array().unwrap().iter().all(|f| f["state"] == "delivered"), "{delivered}");
    assert_eq!(db.request(request.id).await.unwrap().state, hub_domain::RequestState::Submitted);
    let asset = db.asset(big["asset_id"].as_i64().unwrap()).await.unwrap();
    assert_eq!(asset.md5.as_deref(), Some("0123456789abcdef0123456789abcdef"));
    let history = db.history(Some(asset.id), None).await.unwrap();
    assert!(history.iter().any(|h| h.action == "transfer_complete" && h.detail == "all 3000 bytes received"));
    let blob = BlobKey::new(asset.blob_key.unwrap()).unwrap();
    assert_eq!(&hub.stack.store.get_range(&blob, 0..3000).await.unwrap()[..], &data[..], "the delivered bytes");
    assert_eq!(call(&app, Method::POST, &deliver, &tokens["vendor"], &[], Body::empty()).await.0, StatusCode::CONFLICT);

    // A second delivery of the same name is the next version.
    let again = json!({"bucket": "final-sound", "files": [
        {"name": "r1_pm_20.wav", "size": 0, "metadata": {"reel": 1, "mix_type": "printmaster", "format": "2.0"}, "request_id": request.id}
    ]});
    let (status, second) = call(&app, Method::POST, &path, &tokens["vendor"], &[JSON], json_body(again)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(second["files"][0]["version"], 2);

    // A declaration retried with the same client key (its answer was lost) finds the same delivery.
    let keyed = json!({"bucket": "final-sound", "client_key": "cli_retry_1", "files": [
        {"name": "r1_pm_atmos.wav", "size": 10, "metadata": {"reel": 1, "mix_type": "printmaster", "format": "Atmos"}, "request_id": request.id}
    ]});
    let (status, first) = call(&brief, Method::POST, &path, &tokens["vendor"], &[JSON], json_body(keyed.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, again) = call(&brief, Method::POST, &path, &tokens["vendor"], &[JSON], json_body(keyed)).await;
    assert_eq!(
        (status, &again["id"], &again["files"][0]["upload"]),
        (StatusCode::OK, &first["id"], &first["files"][0]["upload"])
    );
    let elsewhere = json!({"bucket": "sound-materials", "client_key": "cli_retry_1", "files": [
        {"name": "fx.wav", "size": 1, "metadata": {"type": "effects"}}
    ]});
    let (status, error) = call(&app, Method::POST, &path, &tokens["vendor"], &[JSON], json_body(elsewhere)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");

    // A delivery left half uploaded until its upload expires: the reaper frees the bytes and the
    // asset becomes Failed Delivery, with the reason in its history.
    let stalled = json!({"bucket": "final-sound", "files": [
        {"name": "r1_pm_71.wav", "size": 3000, "metadata": {"reel": 1, "mix_type": "printmaster", "format": "7.1"}, "request_id": request.id}
    ]});
    let (_, stalled) = call(&brief, Method::POST, &path, &tokens["vendor"], &[JSON], json_body(stalled)).await;
    let upload = stalled["files"][0]["upload"].as_str().unwrap();
    let asset_id = stalled["files"][0]["asset_id"].as_i64().unwrap();
    // What went wrong on the way is in the file's history (the transfers page's log): a chunk
    // refused for its checksum, and a connection that dropped midway (the hub keeps what arrived).
    let wrong = ("upload-checksum", "crc32 AAAAAA==");
    let refused = [tus[0], tus[1], tus[2], wrong];
    let (status, _) =
        call(&brief, Method::PATCH, upload, &tokens["vendor"], &refused, Body::from(data[..1000].to_vec())).await;
    assert_eq!(status.as_u16(), 460);
    let half: Vec<Result<bytes::Bytes, std::io::Error>> =
        vec![Ok(bytes::Bytes::copy_from_slice(&data[..500])), Err(std::io::Error::other("connection reset"))];
    let dropped = [tus[0], tus[1], tus[2], ("content-length", "1000")];
    let body = Body::from_stream(futures_util::stream::iter(half));
    let (status, _) = call(&brief, Method::PATCH, upload, &tokens["vendor"], &dropped, body).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let rest = [tus[0], tus[1], ("upload-offset", "500")];
    let (status, _) =
        call(&brief, Method::PATCH, upload, &tokens["vendor"], &rest, Body::from(data[500..1000].to_vec())).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let log: Vec<(String, String)> =
        db.history(Some(asset_id), None).await.unwrap().into_iter().map(|h| (h.action.to_string(), h.detail)).collect();
    assert!(
        log.iter().any(|(action, detail)| action == "transfer_error"
            && detail.contains("chunk at byte 0 was refused (460)")
            && detail.contains("does not match its Upload-Checksum")),
        "{log:?}"
    );
    assert!(
        log.iter().any(|(action, detail)| action == "transfer_interrupted"
            && detail.contains("dropped after 500 of the chunk's 1000 bytes")
            && detail.contains("continues from byte 500")),
        "{log:?}"
    );
    // A client that keeps sending bad chunks cannot flood the history.
    for _ in 0..25 {
        let at = [tus[0], tus[1], ("upload-offset", "1000"), wrong];
        let (status, _) = call(&brief, Method::PATCH, upload, &tokens["vendor"], &at, Body::from(vec![0u8; 10])).await;
        assert_eq!(status.as_u16(), 460, "each bad chunk is refused");
    }
    assert_eq!(db.count_history(asset_id, hub_domain::HistoryAction::TransferError).await.unwrap(), 20);
    let keyed_upload = first["files"][0]["upload"].as_str().unwrap();
    common::eventually("both brief uploads expire", Duration::from_secs(30), || async {
        let head = [("tus-resumable", "1.0.0")];
        let (stalled, _) = call(&app, Method::HEAD, upload, &tokens["vendor"], &head, Body::empty()).await;
        let (keyed, _) = call(&app, Method::HEAD, keyed_upload, &tokens["vendor"], &head, Body::empty()).await;
        (stalled, keyed) == (StatusCode::GONE, StatusCode::GONE)
    })
    .await;
    assert_eq!(hub::app::uploads::reap_expired(&state).await.unwrap(), 2, "this one and the keyed one above");
    assert_eq!(db.asset(asset_id).await.unwrap().state, hub_domain::AssetState::FailedDelivery);
    let history = db.history(Some(asset_id), None).await.unwrap();
    let last = history.last().unwrap();
    assert_eq!(last.action, "transfer_failed");
    assert!(last.detail.contains("expired at 1000 of 3000 bytes"), "{}", last.detail);
    let deliver = format!("/api/v1/deliveries/{}/deliver", stalled["id"]);
    let (status, error) = call(&app, Method::POST, &deliver, &tokens["vendor"], &[], Body::empty()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
}
