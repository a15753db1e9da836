//! `contenthub`: the hub's one binary. `serve` runs it (SQLite and a data folder by default;
//! PostgreSQL by configuration); `admin` manages users, projects and tokens; `config` prints the
//! effective configuration with secrets redacted.

mod cli;
mod config;
mod demo;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use hub::Db;
use hub::app;
use hub::store::{BlobStore, LocalStore, S3Settings, S3Store};
use hub::worker::Duties;
use hub_domain::{BucketKind, Role};
use std::sync::Arc;

use crate::config::Config;

#[derive(Debug, Parser)]
#[command(name = "contenthub", version, about = "Content Hub for film and TV production deliveries")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The server's settings, taken by the commands that run or manage a hub (serve, worker, admin,
/// config), never by the vendor's (upload, deliver, …). Each is also `CONTENTHUB_*` and a key
/// in the TOML file.
#[derive(Debug, Args)]
#[command(next_help_heading = "Server settings")]
struct Settings {
    /// TOML config file [default: DATA_DIR/contenthub.toml if it exists] (env CONTENTHUB_CONFIG).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Address and port to listen on [default: 127.0.0.1:8080].
    #[arg(long, global = true)]
    bind: Option<String>,
    /// Data folder for the SQLite database and local blobs [default: ./contenthub-data].
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// sqlite://PATH or postgres://USER:PASSWORD@HOST/DB [default: SQLite in the data folder].
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// file://PATH, s3://BUCKET or s3://BUCKET/PREFIX [default: DATA_DIR/blobs].
    #[arg(long, global = true)]
    storage_url: Option<String>,
    /// The S3 service's URL, for a store other than AWS (MinIO, Ceph, Garage…).
    #[arg(long, global = true)]
    s3_endpoint: Option<String>,
    /// The S3 region [default: us-east-1].
    #[arg(long, global = true)]
    s3_region: Option<String>,
    /// The S3 access key id.
    #[arg(long, global = true)]
    s3_access_key_id: Option<String>,
    /// Better set through CONTENTHUB_S3_SECRET_ACCESS_KEY or the file than on a command line.
    #[arg(long, global = true)]
    s3_secret_access_key: Option<String>,
    /// Address buckets as http://host/bucket (what self-hosted stores want).
    #[arg(long, global = true)]
    s3_path_style: Option<bool>,
}

impl Settings {
    fn flags(&self) -> BTreeMap<String, String> {
        let mut flags = BTreeMap::new();
        let mut put = |key: &str, value: Option<String>| {
            if let Some(value) = value {
                flags.insert(key.to_owned(), value);
            }
        };
        put("bind", self.bind.clone());
        put("data_dir", self.data_dir.as_ref().map(|p| p.display().to_string()));
        put("database_url", self.database_url.clone());
        put("storage_url", self.storage_url.clone());
        put("s3_endpoint", self.s3_endpoint.clone());
        put("s3_region", self.s3_region.clone());
        put("s3_access_key_id", self.s3_access_key_id.clone());
        put("s3_secret_access_key", self.s3_secret_access_key.clone());
        put("s3_path_style", self.s3_path_style.map(|b| b.to_string()));
        flags
    }

