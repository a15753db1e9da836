//! Validation of a delivered asset, run by workers (never in a request): the whole-file md5 for
//! every asset, and for frame-sequence ZIPs the same verification as `npack verify`, reading the
//! archive straight from the blob store.

use std::io;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use hub_domain::Check;
use npack::checksum::hex;
use serde::{Deserialize, Serialize};

use crate::db::{Asset, CheckResult, PackageDigests, PackageFile, PackedMember};
use crate::store::{BlobKey, BlobStore, StoreError};

/// Bytes read from the store per request while hashing.
const READ_CHUNK: u64 = 8 << 20;

pub mod isolated;

/// What a validation looks at: the delivered bytes of one asset and what was declared of them.
/// It is all a validation child is told (with the store), so it is plain data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    /// The delivered bytes (never a remuxed copy: a retry after a remux checks the original
    /// again), or a zipless package's folder.
    pub key: String,
    /// A zipless package: its checksum.txt lists every file's md5; there is no single file.
    pub package: bool,
    pub name: String,
    pub size: i64,
    pub md5: Option<String>,
    /// A browser proxy (by its bucket and metadata): held to H.264 with fast start. Other
    /// movies are described, not judged.
    pub proxy: bool,
    /// Rewrite a proxy that only lacks fast start (the project's setting).
    pub remux: bool,
    /// A package sent in streams: where each of its files is (`key` is then the package's prefix).
    #[serde(default)]
    pub layout: Option<Vec<PackedMember>>,
    /// What was read of the package's files as they arrived (by place in `layout`): those files
    /// are not read back.
    #[serde(default)]
    pub arrived: Option<PackageDigests>,
}

impl Subject {
    pub fn of(asset: &Asset, remux: bool) -> Subject {
        Subject {
            key: asset.original_blob_key.clone().or_else(|| asset.blob_key.clone()).unwrap_or_default(),
            package: asset.package_files.is_some(),
            name: asset.name.clone(),
            size: asset.size,
            md5: asset.md5.clone(),
            proxy: asset.bucket.is_proxy(&asset.metadata),
            remux,
            layout: None,
            arrived: None,
        }
    }
}

/// Runs every check that applies. An error means the checks could not run (storage
/// unreachable): the job is retried; a failed check is a result, not an error.
pub async fn run_checks(store: Arc<dyn BlobStore>, subject: &Subject) -> Result<Checked, StoreError> {
    let key = BlobKey::new(subject.key.clone())?;
    if let (true, Some(layout)) = (subject.package, &subject.layout) {
        let (result, files, digests) = stream_check(store, key, layout.clone(), subject.arrived.clone()).await?;
        return Ok(Checked { results: vec![result], remuxed: None, digests: Some(digests), files: Some(files) });
    }
    if subject.package {
        let (result, files) = folder_check(store, key).await?;
        return Ok(Checked { results: vec![result], files: Some(files), ..Checked::default() });
    }
    let mut checked = Checked { results: vec![md5_check(store.as_ref(), &key, subject).await?], ..Checked::default() };
    if subject.name.to_ascii_lowercase().ends_with(".zip") {
        let (result, files) = zip_check(store, key).await?;
        checked.results.push(result);
        checked.files = files;
    } else if is_movie(&subject.name) && subject.proxy {
        let (result, remuxed) = proxy_check(store, key, subject.remux).await?;
        checked.results.push(result);
        checked.remuxed = remuxed.map(|key| key.to_string());
    } else if is_movie(&subject.name) {
        checked.results.push(media_check(store, key).await?);
    }
    Ok(checked)
}

/// What validation found, and the remuxed copy it stored if it made one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checked {
    pub results: Vec<CheckResult>,
    /// The key of a fast-start copy of a proxy; the asset should serve it and keep the delivered
    /// bytes.
    pub remuxed: Option<String>,
    /// A package sent in streams: what each file read (those that could be compared), in the
    /// order of its layout, recorded for its ZIP download.
    #[serde(default)]
    pub digests: Option<PackageDigests>,
    /// A package (ZIP or folder) whose files could be listed: each file as validation found it,
    /// by name.
    #[serde(default)]
    pub files: Option<Vec<PackageFile>>,
}

/// Said by a movie's media check when a browser plays it as it loads (the asset page then
/// offers the player).
pub const PLAYS_IN_BROWSERS: &str = "plays in browsers";
/// …and when it does not.
pub const NOT_IN_BROWSERS: &str = "not playable in a browser (download it to view)";

