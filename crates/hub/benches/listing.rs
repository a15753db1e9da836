//! Listing latency at scale (a benchmark, not a test): seeds 100,000 assets into one bucket and
//! measures filtered, sorted, paged listing through the real HTTP API, on SQLite and on PostgreSQL
//! (`CONTENTHUB_TEST_POSTGRES_URL`, default 127.0.0.1:5432; `CONTENTHUB_TEST_SKIP=postgres` leaves it out). Prints p50/p99 per query shape and the
//! ratio of each to the unfiltered first page measured in the same run.
//!
//!     cargo bench -p hub --bench listing

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use hub::Db;
use hub::app::{self, Config};
use hub::secrets::hash_password;
use hub_domain::Role;

const ASSETS: i64 = 100_000;
const SAMPLES: usize = 300;

/// A keep-alive HTTP/1.1 connection, enough for GETs with a JSON answer.
struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn get(&mut self, host: &str, path: &str, token: &str) -> (u16, String) {
        // The API answers the token; the pages use the session cookie.
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nCookie: contenthub_session=chs_bench\r\n\r\n"
        );
        self.reader.get_mut().write_all(request.as_bytes()).unwrap();
        let mut status_line = String::new();
        self.reader.read_line(&mut status_line).unwrap();
        let status = status_line[9..12].parse().unwrap();
        let mut length = 0;
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).unwrap();
        (status, String::from_utf8(body).unwrap())
    }
}

/// Seeds in bulk with the bench's own connection: the product has no raw-SQL door.
async fn execute_raw(url: &str, sql: &str) {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

async fn seed(db: &Db, url: &str) -> (i64, String) {
    db.migrate().await.unwrap();
    let user = db.create_user("bench", "Bench", &hash_password("x"), false).await.unwrap();
    let project = db.create_project("Bench Project", "BP").await.unwrap();
    db.set_member(project.id, user.id, Role::Viewer, None).await.unwrap();
    db.create_token(user.id, "bench", "cht_bench", hub_domain::TokenScope::Read, None).await.unwrap();
    db.create_session("chs_bench", user.id, "csrf", i64::MAX / 2).await.unwrap();
    let started = Instant::now();
    // 100,000 Final Sound assets: reel 1-20, four formats, three mix types, states spread out.
    let sql = match db.dialect() {
        hub::db::Dialect::Sqlite => format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ASSETS}) \
             INSERT INTO assets (project_id, bucket, name, version, state, size, md5, metadata, created_ms, updated_ms) \
             SELECT {p}, 'final-sound', printf('r%02d_cue_%06d.wav', i % 20 + 1, i), 1, \
             CASE i % 10 WHEN 0 THEN 'invalid' WHEN 1 THEN 'validating' ELSE 'valid' END, 1000, NULL, \
             json_object('reel', i % 20 + 1, 'format', CASE (i / 20) % 4 WHEN 0 THEN '2.0' WHEN 1 THEN '5.1' WHEN 2 THEN '7.1' ELSE 'Atmos' END, \
             'mix_type', CASE (i / 80) % 3 WHEN 0 THEN 'printmaster' WHEN 1 THEN 'stems' ELSE 'M&E' END), i, i FROM n",
            p = project.id
        ),
        hub::db::Dialect::Postgres => format!(
            "INSERT INTO assets (project_id, bucket, name, version, state, size, md5, metadata, created_ms, updated_ms) \
             SELECT {p}, 'final-sound', format('r%s_cue_%s.wav', lpad((i % 20 + 1)::text, 2, '0'), lpad(i::text, 6, '0')), 1, \
             CASE i % 10 WHEN 0 THEN 'invalid' WHEN 1 THEN 'validating' ELSE 'valid' END, 1000, NULL, \
             json_build_object('reel', i % 20 + 1, 'format', CASE (i / 20) % 4 WHEN 0 THEN '2.0' WHEN 1 THEN '5.1' WHEN 2 THEN '7.1' ELSE 'Atmos' END, \
             'mix_type', CASE (i / 80) % 3 WHEN 0 THEN 'printmaster' WHEN 1 THEN 'stems' ELSE 'M&E' END)::text, i, i \
             FROM generate_series(1, {ASSETS}) AS i",
            p = project.id
        ),
    };
    execute_raw(url, &sql).await;
    execute_raw(url, "ANALYZE").await;
    eprintln!("  seeded {ASSETS} assets in {:.1} s", started.elapsed().as_secs_f64());
    (project.id, "cht_bench".into())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

