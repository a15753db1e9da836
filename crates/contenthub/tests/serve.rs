//! Runs the real `contenthub` binary: first start on SQLite (and on PostgreSQL when
//! `CONTENTHUB_TEST_POSTGRES_URL` is set), the printed admin password works, shutdown is graceful.

use std::process::Command;

mod common;
use common::{http, start, stop};

fn first_start_works(dir: &std::path::Path, extra: &[&str], envs: &[(String, String)]) {
    let server = start(dir, extra, envs);
    let password = common::admin_password(&server);
    assert!(server.lines.iter().any(|l| l.contains("Demo project")), "{:?}", server.lines);
    let (status, _) = http(&server.addr, "GET", "/readyz", &[], "");
    assert_eq!(status, 200);
    let login = format!("{{\"username\":\"admin\",\"password\":\"{password}\"}}");
    let (status, body) = http(&server.addr, "POST", "/api/v1/session", &[("Content-Type", "application/json")], &login);
    assert_eq!(status, 200, "{body}");
    let (status, _) = http(
        &server.addr,
        "POST",
        "/api/v1/session",
        &[("Content-Type", "application/json")],
        "{\"username\":\"admin\",\"password\":\"wrong\"}",
    );
    assert_eq!(status, 401);
    stop(server);

    // A second start keeps the data and prints no new password.
    let server = start(dir, extra, envs);
    assert!(!server.lines.iter().any(|l| l.contains("with password")), "{:?}", server.lines);
    stop(server);
}

#[test]
fn serves_on_sqlite_by_default() {
    let dir = tempfile::tempdir().unwrap();
    first_start_works(dir.path(), &[], &[]);
    assert!(dir.path().join("contenthub.db").is_file());
}

#[test]
fn serves_on_postgres_from_the_same_binary() {
    let Ok(admin_url) = std::env::var("CONTENTHUB_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED: set CONTENTHUB_TEST_POSTGRES_URL (scripts/test.sh does) to start the server on PostgreSQL");
        return;
    };
    let name = format!("contenthub_serve_{}", std::process::id());
    let psql = |sql: &str| {
        let ok = Command::new("psql").args([admin_url.as_str(), "-qc", sql]).status().map(|s| s.success());
        assert_eq!(ok.ok(), Some(true), "psql {sql}");
    };
    psql(&format!("DROP DATABASE IF EXISTS {name}"));
    psql(&format!("CREATE DATABASE {name}"));
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    let url = format!("{base}/{name}");
    let dir = tempfile::tempdir().unwrap();
    // With S3 too when the test script runs an S3-compatible server: the studio set-up.
    let s3 = std::env::var("CONTENTHUB_TEST_S3_ENDPOINT").ok().map(|endpoint| {
        let bucket = std::env::var("CONTENTHUB_TEST_S3_BUCKET").unwrap();
        let key = std::env::var("CONTENTHUB_TEST_S3_ACCESS_KEY").unwrap();
        (endpoint, format!("s3://{bucket}"), key)
    });
    let mut args = vec!["--database-url".to_owned(), url.clone()];
    let mut envs = Vec::new();
    if let Some((endpoint, storage, key)) = &s3 {
        args.extend(
            ["--storage-url", storage, "--s3-endpoint", endpoint, "--s3-access-key-id", key, "--s3-path-style", "true"]
                .map(String::from),
        );
        // The secret goes through the environment, as an operator would pass it.
        let secret = std::env::var("CONTENTHUB_TEST_S3_SECRET_KEY").unwrap();
        envs.push(("CONTENTHUB_S3_SECRET_ACCESS_KEY".to_owned(), secret));
    } else {
        eprintln!("S3 part SKIPPED: set CONTENTHUB_TEST_S3_ENDPOINT (scripts/test.sh does)");
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    first_start_works(dir.path(), &args, &envs);
    assert!(!dir.path().join("contenthub.db").exists(), "nothing went to SQLite");
    if s3.is_some() {
        assert!(!dir.path().join("blobs").exists(), "nothing went to the local folder");
    }
    psql(&format!("DROP DATABASE {name} WITH (FORCE)"));
}

#[test]
fn config_prints_the_effective_settings_without_secrets() {
    let out = Command::new(env!("CARGO_BIN_EXE_contenthub"))
        .arg("config")
        .env("CONTENTHUB_S3_SECRET_ACCESS_KEY", "hush")
        .env("CONTENTHUB_BIND", "127.0.0.1:9999")
        .env("CONTENTHUB_TYPO", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("bind = \"127.0.0.1:9999\"") && !stdout.contains("hush"), "{stdout}");
    assert!(stderr.contains("CONTENTHUB_TYPO"), "{stderr}");
}

#[test]
fn unreachable_storage_is_a_clear_start_up_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_contenthub"))
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .args(["--storage-url", "s3://nowhere", "--s3-endpoint", "http://127.0.0.1:9", "--s3-path-style", "true"])
        .env("CONTENTHUB_LOG", "error")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("cannot reach the blob storage (s3://nowhere at http://127.0.0.1:9)"), "{stderr}");
    let out = Command::new(env!("CARGO_BIN_EXE_contenthub"))
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .args(["--storage-url", "ftp://x"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("neither file://PATH nor s3://BUCKET"));
}
