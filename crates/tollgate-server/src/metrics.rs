//! Prometheus metrics, in a registry owned by the app (no global). Counters for each outcome are
//! created once, so the hot path only does an atomic increment.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
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
    token: [Counter; 8],
    api: [Counter; 5],
    gateway: [Counter; 3],
    webhooks: [Counter; 3],
    reused: Counter,
    catch_ups: Counter,
    credentials: Gauge,
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
        Arc::new(Self {
            registry,
            token,
            api,
            gateway,
            webhooks,
            reused,
            catch_ups,
            credentials,
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

    /// The registry as Prometheus / OpenMetrics text, with the directory's figures (kept by the
    /// authority) copied in first.
    pub(crate) fn render(
        &self,
        authority: &tollgate_core::authority::Authority,
    ) -> Result<String, std::fmt::Error> {
        self.credentials
            .set(authority.directory().credential_count() as i64);
        // A copy of the authority's own monotonic count.
        self.catch_ups
            .inner()
            .store(authority.catch_ups(), std::sync::atomic::Ordering::Relaxed);
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
