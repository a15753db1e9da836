//! The delivery CLI against the real server: login, upload with --wait, clear errors, and an
//! upload killed mid-way that the same command continues.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn contenthub(home: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_contenthub"));
    command.env("CONTENTHUB_HOME", home).env("CONTENTHUB_LOG", "warn");
    command
}

/// A token of `scope` for `user`, made by `admin create-token` on the hub's database (`hub_args`
/// name it when it is not the data folder's SQLite).
fn token_for(user: &str, scope: &str, data: &std::path::Path, hub_args: &[String]) -> String {
    let token = Command::new(env!("CARGO_BIN_EXE_contenthub"))
        .args(["admin", "create-token", user, "--scope", scope, "--data-dir"])
        .arg(data)
        .args(hub_args)
        .output()
        .unwrap();
    String::from_utf8(token.stdout).unwrap().trim().to_owned()
}

/// Signs the CLI in as `user` with a new token of the manage scope; returns the token.
fn sign_in_as(user: &str, data: &std::path::Path, hub_args: &[String], home: &std::path::Path, addr: &str) -> String {
    let token = token_for(user, "manage", data, hub_args);
    let out = contenthub(home).args(["login", &format!("http://{addr}"), "--token", &token]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    token
}

#[test]
fn login_upload_resume_and_validate() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let home = dir.path().join("home");
    let server = common::start(&data, &["--demo"], &[]);
    let token = sign_in_as("soundhouse", &data, &[], &home, &server.addr);

    // A small file, delivered and validated in one command.
    let small = dir.path().join("r4_pm51.wav");
    std::fs::write(&small, vec![7u8; 3_000_000]).unwrap();
    let meta = ["--meta", "reel=4", "--meta", "mix_type=printmaster", "--meta", "format=5.1"];
    let out = contenthub(&home)
        .args(["upload", "--project", "1", "--bucket", "final-sound", "--request", "1", "--wait", "--json"])
        .args(meta)
        .arg(&small)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["files"][0]["state"], "valid", "{result}");

    // Bad metadata: refused before any byte moves, with the field and what to do.
    let out =
        contenthub(&home).args(["upload", "--project", "1", "--bucket", "final-sound"]).arg(&small).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("files[0].metadata.mix_type: Mix type is required"), "{stderr}");
    // A bucket outside the vendor's scope: the CLI names what was not found and for whom (issue 13,
    // bug 12), and the same for a delivery number that is not theirs.
    let out = contenthub(&home)
        .args(["upload", "--project", "1", "--bucket", "vfx", "--meta", "shot=sh1", "--meta", "version=1"])
        .arg(&small)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("bucket vfx in project 1 is not visible to soundhouse"), "{stderr}");
    let out = contenthub(&home).args(["status", "999999"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("delivery 999999 is not visible to soundhouse"), "{stderr}");

    // A big file: the first upload is killed mid-way; the same command continues it.
    let big = dir.path().join("r4_me51.wav");
    let data_bytes: Vec<u8> = (0..400_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&big, &data_bytes).unwrap();
    let me = ["--meta", "reel=4", "--meta", "mix_type=M&E", "--meta", "format=5.1"];
    let mut first = contenthub(&home)
        .args(["upload", "--project", "1", "--bucket", "final-sound", "--request", "2", "--md5", "--split", "2"])
        .args(["--max-rate", "100M"]) // so that the kill below lands mid-way on any machine
        .args(me)
        .arg(&big)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let journal = home.join("journal.json");
    // The kill lands in flight: once the hub has acknowledged some bytes of both pieces (40 MB at
    // 100 MB/s), and before it has all.
    let started = Instant::now();
    while acknowledged(&home, "r4_me51.wav").unwrap_or(0) < 40_000_000 {
        assert!(started.elapsed() < Duration::from_secs(60), "the upload never started");
        assert!(first.try_wait().unwrap().is_none(), "the upload ended before it could be cut short");
        std::thread::sleep(Duration::from_millis(20));
    }
    first.kill().unwrap();
    let status = first.wait().unwrap();
    assert!(!status.success(), "the first upload was cut short");
    // One of its pieces is gone from the hub meanwhile (terminated; the reaper would do the same):
    // the same command asks for it again and sends its range anew.
    let entries: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&journal).unwrap()).unwrap();
    let piece = entries["entries"]
        .as_object()
        .unwrap()
        .values()
        .find(|e| e["name"] == "r4_me51.wav")
        .and_then(|e| e["parts"][0].as_str())
        .expect("the journal lists the file's pieces")
        .to_owned();
    let auth = format!("Bearer {token}");
    let headers = [("Authorization", auth.as_str()), ("Tus-Resumable", "1.0.0")];
    assert_eq!(common::http(&server.addr, "DELETE", &piece, &headers, "").0, 204, "the piece is terminated");
    // `transfers` shows what is stopped and how far the hub has it.
    let out = contenthub(&home).args(["transfers", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = rows.as_array().unwrap().iter().find(|r| r["name"] == "r4_me51.wav").expect("listed");
    assert_eq!((row["size"].as_u64(), row["parts"].as_u64()), (Some(400_000_000), Some(2)), "{row}");
    let at_kill = row["sent"].as_u64().unwrap();
    assert!(at_kill > 0 && at_kill < 400_000_000, "the kill hit a transfer in flight: {row}");
    let received_before = received_bytes(&server.addr);
    let out = contenthub(&home).arg("transfers").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("r4_me51.wav") && text.contains("to resume"), "{text}");
    let out = contenthub(&home)
        .args(["upload", "--project", "1", "--bucket", "final-sound", "--request", "2", "--wait", "--json", "--md5"])
        .args(["--split", "2"])
        .args(me)
        .arg(&big)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("continuing delivery"), "{stderr}");
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["files"][0]["state"], "valid", "md5 matched after the resume: {result}");
    assert!(!std::fs::read_to_string(&journal).unwrap().contains("r4_me51.wav"), "the journal is cleared");
    // It continued from the hub's offsets: it sent what was missing (give or take a chunk per
    // stream), not the whole file again.
    let resent = received_bytes(&server.addr) - received_before;
    let missing = 400_000_000 - at_kill;
    assert!(resent >= missing && resent < missing + 2 * (16 << 20), "sent {resent} bytes to fill {missing}");
    common::stop(server);
}

