//! Shared state of the handlers.

use std::sync::Arc;

use axum::extract::FromRef;
use tollgate_core::admin::Admin;
use tollgate_core::authority::Authority;
use tollgate_core::secret::SecretHasher;
use tollgate_core::store::Store;

use crate::metrics::Metrics;
use crate::resource::ResourceGuard;

/// What every handler can reach: one `Arc`, so the clone axum makes for every extractor and
/// middleware of every request is one reference-count increment.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    /// Shares `services` with every handler.
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The services behind [`AppState`].
#[derive(Debug)]
pub struct Services {
    /// Token issue and verify.
    pub authority: Arc<Authority>,
    /// The resource-side checks.
    pub guard: Arc<ResourceGuard>,
    /// Company and credential operations.
    pub admin: Admin,
    /// The store.
    pub store: Arc<dyn Store>,
    /// Server-keyed MACs (page cursors).
    pub hasher: SecretHasher,
    /// Public base URL (the issuer), for absolute links.
    pub base_url: Arc<str>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Proxies whose `X-Forwarded-For` names the client (see `client_addr`).
    pub trusted_proxies: tollgate_core::allowlist::IpAllowlist,
    /// The listener serves TLS (cookies are `Secure`, upstreams are told `https`).
    pub tls: bool,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// The RFC 8414 metadata document.
    pub metadata: Arc<serde_json::Value>,
    /// Users, sessions, audit log.
    pub accounts: tollgate_core::accounts::Accounts,
    /// One-use tokens of the panel forms that show a secret.
    pub form_nonces: Arc<crate::admin::protect::FormNonces>,
    /// Login brute-force protection.
    pub login_limiter: Arc<crate::admin::protect::LoginLimiter>,
    /// Rate limits of the OAuth endpoints and the API.
    pub rate_limits: Arc<crate::ratelimit::RateLimiter>,
    /// The gateway's live route table.
    pub(crate) gateway: Arc<crate::route_table::LiveRoutes>,
    /// The revocation feed's boot id, subscriber slots and shutdown signal.
    pub revocation_feed: Arc<crate::revocations::hub::RevocationFeed>,
    /// Webhook endpoints (the panel's and the admin API's operations).
    pub webhooks: tollgate_core::webhooks::Webhooks,
    /// Bursts of failed authentications per credential (`credential.auth_failures`).
    pub(crate) auth_failures: Arc<crate::webhooks::FailureWatch>,
}

impl Services {
    /// The client's address: the socket's peer, or the address trusted proxies forwarded.
    pub(crate) fn client_addr(
        &self,
        extensions: &axum::http::Extensions,
        headers: &axum::http::HeaderMap,
    ) -> Option<std::net::IpAddr> {
        crate::client_addr::client_addr(extensions, headers, &self.trusted_proxies)
    }

    /// [`Services::client_addr`] of a request from the socket peer `peer`.
    pub(crate) fn client_addr_of(
        &self,
        peer: std::net::IpAddr,
        headers: &axum::http::HeaderMap,
    ) -> std::net::IpAddr {
        crate::client_addr::forwarded_for(peer, headers, &self.trusted_proxies)
    }
}

impl FromRef<AppState> for Arc<ResourceGuard> {
    fn from_ref(s: &AppState) -> Self {
        Arc::clone(&s.guard)
    }
}
