//! Counters of the verifier, read as a [`Metrics`] snapshot (export them with whatever metrics
//! library the service uses).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// The live counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) jwks_fetches: AtomicU64,
    pub(crate) jwks_fetch_failures: AtomicU64,
    pub(crate) unknown_kid_refused_fetches: AtomicU64,
    pub(crate) accepted: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) revoked_refusals: AtomicU64,
    pub(crate) fail_closed_refusals: AtomicU64,
    pub(crate) fail_open_accepts: AtomicU64,
    pub(crate) feed_connects: AtomicU64,
    pub(crate) feed_snapshots: AtomicU64,
    pub(crate) feed_events: AtomicU64,
    pub(crate) feed_connected: AtomicBool,
    /// When the feed was last heard from (while disconnected: the start of the outage).
    pub(crate) feed_last_heard: Mutex<Option<Instant>>,
    pub(crate) jwks_last_fetch: Mutex<Option<Instant>>,
}

pub(crate) fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

fn age(m: &Mutex<Option<Instant>>) -> Option<Duration> {
    m.lock()
        .unwrap_or_else(|p| p.into_inner())
        .map(|t| t.elapsed())
}

impl Counters {
    pub(crate) fn snapshot(&self, feed_configured: bool, stale: bool) -> Metrics {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Metrics {
            jwks_fetches: n(&self.jwks_fetches),
            jwks_fetch_failures: n(&self.jwks_fetch_failures),
            jwks_last_fetch_age: age(&self.jwks_last_fetch),
            unknown_kid_refused_fetches: n(&self.unknown_kid_refused_fetches),
            accepted: n(&self.accepted),
            rejected: n(&self.rejected),
            revoked_refusals: n(&self.revoked_refusals),
            fail_closed_refusals: n(&self.fail_closed_refusals),
            fail_open_accepts: n(&self.fail_open_accepts),
            feed_configured,
            feed_connected: self.feed_connected.load(Ordering::Relaxed),
            feed_stale: feed_configured && stale,
            feed_last_message_age: age(&self.feed_last_heard),
            feed_connects: n(&self.feed_connects),
            feed_snapshots: n(&self.feed_snapshots),
            feed_events: n(&self.feed_events),
        }
    }
}

/// A snapshot of the verifier's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Key-set fetches made (discovery's, periodic, and for unknown `kid`s), failed ones included.
    pub jwks_fetches: u64,
    /// Key-set fetches that failed.
    pub jwks_fetch_failures: u64,
    /// Time since the last key-set fetch.
    pub jwks_last_fetch_age: Option<Duration>,
    /// Tokens with an unknown `kid` refused without a fetch (the refetch interval had not passed).
    pub unknown_kid_refused_fetches: u64,
    /// Tokens accepted.
    pub accepted: u64,
    /// Tokens refused (every reason, the ones below included).
    pub rejected: u64,
    /// Tokens refused because the feed says they are revoked (or their credential, company or
    /// secret is gone).
    pub revoked_refusals: u64,
    /// Tokens refused because the feed was down too long ([`FailMode::Closed`](crate::FailMode)).
    pub fail_closed_refusals: u64,
    /// Tokens accepted on their signature alone because the feed was down too long
    /// ([`FailMode::Open`](crate::FailMode)).
    pub fail_open_accepts: u64,
    /// Whether a revocation feed is configured.
    pub feed_configured: bool,
    /// Whether the feed is connected now.
    pub feed_connected: bool,
    /// Whether the feed is down past `max_staleness` (or never delivered its snapshot): the fail
    /// mode applies.
    pub feed_stale: bool,
    /// Time since the feed last sent anything (an event or a keep-alive).
    pub feed_last_message_age: Option<Duration>,
    /// Successful feed connections (the first one and every reconnection).
    pub feed_connects: u64,
    /// Snapshots received.
    pub feed_snapshots: u64,
    /// Incremental events received.
    pub feed_events: u64,
}
