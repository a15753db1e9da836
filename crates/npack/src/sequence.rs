//! Sequence analysis: groups frame files by name pattern and finds gaps, mixed padding and mixed
//! extensions. `shot010.0086400.dpx` is frame 86400 of the sequence `shot010.#######.dpx`.

use std::collections::BTreeMap;

/// How many missing frame numbers a report lists before it only counts them.
const MAX_LISTED_GAPS: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Sequence {
    /// The pattern with the frame number as `#`s, e.g. `shot010.#######.dpx`.
    pub pattern: String,
    pub first: u64,
    pub last: u64,
    pub frames: usize,
    pub missing_count: u64,
    /// The first missing frame numbers, padded as the sequence pads them.
    pub missing: Vec<String>,
    /// More than one digit count among zero-padded frame numbers.
    pub mixed_padding: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SequenceReport {
    pub sequences: Vec<Sequence>,
    /// Files whose name has no frame number.
    pub single_files: usize,
    pub warnings: Vec<String>,
}

/// A frame's number, its digit count, and whether it is zero-padded.
type Frame = (u64, usize, bool);

/// Splits a name at its last run of digits: `("shot010.", "0086400", ".dpx")`.
fn split_frame(name: &str) -> Option<(&str, &str, &str)> {
    let bytes = name.as_bytes();
    let end = bytes.iter().rposition(u8::is_ascii_digit)? + 1;
    let start = bytes[..end].iter().rposition(|b| !b.is_ascii_digit()).map_or(0, |i| i + 1);
    // u64 holds 19 digits; longer runs are identifiers, not frame numbers.
    if end - start > 19 {
        return None;
    }
    Some((&name[..start], &name[start..end], &name[end..]))
}

/// Analyses the names of a package's files.
pub fn analyse<'a>(names: impl IntoIterator<Item = &'a str>) -> SequenceReport {
    let mut groups: BTreeMap<(String, String), Vec<Frame>> = BTreeMap::new();
    let mut report = SequenceReport::default();
    for name in names {
        match split_frame(name) {
            Some((prefix, digits, suffix)) => {
                let number = digits.parse().expect("at most 19 ASCII digits");
                let padded = digits.len() > 1 && digits.starts_with('0');
                groups.entry((prefix.into(), suffix.into())).or_default().push((number, digits.len(), padded));
            }
            None => report.single_files += 1,
        }
    }
    let mut suffixes_by_prefix: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for ((prefix, suffix), frames) in &mut groups {
        if frames.len() == 1 {
            report.single_files += 1;
            continue;
        }
        suffixes_by_prefix.entry(prefix).or_default().push(suffix);
        frames.sort_unstable();
        let width = frames.iter().filter(|f| f.2).map(|f| f.1).max().unwrap_or(0);
        let padded_widths: std::collections::BTreeSet<usize> = frames.iter().filter(|f| f.2).map(|f| f.1).collect();
        // Unpadded numbers narrower than the padded width also betray mixed padding: 0099 and 100 and 7.
        let mixed_padding = padded_widths.len() > 1 || (width > 0 && frames.iter().any(|f| !f.2 && f.1 < width));
        let (first, last) = (frames[0].0, frames[frames.len() - 1].0);
        let mut missing = Vec::new();
        let mut missing_count = 0u64;
        for pair in frames.windows(2) {
            let gap = pair[1].0.saturating_sub(pair[0].0).saturating_sub(1);
            missing_count += gap;
            let mut n = pair[0].0 + 1;
            while n < pair[1].0 && missing.len() < MAX_LISTED_GAPS {
                missing.push(format!("{n:0width$}", width = width.max(1)));
                n += 1;
            }
        }
        let hashes = "#".repeat(width.max(frames[0].1));
        let pattern = format!("{prefix}{hashes}{suffix}");
        if missing_count > 0 {
            let more = missing_count.saturating_sub(missing.len() as u64);
            let tail = if more > 0 { format!(" and {more} more") } else { String::new() };
            report.warnings.push(format!("{pattern}: {missing_count} missing: {}{tail}", missing.join(", ")));
        }
        if mixed_padding {
            report.warnings.push(format!("{pattern}: mixed frame number padding"));
        }
        report.sequences.push(Sequence {
            pattern,
            first,
            last,
            frames: frames.len(),
            missing_count,
            missing,
            mixed_padding,
        });
    }
    for (prefix, suffixes) in suffixes_by_prefix {
        if suffixes.len() > 1 {
            report.warnings.push(format!(
                "{prefix}#: mixed extensions in one sequence: {}",
                suffixes.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    report
}

impl Sequence {
    /// `shot010.#######.dpx  0086400-0086500  (101 frames)`.
    pub fn summary(&self) -> String {
        let width = self.pattern.matches('#').count();
        format!(
            "{}  {:0w$}-{:0w$}  ({} frames{})",
            self.pattern,
            self.first,
            self.last,
            self.frames,
            if self.missing_count > 0 { format!(", {} missing", self.missing_count) } else { String::new() },
            w = width
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_ranges_and_gaps() {
        let names: Vec<String> =
            (86400..=86460).filter(|n| *n != 86417 && *n != 86450).map(|n| format!("shot010.{n:07}.dpx")).collect();
        let report = analyse(names.iter().map(String::as_str));
        assert_eq!(report.sequences.len(), 1);
        let seq = &report.sequences[0];
        assert_eq!(seq.pattern, "shot010.#######.dpx");
        assert_eq!((seq.first, seq.last, seq.frames), (86400, 86460, 59));
        assert_eq!(seq.missing, ["0086417", "0086450"]);
        assert_eq!(report.warnings, ["shot010.#######.dpx: 2 missing: 0086417, 0086450"]);
        assert_eq!(seq.summary(), "shot010.#######.dpx  0086400-0086460  (59 frames, 2 missing)");
    }

    #[test]
    fn warns_on_mixed_padding_and_extensions() {
        let report = analyse(["a.0001.dpx", "a.0002.dpx", "a.003.dpx", "a.0001.exr", "a.0002.exr", "notes"]);
        assert!(report.warnings.iter().any(|w| w.contains("mixed frame number padding")), "{report:?}");
        assert!(report.warnings.iter().any(|w| w.contains("mixed extensions")), "{report:?}");
        assert_eq!(report.single_files, 1);
        // Natural growth of unpadded numbers is not mixed padding.
        let report = analyse(["b.9.dpx", "b.10.dpx"]);
        assert!(report.warnings.is_empty(), "{report:?}");
    }

    #[test]
    fn caps_the_listed_gaps() {
        let report = analyse(["c.0001.dpx", "c.1000.dpx"]);
        assert_eq!(report.sequences[0].missing_count, 998);
        assert_eq!(report.sequences[0].missing.len(), MAX_LISTED_GAPS);
        assert!(report.warnings[0].ends_with("and 978 more"));
    }
}
