//! `npack`: checksum, zip and verify frame-sequence packages. The library does the work; this file
//! turns arguments into a plan, reports progress and maps outcomes to exit codes.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use npack::error::Error;
use npack::names::check_delivery_name;
use npack::sequence::{SequenceReport, analyse};
use npack::verify::{Report, VerifyOptions, verify_path};
use npack::{CHECKSUM_TXT, PackOptions, Progress, Scan, SourceFile, checksum, scan_folder};

const EXIT_CODES: &str = "\
Exit codes:
  0    success
  1    the package or folder has problems: verification failed, duplicate names, or (with --strict)
       names outside [A-Za-z0-9._-] or sequence gaps
  2    bad command line
  3    could not complete: unreadable or vanished file, disk full, unwritable target
  130  interrupted (Ctrl-C); nothing is left behind";

/// Frame-sequence packager for Content Hub deliveries: checksum.txt, flat ZIP, verify.
#[derive(Debug, Parser)]
#[command(name = "npack", version, after_help = EXIT_CODES, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print only errors.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Print a JSON summary on standard output (human messages go to standard error).
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write SRC/checksum.txt (NAME<TAB>SIZE<TAB>md5<TAB>HEX per file, sorted).
    #[command(after_help = EXIT_CODES)]
    Checksum {
        #[command(flatten)]
        common: SourceArgs,
        /// Print the lines instead of writing checksum.txt.
        #[arg(long)]
        preview: bool,
    },
    /// Pack SRC into one flat, stored ZIP with checksum.txt inside, reading every file once.
    #[command(after_help = EXIT_CODES)]
    Zip {
        #[command(flatten)]
        common: SourceArgs,
        /// Folder for the archive [default: the parent of SRC].
        #[arg(short = 't', long = "target")]
        target: Option<PathBuf>,
        /// Archive file name (`-f` alone, as the partner guide prints it, keeps the default).
        #[arg(short = 'f', long = "file", default_value = "sequence.zip", num_args = 0..=1,
              default_missing_value = "sequence.zip")]
        file: String,
        /// Also write checksum.txt beside the frames (the source is otherwise left untouched).
        #[arg(long)]
        write_checksum: bool,
        /// Replace an existing archive of the same name.
        #[arg(long)]
        force: bool,
        /// fsync the archive before renaming it into place, so that it also survives a power loss
        /// (waits for the disk: on a laptop SSD about as long again as the packing).
        #[arg(long)]
        sync: bool,
    },
    /// Check a package (ZIP or folder with checksum.txt) and print a per-file report.
    #[command(after_help = EXIT_CODES)]
    Verify {
        /// A .zip package, or a folder with checksum.txt beside its files.
        package: PathBuf,
        #[command(flatten)]
        tuning: Tuning,
        /// Print every file, not only the ones with problems.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Args)]
struct SourceArgs {
    /// Folder holding the frames (subfolders are included; names must be unique across them).
    #[arg(short = 's', long = "source")]
    source: PathBuf,
    #[command(flatten)]
    tuning: Tuning,
}

#[derive(Debug, Args)]
struct Tuning {
    /// Threads that read and hash (also `-cpu N`, as the original) [default: all cores].
    #[arg(long = "cpu-cores", alias = "cpu_cores", value_name = "N")]
    cpu_cores: Option<usize>,
    /// Treat names outside [A-Za-z0-9._-] and sequence warnings as errors.
    #[arg(long)]
    strict: bool,
}

impl Tuning {
    fn threads(&self) -> usize {
        self.cpu_cores.filter(|n| *n > 0).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    }
}

/// How messages reach the user.
#[derive(Debug, Clone, Copy)]
struct Output {
    quiet: bool,
    json: bool,
    terminal: bool,
}

impl Output {
    /// A timestamped line like the original's, on standard error so that stdout stays clean.
    fn log(&self, message: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{} | {}", timestamp(), message.as_ref());
        }
    }
    fn warn(&self, message: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{} | WARNING: {}", timestamp(), message.as_ref());
        }
    }
}

fn timestamp() -> String {
    let stamp = humantime::format_rfc3339_micros(SystemTime::now()).to_string();
    stamp.trim_end_matches('Z').replacen('T', " ", 1)
}

