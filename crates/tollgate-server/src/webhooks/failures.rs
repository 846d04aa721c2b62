//! Bursts of failed authentications per credential: when one credential (an existing client ID)
//! fails `threshold` times within a window on this node, the watch says so once for that window,
//! and the caller writes a `credential.auth_failures` audit entry (which sends the webhook event).
//! Counted per node, like the rate limiter's local counts: with several nodes behind a load
//! balancer, each one reports its own bursts.

use dashmap::DashMap;
use tollgate_core::clock::UnixTime;
use tollgate_core::ids::ClientId;

/// Entries kept at most; past it, windows that ended are dropped first.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Window {
    start: UnixTime,
    count: u32,
}

/// Counts failed authentications per credential in fixed windows.
#[derive(Debug)]
pub(crate) struct FailureWatch {
    threshold: u32,
    window: i64,
    counts: DashMap<ClientId, Window>,
}

impl FailureWatch {
    /// `threshold` failures within `window_secs` make a burst; a threshold of 0 never does.
    pub(crate) fn new(threshold: u32, window_secs: u32) -> Self {
        Self {
            threshold,
            window: i64::from(window_secs.max(1)),
            counts: DashMap::new(),
        }
    }

    /// Counts one failure of `client` at `now`: the failure count when this one reaches the
    /// threshold (once per window), otherwise `None`.
    pub(crate) fn failed(&self, client: &ClientId, now: UnixTime) -> Option<u32> {
        if self.threshold == 0 {
            return None;
        }
        if self.counts.len() >= MAX_TRACKED {
            self.counts.retain(|_, w| now - w.start < self.window);
        }
        let mut w = self.counts.entry(client.clone()).or_insert(Window {
            start: now,
            count: 0,
        });
        if now - w.start >= self.window {
            *w = Window {
                start: now,
                count: 0,
            };
        }
        w.count = w.count.saturating_add(1);
        (w.count == self.threshold).then_some(w.count)
    }

    /// The window's length, in seconds.
    pub(crate) fn window_secs(&self) -> i64 {
        self.window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_reported_once_per_window() {
        let w = FailureWatch::new(3, 60);
        let a = ClientId::parse("aaaa").unwrap();
        let b = ClientId::parse("bbbb").unwrap();
        assert_eq!(w.failed(&a, 100), None);
        assert_eq!(w.failed(&a, 101), None);
        assert_eq!(w.failed(&b, 101), None, "per credential");
        assert_eq!(w.failed(&a, 102), Some(3));
        assert_eq!(w.failed(&a, 103), None, "once per window");
        assert_eq!(w.failed(&a, 160), None, "a new window starts over");
        assert_eq!(w.failed(&a, 161), None);
        assert_eq!(w.failed(&a, 162), Some(3));
        let off = FailureWatch::new(0, 60);
        assert!((0..10).all(|i| off.failed(&a, i).is_none()));
    }
}
