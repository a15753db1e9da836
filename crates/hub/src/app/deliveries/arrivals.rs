//! A package stream's files are hashed as their bytes arrive (md5 and CRC-32, cut at the declared
//! sizes), so that the package's first validation need not read them back from the store: on
//! S3 that read was most of a 250,000-file package's validation. Only a file a PATCH carried whole,
//! from its first byte to its last, is recorded; one cut by an interruption is read back. When a
//! stream's offset goes back (its store held less than it had acknowledged), what was recorded
//! past the new offset goes (`note_lost_bytes`). See ARCHITECTURE.md, "Packages".

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use md5_many::{Md5Many, Md5State};

use crate::app::Hub;
use crate::app::uploads::Watch;
use crate::db::{PackageDigests, StreamRun, Upload, stream_key};

/// Streams whose files this process knows, most recent first: a stream is usually sent in many
/// PATCHes (8 MiB each from the browser), and its run is read from the database once.
const KNOWN_STREAMS: usize = 16;

/// See [`KNOWN_STREAMS`].
#[derive(Debug, Default, Clone)]
pub struct Runs(Arc<Mutex<Known>>);

/// Streams by upload id, most recent first.
type Known = VecDeque<(String, Arc<Run>)>;

/// A stream's files as offsets in it.
#[derive(Debug)]
struct Run {
    asset_id: i64,
    /// The package's number (`seq`) of the stream's first file.
    first: i64,
    /// Where each file ends in the stream.
    ends: Vec<u64>,
}

impl Run {
    fn start(&self, i: usize) -> u64 {
        if i == 0 { 0 } else { self.ends[i - 1] }
    }
}

impl Runs {
    /// Something that hashes the files of `upload` as a PATCH brings them, if it is a package
    /// stream whose files add up to its length. Never fails: without it the files are read back.
    pub async fn watch(&self, hub: &Hub, upload: &Upload) -> Option<Box<dyn Watch>> {
        // A stream's blob is named by its upload (db::stream_key); no other upload's is.
        if !upload.blob_key.ends_with(&stream_key("", &upload.id)) {
            return None;
        }
        let known = self.lock().iter().find(|(id, _)| *id == upload.id).map(|(_, run)| run.clone());
        let run = match known {
            Some(run) => run,
            None => {
                let run = match hub.db.stream_run(&upload.id).await {
                    Ok(Some(StreamRun { asset_id, first, sizes })) => Run { asset_id, first, ends: ends_of(&sizes) },
                    Ok(None) => return None,
                    Err(e) => {
                        tracing::warn!(upload = %upload.id, error = %e, "a stream's files could not be read; they will be read back");
                        return None;
                    }
                };
                let run = Arc::new(run);
                let mut known = self.lock();
                known.push_front((upload.id.clone(), run.clone()));
                known.truncate(KNOWN_STREAMS);
                run
            }
        };
        if upload.length != Some(run.ends.last().copied().unwrap_or(0) as i64) {
            return None;
        }
        Some(Box::new(Cutter::new(run, upload.offset as u64, self.clone())))
    }

