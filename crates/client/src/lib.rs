//! A typed client for the contenthub API (`/api/v1`): it sends and returns the API's own types
//! (`api_types`, shared with the server), and its errors carry the server's stable
//! `{code, message, fields}` so that callers can act on them.

pub use api_types;
use api_types::{
    Asset, CheckResult, CreatedToken, DeliveryView, ErrorBody, Me, NewDelivery, PackageMember, Page, Project,
    ProjectView, Request,
};
pub use hub_domain::FieldError;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an API error.
    #[error("{status}: {message} ({code})")]
    Api { status: u16, code: String, message: String, fields: Vec<FieldError> },
    #[error("cannot reach {url}: {source}")]
    Transport { url: String, source: reqwest::Error },
    #[error("unexpected answer from {url}: {detail}")]
    Protocol { url: String, detail: String },
}

impl ClientError {
    /// The API error code (`not_found`, `forbidden`, …), if the server sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

pub type ClientResult<T> = Result<T, ClientError>;

/// How the client authenticates.
#[derive(Debug, Clone)]
enum Auth {
    None,
    Token(String),
    /// A browser-style session: the cookie jar holds the session, this is its CSRF token.
    Session {
        csrf: String,
    },
}

#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
    auth: Auth,
}

/// Query for a bucket's assets; `None`s are left out.
#[derive(Debug, Clone, Default)]
pub struct AssetQuery {
    pub state: Option<String>,
    pub q: Option<String>,
    pub sort: Option<String>,
    pub descending: bool,
    pub after: Option<String>,
    pub limit: Option<u32>,
    /// Metadata filters: (field, value).
    pub meta: Vec<(String, String)>,
}

impl AssetQuery {
    fn pairs(&self) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        let mut put = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                pairs.push((k.to_owned(), v.clone()));
            }
        };
        put("state", &self.state);
        put("q", &self.q);
        put("sort", &self.sort);
        put("after", &self.after);
        put("limit", &self.limit.map(|l| l.to_string()));
        if self.descending {
            pairs.push(("order".into(), "desc".into()));
        }
        pairs.extend(self.meta.iter().map(|(k, v)| (format!("meta.{k}"), v.clone())));
        pairs
    }
}

impl Client {
    /// A client for the hub at `base` (e.g. `http://127.0.0.1:8080`), not yet signed in.
    pub fn new(base: &str) -> Client {
        // No cookie store: nothing a server sets can change how a token client authenticates.
        let http = reqwest::Client::new();
        Client { base: base.trim_end_matches('/').to_owned(), http, auth: Auth::None }
    }

    /// Uses an API token, as scripts and the CLI do.
    pub fn with_token(mut self, token: &str) -> Client {
        self.auth = Auth::Token(token.to_owned());
        self
    }

