//! Sending bytes to a tus upload: a span of files (a file, a part of one, or a package stream's
//! files back to back) from the hub's offset on, in CRC-checked chunks read one ahead, at the
//! pace `--max-rate` allows.

use super::*;

/// Keeps the total upload rate at or under `--max-rate`, across all streams: each chunk waits for
/// its turn, and turns are spaced by the chunks' sizes.
#[derive(Debug)]
pub(super) struct Pace {
    seconds_per_byte: f64,
    next: std::sync::Mutex<Option<tokio::time::Instant>>,
}

impl Pace {
    pub(super) fn new(max_rate: Option<u64>) -> Pace {
        let seconds_per_byte = max_rate.map_or(0.0, |rate| 1.0 / rate.max(1) as f64);
        Pace { seconds_per_byte, next: std::sync::Mutex::new(None) }
    }

    async fn take(&self, bytes: usize) {
        if self.seconds_per_byte == 0.0 {
            return;
        }
        let turn = {
            let mut next = self.next.lock().expect("never poisoned");
            let now = tokio::time::Instant::now();
            let turn = next.map_or(now, |at| at.max(now));
            *next = Some(turn + Duration::from_secs_f64(bytes as f64 * self.seconds_per_byte));
            turn
        };
        tokio::time::sleep_until(turn).await;
    }
}

/// Bytes of a file sent per PATCH, each with its CRC-32 for the server to check.
const CHUNK: usize = 16 << 20;

/// What one upload sends: byte ranges of files, back to back (a range of one file for a file or
/// a part of it; whole files in order for a package stream).
#[derive(Debug, Clone)]
pub(super) struct Span {
    /// (path, where in the file, how many bytes)
    parts: std::sync::Arc<Vec<(PathBuf, u64, u64)>>,
    /// Where each part starts in the span.
    starts: std::sync::Arc<Vec<u64>>,
    pub(super) len: u64,
}

impl Span {
    fn new(parts: Vec<(PathBuf, u64, u64)>) -> Span {
        let mut starts = Vec::with_capacity(parts.len());
        let mut len = 0;
        for (_, _, n) in &parts {
            starts.push(len);
            len += n;
        }
        Span { parts: parts.into(), starts: starts.into(), len }
    }

    pub(super) fn of_file(path: &Path, start: u64, len: u64) -> Span {
        Span::new(vec![(path.to_owned(), start, len)])
    }

    pub(super) fn of_files(dir: &Path, files: &[npack::SourceFile]) -> Span {
        Span::new(files.iter().map(|f| (dir.join(&f.name), 0, f.size)).collect())
    }

    /// Reads `buf.len()` bytes from `at` in the span, across files.
    fn read_at(&self, mut at: u64, buf: &mut [u8]) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let mut done = 0;
        let mut i = self.starts.partition_point(|s| *s <= at).saturating_sub(1);
        while done < buf.len() {
            let (path, offset, n) = &self.parts[i];
            let within = at - self.starts[i];
            let take = ((n - within) as usize).min(buf.len() - done);
            if take > 0 {
                let file = std::fs::File::open(path)
                    .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
                file.read_exact_at(&mut buf[done..done + take], offset + within).map_err(|e| {
                    std::io::Error::new(e.kind(), format!("{} changed while uploading: {e}", path.display()))
                })?;
            }
            done += take;
            at += take as u64;
            i += 1;
        }
        Ok(())
    }
}

/// Sends the span to the tus upload at `url`, from the server's offset on (from 0 without asking
/// for an upload made `new` in this run), in CRC-checked chunks; waits and retries while the hub
/// is unreachable or busy.
pub(super) async fn send_piece(
    client: &Client,
    span: &Span,
    url: &str,
    (bar, pace): (&ProgressBar, &Pace),
    new: bool,
) -> anyhow::Result<()> {
    let len = span.len;
    let mut offset: Option<u64> = new.then_some(0);
    let mut failures = 0u32;
    let mut ahead = None;
    loop {
        let at = match offset {
            Some(at) => at,
            None => match client.upload_offset(url).await {
                Ok(found) => {
                    bar.inc(found.offset);
                    offset = Some(found.offset);
                    found.offset
                }
                Err(e) if retryable(&e) && failures < 12 => {
                    failures += 1;
                    bar.set_message(format!("waiting for the hub: {e}"));
                    tokio::time::sleep(backoff(failures)).await;
                    continue;
                }
                Err(e) => return Err(explain(e)),
            },
        };
        if at >= len {
            return Ok(());
        }
        // The chunk read ahead while the previous one was sending, if it is the one wanted.
        let read = match ahead.take() {
            Some((from, read)) if from == at => read,
            _ => read_chunk(span, at),
        };
        let (chunk, crc) = read.await??;
        let following = at + chunk.len() as u64;
        if following < len {
            ahead = Some((following, read_chunk(span, following)));
        }
        let checksum = format!("crc32 {}", base64::engine::general_purpose::STANDARD.encode(crc.to_be_bytes()));
        pace.take(chunk.len()).await;
        match client.upload_chunk(url, at, chunk, &checksum).await {
            Ok(next) => {
                bar.inc(next - at);
                offset = Some(next);
                failures = 0;
                bar.set_message("");
            }
            // The hub went away, an earlier interrupted PATCH still holds the upload (its lease
            // lapses within 15 s), or the chunk was damaged on the way: ask the hub where the
            // upload is, and go on from there.
            Err(e) if retryable(&e) && failures < 12 => {
                failures += 1;
                bar.set_message(format!("retrying: {e}"));
                tokio::time::sleep(backoff(failures)).await;
                if let Some(known) = offset.take() {
                    bar.set_position(bar.position().saturating_sub(known));
                }
            }
            Err(e) => return Err(explain(e)),
        }
    }
}

/// Reads the chunk at `at` of a span (one read per file straight into the buffer that is sent)
/// and its CRC-32, on a blocking thread.
fn read_chunk(span: &Span, at: u64) -> tokio::task::JoinHandle<std::io::Result<(Vec<u8>, u32)>> {
    let span = span.clone();
    let want = (span.len - at).min(CHUNK as u64) as usize;
    tokio::task::spawn_blocking(move || {
        let mut chunk = vec![0u8; want];
        span.read_at(at, &mut chunk)?;
        let crc = crc32fast::hash(&chunk);
        Ok((chunk, crc))
    })
}
