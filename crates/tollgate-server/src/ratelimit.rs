//! Rate limits: token requests per client ID; failed client authentications per client ID and per IP
//! address (brute-force protection, on by default); API requests per company, with separate read
//! and write budgets. Over a limit: 429 `{"error":"tooManyRequests"}` with `Retry-After`.
//!
//! Every limit is a fixed window (N per minute, or per second for API budgets), counted in memory
//! on each node, or in Redis when `redis_url` is set, so that the sum over every node respects the
//! limit. While Redis is unreachable a node counts in memory, says so in its log and in `/readyz`,
//! and goes back to Redis on its own. `rate_limits.enabled = false` (`--rate-limits off`) switches
//! every limit off, for benchmarks and test suites.
//!
//! Failed authentications are checked *before* the secret is: a client ID or address over its budget
//! gets 429 whatever it sends, so a guesser learns nothing from the answers.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::http::Method;
use dashmap::DashMap;
use serde::Deserialize;
use tollgate_core::clock::{Clock, UnixTime};

/// The `[rate_limits]` section of the configuration. A budget of 0 switches that limit off.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSettings {
    /// Master switch (`--rate-limits off`).
    pub enabled: bool,
    /// Token requests per client ID per minute.
    pub token_per_client_per_minute: u32,
    /// New tokens per credential per hour (the issuance quota; a company may override it). Tokens
    /// answered again by reuse do not count.
    pub tokens_per_credential_per_hour: u32,
    /// Failed authentications per client ID per minute.
    pub failed_auth_per_client_per_minute: u32,
    /// Failed authentications per IP address per minute.
    pub failed_auth_per_ip_per_minute: u32,
    /// API reads (GET, HEAD) per company per second (the reference documents 50).
    pub api_reads_per_company_per_second: u32,
    /// API writes per company per second (the reference documents 10).
    pub api_writes_per_company_per_second: u32,
    /// Prefix of the Redis keys (several deployments may share one Redis).
    pub redis_prefix: String,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            token_per_client_per_minute: 600,
            tokens_per_credential_per_hour: 0,
            // Generous: a person or a test suite making a few dozen mistakes a minute is not blocked.
            failed_auth_per_client_per_minute: 60,
            failed_auth_per_ip_per_minute: 300,
            api_reads_per_company_per_second: 0,
            api_writes_per_company_per_second: 0,
            redis_prefix: "tollgate".into(),
        }
    }
}

/// What is limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Limit {
    /// Token requests, per client ID.
    Token,
    /// New tokens issued, per client ID, per hour (the issuance quota).
    Issued,
    /// Failed authentications, per client ID.
    FailedAuthClient,
    /// Failed authentications, per IP address.
    FailedAuthIp,
    /// API reads, per company.
    ApiRead,
    /// API writes, per company.
    ApiWrite,
}

impl Limit {
    /// Every limit, in the order of its number.
    pub const ALL: [Limit; 6] = [
        Self::Token,
        Self::Issued,
        Self::FailedAuthClient,
        Self::FailedAuthIp,
        Self::ApiRead,
        Self::ApiWrite,
    ];

    /// The limit as `/metrics` names it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Token => "token_requests",
            Self::Issued => "tokens_issued",
            Self::FailedAuthClient => "failed_auth_client",
            Self::FailedAuthIp => "failed_auth_ip",
            Self::ApiRead => "api_reads",
            Self::ApiWrite => "api_writes",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Issued => "issued",
            Self::FailedAuthClient => "fail-client",
            Self::FailedAuthIp => "fail-ip",
            Self::ApiRead => "api-read",
            Self::ApiWrite => "api-write",
        }
    }
}

/// What a limit is counted per: a client ID, an address, a company. Hashed for the local count
/// (the text form is built only for Redis).
pub trait LimitKey: std::fmt::Display {
    /// Feeds the key to `h`.
    fn hash_key(&self, h: &mut impl std::hash::Hasher);
}

impl LimitKey for str {
    fn hash_key(&self, h: &mut impl std::hash::Hasher) {
        // Only the first MAX_KEY characters count, as in Redis.
        let cut = self
            .char_indices()
            .nth(MAX_KEY)
            .map_or(self.len(), |(i, _)| i);
        h.write(&self.as_bytes()[..cut]);
    }
}

impl LimitKey for IpAddr {
    fn hash_key(&self, h: &mut impl std::hash::Hasher) {
        std::hash::Hash::hash(self, h);
    }
}