    /// Signs in with a password, as a browser does (session cookie + CSRF token).
    pub async fn login(base: &str, username: &str, password: &str) -> ClientResult<Client> {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .map_err(|source| ClientError::Transport { url: base.to_owned(), source })?;
        let mut client = Client { base: base.trim_end_matches('/').to_owned(), http, auth: Auth::None };
        let session: Value =
            client.send(Method::POST, "/session", Some(&json!({"username": username, "password": password}))).await?;
        let csrf = session["csrf_token"].as_str().unwrap_or_default().to_owned();
        client.auth = Auth::Session { csrf };
        Ok(client)
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> ClientResult<T> {
        self.send_query(method, path, &[], body).await
    }

    async fn send_query<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&impl Serialize>,
    ) -> ClientResult<T> {
        let url = format!("{}/api/v1{path}", self.base);
        let mut request = self.http.request(method.clone(), &url).query(query);
        match &self.auth {
            Auth::None => {}
            Auth::Token(token) => request = request.bearer_auth(token),
            Auth::Session { csrf } if method != Method::GET => request = request.header("X-CSRF-Token", csrf),
            Auth::Session { .. } => {}
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|source| ClientError::Transport { url: url.clone(), source })?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|source| ClientError::Transport { url: url.clone(), source })?;
        if !status.is_success() {
            return Err(api_error(status.as_u16(), &bytes, || String::from_utf8_lossy(&bytes).into_owned()));
        }
        let bytes = if status == StatusCode::NO_CONTENT || bytes.is_empty() { &b"null"[..] } else { &bytes[..] };
        serde_json::from_slice(bytes).map_err(|e| ClientError::Protocol { url, detail: e.to_string() })
    }

    pub async fn logout(&self) -> ClientResult<()> {
        self.send::<Value>(Method::DELETE, "/session", None::<&()>).await.map(|_| ())
    }
    pub async fn me(&self) -> ClientResult<Me> {
        self.send(Method::GET, "/me", None::<&()>).await
    }
    pub async fn create_token(&self, name: &str) -> ClientResult<CreatedToken> {
        self.send(Method::POST, "/tokens", Some(&json!({"name": name}))).await
    }
    pub async fn projects(&self) -> ClientResult<Vec<Project>> {
        self.send(Method::GET, "/projects", None::<&()>).await
    }
    pub async fn create_project(&self, name: &str) -> ClientResult<Project> {
        self.send(Method::POST, "/projects", Some(&json!({"name": name}))).await
    }
    pub async fn project(&self, id: i64) -> ClientResult<ProjectView> {
        self.send(Method::GET, &format!("/projects/{id}"), None::<&()>).await
    }
    pub async fn add_member(
        &self,
        project: i64,
        username: &str,
        role: &str,
        buckets: Option<&[&str]>,
    ) -> ClientResult<()> {
        let body = json!({"username": username, "role": role, "buckets": buckets});
        self.send::<Value>(Method::POST, &format!("/projects/{project}/members"), Some(&body)).await.map(|_| ())
    }
    pub async fn assets(&self, project: i64, bucket: &str, query: &AssetQuery) -> ClientResult<Page<Asset>> {
        self.send_query(
            Method::GET,
            &format!("/projects/{project}/buckets/{bucket}/assets"),
            &query.pairs(),
            None::<&()>,
        )
        .await
    }
    pub async fn asset(&self, id: i64) -> ClientResult<Asset> {
        self.send(Method::GET, &format!("/assets/{id}"), None::<&()>).await
    }
    pub async fn update_metadata(&self, id: i64, metadata: Value) -> ClientResult<Asset> {
        self.send(Method::PATCH, &format!("/assets/{id}"), Some(&json!({"metadata": metadata}))).await
    }
    pub async fn bulk_update(
        &self,
        project: i64,
        bucket: &str,
        ids: &[i64],
        metadata: Value,
    ) -> ClientResult<Vec<Asset>> {
        let body = json!({"ids": ids, "metadata": metadata});
        self.send(Method::PATCH, &format!("/projects/{project}/buckets/{bucket}/assets"), Some(&body)).await
    }
    pub async fn requests(&self, project: i64, bucket: &str) -> ClientResult<Vec<Request>> {
        self.send(Method::GET, &format!("/projects/{project}/buckets/{bucket}/requests"), None::<&()>).await
    }
    pub async fn create_request(
        &self,
        project: i64,
        bucket: &str,
        title: &str,
        metadata: Value,
    ) -> ClientResult<Request> {
        let body = json!({"title": title, "metadata": metadata});
        self.send(Method::POST, &format!("/projects/{project}/buckets/{bucket}/requests"), Some(&body)).await
    }
    pub async fn transition_request(&self, id: i64, event: &str, reason: Option<&str>) -> ClientResult<Request> {
        self.send(Method::POST, &format!("/requests/{id}/transition"), Some(&json!({"event": event, "reason": reason})))
            .await
    }
}

/// The state of one tus upload on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadOffset {
    pub offset: u64,
    pub length: Option<u64>,
}

/// The error of a refused call: the server's error body, or `fallback()` as the message when the
/// answer was not one.
fn api_error(status: u16, bytes: &[u8], fallback: impl FnOnce() -> String) -> ClientError {
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(body) => ClientError::Api { status, code: body.code, message: body.message, fields: body.fields },
        Err(_) => ClientError::Api { status, code: "unknown".into(), message: fallback(), fields: Vec::new() },
    }
}

