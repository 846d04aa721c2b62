//! Prometheus metrics, in a registry owned by the app (no global). Counters for each outcome are
//! created once, so the hot path only does an atomic increment.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabel {
    limit: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    /// The route's pattern (`/api/v2/groups/{id}`), or `(unmatched)`: never the path itself, so
    /// the label's values stay few.
    route: String,
    /// `2xx`, `3xx`, `4xx`, `5xx` (`1xx` with the others).
    status_class: &'static str,
}

/// Request latency buckets, in seconds: 100 µs to 10 s.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5, 10.0,
];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

const STATUS_CLASSES: [&str; 4] = ["2xx", "3xx", "4xx", "5xx"];

/// Request latencies per route and status class. The family's histograms are kept per route in a
/// concurrent map too, so that a request finds its histogram without building a label set.
#[derive(Debug)]
struct Latencies {
    family: Family<RouteLabels, Histogram, fn() -> Histogram>,
    by_route: dashmap::DashMap<Box<str>, [Histogram; 4]>,
}

impl Latencies {
    fn observe(&self, route: &str, status: u16, seconds: f64) {
        let class = match status {
            300..=399 => 1,
            400..=499 => 2,
            500.. => 3,
            _ => 0,
        };
        if let Some(h) = self.by_route.get(route) {
            h[class].observe(seconds);
            return;
        }
        let histograms = STATUS_CLASSES.map(|c| {
            self.family
                .get_or_create(&RouteLabels {
                    route: route.to_owned(),
                    status_class: c,
                })
                .clone()
        });
        histograms[class].observe(seconds);
        self.by_route.insert(route.into(), histograms);
    }
}

/// Token endpoint outcomes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TokenOutcome {
    Issued,
    InvalidClient,
    InvalidRequest,
    InvalidScope,
    UnsupportedGrantType,
    Error,
    RateLimited,
    QuotaExceeded,
    InvalidTarget,
}

/// Resource-side outcomes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ApiOutcome {
    Allowed,
    InvalidToken,
    BadVersion,
    InsufficientScope,
    RateLimited,
}

/// What became of a request the gateway forwarded (after its checks passed).
#[derive(Debug, Clone, Copy)]
pub(crate) enum GatewayOutcome {
    /// The upstream answered.
    Forwarded,
    /// The upstream refused or reset (502).
    BadGateway,
    /// No response head within the route's timeout (504).
    Timeout,
}

/// The app's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    token: [Counter; 9],
    api: [Counter; 5],
    gateway: [Counter; 3],
    webhooks: [Counter; 3],
    latencies: Latencies,
    reused: Counter,
    catch_ups: Counter,
    credentials: Gauge,
    companies: Gauge,
    feed_lag: Gauge,
    reloads: Counter,
    signature_checks: Counter,
    refusals: [Counter; crate::ratelimit::Limit::ALL.len()],
}

