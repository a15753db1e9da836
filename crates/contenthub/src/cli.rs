//! The delivery CLI: `login` stores an API token, `upload` declares a delivery, uploads every file
//! with tus (md5-checked chunks, resumable through a small journal) and delivers it, `status`
//! shows a delivery until its files settle.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use client::Client;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

const CHUNK: usize = 8 << 20;

#[derive(Debug, Serialize, Deserialize)]
struct Credentials {
    url: String,
    token: String,
}

/// Uploads in progress, so that an interrupted `upload` continues where it stopped.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Journal {
    /// "project/bucket/path/size/mtime" → (delivery id, upload URL).
    entries: BTreeMap<String, (i64, String)>,
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
    println!("signed in to {url} as {}", me["user"]["username"].as_str().unwrap_or("?"));
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
    std::fs::read_to_string(home().join("journal.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

fn save_journal(journal: &Journal) -> anyhow::Result<()> {
    write_private(&home().join("journal.json"), &serde_json::to_string_pretty(journal)?)
}

#[derive(Debug)]
pub struct UploadArgs {
    pub project: i64,
    pub bucket: String,
    pub request: Option<i64>,
    pub meta: Vec<String>,
    pub files: Vec<PathBuf>,
    pub json: bool,
    pub wait: bool,
}

pub async fn upload(args: UploadArgs) -> anyhow::Result<()> {
    let client = client()?;
    let mut metadata = serde_json::Map::new();
    for pair in &args.meta {
        let (k, v) = pair.split_once('=').with_context(|| format!("--meta {pair:?}: write KEY=VALUE"))?;
        metadata.insert(k.trim().to_owned(), Value::String(v.trim().to_owned()));
    }
    let mut sources = Vec::new();
    for path in &args.files {
        let meta = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?;
        if !meta.is_file() {
            bail!("{}: only files for now; pack a frame folder with `npack zip` first", path.display());
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("{}: name is not UTF-8", path.display()))?;
        if let Err(issue) = npack::names::check_delivery_name(name) {
            bail!("{name}: {issue}; rename the file");
        }
        sources.push(npack::SourceFile {
            name: name.to_owned(),
            path: path.clone(),
            size: meta.len(),
            modified: meta.modified().ok(),
        });
    }
    let key = |f: &npack::SourceFile| {
        let mtime = f.modified.and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs());
        format!(
            "{}/{}/{}/{}/{mtime}",
            args.project,
            args.bucket,
            std::path::absolute(&f.path).unwrap_or_default().display(),
            f.size
        )
    };
    let mut journal = load_journal();
    let known: Vec<Option<&(i64, String)>> = sources.iter().map(|f| journal.entries.get(&key(f))).collect();
    let resumable = known.iter().all(Option::is_some)
        && known.iter().flatten().map(|e| e.0).collect::<std::collections::HashSet<_>>().len() == 1;
    let (delivery_id, urls): (i64, Vec<String>) = if resumable {
        let id = known[0].expect("checked").0;
        eprintln!("continuing delivery {id}");
        (id, known.iter().map(|e| e.expect("checked").1.clone()).collect())
    } else {
        eprintln!("checking {} file(s)…", sources.len());
        let digests = tokio::task::spawn_blocking({
            let sources = sources.clone();
            move || npack::checksum_files(&sources, 4, &std::sync::atomic::AtomicBool::new(false), &npack::NoProgress)
        })
        .await??;
        let files: Vec<Value> = sources
            .iter()
            .zip(&digests)
            .map(|(f, d)| json!({"name": f.name, "size": f.size, "md5": npack::checksum::hex(&d.md5), "metadata": metadata, "request_id": args.request}))
            .collect();
        let delivery =
            client.create_delivery(args.project, &args.bucket, Value::Array(files)).await.map_err(explain)?;
        let id = delivery["id"].as_i64().context("no delivery id")?;
        let urls: Vec<String> = sources
            .iter()
            .map(|f| {
                delivery["files"]
                    .as_array()
                    .and_then(|a| a.iter().find(|x| x["name"] == f.name.as_str()))
                    .and_then(|x| x["upload"].as_str())
                    .map(str::to_owned)
                    .context("no upload URL")
            })
            .collect::<anyhow::Result<_>>()?;
        for (f, url) in sources.iter().zip(&urls) {
            journal.entries.insert(key(f), (id, url.clone()));
        }
        save_journal(&journal)?;
        (id, urls)
    };

    let bars = MultiProgress::new();
    let style =
        ProgressStyle::with_template("{prefix:24} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}")
            .expect("valid template")
            .progress_chars("=> ");
    let mut tasks = Vec::new();
    for (source, url) in sources.iter().cloned().zip(urls.clone()) {
        let bar = bars.add(ProgressBar::new(source.size).with_style(style.clone()).with_prefix(source.name.clone()));
        if args.json {
            bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        let client = client.clone();
        tasks.push(tokio::spawn(async move { send_file(&client, &source, &url, &bar).await.map(|()| bar.finish()) }));
    }
    for task in tasks {
        task.await??;
    }
    let delivered = client.deliver(delivery_id).await.map_err(explain)?;
    for f in &sources {
        journal.entries.remove(&key(f));
    }
    save_journal(&journal)?;
    let result = if args.wait { wait(&client, delivery_id).await? } else { delivered };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print_delivery(&client, &result).await;
    }
    Ok(())
}

/// Sends the rest of one file from the server's offset, in md5-checked chunks.
async fn send_file(client: &Client, source: &npack::SourceFile, url: &str, bar: &ProgressBar) -> anyhow::Result<()> {
    let mut offset = client.upload_offset(url).await.map_err(explain)?.offset;
    bar.set_position(offset);
    let mut file = tokio::fs::File::open(&source.path).await.with_context(|| format!("{}", source.path.display()))?;
    file.seek(std::io::SeekFrom::Start(offset)).await?;
    let mut waits = 0;
    while offset < source.size {
        let want = (source.size - offset).min(CHUNK as u64) as usize;
        let mut chunk = vec![0u8; want];
        file.read_exact(&mut chunk)
            .await
            .with_context(|| format!("{} changed while uploading", source.path.display()))?;
        let md5 = base64::engine::general_purpose::STANDARD.encode(npack::read::md5(&chunk));
        match client.upload_chunk(url, offset, chunk, &md5).await {
            Ok(next) => offset = next,
            // An earlier, interrupted PATCH still holds the upload (its lease lapses within a
            // minute), or the chunk was damaged on the way: ask where the server is and go on.
            Err(e)
                if matches!(e.code(), Some("upload_busy" | "checksum_mismatch" | "offset_mismatch")) && waits < 60 =>
            {
                waits += 1;
                bar.set_message(format!("waiting: {e}"));
                tokio::time::sleep(Duration::from_secs(2)).await;
                offset = client.upload_offset(url).await.map_err(explain)?.offset;
                file.seek(std::io::SeekFrom::Start(offset)).await?;
            }
            Err(e) => return Err(explain(e)),
        }
        bar.set_position(offset);
    }
    Ok(())
}

fn explain(e: client::ClientError) -> anyhow::Error {
    match &e {
        client::ClientError::Api { fields, .. } if fields.is_array() => {
            let details: Vec<String> = fields
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| format!("  {}: {}", f["field"].as_str().unwrap_or("?"), f["message"].as_str().unwrap_or("?")))
                .collect();
            anyhow::anyhow!("{e}\n{}", details.join("\n"))
        }
        _ => anyhow::anyhow!(e),
    }
}

