//! The API through its router (no network): the authorisation matrix for every route, sign-in,
//! CSRF, tokens, bulk edits and errors.

mod common;

use axum::http::{Method, StatusCode, header};
use common::TestHub;
use hub::Db;
use hub::db::NewAsset;
use hub_domain::{AssetState, BucketKind, Metadata, Role};
use serde_json::{Value, json};
use testkit::{Backend, Stack};

/// The hub these tests talk to: SQLite + a local folder, as the embedded default runs.
struct Hub {
    test: TestHub,
    db: Db,
}

struct Reply {
    status: StatusCode,
    body: Value,
    raw: String,
    set_cookie: Option<String>,
}

impl Hub {
    async fn new() -> Hub {
        let test = TestHub::new(Stack::new(Backend::SqliteLocal).await.unwrap(), |_| {}).await;
        Hub { db: test.stack.db.clone(), test }
    }

    /// A call with the given credentials headers, and a JSON body if there is one.
    async fn call(&self, method: Method, path: &str, auth: &[(&str, &str)], body: Option<Value>) -> Reply {
        let mut headers = auth.to_vec();
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let answer = common::request(&self.test.app, method, path, &headers, body).await;
        let set_cookie = answer.headers.get(header::SET_COOKIE).map(|v| v.to_str().unwrap().to_owned());
        Reply { status: answer.status, body: answer.body, raw: answer.raw, set_cookie }
    }