/// Whether a file is a movie by its name (MP4 or MOV): read for what it is; a proxy among them
/// is also held to H.264 and fast start.
pub fn is_movie(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".mp4", ".mov", ".m4v"].iter().any(|ext| lower.ends_with(ext))
}

async fn md5_check(store: &dyn BlobStore, key: &BlobKey, asset: &Subject) -> Result<CheckResult, StoreError> {
    let size = store.size(key).await?;
    let computed = hex(&crate::store::md5_of(store, key, size).await?);
    let (passed, detail) = if size != asset.size as u64 {
        (false, format!("{size} bytes were stored but {} were declared", asset.size))
    } else {
        match &asset.md5 {
            Some(declared) if *declared == computed => (true, format!("md5 {computed} matches the declared md5")),
            Some(declared) => {
                (false, format!("md5 is {computed}, but {declared} was declared; the file changed or was damaged"))
            }
            None => (true, format!("md5 {computed} (none was declared)")),
        }
    };
    Ok(CheckResult { check: Check::Md5, passed, detail, files: Vec::new(), at_ms: 0 })
}

/// Random access to a stored blob for npack's verifier, which is synchronous: it runs on a
/// blocking thread and each read waits for one ranged get.
struct BlobReader {
    store: Arc<dyn BlobStore>,
    key: BlobKey,
    size: u64,
    runtime: tokio::runtime::Handle,
}

impl npack::zip::read::ReadAt for BlobReader {
    fn size(&self) -> io::Result<u64> {
        Ok(self.size)
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let end =
            offset.checked_add(buf.len() as u64).filter(|e| *e <= self.size).ok_or(io::ErrorKind::UnexpectedEof)?;
        let bytes = self.runtime.block_on(self.store.get_range(&self.key, offset..end)).map_err(io::Error::other)?;
        buf.copy_from_slice(&bytes);
        Ok(())
    }
}

async fn zip_check(
    store: Arc<dyn BlobStore>,
    key: BlobKey,
) -> Result<(CheckResult, Option<Vec<PackageFile>>), StoreError> {
    let size = store.size(&key).await?;
    let reader = BlobReader { store, key, size, runtime: tokio::runtime::Handle::current() };
    let outcome = tokio::task::spawn_blocking(move || {
        let options = npack::verify::VerifyOptions { threads: 2, ..Default::default() };
        npack::verify::verify_zip(&reader, &options, &AtomicBool::new(false), &npack::NoProgress)
    })
    .await
    .map_err(|e| StoreError::Backend(format!("the package check stopped: {e}")))?;
    match outcome {
        Ok(report) => Ok((package_result(&report), Some(package_files(&report)))),
        Err(npack::zip::read::ZipError::Io(e)) => Err(StoreError::Io(e)),
        Err(e) => Ok((
            CheckResult { check: Check::Package, passed: false, detail: e.to_string(), files: Vec::new(), at_ms: 0 },
            None,
        )),
    }
}

/// The package check's result from npack's verification report.
fn package_result(report: &npack::verify::Report) -> CheckResult {
    let failed: Vec<(String, String)> = report
        .files
        .iter()
        .filter(|f| f.status != npack::verify::FileStatus::Ok)
        .map(|f| (f.name.clone(), f.describe()))
        .collect();
    let mut detail = format!(
        "{} files, {} ok, {} with problems",
        report.files.len(),
        report.files.len() - failed.len(),
        failed.len()
    );
    for problem in &report.problems {
        detail += &format!("; {problem}");
    }
    CheckResult { check: Check::Package, passed: report.passed(), detail, files: failed, at_ms: 0 }
}

/// Every file of a verified package, by name, as it was found.
fn package_files(report: &npack::verify::Report) -> Vec<PackageFile> {
    let mut files: Vec<PackageFile> = report
        .files
        .iter()
        .map(|f| PackageFile {
            name: f.name.clone(),
            size: f.size as i64,
            md5: f.md5.map(|md5| hex(&md5)),
            ok: f.status == npack::verify::FileStatus::Ok,
            result: f.describe(),
        })
        .collect();
    files.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    files
}

