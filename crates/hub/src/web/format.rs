//! How numbers and times read on the pages.

/// `1.5 GiB`, `12.2 MiB`, `950 B`.
pub fn human_bytes(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = "B";
    for next in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    if value < 10.0 { format!("{value:.1} {unit}") } else { format!("{value:.0} {unit}") }
}

/// Milliseconds since the epoch as `2026-11-28 14:05 UTC`.
pub fn when(ms: i64) -> String {
    let (date, rest) = day_and_second(ms);
    format!("{date} {:02}:{:02} UTC", rest / 3600, rest % 3600 / 60)
}

/// Milliseconds since the epoch as `2026-11-28 14:05:09 UTC`.
pub fn when_exact(ms: i64) -> String {
    let (date, rest) = day_and_second(ms);
    format!("{date} {:02}:{:02}:{:02} UTC", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// The date (`2026-11-28`) and the second of that day.
fn day_and_second(ms: i64) -> (String, i64) {
    let secs = ms.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = npack::zip::format::civil_from_days(days);
    (format!("{year:04}-{month:02}-{day:02}"), rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_times_read_well() {
        assert_eq!(human_bytes(950), "950 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(12_800_000), "12 MiB");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
        assert_eq!(when(0), "1970-01-01 00:00 UTC");
        assert_eq!(when(1_796_306_700_000), "2026-12-03 14:05 UTC");
        assert_eq!(when_exact(1_796_306_709_999), "2026-12-03 14:05:09 UTC");
    }
}
