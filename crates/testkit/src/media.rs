//! Real media, made at test time by a real encoder (Debian's ffmpeg): one second of a test
//! pattern (and a tone), so that what the hub calls a proxy is judged on files like the ones
//! vendors send, not only on the `media` crate's synthetic boxes.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The kinds of file made here, each as (file name, ffmpeg output options).
pub const KINDS: &[(&str, &[&str])] = &[
    // An H.264 proxy with fast start, as the guide asks for.
    (
        "h264_fast.mp4",
        &["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-movflags", "+faststart"],
    ),
    // The same without fast start (ffmpeg's default: the index at the end).
    ("h264_slow.mp4", &["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"]),
    // A ProRes 422 HQ master with stereo 24-bit PCM and a timecode track starting at 01:00:10:05.
    (
        "prores_hq.mov",
        &["-c:v", "prores_ks", "-profile:v", "3", "-c:a", "pcm_s24le", "-ac", "2", "-timecode", "01:00:10:05"],
    ),
    // HEVC, tagged hvc1 as Apple players want it.
    (
        "hevc.mp4",
        &[
            "-c:v",
            "libx265",
            "-preset",
            "ultrafast",
            "-tag:v",
            "hvc1",
            "-x265-params",
            "log-level=error",
            "-c:a",
            "aac",
        ],
    ),
    // Sound only.
    ("audio_only.mp4", &["-vn", "-c:a", "aac"]),
];

fn ffmpeg() -> Command {
    let mut command = Command::new("ffmpeg");
    command.args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"]);
    command
}

/// Makes `name` (one of [`KINDS`]) in `dir`; returns its path. Panics, saying how to get ffmpeg,
/// when there is none: real media are part of the suite, not optional.
pub fn make(dir: &Path, name: &str) -> PathBuf {
    let (_, options) = KINDS.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no such kind: {name}"));
    let out = dir.join(name);
    let status = ffmpeg()
        .args(["-f", "lavfi", "-i", "testsrc2=size=160x90:rate=24:duration=1"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=1"])
        .args(["-shortest"])
        .args(*options)
        .arg(&out)
        .status()
        .unwrap_or_else(|e| {
            panic!("ffmpeg is needed for the real-media tests ({e}): apt-get install ffmpeg (scripts/test.sh does)")
        });
    assert!(status.success(), "ffmpeg could not make {name}");
    out
}

/// Every kind, made in `dir`: (file name, bytes).
pub fn make_all(dir: &Path) -> Vec<(String, Vec<u8>)> {
    KINDS.iter().map(|(name, _)| (name.to_string(), std::fs::read(make(dir, name)).unwrap())).collect()
}

/// Whether ffmpeg decodes every frame and sample of `file` without a complaint: a real player's
/// view of it.
pub fn decodes_cleanly(file: &Path) -> Result<(), String> {
    let out = ffmpeg().arg("-i").arg(file).args(["-f", "null", "-"]).output().map_err(|e| e.to_string())?;
    let complaints = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    if out.status.success() && complaints.is_empty() { Ok(()) } else { Err(complaints) }
}