/// A zipless package under `prefix`: what is stored there against its checksum.txt, as `npack
/// verify` checks a folder. The store hashes the files (the local one in place with npack's
/// multi-lane hasher).
async fn folder_check(
    store: Arc<dyn BlobStore>,
    prefix: BlobKey,
) -> Result<(CheckResult, Vec<PackageFile>), StoreError> {
    use npack::verify::{Manifest, VerifyOptions};
    let options = VerifyOptions { threads: 2, ..Default::default() };
    let base = format!("{prefix}/");
    let manifest_key = BlobKey::new(format!("{base}{}", npack::CHECKSUM_TXT))?;
    let mut present = Vec::new();
    let mut manifest_size = None;
    for (key, size) in store.list(&base).await? {
        match key.strip_prefix(&base) {
            Some(npack::CHECKSUM_TXT) => manifest_size = Some(size),
            Some(name) => present.push((name.to_owned(), size)),
            None => {}
        }
    }
    let manifest = match manifest_size {
        None => Manifest::Missing,
        Some(size) if size > options.limits.max_checksum_txt_bytes => Manifest::TooLarge(size),
        Some(size) => Manifest::Bytes(store.get_range(&manifest_key, 0..size).await?.to_vec()),
    };
    // The store hashes what verify_listing asks for (files listed with their stored size): the
    // local one in place, others streamed.
    let runtime = tokio::runtime::Handle::current();
    let outcome = tokio::task::spawn_blocking(move || {
        npack::verify::verify_listing(manifest, &present, &options, |wanted| {
            let md5s = wanted
                .iter()
                .map(|(name, size)| Ok((BlobKey::new(format!("{base}{name}"))?, *size)))
                .collect::<Result<Vec<_>, StoreError>>()
                .and_then(|keys| runtime.block_on(store.md5s(&keys)))
                .map_err(|source| npack::Error::Io { path: base.clone().into(), source: io::Error::other(source) })?;
            Ok(wanted.iter().map(|(name, _)| name.clone()).zip(md5s).collect())
        })
    })
    .await
    .map_err(|e| StoreError::Backend(format!("the package check stopped: {e}")))?;
    match outcome {
        Ok(report) => Ok((package_result(&report), package_files(&report))),
        Err(e) => Err(StoreError::Backend(format!("the package check could not read the files: {e}"))),
    }
}

/// A blob's wanted ranges (start, length) and the files they are, by place in the layout.
type Ranges = Vec<(u64, u64, usize)>;
/// What files read (md5, CRC-32), by place in the layout.
type Read = Vec<(usize, ([u8; 16], u32))>;

