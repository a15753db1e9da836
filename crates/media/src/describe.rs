//! What a movie is, in words: the facts an asset page and a validation report show.

use super::{MediaInfo, Track};

impl MediaInfo {
    /// What the file is, in words: container, video (codec, size, rate), length, timecode and
    /// sound, e.g. `QuickTime (qt  ); video apch 1920×1080 at 24 fps; 00:01:30.000; timecode
    /// 01:00:00:00; sound: 1 track (2 ch, 48000 Hz)`.
    pub fn describe(&self) -> String {
        let container = match self.brand.as_deref() {
            Some("qt  ") => "QuickTime (qt)".to_owned(),
            Some(brand) => format!("MP4 ({})", brand.trim()),
            None => "QuickTime/MP4 (no ftyp)".to_owned(),
        };
        let mut parts = vec![container];
        for video in self.tracks.iter().filter(|t| t.kind == "vide") {
            let mut line = format!("video {}", codec_name(&video.codec));
            if let (Some(w), Some(h)) = (video.width, video.height) {
                line += &format!(" {w}×{h}");
            }
            if let Some((scale, per)) = video.frame_rate.filter(|(s, p)| *s > 0 && *p > 0) {
                let fps = f64::from(scale) / f64::from(per);
                let fps = if (fps - fps.round()).abs() < 0.005 { format!("{fps:.0}") } else { format!("{fps:.3}") };
                line += &format!(" at {fps} fps");
            }
            parts.push(line);
        }
        if let Some((ticks, scale)) = self.duration.filter(|(_, s)| *s > 0) {
            let seconds = ticks as f64 / f64::from(scale);
            let whole = seconds as u64;
            parts.push(format!(
                "{:02}:{:02}:{:02}.{:03}",
                whole / 3600,
                whole / 60 % 60,
                whole % 60,
                ((seconds - whole as f64) * 1000.0).round() as u64 % 1000
            ));
        }
        if let Some(tc) = &self.timecode {
            parts.push(format!("timecode {tc}"));
        }
        let sound: Vec<&Track> = self.tracks.iter().filter(|t| t.kind == "soun").collect();
        if sound.is_empty() {
            parts.push("no sound".to_owned());
        } else {
            let each: Vec<String> = sound
                .iter()
                .map(|t| {
                    let mut what = codec_name(&t.codec).to_owned();
                    if let Some(ch) = t.channels {
                        what += &format!(", {ch} ch");
                    }
                    if let Some(rate) = t.sample_rate.filter(|r| *r > 0) {
                        what += &format!(", {rate} Hz");
                    }
                    what
                })
                .collect();
            let tracks = if sound.len() == 1 { "1 track".to_owned() } else { format!("{} tracks", sound.len()) };
            parts.push(format!("sound: {tracks} ({})", each.join("; ")));
        }
        parts.join("; ")
    }
}

/// A codec's common name with its four-character code, e.g. `ProRes 422 HQ (apch)`.
fn codec_name(fourcc: &str) -> String {
    let name = match fourcc {
        "avc1" | "avc3" => "H.264",
        "hvc1" | "hev1" => "HEVC",
        "apch" => "ProRes 422 HQ",
        "apcn" => "ProRes 422",
        "apcs" => "ProRes 422 LT",
        "apco" => "ProRes 422 Proxy",
        "ap4h" => "ProRes 4444",
        "ap4x" => "ProRes 4444 XQ",
        "AVdh" | "AVdn" => "DNxHD/DNxHR",
        "mp4a" => "AAC",
        "sowt" | "twos" | "lpcm" | "in24" | "in32" | "ipcm" => "PCM",
        _ => return fourcc.to_owned(),
    };
    format!("{name} ({fourcc})")
}