    fn load(&self) -> anyhow::Result<Config> {
        let flags = self.flags();
        let default_file = self
            .data_dir
            .clone()
            .or_else(|| std::env::var_os("CONTENTHUB_DATA_DIR").map(PathBuf::from))
            .unwrap_or_else(|| Config::default().data_dir)
            .join("contenthub.toml");
        let file = self
            .config
            .clone()
            .or_else(|| std::env::var_os("CONTENTHUB_CONFIG").map(PathBuf::from))
            .or_else(|| default_file.is_file().then_some(default_file));
        Config::load(file.as_deref(), std::env::vars(), &flags, &mut |w| eprintln!("warning: {w}"))
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the hub. On first start, creates an admin and prints its password once.
    Serve {
        /// Also create a demo project with members, assets in several states and open requests.
        #[arg(long)]
        demo: bool,
        /// Validation workers to run inside the server; 0 when `contenthub worker` processes do it.
        #[arg(long, default_value_t = 1)]
        workers: usize,
        #[command(flatten)]
        settings: Settings,
    },
    /// Run validation workers only (no HTTP), against the same database and storage as `serve`.
    Worker {
        /// Validation workers to run.
        #[arg(long, default_value_t = 1)]
        workers: usize,
        #[command(flatten)]
        settings: Settings,
    },
    /// Manage users, projects, members and tokens directly in the database.
    Admin {
        #[command(flatten)]
        settings: Settings,
        #[command(subcommand)]
        command: Admin,
    },
    /// Print the effective configuration (secrets redacted).
    Config {
        #[command(flatten)]
        settings: Settings,
    },
    /// Check one delivered file (run by the hub's workers, one child process per file, with the job
    /// on standard input and the result on standard output).
    #[command(hide = true)]
    ValidateJob {
        /// Address-space limit, in MiB.
        #[arg(long)]
        memory_mib: u64,
        /// CPU-time limit, in seconds.
        #[arg(long)]
        cpu_seconds: u64,
    },
    /// Print the API's OpenAPI 3.1 document (the one the server serves at /api/v1/openapi.json).
    Openapi,
    /// Store an API token for `upload` and `status` (asks for it when --token is not given).
    Login {
        /// The hub, e.g. http://127.0.0.1:8080
        url: String,
        #[arg(long)]
        token: Option<String>,
    },
    /// Deliver files: declare them, upload each (resumable: run the same command again after an
    /// interruption), then DELIVER.
    Upload {
        #[arg(long)]
        project: i64,
        /// Bucket slug, e.g. final-sound.
        #[arg(long)]
        bucket: String,
        /// The request the files fulfil (request-based buckets).
        #[arg(long)]
        request: Option<i64>,
        /// Metadata for every file, KEY=VALUE (repeat).
        #[arg(long = "meta", value_name = "KEY=VALUE")]
        meta: Vec<String>,
        #[command(flatten)]
        send: SendArgs,
    },
    /// Fulfil a request: like `upload`, with the project, bucket and the request's metadata
    /// (e.g. its reel) taken from the request.
    Deliver {
        #[arg(long)]
        request: i64,
        /// Metadata for every file, KEY=VALUE (repeat); overrides the request's.
        #[arg(long = "meta", value_name = "KEY=VALUE")]
        meta: Vec<String>,
        #[command(flatten)]
        send: SendArgs,
    },
    /// Uploads under way or stopped on this computer, with how far the hub has them.
    Transfers {
        #[arg(long)]
        json: bool,
    },
    /// Show a delivery's files and their states.
    Status {
        delivery: i64,
        /// Wait until every file is Valid, Invalid or Failed Delivery.
        #[arg(long)]
        watch: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
struct SendArgs {
    /// Wait until validation has decided every file, and show why any is Invalid.
    #[arg(long)]
    wait: bool,
    /// Hash each file first and declare its md5 for the hub to compare (one more read of every
    /// file). Without it each chunk is still CRC-checked on arrival and the hub records the md5.
    #[arg(long)]
    md5: bool,
    /// Upload streams at once, across files, the streams of a package and the parts of big
    /// files. Each waits a round trip after every chunk; six keep a long link busy.
    #[arg(long, default_value_t = 6)]
    parallel: usize,
    /// Send each file of 256 MiB or more as up to this many parallel pieces (at least 64 MiB
    /// each), which the hub writes in place into the file: nothing is copied when they are done.
    /// One connection across an ocean is slow; several fill the link. Default: as --parallel;
    /// 1 sends each file as one stream.
    #[arg(long)]
    split: Option<usize>,
    /// Send at most this many bytes per second in all (e.g. 50M, 800K; K/M/G are ×1024), to leave
    /// room on a shared link. Default: as fast as the link goes.
    #[arg(long, value_name = "RATE", value_parser = cli::parse_rate)]
    max_rate: Option<u64>,
    #[arg(long)]
    json: bool,
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

impl SendArgs {
    fn into_upload(self, project: i64, bucket: String, request: Option<i64>, meta: Vec<String>) -> cli::UploadArgs {
        let SendArgs { wait, md5, parallel, split, max_rate, json, files } = self;
        let split = split.unwrap_or(parallel);
        cli::UploadArgs { project, bucket, request, meta, files, json, wait, md5, parallel, split, max_rate }
    }
}

#[derive(Debug, Subcommand)]
enum Admin {
    /// Create a user; prints a generated password unless --password-stdin is given.
    CreateUser {
        username: String,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        site_admin: bool,
    },
    /// Set a new generated password and end the user's sessions.
    ResetPassword { username: String },
    CreateProject {
        name: String,
        #[arg(long)]
        code: Option<String>,
    },
    /// Add a member (or change their role).
    AddMember {
        project_id: i64,
        username: String,
        #[arg(long, value_parser = ["manager", "contributor", "viewer"])]
        role: String,
        /// Limit to these buckets (slugs, comma-separated), e.g. final-sound,vfx.
        #[arg(long, value_delimiter = ',')]
        buckets: Option<Vec<String>>,
    },
    /// Create an API token for a user; printed once.
    CreateToken {
        username: String,
        #[arg(long, default_value = "cli")]
        name: String,
        /// What it may do: read (browse, download), deliver (also upload and DELIVER, Footage
        /// included) or manage (everything the user may).
        #[arg(long, default_value = "deliver", value_parser = ["read", "deliver", "manage"])]
        scope: String,
        /// Days until it expires; 0: never.
        #[arg(long, default_value_t = 0)]
        expires_in_days: u32,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Command::ValidateJob { memory_mib, cpu_seconds } = cli.command {
        return validate_job(memory_mib, cpu_seconds);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("contenthub: error: could not start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("contenthub: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A validation child (see `hub::validate::isolated`): limits itself, reads the job from standard
/// input, writes the answer to standard output. Whatever the file does to it, only this process
/// dies.
fn validate_job(memory_mib: u64, cpu_seconds: u64) -> std::process::ExitCode {
    use std::io::{Read, Write};
    let limits = [(rlimit::Resource::AS, memory_mib << 20), (rlimit::Resource::CPU, cpu_seconds)];
    for (resource, limit) in limits {
        if let Err(e) = rlimit::setrlimit(resource, limit, limit) {
            eprintln!("contenthub validate-job: could not set the limit {resource:?} to {limit}: {e}");
            return std::process::ExitCode::from(3);
        }
    }
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().take(hub::validate::isolated::MAX_JOB_BYTES).read_to_end(&mut input) {
        eprintln!("contenthub validate-job: could not read the job: {e}");
        return std::process::ExitCode::from(3);
    }
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).max_blocking_threads(4).enable_all().build();
    let answer = match runtime {
        Ok(runtime) => runtime.block_on(hub::validate::isolated::answer(&input)),
        Err(e) => Err(format!("the validator could not start its runtime: {e}")),
    };
    let mut out = std::io::stdout().lock();
    match serde_json::to_writer(&mut out, &answer).map_err(std::io::Error::from).and_then(|()| out.flush()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("contenthub validate-job: could not write the answer: {e}");
            std::process::ExitCode::from(3)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::ValidateJob { .. } => unreachable!("handled before the runtime starts"),
        Command::Config { settings } => {
            print!("{}", settings.load()?.redacted());
            Ok(())
        }
        Command::Openapi => {
            println!("{}", serde_json::to_string_pretty(&hub::api::spec::openapi())?);
            Ok(())
        }
        Command::Serve { settings, demo, workers } => serve(settings.load()?, demo, workers).await,
        Command::Worker { settings, workers } => run_workers(settings.load()?, workers).await,
        Command::Admin { settings, command } => run_admin(settings.load()?, command).await,
        Command::Login { url, token } => cli::login(&url, token).await,
        Command::Upload { project, bucket, request, meta, send } => {
            cli::upload(send.into_upload(project, bucket, request, meta)).await
        }
        Command::Deliver { request, meta, send } => {
            cli::deliver(request, send.into_upload(0, String::new(), Some(request), meta)).await
        }
        Command::Transfers { json } => cli::transfers(json).await,
        Command::Status { delivery, watch, json } => cli::status(delivery, watch, json).await,
    }
}

async fn open_db(config: &Config) -> anyhow::Result<Db> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating the data folder {}", config.data_dir.display()))?;
    let url = config.database_url();
    let db = Db::connect(&url).await.with_context(|| format!("opening the database {}", hub::db::redact_url(&url)))?;
    db.migrate().await.context("migrating the database")?;
    Ok(db)
}

/// The blob store the configuration names: a local folder (default `DATA_DIR/blobs`) or S3.
async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn BlobStore>> {
    let url = config.storage_url.clone().unwrap_or_default();
    if let Some(rest) = url.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            bail!("storage_url {url:?}: give the bucket as s3://BUCKET or s3://BUCKET/PREFIX");
        }
        let settings = S3Settings {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            endpoint: config.s3_endpoint.clone(),
            region: config.s3_region.clone(),
            access_key_id: config.s3_access_key_id.clone(),
            secret_access_key: config.s3_secret_access_key.clone(),
            path_style: config.s3_path_style,
        };
        let store = S3Store::new(settings)
            .with_context(|| format!("storage_url {url:?}: the prefix must be /-separated [A-Za-z0-9._-] folders"))?;
        return Ok(Arc::new(store));
    }
    let root = match url.strip_prefix("file://") {
        Some(path) => PathBuf::from(path),
        None if url.is_empty() => config.data_dir.join("blobs"),
        None => bail!("storage_url {url:?} is neither file://PATH nor s3://BUCKET"),
    };
    Ok(Arc::new(LocalStore::open(&root).await.with_context(|| format!("opening blob folder {}", root.display()))?))
}

/// Every validation runs in a child process of this same binary, with the configured memory limit.
fn isolation(config: &Config) -> anyhow::Result<hub::validate::isolated::Isolation> {
    let program = std::env::current_exe().context("finding this program, to run validation children")?;
    let mut isolation = hub::validate::isolated::Isolation::with_program(program);
    isolation.memory = u64::from(config.validator_memory_mib) << 20;
    Ok(isolation)
}

/// Validation workers without the HTTP server, until Ctrl-C or SIGTERM.
async fn run_workers(config: Config, workers: usize) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&config.log).context("the log filter")?)
        .init();
    let shutdown = shutdown_signal()?;
    let db = open_db(&config).await?;
    let store = open_store(&config).await?;
    hub::store::probe(store.as_ref())
        .await
        .with_context(|| format!("cannot reach the blob storage ({}); check its settings", store.describe()))?;
    let settings = app::Config { isolation: Some(isolation(&config)?), ..app::Config::default() };
    let state = app::Hub::new(db, store, settings);
    for n in 0..workers.max(1) {
        let duties = if n == 0 { Duties::QueuedAndPeriodic } else { Duties::Queued };
        let (hub, name) = (state.clone(), format!("worker-{}-{n}", std::process::id()));
        tokio::spawn(hub::worker::supervise(name.clone(), move || hub::worker::run(hub.clone(), name.clone(), duties)));
    }
    println!("{} validation worker(s) running (Ctrl-C to stop)", workers.max(1));
    shutdown.await;
    Ok(())
}

async fn serve(config: Config, demo: bool, workers: usize) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&config.log).context("the log filter")?)
        .init();
    let db = open_db(&config).await?;
    let store = open_store(&config).await?;
    hub::store::probe(store.as_ref())
        .await
        .with_context(|| format!("cannot reach the blob storage ({}); check its settings", store.describe()))?;
    let mut banner = Vec::new();
    if let Some(password) = hub::app::admin::first_admin(&db).await? {
        banner.push(format!("First start: created the site admin `admin` with password {password}"));
        banner.push("  (shown once; change it with `contenthub admin reset-password admin`)".into());
    }
    let seeded = if demo { demo::seed(&db, store.as_ref()).await? } else { None };
    if let Some(people) = &seeded {
        banner
            .push(format!("Demo project \"{}\" created with these users (passwords shown once):", demo::DEMO_PROJECT));
        for (name, role, password) in people {
            banner.push(format!("  {name:<11} {:<12} {password}", role.as_str()));
        }
    }
    let shutdown = shutdown_signal()?;
    let listener =
        tokio::net::TcpListener::bind(&config.bind).await.with_context(|| format!("binding {}", config.bind))?;
    let address = listener.local_addr()?;
    tracing::info!(storage = %store.describe(), "blob storage ready");
    let api = app::Config {
        session_lifetime: std::time::Duration::from_secs(u64::from(config.session_hours) * 3600),
        secure_cookies: config.secure_cookies,
        max_upload: config.max_upload_bytes,
        upload_lifetime: std::time::Duration::from_secs(config.upload_lifetime_seconds.into()),
        isolation: Some(isolation(&config)?),
        trusted_proxies: config.trusted_proxies()?,
        ..app::Config::default()
    };
    let state = app::Hub::new(db, store, api);
    if seeded.is_some() {
        // The demo's delivered files are validated like any other, before the URL is shown, so
        // that the first look at the demo finds them decided.
        while hub::worker::run_one(&state, "demo").await.context("validating the demo's files")? {}
    }
    // The first worker loop also does the periodic jobs (freeing expired uploads); with no
    // validation workers here, a loop does only those.
    for n in 0..workers.max(1) {
        let worker = format!("serve-{}-{}-{n}", std::process::id(), address.port());
        let duties = match (workers, n) {
            (0, _) => Duties::Periodic,
            (_, 0) => Duties::QueuedAndPeriodic,
            _ => Duties::Queued,
        };
        let hub = state.clone();
        tokio::spawn(hub::worker::supervise(worker.clone(), move || {
            hub::worker::run(hub.clone(), worker.clone(), duties)
        }));
    }
    for line in banner {
        println!("{line}");
    }
    println!("contenthub is running: open http://{address}/ (API at http://{address}/api/v1, Ctrl-C to stop)");
    tracing::info!(%address, database = %hub::db::redact_url(&config.database_url()), "serving");
    hub::server::serve(listener, state, shutdown).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed when this is called, not when the
