//! Sessions end when they should, end to end through the API and the pages: when their time is
//! up, when the user signs out, and when the password changes. On both backends.

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::{TestHub, eventually};
use hub::secrets::hash_password;
use hub_domain::{Role, TokenScope};
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
    hub.stack.db.create_token(user.id, "script", "cht_editor_script", TokenScope::Manage, None).await.unwrap();
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

/// API tokens carry a scope and an expiry (issue 12, scenario 13): a read token browses but
/// cannot deliver or make tokens, a deliver token delivers (Footage too, which a browser session
/// cannot) but cannot manage, a site admin's read token cannot create projects, an expired token
/// is refused like a revoked one, and the list shows each token's scope and expiry.
async fn api_tokens_do_what_their_scope_allows(stack: Stack) {
    let hub = TestHub::new(stack, |_| {}).await;
    let lead = hub.member("lead", Role::Manager).await;
    let project = hub.project;
    let bearer =
        |token: &str| [("authorization", format!("Bearer {token}")), ("content-type", "application/json".into())];
    let make = |body: serde_json::Value| {
        let app = hub.app.clone();
        let auth = bearer(&lead);
        async move { common::request(&app, Method::POST, "/api/v1/tokens", &auth, body.to_string()).await }
    };
    let reader = make(json!({"name": "browse", "scope": "read"})).await;
    assert_eq!(reader.status, StatusCode::CREATED, "{}", reader.raw);
    assert_eq!(reader.body["scope"], "read", "{}", reader.raw);
    let day = 86_400_000i64;
    let expires = reader.body["expires_ms"].as_i64().expect("a default expiry");
    let now = hub::db::now_ms();
    assert!((now + 89 * day..=now + 91 * day).contains(&expires), "90 days by default: {expires}");
    let deliverer = make(json!({"name": "cli", "expires_in_days": 30})).await;
    assert_eq!(deliverer.body["scope"], "deliver", "deliver by default: {}", deliverer.raw);
    let forever = make(json!({"name": "pipeline", "scope": "manage", "expires_in_days": 0})).await;
    assert!(forever.body["expires_ms"].is_null(), "{}", forever.raw);
    assert_eq!(make(json!({"name": "x", "expires_in_days": 4000})).await.status, StatusCode::BAD_REQUEST);
    let (reader, deliverer) =
        (reader.body["secret"].as_str().unwrap().to_owned(), deliverer.body["secret"].as_str().unwrap().to_owned());

    let declare = |token: &str, bucket: &str| {
        let app = hub.app.clone();
        let auth = bearer(token);
        let body = json!({"bucket": bucket, "files": [{"name": "A001_C002.mov", "size": 4,
            "metadata": {"shoot_day": "2026-10-05", "type": "proxy"}}]});
        async move {
            common::request(
                &app,
                Method::POST,
                &format!("/api/v1/projects/{project}/deliveries"),
                &auth,
                body.to_string(),
            )
            .await
        }
    };
    let get = |token: &str, uri: String| {
        let app = hub.app.clone();
        let auth = bearer(token);
        async move { common::request(&app, Method::GET, &uri, &auth, "").await }
    };
    // Read: browse yes, deliver no, tokens no.
    assert_eq!(get(&reader, format!("/api/v1/projects/{project}")).await.status, StatusCode::OK);
    let refused = declare(&reader, "footage").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.raw);
    assert!(refused.raw.contains("deliver scope"), "{}", refused.raw);
    let minted =
        common::request(&hub.app, Method::POST, "/api/v1/tokens", &bearer(&reader), r#"{"name":"more"}"#).await;
    assert_eq!(minted.status, StatusCode::FORBIDDEN, "{}", minted.raw);
    assert!(minted.raw.contains("manage scope"), "{}", minted.raw);
    // Deliver: Footage (API only) yes; managing no.
    let footage = declare(&deliverer, "footage").await;
    assert_eq!(footage.status, StatusCode::CREATED, "{}", footage.raw);
    let request = json!({"title": "Reel 9", "metadata": {"reel": 9, "mix_type": "stems", "format": "5.1"}}).to_string();
    let uri = format!("/api/v1/projects/{project}/buckets/final-sound/requests");
    let refused = common::request(&hub.app, Method::POST, &uri, &bearer(&deliverer), request.clone()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.raw);
    assert!(refused.raw.contains("manage scope"), "{}", refused.raw);
    assert_eq!(
        common::request(&hub.app, Method::POST, &uri, &bearer(&lead), request).await.status,
        StatusCode::CREATED
    );
    // A site admin's read token cannot do what the admin can.
    let admin = hub.stack.db.create_user("root", "Root", "x", true).await.unwrap();
    hub.stack.db.create_token(admin.id, "ro", "cht_admin_ro", TokenScope::Read, None).await.unwrap();
    let created =
        common::request(&hub.app, Method::POST, "/api/v1/projects", &bearer("cht_admin_ro"), r#"{"name":"New"}"#).await;
    assert_eq!(created.status, StatusCode::FORBIDDEN, "{}", created.raw);
    // Expired: refused, saying so.
    let user = hub.stack.db.user_for_token(&lead).await.unwrap().0;
    hub.stack.db.create_token(user.id, "old", "cht_lead_old", TokenScope::Manage, Some(now - 1)).await.unwrap();
    let expired = get("cht_lead_old", "/api/v1/me".into()).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED, "{}", expired.raw);
    assert!(expired.raw.contains("expired"), "{}", expired.raw);
    // The list shows every token's scope and expiry, never a secret.
    let list = get(&lead, "/api/v1/tokens".into()).await;
    let scopes: Vec<&str> = list.body.as_array().unwrap().iter().map(|t| t["scope"].as_str().unwrap()).collect();
    assert_eq!(scopes, ["manage", "read", "deliver", "manage", "manage"], "{}", list.raw);
    assert!(!list.raw.contains(&reader) && !list.raw.contains("secret"), "{}", list.raw);
}