impl LimitKey for tollgate_core::ids::CompanyId {
    fn hash_key(&self, h: &mut impl std::hash::Hasher) {
        std::hash::Hash::hash(self, h);
    }
}

/// Over the limit: try again after this many seconds (answered as a 429 by `error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// Seconds until the window ends.
    pub retry_after: u64,
}

/// The limiter of one node.
pub struct RateLimiter {
    settings: RateLimitSettings,
    clock: Arc<dyn Clock>,
    /// Local counts by a keyed hash of (limit, key): no allocation per request, and the random
    /// hash key keeps requests from choosing collisions. Value: (limit, window, count).
    local: DashMap<u64, (Limit, UnixTime, u32)>,
    keys: std::hash::RandomState,
    hits: AtomicU64,
    /// Requests refused, by [`Limit`].
    refused: [AtomicU64; Limit::ALL.len()],
    redis: Option<Shared>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("settings", &self.settings)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

/// Counters in Redis.
struct Shared {
    conn: redis::aio::ConnectionManager,
    script: redis::Script,
    failing: AtomicBool,
}

/// How long one Redis round trip may take before the node counts in memory instead.
const REDIS_TIMEOUT: Duration = Duration::from_millis(300);
/// Keys sent to Redis or kept in memory are cut to this length (they come from requests).
const MAX_KEY: usize = 128;

impl RateLimiter {
    /// A limiter; with `redis_url`, counting in Redis (connected lazily, reconnected on its own).
    pub fn new(
        settings: RateLimitSettings,
        redis_url: Option<&str>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, redis::RedisError> {
        let redis = match redis_url {
            Some(url) if settings.enabled => {
                let client = redis::Client::open(url)?;
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(REDIS_TIMEOUT))
                    .set_response_timeout(Some(REDIS_TIMEOUT))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_secs(1));
                Some(Shared {
                    conn: redis::aio::ConnectionManager::new_lazy_with_config(client, config)?,
                    // One round trip per hit: count, and start the window's expiry on its first hit.
                    script: redis::Script::new(
                        "local n = redis.call('INCR', KEYS[1]) \
                         if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end \
                         return n",
                    ),
                    failing: AtomicBool::new(false),
                })
            }
            _ => None,
        };
        Ok(Self {
            settings,
            clock,
            local: DashMap::new(),
            keys: std::hash::RandomState::new(),
            hits: AtomicU64::new(0),
            refused: Default::default(),
            redis,
        })
    }