/// Polls the delivery until no file is in flight or being validated.
async fn wait(client: &Client, id: i64) -> anyhow::Result<Value> {
    loop {
        let delivery = client.delivery(id).await.map_err(explain)?;
        let settled = delivery["files"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|f| matches!(f["state"].as_str(), Some("valid" | "invalid" | "failed_delivery")));
        if settled {
            return Ok(delivery);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn print_delivery(client: &Client, delivery: &Value) {
    println!("delivery {} is {}", delivery["id"], delivery["state"].as_str().unwrap_or("?"));
    for f in delivery["files"].as_array().into_iter().flatten() {
        println!("  {:12} {}", f["state"].as_str().unwrap_or("?"), f["name"].as_str().unwrap_or("?"));
        if f["state"] == "invalid"
            && let Some(id) = f["asset_id"].as_i64()
            && let Ok(report) = client.validation(id).await
        {
            for check in report.as_array().into_iter().flatten().filter(|c| c["passed"] == false) {
                println!(
                    "      {}: {}",
                    check["check"].as_str().unwrap_or("?"),
                    check["detail"].as_str().unwrap_or("?")
                );
            }
        }
    }
}

pub async fn status(id: i64, watch: bool, as_json: bool) -> anyhow::Result<()> {
    let client = client()?;
    let delivery = if watch { wait(&client, id).await? } else { client.delivery(id).await.map_err(explain)? };
    if as_json {
        println!("{}", serde_json::to_string_pretty(&delivery)?);
    } else {
        print_delivery(&client, &delivery).await;
    }
    Ok(())
}
