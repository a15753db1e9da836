//! Helpers shared by the hub's integration tests (the backends themselves are in `testkit`).
#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, Instant};

/// Waits until `condition` holds, checking every 20 ms; fails the test, naming `what`, after `limit`.
/// Tests wait on what they need rather than sleeping a fixed time.
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !condition().await {
        assert!(Instant::now() < deadline, "waited {limit:?} for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use hub::app::{self, Config};
use hub::server::router;
use hub_domain::Role;
use serde_json::Value;
use tower::ServiceExt;

/// A hub on a test stack, driven through its router: the state, the router, and one project.
pub struct TestHub {
    pub stack: testkit::Stack,
    pub state: app::Hub,
    pub app: Router,
    pub project: i64,
}

/// An answer: status, headers, and the body as text and as JSON (`Null` when it is not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub raw: String,
    pub bytes: bytes::Bytes,
}

impl Answer {
    /// A header's value, or "" when it is missing.
    pub fn header(&self, name: &str) -> String {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
    }
}

/// The one way the hub's tests call a router: `headers` as given (credentials included), the
/// whole answer read.
pub async fn request(
    app: &Router,
    method: Method,
    uri: &str,
    headers: &[(impl AsRef<str>, impl AsRef<str>)],
    body: impl Into<Body>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        request = request.header(k.as_ref(), v.as_ref());
    }
    let response = app.clone().oneshot(request.body(body.into()).unwrap()).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 27).await.unwrap();
    let raw = String::from_utf8_lossy(&bytes).into_owned();
    Answer { status, headers, body: serde_json::from_str(&raw).unwrap_or(Value::Null), raw, bytes }
}

impl TestHub {
    /// A hub on `stack` with the default configuration changed by `configure`, and project "Film".
    pub async fn new(stack: testkit::Stack, configure: impl FnOnce(&mut Config)) -> TestHub {
        let mut config = Config::default();
        configure(&mut config);
        let state = app::Hub::new(stack.db.clone(), stack.open_store().await, config);
        let app = router(state.clone());
        let project = stack.db.create_project("Film", "F").await.unwrap().id;
        TestHub { stack, state, app, project }
    }

    /// Another instance of the hub on the same database and store, configured differently.
    pub async fn instance(&self, configure: impl FnOnce(&mut Config)) -> (app::Hub, Router) {
        let mut config = (*self.state.config).clone();
        configure(&mut config);
        let state = app::Hub::new(self.stack.db.clone(), self.stack.open_store().await, config);
        (state.clone(), router(state))
    }

    /// A user who is `role` in the project (all buckets); returns their API token, `cht_NAME`.
    pub async fn member(&self, name: &str, role: Role) -> String {
        self.member_of(self.project, name, role).await
    }

    /// A user who is `role` in `project` (all buckets); returns their API token, `cht_NAME`.
    pub async fn member_of(&self, project: i64, name: &str, role: Role) -> String {
        // No password: these users use their token (hashing one costs a good part of a second).
        let (id, token) = self.user_with_hash(name, false, "not-a-hash").await;
        self.stack.db.set_member(project, id, role, None).await.unwrap();
        token
    }

    /// A user (a site admin if `admin`) who signs in with the password `pw-for-tests`; their id
    /// and API token, `cht_NAME`.
    pub async fn user(&self, name: &str, admin: bool) -> (i64, String) {
        self.user_with_hash(name, admin, &hub::secrets::hash_password("pw-for-tests")).await
    }

    async fn user_with_hash(&self, name: &str, admin: bool, hash: &str) -> (i64, String) {
        let db = &self.stack.db;
        let user = db.create_user(name, name, hash, admin).await.unwrap();
        let token = format!("cht_{name}");
        db.create_token(user.id, "tests", &token, hub_domain::TokenScope::Manage, None).await.unwrap();
        (user.id, token)
    }

    /// Calls `app` as the holder of `token`.
    pub async fn call_on(
        app: &Router,
        token: &str,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: Body,
    ) -> Answer {
        let bearer = format!("Bearer {token}");
        let mut all = vec![("authorization", bearer.as_str())];
        all.extend_from_slice(headers);
        request(app, method, uri, &all, body).await
    }

    pub async fn call(&self, token: &str, method: Method, uri: &str, headers: &[(&str, &str)], body: Body) -> Answer {
        Self::call_on(&self.app, token, method, uri, headers, body).await
    }

    /// Declares a delivery into `bucket` of `files` (JSON file entries); it must be accepted.
    pub async fn declare(&self, token: &str, bucket: &str, files: Value) -> Value {
        self.declare_on(&self.app, token, bucket, files).await
    }

    pub async fn declare_on(&self, app: &Router, token: &str, bucket: &str, files: Value) -> Value {
        let body = serde_json::json!({"bucket": bucket, "files": files}).to_string();
        let uri = format!("/api/v1/projects/{}/deliveries", self.project);
        let answer =
            Self::call_on(app, token, Method::POST, &uri, &[("content-type", "application/json")], body.into()).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body
    }

