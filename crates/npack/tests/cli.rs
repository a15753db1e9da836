//! Runs the real `npack` binary in temporary folders. Each helper prints the command, its status,
//! stdout and stderr when an assertion fails.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::AtomicBool;

fn npack() -> Command {
    Command::new(env!("CARGO_BIN_EXE_npack"))
}

struct Run {
    what: String,
    out: Output,
}

impl Run {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    fn dump(&self) -> String {
        format!(
            "{}\nstatus: {:?}\n--- stdout\n{}--- stderr\n{}",
            self.what,
            self.out.status,
            self.stdout(),
            self.stderr()
        )
    }
    #[track_caller]
    fn code(&self, expected: i32) -> &Self {
        assert_eq!(self.out.status.code(), Some(expected), "{}", self.dump());
        self
    }
    #[track_caller]
    fn says(&self, needle: &str) -> &Self {
        let all = format!("{}{}", self.stdout(), self.stderr());
        assert!(all.contains(needle), "expected {needle:?} in output\n{}", self.dump());
        self
    }
}

fn run(args: &[&str]) -> Run {
    let out = npack().args(args).output().expect("npack runs");
    Run { what: format!("npack {}", args.join(" ")), out }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// A folder of frames `shot010.0086400.dpx` … with deterministic contents.
fn frames(dir: &Path, count: usize, size: usize) -> PathBuf {
    let src = dir.join("frames");
    fs::create_dir_all(&src).unwrap();
    for i in 0..count {
        let data: Vec<u8> = (0..size).map(|b| (b * 31 + i * 7) as u8).collect();
        fs::write(src.join(format!("shot010.{:07}.dpx", 86400 + i)), data).unwrap();
    }
    src
}

fn leftovers(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("npack") || n.ends_with(".zip"))
        .collect()
}

#[test]
fn checksum_writes_the_manifest_and_preview_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let src = frames(dir.path(), 3, 10);
    let preview = run(&["checksum", "-s", path(&src), "--preview"]);
    preview.code(0);
    assert!(!src.join("checksum.txt").exists());
    let lines: Vec<_> = preview.stdout().lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 3, "{}", preview.dump());
    assert!(lines[0].starts_with("shot010.0086400.dpx\t10\tmd5\t"));
    run(&["checksum", "-s", path(&src), "-cpu", "2"]).code(0).says("Completed writing");
    assert_eq!(fs::read_to_string(src.join("checksum.txt")).unwrap(), preview.stdout());
    // Running again replaces it and ignores the old checksum.txt.
    run(&["checksum", "-s", path(&src)]).code(0);
    assert_eq!(fs::read_to_string(src.join("checksum.txt")).unwrap(), preview.stdout());
}

#[test]
fn duplicate_names_across_subfolders_are_listed_with_every_path() {
    let dir = tempfile::tempdir().unwrap();
    let src = frames(dir.path(), 2, 4);
    fs::create_dir_all(src.join("reel2")).unwrap();
    fs::write(src.join("reel2/shot010.0086400.dpx"), b"x").unwrap();
    run(&["checksum", "-s", path(&src)])
        .code(1)
        .says("shot010.0086400.dpx:")
        .says("reel2/shot010.0086400.dpx")
        .says("frames/shot010.0086400.dpx");
    assert!(!src.join("checksum.txt").exists());
}

#[test]
fn a_name_checksum_txt_cannot_hold_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let src = frames(dir.path(), 1, 4);
    fs::write(src.join("tab\there.dpx"), b"x").unwrap();
    run(&["checksum", "-s", path(&src)]).code(1).says("control character");
    run(&["zip", "-s", path(&src)]).code(1).says("control character");
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn missing_source_is_a_clear_error() {
    run(&["checksum", "-s", "/no/such/folder"]).code(3).says("/no/such/folder: not a folder");
    run(&["zip", "-s", "/no/such/folder"]).code(3).says("not a folder");
    run(&["verify", "/no/such/package.zip"]).code(3).says("No such file");
}

