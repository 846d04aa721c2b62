//! How credentials are used, counted in memory on the hot path and written in batches: per
//! credential, its last use and the day's tokens, API calls, failed authentications and 429s; per
//! secret, when and from where it last obtained a token. A counter is a relaxed atomic add on an
//! entry of a concurrent map (no lock shared by all requests); [`UsageLog::take`] hands what was
//! counted since the previous call to the writer.

use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use dashmap::DashMap;

use crate::clock::UnixTime;
use crate::ids::{ClientId, SecretId};

/// A UTC day, as days since the Unix epoch.
pub type Day = i64;

/// The day `t` falls on.
pub fn day_of(t: UnixTime) -> Day {
    t.div_euclid(86_400)
}

/// Counts of one credential over some time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UsageCounts {
    /// Token requests answered with a token (new or reused).
    pub tokens: u64,
    /// API requests its tokens made that were allowed.
    pub api_calls: u64,
    /// Failed authentications (wrong secret, expired, outside its allowlist).
    pub failed_auth: u64,
    /// Requests refused with 429 (its token-request budget, its company's API budget, the quota).
    pub rate_limited: u64,
}

impl UsageCounts {
    /// Whether nothing was counted.
    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }

    /// The sum of two counts.
    pub fn plus(self, o: Self) -> Self {
        Self {
            tokens: self.tokens + o.tokens,
            api_calls: self.api_calls + o.api_calls,
            failed_auth: self.failed_auth + o.failed_auth,
            rate_limited: self.rate_limited + o.rate_limited,
        }
    }
}

/// One day's counts of one credential, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DailyUsage {
    /// The day.
    pub day: Day,
    /// Its counts.
    pub counts: UsageCounts,
}

/// A secret's last token request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretUse {
    /// The credential.
    pub client_id: ClientId,
    /// The secret.
    pub secret_id: SecretId,
    /// When.
    pub at: UnixTime,
    /// From where (the client address tollgate saw, after trusted proxies).
    pub ip: Option<IpAddr>,
}

/// What [`UsageLog::take`] hands over: counts per credential (for `day`), last uses per credential
/// and per secret.
#[derive(Debug, Default)]
pub struct UsageBatch {
    /// The day the counts are added to (when the batch was taken).
    pub day: Day,
    /// Counts since the previous batch, per credential (none all zero).
    pub counts: Vec<(ClientId, UsageCounts)>,
    /// The latest use of each credential that obtained a token since the previous batch.
    pub last_used: Vec<(ClientId, UnixTime)>,
    /// The latest use of each secret that obtained a token since the previous batch.
    pub secrets: Vec<SecretUse>,
}

#[derive(Debug, Default)]
struct Counters {
    last_used: AtomicI64,
    tokens: AtomicU64,
    api_calls: AtomicU64,
    failed_auth: AtomicU64,
    rate_limited: AtomicU64,
}

#[derive(Debug)]
struct SecretSeen {
    client_id: ClientId,
    at: UnixTime,
    ip: Option<IpAddr>,
}

/// What was counted since the last [`UsageLog::take`].
#[derive(Debug, Default)]
pub struct UsageLog {
    clients: DashMap<ClientId, Counters>,
    secrets: DashMap<SecretId, SecretSeen>,
}

impl UsageLog {
    fn with(&self, client: &ClientId, f: impl FnOnce(&Counters)) {
        if let Some(c) = self.clients.get(client.as_str()) {
            f(&c);
            return;
        }
        f(&self.clients.entry(client.clone()).or_default());
    }

    /// `secret` of `client` obtained a token at `at` from `ip`.
    pub fn token_issued(
        &self,
        client: &ClientId,
        secret: &SecretId,
        at: UnixTime,
        ip: Option<IpAddr>,
    ) {
        self.with(client, |c| {
            c.tokens.fetch_add(1, Ordering::Relaxed);
            c.last_used.fetch_max(at, Ordering::Relaxed);
        });
        match self.secrets.get_mut(secret) {
            Some(mut s) => {
                s.at = s.at.max(at);
                s.ip = ip;
            }
            None => {
                self.secrets.insert(
                    secret.clone(),
                    SecretSeen {
                        client_id: client.clone(),
                        at,
                        ip,
                    },
                );
            }
        }
    }