/// future is first polled, so a signal that arrives right after start-up is not lost.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the Ctrl-C handler")?;
    let mut terminate = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    Ok(async move {
        tokio::select! { _ = interrupt.recv() => {}, _ = terminate.recv() => {} }
        tracing::info!("shutting down: finishing requests in flight");
    })
}

async fn run_admin(config: Config, admin: Admin) -> anyhow::Result<()> {
    use hub::app::admin;
    let db = open_db(&config).await?;
    let no_user = |username: &str| format!("no user named {username}");
    match admin {
        Admin::CreateUser { username, display_name, site_admin } => {
            let display = display_name.unwrap_or_else(|| username.clone());
            let (user, password) = admin::create_user(&db, &username, &display, site_admin).await?;
            println!("created user {} (id {}) with password {password}", user.username, user.id);
        }
        Admin::ResetPassword { username } => {
            let password = admin::reset_password(&db, &username).await.with_context(|| no_user(&username))?;
            println!("new password for {username}: {password} (their sessions have ended)");
        }
        Admin::CreateProject { name, code } => {
            let project = admin::create_project(&db, &name, code.as_deref()).await?;
            println!("created project {} (id {})", project.name, project.id);
        }
        Admin::AddMember { project_id, username, role, buckets } => {
            let role = Role::parse(&role).expect("clap checked the role");
            let buckets = buckets
                .map(|list| {
                    list.iter()
                        .map(|s| BucketKind::from_slug(s).with_context(|| format!("unknown bucket {s:?}")))
                        .collect::<anyhow::Result<Vec<_>>>()
                })
                .transpose()?;
            admin::add_member(&db, project_id, &username, role, buckets.as_deref())
                .await
                .with_context(|| format!("no project with id {project_id}, or no user named {username}"))?;
            println!("{username} is now {} of project {project_id}", role.as_str());
        }
        Admin::CreateToken { username, name, scope, expires_in_days } => {
            let scope = hub_domain::TokenScope::parse(&scope).expect("clap checked the scope");
            let secret = admin::create_token(&db, &username, &name, scope, expires_in_days).await.map_err(|e| {
                if e.status == axum::http::StatusCode::NOT_FOUND {
                    anyhow::anyhow!(no_user(&username))
                } else {
                    anyhow::anyhow!(e.body.message)
                }
            })?;
            println!("{secret}");
            let lasts = match expires_in_days {
                0 => "never expires".to_owned(),
                days => format!("expires in {days} days"),
            };
            eprintln!(
                "API token {name:?} for {username} ({} scope, {lasts}); shown once: use it as `Authorization: Bearer TOKEN`",
                scope.as_str()
            );
        }
    }
    Ok(())
}
