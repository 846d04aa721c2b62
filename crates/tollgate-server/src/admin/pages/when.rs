//! Times as the panel shows them: relative to the injected clock's "now" ("5 min ago", "in 58 min"),
//! in a `<time>` element whose `datetime` is the RFC 3339 time and whose tooltip (`title`) is the
//! exact UTC time. What it prints is only digits, letters, `-`, `:`, spaces and the element's own
//! markup, so it needs no escaping (it is marked [`HtmlSafe`](askama::filters::HtmlSafe)).

use std::fmt;

use tollgate_core::clock::{UnixTime, rfc3339};

/// A time `at`, seen at `now` (both from the injected clock).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct When {
    pub(super) at: UnixTime,
    pub(super) now: UnixTime,
}

impl When {
    pub(super) fn new(at: UnixTime, now: UnixTime) -> Self {
        Self { at, now }
    }

    /// `2026-12-03T12:40:00Z`, for the `datetime` attribute.
    pub(super) fn datetime(&self) -> String {
        rfc3339(self.at)
    }

    /// `2026-12-03 12:40:00 UTC`, for the tooltip.
    pub(super) fn exact(&self) -> String {
        format!(
            "{} UTC",
            self.datetime().replace('T', " ").trim_end_matches('Z')
        )
    }

    /// `19:53 UTC`: the time of day only.
    pub(super) fn clock(&self) -> String {
        let s = self.datetime();
        format!("{} UTC", s.get(11..16).unwrap_or(&s))
    }

    /// "just now", "5 min ago", "3 h ago", "4 days ago"; ahead: "in 58 min", "in 5 h", "in 3
    /// days" (rounded up, so a time ahead never reads as already there).
    pub(super) fn relative(&self) -> String {
        let d = self.at - self.now;
        if d > 0 {
            if d <= 3_600 {
                format!("in {} min", (d + 59) / 60)
            } else if d < 172_800 {
                format!("in {} h", (d + 3_599) / 3_600)
            } else {
                format!("in {} days", (d + 86_399) / 86_400)
            }
        } else {
            let ago = -d;
            if ago < 60 {
                "just now".to_owned()
            } else if ago < 3_600 {
                format!("{} min ago", ago / 60)
            } else if ago < 172_800 {
                format!("{} h ago", ago / 3_600)
            } else {
                format!("{} days ago", ago / 86_400)
            }
        }
    }
}

/// `<time datetime="…" title="… UTC">5 min ago</time>`.
impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<time datetime=\"{}\" title=\"{}\">{}</time>",
            self.datetime(),
            self.exact(),
            self.relative()
        )
    }
}

impl askama::filters::HtmlSafe for When {}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-03T12:40:00Z.
    const NOW: UnixTime = 1_796_301_600;

    fn rel(offset: i64) -> String {
        When::new(NOW + offset, NOW).relative()
    }

    #[test]
    fn renders_a_time_element_with_the_exact_utc_time() {
        assert_eq!(rfc3339(NOW), "2026-12-03T12:40:00Z");
        assert_eq!(
            When::new(NOW - 300, NOW).to_string(),
            "<time datetime=\"2026-12-03T12:35:00Z\" title=\"2026-12-03 12:35:00 UTC\">5 min ago</time>"
        );
        assert_eq!(
            When::new(NOW + 58 * 60, NOW).to_string(),
            "<time datetime=\"2026-12-03T13:38:00Z\" title=\"2026-12-03 13:38:00 UTC\">in 58 min</time>"
        );
        assert_eq!(When::new(NOW + 4380, NOW).clock(), "13:53 UTC");
    }

    #[test]
    fn past_times() {
        assert_eq!(rel(0), "just now");
        assert_eq!(rel(-59), "just now");
        assert_eq!(rel(-60), "1 min ago");
        assert_eq!(rel(-3_599), "59 min ago");
        assert_eq!(rel(-3_600), "1 h ago");
        assert_eq!(rel(-172_799), "47 h ago");
        assert_eq!(rel(-172_800), "2 days ago");
        assert_eq!(rel(-40 * 86_400), "40 days ago");
    }

    #[test]
    fn future_times_round_up() {
        assert_eq!(rel(1), "in 1 min");
        assert_eq!(rel(58 * 60), "in 58 min");
        assert_eq!(rel(3_600), "in 60 min");
        assert_eq!(rel(3_601), "in 2 h");
        assert_eq!(rel(86_400), "in 24 h");
        assert_eq!(rel(172_799), "in 48 h");
        assert_eq!(rel(172_800), "in 2 days");
        assert_eq!(rel(10 * 86_400 - 1), "in 10 days");
    }

    #[test]
    fn prints_nothing_that_needs_escaping() {
        for t in [0, NOW, -NOW, i64::from(i32::MAX) * 100] {
            let shown = When::new(t, NOW).to_string();
            let inner = shown
                .trim_start_matches("<time datetime=\"")
                .trim_end_matches("</time>");
            assert!(
                inner
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || " -:+\"=>".contains(c)),
                "{shown}"
            );
        }
    }
}