    /// Where limits are counted: `off`, `memory`, `redis`, or `memory (redis unreachable)`.
    pub fn status(&self) -> &'static str {
        match &self.redis {
            _ if !self.settings.enabled => "off",
            None => "memory",
            Some(s) if s.failing.load(Ordering::Relaxed) => "memory (redis unreachable)",
            Some(_) => "redis",
        }
    }

    /// Whether any limit applies.
    pub fn enabled(&self) -> bool {
        self.settings.enabled
    }

    /// Requests refused since start, by limit.
    pub fn refusals(&self) -> [(Limit, u64); Limit::ALL.len()] {
        Limit::ALL.map(|l| (l, self.refused[l as usize].load(Ordering::Relaxed)))
    }

    fn budget(&self, limit: Limit) -> (u32, i64) {
        let s = &self.settings;
        match limit {
            Limit::Token => (s.token_per_client_per_minute, 60),
            Limit::Issued => (s.tokens_per_credential_per_hour, 3600),
            Limit::FailedAuthClient => (s.failed_auth_per_client_per_minute, 60),
            Limit::FailedAuthIp => (s.failed_auth_per_ip_per_minute, 60),
            Limit::ApiRead => (s.api_reads_per_company_per_second, 1),
            Limit::ApiWrite => (s.api_writes_per_company_per_second, 1),
        }
    }

    /// Counts an API request with a live token against its company's read (GET, HEAD) or write
    /// budget.
    pub async fn api_budget(
        &self,
        method: &Method,
        company: &tollgate_core::ids::CompanyId,
    ) -> Result<(), Refused> {
        let limit = if matches!(*method, Method::GET | Method::HEAD) {
            Limit::ApiRead
        } else {
            Limit::ApiWrite
        };
        self.hit(limit, company).await
    }

    /// Counts one event against `limit` for `key`; refused when that goes over the budget.
    pub async fn hit<K: LimitKey + ?Sized>(&self, limit: Limit, key: &K) -> Result<(), Refused> {
        self.count(limit, key, true).await
    }

    /// Refused if `key` is already over `limit` (counts nothing).
    pub async fn check<K: LimitKey + ?Sized>(&self, limit: Limit, key: &K) -> Result<(), Refused> {
        self.count(limit, key, false).await
    }

    /// Counts one new token of credential `client_id` against the issuance quota: the company's
    /// `override_per_hour` if it has one, else the configured default (0: none).
    pub async fn issued(
        &self,
        client_id: &str,
        override_per_hour: Option<u32>,
    ) -> Result<(), Refused> {
        let max = override_per_hour.unwrap_or(self.settings.tokens_per_credential_per_hour);
        self.count_within(Limit::Issued, client_id, true, max).await
    }

    async fn count<K: LimitKey + ?Sized>(
        &self,
        limit: Limit,
        key: &K,
        add: bool,
    ) -> Result<(), Refused> {
        self.count_within(limit, key, add, self.budget(limit).0)
            .await
    }

    /// Counts against `limit` with a budget of `max` (0: no limit) in the limit's window.
    async fn count_within<K: LimitKey + ?Sized>(
        &self,
        limit: Limit,
        key: &K,
        add: bool,
        max: u32,
    ) -> Result<(), Refused> {
        let period = self.budget(limit).1;
        if !self.settings.enabled || max == 0 {
            return Ok(());
        }
        let now = self.clock.now();
        let window = now.div_euclid(period);
        let refused = Refused {
            retry_after: ((window + 1) * period - now).max(1) as u64,
        };
        let n = match self.shared_count(limit, key, window, period, add).await {
            Some(n) => n,
            None => self.local_count(limit, key, window, add),
        };
        // With `add`, `n` includes this event: the budget allows `max` of them.
        let over = if add { n > max } else { n >= max };
        if over {
            self.refused[limit as usize].fetch_add(1, Ordering::Relaxed);
            Err(refused)
        } else {
            Ok(())
        }
    }

    fn local_count<K: LimitKey + ?Sized>(
        &self,
        limit: Limit,
        key: &K,
        window: UnixTime,
        add: bool,
    ) -> u32 {
        if self.hits.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            // Forget finished windows now and then (keys come from requests: keep memory bounded).
            let now = self.clock.now();
            self.local
                .retain(|_, (l, w, _)| *w >= now.div_euclid(self.budget(*l).1));
        }
        let h = {
            use std::hash::{BuildHasher as _, Hasher as _};
            let mut h = self.keys.build_hasher();
            h.write_u8(limit as u8);
            key.hash_key(&mut h);
            h.finish()
        };
        if !add {
            return self
                .local
                .get(&h)
                .filter(|e| e.1 == window)
                .map_or(0, |e| e.2);
        }
        let mut e = self.local.entry(h).or_insert((limit, window, 0));
        if e.1 != window {
            *e = (limit, window, 0);
        }
        e.2 = e.2.saturating_add(1);
        e.2
    }

    /// The count in Redis, or `None` (count locally) when Redis does not answer in time.
    async fn shared_count<K: LimitKey + ?Sized>(
        &self,
        limit: Limit,
        key: &K,
        window: UnixTime,
        period: i64,
        add: bool,
    ) -> Option<u32> {
        let shared = self.redis.as_ref()?;
        let key: String = key.to_string().chars().take(MAX_KEY).collect();
        let rkey = format!(
            "{}:rl:{}:{}:{}",
            self.settings.redis_prefix,
            limit.name(),
            key,
            window
        );
        let mut conn = shared.conn.clone();
        let call = async {
            if add {
                shared
                    .script
                    .key(&rkey)
                    .arg(period + 1)
                    .invoke_async::<u32>(&mut conn)
                    .await
            } else {
                redis::cmd("GET")
                    .arg(&rkey)
                    .query_async::<Option<u32>>(&mut conn)
                    .await
                    .map(Option::unwrap_or_default)
            }
        };
        let outcome = match tokio::time::timeout(REDIS_TIMEOUT, call).await {
            Ok(Ok(n)) => Ok(n),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("no answer in time".to_owned()),
        };
        match outcome {
            Ok(n) => {
                if shared.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!("rate limits: Redis answers again; counting there");
                }
                Some(n)
            }
            Err(e) => {
                if !shared.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, "rate limits: Redis unreachable; counting on this node until it is back");
                }
                None
            }
        }
    }
}

