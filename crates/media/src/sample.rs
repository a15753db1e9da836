//! A tiny synthetic movie (one video track, one chunk of fake frames), for tests here and in the
//! crates that validate proxies. Not a playable file: real players need real frames.

pub fn bx(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut out = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(payload);
    out
}

/// A child box whose 64-bit size makes its end wrap around from offset 8 of its parent.
pub fn wrapping_child() -> Vec<u8> {
    let mut out = 1u32.to_be_bytes().to_vec();
    out.extend_from_slice(b"trak");
    out.extend_from_slice(&(u64::MAX - 7).to_be_bytes());
    out
}

/// `trak` boxes nested `depth` deep around an empty `stco` (built in one pass).
pub fn nested_traks(depth: usize) -> Vec<u8> {
    let inner = bx(b"stco", &[0u8; 8]);
    let mut out = Vec::with_capacity(depth * 8 + inner.len());
    for level in 0..depth {
        out.extend_from_slice(&(((depth - level) * 8 + inner.len()) as u32).to_be_bytes());
        out.extend_from_slice(b"trak");
    }
    out.extend_from_slice(&inner);
    out
}

/// A movie with one video track whose single chunk is at `chunk_offset`.
fn moov(codec: &[u8; 4], chunk_offset: u32) -> Vec<u8> {
    let hdlr = bx(b"hdlr", &[&[0u8; 8][..], b"vide", &[0u8; 12]].concat());
    let entry = bx(codec, &[0u8; 78]);
    let stsd = bx(b"stsd", &[&[0u8; 4][..], &1u32.to_be_bytes(), &entry].concat());
    let stco = bx(b"stco", &[&[0u8; 4][..], &1u32.to_be_bytes(), &chunk_offset.to_be_bytes()].concat());
    let stbl = bx(b"stbl", &[stsd, stco].concat());
    let minf = bx(b"minf", &stbl);
    let mdia = bx(b"mdia", &[hdlr, minf].concat());
    bx(b"moov", &bx(b"trak", &mdia))
}

pub fn movie(codec: &[u8; 4], fast: bool) -> (Vec<u8>, Vec<u8>) {
    let ftyp = bx(b"ftyp", b"isom\0\0\x02\0isomavc1");
    let media = b"FRAME-DATA-0123456789".to_vec();
    let mdat = bx(b"mdat", &media);
    let moov_len = moov(codec, 0).len();
    let file = if fast {
        let offset = (ftyp.len() + moov_len + 8) as u32;
        [ftyp, moov(codec, offset), mdat].concat()
    } else {
        let offset = (ftyp.len() + 8) as u32;
        [ftyp, mdat, moov(codec, offset)].concat()
    };
    (file, media)
}

/// Hostile movies named as proxies, with a part of the reason each must be refused with: a
/// `moov` child whose 64-bit size wraps around, and a real-looking slow H.264 movie (so that
/// a remux runs) whose `moov` also holds `trak` boxes nested 100,000 deep.
pub fn hostile_movies() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let ftyp = bx(b"ftyp", b"isom\0\0\0\0");
    let wraps = [ftyp, bx(b"mdat", b"frames"), bx(b"moov", &wrapping_child())].concat();
    let (slow, _) = movie(b"avc1", false);
    let mut at = 0;
    let (moov_at, moov_size) = loop {
        let size = u32::from_be_bytes(slow[at..at + 4].try_into().expect("4 bytes")) as usize;
        if &slow[at + 4..at + 8] == b"moov" {
            break (at, size);
        }
        at += size;
    };
    let payload = [&slow[moov_at + 8..moov_at + moov_size], &nested_traks(100_000)[..]].concat();
    let deep = [&slow[..moov_at], &bx(b"moov", &payload)[..], &slow[moov_at + moov_size..]].concat();
    vec![("wraps.mp4", wraps, "overruns its parent"), ("deep.mp4", deep, "nested deeper")]
}
