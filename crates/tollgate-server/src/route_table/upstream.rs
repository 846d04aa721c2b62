//! A route's connection pool to its upstream: keep-alive HTTP/1.1, or HTTP/2 (negotiated over
//! TLS, or by prior knowledge with `http2 = true`), TLS by rustls with Mozilla's roots.

use std::time::Duration;

use axum::body::Body;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

/// Idle upstream connections are closed after this long.
const POOL_IDLE: Duration = Duration::from_secs(90);
/// Idle connections kept per upstream host.
const POOL_MAX_IDLE: usize = 256;

/// The pooled client of one route.
#[derive(Clone)]
pub(crate) struct UpstreamClient {
    client: Client<HttpsConnector<HttpConnector>, Body>,
}

impl std::fmt::Debug for UpstreamClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UpstreamClient")
    }
}

impl UpstreamClient {
    /// A client whose connects give up after `timeout` (the route's response-head time).
    pub(crate) fn new(http2_only: bool, timeout: Duration) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .pool_max_idle_per_host(POOL_MAX_IDLE)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .http2_only(http2_only)
            .build(connector);
        Self { client }
    }

    /// Sends `req` (whose URI is absolute); resolves with the response head.
    pub(crate) fn request(
        &self,
        req: axum::http::Request<Body>,
    ) -> hyper_util::client::legacy::ResponseFuture {
        self.client.request(req)
    }
}