    fn forget(&self, upload: &str) {
        self.lock().retain(|(id, _)| id != upload);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Known> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Cuts one PATCH's bytes at the stream's file boundaries and hashes each file it sees whole.
struct Cutter {
    run: Arc<Run>,
    /// Where the run came from, to forget it once the stream is whole.
    runs: Runs,
    /// Where in the stream the next byte goes.
    at: u64,
    /// The file `at` is in.
    file: usize,
    /// That file, hashed from its first byte (none if the PATCH began inside it).
    open: Option<(Md5State, crc32fast::Hasher)>,
    /// Files read whole: their place in the run, md5 and CRC-32.
    found: Vec<(usize, [u8; 16], u32)>,
    engine: Md5Many,
}

impl Cutter {
    fn new(run: Arc<Run>, at: u64, runs: Runs) -> Cutter {
        let file = run.ends.partition_point(|&end| end <= at);
        let open = (file < run.ends.len() && run.start(file) == at).then(fresh);
        Cutter { run, runs, at, file, open, found: Vec::new(), engine: Md5Many::new() }
    }
}

/// Where each file ends in a stream of files of these sizes.
fn ends_of(sizes: &[u64]) -> Vec<u64> {
    let mut at = 0;
    sizes
        .iter()
        .map(|size| {
            at += size;
            at
        })
        .collect()
}

fn fresh() -> (Md5State, crc32fast::Hasher) {
    (Md5State::new(), crc32fast::Hasher::new())
}

#[async_trait::async_trait]
impl Watch for Cutter {
    fn see(&mut self, mut bytes: &[u8]) {
        let ends = &self.run.ends;
        while !bytes.is_empty() && self.file < ends.len() {
            let end = ends[self.file];
            if self.open.is_some() && self.at == self.run.start(self.file) && end - self.at <= bytes.len() as u64 {
                // Files held whole by these bytes are hashed side by side (md5 in SIMD lanes).
                let mut slices = Vec::new();
                let mut used = 0usize;
                let mut next = self.file;
                while next < ends.len() && ends[next] - self.run.start(next) <= (bytes.len() - used) as u64 {
                    let len = (ends[next] - self.run.start(next)) as usize;
                    slices.push(&bytes[used..used + len]);
                    used += len;
                    next += 1;
                }
                let mut md5s = vec![[0u8; 16]; slices.len()];
                self.engine.hash_many(&slices, &mut md5s);
                for (k, (md5, slice)) in md5s.into_iter().zip(&slices).enumerate() {
                    self.found.push((self.file + k, md5, crc32fast::hash(slice)));
                }
                self.at += used as u64;
                self.file = next;
                bytes = &bytes[used..];
                continue;
            }
            let take = (end - self.at).min(bytes.len() as u64) as usize;
            if let Some((md5, crc)) = &mut self.open {
                md5.update(&bytes[..take]);
                crc.update(&bytes[..take]);
            }
            self.at += take as u64;
            bytes = &bytes[take..];
            if self.at == end {
                if let Some((md5, crc)) = self.open.take() {
                    self.found.push((self.file, md5.finalize(), crc.finalize()));
                }
                self.file += 1;
                self.open = Some(fresh());
            }
        }
    }

    async fn kept(self: Box<Self>, hub: &Hub, upload: &Upload) {
        if upload.completed {
            self.runs.forget(&upload.id);
        }
        let upto = upload.offset as u64;
        let ends = &self.run.ends;
        let found: Vec<_> = self.found.iter().filter(|(i, _, _)| ends[*i] <= upto).collect();
        let (Some(first), Some(last)) = (found.first(), found.last()) else { return };
        let (first, last) = (first.0, last.0);
        let mut digests = PackageDigests::new(last - first + 1);
        for (i, md5, crc32) in found {
            digests.set(i - first, *md5, *crc32);
        }
        let place = self.run.first + first as i64;
        if let Err(e) = hub.db.record_arrivals(self.run.asset_id, &upload.id, place, ends[last] as i64, &digests).await
        {
            tracing::warn!(upload = %upload.id, error = %e, "what a PATCH read of its files could not be recorded; they will be read back");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// However a stream's bytes are cut into PATCHes and chunks, every file a PATCH sees from its
    /// first byte to its last has its own md5 and CRC-32; a file the PATCH began inside is not
    /// claimed.
    #[test]
    fn files_are_hashed_whole_however_the_bytes_are_cut() {
        let sizes = [5u64, 0, 17, 1, 64, 3, 0, 9];
        let ends = ends_of(&sizes);
        let data: Vec<u8> = (0..*ends.last().unwrap()).map(|i| (i * 31 % 251) as u8).collect();
        let start = |i: usize| ends[i] - sizes[i];
        for chunk in [1usize, 2, 3, 7, 16, 64, 200] {
            for begin in [0u64, 3, 5, 6, 22, 23, 30, 87, 90] {
                let run = Arc::new(Run { asset_id: 1, first: 0, ends: ends.clone() });
                let mut cutter = Cutter::new(run, begin, Runs::default());
                for piece in data[begin as usize..].chunks(chunk) {
                    cutter.see(piece);
                }
                let found: Vec<usize> = cutter.found.iter().map(|f| f.0).collect();
                for i in (0..sizes.len()).filter(|&i| sizes[i] > 0 && start(i) >= begin) {
                    assert!(found.contains(&i), "file {i} is not claimed; chunks of {chunk} from {begin}: {found:?}");
                }
                for (i, md5, crc) in &cutter.found {
                    assert!(start(*i) >= begin, "file {i} began before the PATCH; chunks of {chunk} from {begin}");
                    let file = &data[start(*i) as usize..ends[*i] as usize];
                    assert_eq!(*md5, md5_many::md5(file), "file {i}, chunks of {chunk} from {begin}");
                    assert_eq!(*crc, crc32fast::hash(file), "file {i}, chunks of {chunk} from {begin}");
                }
                assert!(found.windows(2).all(|w| w[0] < w[1]), "in order, once each: {found:?}");
            }
        }
    }
}