impl Client {
    /// Declares a delivery and returns it with an upload URL per file. With a `client_key`, the
    /// same key again returns the same delivery, so the call can be retried when its answer was
    /// lost.
    pub async fn create_delivery(&self, project: i64, delivery: &NewDelivery) -> ClientResult<DeliveryView> {
        self.send(Method::POST, &format!("/projects/{project}/deliveries"), Some(delivery)).await
    }
    pub async fn delivery(&self, id: i64) -> ClientResult<DeliveryView> {
        self.send(Method::GET, &format!("/deliveries/{id}"), None::<&()>).await
    }
    pub async fn deliver(&self, id: i64) -> ClientResult<DeliveryView> {
        self.send(Method::POST, &format!("/deliveries/{id}/deliver"), None::<&()>).await
    }
    /// A page of a package's files that are not fully uploaded yet, by name after `after`.
    pub async fn incomplete_members(&self, asset: i64, after: &str) -> ClientResult<Vec<PackageMember>> {
        let query = [("incomplete", "true"), ("limit", "5000"), ("after", after)].map(|(k, v)| (k.into(), v.into()));
        self.send_query(Method::GET, &format!("/assets/{asset}/members"), &query, None::<&()>).await
    }
    pub async fn request(&self, id: i64) -> ClientResult<Request> {
        self.send(Method::GET, &format!("/requests/{id}"), None::<&()>).await
    }
    pub async fn validation(&self, asset: i64) -> ClientResult<Vec<CheckResult>> {
        self.send(Method::GET, &format!("/assets/{asset}/validation"), None::<&()>).await
    }

    fn tus_request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let url = if path.starts_with("http") { path.to_owned() } else { format!("{}{path}", self.base) };
        let mut request = self.http.request(method.clone(), url).header("Tus-Resumable", "1.0.0");
        match &self.auth {
            Auth::Token(token) => request = request.bearer_auth(token),
            Auth::Session { csrf } if method != Method::HEAD => request = request.header("X-CSRF-Token", csrf),
            _ => {}
        }
        request
    }

    async fn tus_error(url: &str, response: reqwest::Response) -> ClientError {
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap_or_default();
        api_error(status, &bytes, || format!("{url} answered {status}"))
    }

    /// Where the server has an upload (`path` is the upload URL or its path).
    pub async fn upload_offset(&self, path: &str) -> ClientResult<UploadOffset> {
        let response = self
            .tus_request(Method::HEAD, path)
            .send()
            .await
            .map_err(|source| ClientError::Transport { url: path.to_owned(), source })?;
        if !response.status().is_success() {
            return Err(Self::tus_error(path, response).await);
        }
        let header =
            |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        let offset = header("upload-offset")
            .ok_or_else(|| ClientError::Protocol { url: path.to_owned(), detail: "no Upload-Offset".into() })?;
        Ok(UploadOffset { offset, length: header("upload-length") })
    }

    /// Creates a tus upload (`Upload-Metadata` as `key base64` pairs, `concat` for
    /// `Upload-Concat`) and returns its URL path.
    pub async fn create_upload(
        &self,
        length: Option<u64>,
        metadata: &str,
        concat: Option<&str>,
    ) -> ClientResult<String> {
        let mut request = self.tus_request(Method::POST, "/api/v1/uploads").header("Upload-Metadata", metadata);
        if let Some(length) = length {
            request = request.header("Upload-Length", length);
        }
        if let Some(concat) = concat {
            request = request.header("Upload-Concat", concat);
        }
        let url = "/api/v1/uploads";
        let response = request.send().await.map_err(|source| ClientError::Transport { url: url.to_owned(), source })?;
        if !response.status().is_success() {
            return Err(Self::tus_error(url, response).await);
        }
        response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(|l| l.strip_prefix(&self.base).unwrap_or(l).to_owned())
            .ok_or_else(|| ClientError::Protocol { url: url.to_owned(), detail: "no Location".into() })
    }

    /// Sends `chunk` at `offset` with its `Upload-Checksum` (e.g. `crc32 BASE64`) for the server to
    /// check; returns the new offset.
    pub async fn upload_chunk(&self, path: &str, offset: u64, chunk: Vec<u8>, checksum: &str) -> ClientResult<u64> {
        let response = self
            .tus_request(Method::PATCH, path)
            .header("Upload-Offset", offset)
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Checksum", checksum)
            .body(chunk)
            .send()
            .await
            .map_err(|source| ClientError::Transport { url: path.to_owned(), source })?;
        if !response.status().is_success() {
            return Err(Self::tus_error(path, response).await);
        }
        response
            .headers()
            .get("upload-offset")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| ClientError::Protocol { url: path.to_owned(), detail: "no Upload-Offset".into() })
    }
}
