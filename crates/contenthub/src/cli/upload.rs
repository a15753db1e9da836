//! `upload` and `deliver`: declare, send every file (parallel streams, CRC-checked chunks, big files
//! as parallel parts, frame folders as packages), resume from the journal, DELIVER.

use super::send::{Pace, Span, send_piece};
use super::status::{print_delivery, wait};
use super::*;

#[derive(Debug)]
pub struct UploadArgs {
    pub project: i64,
    pub bucket: String,
    pub request: Option<i64>,
    pub meta: Vec<String>,
    pub files: Vec<PathBuf>,
    pub json: bool,
    pub wait: bool,
    /// Hash every file first and declare its md5 (one more read of each file).
    pub md5: bool,
    /// Upload streams at once, across files and parts of big files.
    pub parallel: usize,
    /// Pieces a big file is split into at most (parallel uploads the hub writes in place into the
    /// file; 1 = no split).
    pub split: usize,
    /// The most bytes per second to send, across all streams (`None`: as fast as the link goes).
    pub max_rate: Option<u64>,
}

/// Reads a rate such as `50M` (bytes per second; K, M and G multiply by 1024).
pub fn parse_rate(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let unreadable = || format!("{text:?}: write bytes per second, e.g. 50M, 800K or 1G");
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit() && *c != '.') {
        Some((i, _)) => text.split_at(i),
        None => (text, ""),
    };
    let factor: u64 = match unit.trim().trim_end_matches("/s").trim_end_matches(['B', 'i']) {
        "" => 1,
        "K" | "k" => 1 << 10,
        "M" | "m" => 1 << 20,
        "G" | "g" => 1 << 30,
        _ => return Err(unreadable()),
    };
    let value: f64 = number.parse().map_err(|_| unreadable())?;
    let rate = (value * factor as f64) as u64;
    if rate == 0 {
        return Err(format!("{text:?}: the rate must be more than 0"));
    }
    Ok(rate)
}

/// `deliver --request R`: the request names the project and bucket, and its metadata (e.g. the
/// reel) is the files' default metadata.
pub async fn deliver(request: i64, mut args: UploadArgs) -> anyhow::Result<()> {
    let client = client()?;
    let found = match client.request(request).await {
        Ok(found) => found,
        Err(e) => return Err(missing(&client, e, &format!("request {request}")).await),
    };
    args.project = found.project_id;
    args.bucket = found.bucket.slug().to_owned();
    args.request = Some(request);
    let given: Vec<String> = args.meta.iter().filter_map(|m| m.split_once('=')).map(|(k, _)| k.trim().into()).collect();
    for (key, value) in &found.metadata {
        if !given.contains(key) {
            let value = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
            args.meta.push(format!("{key}={value}"));
        }
    }
    eprintln!("request {request}: {} ({})", found.title, args.bucket);
    upload(args).await
}

/// Files at least this big go as parallel pieces.
const SPLIT_AT: u64 = 256 << 20;

/// The smallest piece (but the last).
const MIN_PIECE: u64 = 64 << 20;

