//! The tus endpoint through the router, on SQLite + a local folder and on PostgreSQL + S3:
//! creation, chunks with checksums, offsets, a second instance continuing, deferred length,
//! termination, expiry.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{Method, StatusCode};
use base64::Engine;
use common::TestHub;
use hub::app;
use hub::server::router;
use hub::store::{BlobKey, BlobStore};
use hub_domain::Role;
use testkit::Stack;

/// The hub of these tests (uploads up to 1 GiB) with a contributor and a viewer of its project,
/// and a manager of another project.
struct Env {
    hub: TestHub,
    tokens: std::collections::HashMap<&'static str, String>,
}

async fn env(stack: Stack) -> Env {
    let hub = TestHub::new(stack, |c| c.max_upload = 1 << 30).await;
    let other = hub.stack.db.create_project("Other", "OT").await.unwrap().id;
    let tokens = std::collections::HashMap::from([
        ("vendor", hub.member("vendor", Role::Contributor).await),
        ("viewer", hub.member("viewer", Role::Viewer).await),
        ("outsider", hub.member_of(other, "outsider", Role::Manager).await),
    ]);
    Env { hub, tokens }
}

/// Another instance of the hub, on `store`.
fn app(env: &Env, store: Arc<dyn BlobStore>) -> Router {
    router(app::Hub::new(env.hub.stack.db.clone(), store, (*env.hub.state.config).clone()))
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> (StatusCode, axum::http::HeaderMap) {
    let answer = common::request(app, method, uri, headers, body).await;
    (answer.status, answer.headers)
}

fn header(headers: &axum::http::HeaderMap, name: &str) -> String {
    headers.get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 997) as u8).collect()
}