    /// Sends `data` to a tus upload from offset 0; must be accepted.
    pub async fn upload_all(&self, token: &str, url: &str, data: &[u8]) {
        let headers =
            [("tus-resumable", "1.0.0"), ("content-type", "application/offset+octet-stream"), ("upload-offset", "0")];
        let answer = self.call(token, Method::PATCH, url, &headers, Body::from(data.to_vec())).await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.body);
    }
}

/// A blob store that can be made unreachable, or held at its next read, on purpose: the store
/// going away under a worker, or a worker caught in the middle of its checks.
#[derive(Debug)]
pub struct FlakyStore {
    inner: std::sync::Arc<dyn hub::store::BlobStore>,
    /// Every call fails as an unreachable backend would.
    pub down: std::sync::atomic::AtomicBool,
    /// Reads wait while someone holds this for writing.
    pub gate: tokio::sync::RwLock<()>,
    /// Reads asked for so far (whether they waited or failed).
    pub reads: std::sync::atomic::AtomicUsize,
}

impl FlakyStore {
    pub fn new(inner: std::sync::Arc<dyn hub::store::BlobStore>) -> FlakyStore {
        FlakyStore { inner, down: Default::default(), gate: Default::default(), reads: Default::default() }
    }

    async fn pass(&self) -> hub::store::StoreResult<()> {
        use std::sync::atomic::Ordering;
        self.reads.fetch_add(1, Ordering::SeqCst);
        let _open = self.gate.read().await;
        if self.down.load(Ordering::SeqCst) {
            return Err(hub::store::StoreError::Backend("the test took the storage away".into()));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl hub::store::BlobStore for FlakyStore {
    fn describe(&self) -> String {
        format!("flaky {}", self.inner.describe())
    }
    async fn put_stream(
        &self,
        key: &hub::store::BlobKey,
        reader: &mut (dyn tokio::io::AsyncRead + Unpin + Send),
    ) -> hub::store::StoreResult<u64> {
        self.pass().await?;
        self.inner.put_stream(key, reader).await
    }
    async fn get_range(
        &self,
        key: &hub::store::BlobKey,
        range: std::ops::Range<u64>,
    ) -> hub::store::StoreResult<bytes::Bytes> {
        self.pass().await?;
        self.inner.get_range(key, range).await
    }
    async fn size(&self, key: &hub::store::BlobKey) -> hub::store::StoreResult<u64> {
        self.pass().await?;
        self.inner.size(key).await
    }
    async fn delete(&self, key: &hub::store::BlobKey) -> hub::store::StoreResult<()> {
        self.pass().await?;
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str) -> hub::store::StoreResult<Vec<(String, u64)>> {
        self.pass().await?;
        self.inner.list(prefix).await
    }
    async fn create_multipart(&self, key: &hub::store::BlobKey) -> hub::store::StoreResult<String> {
        self.pass().await?;
        self.inner.create_multipart(key).await
    }
    async fn put_part(
        &self,
        key: &hub::store::BlobKey,
        upload: &str,
        index: usize,
        data: bytes::Bytes,
    ) -> hub::store::StoreResult<hub::store::PartRef> {
        self.pass().await?;
        self.inner.put_part(key, upload, index, data).await
    }
    async fn complete_multipart(
        &self,
        key: &hub::store::BlobKey,
        upload: &str,
        parts: Vec<hub::store::PartRef>,
    ) -> hub::store::StoreResult<()> {
        self.pass().await?;
        self.inner.complete_multipart(key, upload, parts).await
    }
    async fn abort_multipart(&self, key: &hub::store::BlobKey, upload: &str) -> hub::store::StoreResult<()> {
        self.pass().await?;
        self.inner.abort_multipart(key, upload).await
    }
    async fn append(
        &self,
        upload: hub::store::Resumable<'_>,
        body: &mut dyn hub::store::Body,
    ) -> hub::store::StoreResult<hub::store::Appended> {
        self.pass().await?;
        self.inner.append(upload, body).await
    }
    async fn held(&self, upload: hub::store::Resumable<'_>) -> hub::store::StoreResult<u64> {
        self.pass().await?;
        self.inner.held(upload).await
    }
    async fn settle(&self, before: &str, after: &str) {
        self.inner.settle(before, after).await
    }
    async fn concatenate(
        &self,
        key: &hub::store::BlobKey,
        pieces: &[(hub::store::BlobKey, u64)],
    ) -> hub::store::StoreResult<()> {
        self.pass().await?;
        self.inner.concatenate(key, pieces).await
    }
    async fn discard(&self, upload: hub::store::Resumable<'_>) {
        self.inner.discard(upload).await
    }
    async fn md5s(&self, keys: &[(hub::store::BlobKey, u64)]) -> hub::store::StoreResult<Vec<[u8; 16]>> {
        self.pass().await?;
        self.inner.md5s(keys).await
    }
}