pub async fn upload(args: UploadArgs) -> anyhow::Result<()> {
    let client = client()?;
    let parallel = args.parallel.clamp(1, 32);
    let mut metadata = serde_json::Map::new();
    for pair in &args.meta {
        let (k, v) = pair.split_once('=').with_context(|| format!("--meta {pair:?}: write KEY=VALUE"))?;
        metadata.insert(k.trim().to_owned(), Value::String(v.trim().to_owned()));
    }
    let mut sources = Vec::new();
    let mut packages: Vec<Vec<npack::SourceFile>> = Vec::new();
    for path in &args.files {
        let meta = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?;
        if meta.is_dir() {
            let (source, members) = package_source(path)?;
            sources.push(source);
            packages.push(members);
            continue;
        }
        packages.push(Vec::new());
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("{}: name is not UTF-8", path.display()))?;
        if let Err(issue) = npack::names::check_delivery_name(name) {
            bail!("{name}: {issue}; rename the file");
        }
        sources.push(npack::SourceFile {
            name: name.to_owned(),
            path: path.clone(),
            size: meta.len(),
            modified: meta.modified().ok(),
        });
    }
    let key = |f: &npack::SourceFile| {
        let mtime = f.modified.and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs());
        format!(
            "{}/{}/{}/{}/{mtime}",
            args.project,
            args.bucket,
            std::path::absolute(&f.path).unwrap_or_default().display(),
            f.size
        )
    };
    let mut journal = load_journal();
    let known: Vec<Option<&Transfer>> = sources.iter().map(|f| journal.entries.get(&key(f))).collect();
    let resumable = known.iter().all(Option::is_some)
        && known.iter().flatten().map(|e| e.delivery).collect::<std::collections::HashSet<_>>().len() == 1;
    let mut transfers: Vec<Transfer> = if resumable {
        eprintln!("continuing delivery {}", known[0].expect("checked").delivery);
        known.into_iter().map(|e| e.expect("checked").clone()).collect()
    } else {
        let digests = if args.md5 {
            eprintln!("hashing {} file(s)…", sources.len());
            let sources: Vec<_> =
                sources.iter().zip(&packages).filter(|(_, m)| m.is_empty()).map(|(f, _)| f.clone()).collect();
            let digests = tokio::task::spawn_blocking(move || {
                npack::checksum_files(&sources, 4, &std::sync::atomic::AtomicBool::new(false), &npack::NoProgress)
            })
            .await??;
            let mut digests = digests.iter().map(|d| Some(npack::checksum::hex(&d.md5)));
            packages.iter().map(|m| if m.is_empty() { digests.next().flatten() } else { None }).collect()
        } else {
            vec![None; sources.len()]
        };
        let files: Vec<NewFile> = sources
            .iter()
            .zip(&digests)
            .zip(&packages)
            .map(|((f, md5), members)| NewFile {
                name: f.name.clone(),
                size: if members.is_empty() { f.size as i64 } else { 0 },
                package: (!members.is_empty())
                    .then(|| members.iter().map(|m| NewMember { name: m.name.clone(), size: m.size as i64 }).collect()),
                md5: md5.clone(),
                metadata: metadata.clone(),
                request_id: args.request,
            })
            .collect();
        // Our own key for the declaration: retried after a lost answer, it finds the same delivery.
        let declaration = NewDelivery { bucket: args.bucket.clone(), client_key: Some(new_client_key()), files };
        let delivery = match retry(|| client.create_delivery(args.project, &declaration)).await {
            Ok(delivery) => delivery,
            Err(e) => {
                let what = format!("bucket {} in project {}", args.bucket, args.project);
                return Err(missing(&client, e, &what).await);
            }
        };
        let id = delivery.delivery.id;
        let started_ms = now_ms();
        let mut transfers = Vec::new();
        for f in &sources {
            let declared =
                delivery.files.iter().find(|x| x.name == f.name).context("the delivery does not list a file")?;
            let package = declared.package.as_ref().map(|_| declared.asset_id);
            let upload = declared.upload.as_deref().filter(|_| package.is_none());
            let transfer = Transfer {
                delivery: id,
                name: f.name.clone(),
                path: std::path::absolute(&f.path)?,
                size: f.size,
                upload: upload.map(str::to_owned).unwrap_or_default(),
                parts: Vec::new(),
                pieces: false,
                package,
                started_ms,
                error: None,
            };
            journal.entries.insert(key(f), transfer.clone());
            transfers.push(transfer);
        }
        save_journal(&journal)?;
        transfers
    };
    let delivery_id = transfers[0].delivery;
    // Declared just now: the hub has none of the packages' files yet, no need to ask.
    let fresh = !resumable;

    // Files the server already has whole need nothing more (e.g. their parts were joined just
    // before an interruption).
    let view = if fresh { None } else { Some(retry(|| client.delivery(delivery_id)).await.map_err(explain)?) };
    let complete = |name: &str| view.as_ref().is_some_and(|view| has_whole(view, name));
    // Big files go as parallel pieces, each written by the hub in place into the file. Resumed,
    // the same ranges are asked for again: the hub answers with the pieces it has (creating a
    // piece is idempotent), or new ones for a piece that is gone.
    for (source, transfer) in sources.iter().zip(transfers.iter_mut()) {
        if !transfer.pieces {
            transfer.parts.clear(); // partial uploads of an older version, left to expire
        }
        let count = if !transfer.parts.is_empty() {
            transfer.parts.len() as u64
        } else if fresh && source.size >= SPLIT_AT && args.split > 1 {
            (source.size / MIN_PIECE).clamp(1, args.split.min(32) as u64)
        } else {
            0 // small, or a file the hub has been taking as one stream: it goes on so
        };
        if count == 0 || transfer.package.is_some() || complete(&source.name) {
            continue;
        }
        let whole = transfer.upload.rsplit('/').next().unwrap_or_default().to_owned();
        // Made all at once: a round trip in all, not one per piece.
        let made = client::api_types::tus::split_into_pieces(source.size, count).into_iter().map(|(start, len)| {
            let meta = upload_metadata::encode(&[
                ("project", &args.project.to_string()),
                ("bucket", &args.bucket),
                ("whole", &whole),
                ("at", &start.to_string()),
            ]);
            let client = client.clone();
            async move { retry(|| client.create_upload(Some(len), &meta, None)).await }
        });
        transfer.parts = futures_util::future::try_join_all(made).await.map_err(explain)?;
        transfer.pieces = true;
        journal.entries.insert(key(source), transfer.clone());
        save_journal(&journal)?;
    }

    let bars = MultiProgress::new();
    if args.json {
        bars.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let total: u64 = sources.iter().map(|f| f.size).sum();
    let overall = bars.add(
        ProgressBar::new(total).with_style(
            ProgressStyle::with_template(
                "{prefix:24} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        ),
    );
    overall.set_prefix(format!("{} file(s)", sources.len()));
    let streams = std::sync::Arc::new(tokio::sync::Semaphore::new(parallel));
    let pace = std::sync::Arc::new(Pace::new(args.max_rate));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, (source, transfer)) in sources.iter().zip(&transfers).enumerate() {
        if complete(&source.name) {
            overall.inc(source.size);
            continue;
        }
        if let Some(asset) = transfer.package {
            let (client, overall, streams, pace) = (client.clone(), overall.clone(), streams.clone(), pace.clone());
            let (place, dir) = ((args.project, args.bucket.clone(), asset), source.path.clone());
            let members = packages[index].clone();
            tasks.spawn(async move {
                (index, send_package(&client, place, &dir, members, &overall, &streams, (parallel, fresh), &pace).await)
            });
            continue;
        }
        let pieces: Vec<(u64, u64, String)> = if transfer.parts.is_empty() {
            vec![(0, source.size, transfer.upload.clone())]
        } else {
            let count = transfer.parts.len() as u64;
            client::api_types::tus::split_into_pieces(source.size, count)
                .into_iter()
                .zip(&transfer.parts)
                .map(|((s, l), u)| (s, l, u.clone()))
                .collect()
        };
        let (client, overall, streams, pace) = (client.clone(), overall.clone(), streams.clone(), pace.clone());
        let (source, transfer) = (source.clone(), transfer.clone());
        tasks.spawn(async move {
            let mut sends = tokio::task::JoinSet::new();
            for (start, len, url) in pieces {
                let (client, overall, streams, path, pace) =
                    (client.clone(), overall.clone(), streams.clone(), source.path.clone(), pace.clone());
                sends.spawn(async move {
                    let _stream = streams.acquire_owned().await.expect("never closed");
                    send_piece(&client, &Span::of_file(&path, start, len), &url, (&overall, &pace), fresh).await
                });
            }
            while let Some(sent) = sends.join_next().await {
                if let Err(e) = sent.expect("a send task panicked") {
                    return (index, Err(e));
                }
            }
            // The last piece to finish makes the file whole; if that was cut short, asking for the
            // file's offset finishes it.
            if !transfer.parts.is_empty() && !file_complete(&client, transfer.delivery, &source.name).await {
                match retry(|| client.upload_offset(&transfer.upload)).await {
                    Ok(found) if found.offset == source.size => {}
                    Ok(found) => {
                        let e = anyhow::anyhow!(
                            "the hub has {} of {} bytes after every piece was sent",
                            found.offset,
                            source.size
                        );
                        return (index, Err(e));
                    }
                    Err(e) => return (index, Err(explain(e))),
                }
            }
            (index, Ok(()))
        });
    }
    let mut failures = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (index, result) = done.expect("an upload task panicked");
        let source = &sources[index];
        match result {
            Ok(()) => {
                if !args.json {
                    bars.println(format!("  sent {}", source.name)).ok();
                }
            }
            Err(e) => {
                if let Some(entry) = journal.entries.get_mut(&key(source)) {
                    entry.error = Some(format!("{e:#}"));
                }
                failures.push(format!("{}: {e:#}", source.name));
            }
        }
    }
    overall.finish_and_clear();
    if !failures.is_empty() {
        save_journal(&journal)?;
        bail!(
            "{} file(s) did not finish:\n  {}\nrun the same command again to resume from where the hub stopped",
            failures.len(),
            failures.join("\n  ")
        );
    }
    let delivered = match retry(|| client.deliver(delivery_id)).await {
        Ok(delivered) => delivered,
        // DELIVER is one transaction: if its answer was lost, the delivery says whether it happened.
        Err(e) => match retry(|| client.delivery(delivery_id)).await {
            Ok(view) if view.delivery.state == DeliveryState::Delivered => view,
            _ => return Err(explain(e)),
        },
    };
    for f in &sources {
        journal.entries.remove(&key(f));
    }
    save_journal(&journal)?;
    let result = if args.wait { wait(&client, delivery_id).await? } else { delivered };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print_delivery(&client, &result).await;
    }
    Ok(())
}