async fn tus_protocol(stack: Stack) {
    let env = env(stack).await;
    let first = app(&env, env.hub.stack.open_store().await);
    let auth = |who: &str| ("authorization", format!("Bearer {}", env.tokens[who]));
    let tus = ("tus-resumable", "1.0.0".to_owned());
    let octets = ("content-type", "application/offset+octet-stream".to_owned());
    let meta = format!(
        "project {},bucket {},filename {}",
        b64(&env.hub.project.to_string()),
        b64("final-sound"),
        b64("r1_pm.wav")
    );

    let (status, headers) = send(&first, Method::OPTIONS, "/api/v1/uploads", &[], vec![]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(header(&headers, "tus-extension").contains("checksum"));
    assert_eq!(header(&headers, "tus-version"), "1.0.0");
    assert_eq!(header(&headers, "tus-max-size"), (1u64 << 30).to_string(), "from the configuration");
    assert!(header(&headers, "tus-checksum-algorithm").contains("crc32"));
    let too_big = vec![
        auth("vendor"),
        tus.clone(),
        ("upload-length", ((1u64 << 30) + 1).to_string()),
        ("upload-metadata", meta.clone()),
    ];
    assert_eq!(send(&first, Method::POST, "/api/v1/uploads", &too_big, vec![]).await.0, StatusCode::PAYLOAD_TOO_LARGE);

    // Refusals before anything is stored.
    let length = (20 << 20) + 3;
    let create = |who: &'static str| {
        vec![auth(who), tus.clone(), ("upload-length", length.to_string()), ("upload-metadata", meta.clone())]
    };
    let (status, _) = send(
        &first,
        Method::POST,
        "/api/v1/uploads",
        &create("vendor")[..3].to_vec().into_iter().filter(|h| h.0 != "tus-resumable").collect::<Vec<_>>(),
        vec![],
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(
        send(&first, Method::POST, "/api/v1/uploads", &create("outsider"), vec![]).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(send(&first, Method::POST, "/api/v1/uploads", &create("viewer"), vec![]).await.0, StatusCode::FORBIDDEN);
    let bad_name = format!(
        "project {},bucket {},filename {}",
        b64(&env.hub.project.to_string()),
        b64("final-sound"),
        b64("bad name.wav")
    );
    let (status, _) = send(
        &first,
        Method::POST,
        "/api/v1/uploads",
        &[auth("vendor"), tus.clone(), ("upload-length", "1".into()), ("upload-metadata", bad_name)],
        vec![],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // A 20 MiB upload in 7 MiB chunks with md5 checksums; one bad chunk, one stale offset.
    let (status, headers) = send(&first, Method::POST, "/api/v1/uploads", &create("vendor"), vec![]).await;
    assert_eq!(status, StatusCode::CREATED);
    let location = header(&headers, "location");
    assert!(location.starts_with("/api/v1/uploads/"), "{location}");
    assert!(!header(&headers, "upload-expires").is_empty());
    let data = pattern(length as usize);
    let chunk = 7 << 20;
    let patch = |app: Router, offset: usize, bytes: Vec<u8>, checksum: Option<String>| {
        let mut headers = vec![auth("vendor"), tus.clone(), octets.clone(), ("upload-offset", offset.to_string())];
        if let Some(c) = checksum {
            headers.push(("upload-checksum", c));
        }
        let location = location.clone();
        async move { send(&app, Method::PATCH, &location, &headers, bytes).await }
    };
    let md5 = |bytes: &[u8]| format!("md5 {}", base64::engine::general_purpose::STANDARD.encode(md5_many::md5(bytes)));
    let (status, headers) = patch(first.clone(), 0, data[..chunk].to_vec(), Some(md5(&data[..chunk]))).await;
    assert_eq!((status, header(&headers, "upload-offset")), (StatusCode::NO_CONTENT, chunk.to_string()));
    let wrong = md5(b"something else");
    let (status, _) = patch(first.clone(), chunk, data[chunk..2 * chunk].to_vec(), Some(wrong)).await;
    assert_eq!(status.as_u16(), 460, "checksum mismatch");
    let (status, _) = patch(first.clone(), 0, data[..10].to_vec(), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "stale offset");
    let (status, headers) = send(&first, Method::HEAD, &location, &[auth("vendor"), tus.clone()], vec![]).await;
    assert_eq!(
        (status, header(&headers, "upload-offset")),
        (StatusCode::OK, chunk.to_string()),
        "the bad chunk left no trace"
    );
    assert_eq!(header(&headers, "upload-length"), length.to_string());
    assert_eq!(header(&headers, "cache-control"), "no-store");
    assert_eq!(
        send(&first, Method::HEAD, &location, &[auth("viewer"), tus.clone()], vec![]).await.0,
        StatusCode::FORBIDDEN
    );

    // While one PATCH holds the upload, another is refused rather than interleaved.
    let id = location.rsplit('/').next().unwrap().to_owned();
    assert!(env.hub.stack.db.lease_upload(&id, 60_000).await.unwrap());
    let (status, _) = patch(first.clone(), chunk, data[chunk..chunk + 10].to_vec(), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "busy");
    env.hub.stack.db.release_upload(&id).await.unwrap();

    // A second instance (another store handle, same database) continues and finishes it.
    let second = app(&env, env.hub.stack.open_store().await);
    let sha1 = {
        use sha1::Digest;
        let digest = sha1::Sha1::digest(&data[chunk..2 * chunk]);
        format!("sha1 {}", base64::engine::general_purpose::STANDARD.encode(digest))
    };
    let (status, _) = patch(second.clone(), chunk, data[chunk..2 * chunk].to_vec(), Some(sha1)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, headers) = patch(second.clone(), 2 * chunk, data[2 * chunk..].to_vec(), None).await;
    assert_eq!((status, header(&headers, "upload-offset")), (StatusCode::NO_CONTENT, length.to_string()));
    let id = location.rsplit('/').next().unwrap();
    let stored = env
        .hub
        .stack
        .open_store()
        .await
        .get_range(&BlobKey::new(format!("uploads/{id}/data")).unwrap(), 0..length as u64)
        .await
        .unwrap();
    assert!(stored[..] == data[..], "the stored bytes are the uploaded bytes");
    let (status, _) = patch(first.clone(), length as usize, vec![1], None).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "nothing past the length");

    // Creation with upload, and a zero-length file.
    let small = pattern(1000);
    let mut headers = create("vendor");
    headers[2] = ("upload-length", "1000".into());
    headers.push(octets.clone());
    let (status, response) = send(&first, Method::POST, "/api/v1/uploads", &headers, small.clone()).await;
    assert_eq!((status, header(&response, "upload-offset")), (StatusCode::CREATED, "1000".into()));
    let id = header(&response, "location").rsplit('/').next().unwrap().to_owned();
    assert_eq!(
        &env.hub
            .stack
            .open_store()
            .await
            .get_range(&BlobKey::new(format!("uploads/{id}/data")).unwrap(), 0..1000)
            .await
            .unwrap()[..],
        &small[..]
    );
    let mut headers = create("vendor");
    headers[2] = ("upload-length", "0".into());
    let (status, response) = send(&first, Method::POST, "/api/v1/uploads", &headers, vec![]).await;
    assert_eq!(status, StatusCode::CREATED);
    let empty = header(&response, "location");
    let (_, head) = send(&first, Method::HEAD, &empty, &[auth("vendor"), tus.clone()], vec![]).await;
    assert_eq!(header(&head, "upload-offset"), "0");

    // Deferred length: the last PATCH says how long it was.
    let mut headers = create("vendor");
    headers[2] = ("upload-defer-length", "1".into());
    let (_, response) = send(&first, Method::POST, "/api/v1/uploads", &headers, vec![]).await;
    let deferred = header(&response, "location");
    let (_, head) = send(&first, Method::HEAD, &deferred, &[auth("vendor"), tus.clone()], vec![]).await;
    assert_eq!(header(&head, "upload-defer-length"), "1");
    let part = pattern(5000);
    let h = vec![auth("vendor"), tus.clone(), octets.clone(), ("upload-offset", "0".into())];
    assert_eq!(send(&first, Method::PATCH, &deferred, &h, part[..3000].to_vec()).await.0, StatusCode::NO_CONTENT);
    let h = vec![
        auth("vendor"),
        tus.clone(),
        octets.clone(),
        ("upload-offset", "3000".into()),
        ("upload-length", "5000".into()),
    ];
    assert_eq!(send(&first, Method::PATCH, &deferred, &h, part[3000..].to_vec()).await.0, StatusCode::NO_CONTENT);
    let id = deferred.rsplit('/').next().unwrap();
    assert_eq!(
        &env.hub
            .stack
            .open_store()
            .await
            .get_range(&BlobKey::new(format!("uploads/{id}/data")).unwrap(), 0..5000)
            .await
            .unwrap()[..],
        &part[..]
    );

    // Concatenation: two partial uploads (as parallel connections send them) joined into one.
    let partial_meta = format!("project {},bucket {}", b64(&env.hub.project.to_string()), b64("final-sound"));
    let pieces = [pattern(9 << 20), pattern((3 << 20) + 5)];
    let mut urls = Vec::new();
    for piece in &pieces {
        let headers = vec![
            auth("vendor"),
            tus.clone(),
            ("upload-length", piece.len().to_string()),
            ("upload-metadata", partial_meta.clone()),
            ("upload-concat", "partial".into()),
        ];
        let (status, response) = send(&first, Method::POST, "/api/v1/uploads", &headers, vec![]).await;
        assert_eq!(status, StatusCode::CREATED);
        urls.push(header(&response, "location"));
    }
    let final_headers = |list: String| {
        vec![auth("vendor"), tus.clone(), ("upload-metadata", meta.clone()), ("upload-concat", format!("final;{list}"))]
    };
    let list = urls.join(" ");
    let (status, _) = send(&first, Method::POST, "/api/v1/uploads", &final_headers(list.clone()), vec![]).await;
    assert_eq!(status, StatusCode::CONFLICT, "partials still incomplete");
    for (url, piece) in urls.iter().zip(&pieces) {
        let h = vec![auth("vendor"), tus.clone(), octets.clone(), ("upload-offset", "0".into())];
        assert_eq!(send(&second, Method::PATCH, url, &h, piece.clone()).await.0, StatusCode::NO_CONTENT);
    }
    let (status, response) = send(&first, Method::POST, "/api/v1/uploads", &final_headers(list), vec![]).await;
    assert_eq!(status, StatusCode::CREATED);
    let joined = header(&response, "location");
    let (_, head) = send(&first, Method::HEAD, &joined, &[auth("vendor"), tus.clone()], vec![]).await;
    let whole = pieces.concat();
    assert_eq!(header(&head, "upload-offset"), whole.len().to_string());
    assert!(header(&head, "upload-concat").starts_with("final;"));
    let id = joined.rsplit('/').next().unwrap();
    let stored = env
        .hub
        .stack
        .open_store()
        .await
        .get_range(&BlobKey::new(format!("uploads/{id}/data")).unwrap(), 0..whole.len() as u64)
        .await
        .unwrap();
    assert!(stored[..] == whole[..], "the final upload is the partials in order");
    let h = vec![auth("vendor"), tus.clone(), octets.clone(), ("upload-offset", whole.len().to_string())];
    assert_eq!(send(&first, Method::PATCH, &joined, &h, vec![1]).await.0, StatusCode::FORBIDDEN);
    for url in &urls {
        assert_eq!(
            send(&first, Method::HEAD, url, &[auth("vendor"), tus.clone()], vec![]).await.0,
            StatusCode::NOT_FOUND
        );
    }

    // Termination, and expiry with the reaper.
    let (_, response) = send(&first, Method::POST, "/api/v1/uploads", &create("vendor"), vec![]).await;
    let doomed = header(&response, "location");
    let h = vec![auth("vendor"), tus.clone(), octets.clone(), ("upload-offset", "0".into())];
    assert_eq!(send(&first, Method::PATCH, &doomed, &h, pattern(100)).await.0, StatusCode::NO_CONTENT);
    assert_eq!(
        send(&first, Method::DELETE, &doomed, &[auth("vendor"), tus.clone()], vec![]).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        send(&first, Method::HEAD, &doomed, &[auth("vendor"), tus.clone()], vec![]).await.0,
        StatusCode::NOT_FOUND
    );
    // An upload made where uploads live briefly (the configured lifetime) expires on its own.
    let (state, brief) = env.hub.instance(|c| c.upload_lifetime = Duration::from_millis(400)).await;
    let (_, response) = send(&brief, Method::POST, "/api/v1/uploads", &create("vendor"), vec![]).await;
    let stale = header(&response, "location");
    assert_eq!(send(&brief, Method::PATCH, &stale, &h, pattern(100)).await.0, StatusCode::NO_CONTENT);
    let (status, _) = send(&first, Method::HEAD, &stale, &[auth("vendor"), tus.clone()], vec![]).await;
    assert_eq!(status, StatusCode::OK, "alive until its time is up");
    common::eventually("the upload expires", Duration::from_secs(20), || async {
        send(&first, Method::HEAD, &stale, &[auth("vendor"), tus.clone()], vec![]).await.0 == StatusCode::GONE
    })
    .await;
    assert_eq!(hub::app::uploads::reap_expired(&state).await.unwrap(), 1, "only the expired one");
    assert_eq!(
        send(&first, Method::HEAD, &stale, &[auth("vendor"), tus.clone()], vec![]).await.0,
        StatusCode::NOT_FOUND
    );
    let stale_id = stale.rsplit('/').next().unwrap();
    let freed = env.hub.stack.open_store().await.list(&format!("uploads/{stale_id}/")).await.unwrap();
    assert!(freed.is_empty(), "its bytes are freed: {freed:?}");
    let doomed_id = doomed.rsplit('/').next().unwrap();
    let freed = env.hub.stack.open_store().await.list(&format!("uploads/{doomed_id}/")).await.unwrap();
    assert!(freed.is_empty(), "a terminated upload's bytes are freed too: {freed:?}");
}

testkit::on_every_backend!(tus_protocol);

/// After a power cut the local file may hold fewer bytes than the hub acknowledged (they were
/// never synced): HEAD reports what is really there, a PATCH at the old offset is told where to
/// continue, and the finished file is whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_bytes_lost_from_a_local_disk_are_asked_for_again() {
    let env = env(Stack::new(testkit::Backend::SqliteLocal).await.unwrap()).await;
    let store = env.hub.stack.open_store().await;
    let hub = app(&env, store.clone());
    let auth = ("authorization", format!("Bearer {}", env.tokens["vendor"]));
    let tus = ("tus-resumable", "1.0.0".to_owned());
    let octets = ("content-type", "application/offset+octet-stream".to_owned());
    let meta = format!(
        "project {},bucket {},filename {}",
        b64(&env.hub.project.to_string()),
        b64("music"),
        b64("cue_1m01.wav")
    );
    let data = pattern(1000);
    let create = vec![auth.clone(), tus.clone(), ("upload-length", "1000".into()), ("upload-metadata", meta)];
    let (status, headers) = send(&hub, Method::POST, "/api/v1/uploads", &create, vec![]).await;
    assert_eq!(status, StatusCode::CREATED);
    let location = header(&headers, "location");
    let patch = |offset: usize, bytes: &[u8]| {
        let headers = vec![auth.clone(), tus.clone(), octets.clone(), ("upload-offset", offset.to_string())];
        let (hub, location, bytes) = (hub.clone(), location.clone(), bytes.to_vec());
        async move { send(&hub, Method::PATCH, &location, &headers, bytes).await }
    };
    assert_eq!(patch(0, &data[..600]).await.0, StatusCode::NO_CONTENT);

    // The power cut: the last 200 acknowledged bytes never reached the disk.
    let id = location.rsplit('/').next().unwrap();
    let file = env.hub.stack.dir.path().join("blobs").join(format!("uploads/{id}/data"));
    std::fs::OpenOptions::new().write(true).open(&file).unwrap().set_len(400).unwrap();

    let (status, headers) = send(&hub, Method::HEAD, &location, &[auth.clone(), tus.clone()], vec![]).await;
    assert_eq!((status, header(&headers, "upload-offset")), (StatusCode::OK, "400".to_owned()));
    assert_eq!(patch(600, &data[600..]).await.0, StatusCode::CONFLICT, "told to continue from 400");
    let (status, headers) = patch(400, &data[400..]).await;
    assert_eq!((status, header(&headers, "upload-offset")), (StatusCode::NO_CONTENT, "1000".to_owned()));
    assert!(std::fs::read(&file).unwrap() == data, "the finished file is whole");
}

/// The contributor of the hostile-input tests, on an instance of its own.
struct Vendor {
    hub: Router,
    token: String,
    auth: (&'static str, String),
    tus: (&'static str, String),
    octets: (&'static str, String),
    project: i64,
}

async fn vendor(env: &Env) -> Vendor {
    let token = env.tokens["vendor"].clone();
    Vendor {
        hub: app(env, env.hub.stack.open_store().await),
        auth: ("authorization", format!("Bearer {token}")),
        token,
        tus: ("tus-resumable", "1.0.0".to_owned()),
        octets: ("content-type", "application/offset+octet-stream".to_owned()),
        project: env.hub.project,
    }
}

/// A name too long for a storage key is refused when it is declared (it used to make a key over 512
/// bytes, and every PATCH, DELETE and reap of it panicked).
async fn names_too_long_for_a_key(stack: Stack) {
    let env = env(stack).await;
    let Vendor { hub, token: vendor, auth, tus, project, .. } = vendor(&env).await;

    // A package file name of 300 bytes (every character allowed) is refused at declaration.
    let long = format!("{}.dpx", "a".repeat(296));
    let files = serde_json::json!([{"name": "r1_frames", "metadata": {"shot": "sh010", "version": 1}, "package": [
        {"name": long, "size": 10}, {"name": "checksum.txt", "size": 50}]}]);
    let body = serde_json::json!({"bucket": "vfx", "files": files}).to_string();
    let json = ("content-type", "application/json".to_owned());
    let answer = common::request(
        &hub,
        Method::POST,
        &format!("/api/v1/projects/{project}/deliveries"),
        &[auth.clone(), json.clone()],
        body,
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", answer.raw);
    assert!(answer.raw.contains("at most 255 bytes"), "{}", answer.raw);
    let user = env.hub.stack.db.user_for_token(&vendor).await.unwrap().0;
    let listed = env.hub.stack.db.deliveries_seen_by(user.id, 10).await.unwrap();
    assert!(listed.is_empty(), "nothing was declared: {listed:?}");
    // And a tus upload named so.
    let meta = format!("project {},bucket {},filename {}", b64(&project.to_string()), b64("music"), b64(&long));
    let headers = vec![auth.clone(), tus.clone(), ("upload-length", "10".into()), ("upload-metadata", meta)];
    let answer = common::request(&hub, Method::POST, "/api/v1/uploads", &headers, "").await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", answer.raw);
}

/// A damaged record (a stored key that is not a key) fails its own requests with 500 instead of a
/// panic, and the reaper goes past it to the others.
async fn damaged_upload_records(stack: Stack) {
    let env = env(stack).await;
    let Vendor { hub, token: vendor, auth, tus, octets, project } = vendor(&env).await;
    let user = env.hub.stack.db.user_for_token(&vendor).await.unwrap().0;
    let damaged = |id: &str, expires_ms: i64| hub::db::Upload {
        id: id.into(),
        project_id: project,
        bucket: hub_domain::BucketKind::Music,
        created_by: Some(user.id),
        length: Some(10),
        offset: 0,
        metadata: String::new(),
        store_state: String::new(),
        blob_key: format!("packages/x/{}", "b".repeat(600)),
        completed: false,
        created_ms: 0,
        expires_ms,
        concat: None,
        piece_of: None,
        piece_at: None,
    };
    env.hub.stack.db.create_upload(&damaged("damaged1", i64::MAX / 2)).await.unwrap();
    let h = vec![auth.clone(), tus.clone(), octets.clone(), ("upload-offset", "0".into())];
    let answer = common::request(&hub, Method::PATCH, "/api/v1/uploads/damaged1", &h, vec![7u8; 10]).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", answer.raw);
    let answer =
        common::request(&hub, Method::DELETE, "/api/v1/uploads/damaged1", &[auth.clone(), tus.clone()], "").await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "its record can still be removed: {}", answer.raw);
    env.hub.stack.db.create_upload(&damaged("damaged2", 1)).await.unwrap();
    let (state, brief) = env.hub.instance(|c| c.upload_lifetime = Duration::from_millis(1)).await;
    let meta = format!("project {},bucket {},filename {}", b64(&project.to_string()), b64("music"), b64("ok.wav"));
    let headers = vec![auth.clone(), tus.clone(), ("upload-length", "10".into()), ("upload-metadata", meta)];
    let answer = common::request(&brief, Method::POST, "/api/v1/uploads", &headers, "").await;
    assert_eq!(answer.status, StatusCode::CREATED);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(hub::app::uploads::reap_expired(&state).await.unwrap(), 2, "the damaged one and the other");
}

/// A final upload cannot list a partial twice, list too many, or add up past the largest upload.
async fn concatenation_cannot_amplify(stack: Stack) {
    let env = env(stack).await;
    let Vendor { hub, auth, tus, octets, project, .. } = vendor(&env).await;
    let partial_meta = format!("project {},bucket {}", b64(&project.to_string()), b64("final-sound"));
    let partial = || {
        let (hub, auth, tus, octets, partial_meta) =
            (hub.clone(), auth.clone(), tus.clone(), octets.clone(), partial_meta.clone());
        async move {
            let headers = vec![
                auth.clone(),
                tus.clone(),
                ("upload-length", "600".into()),
                ("upload-metadata", partial_meta),
                ("upload-concat", "partial".into()),
            ];
            let answer = common::request(&hub, Method::POST, "/api/v1/uploads", &headers, "").await;
            let url = answer.header("location");
            let h = vec![auth, tus, octets, ("upload-offset", "0".into())];
            assert_eq!(
                common::request(&hub, Method::PATCH, &url, &h, pattern(600)).await.status,
                StatusCode::NO_CONTENT
            );
            url
        }
    };
    let (one, two) = (partial().await, partial().await);
    let meta =
        format!("project {},bucket {},filename {}", b64(&project.to_string()), b64("final-sound"), b64("r1.wav"));
    let finale = |list: String| {
        vec![auth.clone(), tus.clone(), ("upload-metadata", meta.clone()), ("upload-concat", format!("final;{list}"))]
    };
    let twice = common::request(&hub, Method::POST, "/api/v1/uploads", &finale(format!("{one} {two} {one}")), "").await;
    assert_eq!(twice.status, StatusCode::BAD_REQUEST, "{}", twice.raw);
    assert!(twice.raw.contains("listed twice"), "{}", twice.raw);
    let many = vec![two.clone(); hub::app::uploads::MAX_PARTIALS + 1].join(" ");
    let answer = common::request(&hub, Method::POST, "/api/v1/uploads", &finale(many), "").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.raw);
    let (_, small) = env.hub.instance(|c| c.max_upload = 1000).await;
    let answer = common::request(&small, Method::POST, "/api/v1/uploads", &finale(format!("{one} {two}")), "").await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE, "1,200 bytes past a 1,000-byte limit: {}", answer.raw);
    // A final upload naming a delivery it cannot be bound to is refused, and its pieces are kept.
    let meta_bad = format!(
        "project {},bucket {},filename {},delivery {}",
        b64(&project.to_string()),
        b64("final-sound"),
        b64("r1.wav"),
        b64("999999")
    );
    let unbound =
        vec![auth.clone(), tus.clone(), ("upload-metadata", meta_bad), ("upload-concat", format!("final;{one} {two}"))];
    let answer = common::request(&hub, Method::POST, "/api/v1/uploads", &unbound, "").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.raw);
    for piece in [&one, &two] {
        let head = common::request(&hub, Method::HEAD, piece, &[auth.clone(), tus.clone()], "").await;
        assert_eq!(head.status, StatusCode::OK, "a failed bind loses no piece");
    }
    // Nothing was lost by the refusals: the two joined once make the file.
    let answer = common::request(&hub, Method::POST, "/api/v1/uploads", &finale(format!("{one} {two}")), "").await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.raw);
}

