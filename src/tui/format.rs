//! Text helpers shared by the views: sizes, rates, durations, short ids and
//! text progress bars (drawn with block characters so they survive any
//! terminal, and show up in snapshot tests where colours do not).

const MIB: f64 = 1024.0 * 1024.0;

pub use crate::units::bytes;

/// A rate in MiB/s, one decimal below 10.
pub fn rate(bytes_per_s: f64) -> String {
    let m = bytes_per_s / MIB;
    if m < 10.0 {
        format!("{m:.1} MiB/s")
    } else {
        format!("{m:.0} MiB/s")
    }
}

/// `42s`, `3m05s`, `1h02m`.
pub fn duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// `00:01:23` for the header's elapsed time.
pub fn clock(secs: u64) -> String {
    format!("{:02}:{:02}:{:02}", secs / 3600, (secs % 3600) / 60, secs % 60)
}

/// The first 8 characters of an id, as `openstack` prints them.
pub fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// Cuts `s` to `width` characters, marking the cut with `…`.
pub fn fit(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// Cuts `s` to `width` characters from its start, marking the cut with `…`:
/// a path keeps its file name.
pub fn fit_tail(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::from("…");
    out.extend(s.chars().skip(n - (width - 1)));
    out
}

/// A bar `width` cells wide, filled to `ratio` with eighth-cell precision.
pub fn bar(ratio: f64, width: usize) -> String {
    const PARTS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let ratio = if ratio.is_finite() { ratio.clamp(0.0, 1.0) } else { 0.0 };
    let eighths = (ratio * width as f64 * 8.0).round() as usize;
    let (full, part) = (eighths / 8, eighths % 8);
    let mut s = "█".repeat(full.min(width));
    if full < width {
        s.push(if part == 0 { '░' } else { PARTS[part] });
        s.push_str(&"░".repeat(width - full - 1));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_rates_durations() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3 << 20), "3.0 MiB");
        assert_eq!(bytes(3 << 30), "3.0 GiB");
        assert_eq!(rate(5.0 * MIB), "5.0 MiB/s");
        assert_eq!(rate(120.4 * MIB), "120 MiB/s");
        assert_eq!(duration(42.4), "42s");
        assert_eq!(duration(185.0), "3m05s");
        assert_eq!(duration(3720.0), "1h02m");
        assert_eq!(clock(3723), "01:02:03");
    }

    #[test]
    fn ids_and_fitting() {
        assert_eq!(short_id("0123456789abcdef"), "01234567");
        assert_eq!(short_id("abc"), "abc");
        assert_eq!(fit("volume-name", 6), "volum…");
        assert_eq!(fit("ü-name", 10), "ü-name");
        assert_eq!(fit_tail("/srv/work/report.md", 11), "…/report.md");
        assert_eq!(fit_tail("/a/ü.md", 7), "/a/ü.md");
        assert_eq!(fit_tail("/a/ü.md", 5), "…ü.md");
        assert_eq!(fit_tail("/a/b", 0), "");
    }

    #[test]
    fn bars_have_their_width_and_fill() {
        assert_eq!(bar(0.0, 4), "░░░░");
        assert_eq!(bar(1.0, 4), "████");
        assert_eq!(bar(0.5, 4), "██░░");
        assert_eq!(bar(0.5 + 1.0 / 8.0, 4), "██▌░");
        assert_eq!(bar(f64::NAN, 3).chars().count(), 3);
        assert_eq!(bar(2.0, 3), "███");
    }
}