/// A long link that drops mid-transfer (issue 14, item 3): the CLI talks to the hub through a
/// delay line (40 ms round trip, 1 MiB in flight per connection) that drops every connection once
/// 24 MiB have gone up. The 64 MiB file still arrives whole (Valid, its md5 checked): the CLI
/// continued from the hub's offset and sent what was missing, give or take what was in flight,
/// not the whole file again.
#[test]
fn a_long_link_that_drops_mid_transfer_resumes_from_the_hubs_offset() {
    use testkit::delayline::{DelayLine, Link};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let home = dir.path().join("home");
    let server = common::start(&data, &["--demo"], &[]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let size: u64 = 64 << 20;
    let link = Link { rtt: Duration::from_millis(40), window: 1 << 20, cut_after: Some(24 << 20) };
    let line = runtime.block_on(DelayLine::start(server.addr.parse().unwrap(), link, None)).unwrap();
    sign_in_as("studio", &data, &[], &home, &line.addr.to_string());
    let file = dir.path().join("1m07_long_link.wav");
    std::fs::write(&file, (0..size).map(|i| (i % 251) as u8).collect::<Vec<u8>>()).unwrap();
    let out = contenthub(&home)
        .args(["upload", "--project", "1", "--bucket", "music", "--meta", "cue=1M07", "--md5", "--wait", "--json"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["files"][0]["state"], "valid", "{result}");
    assert_eq!(line.cuts(), 1, "the line dropped the transfer once");
    let sent = line.upstream_bytes();
    let slack = (16 << 20) + (2 << 20); // a chunk and the window in flight when the line dropped
    assert!(sent >= size && sent < size + slack, "sent {sent} bytes upstream for a {size}-byte file");
    common::stop(server);
}

/// The bytes of `name` the hub has acknowledged, as `transfers --json` reads them from the hub;
/// `None` until the CLI's journal lists it, and when the hub could not say (it is restarting, or
/// the parts were already joined into the whole file and are gone).
fn acknowledged(home: &std::path::Path, name: &str) -> Option<u64> {
    let out = contenthub(home).args(["transfers", "--json"]).output().unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let row = rows.as_array()?.iter().find(|r| r["name"] == name)?;
    if !row["error"].is_null() {
        return None;
    }
    row["sent"].as_u64()
}

/// Writes a folder's checksum.txt, as `npack checksum -s` does.
fn write_checksum_txt(folder: &std::path::Path) {
    let scan = npack::scan_folder(folder).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let entries = npack::checksum_files(&scan.files, 2, &stop, &npack::NoProgress).unwrap();
    std::fs::write(folder.join("checksum.txt"), npack::checksum::render(&entries)).unwrap();
}

/// Upload body bytes this `serve` process has read, from its metrics.
fn received_bytes(addr: &str) -> u64 {
    let (status, text) = common::http(addr, "GET", "/metrics", &[], "");
    assert_eq!(status, 200);
    text.lines()
        .find_map(|l| l.strip_prefix("contenthub_upload_bytes_received_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no upload byte counter in {text}"))
}

testkit::on_every_backend_blocking!(a_separate_worker_process_validates_what_serve_receives);

fn a_separate_worker_process_validates_what_serve_receives(stack: &testkit::BlockingStack) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let home = dir.path().join("home");
    let (args, envs) = common::demo_args(&stack.stack, &["--workers", "0"]);
    let server = common::start(&data, &args, &envs);
    let (hub_args, _) = stack.stack.binary_args();
    sign_in_as("soundhouse", &data, &hub_args, &home, &server.addr);
    let file = dir.path().join("r4_pm51.wav");
    std::fs::write(&file, vec![3u8; 1_000_000]).unwrap();
    let out = contenthub(&home)
        .args(["upload", "--project", "1", "--bucket", "final-sound", "--request", "1", "--json"])
        .args(["--meta", "reel=4", "--meta", "mix_type=printmaster", "--meta", "format=5.1"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let delivery: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = delivery["id"].as_i64().unwrap().to_string();
    let status = || {
        let out = contenthub(&home).args(["status", &id, "--json"]).output().unwrap();
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["files"][0]["state"].clone()
    };
    assert_eq!(status(), "delivered", "no worker in serve: nothing validates it");

    let mut worker = Command::new(env!("CARGO_BIN_EXE_contenthub"))
        .args(["worker", "--data-dir"])
        .arg(&data)
        .args(&hub_args)
        .envs(envs)
        .env("CONTENTHUB_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while status() != "valid" {
        assert!(started.elapsed() < Duration::from_secs(60), "the worker never validated the file");
        std::thread::sleep(Duration::from_millis(200));
    }
    Command::new("kill").args(["-TERM", &worker.id().to_string()]).status().unwrap();
    assert!(worker.wait().unwrap().success(), "the worker stops cleanly");
    common::stop(server);
}

/// Killing `serve` (SIGKILL) at random moments of a delivery loses nothing acknowledged: the CLI
/// waits for the hub to come back, continues from the offsets the hub recorded, and the file ends
/// Valid with every byte identical. Each kill lands while bytes are in flight, and what the hub
/// had acknowledged before a kill is still there after it. On both backends: on S3 the sub-part
/// rest of every chunk lives in a pending blob.
fn serve_killed_at_any_moment_loses_nothing(stack: &testkit::BlockingStack) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let home = dir.path().join("home");
    let bind = format!("127.0.0.1:{}", common::free_port());
    let (args, envs) = common::demo_args(&stack.stack, &[]);
    let mut server = common::start_on(&data, &bind, &args, &envs);
    let (hub_args, _) = stack.stack.binary_args();
    sign_in_as("soundhouse", &data, &hub_args, &home, &server.addr);
    // Big enough to go as parallel pieces (written in place by the hub), not constant, not periodic.
    let file = dir.path().join("r1_pm51.wav");
    let size = 300_000_000u64;
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let bytes: Vec<u8> = (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(&file, &bytes).unwrap();
    let mut upload = contenthub(&home)
        .args(["upload", "--project", "1", "--bucket", "final-sound", "--request", "1", "--md5", "--wait", "--json"])
        .args(["--meta", "reel=4", "--meta", "mix_type=printmaster", "--meta", "format=5.1", "--split", "2"])
        .args(["--max-rate", "60M"]) // about five seconds: every kill below lands mid-way
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let name = "r1_pm51.wav";
    let mut seed = 7u64;
    let mut floor = 0; // what the hub had acknowledged at the last kill
    let mut kills = 0;
    for round in 0..3 {
        // Wait for progress past the last kill, then a random moment more, then kill in flight.
        let started = Instant::now();
        while acknowledged(&home, name).is_none_or(|sent| sent <= floor) && upload.try_wait().unwrap().is_none() {
            assert!(started.elapsed() < Duration::from_secs(120), "round {round}: no progress past {floor} bytes");
            std::thread::sleep(Duration::from_millis(20));
        }
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis((seed >> 33) % 300));
        let Some(before) = acknowledged(&home, name) else { break };
        if upload.try_wait().unwrap().is_some() || before >= size {
            break; // finished before this kill
        }
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        kills += 1;
        assert!(before > 0 && before < size, "round {round}: the kill hit a transfer in flight ({before} of {size})");
        server = common::start_on(&data, &bind, &args, &envs);
        let after = acknowledged(&home, name);
        if let Some(after) = after {
            assert!(
                after >= before,
                "round {round}: the hub acknowledged {before} bytes before the kill, {after} after"
            );
        }
        floor = after.unwrap_or(before);
        eprintln!("round {round}: serve killed at {before} of {size} acknowledged bytes and restarted");
    }
    assert!(kills >= 1, "at least one kill landed in flight");
    let started = Instant::now();
    while upload.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(240), "the upload never finished");
        if let Some(sent) = acknowledged(&home, name) {
            assert!(sent >= floor, "the upload went back from {floor} to {sent} bytes: it started over");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = upload.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["state"], "delivered", "{result}");
    assert_eq!(result["files"][0]["state"], "valid", "the hub's md5 is the file's: {result}");
    // The last `serve` read at most what was missing at its start (plus a chunk per stream).
    assert!(received_bytes(&server.addr) < size - floor + 2 * (16 << 20), "the last serve was sent the file again");
    common::stop(server);
}

testkit::on_every_backend_blocking!(serve_killed_at_any_moment_loses_nothing);

/// A frame folder with its checksum.txt goes as one zipless package: `deliver --request` takes the
/// request's metadata, the frames travel back to back in as many streams as `--parallel` says
/// (not an upload each), and the package is validated as a whole; a folder without checksum.txt
/// is refused with what to do.
#[test]
fn a_frame_folder_is_delivered_as_one_package() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let home = dir.path().join("home");
    let server = common::start(&data, &["--demo"], &[]);
    sign_in_as("lab", &data, &[], &home, &server.addr);
    let folder = dir.path().join("r3_vdm_frames");
    std::fs::create_dir_all(&folder).unwrap();
    for i in 0..40u32 {
        let frame: Vec<u8> = (0..50_000 + i).map(|b| (b.wrapping_mul(31) ^ i) as u8).collect();
        std::fs::write(folder.join(format!("r3.{:07}.dpx", 86400 + i)), frame).unwrap();
    }
    let out = contenthub(&home).args(["deliver", "--request", "3"]).arg(&folder).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("npack checksum -s"), "{stderr}");

    write_checksum_txt(&folder);
    let out = contenthub(&home)
        .args(["deliver", "--request", "3", "--wait", "--json", "--parallel", "3"])
        .arg(&folder)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let file = &result["files"][0];
    assert_eq!((file["name"].as_str(), file["state"].as_str()), (Some("r3_vdm_frames"), Some("valid")), "{result}");
    assert_eq!(file["package"]["files"], 41, "40 frames and checksum.txt: {result}");
    let token = token_for("lab", "read", &data, &[]);
    let auth = format!("Bearer {token}");
    let uri = format!("/api/v1/assets/{}/members?limit=100", file["asset_id"]);
    let (status, members) = common::http(&server.addr, "GET", &uri, &[("Authorization", auth.as_str())], "");
    assert_eq!(status, 200, "{members}");
    let members: serde_json::Value = serde_json::from_str(&members).unwrap();
    let uploads: std::collections::BTreeSet<&str> =
        members.as_array().unwrap().iter().map(|m| m["upload"].as_str().unwrap()).collect();
    assert_eq!(uploads.len(), 3, "41 files in 3 streams: {members}");
    common::stop(server);
}