/// A finished upload that nothing uses (no delivery, no package: a vendor filling the hub's disk
/// through tus alone) is reaped once its time is up, like an unfinished one (issue 12, scenario 8);
/// a finished upload a delivery uses is not, however old.
async fn finished_uploads_nothing_uses_are_reaped(stack: Stack) {
    let env = env(stack).await;
    let Vendor { auth, tus, octets, project, .. } = vendor(&env).await;
    let (state, brief) = env.hub.instance(|c| c.upload_lifetime = Duration::from_millis(300)).await;
    let meta = format!("project {},bucket {},filename {}", b64(&project.to_string()), b64("music"), b64("loose.wav"));
    let headers = vec![auth.clone(), tus.clone(), ("upload-length", "10".into()), ("upload-metadata", meta)];
    let loose = common::request(&brief, Method::POST, "/api/v1/uploads", &headers, "").await.header("location");
    let h = vec![auth.clone(), tus.clone(), octets.clone(), ("upload-offset", "0".into())];
    assert_eq!(common::request(&brief, Method::PATCH, &loose, &h, pattern(10)).await.status, StatusCode::NO_CONTENT);
    let files =
        serde_json::json!([{"name": "sh050_bound.exr", "size": 10, "metadata": {"shot": "sh050", "version": 1}}]);
    let declared = env.hub.declare_on(&brief, &env.tokens["vendor"], "vfx", files).await;
    let bound = declared["files"][0]["upload"].as_str().unwrap().to_owned();
    assert_eq!(common::request(&brief, Method::PATCH, &bound, &h, pattern(10)).await.status, StatusCode::NO_CONTENT);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(hub::app::uploads::reap_expired(&state).await.unwrap(), 1, "the loose one only");
    let head = |url: String| {
        let (brief, auth, tus) = (brief.clone(), auth.clone(), tus.clone());
        async move { common::request(&brief, Method::HEAD, &url, &[auth, tus], "").await.status }
    };
    assert_eq!(head(loose.clone()).await, StatusCode::NOT_FOUND, "reaped");
    assert_eq!(head(bound.clone()).await, StatusCode::OK, "kept: its delivery uses it");
    let id = loose.rsplit('/').next().unwrap();
    let left = env.hub.stack.open_store().await.list(&format!("uploads/{id}/")).await.unwrap();
    assert!(left.is_empty(), "its bytes are freed: {left:?}");
}

