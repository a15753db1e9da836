//! Sessions end when they should, end to end through the API and the pages: when their time is
//! up, when the user signs out, and when the password changes. On both backends.

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::{TestHub, eventually};
use hub::secrets::hash_password;
use serde_json::json;
use testkit::Stack;

/// A GET with the session cookie: status, `Location`, and the body's error message if any.
async fn get(app: &axum::Router, uri: &str, cookie: &str) -> (StatusCode, String, String) {
    let answer = common::request(app, Method::GET, uri, &[("cookie", cookie)], "").await;
    let message = answer.body["message"].as_str().unwrap_or_default().to_owned();
    (answer.status, answer.header("location"), message)
}

/// Signs in through the API; returns the session cookie.
async fn sign_in(app: &axum::Router, user: &str, password: &str) -> String {
    let body = json!({"username": user, "password": password}).to_string();
    let answer =
        common::request(app, Method::POST, "/api/v1/session", &[("content-type", "application/json")], body).await;
    assert_eq!(answer.status, StatusCode::OK);
    let cookie = answer.header("set-cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("Max-Age="), "{cookie}");
    cookie.split(';').next().unwrap().to_owned()
}

async fn sessions_end_when_their_time_is_up_or_the_password_changes(stack: Stack) {
    let hub = TestHub::new(stack, |c| c.session_lifetime = Duration::from_secs(2)).await;
    let user = hub.stack.db.create_user("editor", "Editor", &hash_password("pw-1"), false).await.unwrap();
    hub.stack.db.set_member(hub.project, user.id, hub_domain::Role::Contributor, None).await.unwrap();

    // Time is up: the API says so, the pages send the person to sign in and back.
    let cookie = sign_in(&hub.app, "editor", "pw-1").await;
    assert_eq!(get(&hub.app, "/api/v1/me", &cookie).await.0, StatusCode::OK, "alive at first");
    assert_eq!(get(&hub.app, "/api/v1/me", &cookie).await.0, StatusCode::OK);
    assert_eq!(get(&hub.app, "/projects/1", &cookie).await.0, StatusCode::OK);
    eventually("the session to expire", Duration::from_secs(20), || async {
        get(&hub.app, "/api/v1/me", &cookie).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;
    let (_, _, message) = get(&hub.app, "/api/v1/me", &cookie).await;
    assert!(message.contains("session has expired"), "{message}");
    let (status, location, _) = get(&hub.app, "/projects/1", &cookie).await;
    assert!(status.is_redirection(), "{status}");
    assert!(location.starts_with("/login?") && location.contains("next=%2Fprojects%2F1"), "{location}");

    // A new password ends every session of the user at once, and revokes their API tokens.
    let (_, long) = hub.instance(|c| c.session_lifetime = Duration::from_secs(3600)).await;
    let first = sign_in(&long, "editor", "pw-1").await;
    let second = sign_in(&long, "editor", "pw-1").await;
    assert_eq!(get(&long, "/api/v1/me", &first).await.0, StatusCode::OK);
    hub.stack.db.create_token(user.id, "script", "cht_editor_script").await.unwrap();
    let bearer = [("authorization", "Bearer cht_editor_script")];
    assert_eq!(common::request(&long, Method::GET, "/api/v1/me", &bearer, "").await.status, StatusCode::OK);
    hub.stack.db.set_password(user.id, &hash_password("pw-2")).await.unwrap();
    for cookie in [&first, &second] {
        assert_eq!(get(&long, "/api/v1/me", cookie).await.0, StatusCode::UNAUTHORIZED);
    }
    let after = common::request(&long, Method::GET, "/api/v1/me", &bearer, "").await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED, "the token went with the old password: {}", after.raw);
    let fresh = sign_in(&long, "editor", "pw-2").await;
    assert_eq!(get(&long, "/api/v1/me", &fresh).await.0, StatusCode::OK);
}

testkit::on_every_backend!(sessions_end_when_their_time_is_up_or_the_password_changes);
