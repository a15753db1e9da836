//! Inspection of MP4/MOV files (ISO-BMFF and QuickTime share the box structure): which tracks and
//! codecs they hold and whether they are "fast start" (the `moov` index before the `mdat` media
//! data, which a browser needs to play while downloading), and a remux that moves `moov` to the
//! front without touching the media (what `ffmpeg -movflags +faststart` does), rewriting the chunk
//! offsets (`stco`/`co64`) that point into `mdat`.
//!
//! Nothing here trusts the file: box sizes are checked against the file, the index is read into
//! memory only up to a limit, every offset sum is checked (a 64-bit size may wrap), and the number
//! of boxes walked and the depth followed are bounded.

use std::io::{self, Read, Seek, SeekFrom, Write};

/// The most `moov` we read into memory (an hour of 4K is a few MiB).
pub const MAX_MOOV: u64 = 64 << 20;
const MAX_TOP_LEVEL_BOXES: usize = 100_000;
/// The most boxes inside one parent (a real moov has a few dozen per level).
const MAX_CHILDREN: usize = 100_000;
/// The deepest the remux follows boxes inside moov (trak/mdia/minf/stbl is four).
const MAX_DEPTH: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("cannot read the file: {0}")]
    Io(#[from] io::Error),
    #[error("not an MP4/MOV file: {0}")]
    NotMp4(String),
    #[error("damaged MP4/MOV: {0}")]
    Corrupt(String),
    #[error("cannot remux: {0}")]
    Unsupported(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Track {
    /// The handler: `vide`, `soun`, `text`, `tmcd`, …
    pub kind: String,
    /// The sample entry's format: `avc1`, `hvc1`, `mp4a`, `apch`, …
    pub codec: String,
    /// Picture size (video), from the sample entry.
    pub width: Option<u16>,
    pub height: Option<u16>,
    /// Frames per second as a fraction: the track's timescale over its first sample duration.
    pub frame_rate: Option<(u32, u32)>,
    /// Channels and sample rate (sound), from the sample entry.
    pub channels: Option<u16>,
    pub sample_rate: Option<u32>,
    /// The track's length: (duration, timescale) of its media header.
    pub duration: Option<(u64, u32)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaInfo {
    /// The major brand of `ftyp` (`isom`, `qt  `, …), if there is one.
    pub brand: Option<String>,
    pub tracks: Vec<Track>,
    /// `moov` comes before the first `mdat`.
    pub fast_start: bool,
    /// Fragmented (has `moof`): plays progressively without a fast-start `moov`.
    pub fragmented: bool,
    /// The movie's length: (duration, timescale) of its `mvhd`.
    pub duration: Option<(u64, u32)>,
    /// The first frame's timecode (`HH:MM:SS:FF`), from a timecode track.
    pub timecode: Option<String>,
}

impl MediaInfo {
    pub fn has_h264_video(&self) -> bool {
        self.tracks.iter().any(|t| t.kind == "vide" && matches!(t.codec.as_str(), "avc1" | "avc3"))
    }
    pub fn video_codecs(&self) -> Vec<&str> {
        self.tracks.iter().filter(|t| t.kind == "vide").map(|t| t.codec.as_str()).collect()
    }

    /// Whether a browser plays it as it loads: H.264 video, and fast start (or fragmented).
    pub fn plays_in_browsers(&self) -> bool {
        self.has_h264_video() && (self.fast_start || self.fragmented)
    }
}

#[derive(Debug, Clone, Copy)]
struct BoxHeader {
    kind: [u8; 4],
    /// Offset of the box in the file.
    start: u64,
    /// Header length (8 or 16).
    header: u64,
    /// Whole box length.
    size: u64,
}

fn fourcc(kind: &[u8; 4]) -> String {
    kind.iter().map(|b| if b.is_ascii_graphic() || *b == b' ' { *b as char } else { '?' }).collect()
}

/// Reads the top-level box headers of a file of `len` bytes.
fn top_level<R: Read + Seek>(reader: &mut R, len: u64) -> Result<Vec<BoxHeader>, MediaError> {
    let mut boxes = Vec::new();
    let mut at = 0;
    while at < len {
        if boxes.len() >= MAX_TOP_LEVEL_BOXES {
            return Err(MediaError::Corrupt("too many top-level boxes".into()));
        }
        if len - at < 8 {
            return Err(MediaError::Corrupt(format!("{} stray bytes at the end", len - at)));
        }
        reader.seek(SeekFrom::Start(at))?;
        let mut head = [0u8; 16];
        reader.read_exact(&mut head[..8])?;
        let size32 = u32::from_be_bytes(head[..4].try_into().expect("4 bytes"));
        let kind: [u8; 4] = head[4..8].try_into().expect("4 bytes");
        if boxes.is_empty() && !matches!(&kind, b"ftyp" | b"moov" | b"mdat" | b"free" | b"skip" | b"wide" | b"pnot") {
            return Err(MediaError::NotMp4(format!("it starts with {:?}, not an ftyp/moov/mdat box", fourcc(&kind))));
        }
        let (size, header) = match size32 {
            0 => (len - at, 8),
            1 => {
                reader.read_exact(&mut head[8..16])?;
                (u64::from_be_bytes(head[8..16].try_into().expect("8 bytes")), 16)
            }
            n => (u64::from(n), 8),
        };
        if size < header || at.checked_add(size).is_none_or(|end| end > len) {
            return Err(MediaError::Corrupt(format!(
                "box {} at {at} claims {size} bytes, past the end",
                fourcc(&kind)
            )));
        }
        boxes.push(BoxHeader { kind, start: at, header, size });
        at += size;
    }
    if boxes.is_empty() {
        return Err(MediaError::NotMp4("the file is empty".into()));
    }
    Ok(boxes)
}

/// A box inside an in-memory parent: (kind, box start, payload start, box end).
type Child = ([u8; 4], usize, usize, usize);

/// The child boxes of the payload `from..to` of `data`.
fn children(data: &[u8], from: usize, to: usize) -> Result<Vec<Child>, MediaError> {
    let mut out = Vec::new();
    let mut at = from;
    while at.checked_add(8).is_some_and(|end| end <= to) {
        if out.len() >= MAX_CHILDREN {
            return Err(MediaError::Corrupt(format!("too many boxes in one box (over {MAX_CHILDREN})")));
        }
        let size32 = u32::from_be_bytes(data[at..at + 4].try_into().expect("4 bytes")) as usize;
        let kind: [u8; 4] = data[at + 4..at + 8].try_into().expect("4 bytes");
        let (size, header) = match size32 {
            0 => (to - at, 8),
            1 if at.checked_add(16).is_some_and(|end| end <= to) => {
                let big = u64::from_be_bytes(data[at + 8..at + 16].try_into().expect("8 bytes"));
                (usize::try_from(big).map_err(|_| MediaError::Corrupt("box too large".into()))?, 16)
            }
            1 => return Err(MediaError::Corrupt("truncated box header".into())),
            n => (n, 8),
        };
        // Checked: a 64-bit size can make `at + size` wrap around to an earlier offset.
        if size < header || at.checked_add(size).is_none_or(|end| end > to) {
            return Err(MediaError::Corrupt(format!("box {} overruns its parent", fourcc(&kind))));
        }
        out.push((kind, at, at + header, at + size));
        at += size;
    }
    Ok(out)
}

fn child<'a>(list: &'a [Child], kind: &[u8; 4]) -> Option<&'a Child> {
    list.iter().find(|c| &c.0 == kind)
}

fn read_moov<R: Read + Seek>(reader: &mut R, moov: &BoxHeader) -> Result<Vec<u8>, MediaError> {
    if moov.size > MAX_MOOV {
        return Err(MediaError::Unsupported(format!("the moov index is {} bytes; the limit is {MAX_MOOV}", moov.size)));
    }
    reader.seek(SeekFrom::Start(moov.start))?;
    let mut data = vec![0u8; moov.size as usize];
    reader.read_exact(&mut data)?;
    Ok(data)
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    data.get(at..at.checked_add(2)?).map(|b| u16::from_be_bytes(b.try_into().expect("2 bytes")))
}
fn be32(data: &[u8], at: usize) -> Option<u32> {
    data.get(at..at.checked_add(4)?).map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")))
}
fn be64(data: &[u8], at: usize) -> Option<u64> {
    data.get(at..at.checked_add(8)?).map(|b| u64::from_be_bytes(b.try_into().expect("8 bytes")))
}

/// (duration, timescale) of an `mvhd` or `mdhd` payload `from..to` (versions 0 and 1).
fn header_duration(moov: &[u8], from: usize, to: usize) -> Option<(u64, u32)> {
    let data = moov.get(from..to)?;
    match data.first()? {
        0 => Some((u64::from(be32(data, 16)?), be32(data, 12)?)),
        1 => Some((be64(data, 24)?, be32(data, 20)?)),
        _ => None,
    }
}

/// A track's timecode sample entry: (flags, frames per second), and where its first sample is.
struct TimecodeTrack {
    frames: u8,
    first_sample: Option<u64>,
}

fn tracks(moov: &[u8], header: usize) -> Result<(Vec<Track>, Option<TimecodeTrack>), MediaError> {
    let mut out = Vec::new();
    let mut timecode = None;
    for (kind, _, from, to) in children(moov, header, moov.len())? {
        if &kind != b"trak" {
            continue;
        }
        let trak = children(moov, from, to)?;
        let Some(&(_, _, mdia_from, mdia_to)) = child(&trak, b"mdia") else { continue };
        let mdia = children(moov, mdia_from, mdia_to)?;
        let handler = child(&mdia, b"hdlr")
            .and_then(|&(_, _, f, t)| moov.get(f + 8..f + 12).filter(|_| f + 12 <= t))
            .map(|b| fourcc(b.try_into().expect("4 bytes")))
            .unwrap_or_else(|| "????".into());
        let duration = child(&mdia, b"mdhd").and_then(|&(_, _, f, t)| header_duration(moov, f, t));
        let stbl = child(&mdia, b"minf")
            .map(|&(_, _, f, t)| children(moov, f, t))
            .transpose()?
            .and_then(|minf| child(&minf, b"stbl").copied())
            .map(|(_, _, f, t)| children(moov, f, t))
            .transpose()?
            .unwrap_or_default();
        // stsd: version/flags (4), entry count (4), then the first entry: size (4), format (4),
        // and its payload.
        let entry = child(&stbl, b"stsd").map(|&(_, _, f, t)| (f + 16, t));
        let codec = entry
            .and_then(|(at, t)| moov.get(at - 4..at).filter(|_| at <= t))
            .map(|b| fourcc(b.try_into().expect("4 bytes")))
            .unwrap_or_else(|| "????".into());
        let payload = entry.and_then(|(at, t)| moov.get(at..t)).unwrap_or_default();
        let mut track = Track { kind: handler, codec, duration, ..Track::default() };
        match track.kind.as_str() {
            // Visual sample entry: reserved (6), data reference (2), 16 bytes, width, height.
            "vide" => {
                track.width = be16(payload, 24);
                track.height = be16(payload, 26);
                // stts: version/flags (4), entry count (4), then (count, duration) pairs.
                let delta = child(&stbl, b"stts").and_then(|&(_, _, f, t)| be32(moov.get(f..t)?, 12));
                track.frame_rate = duration.zip(delta).map(|((_, scale), delta)| (scale, delta));
            }
            // Sound sample entry (ISO, QuickTime versions 0 and 1): channels at 16, rate (16.16) at 24.
            "soun" if be16(payload, 8).is_some_and(|version| version < 2) => {
                track.channels = be16(payload, 16);
                track.sample_rate = be32(payload, 24).map(|fixed| fixed >> 16);
            }
            // Timecode sample entry: reserved (6), data reference (2), reserved (4), flags (4),
            // timescale (4), frame duration (4), frames per second (1).
            "tmcd" if timecode.is_none() => {
                let first_sample = child(&stbl, b"stco")
                    .and_then(|&(_, _, f, t)| be32(moov.get(f..t)?, 8).map(u64::from))
                    .or_else(|| child(&stbl, b"co64").and_then(|&(_, _, f, t)| be64(moov.get(f..t)?, 8)));
                if let Some(&frames) = payload.get(24) {
                    timecode = Some(TimecodeTrack { frames, first_sample });
                }
            }
            _ => {}
        }
        out.push(track);
    }
    Ok((out, timecode))
}

/// `HH:MM:SS:FF` of frame `n` at `fps` frames per second (non-drop counting).
fn timecode_of(n: u32, fps: u8) -> Option<String> {
    let fps = u32::from(fps);
    if fps == 0 {
        return None;
    }
    let (frames, seconds) = (n % fps, n / fps);
    Some(format!("{:02}:{:02}:{:02}:{:02}", seconds / 3600 % 24, seconds / 60 % 60, seconds % 60, frames))
}

/// Inspects an MP4/MOV of `len` bytes.
pub fn inspect<R: Read + Seek>(reader: &mut R, len: u64) -> Result<MediaInfo, MediaError> {
    let boxes = top_level(reader, len)?;
    let moov = boxes.iter().find(|b| &b.kind == b"moov").ok_or_else(|| {
        MediaError::Corrupt("there is no moov box (the index); the file is incomplete or not a movie".into())
    })?;
    let first_mdat = boxes.iter().find(|b| &b.kind == b"mdat").map(|b| b.start);
    let brand = match boxes.iter().find(|b| &b.kind == b"ftyp") {
        Some(ftyp) if ftyp.size >= ftyp.header + 4 => {
            reader.seek(SeekFrom::Start(ftyp.start + ftyp.header))?;
            let mut b = [0u8; 4];
            reader.read_exact(&mut b)?;
            Some(fourcc(&b))
        }
        _ => None,
    };
    let data = read_moov(reader, moov)?;
    let (tracks, timecode_track) = tracks(&data, moov.header as usize)?;
    let duration = children(&data, moov.header as usize, data.len())?
        .iter()
        .find(|c| &c.0 == b"mvhd")
        .and_then(|&(_, _, f, t)| header_duration(&data, f, t));
    // The timecode track's first sample is the first frame's number, somewhere in the file.
    let mut timecode = None;
    if let Some(TimecodeTrack { frames, first_sample: Some(at) }) = timecode_track
        && at.checked_add(4).is_some_and(|end| end <= len)
    {
        reader.seek(SeekFrom::Start(at))?;
        let mut n = [0u8; 4];
        reader.read_exact(&mut n)?;
        timecode = timecode_of(u32::from_be_bytes(n), frames);
    }
    Ok(MediaInfo {
        brand,
        tracks,
        fast_start: first_mdat.is_none_or(|mdat| moov.start < mdat),
        fragmented: boxes.iter().any(|b| &b.kind == b"moof"),
        duration,
        timecode,
    })
}

/// Adds `delta` to every chunk offset in the `stco`/`co64` boxes of a `moov` held in memory.
fn shift_chunk_offsets(moov: &mut [u8], from: usize, to: usize, delta: u64, depth: usize) -> Result<(), MediaError> {
    if depth > MAX_DEPTH {
        return Err(MediaError::Corrupt(format!("boxes nested deeper than {MAX_DEPTH} levels in moov")));
    }
    for (kind, _, f, t) in children(moov, from, to)? {
        match &kind {
            b"trak" | b"mdia" | b"minf" | b"stbl" | b"edts" => shift_chunk_offsets(moov, f, t, delta, depth + 1)?,
            b"stco" | b"co64" => {
                let wide = &kind == b"co64";
                let count = u32::from_be_bytes(
                    moov.get(f + 4..f + 8)
                        .ok_or_else(|| MediaError::Corrupt("short stco".into()))?
                        .try_into()
                        .expect("4"),
                ) as usize;
                let width = if wide { 8 } else { 4 };
                if count.checked_mul(width).and_then(|n| n.checked_add(f + 8)).is_none_or(|end| end > t) {
                    return Err(MediaError::Corrupt("chunk offset table runs past its box".into()));
                }
                for i in 0..count {
                    let at = f + 8 + i * width;
                    if wide {
                        let v = u64::from_be_bytes(moov[at..at + 8].try_into().expect("8 bytes"))
                            .checked_add(delta)
                            .ok_or_else(|| MediaError::Corrupt("a chunk offset past 2^64".into()))?;
                        moov[at..at + 8].copy_from_slice(&v.to_be_bytes());
                    } else {
                        let v = u64::from(u32::from_be_bytes(moov[at..at + 4].try_into().expect("4 bytes"))) + delta;
                        let v = u32::try_from(v).map_err(|_| {
                            MediaError::Unsupported("chunk offsets would pass 4 GiB; re-export with fast start".into())
                        })?;
                        moov[at..at + 4].copy_from_slice(&v.to_be_bytes());
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Writes a fast-start copy of the movie: `ftyp`, then `moov` (offsets rewritten), then every other
/// box in its original order. The media bytes are copied unchanged. Returns false (and writes
/// nothing) when the movie is already fast start.
pub fn remux_fast_start<R: Read + Seek, W: Write>(reader: &mut R, len: u64, out: &mut W) -> Result<bool, MediaError> {
    let boxes = top_level(reader, len)?;
    let moov_index =
        boxes.iter().position(|b| &b.kind == b"moov").ok_or_else(|| MediaError::Corrupt("no moov box".into()))?;
    let moov = boxes[moov_index];
    if boxes.iter().find(|b| &b.kind == b"mdat").is_none_or(|mdat| moov.start < mdat.start) {
        return Ok(false);
    }
    if boxes.iter().any(|b| &b.kind == b"moof") {
        return Err(MediaError::Unsupported("fragmented movies play without fast start".into()));
    }
    let mut data = read_moov(reader, &moov)?;
    // Everything that was before moov, except ftyp which stays first, moves down by moov's size.
    shift_chunk_offsets(&mut data, moov.header as usize, moov.size as usize, moov.size, 0)?;
    // A moov that was last may say "to the end of the file" (size 0); at the front it must say
    // how long it is, or it would swallow the media after it (found by fuzzing).
    if data[..4] == [0, 0, 0, 0] {
        let size = u32::try_from(moov.size)
            .map_err(|_| MediaError::Unsupported("a moov index over 4 GiB cannot move to the front".into()))?;
        data[..4].copy_from_slice(&size.to_be_bytes());
    }
    let ftyp = boxes.iter().find(|b| &b.kind == b"ftyp" && b.start == 0);
    let mut copy = |b: &BoxHeader, out: &mut W| -> Result<(), MediaError> {
        reader.seek(SeekFrom::Start(b.start))?;
        let copied = io::copy(&mut reader.by_ref().take(b.size), out)?;
        if copied != b.size {
            return Err(MediaError::Corrupt("the file shrank while being copied".into()));
        }
        Ok(())
    };
    if let Some(ftyp) = ftyp {
        copy(ftyp, out)?;
    }
    out.write_all(&data)?;
    for (i, b) in boxes.iter().enumerate() {
        if i != moov_index && Some(b.start) != ftyp.map(|f| f.start) {
            copy(b, out)?;
        }
    }
    out.flush()?;
    Ok(true)
}

/// A tiny synthetic movie and hostile ones, for tests here and in the crates that validate movies.
#[doc(hidden)]
pub mod sample;

mod describe;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    use super::sample::{bx, movie};

    fn info(file: &[u8]) -> Result<MediaInfo, MediaError> {
        inspect(&mut Cursor::new(file), file.len() as u64)
    }

    #[test]
    fn finds_tracks_codecs_and_fast_start() {
        let (fast, _) = movie(b"avc1", true);
        let i = info(&fast).unwrap();
        assert_eq!(i.brand.as_deref(), Some("isom"));
        assert_eq!(
            i.tracks.iter().map(|t| (t.kind.as_str(), t.codec.as_str())).collect::<Vec<_>>(),
            vec![("vide", "avc1")]
        );
        assert!(i.fast_start && i.has_h264_video() && !i.fragmented);
        let (slow, _) = movie(b"hvc1", false);
        let i = info(&slow).unwrap();
        assert!(!i.fast_start && !i.has_h264_video());
        assert_eq!(i.video_codecs(), ["hvc1"]);
    }

    #[test]
    fn remux_moves_moov_first_and_keeps_the_media_reachable() {
        let (slow, media) = movie(b"avc1", false);
        let mut out = Vec::new();
        assert!(remux_fast_start(&mut Cursor::new(&slow), slow.len() as u64, &mut out).unwrap());
        assert_eq!(out.len(), slow.len());
        let i = info(&out).unwrap();
        assert!(i.fast_start && i.has_h264_video());
        // The rewritten chunk offset points at the same media bytes.
        let stco = out.windows(4).position(|w| w == b"stco").unwrap();
        let offset = u32::from_be_bytes(out[stco + 12..stco + 16].try_into().unwrap()) as usize;
        assert_eq!(&out[offset..offset + media.len()], &media[..]);
        let mut again = Vec::new();
        assert!(!remux_fast_start(&mut Cursor::new(&out), out.len() as u64, &mut again).unwrap(), "already fast start");
        assert!(again.is_empty());
    }

    #[test]
    fn hostile_or_foreign_files_get_clear_errors() {
        let (good, _) = movie(b"avc1", true);
        assert!(matches!(info(b"%PDF-1.7 not a movie at all"), Err(MediaError::NotMp4(_))));
        assert!(matches!(info(&good[..good.len() - 5]), Err(MediaError::Corrupt(_))));
        let mut lying = good.clone();
        lying[0..4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(info(&lying), Err(MediaError::Corrupt(_))));
        let no_moov = [bx(b"ftyp", b"isom\0\0\0\0"), bx(b"mdat", b"x")].concat();
        assert!(info(&no_moov).unwrap_err().to_string().contains("no moov"));
        assert!(matches!(info(&[]), Err(MediaError::NotMp4(_))));
    }

    /// A child whose 64-bit size makes its end wrap around (issue 12, scenario 1): before, the walk
    /// started over from an earlier offset and grew its list until memory ran out (in a debug
    /// build, the addition panicked).
    #[test]
    fn a_box_size_that_wraps_is_refused() {
        // At offset 8 inside moov, a size of 2^64 - 8 ends at 0 once wrapped.
        let moov = bx(b"moov", &sample::wrapping_child());
        let file = [bx(b"ftyp", b"isom\0\0\0\0"), moov.clone(), bx(b"mdat", b"frames")].concat();
        assert!(matches!(info(&file), Err(MediaError::Corrupt(_))), "{:?}", info(&file));
        let slow = [bx(b"ftyp", b"isom\0\0\0\0"), bx(b"mdat", b"frames"), moov].concat();
        let err = remux_fast_start(&mut Cursor::new(&slow), slow.len() as u64, &mut Vec::new()).unwrap_err();
        assert!(matches!(err, MediaError::Corrupt(_)), "{err}");
    }

    /// Boxes nested 100,000 deep inside moov (issue 12, scenario 1): before, the remux recursed once
    /// per level and overflowed the stack, taking the process down.
    /// Found by fuzzing: a last moov whose size says "to the end of the file" (0) kept that size
    /// when moved to the front, and swallowed the media after it.
    #[test]
    fn a_moov_sized_to_the_end_gets_its_real_size_at_the_front() {
        let (slow, _) = movie(b"avc1", false);
        let moov_at = slow.windows(4).position(|w| w == b"moov").unwrap() - 4;
        let mut to_the_end = slow.clone();
        to_the_end[moov_at..moov_at + 4].copy_from_slice(&[0, 0, 0, 0]);
        let len = to_the_end.len() as u64;
        assert!(info(&to_the_end).is_ok(), "a size of 0 is valid for the last box");
        let mut out = Vec::new();
        assert!(remux_fast_start(&mut Cursor::new(&to_the_end), len, &mut out).unwrap());
        let mut sized = Vec::new();
        assert!(remux_fast_start(&mut Cursor::new(&slow), len, &mut sized).unwrap());
        assert!(out == sized, "the same movie as when its moov said its size");
    }

    #[test]
    fn boxes_nested_too_deep_are_refused() {
        let nested = sample::nested_traks(100_000);
        let slow = [bx(b"ftyp", b"isom\0\0\0\0"), bx(b"mdat", b"frames"), bx(b"moov", &nested)].concat();
        let err = remux_fast_start(&mut Cursor::new(&slow), slow.len() as u64, &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("nested"), "{err}");
    }

    /// A moov of a million empty boxes is walked within a bound, not listed whole.
    #[test]
    fn too_many_boxes_are_refused() {
        let many: Vec<u8> = (0..1_000_000).flat_map(|_| bx(b"free", b"")).collect();
        let file = [bx(b"ftyp", b"isom\0\0\0\0"), bx(b"moov", &many), bx(b"mdat", b"frames")].concat();
        let err = info(&file).unwrap_err();
        assert!(err.to_string().contains("too many boxes"), "{err}");
    }
}