testkit::on_every_backend!(
    names_too_long_for_a_key,
    damaged_upload_records,
    concatenation_cannot_amplify,
    finished_uploads_nothing_uses_are_reaped
);

/// A store that sends parts as object stores do (the default write path) and counts the part
/// bytes being sent at once.
#[derive(Debug)]
struct PartCounter {
    inner: Arc<dyn BlobStore>,
    in_flight: std::sync::atomic::AtomicU64,
    peak: std::sync::atomic::AtomicU64,
    parts: std::sync::atomic::AtomicU64,
    /// Once set, the next completed multipart upload is reported as failed (as when the hub dies
    /// after the store completed it and before the hub recorded it).
    lose_completion: std::sync::atomic::AtomicBool,
    /// Once set, the next completion is cut short after the store forgot the multipart upload and
    /// before it wrote the object (s3s-fs, when the hub dies mid-completion).
    cut_completion: std::sync::atomic::AtomicBool,
    /// Bytes read back from the store.
    read: std::sync::atomic::AtomicU64,
}

#[async_trait::async_trait]
impl BlobStore for PartCounter {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    async fn put_stream(
        &self,
        key: &BlobKey,
        reader: &mut (dyn tokio::io::AsyncRead + Unpin + Send),
    ) -> hub::store::StoreResult<u64> {
        self.inner.put_stream(key, reader).await
    }
    async fn get_range(&self, key: &BlobKey, range: std::ops::Range<u64>) -> hub::store::StoreResult<bytes::Bytes> {
        self.read.fetch_add(range.end - range.start, std::sync::atomic::Ordering::SeqCst);
        self.inner.get_range(key, range).await
    }
    async fn size(&self, key: &BlobKey) -> hub::store::StoreResult<u64> {
        self.inner.size(key).await
    }
    async fn delete(&self, key: &BlobKey) -> hub::store::StoreResult<()> {
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str) -> hub::store::StoreResult<Vec<(String, u64)>> {
        self.inner.list(prefix).await
    }
    async fn create_multipart(&self, key: &BlobKey) -> hub::store::StoreResult<String> {
        self.inner.create_multipart(key).await
    }
    async fn put_part(
        &self,
        key: &BlobKey,
        upload: &str,
        index: usize,
        data: bytes::Bytes,
    ) -> hub::store::StoreResult<hub::store::PartRef> {
        use std::sync::atomic::Ordering::SeqCst;
        let len = data.len() as u64;
        let now = self.in_flight.fetch_add(len, SeqCst) + len;
        self.peak.fetch_max(now, SeqCst);
        self.parts.fetch_add(1, SeqCst);
        let sent = self.inner.put_part(key, upload, index, data).await;
        self.in_flight.fetch_sub(len, SeqCst);
        sent
    }
    async fn complete_multipart(
        &self,
        key: &BlobKey,
        upload: &str,
        parts: Vec<hub::store::PartRef>,
    ) -> hub::store::StoreResult<()> {
        if self.cut_completion.swap(false, std::sync::atomic::Ordering::SeqCst) {
            self.inner.abort_multipart(key, upload).await?;
            return Err(hub::store::StoreError::Backend("the connection closed mid-completion".into()));
        }
        self.inner.complete_multipart(key, upload, parts).await?;
        if self.lose_completion.swap(false, std::sync::atomic::Ordering::SeqCst) {
            return Err(hub::store::StoreError::Backend("the hub died before it recorded this".into()));
        }
        Ok(())
    }
    async fn abort_multipart(&self, key: &BlobKey, upload: &str) -> hub::store::StoreResult<()> {
        self.inner.abort_multipart(key, upload).await
    }
}

