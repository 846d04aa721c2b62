//! A credential's usage over the last 30 days, for the admin API and the panel's credential page
//! (a server-rendered SVG bar chart that needs no JavaScript, and the numbers).

use serde_json::{Value, json};
use tollgate_core::clock::{UnixTime, rfc3339};
use tollgate_core::ids::ClientId;
use tollgate_core::store::StoreError;
use tollgate_core::usage::{DailyUsage, Day, SecretUse, UsageCounts, day_of};

use crate::state::AppState;

/// Days the chart and the summary cover, today included.
pub(crate) const DAYS: i64 = 30;

/// One day of the chart.
pub(crate) struct DayBar {
    /// `2026-12-03`.
    pub(crate) date: String,
    pub(crate) counts: UsageCounts,
    /// Left edge of the day's bars.
    pub(crate) x: u32,
    /// Top and height of the API-calls bar, and of the tokens bar.
    pub(crate) calls: (u32, u32),
    pub(crate) tokens: (u32, u32),
}

/// The last [`DAYS`] days of one credential.
pub(crate) struct Usage {
    pub(crate) days: Vec<DayBar>,
    pub(crate) totals: UsageCounts,
    /// The largest daily count the bars are scaled to.
    pub(crate) peak: u64,
}

/// Chart geometry (SVG user units).
pub(crate) const BAR_STEP: u32 = 12;
pub(crate) const CHART_HEIGHT: u32 = 100;

fn date(day: Day) -> String {
    rfc3339(day * 86_400).chars().take(10).collect()
}

impl Usage {
    /// The days from `DAYS - 1` days before `now`'s day through it, with `stored`'s counts.
    pub(crate) fn of(stored: &[DailyUsage], now: UnixTime) -> Self {
        let today = day_of(now);
        let first = today - (DAYS - 1);
        let counts_of = |day: Day| {
            stored
                .iter()
                .find(|d| d.day == day)
                .map(|d| d.counts)
                .unwrap_or_default()
        };
        let all: Vec<(Day, UsageCounts)> = (first..=today).map(|d| (d, counts_of(d))).collect();
        let peak = all
            .iter()
            .map(|(_, c)| c.api_calls.max(c.tokens))
            .max()
            .unwrap_or(0)
            .max(1);
        let height = |v: u64| -> u32 {
            // At least 1 unit for any non-zero day, so a quiet day is visible.
            let h = (v.saturating_mul(u64::from(CHART_HEIGHT)) / peak) as u32;
            if v > 0 { h.max(1) } else { 0 }
        };
        let days = all
            .iter()
            .enumerate()
            .map(|(i, (d, c))| {
                let (hc, ht) = (height(c.api_calls), height(c.tokens));
                DayBar {
                    date: date(*d),
                    counts: *c,
                    x: i as u32 * BAR_STEP,
                    calls: (CHART_HEIGHT - hc, hc),
                    tokens: (CHART_HEIGHT - ht, ht),
                }
            })
            .collect();
        Self {
            days,
            totals: all
                .iter()
                .fold(UsageCounts::default(), |t, (_, c)| t.plus(*c)),
            peak,
        }
    }

    /// The chart's width.
    pub(crate) fn width(&self) -> u32 {
        self.days.len() as u32 * BAR_STEP
    }

    /// The summary and the days with any use, for the admin API.
    pub(crate) fn json(&self) -> Value {
        let t = &self.totals;
        json!({
            "days": DAYS,
            "tokens": t.tokens,
            "api_calls": t.api_calls,
            "failed_auth": t.failed_auth,
            "rate_limited": t.rate_limited,
            "daily": self.days.iter().filter(|d| !d.counts.is_zero()).map(|d| json!({
                "date": d.date,
                "tokens": d.counts.tokens,
                "api_calls": d.counts.api_calls,
                "failed_auth": d.counts.failed_auth,
                "rate_limited": d.counts.rate_limited,
            })).collect::<Vec<_>>(),
        })
    }
}

/// The stored usage of `client` over the last [`DAYS`] days, and its secrets' last uses.
pub(crate) async fn usage_of(
    state: &AppState,
    client: &ClientId,
) -> Result<(Usage, Vec<SecretUse>), StoreError> {
    let now = state.accounts.now();
    let stored = state.store.usage(client, day_of(now) - (DAYS - 1)).await?;
    let secrets = state.store.secret_uses(client).await?;
    Ok((Usage::of(&stored, now), secrets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirty_days_scaled_to_the_busiest() {
        let now = 20_000 * 86_400 + 3_600;
        let stored = [
            DailyUsage {
                day: 20_000,
                counts: UsageCounts {
                    tokens: 2,
                    api_calls: 200,
                    ..UsageCounts::default()
                },
            },
            DailyUsage {
                day: 19_990,
                counts: UsageCounts {
                    tokens: 1,
                    api_calls: 50,
                    failed_auth: 3,
                    rate_limited: 1,
                },
            },
            // Older than the window: left out.
            DailyUsage {
                day: 19_900,
                counts: UsageCounts {
                    tokens: 9,
                    ..UsageCounts::default()
                },
            },
        ];
        let u = Usage::of(&stored, now);
        assert_eq!(u.days.len(), 30);
        assert_eq!(u.days[29].date, "2024-10-04");
        assert_eq!(u.peak, 200);
        assert_eq!(u.days[29].calls, (0, 100));
        assert_eq!(u.days[29].tokens, (99, 1), "a small count stays visible");
        assert_eq!(u.days[19].calls, (75, 25));
        assert_eq!(u.days[0].calls, (100, 0));
        assert_eq!(
            u.totals,
            UsageCounts {
                tokens: 3,
                api_calls: 250,
                failed_auth: 3,
                rate_limited: 1
            }
        );
        let j = u.json();
        assert_eq!(j["api_calls"], 250);
        assert_eq!(j["daily"].as_array().unwrap().len(), 2);
        assert_eq!(u.width(), 360);
    }
}