/// A zipless package sent in streams, as `npack verify` checks a folder: its files are ranges of
/// the streams' blobs (`layout`), each stream read once from start to end, two at a time, but for
/// the files read as they `arrived`. Returns the verdict and what each file read, in the layout's
/// order.
async fn stream_check(
    store: Arc<dyn BlobStore>,
    prefix: BlobKey,
    layout: Vec<PackedMember>,
    arrived: Option<PackageDigests>,
) -> Result<(CheckResult, Vec<PackageFile>, PackageDigests), StoreError> {
    use npack::verify::{Manifest, VerifyOptions};
    let options = VerifyOptions { threads: 2, ..Default::default() };
    let prefix = prefix.to_string();
    let mut digests = PackageDigests::new(layout.len());
    let manifest = match layout.iter().position(|m| m.name == npack::CHECKSUM_TXT) {
        None => Manifest::Missing,
        Some(i) if layout[i].size as u64 > options.limits.max_checksum_txt_bytes => {
            Manifest::TooLarge(layout[i].size as u64)
        }
        Some(i) => {
            let m = &layout[i];
            let (start, size) = (m.offset as u64, m.size as u64);
            let key = BlobKey::new(m.key(&prefix))?;
            let bytes = store.get_range(&key, start..start + size).await?.to_vec();
            digests.set(i, md5_many::md5(&bytes), crc32fast::hash(&bytes));
            Manifest::Bytes(bytes)
        }
    };
    let present: Vec<(String, u64)> =
        layout.iter().filter(|m| m.name != npack::CHECKSUM_TXT).map(|m| (m.name.clone(), m.size as u64)).collect();
    let runtime = tokio::runtime::Handle::current();
    let outcome = tokio::task::spawn_blocking(move || {
        let digests = &mut digests;
        let report = npack::verify::verify_listing(manifest, &present, &options, |wanted| {
            let io_error =
                |e: StoreError| npack::Error::Io { path: prefix.clone().into(), source: io::Error::other(e) };
            let places: std::collections::HashMap<&str, usize> =
                layout.iter().enumerate().map(|(i, m)| (m.name.as_str(), i)).collect();
            // Each blob's wanted ranges, in order; a blob is a stream's (named by its upload) or,
            // for a file sent alone, the file's own.
            let mut blobs: std::collections::BTreeMap<(bool, &str), Ranges> = Default::default();
            let mut all = std::collections::HashMap::with_capacity(wanted.len());
            for (name, _) in wanted {
                if let Some(&i) = places.get(name.as_str()) {
                    if let Some((md5, crc32)) = arrived.as_ref().and_then(|a| a.get(i)) {
                        digests.set(i, md5, crc32);
                        all.insert(name.clone(), md5);
                        continue;
                    }
                    let m = &layout[i];
                    let blob = m.stream.as_deref().map_or((false, m.name.as_str()), |stream| (true, stream));
                    blobs.entry(blob).or_default().push((m.offset as u64, m.size as u64, i));
                }
            }
            let blobs: Vec<(String, Ranges)> = blobs
                .into_values()
                .map(|mut ranges| {
                    ranges.sort_unstable();
                    (layout[ranges[0].2].key(&prefix), ranges)
                })
                .collect();
            let next = std::sync::atomic::AtomicUsize::new(0);
            let hashed: Vec<Result<Read, StoreError>> = std::thread::scope(|scope| {
                let workers: Vec<_> = (0..options.threads.max(1))
                    .map(|_| {
                        scope.spawn(|| {
                            let mut found = Vec::new();
                            loop {
                                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                let Some((key, ranges)) = blobs.get(i) else { return Ok(found) };
                                let key = BlobKey::new(key.clone())?;
                                let spans: Vec<(u64, u64)> = ranges.iter().map(|(s, l, _)| (*s, *l)).collect();
                                let read =
                                    runtime.block_on(crate::store::digests_of_ranges(store.as_ref(), &key, &spans))?;
                                found.extend(ranges.iter().map(|(_, _, place)| *place).zip(read));
                            }
                        })
                    })
                    .collect();
                workers.into_iter().map(|w| w.join().expect("a hashing thread panicked")).collect()
            });
            for found in hashed {
                for (place, (md5, crc32)) in found.map_err(io_error)? {
                    digests.set(place, md5, crc32);
                    all.insert(layout[place].name.clone(), md5);
                }
            }
            Ok(all)
        });
        report.map(|report| (report, std::mem::take(digests)))
    })
    .await
    .map_err(|e| StoreError::Backend(format!("the package check stopped: {e}")))?;
    match outcome {
        Ok((report, digests)) => Ok((package_result(&report), package_files(&report), digests)),
        Err(e) => Err(StoreError::Backend(format!("the package check could not read the files: {e}"))),
    }
}

/// `Read + Seek` over a stored blob, for the media inspector (on a blocking thread).
struct BlobCursor {
    reader: BlobReader,
    pos: u64,
}