async fn run(label: &str, url: &str) {
    eprintln!("{label}:");
    let db = Db::connect(url).await.unwrap();
    let (project, token) = seed(&db, url).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let blobs = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(hub::store::LocalStore::open(blobs.path()).await.unwrap());
    let server = tokio::spawn(hub::server::serve(listener, app::Hub::new(db, store, Config::default()), async {
        let _ = stop_rx.await;
    }));
    let base = format!("/api/v1/projects/{project}/buckets/final-sound/assets");
    let shapes = [
        ("first page of 100, by name", format!("{base}?limit=100")),
        ("2 metadata filters, by name", format!("{base}?limit=100&meta.reel=7&meta.format=5.1")),
        (
            "2 filters + state, newest first",
            format!("{base}?limit=100&meta.reel=7&meta.format=5.1&state=valid&sort=updated&order=desc"),
        ),
        (
            "rare match (reel 7, Atmos, M&E)",
            format!("{base}?limit=100&meta.reel=7&meta.format=Atmos&meta.mix_type=M%26E"),
        ),
        ("name search", format!("{base}?limit=100&q=cue_0999")),
        ("browse page (HTML), first 100", format!("/projects/{project}/buckets/final-sound")),
        (
            "browse page (HTML), 2 filters + state",
            format!("/projects/{project}/buckets/final-sound?meta.reel=7&meta.format=5.1&state=valid"),
        ),
    ];
    let results = tokio::task::spawn_blocking(move || {
        let mut conn = Conn { reader: BufReader::new(TcpStream::connect(&addr).unwrap()) };
        let mut results = Vec::new();
        for (name, path) in &shapes {
            let (status, body) = conn.get(&addr, path, &token);
            assert_eq!(status, 200, "{path}: {body}");
            // Page 2 via the cursor, so that keyset paging is measured too.
            let next = match serde_json::from_str::<serde_json::Value>(&body) {
                Ok(page) => page["next"].as_str().map(str::to_owned),
                // A page: its "Next page" link carries the cursor.
                Err(_) => body.split("after=").nth(1).and_then(|rest| rest.split('"').next()).map(str::to_owned),
            };
            let mut times = Vec::with_capacity(SAMPLES);
            for i in 0..SAMPLES {
                let path = match (&next, i % 2) {
                    (Some(next), 1) => format!("{path}{}after={next}", if path.contains('?') { '&' } else { '?' }),
                    _ => path.clone(),
                };
                let started = Instant::now();
                let (status, _) = conn.get(&addr, &path, &token);
                times.push(started.elapsed());
                assert_eq!(status, 200);
            }
            times.sort();
            results.push((*name, percentile(&times, 0.5), percentile(&times, 0.99)));
        }
        results
    })
    .await
    .unwrap();
    let baseline = results[0].1;
    println!("{label}: {ASSETS} assets in one bucket, {SAMPLES} requests per shape (pages 1 and 2 alternating)");
    for (name, p50, p99) in &results {
        // Budgets: 50 ms for an API page, 300 ms for a rendered browse page.
        let budget = if name.starts_with("browse page") { 300.0 } else { 50.0 };
        let verdict = if *p99 <= budget { "ok".to_owned() } else { format!("OVER {budget} ms") };
        println!(
            "  {name:38} p50 {p50:7.2} ms  p99 {p99:7.2} ms  p50 vs first page {:5.2}x  {verdict}",
            p50 / baseline
        );
    }
    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    run("SQLite", &format!("sqlite://{}", dir.path().join("bench.db").display())).await;
    // On the test server (CONTENTHUB_TEST_POSTGRES_URL, default 127.0.0.1:5432) unless
    // CONTENTHUB_TEST_SKIP=postgres says to leave it out.
    if let Some(database) = testkit::PgDatabase::create().await {
        run("PostgreSQL", &database.url).await;
    }
}