/// A frame folder to deliver as one zipless package: every file in it (flat), its checksum.txt
/// among them. The source's size is the sum; its mtime is checksum.txt's.
fn package_source(dir: &Path) -> anyhow::Result<(npack::SourceFile, Vec<npack::SourceFile>)> {
    let name =
        dir.file_name().and_then(|n| n.to_str()).with_context(|| format!("{}: name is not UTF-8", dir.display()))?;
    if let Err(issue) = npack::names::check_delivery_name(name) {
        bail!("{name}: {issue}; rename the folder");
    }
    let manifest = dir.join(npack::CHECKSUM_TXT);
    let manifest_meta = std::fs::metadata(&manifest).with_context(|| {
        format!(
            "{}: a frame folder needs its checksum.txt; make it with `npack checksum -s {}`",
            dir.display(),
            dir.display()
        )
    })?;
    let scan = npack::scan_folder(dir).with_context(|| format!("reading {}", dir.display()))?;
    if let Some(nested) = scan.files.iter().find(|f| f.name.contains('/')) {
        bail!("{}: packages are flat, but {} is in a subfolder", dir.display(), nested.name);
    }
    let mut members = scan.files;
    members.push(npack::SourceFile {
        name: npack::CHECKSUM_TXT.into(),
        path: manifest,
        size: manifest_meta.len(),
        modified: manifest_meta.modified().ok(),
    });
    let size = members.iter().map(|m| m.size).sum();
    let source = npack::SourceFile {
        name: name.to_owned(),
        path: dir.to_owned(),
        size,
        modified: manifest_meta.modified().ok(),
    };
    Ok((source, members))
}

