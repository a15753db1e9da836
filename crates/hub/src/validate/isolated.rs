//! Validation in a child process (issue 12, scenario 2): the file a vendor delivered is read by a
//! separate process with a memory limit and a time limit, so that a hostile or huge file can at
//! worst stop its own validation, never the server. The child is the hub's own binary run as
//! `contenthub validate-job`: it is told the store and the [`Subject`] on its standard input, and
//! writes the [`Checked`] result (or why the storage could not be read) on its standard output.
//! The database stays with the parent, which applies the verdict.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Checked, Subject};
use crate::store::StoreSpec;

/// How validation children are run.
#[derive(Debug, Clone)]
pub struct Isolation {
    /// The program, run as `PROGRAM validate-job --memory-mib N --cpu-seconds S`.
    pub program: PathBuf,
    /// The child's address-space limit, in bytes.
    pub memory: u64,
    /// Time every validation gets, whatever the size…
    pub time_base: Duration,
    /// …plus one second per this many bytes of the asset.
    pub bytes_per_second: u64,
}

impl Isolation {
    /// The hub's own binary with the default limits: 2 GiB of address space, ten minutes plus a
    /// second per 16 MiB (a 1 TiB file may take 18 hours: a backstop against a hang, not a
    /// schedule).
    pub fn with_program(program: PathBuf) -> Isolation {
        Isolation { program, memory: 2 << 30, time_base: Duration::from_secs(600), bytes_per_second: 16 << 20 }
    }

    /// How long the child may take for an asset of `size` bytes.
    pub fn time_limit(&self, size: i64) -> Duration {
        self.time_base + Duration::from_secs(size.max(0) as u64 / self.bytes_per_second.max(1))
    }
}

/// What the child is told on its standard input.
#[derive(Debug, Serialize, Deserialize)]
pub struct ChildInput {
    pub store: StoreSpec,
    pub subject: Subject,
}

/// What the child answers: the checks' result, or why they could not run (the storage's fault:
/// the job is retried).
pub type ChildOutput = Result<Checked, String>;

/// Why an isolated validation gave no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The checks could not run (storage away); tried again later.
    Storage(String),
    /// The child died, was killed for its time or memory, or answered nonsense: the file is what
    /// stops the validator. A few of these and the asset is Invalid.
    Stopped(String),
}

/// The most bytes of a job's description or answer: a package of 250,001 files with long names
/// is described (and answered) in a line per file.
pub const MAX_JOB_BYTES: u64 = 256 << 20;

/// Runs the checks of `subject` in a child process and returns its answer.
pub async fn run(isolation: &Isolation, store: StoreSpec, subject: &Subject) -> Result<Checked, Failure> {
    let input = serde_json::to_vec(&ChildInput { store, subject: subject.clone() })
        .map_err(|e| Failure::Storage(format!("could not describe the job to the validator: {e}")))?;
    let limit = isolation.time_limit(subject.size);
    let mut child = tokio::process::Command::new(&isolation.program)
        .arg("validate-job")
        .arg("--memory-mib")
        .arg((isolation.memory >> 20).to_string())
        // Its own backstop if this process dies and cannot kill it.
        .arg("--cpu-seconds")
        .arg(limit.as_secs().max(1).to_string())
        // Its own process group: a Ctrl-C meant for the server does not count against the file.
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Failure::Storage(format!("could not start the validator {}: {e}", isolation.program.display())))?;
    let mut stdin = child.stdin.take().expect("piped");
    // Bounded reads: a child answers a few KiB (a package's, a line per file); its log is kept
    // only to say why it died.
    let mut stdout = child.stdout.take().expect("piped").take(MAX_JOB_BYTES);
    let mut stderr = child.stderr.take().expect("piped").take(1 << 20);
    let work = async {
        // A child that dies before reading its input closes the pipe; its exit says why.
        let _ = stdin.write_all(&input).await;
        drop(stdin);
        let mut out = Vec::new();
        let mut err = Vec::new();
        let _ = tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
        (child.wait().await, out, err)
    };
    let (status, out, err) = match tokio::time::timeout(limit, work).await {
        Ok(done) => done,
        // Dropping the work drops the child, which kills it.
        Err(_) => {
            return Err(Failure::Stopped(format!(
                "it took longer than the {} s allowed for a file of this size",
                limit.as_secs()
            )));
        }
    };
    let status = status.map_err(|e| Failure::Stopped(format!("the validator could not be waited for: {e}")))?;
    if status.success()
        && let Ok(answer) = serde_json::from_slice::<ChildOutput>(&out)
    {
        return answer.map_err(Failure::Storage);
    }
    Err(Failure::Stopped(describe_death(status, &err)))
}

/// Why a child gave no answer, for the asset's report and the log: its signal or exit code and
/// the last line it wrote (Rust's "memory allocation of N bytes failed", a stack overflow).
fn describe_death(status: std::process::ExitStatus, stderr: &[u8]) -> String {
    use std::os::unix::process::ExitStatusExt;
    const SIGABRT: i32 = 6;
    const SIGKILL: i32 = 9;
    const SIGSEGV: i32 = 11;
    let how = match (status.code(), status.signal()) {
        (_, Some(SIGKILL)) => "it was killed (out of memory?)".to_owned(),
        (_, Some(SIGABRT)) => "it aborted".to_owned(),
        (_, Some(SIGSEGV)) => "it crashed (segmentation fault)".to_owned(),
        (_, Some(signal)) => format!("it died of signal {signal}"),
        (Some(0), None) => "it gave no answer".to_owned(),
        (Some(code), None) => format!("it exited with status {code}"),
        (None, None) => "it stopped".to_owned(),
    };
    let text = String::from_utf8_lossy(stderr);
    match text.lines().rev().map(str::trim).find(|l| !l.is_empty()) {
        Some(last) => {
            let last: String = last.chars().take(300).collect();
            format!("{how}: {last}")
        }
        None => how,
    }
}

/// The child's side, after the binary has set its limits: reads the job from `input`, runs the
/// checks, and returns the answer to write on standard output.
pub async fn answer(input: &[u8]) -> ChildOutput {
    let input: ChildInput =
        serde_json::from_slice(input).map_err(|e| format!("the validator could not read its job: {e}"))?;
    let store = input.store.open().await.map_err(|e| e.to_string())?;
    super::run_checks(store, &input.subject).await.map_err(|e| e.to_string())
}