/// The hub's store wrapped in a [`PartCounter`], and an app on it.
async fn counted(hub: &TestHub) -> (Arc<PartCounter>, Router) {
    let store = Arc::new(PartCounter {
        inner: hub.stack.open_store().await,
        in_flight: Default::default(),
        peak: Default::default(),
        parts: Default::default(),
        lose_completion: Default::default(),
        cut_completion: Default::default(),
        read: Default::default(),
    });
    let app = router(app::Hub::new(hub.stack.db.clone(), store.clone(), (*hub.state.config).clone()));
    (store, app)
}

/// Memory per PATCH on object stores is bounded (issue 12, scenario 6): four PATCHes at once into
/// uploads declared at 1 TiB (parts of 117 MiB) never send more part bytes at once than the
/// process's budget — a PATCH spools its body and waits for its share — and an upload whose
/// length is deferred gets parts sized for the largest upload, so that it cannot run out of S3's
/// 10,000 parts (it used to get 32 MiB parts: 312 GiB at most).
async fn part_memory_is_bounded(stack: Stack) {
    use std::sync::atomic::Ordering::SeqCst;
    let hub = TestHub::new(stack, |c| c.max_upload = 1 << 40).await;
    let vendor = hub.member("vendor", Role::Contributor).await;
    let (store, app) = counted(&hub).await;
    let auth = ("authorization", format!("Bearer {vendor}"));
    let tus = ("tus-resumable", "1.0.0".to_owned());
    let mut uploads = Vec::new();
    for n in 0..4 {
        let meta = format!(
            "project {},bucket {},filename {}",
            b64(&hub.project.to_string()),
            b64("music"),
            b64(&format!("m{n}.wav"))
        );
        let length =
            if n == 3 { ("upload-defer-length", "1".to_owned()) } else { ("upload-length", (1u64 << 40).to_string()) };
        let headers = vec![auth.clone(), tus.clone(), length, ("upload-metadata", meta)];
        let (status, response) = send(&app, Method::POST, "/api/v1/uploads", &headers, vec![]).await;
        assert_eq!(status, StatusCode::CREATED);
        uploads.push(header(&response, "location"));
    }
    // Each body is one part and a MiB more; sent all at once.
    let body = bytes::Bytes::from(pattern(118 << 20));
    let patches = uploads.iter().map(|location| {
        let headers = vec![
            auth.clone(),
            tus.clone(),
            ("content-type", "application/offset+octet-stream".to_owned()),
            ("upload-offset", "0".to_owned()),
        ];
        let app = app.clone();
        let body = body.clone();
        async move { common::request(&app, Method::PATCH, location, &headers, body).await }
    });
    for answer in futures_util::future::join_all(patches).await {
        assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.raw);
        assert_eq!(answer.header("upload-offset"), (118u64 << 20).to_string());
    }
    let (peak, parts) = (store.peak.load(SeqCst), store.parts.load(SeqCst));
    assert!(
        peak <= hub::store::resumable::PART_MEMORY,
        "{} MiB of parts were in memory at once; the budget is {} MiB",
        peak >> 20,
        hub::store::resumable::PART_MEMORY >> 20
    );
    assert_eq!(parts, 4, "each PATCH sent one whole part");
    let deferred = hub.stack.db.upload(uploads[3].rsplit('/').next().unwrap()).await.unwrap();
    let state: serde_json::Value = serde_json::from_str(&deferred.store_state).unwrap();
    let part_size = state["part_size"].as_u64().unwrap();
    assert!(part_size * 9_000 >= 1 << 40, "a deferred upload's parts fit the largest upload: {part_size}");
}