testkit::on_every_backend!(api_tokens_do_what_their_scope_allows);

/// The API tokens page (issue 12, scenario 13): a token is made there with a scope and an
/// expiry, its secret shown once, listed with both, and revoked with a button; a form that did
/// not come from the page (no CSRF token) changes nothing.
async fn tokens_are_made_and_revoked_on_their_page(stack: Stack) {
    let hub = TestHub::new(stack, |_| {}).await;
    hub.stack.db.create_user("editor", "Editor", &hash_password("pw-1"), false).await.unwrap();
    let body = json!({"username": "editor", "password": "pw-1"}).to_string();
    let signed =
        common::request(&hub.app, Method::POST, "/api/v1/session", &[("content-type", "application/json")], body).await;
    let cookie = signed.header("set-cookie").split(';').next().unwrap().to_owned();
    let csrf = signed.body["csrf_token"].as_str().unwrap().to_owned();
    let form = |body: String| {
        let app = hub.app.clone();
        let headers = [("cookie", cookie.clone()), ("content-type", "application/x-www-form-urlencoded".into())];
        async move { common::request(&app, Method::POST, "/tokens", &headers, body).await }
    };
    let empty = common::request(&hub.app, Method::GET, "/tokens", &[("cookie", &cookie)], "").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.raw.contains("No tokens yet") && empty.raw.contains("deliver: browse, download and deliver"));

    let forged = form("csrf=forged&name=sneaky&scope=manage&days=0".into()).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.raw);
    let made = form(format!("csrf={csrf}&name=laptop+CLI&scope=read&days=30")).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.raw);
    assert!(made.raw.contains("Copy it now"), "{}", made.raw);
    let secret = made.raw.split("value=\"cht_").nth(1).map(|rest| format!("cht_{}", &rest[..rest.find('"').unwrap()]));
    let secret = secret.expect("the secret is shown once");
    let bearer = [("authorization", format!("Bearer {secret}"))];
    let me = common::request(&hub.app, Method::GET, "/api/v1/me", &bearer, "").await;
    assert_eq!(me.status, StatusCode::OK, "the token works: {}", me.raw);
    let listed = common::request(&hub.app, Method::GET, "/tokens", &[("cookie", &cookie)], "").await;
    assert!(listed.raw.contains("laptop CLI") && listed.raw.contains("<td>read</td>"), "{}", listed.raw);
    assert!(!listed.raw.contains(&secret), "the secret is not shown again");
    let bad = form(format!("csrf={csrf}&name=&scope=read&days=30")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.raw.contains("give the token a name"), "{}", bad.raw);

    let id = hub.stack.db.user_for_token(&secret).await.unwrap().0.id;
    let token_id = hub.stack.db.tokens(id).await.unwrap()[0].id;
    let headers = [("cookie", cookie.clone()), ("content-type", "application/x-www-form-urlencoded".into())];
    let revoked = common::request(
        &hub.app,
        Method::POST,
        &format!("/tokens/{token_id}/revoke"),
        &headers,
        format!("csrf={csrf}"),
    )
    .await;
    assert!(revoked.status.is_redirection(), "{}", revoked.status);
    let after = common::request(&hub.app, Method::GET, "/api/v1/me", &bearer, "").await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    let listed = common::request(&hub.app, Method::GET, "/tokens", &[("cookie", &cookie)], "").await;
    assert!(listed.raw.contains("revoked"), "{}", listed.raw);
}