/// A package of many files is validated in `serve`'s validation child too: its layout (a line
/// per file, over a megabyte here) reaches the child whole, and the answer comes back.
#[test]
fn a_package_of_fifteen_thousand_files_is_validated_in_the_child_process() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let home = dir.path().join("home");
    let server = common::start(&data, &["--demo"], &[]);
    sign_in_as("lab", &data, &[], &home, &server.addr);
    let folder = dir.path().join("r6_frames");
    std::fs::create_dir_all(&folder).unwrap();
    for i in 0..15_000u32 {
        std::fs::write(folder.join(format!("r6.{i:07}.dpx")), i.to_le_bytes().repeat(25)).unwrap();
    }
    write_checksum_txt(&folder);
    let out = contenthub(&home).args(["deliver", "--request", "3", "--wait", "--json"]).arg(&folder).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let file = &result["files"][0];
    assert_eq!((file["state"].as_str(), file["package"]["files"].as_i64()), (Some("valid"), Some(15_001)), "{result}");
    common::stop(server);
}

testkit::on_every_backend_blocking!(a_package_resumes_after_the_client_and_then_the_hub_are_killed_mid_way);

/// Issue 14: a package's streams resume from the hub's offsets. The CLI is killed while the
/// package is going up and the same command continues it; then `serve` is killed mid-way and
/// started again, and the CLI waits for it and goes on. The package ends Valid (every file's md5
/// checked), what was acknowledged never goes back, and neither restart sent the package again.
fn a_package_resumes_after_the_client_and_then_the_hub_are_killed_mid_way(stack: &testkit::BlockingStack) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let home = dir.path().join("home");
    let bind = format!("127.0.0.1:{}", common::free_port());
    let (args, envs) = common::demo_args(&stack.stack, &[]);
    let mut server = common::start_on(&data, &bind, &args, &envs);
    let (hub_args, _) = stack.stack.binary_args();
    sign_in_as("lab", &data, &hub_args, &home, &server.addr);
    let name = "r5_frames";
    let folder = dir.path().join(name);
    std::fs::create_dir_all(&folder).unwrap();
    let (count, frame) = (2000u32, 100_000u32);
    for i in 0..count {
        let bytes: Vec<u8> = (0..frame).map(|b| (b.wrapping_mul(2_654_435_761) >> 13 ^ i) as u8).collect();
        std::fs::write(folder.join(format!("r5.{:07}.dpx", 1000 + i)), bytes).unwrap();
    }
    write_checksum_txt(&folder);
    let size = u64::from(count * frame) + std::fs::metadata(folder.join("checksum.txt")).unwrap().len();
    let command = || {
        let mut command = contenthub(&home);
        command.args(["deliver", "--request", "3", "--wait", "--json", "--max-rate", "40M"]).arg(&folder);
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        command
    };
    let progress_past = |floor: u64, what: &str, child: &mut std::process::Child| {
        let started = Instant::now();
        while acknowledged(&home, name).is_none_or(|sent| sent <= floor) {
            assert!(started.elapsed() < Duration::from_secs(120), "{what}: no progress past {floor} bytes");
            if child.try_wait().unwrap().is_some() {
                let mut stderr = String::new();
                std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
                panic!("{what}: the upload ended before it could be cut short: {stderr}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(300));
        acknowledged(&home, name).unwrap()
    };

    // The client is killed mid-way; the same command continues the delivery.
    let mut first = command().spawn().unwrap();
    let at_client_kill = progress_past(0, "the first run", &mut first);
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(at_client_kill < size, "the kill hit the package in flight ({at_client_kill} of {size})");
    let mut second = command().spawn().unwrap();
    // Then the hub is killed mid-way and started again.
    let before = progress_past(at_client_kill, "the second run", &mut second);
    assert!(before < size, "the hub's kill hits the package in flight ({before} of {size})");
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    server = common::start_on(&data, &bind, &args, &envs);
    if let Some(after) = acknowledged(&home, name) {
        assert!(after >= before, "the hub acknowledged {before} bytes before its kill, {after} after");
    }
    let out = second.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("continuing delivery"), "{stderr}");
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let file = &result["files"][0];
    assert_eq!((file["name"].as_str(), file["state"].as_str()), (Some(name), Some("valid")), "{result}");
    assert_eq!(file["package"]["files"], i64::from(count) + 1);
    // The restarted hub was sent what it lacked, give or take a chunk in flight per stream.
    let resent = received_bytes(&server.addr);
    assert!(
        resent < size - before + 4 * (16 << 20),
        "the restarted hub got {resent} bytes; it lacked {}",
        size - before
    );
    common::stop(server);
}

/// No file takes the server down (issue 12, scenario 2): hostile movies and packages are checked
/// by `serve`'s validation children, each ends Invalid with its reason, a good file delivered
/// with them ends Valid, and the `serve` process is the same one throughout, healthy. On both
/// backends (the child opens the S3 store from the settings it is handed).
fn hostile_files_fail_only_themselves(stack: &testkit::BlockingStack) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let home = dir.path().join("home");
    let (args, envs) = common::demo_args(&stack.stack, &[]);
    let mut server = common::start(&data, &args, &envs);
    let pid = server.child.id();
    let (hub_args, _) = stack.stack.binary_args();
    let token = sign_in_as("studio", &data, &hub_args, &home, &server.addr);
    let auth = format!("Bearer {token}");
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json")];
    // The remux runs (and follows the deep movie's boxes) only where the project asks for it.
    let (status, _) =
        common::http(&server.addr, "PATCH", "/api/v1/projects/1", &headers, r#"{"fast_start_remux":true}"#);
    assert_eq!(status, 200);
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    let mut expected = Vec::new();
    for (name, bytes, reason) in media::sample::hostile_movies() {
        std::fs::write(files.join(format!("sh090_{name}")), bytes).unwrap();
        expected.push((format!("sh090_{name}"), "invalid", reason));
    }
    for (n, (_, bytes, reason)) in testkit::zip::hostile_packages().into_iter().enumerate() {
        std::fs::write(files.join(format!("sh090_package{n}.zip")), bytes).unwrap();
        expected.push((format!("sh090_package{n}.zip"), "invalid", reason));
    }
    std::fs::write(files.join("sh090_good.mp4"), media::sample::movie(b"avc1", true).0).unwrap();
    expected.push(("sh090_good.mp4".to_owned(), "valid", ""));
    let mut names: Vec<_> = std::fs::read_dir(&files).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    let out = contenthub(&home)
        .args([
            "upload",
            "--project",
            "1",
            "--bucket",
            "footage",
            "--meta",
            "shoot_day=2026-10-05",
            "--meta",
            "type=proxy",
        ])
        .args(["--wait", "--json"])
        .args(&names)
        .output()
        .unwrap();
    let result: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    for (name, state, reason) in &expected {
        let file = result["files"].as_array().unwrap().iter().find(|f| f["name"] == name.as_str()).unwrap();
        let uri = format!("/api/v1/assets/{}/validation", file["asset_id"]);
        let (_, report) = common::http(&server.addr, "GET", &uri, &headers[..1], "");
        assert_eq!(file["state"], *state, "{name}: {report}");
        assert!(report.contains(reason), "{name} should say {reason:?}: {report}");
    }
    assert!(matches!(server.child.try_wait(), Ok(None)), "serve is still running");
    assert_eq!(server.child.id(), pid);
    assert_eq!(common::http(&server.addr, "GET", "/healthz", &[], "").0, 200);
    common::stop(server);
}

testkit::on_every_backend_blocking!(hostile_files_fail_only_themselves);