#[test]
fn strict_turns_name_and_gap_warnings_into_errors() {
    let dir = tempfile::tempdir().unwrap();
    let src = frames(dir.path(), 3, 4);
    fs::remove_file(src.join("shot010.0086401.dpx")).unwrap();
    fs::write(src.join("bad name.dpx"), b"x").unwrap();
    run(&["checksum", "-s", path(&src), "--preview"]).code(0).says("1 missing: 0086401").says("position 3");
    run(&["checksum", "-s", path(&src), "--strict"]).code(1).says("--strict");
    run(&["zip", "-s", path(&src), "--strict"]).code(1);
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn zip_defaults_leave_the_source_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let src = frames(dir.path(), 5, 3000);
    fs::write(src.join(".DS_Store"), b"junk").unwrap();
    run(&["zip", "-s", path(&src)]).code(0).says("Finished zip file");
    let archive = dir.path().join("sequence.zip");
    assert!(archive.is_file());
    assert!(!src.join("checksum.txt").exists(), "the source was modified");
    run(&["verify", path(&archive), "--all"]).code(0).says("OK   shot010.0086404.dpx").says("PASSED: 5 files");
    // The entries are the frames in order, then checksum.txt, with bare names.
    let report = run(&["verify", path(&archive), "--json"]);
    let json: serde_json::Value = serde_json::from_str(&report.stdout()).expect("json");
    assert_eq!(json["passed"], true);
    assert_eq!(json["files"].as_array().unwrap().len(), 5);
    assert_eq!(json["sequences"]["sequences"][0]["pattern"], "shot010.#######.dpx");

    // An existing archive is not replaced without --force.
    let before = fs::read(&archive).unwrap();
    run(&["zip", "-s", path(&src)]).code(3).says("already exists");
    assert_eq!(fs::read(&archive).unwrap(), before);
    run(&["zip", "-s", path(&src), "--force", "--write-checksum", "--sync"]).code(0);
    run(&["verify", path(&archive)]).code(0);
    assert!(src.join("checksum.txt").is_file());
}

#[test]
fn zip_target_and_name_options() {
    let dir = tempfile::tempdir().unwrap();
    let src = frames(dir.path(), 2, 10);
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    let run_json = run(&["zip", "-s", path(&src), "-t", path(&out), "-f", "reel1.zip", "--json"]);
    run_json.code(0);
    let json: serde_json::Value = serde_json::from_str(&run_json.stdout()).expect("json summary");
    assert_eq!(json["files"], 2);
    assert_eq!(json["zip64"], false);
    assert!(out.join("reel1.zip").is_file());
    run(&["zip", "-s", path(&src), "-f", "../escape.zip"]).code(1).says("bare file name");
    // The partner guide's own command, `-f` with no name (issue 13, bug 3): the default name.
    let guide = dir.path().join("guide");
    fs::create_dir(&guide).unwrap();
    run(&["zip", "-s", path(&src), "-t", path(&guide), "-f"]).code(0);
    assert!(guide.join("sequence.zip").is_file(), "`-f` alone keeps the default name");
    run(&["zip", "-s", path(&src), "-t", "/no/such/dir"]).code(3);
}

#[test]
fn an_unreadable_file_fails_the_zip_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let src = frames(dir.path(), 3, 100);
    // Reading /proc/self/mem from offset 0 fails with EIO, even for root.
    std::os::unix::fs::symlink("/proc/self/mem", src.join("shot010.0086403.dpx")).unwrap();
    run(&["zip", "-s", path(&src)]).code(3).says("shot010.0086403.dpx").says("Input/output error");
    assert!(leftovers(dir.path()).is_empty(), "{:?}", leftovers(dir.path()));
}

#[test]
fn a_full_disk_fails_the_zip_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let src = frames(dir.path(), 4, 600_000);
    // A file size limit stands in for a full disk: writes past it fail with EFBIG.
    let script = format!("trap '' XFSZ; ulimit -f 1000; exec {} zip -s {}", env!("CARGO_BIN_EXE_npack"), path(&src));
    let out = Command::new("bash").arg("-c").arg(&script).output().unwrap();
    let run = Run { what: script, out };
    run.code(3).says("File too large").says(".zip.partial");
    assert!(leftovers(dir.path()).is_empty(), "{:?}", leftovers(dir.path()));
}

#[test]
fn ctrl_c_stops_the_zip_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("frames");
    fs::create_dir(&src).unwrap();
    // Sparse, so cheap to make, but several seconds to read and hash.
    let big = fs::File::create(src.join("big.mov")).unwrap();
    big.set_len(6 << 30).unwrap();
    let mut child = npack().args(["zip", "-s", path(&src), "-q"]).spawn().unwrap();
    // The interrupt lands mid-write: once the temporary archive holds a MiB, before it is done.
    let started = std::time::Instant::now();
    let written = || {
        let partial =
            fs::read_dir(dir.path()).unwrap().flatten().find(|e| e.file_name().to_string_lossy().ends_with(".partial"));
        partial.and_then(|e| e.metadata().ok()).map_or(0, |m| m.len())
    };
    while written() < 1 << 20 {
        assert!(started.elapsed().as_secs() < 30, "the temporary archive never grew");
        assert!(child.try_wait().unwrap().is_none(), "npack ended before it could be interrupted");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(child.try_wait().unwrap().is_none(), "still writing when interrupted");
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(leftovers(dir.path()).is_empty(), "{:?}", leftovers(dir.path()));
}