/// Progress: a bar on a terminal, a line every few seconds otherwise, nothing when quiet.
struct Reporter {
    bar: Option<ProgressBar>,
    plain: Option<Mutex<(Instant, u64, u64)>>,
    total_bytes: u64,
    total_files: u64,
    files_done: AtomicU64,
    started: Instant,
}

impl Reporter {
    fn new(output: Output, verb: &str, total_files: u64, total_bytes: u64) -> Self {
        let started = Instant::now();
        let files_done = AtomicU64::new(0);
        if output.quiet {
            return Reporter { bar: None, plain: None, total_bytes, total_files, files_done, started };
        }
        if output.terminal {
            let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {bytes}/{total_bytes} {msg} {binary_bytes_per_sec} ETA {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(verb.to_owned());
            bar.set_message(format!("0/{total_files} files"));
            bar.enable_steady_tick(Duration::from_millis(200));
            return Reporter { bar: Some(bar), plain: None, total_bytes, total_files, files_done, started };
        }
        Reporter { bar: None, plain: Some(Mutex::new((started, 0, 0))), total_bytes, total_files, files_done, started }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Reporter {
    fn bytes_done(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
        if let Some(plain) = &self.plain {
            plain.lock().unwrap_or_else(|p| p.into_inner()).1 += bytes;
        }
    }
    fn file_done(&self, _file: &SourceFile) {
        if let Some(bar) = &self.bar {
            // The message is only redrawn on tick, so this stays cheap for 250,000 small files.
            let done = self.files_done.fetch_add(1, Ordering::Relaxed) + 1;
            bar.set_message(format!("files {done}/{}", self.total_files));
        }
        if let Some(plain) = &self.plain {
            let mut state = plain.lock().unwrap_or_else(|p| p.into_inner());
            state.2 += 1;
            if state.0.elapsed() >= Duration::from_secs(5) {
                state.0 = Instant::now();
                let secs = self.started.elapsed().as_secs_f64().max(1e-3);
                eprintln!(
                    "{} | {}/{} files, {} of {} MiB, {:.0} MiB/s",
                    timestamp(),
                    state.2,
                    self.total_files,
                    state.1 >> 20,
                    self.total_bytes >> 20,
                    state.1 as f64 / secs / 1048576.0
                );
            }
        }
    }
}

/// Rewrites the original's `-cpu N` into `--cpu-cores N` before clap sees it.
fn normalise_args() -> Vec<String> {
    std::env::args().map(|a| if a == "-cpu" { "--cpu-cores".to_owned() } else { a }).collect()
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(normalise_args());
    let output = Output { quiet: cli.quiet, json: cli.json, terminal: std::io::stderr().is_terminal() };
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let cancel = Arc::clone(&cancel);
        // Without the handler Ctrl-C would still stop us, but could leave a partial archive behind.
        let _ = ctrlc::set_handler(move || cancel.store(true, Ordering::Relaxed));
    }
    let result = match &cli.command {
        Command::Checksum { common, preview } => run_checksum(common, *preview, output, &cancel),
        Command::Zip { common, target, file, write_checksum, force, sync } => {
            let flags = ZipFlags { write_checksum: *write_checksum, force: *force, sync: *sync };
            run_zip(common, target.as_deref(), file, flags, output, &cancel)
        }
        Command::Verify { package, tuning, all } => run_verify(package, tuning, *all, output, &cancel),
    };
    match result {
        Ok(code) => code,
        Err(Failure::Npack(Error::Interrupted)) => {
            eprintln!("npack: interrupted; nothing was left behind");
            ExitCode::from(130)
        }
        Err(failure) => {
            eprintln!("npack: error: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Npack(#[from] Error),
    /// The input breaks a rule (e.g. --strict); already explained, exit 1.
    #[error("{0}")]
    Rejected(String),
}

impl Failure {
    fn exit_code(&self) -> u8 {
        match self {
            Failure::Npack(
                Error::Duplicates(_) | Error::Package { .. } | Error::NonUtf8Name(_) | Error::ControlCharacterName(_),
            ) => 1,
            Failure::Rejected(_) => 1,
            Failure::Npack(Error::Interrupted) => 130,
            Failure::Npack(_) => 3,
        }
    }
}

/// Scans the source and reports what is in it; refuses to continue on --strict findings.
fn plan(
    src: &Path,
    tuning: &Tuning,
    verb: &str,
    output: Output,
) -> Result<(Scan, SequenceReport, Vec<String>), Failure> {
    let scan = scan_folder(src)?;
    output.log(format!("Identified {} files to {verb} in {}", scan.files.len(), src.display()));
    for skipped in &scan.skipped {
        output.warn(format!("skipped {}: {}", skipped.path.display(), skipped.reason));
    }
    let mut warnings = Vec::new();
    for file in &scan.files {
        if let Err(issue) = check_delivery_name(&file.name) {
            warnings.push(format!("{}: {issue}", file.name));
        }
    }
    let sequences = analyse(scan.files.iter().map(|f| f.name.as_str()));
    warnings.extend(sequences.warnings.iter().cloned());
    for sequence in &sequences.sequences {
        output.log(format!("sequence {}", sequence.summary()));
    }
    for warning in &warnings {
        output.warn(warning);
    }
    if tuning.strict && !warnings.is_empty() {
        return Err(Failure::Rejected(format!(
            "{} warning(s) are errors with --strict; fix the names or frames listed above",
            warnings.len()
        )));
    }
    Ok((scan, sequences, warnings))
}

fn run_checksum(common: &SourceArgs, preview: bool, output: Output, cancel: &AtomicBool) -> Result<ExitCode, Failure> {
    let started = Instant::now();
    let (scan, sequences, warnings) = plan(&common.source, &common.tuning, "checksum", output)?;
    let reporter = Reporter::new(output, "checksum", scan.files.len() as u64, scan.total_bytes);
    let entries = npack::checksum_files(&scan.files, common.tuning.threads(), cancel, &reporter);
    reporter.finish();
    let entries = entries?;
    output.log(format!("Calculated {} checksums", entries.len()));
    let text = checksum::render(&entries);
    let written = if preview {
        if !output.json {
            std::io::stdout().write_all(text.as_bytes()).map_err(Error::io_at("standard output"))?;
        }
        None
    } else {
        let path = common.source.join(CHECKSUM_TXT);
        write_atomically(&path, text.as_bytes())?;
        output.log(format!("Completed writing to {}", path.display()));
        Some(path)
    };
    if output.json {
        print_json(&json!({
            "command": "checksum",
            "source": common.source,
            "files": entries.len(),
            "bytes": scan.total_bytes,
            "written": written,
            "lines": if preview { Some(text.lines().collect::<Vec<_>>()) } else { None },
            "skipped": scan.skipped,
            "sequences": sequences,
            "warnings": warnings,
            "peak_rss_bytes": peak_rss_bytes(),
            "seconds": started.elapsed().as_secs_f64(),
        }));
    }
    output.log(format!("Execution completed, took {:.2} seconds", started.elapsed().as_secs_f64()));
    Ok(ExitCode::SUCCESS)
}

/// Replaces `path` with `bytes` through a synced temporary in the same folder and a rename.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new().prefix(".npack-").tempfile_in(dir).map_err(Error::io_at(dir))?;
    temp.write_all(bytes).map_err(Error::io_at(temp.path()))?;
    temp.as_file().sync_all().map_err(Error::io_at(temp.path()))?;
    temp.persist(path).map_err(|e| Error::Io { path: path.to_owned(), source: e.error })?;
    Ok(())
}

#[derive(Debug, Clone, Copy)]
struct ZipFlags {
    write_checksum: bool,
    force: bool,
    sync: bool,
}

fn run_zip(
    common: &SourceArgs,
    target: Option<&Path>,
    file_name: &str,
    flags: ZipFlags,
    output: Output,
    cancel: &AtomicBool,
) -> Result<ExitCode, Failure> {
    let started = Instant::now();
    if file_name.contains(['/', '\\']) || file_name.is_empty() {
        return Err(Failure::Rejected(format!("-f {file_name:?}: give a bare file name; choose the folder with -t")));
    }
    let target_dir = match target {
        Some(dir) => dir.to_owned(),
        None => std::path::absolute(&common.source)
            .map_err(Error::io_at(&common.source))?
            .parent()
            .map(Path::to_owned)
            .ok_or_else(|| Failure::Rejected("the source has no parent folder; give one with -t".into()))?,
    };
    if !target_dir.is_dir() {
        return Err(Error::NotAFolder(target_dir).into());
    }
    let (scan, sequences, warnings) = plan(&common.source, &common.tuning, "zip", output)?;
    let archive = target_dir.join(file_name);
    output.log(format!("Initializing zip file {}", archive.display()));
    let options = PackOptions { threads: common.tuning.threads(), overwrite: flags.force, sync: flags.sync };
    let reporter = Reporter::new(output, "zip", scan.files.len() as u64, scan.total_bytes);
    let summary = npack::write_package(&scan.files, &archive, &options, cancel, &reporter);
    reporter.finish();
    let summary = summary?;
    let seconds = started.elapsed().as_secs_f64();
    output.log(format!(
        "Finished zip file {}: {} files, {} bytes{}, {:.0} MiB/s",
        archive.display(),
        summary.entries.len(),
        summary.archive_bytes,
        if summary.zip64 { " (ZIP64)" } else { "" },
        scan.total_bytes as f64 / seconds.max(1e-3) / 1048576.0
    ));
    if flags.write_checksum {
        let path = common.source.join(CHECKSUM_TXT);
        write_atomically(&path, summary.checksum_txt.as_bytes())?;
        output.log(format!("Completed writing to {}", path.display()));
    }
    if output.json {
        print_json(&json!({
            "command": "zip",
            "archive": summary.path,
            "files": summary.entries.len(),
            "bytes": scan.total_bytes,
            "archive_bytes": summary.archive_bytes,
            "zip64": summary.zip64,
            "peak_rss_bytes": peak_rss_bytes(),
            "skipped": scan.skipped,
            "sequences": sequences,
            "warnings": warnings,
            "seconds": seconds,
        }));
    }
    output.log(format!("Execution completed, took {seconds:.2} seconds"));
    Ok(ExitCode::SUCCESS)
}

fn run_verify(
    package: &Path,
    tuning: &Tuning,
    all: bool,
    output: Output,
    cancel: &AtomicBool,
) -> Result<ExitCode, Failure> {
    let started = Instant::now();
    let options = VerifyOptions { strict: tuning.strict, threads: tuning.threads(), ..VerifyOptions::default() };
    let size = if package.is_dir() { 0 } else { std::fs::metadata(package).map_err(Error::io_at(package))?.len() };
    let reporter = Reporter::new(output, "verify", 0, size);
    let report = verify_path(package, &options, cancel, &reporter);
    reporter.finish();
    let report = report?;
    let seconds = started.elapsed().as_secs_f64();
    if output.json {
        let mut value = serde_json::to_value(&report).expect("reports serialise");
        value["path"] = json!(package);
        value["passed"] = json!(report.passed());
        value["seconds"] = json!(seconds);
        value["peak_rss_bytes"] = json!(peak_rss_bytes());
        print_json(&value);
    } else if !output.quiet {
        print_report(&report, all);
    }
    output.log(format!("Execution completed, took {seconds:.2} seconds"));
    Ok(if report.passed() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn print_report(report: &Report, all: bool) {
    let mut out = std::io::stdout().lock();
    for file in &report.files {
        if all || file.status != npack::verify::FileStatus::Ok {
            let mark = if file.status == npack::verify::FileStatus::Ok { "OK  " } else { "FAIL" };
            let _ = writeln!(out, "{mark} {}: {}", file.name, file.describe());
        }
    }
    for problem in &report.problems {
        let _ = writeln!(out, "FAIL {problem}");
    }
    let label = if report.strict { "ERROR" } else { "WARN" };
    for warning in &report.warnings {
        let _ = writeln!(out, "{label} {warning}");
    }
    for sequence in &report.sequences.sequences {
        let _ = writeln!(out, "sequence {}", sequence.summary());
    }
    let failed = report.failed_files();
    let verdict = if report.passed() { "PASSED" } else { "FAILED" };
    let _ = writeln!(
        out,
        "{verdict}: {} files, {} ok, {failed} with problems, {} package problems, {} warnings",
        report.files.len(),
        report.files.len() - failed,
        report.problems.len(),
        report.warnings.len()
    );
}

fn print_json(value: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut out, value);
    let _ = writeln!(out);
}

/// This process's peak resident memory (Linux `VmHWM`), reported in `--json` summaries.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}