/// Sends the files of a package the hub does not have whole yet as streams: runs of whole files
/// laid back to back in declared order, each run one tus upload (`members=FIRST-LAST`). A stream
/// the hub already has continues from its offset; files in none go out in new streams, up to
/// `parallel` of them, balanced by bytes. A package declared just now (`fresh`) has no file
/// at the hub yet: its files are not listed first (a round trip per 5,000 files on a long link).
#[allow(clippy::too_many_arguments)]
async fn send_package(
    client: &Client,
    (project, bucket, asset): (i64, String, i64),
    dir: &Path,
    members: Vec<npack::SourceFile>,
    bar: &ProgressBar,
    streams: &std::sync::Arc<tokio::sync::Semaphore>,
    (parallel, fresh): (usize, bool),
    pace: &std::sync::Arc<Pace>,
) -> anyhow::Result<()> {
    let mut open = Vec::new();
    if fresh {
        open.extend(members.iter().map(|m| client::api_types::PackageMember {
            name: m.name.clone(),
            size: m.size as i64,
            upload: None,
            offset: 0,
            complete: false,
        }));
    } else {
        let mut after = String::new();
        loop {
            let page = retry(|| client.incomplete_members(asset, &after)).await.map_err(explain)?;
            let Some(last) = page.last() else { break };
            after = last.name.clone();
            open.extend(page);
        }
    }
    let place: std::collections::HashMap<&str, usize> =
        members.iter().enumerate().map(|(i, m)| (m.name.as_str(), i)).collect();
    let mut carried: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    let mut free = Vec::new();
    for member in &open {
        let Some(&i) = place.get(member.name.as_str()) else {
            bail!("the hub expects {} in {}, but it is not there any more", member.name, dir.display());
        };
        match &member.upload {
            Some(url) => carried.entry(url.clone()).or_default().push(i),
            None => free.push(i),
        }
    }
    let pending: u64 = open.iter().filter_map(|m| place.get(m.name.as_str())).map(|&i| members[i].size).sum();
    bar.inc(members.iter().map(|m| m.size).sum::<u64>() - pending);
    // (upload to continue, first file, last file)
    let mut runs: Vec<(Option<String>, usize, usize)> = Vec::new();
    for (url, mut files) in carried {
        files.sort_unstable();
        let (first, last) = (files[0], files[files.len() - 1]);
        if last - first + 1 != files.len() {
            bail!("the hub's upload {url} carries files {first} to {last} of {} with gaps", dir.display());
        }
        runs.push((Some(url), first, last));
    }
    free.sort_unstable();
    let free_bytes: u64 = free.iter().map(|&i| members[i].size).sum();
    let target = free_bytes.div_ceil(parallel.max(1) as u64).max(1);
    let mut start: Option<(usize, u64)> = None;
    for (k, &i) in free.iter().enumerate() {
        let (first, bytes) = start.get_or_insert((i, 0));
        *bytes += members[i].size;
        let first = *first;
        let ends_here = free.get(k + 1) != Some(&(i + 1)) || *bytes >= target;
        if ends_here {
            runs.push((None, first, i));
            start = None;
        }
    }
    let members = std::sync::Arc::new(members);
    let mut sends = tokio::task::JoinSet::new();
    for (url, first, last) in runs {
        let span = Span::of_files(dir, &members[first..=last]);
        let meta = upload_metadata::encode(&[
            ("project", &project.to_string()),
            ("bucket", &bucket),
            ("package", &asset.to_string()),
            ("members", &format!("{first}-{last}")),
        ]);
        let (client, bar, pace, streams) = (client.clone(), bar.clone(), pace.clone(), streams.clone());
        sends.spawn(async move {
            let _stream = streams.acquire_owned().await.expect("never closed");
            // A stream made just now has nothing at the hub yet.
            let (url, new) = match url {
                Some(url) => (url, false),
                None => {
                    (retry_connect(|| client.create_upload(Some(span.len), &meta, None)).await.map_err(explain)?, true)
                }
            };
            send_piece(&client, &span, &url, (&bar, &pace), new).await
        });
    }
    while let Some(sent) = sends.join_next().await {
        sent.expect("a send task panicked")?;
    }
    Ok(())
}

async fn file_complete(client: &Client, delivery: i64, name: &str) -> bool {
    retry(|| client.delivery(delivery)).await.is_ok_and(|view| has_whole(&view, name))
}

/// Whether the delivery (as the hub shows it) has the file of that name whole.
fn has_whole(delivery: &DeliveryView, name: &str) -> bool {
    delivery.files.iter().any(|f| f.name == name && f.complete)
}

#[cfg(test)]
mod tests {
    use super::parse_rate;

    #[test]
    fn rates_read_with_units_and_refuse_nonsense() {
        assert_eq!(parse_rate("50M"), Ok(50 << 20));
        assert_eq!(parse_rate("800K"), Ok(800 << 10));
        assert_eq!(parse_rate("1.5G"), Ok(3 << 29));
        assert_eq!(parse_rate("2MiB/s"), Ok(2 << 20));
        assert_eq!(parse_rate("4096"), Ok(4096));
        for bad in ["", "fast", "10X", "0", "-5M"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }
}