testkit::on_every_backend!(tokens_are_made_and_revoked_on_their_page);

/// POSTs a sign-in to a live hub at `addr` as a proxy would forward it; returns the status.
async fn sign_in_via(addr: std::net::SocketAddr, forwarded_for: &str, user: &str, password: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = json!({"username": user, "password": password}).to_string();
    let request = format!(
        "POST /api/v1/session HTTP/1.1\r\nHost: hub\r\nX-Forwarded-For: {forwarded_for}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Sign-in is limited per address as well as per name (issue 12, scenario 5), and the address is
/// the one a trusted proxy forwarded: failures from one client lock that client out of the name,
/// not the name's owner at another address; behind no trusted proxy, a client's own
/// X-Forwarded-For is not believed.
async fn sign_in_limits_follow_the_client_address(stack: Stack) {
    let hub = TestHub::new(stack, |_| {}).await;
    hub.stack.db.create_user("editor", "Editor", &hash_password("pw-1"), false).await.unwrap();
    let serve = |trusted: Vec<std::net::IpAddr>| async {
        let (state, _) = hub.instance(move |c| c.trusted_proxies = trusted).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(hub::server::serve(listener, state, std::future::pending()));
        addr
    };
    let behind_proxy = serve(vec!["127.0.0.1".parse().unwrap()]).await;
    for _ in 0..5 {
        assert_eq!(sign_in_via(behind_proxy, "198.51.100.1", "editor", "guess").await, 401);
    }
    assert_eq!(sign_in_via(behind_proxy, "198.51.100.1", "editor", "pw-1").await, 429, "that client is locked out");
    assert_eq!(sign_in_via(behind_proxy, "198.51.100.2", "editor", "pw-1").await, 200, "the owner, elsewhere, is not");

    let no_proxy = serve(Vec::new()).await;
    for n in 0..5 {
        assert_eq!(sign_in_via(no_proxy, &format!("203.0.113.{n}"), "editor", "guess").await, 401);
    }
    assert_eq!(
        sign_in_via(no_proxy, "203.0.113.99", "editor", "pw-1").await,
        429,
        "a made-up X-Forwarded-For does not make a new client"
    );
}

testkit::on_every_backend!(sign_in_limits_follow_the_client_address);

/// A hub whose project has a contributor `crew` and a viewer `exec` (password `pw-1`), in every bucket.
async fn crew_and_exec(stack: Stack) -> TestHub {
    let hub = TestHub::new(stack, |_| {}).await;
    for (name, role) in [("crew", Role::Contributor), ("exec", Role::Viewer)] {
        let user = hub.stack.db.create_user(name, name, &hash_password("pw-1"), false).await.unwrap();
        hub.stack.db.set_member(hub.project, user.id, role, None).await.unwrap();
    }
    hub
}

/// A page's HTML, fetched with the session cookie.
async fn page(app: axum::Router, cookie: String, path: String) -> String {
    common::request(&app, Method::GET, &path, &[("cookie", cookie.as_str())], "").await.raw
}

/// Footage is API only, and the pages say so (issue 13, item 10): the project page marks it,
/// its bucket page says how files get there, and — to whoever could deliver there with a token —
/// how to make one; nobody is offered a browser upload there, and a viewer is not told to make a
/// token they could not use.
async fn footage_says_it_is_api_only_and_how(stack: Stack) {
    let hub = crew_and_exec(stack).await;
    let page = |cookie: String, path: String| page(hub.app.clone(), cookie, path);
    let footage = format!("/projects/{}/buckets/footage", hub.project);
    let crew = sign_in(&hub.app, "crew", "pw-1").await;
    let project = page(crew.clone(), format!("/projects/{}", hub.project)).await;
    assert!(project.contains("API only"), "{project}");
    let bucket = page(crew.clone(), footage.clone()).await;
    assert!(
        bucket.contains("takes files through the API only") && bucket.contains("make a token with the"),
        "{bucket}"
    );
    assert!(!bucket.contains("Deliver files"), "no browser upload offered: {bucket}");
    let music = page(crew, format!("/projects/{}/buckets/music", hub.project)).await;
    assert!(!music.contains("API only") && music.contains("Deliver files"), "other buckets as before");
    let exec = sign_in(&hub.app, "exec", "pw-1").await;
    let bucket = page(exec, footage).await;
    assert!(bucket.contains("takes files through the API only"), "{bucket}");
    assert!(
        !bucket.contains("make a token with the") && !bucket.contains("type=\"checkbox\""),
        "nothing a viewer cannot use: {bucket}"
    );
}

testkit::on_every_backend!(footage_says_it_is_api_only_and_how);

/// The project page as the guide describes it (issue 13, item 8), without script: the Bucket
/// filter narrows the cards on the hub's side; a request-based bucket's header leads to its
/// request view; files may be dropped onto exactly the buckets one may deliver to from a browser
/// (a viewer onto none, a contributor onto all but Footage).
async fn the_project_page_filters_buckets_and_takes_drops_where_one_may_deliver(stack: Stack) {
    let hub = crew_and_exec(stack).await;
    let page = |cookie: String, path: String| page(hub.app.clone(), cookie, path);
    let id = hub.project;
    let crew = sign_in(&hub.app, "crew", "pw-1").await;
    let all = page(crew.clone(), format!("/projects/{id}")).await;
    assert_eq!(all.matches("<section class=\"card bucket\"").count(), 9, "{all}");
    let drops: Vec<&str> = all.split("data-drop-to=\"").skip(1).map(|s| s.split('"').next().unwrap()).collect();
    assert_eq!(drops.len(), 8, "every bucket but Footage: {drops:?}");
    assert!(!drops.iter().any(|d| d.contains("footage")), "{drops:?}");
    assert!(drops.contains(&format!("/projects/{id}/buckets/music/upload").as_str()), "{drops:?}");
    assert!(
        all.contains(&format!("<h3 id=\"bucket-final-sound\"><a href=\"/projects/{id}/buckets/final-sound/requests\"")),
        "the Final Sound header opens its request view: {all}"
    );

    let sound = page(crew, format!("/projects/{id}?bucket=SOUND")).await;
    let titles: Vec<&str> = sound.split("data-title=\"").skip(1).map(|s| s.split('"').next().unwrap()).collect();
    assert_eq!(titles, ["Sound Materials", "Final Sound"], "case does not matter");
    assert!(sound.contains("2 of 9 buckets"), "{sound}");
    let none = page(sign_in(&hub.app, "exec", "pw-1").await, format!("/projects/{id}?bucket=zzz")).await;
    assert!(none.contains("No bucket&#x27;s name holds") || none.contains("No bucket's name holds"), "{none}");
    let exec = page(sign_in(&hub.app, "exec", "pw-1").await, format!("/projects/{id}")).await;
    assert!(!exec.contains("data-drop-to"), "a viewer delivers nowhere: {exec}");
}

testkit::on_every_backend!(the_project_page_filters_buckets_and_takes_drops_where_one_may_deliver);
