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

/// Makes a token for the demo sound vendor and signs the CLI in with it.
fn sign_in(data: &std::path::Path, home: &std::path::Path, addr: &str) {
    sign_in_as("soundhouse", data, home, addr);
}

fn sign_in_as(user: &str, data: &std::path::Path, home: &std::path::Path, addr: &str) {
    let token = Command::new(env!("CARGO_BIN_EXE_contenthub"))
        .args(["admin", "create-token", user, "--data-dir"])
        .arg(data)
        .output()
        .unwrap();
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let out = contenthub(home).args(["login", &format!("http://{addr}"), "--token", &token]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn login_upload_resume_and_validate() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let home = dir.path().join("home");
    let server = common::start(&data, &[], &[]);
    sign_in(&data, &home, &server.addr);

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

    // A big file: the first upload is killed mid-way; the same command continues it.
    let big = dir.path().join("r4_me51.wav");
    let data_bytes: Vec<u8> = (0..400_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&big, &data_bytes).unwrap();
    let me = ["--meta", "reel=4", "--meta", "mix_type=M&E", "--meta", "format=5.1"];
    let mut first = contenthub(&home)
        .args(["upload", "--project", "1", "--bucket", "final-sound", "--request", "2", "--md5", "--split", "2"])
        .args(me)
        .arg(&big)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let journal = home.join("journal.json");
    let started = Instant::now();
    while !std::fs::read_to_string(&journal).is_ok_and(|j| j.contains("r4_me51.wav")) {
        assert!(started.elapsed() < Duration::from_secs(60), "the upload never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    first.kill().unwrap();
    let status = first.wait().unwrap();
    assert!(!status.success(), "the first upload was cut short");
    // `transfers` shows what is stopped and how far the hub has it.
    let out = contenthub(&home).args(["transfers", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = rows.as_array().unwrap().iter().find(|r| r["name"] == "r4_me51.wav").expect("listed");
    assert_eq!((row["size"].as_u64(), row["parts"].as_u64()), (Some(400_000_000), Some(2)), "{row}");
    assert!(row["sent"].as_u64().unwrap() < 400_000_000, "{row}");
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
    common::stop(server);
}

#[test]
fn a_separate_worker_process_validates_what_serve_receives() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let home = dir.path().join("home");
    let server = common::start(&data, &["--workers", "0"], &[]);
    sign_in(&data, &home, &server.addr);
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
    std::thread::sleep(Duration::from_millis(1500));
    let status = || {
        let out = contenthub(&home).args(["status", &id, "--json"]).output().unwrap();
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["files"][0]["state"].clone()
    };
    assert_eq!(status(), "delivered", "no worker in serve: nothing validates it");

    let mut worker = Command::new(env!("CARGO_BIN_EXE_contenthub"))
        .args(["worker", "--data-dir"])
        .arg(&data)
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
/// Valid with every byte identical.
#[test]
fn serve_killed_at_any_moment_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let home = dir.path().join("home");
    let bind = format!("127.0.0.1:{}", common::free_port());
    let mut server = common::start_on(&data, &bind, &[], &[]);
    sign_in(&data, &home, &server.addr);
    // Big enough to go as parallel parts (tus concatenation), not constant, not periodic.
    let file = dir.path().join("r1_pm51.wav");
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let bytes: Vec<u8> = (0..300_000_000u32)
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
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut seed = 7u64;
    for round in 0..3 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(150 + (seed >> 33) % 500));
        if upload.try_wait().unwrap().is_some() {
            break; // finished before this kill
        }
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        server = common::start_on(&data, &bind, &[], &[]);
        eprintln!("round {round}: serve killed and restarted");
    }
    let started = Instant::now();
    while upload.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(240), "the upload never finished");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = upload.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["state"], "delivered", "{result}");
    assert_eq!(result["files"][0]["state"], "valid", "the hub's md5 is the file's: {result}");
    common::stop(server);
}

/// A frame folder with its checksum.txt goes as one zipless package: `deliver --request` takes the
/// request's metadata, every frame is its own upload, and the package is validated as a whole;
/// a folder without checksum.txt is refused with what to do.
#[test]
fn a_frame_folder_is_delivered_as_one_package() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let home = dir.path().join("home");
    let server = common::start(&data, &[], &[]);
    sign_in_as("lab", &data, &home, &server.addr);
    let folder = dir.path().join("r3_vdm_frames");
    std::fs::create_dir_all(&folder).unwrap();
    for i in 0..40u32 {
        let frame: Vec<u8> = (0..50_000 + i).map(|b| (b.wrapping_mul(31) ^ i) as u8).collect();
        std::fs::write(folder.join(format!("r3.{:07}.dpx", 86400 + i)), frame).unwrap();
    }
    let out = contenthub(&home).args(["deliver", "--request", "3"]).arg(&folder).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("npack checksum -s"), "{stderr}");

    let scan = npack::scan_folder(&folder).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let entries = npack::checksum_files(&scan.files, 2, &stop, &npack::NoProgress).unwrap();
    std::fs::write(folder.join("checksum.txt"), npack::checksum::render(&entries)).unwrap();
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
    common::stop(server);
}
