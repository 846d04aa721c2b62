//! What a [`Verifier`](crate::Verifier) is configured with.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tollgate_proto::{ClientSecret, DEFAULT_API_VERSION, DEFAULT_VERSION_HEADER, SigningAlg};

/// The time, in Unix seconds (injected, so tests can move it).
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now.
    fn now(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place that reads the system clock
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }
}

/// What to do with tokens while the revocation feed is down longer than
/// [`FeedOptions::max_staleness`] (or before its first snapshot arrived).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailMode {
    /// Refuse every token (503 `serviceUnavailable`, `Retry-After: 1`): a revoked token is never
    /// accepted, at the price of availability.
    #[default]
    Closed,
    /// Accept tokens on their signature and claims alone: availability first; a token revoked
    /// meanwhile is accepted until it expires or the feed is back.
    Open,
}

/// The verifier's options. `Options::default()` is what tollgate issues: any of its algorithms,
/// `typ: at+jwt`, 5 s of leeway on `exp`, and no revocation feed (see [`Options::feed`]).
#[derive(Debug, Clone)]
pub struct Options {
    /// Algorithms accepted (default: tollgate's, [`SigningAlg::ALL`]; HMAC and `none` cannot be
    /// named).
    pub algorithms: Vec<SigningAlg>,
    /// How long past `exp` a token is still accepted (clocks differ).
    pub exp_leeway: Duration,
    /// How far ahead of our clock a token's `iat` or `nbf` may lie.
    pub max_clock_skew: Duration,
    /// At most one key-set fetch for unknown `kid`s per this interval: a flood of tokens with
    /// made-up `kid`s costs one fetch per interval, not one per request.
    pub min_refetch_interval: Duration,
    /// The key set is fetched again this often regardless.
    pub refresh_interval: Duration,
    /// Timeout of each discovery, key-set and token request.
    pub http_timeout: Duration,
    /// The revocation feed; `None`: tokens are checked offline only (revocation is not seen until
    /// the token expires).
    pub feed: Option<FeedOptions>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            algorithms: SigningAlg::ALL.to_vec(),
            exp_leeway: Duration::from_secs(5),
            max_clock_skew: Duration::from_secs(60),
            min_refetch_interval: Duration::from_secs(30),
            refresh_interval: Duration::from_secs(300),
            http_timeout: Duration::from_secs(10),
            feed: None,
            clock: Arc::new(SystemClock),
        }
    }
}

impl Options {
    /// Subscribes to the revocation feed with `feed`.
    pub fn feed(mut self, feed: FeedOptions) -> Self {
        self.feed = Some(feed);
        self
    }
}

/// How the verifier subscribes to tollgate's revocation feed.
#[derive(Debug, Clone)]
pub struct FeedOptions {
    /// A credential whose company's ceiling and own scopes hold `tollgate:revocations`.
    pub client_id: String,
    /// Its secret (redacted in `Debug`).
    pub client_secret: ClientSecret,
    /// How long the feed may be down before [`FeedOptions::fail_mode`] applies (counted from the
    /// last message or keep-alive heard).
    pub max_staleness: Duration,
    /// What to do past [`FeedOptions::max_staleness`].
    pub fail_mode: FailMode,
    /// A connection that sends nothing (not even tollgate's keep-alive, every 5 s) for this long is
    /// taken for dead and reconnected.
    pub idle_timeout: Duration,
    /// First wait before reconnecting; doubled after each failure up to [`FeedOptions::max_backoff`].
    pub min_backoff: Duration,
    /// Longest wait between reconnection attempts.
    pub max_backoff: Duration,
    /// The version header tollgate's API asks for, and its value.
    pub version_header: (String, String),
}

impl FeedOptions {
    /// Defaults: fail closed after 30 s down, reconnect after 100 ms doubling up to 5 s.
    pub fn new(client_id: impl Into<String>, client_secret: ClientSecret) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret,
            max_staleness: Duration::from_secs(30),
            fail_mode: FailMode::Closed,
            idle_timeout: Duration::from_secs(15),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            version_header: (DEFAULT_VERSION_HEADER.into(), DEFAULT_API_VERSION.into()),
        }
    }
}