#[test]
fn a_file_that_vanishes_or_changes_fails_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let src = frames(dir.path(), 3, 2_500_000);
    let scan = npack::scan_folder(&src).unwrap();
    let target = dir.path().join("sequence.zip");
    let options = npack::PackOptions { threads: 2, overwrite: false, sync: false };
    let cancel = AtomicBool::new(false);

    let changed = src.join("shot010.0086401.dpx");
    let original = fs::read(&changed).unwrap();
    fs::write(&changed, b"shorter now").unwrap();
    let err = npack::write_package(&scan.files, &target, &options, &cancel, &npack::NoProgress).unwrap_err();
    assert!(err.to_string().contains("shot010.0086401.dpx: changed while being read"), "{err}");
    assert!(leftovers(dir.path()).is_empty());

    // Put it back as it was scanned: now only the vanished file is wrong, and it is the one named.
    fs::write(&changed, original).unwrap();
    fs::remove_file(src.join("shot010.0086402.dpx")).unwrap();
    let err = npack::write_package(&scan.files, &target, &options, &cancel, &npack::NoProgress).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("shot010.0086402.dpx") && !message.contains("shot010.0086401.dpx"), "{message}");
    assert!(leftovers(dir.path()).is_empty());
}

fn verify_bytes(dir: &Path, name: &str, bytes: &[u8]) -> Run {
    let file = dir.join(name);
    fs::write(&file, bytes).unwrap();
    run(&["verify", path(&file)])
}

/// Every hostile package the hub's tests also deliver (testkit::zip): refused, exit 1, with its
/// reason; the good ones, including one that ends in ZIP64 records, pass.
#[test]
fn verify_reports_every_malformed_package() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    verify_bytes(d, "good.zip", &testkit::zip::good_package()).code(0).says("PASSED: 2 files");
    verify_bytes(d, "zip64.zip", &testkit::zip::zip64_package()).code(0).says("PASSED: 2 files");
    // What the command line says beyond the shared reason.
    let more = [
        ("a size that differs from checksum.txt", "size is 5 bytes; checksum.txt says 7"),
        ("an entry not listed", "extra.dpx: in the package but not listed"),
        ("a listed file missing", "b.dpx: listed in checksum.txt but missing"),
        ("a malformed checksum.txt", "checksum.txt line 1: expected 4 tab-separated fields"),
        ("truncated", "not a ZIP file, or truncated"),
        ("a damaged byte", "a.dpx"),
    ];
    for (what, bytes, reason) in testkit::zip::hostile_packages() {
        let run = verify_bytes(d, "case.zip", &bytes);
        assert_eq!(run.out.status.code(), Some(1), "{what}\n{}", run.dump());
        run.says(reason);
        for (_, extra) in more.iter().filter(|(case, _)| *case == what) {
            run.says(extra);
        }
    }
}

#[test]
fn verify_checks_zipless_folders() {
    let dir = tempfile::tempdir().unwrap();
    let src = frames(dir.path(), 4, 1000);
    run(&["verify", path(&src)]).code(1).says("checksum.txt is missing");
    run(&["checksum", "-s", path(&src)]).code(0);
    run(&["verify", path(&src)]).code(0).says("PASSED: 4 files");

    fs::write(src.join("shot010.0086401.dpx"), vec![0u8; 1000]).unwrap();
    fs::write(src.join("shot010.0086402.dpx"), b"short").unwrap();
    fs::remove_file(src.join("shot010.0086403.dpx")).unwrap();
    fs::write(src.join("stray.dpx"), b"x").unwrap();
    let report = run(&["verify", path(&src), "--json"]);
    report.code(1);
    let json: serde_json::Value = serde_json::from_str(&report.stdout()).expect("json");
    let status =
        |name: &str| json["files"].as_array().unwrap().iter().find(|f| f["name"] == name).unwrap()["status"].clone();
    assert_eq!(status("shot010.0086400.dpx"), "ok");
    assert_eq!(status("shot010.0086401.dpx"), "md5_mismatch");
    assert_eq!(status("shot010.0086402.dpx"), "size_mismatch");
    assert_eq!(status("shot010.0086403.dpx"), "missing");
    assert_eq!(status("stray.dpx"), "unlisted");
    assert_eq!(json["passed"], false);
}

#[test]
fn help_documents_the_exit_codes() {
    run(&["--help"]).code(0).says("Exit codes:").says("130");
    run(&["zip", "--help"]).code(0).says("-cpu N");
    run(&["frobnicate"]).code(2);
}