testkit::on_every_backend!(
    part_memory_is_bounded,
    a_finished_object_the_hub_did_not_record_is_taken_again,
    an_unfinished_upload_the_store_lost_starts_again,
    a_file_in_pieces_the_store_lost_starts_again
);

/// The hub can die after the object store completed an upload's object and before the hub recorded
/// its offset (seen once as a stream of a package that got 503s for a minute after `serve` was
/// killed). The client sends the last bytes again from the recorded offset; the hub takes them
/// (the object is already whole) instead of failing for ever on a multipart upload the store has
/// closed, and the object is the file's bytes.
async fn a_finished_object_the_hub_did_not_record_is_taken_again(stack: Stack) {
    use std::sync::atomic::Ordering::SeqCst;
    let up = CountedUpload::new(stack, "m9.wav").await;
    let half = 10 << 20;
    assert_eq!(up.patch(0, half).await, StatusCode::NO_CONTENT);
    up.store.lose_completion.store(true, SeqCst);
    let all = up.data.len();
    assert_eq!(
        up.patch(half, all).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "the store completed it; the hub did not record it"
    );
    assert_eq!(up.offset().await, half.to_string(), "not recorded");
    assert_eq!(up.patch(half, all).await, StatusCode::NO_CONTENT, "the same bytes again are taken");
    up.assert_whole().await;
}

/// A store can lose an unfinished upload: s3s-fs forgets a multipart upload before it joins the
/// parts, so the hub killed mid-completion leaves neither the upload nor the object (a package's
/// stream then got 503 on every retry after `serve` was killed, until the CLI gave up). The hub
/// sees that the store no longer knows the upload, starts it again from byte 0 and says so (409
/// with the offset); sent again, the file is whole.
async fn an_unfinished_upload_the_store_lost_starts_again(stack: Stack) {
    use std::sync::atomic::Ordering::SeqCst;
    let up = CountedUpload::new(stack, "m8.wav").await;
    let (half, all) = (10 << 20, up.data.len());
    assert_eq!(up.patch(0, half).await, StatusCode::NO_CONTENT, "a part stored, the rest pending");
    up.store.cut_completion.store(true, SeqCst);
    assert_eq!(up.patch(half, all).await, StatusCode::CONFLICT, "the store lost the upload: it starts again");
    assert_eq!(up.offset().await, "0");
    assert_eq!(up.patch(half, all).await, StatusCode::CONFLICT, "not from where it was");
    assert_eq!(up.patch(0, all).await, StatusCode::NO_CONTENT, "sent again, it is taken");
    up.assert_whole().await;
}