    async fn user(&self, name: &str, admin: bool) -> (i64, String) {
        self.test.user(name, admin).await
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn meta(v: Value) -> Metadata {
    serde_json::from_value(v).unwrap()
}

struct World {
    hub: Hub,
    project: i64,
    sound_asset: i64,
    vfx_asset: i64,
    request: i64,
    tokens: std::collections::HashMap<&'static str, String>,
}

async fn world() -> World {
    let hub = Hub::new().await;
    let mut tokens = std::collections::HashMap::new();
    let mut ids = std::collections::HashMap::new();
    for (name, admin) in [
        ("admin", true),
        ("manager", false),
        ("contributor", false),
        ("viewer", false),
        ("outsider", false),
        ("scoped", false),
    ] {
        let (id, token) = hub.user(name, admin).await;
        tokens.insert(name, token);
        ids.insert(name, id);
    }
    let project = hub.db.create_project("Secret Film", "SF").await.unwrap().id;
    let other = hub.db.create_project("Other Show", "OS").await.unwrap().id;
    hub.db.set_member(project, ids["manager"], Role::Manager, None).await.unwrap();
    hub.db.set_member(project, ids["contributor"], Role::Contributor, None).await.unwrap();
    hub.db.set_member(project, ids["viewer"], Role::Viewer, None).await.unwrap();
    hub.db.set_member(project, ids["scoped"], Role::Contributor, Some(&[BucketKind::FinalSound])).await.unwrap();
    hub.db.set_member(other, ids["outsider"], Role::Manager, None).await.unwrap();
    let new = |bucket, name: &str, m: Value| NewAsset {
        project_id: project,
        bucket,
        name: name.into(),
        state: AssetState::Valid,
        size: 1,
        md5: None,
        metadata: meta(m),
        request_id: None,
        created_by: None,
    };
    let sound_asset = hub
        .db
        .create_asset(&new(
            BucketKind::FinalSound,
            "secret_r1_pm.wav",
            json!({"reel": 1, "mix_type": "stems", "format": "5.1"}),
        ))
        .await
        .unwrap()
        .id;
    let vfx_asset = hub
        .db
        .create_asset(&new(BucketKind::Vfx, "secret_sh010.exr", json!({"shot": "sh010", "version": 1})))
        .await
        .unwrap()
        .id;
    let request = hub
        .db
        .create_request(project, BucketKind::FinalSound, "Secret reel 1", &meta(json!({"reel": 1})))
        .await
        .unwrap()
        .id;
    World { hub, project, sound_asset, vfx_asset, request, tokens }
}

// Who may call which route, with read-back, is `tests/access.rs`; these are the answers around it.

#[tokio::test]
async fn outsiders_learn_nothing_not_even_what_exists() {
    let w = world().await;
    let auth = bearer(&w.tokens["outsider"]);
    // A hidden asset answers exactly like one that does not exist.
    let missing = w.hub.call(Method::GET, "/api/v1/assets/999999", &[("authorization", &auth)], None).await;
    let hidden =
        w.hub.call(Method::GET, &format!("/api/v1/assets/{}", w.sound_asset), &[("authorization", &auth)], None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!((missing.status, missing.raw), (hidden.status, hidden.raw));
    let mine = w.hub.call(Method::GET, "/api/v1/projects", &[("authorization", &auth)], None).await;
    assert_eq!(mine.body.as_array().unwrap().len(), 1, "{}", mine.raw);
    assert!(!mine.raw.contains("Secret"));
    // A member limited to Final Sound sees that bucket only.
    let scoped = bearer(&w.tokens["scoped"]);
    let buckets = w
        .hub
        .call(Method::GET, &format!("/api/v1/projects/{}/buckets", w.project), &[("authorization", &scoped)], None)
        .await;
    let slugs: Vec<&str> = buckets.body.as_array().unwrap().iter().map(|b| b["bucket"].as_str().unwrap()).collect();
    assert_eq!(slugs, vec!["final-sound"], "{}", buckets.raw);
    let reply = w.hub.call(Method::GET, "/api/v1/me", &[("authorization", "Bearer cht_forged")], None).await;
    assert_eq!((reply.status, reply.body["code"].clone()), (StatusCode::UNAUTHORIZED, json!("unauthenticated")));
}

#[tokio::test]
async fn request_transitions_and_project_names_explain_their_refusals() {
    let w = world().await;
    let auth = bearer(&w.tokens["manager"]);
    let transition = format!("/api/v1/requests/{}/transition", w.request);
    let reply =
        w.hub.call(Method::POST, &transition, &[("authorization", &auth)], Some(json!({"event": "reject"}))).await;
    assert_eq!(
        (reply.status, reply.body["fields"][0]["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("reason"))
    );
    let reply =
        w.hub.call(Method::POST, &transition, &[("authorization", &auth)], Some(json!({"event": "accept"}))).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "an open request cannot be accepted: {}", reply.raw);
    assert!(reply.body["message"].as_str().unwrap().contains("cannot accept"));
    assert_eq!(w.hub.db.request(w.request).await.unwrap().state, hub_domain::RequestState::Open, "unchanged");
    let admin = bearer(&w.tokens["admin"]);
    let reply =
        w.hub.call(Method::POST, "/api/v1/projects", &[("authorization", &admin)], Some(json!({"name": "Mine"}))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.raw);
    let reply =
        w.hub.call(Method::POST, "/api/v1/projects", &[("authorization", &admin)], Some(json!({"name": "Mine"}))).await;
    assert_eq!((reply.status, reply.body["code"].clone()), (StatusCode::CONFLICT, json!("conflict")));
    let mine = w.hub.call(Method::GET, "/api/v1/projects", &[("authorization", &admin)], None).await;
    let names = mine.body.as_array().unwrap().iter().filter(|p| p["name"] == "Mine").count();
    assert_eq!(names, 1, "the second one was not made: {}", mine.raw);
}

#[tokio::test]
async fn sessions_need_the_csrf_token_to_change_anything() {
    let w = world().await;
    let bad = w
        .hub
        .call(Method::POST, "/api/v1/session", &[], Some(json!({"username": "manager", "password": "nope"})))
        .await;
    assert_eq!((bad.status, bad.body["code"].clone()), (StatusCode::UNAUTHORIZED, json!("bad_credentials")));
    let unknown =
        w.hub.call(Method::POST, "/api/v1/session", &[], Some(json!({"username": "ghost", "password": "nope"}))).await;
    assert_eq!(unknown.raw, bad.raw, "unknown names look like wrong passwords");
    let ok = w
        .hub
        .call(Method::POST, "/api/v1/session", &[], Some(json!({"username": "manager", "password": "pw-for-tests"})))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.raw);
    let set_cookie = ok.set_cookie.unwrap();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let csrf = ok.body["csrf_token"].as_str().unwrap().to_owned();
    assert!(!ok.raw.contains("password"), "no hash leaves the server");

    let me = w.hub.call(Method::GET, "/api/v1/me", &[("cookie", &cookie)], None).await;
    assert_eq!((me.status, me.body["user"]["username"].clone()), (StatusCode::OK, json!("manager")));
    let path = format!("/api/v1/assets/{}", w.sound_asset);
    let body = json!({"metadata": {"language": "de"}});
    let forged = w.hub.call(Method::PATCH, &path, &[("cookie", &cookie)], Some(body.clone())).await;
    assert_eq!((forged.status, forged.body["code"].clone()), (StatusCode::FORBIDDEN, json!("csrf")), "{}", forged.raw);
    assert!(forged.raw.contains("X-CSRF-Token"));
    assert!(!w.hub.db.asset(w.sound_asset).await.unwrap().metadata.contains_key("language"), "nothing written");
    let real = w.hub.call(Method::PATCH, &path, &[("cookie", &cookie), ("x-csrf-token", &csrf)], Some(body)).await;
    assert_eq!(real.status, StatusCode::OK, "{}", real.raw);

    // Footage takes writes through API tokens only, even from a manager's session.
    let footage = w
        .hub
        .db
        .create_asset(&NewAsset {
            project_id: w.project,
            bucket: BucketKind::Footage,
            name: "A001C001.mov".into(),
            state: AssetState::Valid,
            size: 1,
            md5: None,
            metadata: meta(json!({"shoot_day": "2026-11-01", "type": "proxy"})),
            request_id: None,
            created_by: None,
        })
        .await
        .unwrap();
    let path = format!("/api/v1/assets/{}", footage.id);
    let body = json!({"metadata": {"scene": "12"}});
    let browser =
        w.hub.call(Method::PATCH, &path, &[("cookie", &cookie), ("x-csrf-token", &csrf)], Some(body.clone())).await;
    assert_eq!((browser.status, browser.body["code"].clone()), (StatusCode::FORBIDDEN, json!("forbidden")));
    assert!(browser.raw.contains("API tokens only"));
    assert!(!w.hub.db.asset(footage.id).await.unwrap().metadata.contains_key("scene"), "nothing written");
    let script =
        w.hub.call(Method::PATCH, &path, &[("authorization", &bearer(&w.tokens["manager"]))], Some(body)).await;
    assert_eq!(script.status, StatusCode::OK, "{}", script.raw);
    assert_eq!(w.hub.db.asset(footage.id).await.unwrap().metadata["scene"], json!("12"), "written");

    let out =
        w.hub.call(Method::DELETE, "/api/v1/session", &[("cookie", &cookie), ("x-csrf-token", &csrf)], None).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let after = w.hub.call(Method::GET, "/api/v1/me", &[("cookie", &cookie)], None).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn repeated_failed_sign_ins_are_slowed_down() {
    let w = world().await;
    for _ in 0..5 {
        let r = w
            .hub
            .call(Method::POST, "/api/v1/session", &[], Some(json!({"username": "viewer", "password": "guess"})))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = w
        .hub
        .call(Method::POST, "/api/v1/session", &[], Some(json!({"username": "viewer", "password": "pw-for-tests"})))
        .await;
    assert_eq!((r.status, r.body["code"].clone()), (StatusCode::TOO_MANY_REQUESTS, json!("too_many_attempts")));
}

#[tokio::test]
async fn bulk_edits_are_all_or_nothing_with_errors_per_asset() {
    let w = world().await;
    let auth = bearer(&w.tokens["contributor"]);
    let mut ids = vec![w.sound_asset];
    for i in 0..3 {
        let a = w
            .hub
            .db
            .create_asset(&NewAsset {
                project_id: w.project,
                bucket: BucketKind::FinalSound,
                name: format!("r{i}_stems.wav"),
                state: AssetState::Valid,
                size: 1,
                md5: None,
                metadata: meta(json!({"reel": i + 1, "mix_type": "stems", "format": "2.0"})),
                request_id: None,
                created_by: None,
            })
            .await
            .unwrap();
        ids.push(a.id);
    }
    let path = format!("/api/v1/projects/{}/buckets/final-sound/assets", w.project);
    let bad = w
        .hub
        .call(
            Method::PATCH,
            &path,
            &[("authorization", &auth)],
            Some(json!({"ids": ids, "metadata": {"format": "9.9"}})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.raw);
    assert_eq!(bad.body["fields"].as_array().unwrap().len(), 4);
    let before: Vec<Metadata> = {
        let mut all = Vec::new();
        for id in &ids {
            all.push(w.hub.db.asset(*id).await.unwrap().metadata);
        }
        all
    };
    assert!(before.iter().all(|m| m["format"] != json!("9.9")), "the refused edit wrote nothing");
    // One bad asset among good ones: still nothing at all is written.
    let mixed = w
        .hub
        .call(
            Method::PATCH,
            &path,
            &[("authorization", &auth)],
            Some(json!({"ids": [ids[1], ids[2], w.vfx_asset], "metadata": {"language": "de"}})),
        )
        .await;
    assert_eq!(mixed.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", mixed.raw);
    for (id, was) in ids.iter().zip(&before) {
        assert_eq!(&w.hub.db.asset(*id).await.unwrap().metadata, was, "asset {id} unchanged after the refusals");
    }
    let good = w
        .hub
        .call(
            Method::PATCH,
            &path,
            &[("authorization", &auth)],
            Some(json!({"ids": ids, "metadata": {"format": "atmos", "language": "en"}})),
        )
        .await;
    assert_eq!(good.status, StatusCode::OK, "{}", good.raw);
    for id in &ids {
        let a = w.hub.db.asset(*id).await.unwrap();
        assert_eq!((a.metadata["format"].clone(), a.metadata["language"].clone()), (json!("Atmos"), json!("en")));
    }
    let vfx = w
        .hub
        .call(Method::PATCH, &path, &[("authorization", &auth)], Some(json!({"ids": [w.vfx_asset], "metadata": {}})))
        .await;
    assert_eq!(vfx.status, StatusCode::UNPROCESSABLE_ENTITY, "an asset of another bucket: {}", vfx.raw);

    let list = w
        .hub
        .call(Method::GET, &format!("{path}?meta.format=Atmos&meta.reel=2&limit=10"), &[("authorization", &auth)], None)
        .await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1, "{}", list.raw);
    let unknown = w.hub.call(Method::GET, &format!("{path}?meta.colour=red"), &[("authorization", &auth)], None).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(unknown.raw.contains("meta.reel"), "the error lists the filters there are: {}", unknown.raw);
    let history =
        w.hub.call(Method::GET, &format!("/api/v1/assets/{}/history", ids[1]), &[("authorization", &auth)], None).await;
    assert_eq!(history.body[0]["username"], "contributor", "{}", history.raw);
}

#[tokio::test]
async fn health_and_metrics() {
    let w = world().await;
    assert_eq!(w.hub.call(Method::GET, "/healthz", &[], None).await.status, StatusCode::OK);
    assert_eq!(w.hub.call(Method::GET, "/readyz", &[], None).await.status, StatusCode::OK);
    let nothing = w.hub.call(Method::GET, "/api/v1/nothing-here", &[], None).await;
    assert_eq!((nothing.status, nothing.body["code"].clone()), (StatusCode::NOT_FOUND, json!("not_found")));
    let spec = w.hub.call(Method::GET, "/api/v1/openapi.json", &[], None).await;
    assert_eq!((spec.status, spec.body["openapi"].clone()), (StatusCode::OK, json!("3.1.0")));
    let metrics = w.hub.call(Method::GET, "/metrics", &[], None).await;
    assert!(metrics.raw.contains("contenthub_http_requests_total{class=\"4xx\"} 1"), "{}", metrics.raw);
    assert!(metrics.raw.contains("contenthub_http_requests_total{class=\"2xx\"} 3"), "{}", metrics.raw);
}

#[tokio::test]
async fn malformed_input_gets_api_errors_not_framework_text() {
    let w = world().await;
    let auth = bearer(&w.tokens["manager"]);
    let a = format!("/api/v1/assets/{}", w.sound_asset);
    type Case<'a> = (Method, String, Vec<(&'a str, &'a str)>, Option<&'a str>, StatusCode, &'a str);
    let cases: Vec<Case> = vec![
        (Method::GET, "/api/v1/assets/not-a-number".into(), vec![], None, StatusCode::BAD_REQUEST, "bad_request"),
        (
            Method::PATCH,
            a.clone(),
            vec![("content-type", "application/json")],
            Some("{not json"),
            StatusCode::BAD_REQUEST,
            "bad_json",
        ),
        (
            Method::PATCH,
            a.clone(),
            vec![("content-type", "application/json")],
            Some("{\"meta\": 1}"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (Method::PATCH, a.clone(), vec![], Some("{}"), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        (
            Method::GET,
            format!("/api/v1/projects/{}/buckets/final-sound/requests?state=nope", w.project),
            vec![],
            None,
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            Method::GET,
            format!("/api/v1/projects/{}/buckets/nope/assets", w.project),
            vec![],
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (method, path, headers, body, status, code) in cases {
        let mut all = vec![("authorization", auth.as_str())];
        all.extend(headers.iter().map(|(k, v)| (*k, *v)));
        let answer = common::request(&w.hub.test.app, method.clone(), &path, &all, body.unwrap_or_default()).await;
        assert_eq!(answer.status, status, "{method} {path}");
        let json = answer.body;
        assert!(json.is_object(), "{method} {path}: not JSON: {}", answer.raw);
        assert_eq!(json["code"], code, "{method} {path}: {json}");
        assert!(json["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // Bodies over the limit are refused before they are read whole.
    let huge = format!("{{\"metadata\": {{\"notes\": \"{}\"}}}}", "x".repeat(2 << 20));
    let json = [("authorization", auth.as_str()), ("content-type", "application/json")];
    let response = common::request(&w.hub.test.app, Method::PATCH, &a, &json, huge).await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
}

/// Sign-in as a memory sink and a race (issue 12, scenario 5): attempts made at once for one name
/// are counted as they start, so twenty at once cannot all be tried; a name longer than any user
/// name is refused before anything is remembered or hashed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_are_counted_as_they_start_and_names_are_bounded() {
    let w = world().await;
    let app = w.hub.test.app.clone();
    let attempts = (0..20).map(|_| {
        let app = app.clone();
        tokio::spawn(async move {
            let body = json!({"username": "viewer", "password": "guess"}).to_string();
            common::request(&app, Method::POST, "/api/v1/session", &[("content-type", "application/json")], body)
                .await
                .status
        })
    });
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.unwrap());
    }
    let tried = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((tried, refused), (5, 15), "{statuses:?}");

    let long = "x".repeat(10_000);
    let r = w.hub.call(Method::POST, "/api/v1/session", &[], Some(json!({"username": long, "password": "p"}))).await;
    assert_eq!((r.status, r.body["code"].clone()), (StatusCode::BAD_REQUEST, json!("bad_request")), "{}", r.raw);
    assert!(r.raw.contains("at most 100"), "{}", r.raw);
}

/// Bucket scopes are the managers' business (issue 12, scenario 9): every member sees who is in
/// the project and their role, but which buckets another member works in only a manager of the
/// whole project sees (and each member their own).
#[tokio::test]
async fn only_managers_read_everyones_scopes() {
    let w = world().await;
    let path = format!("/api/v1/projects/{}/members", w.project);
    let scopes = |reply: &Reply| -> Vec<(String, Option<Value>)> {
        reply
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["user"]["username"].as_str().unwrap().to_owned(), m.get("buckets").cloned()))
            .collect()
    };
    let manager = w.hub.call(Method::GET, &path, &[("authorization", &bearer(&w.tokens["manager"]))], None).await;
    assert_eq!(manager.status, StatusCode::OK);
    let seen = scopes(&manager);
    assert!(seen.contains(&("scoped".to_owned(), Some(json!(["final-sound"])))), "{seen:?}");
    assert!(seen.contains(&("viewer".to_owned(), Some(Value::Null))), "all buckets: {seen:?}");
    for who in ["viewer", "scoped"] {
        let reply = w.hub.call(Method::GET, &path, &[("authorization", &bearer(&w.tokens[who]))], None).await;
        assert_eq!(reply.status, StatusCode::OK);
        for (name, buckets) in scopes(&reply) {
            if name == who {
                assert!(buckets.is_some(), "{who} sees their own scope");
            } else {
                assert_eq!(buckets, None, "{who} does not see {name}'s scope: {}", reply.raw);
            }
        }
        assert!(reply.raw.contains("\"role\""), "roles stay visible: {}", reply.raw);
    }
}