impl io::Read for BlobCursor {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use npack::zip::read::ReadAt;
        let n = (buf.len() as u64).min(self.reader.size.saturating_sub(self.pos)) as usize;
        if n == 0 {
            return Ok(0);
        }
        self.reader.read_exact_at(&mut buf[..n], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl io::Seek for BlobCursor {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        let size = self.reader.size as i128;
        let target = match to {
            io::SeekFrom::Start(n) => n as i128,
            io::SeekFrom::End(n) => size + n as i128,
            io::SeekFrom::Current(n) => self.pos as i128 + n as i128,
        };
        if target < 0 {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        self.pos = target as u64;
        Ok(self.pos)
    }
}

/// Any movie that is not a proxy: what it is, in words, and whether a browser plays it; it fails
/// only when the file cannot be read as a movie at all.
async fn media_check(store: Arc<dyn BlobStore>, key: BlobKey) -> Result<CheckResult, StoreError> {
    let size = store.size(&key).await?;
    let reader = BlobReader { store, key, size, runtime: tokio::runtime::Handle::current() };
    let outcome = tokio::task::spawn_blocking(move || media::inspect(&mut BlobCursor { reader, pos: 0 }, size))
        .await
        .map_err(|e| StoreError::Backend(format!("the media check stopped: {e}")))?;
    let (passed, detail) = match outcome {
        Ok(info) if info.plays_in_browsers() => (true, format!("{}; {PLAYS_IN_BROWSERS}", info.describe())),
        Ok(info) => (true, format!("{}; {NOT_IN_BROWSERS}", info.describe())),
        Err(media::MediaError::Io(e)) => return Err(StoreError::Io(e)),
        Err(e) => (false, format!("{e}; the file is damaged or not a movie: export it again")),
    };
    Ok(CheckResult { check: Check::Media, passed, detail, files: Vec::new(), at_ms: 0 })
}

/// A proxy must carry H.264 video and be fast start (moov first) to play in a browser at once.
/// With `remux`, a proxy that is only missing fast start is rewritten moov first (no re-encode)
/// into a new blob, and passes.
async fn proxy_check(
    store: Arc<dyn BlobStore>,
    key: BlobKey,
    remux: bool,
) -> Result<(CheckResult, Option<BlobKey>), StoreError> {
    let size = store.size(&key).await?;
    let reader =
        BlobReader { store: store.clone(), key: key.clone(), size, runtime: tokio::runtime::Handle::current() };
    let outcome = tokio::task::spawn_blocking(move || media::inspect(&mut BlobCursor { reader, pos: 0 }, size))
        .await
        .map_err(|e| StoreError::Backend(format!("the proxy check stopped: {e}")))?;
    let mut remuxed = None;
    let (passed, detail) = match outcome {
        Ok(info) if !info.has_h264_video() => {
            let found = info.video_codecs();
            let found =
                if found.is_empty() { "no video track".to_owned() } else { format!("video is {}", found.join(", ")) };
            (false, format!("not an H.264 proxy ({found}); export the proxy as H.264 (avc1)"))
        }
        Ok(info) if !info.fast_start && !info.fragmented && remux => {
            let copy = BlobKey::new(format!("{key}.faststart"))?;
            match remux_to(store, key, size, &copy).await? {
                Ok(()) => {
                    remuxed = Some(copy);
                    (
                        true,
                        "H.264 video; it was not fast start, so the moov index was moved to the front (no \
                         re-encode); the delivered file is kept as the original"
                            .to_owned(),
                    )
                }
                // The file's fault, not the storage's: a verdict, not a retry.
                Err(e) => (false, format!("not fast start, and it cannot be remuxed: {e}; re-export with fast start")),
            }
        }
        Ok(info) if !info.fast_start && !info.fragmented => (
            false,
            "not fast start: the moov index is after the media, so browsers cannot play it while loading; \
             re-export with fast start (ffmpeg -movflags +faststart)"
                .to_owned(),
        ),
        Ok(_) => (true, "H.264 video, fast start".to_owned()),
        Err(media::MediaError::Io(e)) => return Err(StoreError::Io(e)),
        Err(e) => (false, e.to_string()),
    };
    Ok((CheckResult { check: Check::Proxy, passed, detail, files: Vec::new(), at_ms: 0 }, remuxed))
}

/// Writes a fast-start copy of the blob at `key` to `copy`, through a local temporary file.
/// Remuxes the blob to fast start into `copy`. The outer error is the storage's (retried); the
/// inner one is the file's (a verdict).
async fn remux_to(
    store: Arc<dyn BlobStore>,
    key: BlobKey,
    size: u64,
    copy: &BlobKey,
) -> Result<Result<(), media::MediaError>, StoreError> {
    let reader = BlobReader { store: store.clone(), key, size, runtime: tokio::runtime::Handle::current() };
    let remuxed = tokio::task::spawn_blocking(move || -> Result<Result<_, media::MediaError>, StoreError> {
        let mut input = io::BufReader::with_capacity(READ_CHUNK as usize, BlobCursor { reader, pos: 0 });
        let mut temp = tempfile::NamedTempFile::new()?;
        let mut out = io::BufWriter::new(temp.as_file_mut());
        match media::remux_fast_start(&mut input, size, &mut out) {
            Ok(_) => {}
            Err(media::MediaError::Io(e)) => return Err(StoreError::Io(e)),
            Err(other) => return Ok(Err(other)),
        }
        io::Write::flush(&mut out)?;
        drop(out);
        Ok(Ok(temp))
    })
    .await
    .map_err(|e| StoreError::Backend(format!("the fast-start remux stopped: {e}")))??;
    let temp = match remuxed {
        Ok(temp) => temp,
        Err(e) => return Ok(Err(e)),
    };
    let mut file = tokio::fs::File::open(temp.path()).await?;
    store.put_stream(copy, &mut file).await?;
    Ok(Ok(()))
}