/// The same when the store loses a file sent in pieces as the last piece makes it whole: the file
/// gets a new multipart upload and every piece starts again (a HEAD of the file got 503 for
/// ever before); sent again, the file is whole.
async fn a_file_in_pieces_the_store_lost_starts_again(stack: Stack) {
    use std::sync::atomic::Ordering::SeqCst;
    let up = CountedUpload::new(stack, "m7.wav").await;
    let (unit, all) = (8usize << 20, up.data.len());
    let whole = up.location.rsplit('/').next().unwrap().to_owned();
    let mut pieces = Vec::new();
    for (at, end) in [(0, unit), (unit, all)] {
        let meta = [("project", up.hub.project.to_string()), ("bucket", "music".into()), ("whole", whole.clone())];
        let mut meta: Vec<String> = meta.iter().map(|(k, v)| format!("{k} {}", b64(v))).collect();
        meta.push(format!("at {}", b64(&at.to_string())));
        let create = vec![
            up.auth.clone(),
            tus(),
            ("upload-length", (end - at).to_string()),
            ("upload-metadata", meta.join(",")),
        ];
        let (status, made) = send(&up.app, Method::POST, "/api/v1/uploads", &create, vec![]).await;
        assert_eq!(status, StatusCode::CREATED);
        pieces.push((header(&made, "location"), at, end));
    }
    let send_piece = |i: usize| {
        let (url, at, end) = &pieces[i];
        up.patch_to(url, 0, &up.data[*at..*end])
    };
    assert_eq!(send_piece(0).await, StatusCode::NO_CONTENT);
    up.store.cut_completion.store(true, SeqCst);
    assert_eq!(send_piece(1).await, StatusCode::NO_CONTENT, "the piece is taken; making the file whole is cut short");
    assert_eq!(up.head(&up.location).await, (StatusCode::OK, "0".to_owned()), "the file starts again");
    for (url, ..) in &pieces {
        assert_eq!(up.head(url).await, (StatusCode::OK, "0".to_owned()), "and so does each piece");
    }
    assert_eq!(send_piece(0).await, StatusCode::NO_CONTENT);
    assert_eq!(send_piece(1).await, StatusCode::NO_CONTENT);
    assert_eq!(up.offset().await, all.to_string());
    up.assert_whole().await;
}

/// An upload of a little over 20 MiB (two whole parts and a rest) by a contributor, through a
/// hub on a [`PartCounter`].
struct CountedUpload {
    hub: TestHub,
    store: Arc<PartCounter>,
    app: Router,
    auth: (&'static str, String),
    data: Vec<u8>,
    location: String,
}

impl CountedUpload {
    async fn new(stack: Stack, name: &str) -> CountedUpload {
        let hub = TestHub::new(stack, |_| {}).await;
        let vendor = hub.member("vendor", Role::Contributor).await;
        let (store, app) = counted(&hub).await;
        let auth = ("authorization", format!("Bearer {vendor}"));
        let data = pattern((20 << 20) + 5);
        let meta = format!("project {},bucket {},filename {}", b64(&hub.project.to_string()), b64("music"), b64(name));
        let create = vec![auth.clone(), tus(), ("upload-length", data.len().to_string()), ("upload-metadata", meta)];
        let (status, response) = send(&app, Method::POST, "/api/v1/uploads", &create, vec![]).await;
        assert_eq!(status, StatusCode::CREATED);
        let location = header(&response, "location");
        CountedUpload { hub, store, app, auth, data, location }
    }

    /// PATCHes the bytes `offset..end` at `offset`.
    async fn patch(&self, offset: usize, end: usize) -> StatusCode {
        self.patch_to(&self.location, offset, &self.data[offset..end]).await
    }

    /// PATCHes `bytes` to the upload at `url`, at `offset`.
    async fn patch_to(&self, url: &str, offset: usize, bytes: &[u8]) -> StatusCode {
        let headers = vec![
            self.auth.clone(),
            tus(),
            ("content-type", "application/offset+octet-stream".to_owned()),
            ("upload-offset", offset.to_string()),
        ];
        send(&self.app, Method::PATCH, url, &headers, bytes.to_vec()).await.0
    }

    /// The offset HEAD reports.
    async fn offset(&self) -> String {
        self.head(&self.location).await.1
    }

    /// What HEAD of the upload at `url` answers, and the offset it reports.
    async fn head(&self, url: &str) -> (StatusCode, String) {
        let (status, head) = send(&self.app, Method::HEAD, url, &[self.auth.clone(), tus()], vec![]).await;
        (status, header(&head, "upload-offset"))
    }

    /// The upload is complete, and its object is the file's bytes.
    async fn assert_whole(&self) {
        let upload = self.hub.stack.db.upload(self.location.rsplit('/').next().unwrap()).await.unwrap();
        assert!(upload.completed && upload.offset == self.data.len() as i64, "{upload:?}");
        let key = BlobKey::new(upload.blob_key).unwrap();
        let stored = self.store.get_range(&key, 0..self.data.len() as u64).await.unwrap();
        assert!(stored[..] == self.data[..], "the object is the file's bytes");
    }
}

fn tus() -> (&'static str, String) {
    ("tus-resumable", "1.0.0".to_owned())
}

/// A tus client pointed at `/api/v1/uploads/` (with the trailing slash, as many are; issue 13,
/// bug 4) discovers and creates there exactly as at `/api/v1/uploads`.
async fn the_creation_url_takes_a_trailing_slash(stack: Stack) {
    let env = env(stack).await;
    let Vendor { hub, auth, tus, project, .. } = vendor(&env).await;
    let (status, headers) = send(&hub, Method::OPTIONS, "/api/v1/uploads/", &[], vec![]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(header(&headers, "tus-version"), "1.0.0");
    let meta = format!("project {},bucket {},filename {}", b64(&project.to_string()), b64("music"), b64("cue1.wav"));
    let create = vec![auth.clone(), tus.clone(), ("upload-length", "5".into()), ("upload-metadata", meta)];
    let (status, headers) = send(&hub, Method::POST, "/api/v1/uploads/", &create, vec![]).await;
    assert_eq!(status, StatusCode::CREATED);
    let location = header(&headers, "location");
    assert!(location.starts_with("/api/v1/uploads/") && location.len() > "/api/v1/uploads/".len(), "{location}");
    let (status, head) = send(&hub, Method::HEAD, &location, &[auth, tus], vec![]).await;
    assert_eq!((status, header(&head, "upload-length")), (StatusCode::OK, "5".into()));
}

testkit::on_every_backend!(the_creation_url_takes_a_trailing_slash, a_big_file_travels_in_pieces_written_in_place);

/// A big file sent as parallel pieces (issue 14, item 2): each piece writes its range of the file
/// in place, the last one to finish makes the file whole, and nothing is copied. Pieces that do
/// not fit the rule, overlap, belong to someone else's file or come after the file is whole are
/// refused with what to do; asking for the same piece again gives the same piece.
async fn a_big_file_travels_in_pieces_written_in_place(stack: Stack) {
    use std::sync::atomic::Ordering::SeqCst;
    let env = env(stack).await;
    let Vendor { hub: app, auth, tus, octets, project, .. } = vendor(&env).await;
    let meta =
        |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| format!("{k} {}", b64(v))).collect::<Vec<_>>().join(",");
    let project = project.to_string();
    let unit = 8usize << 20;
    let data = pattern(2 * unit + 12_345);
    let create = |length: usize, metadata: String| {
        vec![auth.clone(), tus.clone(), ("upload-length", length.to_string()), ("upload-metadata", metadata)]
    };
    let whole_meta = meta(&[("project", &project), ("bucket", "music"), ("filename", "big.wav")]);
    let (status, made) = send(&app, Method::POST, "/api/v1/uploads", &create(data.len(), whole_meta), vec![]).await;
    assert_eq!(status, StatusCode::CREATED);
    let whole_url = header(&made, "location");
    let whole = whole_url.rsplit('/').next().unwrap().to_owned();
    let piece_meta =
        |at: usize| meta(&[("project", &project), ("bucket", "music"), ("whole", &whole), ("at", &at.to_string())]);
    let make = |at: usize, length: usize| {
        let (app, headers) = (app.clone(), create(length, piece_meta(at)));
        async move {
            let answer = common::request(&app, Method::POST, "/api/v1/uploads", &headers, Vec::<u8>::new()).await;
            (answer.status, answer.header("location"), answer.raw)
        }
    };
    // Refused: off the piece grid, short but not last, past the end, no start, concatenated,
    // someone else's file.
    for (at, length, why) in [
        (1 << 20, unit, "starts off the grid"),
        (0, unit + 1, "short of a whole unit but not the last piece"),
        (2 * unit, 20_000, "past the end of the file"),
    ] {
        let (status, _, raw) = make(at, length).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{why}: {raw}");
        assert!(raw.contains(&format!("multiple of {unit} bytes")), "{why}: {raw}");
    }
    let no_start = create(unit, meta(&[("project", &project), ("bucket", "music"), ("whole", &whole)]));
    let answer = common::request(&app, Method::POST, "/api/v1/uploads", &no_start, Vec::<u8>::new()).await;
    assert!(answer.status == StatusCode::BAD_REQUEST && answer.raw.contains("`at`"), "{}", answer.raw);
    let mut concatenated = create(unit, piece_meta(0));
    concatenated.push(("upload-concat", "partial".into()));
    let answer = common::request(&app, Method::POST, "/api/v1/uploads", &concatenated, Vec::<u8>::new()).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.raw);
    let rival = env.hub.member("rival", Role::Contributor).await;
    let mut theirs = create(unit, piece_meta(0));
    theirs[0] = ("authorization", format!("Bearer {rival}"));
    let answer = common::request(&app, Method::POST, "/api/v1/uploads", &theirs, Vec::<u8>::new()).await;
    assert_eq!(
        answer.status,
        StatusCode::NOT_FOUND,
        "another contributor's file is not there for them: {}",
        answer.raw
    );