    /// A token of `client` was allowed an API request.
    pub fn api_call(&self, client: &ClientId) {
        self.with(client, |c| {
            c.api_calls.fetch_add(1, Ordering::Relaxed);
        });
    }

    /// `client` failed to authenticate.
    pub fn failed_auth(&self, client: &ClientId) {
        self.with(client, |c| {
            c.failed_auth.fetch_add(1, Ordering::Relaxed);
        });
    }

    /// A request of `client` was refused with 429.
    pub fn rate_limited(&self, client: &ClientId) {
        self.with(client, |c| {
            c.rate_limited.fetch_add(1, Ordering::Relaxed);
        });
    }

    /// Everything counted since the previous call; the counts go to `day_of(now)`. Credentials
    /// with nothing counted are dropped from the map (a deleted one does not stay forever).
    pub fn take(&self, now: UnixTime) -> UsageBatch {
        let mut batch = UsageBatch {
            day: day_of(now),
            ..UsageBatch::default()
        };
        self.clients.retain(|id, c| {
            let counts = UsageCounts {
                tokens: c.tokens.swap(0, Ordering::Relaxed),
                api_calls: c.api_calls.swap(0, Ordering::Relaxed),
                failed_auth: c.failed_auth.swap(0, Ordering::Relaxed),
                rate_limited: c.rate_limited.swap(0, Ordering::Relaxed),
            };
            let last = c.last_used.swap(0, Ordering::Relaxed);
            if last > 0 {
                batch.last_used.push((id.clone(), last));
            }
            if counts.is_zero() {
                return false;
            }
            batch.counts.push((id.clone(), counts));
            true
        });
        let ids: Vec<SecretId> = self.secrets.iter().map(|e| e.key().clone()).collect();
        for id in ids {
            if let Some((secret_id, s)) = self.secrets.remove(&id) {
                batch.secrets.push(SecretUse {
                    client_id: s.client_id,
                    secret_id,
                    at: s.at,
                    ip: s.ip,
                });
            }
        }
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_last_uses_are_handed_over_once() {
        let log = UsageLog::default();
        let a = ClientId::parse("aaaa").unwrap();
        let b = ClientId::parse("bbbb").unwrap();
        let s1 = SecretId::from_stored("s1");
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        log.token_issued(&a, &s1, 100, None);
        log.token_issued(&a, &s1, 105, Some(ip));
        log.api_call(&a);
        log.api_call(&a);
        log.api_call(&a);
        log.failed_auth(&b);
        log.rate_limited(&b);
        let mut batch = log.take(86_400 * 3 + 5);
        batch.counts.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(batch.day, 3);
        assert_eq!(
            batch.counts,
            [
                (
                    a.clone(),
                    UsageCounts {
                        tokens: 2,
                        api_calls: 3,
                        ..UsageCounts::default()
                    }
                ),
                (
                    b.clone(),
                    UsageCounts {
                        failed_auth: 1,
                        rate_limited: 1,
                        ..UsageCounts::default()
                    }
                ),
            ]
        );
        assert_eq!(batch.last_used, [(a.clone(), 105)]);
        assert_eq!(
            batch.secrets,
            [SecretUse {
                client_id: a.clone(),
                secret_id: s1,
                at: 105,
                ip: Some(ip)
            }]
        );
        let again = log.take(86_400 * 3 + 6);
        assert!(again.counts.is_empty() && again.last_used.is_empty() && again.secrets.is_empty());
    }

    #[test]
    fn days_are_utc_days() {
        assert_eq!(day_of(0), 0);
        assert_eq!(day_of(86_399), 0);
        assert_eq!(day_of(86_400), 1);
        assert_eq!(day_of(-1), -1);
    }
}
