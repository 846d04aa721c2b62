//! Knobs: how to ask for tokens, when to renew them, how to retry, and where time comes from.

use std::fmt::Debug;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// How the token request's parameters are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RequestFormat {
    /// `application/json`, as the reference API documents (the default).
    #[default]
    Json,
    /// `application/x-www-form-urlencoded`, as RFC 6749 §4.4.2 specifies.
    Form,
}

/// How the client authenticates to the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ClientAuth {
    /// `client_id` and `client_secret` in the request body (the default, as the reference does).
    #[default]
    SecretPost,
    /// An `Authorization: Basic` header.
    SecretBasic,
}

/// How long before expiry a token is renewed.
///
/// Whatever the rule, the margin is never more than half the token's lifetime, so that even very
/// short-lived tokens are reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RenewalMargin {
    /// The larger of 60 s and 10 % of the lifetime (the default): a 1-hour token is renewed after 54
    /// minutes, a 3-second token after 1.5 s.
    #[default]
    Auto,
    /// A fixed margin.
    Fixed(Duration),
}

impl RenewalMargin {
    /// The margin for a token that lives `lifetime`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate_client::RenewalMargin;
    ///
    /// let s = Duration::from_secs;
    /// assert_eq!(RenewalMargin::Auto.for_lifetime(s(3600)), s(360));
    /// assert_eq!(RenewalMargin::Auto.for_lifetime(s(300)), s(60));
    /// assert_eq!(RenewalMargin::Auto.for_lifetime(s(3)), Duration::from_millis(1500));
    /// assert_eq!(RenewalMargin::Fixed(s(10)).for_lifetime(s(3600)), s(10));
    /// ```
    pub fn for_lifetime(&self, lifetime: Duration) -> Duration {
        let wanted = match self {
            Self::Auto => (lifetime / 10).max(Duration::from_secs(60)),
            Self::Fixed(d) => *d,
        };
        wanted.min(lifetime / 2)
    }
}

/// Retries of failed requests: exponential backoff with jitter, bounded by a total timeout.
///
/// Defaults: first delay 100 ms, doubling up to 5 s, each delay drawn between half and all of its
/// value; a single attempt may take 10 s; the whole call gives up after 30 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    initial_backoff: Duration,
    max_backoff: Duration,
    timeout: Duration,
    attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            attempt_timeout: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The default policy.
    pub fn new() -> Self {
        Self::default()
    }

    /// Gives up after `timeout` in all (attempts and waits included).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// First delay and largest delay between attempts.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// The longest a single token request may take.
    pub fn with_attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// The total timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The longest a single token request may take.
    pub fn attempt_timeout(&self) -> Duration {
        self.attempt_timeout
    }

    /// The delay before retry number `attempt` (0 for the first retry), without jitter.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.min(20);
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }

    /// The delay before retry number `attempt`, with jitter: between half and all of
    /// [`RetryPolicy::backoff`], so that clients failing together do not retry together.
    pub fn jittered(&self, attempt: u32) -> Duration {
        let b = self.backoff(attempt);
        b / 2 + (b / 2).mul_f64(fastrand::f64())
    }

    /// How long to wait before retrying after a failed early renewal.
    pub(crate) fn cooldown(&self) -> Duration {
        self.max_backoff
    }
}

/// A source of monotonic time, so that token expiry can be tested without waiting.
pub trait Clock: Send + Sync + Debug {
    /// Now.
    fn now(&self) -> Instant;
}

/// The real clock ([`Instant::now`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// The `Retry-After` header (RFC 9110 §10.2.3): delay-seconds or an HTTP date, relative to `now`.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The wall clock, only to read `Retry-After` dates.
#[allow(clippy::disallowed_methods)]
pub(crate) fn wall_now() -> SystemTime {
    SystemTime::now()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    const fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn auto_margin_is_max_of_60s_and_10_percent_capped_at_half() {
        let m = RenewalMargin::Auto;
        assert_eq!(m.for_lifetime(s(3600)), s(360));
        assert_eq!(m.for_lifetime(s(86_400)), s(8640));
        assert_eq!(m.for_lifetime(s(600)), s(60));
        assert_eq!(m.for_lifetime(s(300)), s(60));
        assert_eq!(m.for_lifetime(s(120)), s(60));
        assert_eq!(m.for_lifetime(s(100)), s(50));
        assert_eq!(m.for_lifetime(s(3)), Duration::from_millis(1500));
        assert_eq!(m.for_lifetime(s(2)), s(1));
        assert_eq!(m.for_lifetime(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn fixed_margin_is_capped_at_half_the_lifetime() {
        assert_eq!(RenewalMargin::Fixed(s(5)).for_lifetime(s(3600)), s(5));
        assert_eq!(RenewalMargin::Fixed(s(5)).for_lifetime(s(6)), s(3));
        assert_eq!(
            RenewalMargin::Fixed(Duration::ZERO).for_lifetime(s(6)),
            s(0)
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_max_with_jitter_in_range() {
        let p = RetryPolicy::new().with_backoff(Duration::from_millis(100), s(1));
        let ms = |a| p.backoff(a).as_millis();
        assert_eq!(
            [ms(0), ms(1), ms(2), ms(3), ms(4), ms(50)],
            [100, 200, 400, 800, 1000, 1000]
        );
        for a in 0..10 {
            for _ in 0..50 {
                let j = p.jittered(a);
                assert!(j >= p.backoff(a) / 2 && j <= p.backoff(a), "{a}: {j:?}");
            }
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + s(1_700_000_000);
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h, now), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, now), Some(s(7)));
        let date = httpdate::fmt_http_date(now + s(12));
        h.insert(RETRY_AFTER, HeaderValue::from_str(&date).unwrap());
        assert_eq!(retry_after(&h, now), Some(s(12)));
        let past = httpdate::fmt_http_date(now - s(12));
        h.insert(RETRY_AFTER, HeaderValue::from_str(&past).unwrap());
        assert_eq!(retry_after(&h, now), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
    }
}