/// The limits of one request to the token, introspection or revocation endpoint. The endpoint
/// parses the request once and reports to the gate as it goes:
/// [`RateLimiter::gate`] before anything (an address over its failed-authentication budget gets 429
/// whatever it sends), [`Gate::client`] once the client ID is known (before the secret is checked),
/// [`Gate::failed`] after a failed authentication.
pub(crate) struct Gate<'a> {
    limits: &'a RateLimiter,
    ip: Option<IpAddr>,
}

impl Gate<'_> {
    /// The client's address the gate counts by.
    pub(crate) fn ip(&self) -> Option<IpAddr> {
        self.ip
    }
}

impl RateLimiter {
    /// Opens the gate for a request from `ip`: refused if the address is over its budget of failed
    /// authentications.
    pub(crate) async fn gate(&self, ip: Option<IpAddr>) -> Result<Gate<'_>, Refused> {
        if let Some(ip) = &ip {
            self.check(Limit::FailedAuthIp, ip).await?;
        }
        Ok(Gate { limits: self, ip })
    }
}

impl Gate<'_> {
    /// The request names `client`: refused if that client ID is over its budget of failed
    /// authentications or, for a token request, of token requests (which this counts).
    pub(crate) async fn client(&self, client: &str, token_request: bool) -> Result<(), Refused> {
        self.limits.check(Limit::FailedAuthClient, client).await?;
        if token_request {
            self.limits.hit(Limit::Token, client).await?;
        }
        Ok(())
    }

    /// Client authentication failed (the answer stays a 401; the budget is checked on the next try).
    pub(crate) async fn failed(&self, client: Option<&str>) {
        if let Some(ip) = &self.ip {
            let _ = self.limits.hit(Limit::FailedAuthIp, ip).await;
        }
        if let Some(client) = client {
            let _ = self.limits.hit(Limit::FailedAuthClient, client).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use tollgate_core::clock::ManualClock;

    use super::*;

    fn limiter(settings: RateLimitSettings) -> (RateLimiter, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(1_700_000_040)); // a minute boundary
        let l = RateLimiter::new(settings, None, clock.clone()).unwrap_or_else(|_| unreachable!());
        (l, clock)
    }

    #[tokio::test]
    async fn a_window_allows_its_budget_then_refuses_until_it_ends() {
        let (l, clock) = limiter(RateLimitSettings {
            api_writes_per_company_per_second: 3,
            ..RateLimitSettings::default()
        });
        for _ in 0..3 {
            assert_eq!(l.hit(Limit::ApiWrite, "c").await, Ok(()));
        }
        assert_eq!(
            l.hit(Limit::ApiWrite, "c").await,
            Err(Refused { retry_after: 1 })
        );
        assert_eq!(l.hit(Limit::ApiWrite, "other").await, Ok(()), "per key");
        assert_eq!(l.hit(Limit::ApiRead, "c").await, Ok(()), "reads are off");
        clock.advance(1);
        assert_eq!(l.hit(Limit::ApiWrite, "c").await, Ok(()), "a new window");
    }

    #[tokio::test]
    async fn check_counts_nothing_and_refuses_at_the_budget() {
        let (l, clock) = limiter(RateLimitSettings {
            failed_auth_per_ip_per_minute: 2,
            ..RateLimitSettings::default()
        });
        assert_eq!(l.check(Limit::FailedAuthIp, "ip").await, Ok(()));
        assert_eq!(l.check(Limit::FailedAuthIp, "ip").await, Ok(()));
        let _ = l.hit(Limit::FailedAuthIp, "ip").await;
        assert_eq!(l.check(Limit::FailedAuthIp, "ip").await, Ok(()));
        let _ = l.hit(Limit::FailedAuthIp, "ip").await;
        clock.advance(20);
        assert_eq!(
            l.check(Limit::FailedAuthIp, "ip").await,
            Err(Refused { retry_after: 40 })
        );
    }

    #[tokio::test]
    async fn off_means_off() {
        let (l, _) = limiter(RateLimitSettings {
            enabled: false,
            token_per_client_per_minute: 1,
            ..RateLimitSettings::default()
        });
        for _ in 0..10 {
            assert_eq!(l.hit(Limit::Token, "c").await, Ok(()));
        }
        assert_eq!(l.status(), "off");
    }
}
