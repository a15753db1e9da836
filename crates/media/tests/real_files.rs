//! The inspector and the fast-start remux on files a real encoder made (ffmpeg, at test time).

use std::io::Cursor;

fn inspect(bytes: &[u8]) -> media::MediaInfo {
    media::inspect(&mut Cursor::new(bytes), bytes.len() as u64).unwrap()
}

#[test]
fn real_encoder_files_are_read_for_what_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let files = testkit::media::make_all(dir.path());
    let info = |name: &str| inspect(&files.iter().find(|(n, _)| n == name).unwrap().1);
    let kinds = |info: &media::MediaInfo| {
        let mut kinds: Vec<(String, String)> = info.tracks.iter().map(|t| (t.kind.clone(), t.codec.clone())).collect();
        kinds.sort();
        kinds
    };
    let pair = |k: &str, c: &str| (k.to_owned(), c.to_owned());

    let fast = info("h264_fast.mp4");
    assert!(fast.fast_start && fast.has_h264_video() && !fast.fragmented, "{fast:?}");
    assert_eq!(kinds(&fast), vec![pair("soun", "mp4a"), pair("vide", "avc1")]);
    let slow = info("h264_slow.mp4");
    assert!(!slow.fast_start && slow.has_h264_video(), "{slow:?}");
    let prores = info("prores_hq.mov");
    assert_eq!(prores.brand.as_deref(), Some("qt  "), "{prores:?}");
    assert_eq!(prores.video_codecs(), vec!["apch"], "ProRes 422 HQ");
    assert!(prores.tracks.iter().any(|t| t.kind == "soun"), "{prores:?}");
    // What a master is, in words (issue 13, bug 5): shown on its asset page instead of a verdict
    // about proxies.
    assert_eq!(
        prores.describe(),
        "QuickTime (qt); video ProRes 422 HQ (apch) 160×90 at 24 fps; 00:00:01.000; timecode 01:00:10:05; \
         sound: 1 track (PCM (in24), 2 ch, 48000 Hz)"
    );
    assert!(!prores.plays_in_browsers() && fast.plays_in_browsers() && !slow.plays_in_browsers());
    assert_eq!(info("hevc.mp4").video_codecs(), vec!["hvc1"]);
    let audio = info("audio_only.mp4");
    assert!(audio.video_codecs().is_empty() && kinds(&audio) == vec![pair("soun", "mp4a")], "{audio:?}");
}

#[test]
fn a_real_movie_remuxed_to_fast_start_still_plays_every_frame() {
    let dir = tempfile::tempdir().unwrap();
    let slow = testkit::media::make(dir.path(), "h264_slow.mp4");
    let bytes = std::fs::read(&slow).unwrap();
    let mut out = Vec::new();
    assert!(media::remux_fast_start(&mut Cursor::new(&bytes), bytes.len() as u64, &mut out).unwrap());
    assert_eq!(out.len(), bytes.len(), "the same boxes, moved");
    let remuxed = inspect(&out);
    assert!(remuxed.fast_start && remuxed.has_h264_video(), "{remuxed:?}");
    let file = dir.path().join("remuxed.mp4");
    std::fs::write(&file, &out).unwrap();
    testkit::media::decodes_cleanly(&file).expect("ffmpeg decodes the remuxed file without a complaint");
    // Already fast start: nothing to do.
    let fast = std::fs::read(testkit::media::make(dir.path(), "h264_fast.mp4")).unwrap();
    let mut none = Vec::new();
    assert!(!media::remux_fast_start(&mut Cursor::new(&fast), fast.len() as u64, &mut none).unwrap());
    assert!(none.is_empty());
}
