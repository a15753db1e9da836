//! Runs the real `contenthub` binary: a first start on SQLite + a local folder and on PostgreSQL +
//! S3, with and without the demo; the printed admin password works, shutdown is graceful.

use std::process::Command;

mod common;
use common::{http, start, stop};

fn first_start_works(dir: &std::path::Path, extra: &[String], envs: &[(String, String)]) {
    let mut with_demo = extra.to_vec();
    with_demo.push("--demo".to_owned());
    let server = start(dir, &with_demo, envs);
    let password = common::admin_password(&server);
    assert!(server.lines.iter().any(|l| l.contains("Demo project")), "{:?}", server.lines);
    let (status, _) = http(&server.addr, "GET", "/readyz", &[], "");
    assert_eq!(status, 200);
    assert_eq!(common::sign_in(&server.addr, "admin", &password).0, 200);
    assert_eq!(common::sign_in(&server.addr, "admin", "wrong").0, 401);
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

/// PostgreSQL + S3, the studio set-up, from the same binary; nothing goes to the data folder.
#[test]
fn serves_on_postgres_and_s3_from_the_same_binary() {
    testkit::run_blocking(testkit::Backend::PostgresS3, |stack| {
        let dir = tempfile::tempdir().unwrap();
        let (args, envs) = stack.stack.binary_args();
        first_start_works(dir.path(), &args, &envs);
        assert!(!dir.path().join("contenthub.db").exists(), "nothing went to SQLite");
        assert!(!dir.path().join("blobs").exists(), "nothing went to the local folder");
        let users = stack.runtime.block_on(stack.stack.db.count_users()).unwrap();
        assert_eq!(users, 1 + 4, "the admin and the demo's people are in PostgreSQL");
    });
}

/// A plain first start, as the README's first command without `--demo`: an admin with a printed
/// password, no demo project, and the admin can sign in and sees no projects.
#[test]
fn a_plain_first_start_makes_only_the_admin() {
    let dir = tempfile::tempdir().unwrap();
    let server = start::<&str>(dir.path(), &[], &[]);
    let password = common::admin_password(&server);
    assert!(!server.lines.iter().any(|l| l.contains("Demo project")), "{:?}", server.lines);
    let (status, cookie) = common::sign_in(&server.addr, "admin", &password);
    assert_eq!(status, 200);
    let cookie = cookie.expect("a session cookie");
    let (status, body) = http(&server.addr, "GET", "/api/v1/projects", &[("Cookie", &cookie)], "");
    assert_eq!((status, body.trim()), (200, "[]"), "no demo project");
    let (status, page) = http(&server.addr, "GET", "/", &[("Cookie", &cookie)], "");
    assert_eq!(status, 200);
    assert!(page.contains("Administrator"), "signed in as the admin: {page}");
    assert!(page.contains("No projects yet") && page.contains("admin create-project"), "says how to begin: {page}");
    stop(server);
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

/// `admin reset-password` on the hub's machine ends the user's sessions on the running server,
/// and the new password works.
#[test]
fn a_password_reset_ends_the_sessions_of_a_running_hub() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &["--demo"], &[]);
    let password = common::admin_password(&server);
    let sign_in = |password: &str| {
        let (status, cookie) = common::sign_in(&server.addr, "admin", password);
        assert_eq!(status, 200);
        cookie.expect("a session cookie")
    };
    let cookie = sign_in(&password);
    assert_eq!(http(&server.addr, "GET", "/api/v1/me", &[("Cookie", &cookie)], "").0, 200);
    let out = Command::new(env!("CARGO_BIN_EXE_contenthub"))
        .args(["admin", "reset-password", "admin", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let fresh = stdout.split("new password for admin: ").nth(1).and_then(|r| r.split_whitespace().next()).unwrap();
    let (status, body) = http(&server.addr, "GET", "/api/v1/me", &[("Cookie", &cookie)], "");
    assert_eq!(status, 401, "the old session ended: {body}");
    let (status, _) = common::sign_in(&server.addr, "admin", &password);
    assert_eq!(status, 401, "the old password no longer works");
    let cookie = sign_in(fresh);
    assert_eq!(http(&server.addr, "GET", "/api/v1/me", &[("Cookie", &cookie)], "").0, 200);
    stop(server);
}

/// `contenthub openapi` prints the document the repository keeps (and the server serves).
#[test]
fn the_openapi_command_prints_the_committed_document() {
    let out = Command::new(env!("CARGO_BIN_EXE_contenthub")).arg("openapi").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../hub/openapi.json");
    assert_eq!(String::from_utf8(out.stdout).unwrap(), std::fs::read_to_string(committed).unwrap());
}

/// `serve` SIGKILLed while it records a declaration of 3,000 files leaves all of it or none of
/// it: never some of the files, never a delivery with part of its files. On both backends.
fn a_kill_during_a_declaration_leaves_all_or_nothing(stack: &testkit::BlockingStack) {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let (mut args, envs) = stack.stack.binary_args();
    args.push("--demo".into());
    let bind = format!("127.0.0.1:{}", common::free_port());
    let mut server = common::start_on(dir.path(), &bind, &args, &envs);
    let (hub_args, _) = stack.stack.binary_args();
    let token = Command::new(env!("CARGO_BIN_EXE_contenthub"))
        .args(["admin", "create-token", "soundhouse", "--data-dir"])
        .arg(dir.path())
        .args(&hub_args)
        .output()
        .unwrap();
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let db = &stack.stack.db;
    let vendor = stack.runtime.block_on(db.user_for_login("soundhouse")).unwrap().0;
    let mut landed = 0;
    for round in 0..6u64 {
        let files: Vec<serde_json::Value> = (0..3000)
            .map(|i| {
                serde_json::json!({"name": format!("kill{round}_{i:04}.wav"), "size": 10, "request_id": 1,
                    "metadata": {"reel": 4, "mix_type": "stems", "format": "5.1"}})
            })
            .collect();
        let body = serde_json::json!({"bucket": "final-sound", "files": files}).to_string();
        let mut stream = std::net::TcpStream::connect(&server.addr).unwrap();
        let head = format!(
            "POST /api/v1/projects/1/deliveries HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            server.addr,
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body.as_bytes()).unwrap();
        // A moment into the declaration (longer each round), then the power goes.
        std::thread::sleep(std::time::Duration::from_millis(30 + round * 120));
        stream.set_nonblocking(true).unwrap();
        let answered = matches!(stream.read(&mut [0u8; 1]), Ok(n) if n > 0);
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        if !answered {
            landed += 1;
        }
        server = common::start_on(dir.path(), &bind, &args, &envs);
        // All or nothing: every file of the round in one delivery, or none of them anywhere.
        let query =
            hub::db::AssetQuery { name_contains: Some(format!("kill{round}_")), limit: 500, ..Default::default() };
        let mut found = 0;
        let mut next = Some(query);
        while let Some(q) = next.take() {
            let page = stack.runtime.block_on(db.list_assets(1, hub_domain::BucketKind::FinalSound, &q)).unwrap();
            found += page.items.len();
            next = page.next.map(|after| hub::db::AssetQuery { after: Some(after), ..q.clone() });
        }
        let deliveries = stack.runtime.block_on(db.deliveries_seen_by(vendor.id, 100)).unwrap();
        let mut with_files = Vec::new();
        for id in &deliveries {
            let files = stack.runtime.block_on(db.delivery_files(*id)).unwrap();
            with_files.push(files.len());
        }
        eprintln!(
            "round {round}: answered before the kill: {answered}; files found: {found}; deliveries {with_files:?}"
        );
        assert!(found == 0 || found == 3000, "round {round}: {found} of 3000 files were left behind");
        assert!(
            with_files.iter().all(|n| *n == 3000),
            "round {round}: a delivery with part of its files: {with_files:?}"
        );
    }
    assert!(landed >= 1, "no kill landed before the hub answered");
    common::stop(server);
}

testkit::on_every_backend_blocking!(a_kill_during_a_declaration_leaves_all_or_nothing);

/// The vendor's commands show the vendor's options, not the server's (issue 13, bug 12); the
/// server's commands show theirs, each with what it is.
#[test]
fn help_shows_each_command_its_own_options() {
    let help = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_contenthub")).args(args).arg("--help").output().unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    for vendor in [&["upload"][..], &["deliver"], &["status"], &["transfers"], &["login"]] {
        let text = help(vendor);
        for server in ["--bind", "--database-url", "--storage-url", "--s3-endpoint", "--data-dir"] {
            assert!(!text.contains(server), "{vendor:?} --help shows {server}:\n{text}");
        }
    }
    assert!(help(&["upload"]).contains("--bucket"));
    for server in [&["serve"][..], &["worker"], &["config"], &["admin", "create-token"]] {
        let text = help(server);
        assert!(text.contains("Server settings") && text.contains("--database-url"), "{server:?}:\n{text}");
        // Every flag says what it is (on its line, or the next when the help is long).
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate().filter(|(_, l)| l.trim_start().starts_with("--")) {
            let next = lines.get(i + 1).map_or("", |n| n.trim_start());
            let said = line.split_whitespace().count() > 2 || (!next.is_empty() && !next.starts_with('-'));
            assert!(said, "{server:?}: a flag without help: {line}");
        }
    }
}

/// The demo is real (issue 13, bug 2): every demo asset's bytes are in the store, its history
/// says how it got to its state, and every state is one a real asset reaches — the delivered
/// ones are validated like any other and end Valid (or Invalid saying why); nothing stays
/// Validating; no Valid asset is empty. On both backends.
fn the_demo_is_made_of_real_deliveries(stack: &testkit::BlockingStack) {
    let dir = tempfile::tempdir().unwrap();
    let (args, envs) = common::demo_args(&stack.stack, &[]);
    let server = start(dir.path(), &args, &envs);
    let (hub_args, _) = stack.stack.binary_args();
    let token = Command::new(env!("CARGO_BIN_EXE_contenthub"))
        .args(["admin", "create-token", "studio", "--scope", "read", "--data-dir"])
        .arg(dir.path())
        .args(&hub_args)
        .output()
        .unwrap();
    let auth = format!("Bearer {}", String::from_utf8(token.stdout).unwrap().trim());
    let get = |path: &str| -> serde_json::Value {
        let (status, body) = http(&server.addr, "GET", path, &[("Authorization", &auth)], "");
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    };
    let buckets = ["final-sound", "picture-deliverables", "vfx", "dailies-bins", "footage"];
    let started = std::time::Instant::now();
    let assets = loop {
        let assets = buckets
            .iter()
            .flat_map(|b| get(&format!("/api/v1/projects/1/buckets/{b}/assets"))["items"].as_array().unwrap().clone())
            .collect::<Vec<_>>();
        let settling = assets.iter().any(|a| a["state"] == "delivered" || a["state"] == "validating");
        if !settling {
            break assets;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "demo assets never settled: {assets:?}");
        std::thread::sleep(std::time::Duration::from_millis(250));
    };
    let state_of =
        |name: &str| assets.iter().find(|a| a["name"] == name).unwrap_or_else(|| panic!("{name}"))["state"].clone();
    assert_eq!(assets.len(), 9);
    for name in ["DEMO_R1_PM51_EN.wav", "DEMO_R2_PM51_EN.wav", "DEMO_R1_VDM.zip", "sh010_comp_v003.exr", "D001_bin.zip"]
    {
        assert_eq!(state_of(name), "valid", "{name}");
    }
    assert_eq!(state_of("DEMO_R3_STEMS.wav"), "invalid");
    assert_eq!(state_of("DEMO_R2_VDM.zip"), "in_progress");
    assert_eq!(state_of("sh020_comp_v001.mov"), "failed_delivery");
    for asset in &assets {
        let id = asset["id"].as_i64().unwrap();
        let history = get(&format!("/api/v1/assets/{id}/history"));
        assert!(!history.as_array().unwrap().is_empty(), "{}: no history", asset["name"]);
        if asset["state"] == "valid" {
            assert!(asset["size"].as_i64().unwrap() > 0, "{asset}");
            // Its bytes are there (the first one, as a player or a resumed download asks).
            let headers = [("Authorization", auth.as_str()), ("Range", "bytes=0-0")];
            let (status, _) = http(&server.addr, "GET", &format!("/api/v1/assets/{id}/content"), &headers, "");
            assert_eq!(status, 206, "{}", asset["name"]);
        }
    }
    let invalid = assets.iter().find(|a| a["name"] == "DEMO_R3_STEMS.wav").unwrap()["id"].as_i64().unwrap();
    let report = get(&format!("/api/v1/assets/{invalid}/validation")).to_string();
    assert!(report.contains("was declared"), "says why: {report}");
    stop(server);
}

testkit::on_every_backend_blocking!(the_demo_is_made_of_real_deliveries);
