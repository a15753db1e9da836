//! The delivery CLI: `login` stores an API token; `upload` (and `deliver`, for a request) declares
//! a delivery, uploads every file with tus — parallel streams across files and across the parts of
//! big files, CRC-checked chunks, resumable through a small journal — and delivers it; `status`
//! shows a delivery until its files settle; `transfers` shows what is under way or stopped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use client::Client;
use client::api_types::upload_metadata;
use client::api_types::{DeliveryView, NewDelivery, NewFile, NewMember};
use hub_domain::{AssetState, DeliveryState};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

mod send;
mod status;
mod upload;

pub use status::{status, transfers};
pub use upload::{UploadArgs, deliver, parse_rate, upload};

#[derive(Debug, Serialize, Deserialize)]
struct Credentials {
    url: String,
    token: String,
}

/// Uploads in progress, so that an interrupted `upload` continues where it stopped, and
/// `transfers` can show what is under way or failed.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Journal {
    /// "project/bucket/path/size/mtime" → the file's transfer.
    entries: BTreeMap<String, Transfer>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Transfer {
    delivery: i64,
    name: String,
    path: PathBuf,
    size: u64,
    /// The delivery's upload for the file.
    upload: String,
    /// The pieces the file goes through in parallel, in order (uploads that write their range
    /// of the file in place); empty when it goes as one stream.
    #[serde(default)]
    parts: Vec<String>,
    /// Whether `parts` are such pieces (a journal of an older version listed partial uploads for
    /// the hub to join, which this version does not use: the file is split again).
    #[serde(default)]
    pieces: bool,
    /// For a zipless package (a folder): its asset, whose files each have their own upload.
    #[serde(default)]
    package: Option<i64>,
    started_ms: i64,
    /// Why the last attempt stopped, if it did.
    #[serde(default)]
    error: Option<String>,
}

fn home() -> PathBuf {
    std::env::var_os("CONTENTHUB_HOME").map(PathBuf::from).unwrap_or_else(|| {
        let base = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
        base.join(".config").join("contenthub")
    })
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(path.parent().expect("a file in a folder"))?;
    let temp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&temp)?;
    std::io::Write::write_all(&mut file, text.as_bytes())?;
    std::fs::rename(&temp, path)?;
    Ok(())
}

pub async fn login(url: &str, token: Option<String>) -> anyhow::Result<()> {
    let token = match token {
        Some(token) => token,
        None => {
            eprintln!("paste an API token (contenthub admin create-token USER, or POST /api/v1/tokens):");
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim().to_owned()
        }
    };
    let client = Client::new(url).with_token(&token);
    let me = client.me().await.context("the hub did not accept the token")?;
    write_private(&home().join("credentials.json"), &serde_json::to_string(&Credentials { url: url.into(), token })?)?;
    println!("signed in to {url} as {}", me.user.username);
    Ok(())
}

fn client() -> anyhow::Result<Client> {
    let text = std::fs::read_to_string(home().join("credentials.json"))
        .context("not signed in: run `contenthub login URL` first")?;
    let credentials: Credentials =
        serde_json::from_str(&text).context("the stored credentials are damaged; sign in again")?;
    Ok(Client::new(&credentials.url).with_token(&credentials.token))
}

fn load_journal() -> Journal {
    let path = home().join("journal.json");
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).unwrap_or_else(|e| {
            eprintln!("warning: {} is unreadable ({e}); interrupted uploads start over", path.display());
            Journal::default()
        }),
        Err(_) => Journal::default(),
    }
}
fn save_journal(journal: &Journal) -> anyhow::Result<()> {
    write_private(&home().join("journal.json"), &serde_json::to_string_pretty(journal)?)
}

/// Calls the hub again while it is unreachable or failing (a restart, a dropped connection).
async fn retry<T, F, Fut>(call: F) -> client::ClientResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = client::ClientResult<T>>,
{
    retry_when(unreachable, call).await
}

/// Like [`retry`], for calls that must not run twice: only while the hub refuses connections
/// (the request never reached it).
async fn retry_connect<T, F, Fut>(call: F) -> client::ClientResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = client::ClientResult<T>>,
{
    retry_when(|e| matches!(e, client::ClientError::Transport { source, .. } if source.is_connect()), call).await
}

async fn retry_when<T, F, Fut>(worth_it: fn(&client::ClientError) -> bool, mut call: F) -> client::ClientResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = client::ClientResult<T>>,
{
    let mut failures = 0;
    loop {
        match call().await {
            Err(e) if worth_it(&e) && failures < 12 => {
                failures += 1;
                tokio::time::sleep(backoff(failures)).await;
            }
            other => return other,
        }
    }
}

fn unreachable(e: &client::ClientError) -> bool {
    matches!(e, client::ClientError::Transport { .. }) || e.status().is_some_and(|s| s >= 500)
}

/// A key of this client's own for a declaration: declared again with it (a retry after a lost
/// answer), the hub returns the delivery it made the first time.
fn new_client_key() -> String {
    use rand::Rng;
    let random: String =
        rand::thread_rng().sample_iter(&rand::distributions::Alphanumeric).take(24).map(char::from).collect();
    format!("cli_{random}")
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn retryable(e: &client::ClientError) -> bool {
    unreachable(e) || matches!(e.code(), Some("upload_busy" | "checksum_mismatch" | "offset_mismatch"))
}

fn backoff(failures: u32) -> Duration {
    Duration::from_millis(250 * 2u64.pow(failures.min(5)))
}

/// A "not found" said in the CLI's own terms: what was asked for, and who asked (issue 13,
/// bug 12); any other error as [`explain`] says it.
async fn missing(client: &Client, e: client::ClientError, what: &str) -> anyhow::Error {
    if e.code() != Some("not_found") {
        return explain(e);
    }
    let who = client.me().await.map(|me| me.user.username).unwrap_or_else(|_| "this token's user".into());
    anyhow::anyhow!(
        "{what} is not visible to {who}: it does not exist, or {who} is not a member with it in scope; \
         check the number, or ask the project's manager"
    )
}

fn explain(e: client::ClientError) -> anyhow::Error {
    match &e {
        client::ClientError::Api { fields, .. } if !fields.is_empty() => {
            let details: Vec<String> = fields.iter().map(|f| format!("  {}: {}", f.field, f.message)).collect();
            anyhow::anyhow!("{e}\n{}", details.join("\n"))
        }
        _ => anyhow::anyhow!(e),
    }
}