    // Three pieces; the same one asked for again is the same; an overlapping one is refused.
    let ranges = [(0, unit), (unit, unit), (2 * unit, data.len() - 2 * unit)];
    let mut pieces = Vec::new();
    for (at, length) in ranges {
        let (status, location, raw) = make(at, length).await;
        assert_eq!(status, StatusCode::CREATED, "{raw}");
        pieces.push(location);
    }
    assert_eq!(make(unit, unit).await.1, pieces[1], "asked again, the same piece");
    let (status, _, raw) = make(0, 2 * unit).await;
    assert!(status == StatusCode::CONFLICT && raw.contains(pieces[0].rsplit('/').next().unwrap()), "{raw}");
    let patch = |url: String, offset: usize, body: Vec<u8>| {
        let headers = vec![auth.clone(), tus.clone(), octets.clone(), ("upload-offset", offset.to_string())];
        let app = app.clone();
        async move { common::request(&app, Method::PATCH, &url, &headers, body).await }
    };
    let answer = patch(whole_url.clone(), 0, data[..unit].to_vec()).await;
    assert!(answer.status == StatusCode::CONFLICT && answer.raw.contains("in pieces"), "{}", answer.raw);

    // Sent out of order, one of them in two PATCHes; the file is not complete until the last.
    // On S3 (through a store that counts what is read), a piece's whole parts go straight into
    // the file's multipart upload; nothing is read back. (The local disk writes pieces in place.)
    let counted_reads = if env.hub.stack.s3.is_some() {
        let (store, counted_app) = counted(&env.hub).await;
        let headers = vec![auth.clone(), tus.clone(), octets.clone(), ("upload-offset", "0".to_owned())];
        let answer =
            common::request(&counted_app, Method::PATCH, &pieces[2], &headers, data[2 * unit..].to_vec()).await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.raw);
        store.read.load(SeqCst)
    } else {
        assert_eq!(patch(pieces[2].clone(), 0, data[2 * unit..].to_vec()).await.status, StatusCode::NO_CONTENT);
        0
    };
    assert_eq!(counted_reads, 0, "a piece's bytes are written where they belong, never read back");
    let half = unit / 2;
    assert_eq!(patch(pieces[1].clone(), 0, data[unit..unit + half].to_vec()).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        patch(pieces[1].clone(), half, data[unit + half..2 * unit].to_vec()).await.status,
        StatusCode::NO_CONTENT
    );
    let (_, head) = send(&app, Method::HEAD, &whole_url, &[auth.clone(), tus.clone()], vec![]).await;
    assert_eq!(header(&head, "upload-offset"), "0", "not whole while a piece is missing");
    let answer = patch(pieces[0].clone(), 0, data[..unit].to_vec()).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.raw);
    let (_, head) = send(&app, Method::HEAD, &whole_url, &[auth.clone(), tus.clone()], vec![]).await;
    assert_eq!(header(&head, "upload-offset"), data.len().to_string(), "the last piece made the file whole");
    let upload = env.hub.stack.db.upload(&whole).await.unwrap();
    assert!(upload.completed, "{upload:?}");
    // A client whose answer to a piece's last PATCH was lost asks again: the piece is complete
    // (and an empty PATCH changes nothing).
    for (url, (_, length)) in pieces.iter().zip(ranges) {
        let (status, head) = send(&app, Method::HEAD, url, &[auth.clone(), tus.clone()], vec![]).await;
        assert_eq!((status, header(&head, "upload-offset")), (StatusCode::OK, length.to_string()), "{url}");
        assert_eq!(patch(url.clone(), length, vec![]).await.status, StatusCode::NO_CONTENT, "{url}");
    }
    let store = env.hub.stack.open_store().await;
    let key = BlobKey::new(upload.blob_key).unwrap();
    assert_eq!(store.size(&key).await.unwrap(), data.len() as u64);
    assert!(store.get_range(&key, 0..data.len() as u64).await.unwrap()[..] == data[..], "the file's bytes, in order");
    let (status, _, raw) = make(0, unit).await;
    assert!(status == StatusCode::CONFLICT && raw.contains("complete already"), "{raw}");
}
