//! Runs the real `npack` binary in temporary folders. Each helper prints the command, its status,
//! stdout and stderr when an assertion fails.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::AtomicBool;

use npack::zip::format::{EntryRecord, central_header, end_records, local_header};

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
    let started = std::time::Instant::now();
    while !leftovers(dir.path()).iter().any(|n| n.ends_with(".partial")) {
        assert!(started.elapsed().as_secs() < 30, "the temporary archive never appeared");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
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

/// Builds archives entry by entry, so that each malformed case is exactly one defect.
struct Builder {
    out: Vec<u8>,
    records: Vec<EntryRecord>,
}

impl Builder {
    fn new() -> Self {
        Builder { out: Vec::new(), records: Vec::new() }
    }
    fn add(mut self, name: &str, data: &[u8]) -> Self {
        let record = EntryRecord {
            name: name.into(),
            size: data.len() as u64,
            crc32: crc32fast::hash(data),
            offset: self.out.len() as u64,
            dos_time: 0,
            dos_date: 33,
        };
        self.out.extend(local_header(&record));
        self.out.extend(data);
        self.records.push(record);
        self
    }
    /// Adds entries and a checksum.txt listing them.
    fn package(self, files: &[(&str, &[u8])]) -> Self {
        let mut manifest = String::new();
        for (name, data) in files {
            manifest.push_str(&line(name, data));
        }
        files.iter().fold(self, |b, (n, d)| b.add(n, d)).add("checksum.txt", manifest.as_bytes())
    }
    fn finish(self) -> Vec<u8> {
        let mut out = self.out;
        let cd_offset = out.len() as u64;
        let mut cd = Vec::new();
        for r in &self.records {
            central_header(r, &mut cd);
        }
        out.extend(&cd);
        out.extend(end_records(self.records.len() as u64, cd_offset, cd.len() as u64));
        out
    }
}

fn line(name: &str, data: &[u8]) -> String {
    let md5 = npack::checksum::hex(&md5_of(data));
    format!("{name}\t{}\tmd5\t{md5}\n", data.len())
}

fn md5_of(data: &[u8]) -> [u8; 16] {
    use md5::Digest;
    md5::Md5::digest(data).into()
}

fn verify_bytes(dir: &Path, name: &str, bytes: &[u8]) -> Run {
    let file = dir.join(name);
    fs::write(&file, bytes).unwrap();
    run(&["verify", path(&file)])
}

#[test]
fn verify_reports_every_malformed_package() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a: &[u8] = b"frame a";
    let b: &[u8] = b"frame bb";
    let good = Builder::new().package(&[("a.dpx", a), ("b.dpx", b)]).finish();
    verify_bytes(d, "good.zip", &good).code(0).says("PASSED: 2 files");

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "not flat",
            Builder::new().package(&[("a.dpx", a)]).add("reel1/", b"").add("reel1/b.dpx", b).finish(),
            "packages are flat",
        ),
        ("dot-dot name", Builder::new().package(&[("a.dpx", a)]).add("../evil.dpx", b).finish(), "has a path"),
        ("no checksum.txt", Builder::new().add("a.dpx", a).finish(), "checksum.txt is missing"),
        (
            "malformed checksum.txt",
            Builder::new().add("a.dpx", a).add("checksum.txt", b"a.dpx 7 md5 nothex\n").finish(),
            "checksum.txt line 1: expected 4 tab-separated fields",
        ),
        (
            "md5 mismatch",
            Builder::new().add("a.dpx", b"frame A").add("checksum.txt", line("a.dpx", a).as_bytes()).finish(),
            "md5 is",
        ),
        (
            "size mismatch",
            Builder::new().add("a.dpx", b"frame").add("checksum.txt", line("a.dpx", a).as_bytes()).finish(),
            "size is 5 bytes; checksum.txt says 7",
        ),
        (
            "extra entry",
            Builder::new().package(&[("a.dpx", a)]).add("extra.dpx", b).finish(),
            "extra.dpx: in the package but not listed",
        ),
        (
            "missing entry",
            Builder::new()
                .add("a.dpx", a)
                .add("checksum.txt", format!("{}{}", line("a.dpx", a), line("b.dpx", b)).as_bytes())
                .finish(),
            "b.dpx: listed in checksum.txt but missing",
        ),
        ("truncated", good[..good.len() - 30].to_vec(), "not a ZIP file, or truncated"),
        ("cut in the middle", [&good[..20], &good[40..]].concat(), "truncated"),
        ("empty file", Vec::new(), "not a ZIP file"),
        ("not a zip", b"this is a text file, not an archive at all".to_vec(), "not a ZIP file"),
        ("duplicate entry", Builder::new().package(&[("a.dpx", a)]).add("a.dpx", a).finish(), "more than once"),
    ];
    for (what, bytes, expect) in cases {
        let run = verify_bytes(d, "case.zip", &bytes);
        assert_eq!(run.out.status.code(), Some(1), "{what}\n{}", run.dump());
        run.says(expect);
    }

    // A damaged byte in the data: the CRC and the md5 both catch it.
    let mut damaged = good.clone();
    let at = 30 + "a.dpx".len() + 2;
    damaged[at] ^= 0x55;
    verify_bytes(d, "damaged.zip", &damaged).code(1).says("CRC-32 is").says("a.dpx");

    // A compressed entry is refused with the fix.
    let mut deflated = good.clone();
    deflated[8] = 8;
    let cd = u32::from_le_bytes(good[good.len() - 6..good.len() - 2].try_into().unwrap()) as usize;
    deflated[cd + 10] = 8;
    verify_bytes(d, "deflated.zip", &deflated).code(1).says("is compressed (method 8)");

    // An absurd entry count is refused before anything is allocated.
    let mut absurd = good.clone();
    let n = absurd.len();
    absurd[n - 14..n - 10].copy_from_slice(&[0xFE, 0xFF, 0xFE, 0xFF]);
    verify_bytes(d, "absurd.zip", &absurd).code(1).says("cannot hold them");
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