impl Metrics {
    pub(crate) fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("tollgate");
        let token_family = Family::<Outcome, Counter>::default();
        let api_family = Family::<Outcome, Counter>::default();
        let token = [
            "issued",
            "invalid_client",
            "invalid_request",
            "invalid_scope",
            "unsupported_grant_type",
            "error",
            "rate_limited",
            "quota_exceeded",
            "invalid_target",
        ]
        .map(|o| token_family.get_or_create(&Outcome { outcome: o }).clone());
        let api = [
            "allowed",
            "invalid_token",
            "bad_version",
            "insufficient_scope",
            "rate_limited",
        ]
        .map(|o| api_family.get_or_create(&Outcome { outcome: o }).clone());
        let gateway_family = Family::<Outcome, Counter>::default();
        let gateway = ["forwarded", "bad_gateway", "timeout"].map(|o| {
            gateway_family
                .get_or_create(&Outcome { outcome: o })
                .clone()
        });
        registry.register(
            "gateway_requests",
            "Requests the gateway passed on to an upstream, by outcome",
            gateway_family,
        );
        let latency_family: Family<RouteLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's head to its response's head, by route and status class",
            latency_family.clone(),
        );
        let webhook_family = Family::<Outcome, Counter>::default();
        let webhooks = ["delivered", "retry", "failed"].map(|o| {
            webhook_family
                .get_or_create(&Outcome { outcome: o })
                .clone()
        });
        registry.register(
            "webhook_attempts",
            "Webhook delivery attempts by outcome (delivered; failed and to be retried; failed for good)",
            webhook_family,
        );
        registry.register(
            "token_requests",
            "Token endpoint requests by outcome",
            token_family,
        );
        registry.register(
            "api_authorizations",
            "Resource-side checks by outcome",
            api_family,
        );
        let reused = Counter::default();
        registry.register(
            "tokens_reused",
            "Token requests answered with the token issued before (no new signature)",
            reused.clone(),
        );
        let catch_ups = Counter::default();
        registry.register(
            "directory_catch_ups",
            "Change-feed reads made at once because a client or token named a credential unknown here",
            catch_ups.clone(),
        );
        let credentials = Gauge::default();
        registry.register(
            "credentials_cached",
            "Credentials in the in-memory directory",
            credentials.clone(),
        );
        let companies = Gauge::default();
        registry.register(
            "companies_cached",
            "Companies in the in-memory directory",
            companies.clone(),
        );
        let feed_lag = Gauge::default();
        registry.register_with_unit(
            "change_feed_lag",
            "Seconds since this node last held every change in the database (the change feed read to its end, or a full reload); about 0 when it keeps up",
            prometheus_client::registry::Unit::Seconds,
            feed_lag.clone(),
        );
        let reloads = Counter::default();
        registry.register(
            "directory_reloads",
            "Full reloads of the directory: the first load, and each time the change feed no longer reached back to this node's position (a resync)",
            reloads.clone(),
        );
        let signature_checks = Counter::default();
        registry.register(
            "token_signature_checks",
            "Bearer tokens whose signature was checked because they were not among the verified ones (the verified-token cache's misses; hit ratio = 1 - this / api_authorizations)",
            signature_checks.clone(),
        );
        let limit_family = Family::<LimitLabel, Counter>::default();
        let refusals = crate::ratelimit::Limit::ALL.map(|l| {
            limit_family
                .get_or_create(&LimitLabel { limit: l.label() })
                .clone()
        });
        registry.register(
            "rate_limit_refusals",
            "Requests refused by a rate limit, by limit",
            limit_family,
        );
        Arc::new(Self {
            registry,
            token,
            api,
            gateway,
            webhooks,
            latencies: Latencies {
                family: latency_family,
                by_route: dashmap::DashMap::new(),
            },
            reused,
            catch_ups,
            credentials,
            companies,
            feed_lag,
            reloads,
            signature_checks,
            refusals,
        })
    }

    pub(crate) fn token(&self, o: TokenOutcome) {
        self.token[o as usize].inc();
    }

    pub(crate) fn api(&self, o: ApiOutcome) {
        self.api[o as usize].inc();
    }

    /// A token request answered by reuse (it also counts as `issued`).
    pub(crate) fn token_reused(&self) {
        self.reused.inc();
    }

    /// A request to `route` (its pattern) answered `status` after `seconds`.
    pub(crate) fn request(&self, route: &str, status: u16, seconds: f64) {
        self.latencies.observe(route, status, seconds);
    }

    /// A webhook attempt: `delivered`, `retry` or `failed`.
    pub(crate) fn webhook_attempt(&self, outcome: &str) {
        let i = match outcome {
            "delivered" => 0,
            "retry" => 1,
            _ => 2,
        };
        self.webhooks[i].inc();
    }

    pub(crate) fn gateway(&self, o: GatewayOutcome) {
        self.gateway[o as usize].inc();
    }

    /// The registry as Prometheus / OpenMetrics text, with the figures kept by the authority, its
    /// directory and the rate limiter copied in first.
    pub(crate) fn render(
        &self,
        authority: &tollgate_core::authority::Authority,
        limits: &crate::ratelimit::RateLimiter,
    ) -> Result<String, std::fmt::Error> {
        use std::sync::atomic::Ordering::Relaxed;
        let directory = authority.directory();
        self.credentials.set(directory.credential_count() as i64);
        self.companies.set(directory.company_count() as i64);
        self.feed_lag
            .set((authority.now() - directory.caught_up_at()).max(0));
        // Copies of monotonic counts kept where they happen.
        self.catch_ups.inner().store(authority.catch_ups(), Relaxed);
        self.reloads.inner().store(directory.reloads(), Relaxed);
        self.signature_checks
            .inner()
            .store(authority.signature_checks(), Relaxed);
        for (limit, n) in limits.refusals() {
            self.refusals[limit as usize].inner().store(n, Relaxed);
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }

    /// Token requests answered with a token since start (new or reused).
    pub fn tokens_issued(&self) -> u64 {
        self.token[TokenOutcome::Issued as usize].get()
    }

    /// Of those, the ones answered with a token issued before.
    pub fn tokens_reused(&self) -> u64 {
        self.reused.get()
    }
}

/// The classic Prometheus text format (0.0.4) of an OpenMetrics text: a counter's `HELP` and
/// `TYPE` name its `_total` samples, no `UNIT` lines, no `# EOF`.
pub(crate) fn prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        match meta {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                out.push_str(prefix);
                out.push_str(name);
                if counters.contains(name) {
                    out.push_str("_total");
                }
                out.push(' ');
                out.push_str(tail);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod text_format_tests {
    #[test]
    fn counters_are_named_by_their_samples() {
        let om = "# HELP t_requests Requests.\n# TYPE t_requests counter\nt_requests_total{a=\"b\"} 1\n# HELP g A gauge.\n# TYPE g gauge\ng 2\n# EOF\n";
        assert_eq!(
            super::prometheus_text(om),
            "# HELP t_requests_total Requests.\n# TYPE t_requests_total counter\nt_requests_total{a=\"b\"} 1\n# HELP g A gauge.\n# TYPE g gauge\ng 2\n"
        );
    }
}
