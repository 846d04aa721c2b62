//! Forwarding a request that passed the route's checks, and its answer back, both bodies streamed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::header::{AUTHORIZATION, CONNECTION, HOST, TE, UPGRADE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode, Uri, Version};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tollgate_core::authority::Access;

use crate::error::ApiError;
use crate::metrics::GatewayOutcome;
use crate::route_table::table::{Route, Upstream};
use crate::state::AppState;

/// The identity headers tollgate sets upstream (and removes from what clients send).
pub(crate) const CLIENT_ID: HeaderName = HeaderName::from_static("x-tollgate-client-id");
pub(crate) const COMPANY_ID: HeaderName = HeaderName::from_static("x-tollgate-company-id");
pub(crate) const SCOPES: HeaderName = HeaderName::from_static("x-tollgate-scopes");
const FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
/// Hop-by-hop headers of RFC 9110 §7.6.1 besides `Connection` and the ones it names.
const HOP_BY_HOP: [&str; 4] = ["keep-alive", "proxy-connection", "te", "transfer-encoding"];

/// Checks `req` against `route` and, if it passes, forwards it; any refusal is an API error.
pub(crate) async fn forward(state: &AppState, route: Arc<Route>, req: Request<Body>) -> Response {
    match try_forward(state, &route, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn try_forward(
    state: &AppState,
    route: &Route,
    req: Request<Body>,
) -> Result<Response, ApiError> {
    let Some(upstream) = &route.upstream else {
        // A route for `/auth/verify` only.
        return Err(ApiError::NoSuchRoute);
    };
    let (mut parts, body) = req.into_parts();
    super::normal_path(parts.uri.path())?;
    let access = super::admit(state, route, &parts.method, &parts.headers).await?;
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let upgrade = requested_upgrade(&parts.headers);
    let client_side = parts.extensions.remove::<OnUpgrade>();
    let uri = upstream_uri(upstream, route, &parts.uri)?;
    let host = parts
        .headers
        .get(HOST)
        .cloned()
        .or_else(|| parts.uri.authority().and_then(|a| a.as_str().parse().ok()));
    let mut headers = std::mem::take(&mut parts.headers);
    remove_hop_by_hop(&mut headers);
    remove_tollgate_headers(&mut headers);
    headers.remove(HOST);
    if !route.forward_token {
        headers.remove(AUTHORIZATION);
    }
    if let Some(protocol) = &upgrade {
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(UPGRADE, protocol.clone());
    }
    set_identity(&mut headers, &access);
    set_forwarded(&mut headers, peer, host, state.tls);

    let mut out = Request::new(body);
    *out.method_mut() = parts.method;
    *out.uri_mut() = uri;
    *out.version_mut() = Version::HTTP_11;
    *out.headers_mut() = headers;
    let answer = tokio::time::timeout(route.timeout, upstream.client.request(out)).await;
    let mut resp = match answer {
        Ok(Ok(resp)) => resp,
        Ok(Err(e)) => {
            state.metrics.gateway(GatewayOutcome::BadGateway);
            tracing::warn!(route = %route.prefix, error = %error_chain(&e), "upstream failed");
            return Err(ApiError::BadGateway);
        }
        Err(_) => {
            state.metrics.gateway(GatewayOutcome::Timeout);
            tracing::warn!(route = %route.prefix, timeout_ms = route.timeout.as_millis() as u64, "upstream sent no response head in time");
            return Err(ApiError::GatewayTimeout);
        }
    };
    state.metrics.gateway(GatewayOutcome::Forwarded);
    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        let (Some(client_side), Some(_)) = (client_side, upgrade) else {
            tracing::warn!(route = %route.prefix, "upstream switched protocols unasked");
            return Err(ApiError::BadGateway);
        };
        let upstream_side = hyper::upgrade::on(&mut resp);
        tokio::spawn(tunnel(client_side, upstream_side));
    } else {
        remove_hop_by_hop(resp.headers_mut());
    }
    Ok(resp.map(Body::new))
}

/// Copies bytes both ways between the two upgraded connections until either side closes.
async fn tunnel(client: OnUpgrade, upstream: OnUpgrade) {
    let (client, upstream) = match tokio::try_join!(client, upstream) {
        Ok(pair) => pair,
        Err(e) => {
            tracing::debug!(error = %e, "upgrade did not complete");
            return;
        }
    };
    let mut client = TokioIo::new(client);
    let mut upstream = TokioIo::new(upstream);
    if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
        tracing::debug!(error = %e, "upgraded connection ended with an error");
    }
}

/// The protocol of an `Upgrade` the client asks for (`Connection: upgrade` and `Upgrade: …`).
fn requested_upgrade(headers: &HeaderMap) -> Option<HeaderValue> {
    let asks = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    if asks {
        headers.get(UPGRADE).cloned()
    } else {
        None
    }
}

/// The absolute URI upstream: its origin and base path, then the (maybe stripped) path and
/// the query as received.
fn upstream_uri(upstream: &Upstream, route: &Route, uri: &Uri) -> Result<Uri, ApiError> {
    let path = route.upstream_path(uri.path());
    let query = uri.query();
    let mut s = String::with_capacity(
        upstream.origin.len() + path.len() + query.map_or(0, |q| q.len() + 1),
    );
    s.push_str(&upstream.origin);
    s.push_str(path);
    if let Some(q) = query {
        s.push('?');
        s.push_str(q);
    }
    Uri::try_from(s).map_err(|_| ApiError::invalid_input("the request path cannot be forwarded"))
}

/// Removes `Connection`, the headers it names, and the other hop-by-hop headers, but keeps a
/// `TE: trailers` (which HTTP/2 upstreams such as gRPC servers need).
fn remove_hop_by_hop(headers: &mut HeaderMap) {
    if headers.contains_key(CONNECTION) {
        let named: Vec<HeaderName> = headers
            .get_all(CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
        headers.remove(CONNECTION);
    }
    let trailers = headers
        .get_all(TE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("trailers"));
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove(UPGRADE);
    if trailers {
        headers.insert(TE, HeaderValue::from_static("trailers"));
    }
}

/// Removes every `X-Tollgate-*` header: only tollgate sets them.
fn remove_tollgate_headers(headers: &mut HeaderMap) {
    let forged: Vec<HeaderName> = headers
        .keys()
        .filter(|k| k.as_str().starts_with("x-tollgate-"))
        .cloned()
        .collect();
    for name in forged {
        headers.remove(name);
    }
}

/// `X-Tollgate-Client-Id`, `-Company-Id` and `-Scopes` (the scopes in force now, space separated).
pub(crate) fn set_identity(headers: &mut HeaderMap, access: &Access) {
    let mut scopes = String::with_capacity(64);
    for s in access.scopes_in_force() {
        if !scopes.is_empty() {
            scopes.push(' ');
        }
        scopes.push_str(s.as_str());
    }
    let values = [
        (CLIENT_ID, access.client_id().as_str().to_owned()),
        (COMPANY_ID, access.company_id().to_string()),
        (SCOPES, scopes),
    ];
    for (name, value) in values {
        if let Ok(v) = HeaderValue::try_from(value) {
            headers.insert(name, v);
        }
    }
}

/// `X-Forwarded-For` (the client's list, then the peer), `-Proto` (`https` when tollgate serves
/// TLS, else `http`) and `-Host` (the `Host` the client sent).
fn set_forwarded(
    headers: &mut HeaderMap,
    peer: Option<IpAddr>,
    host: Option<HeaderValue>,
    tls: bool,
) {
    if let Some(ip) = peer {
        let mut chain = String::new();
        for v in headers.get_all(&FORWARDED_FOR) {
            if let Ok(v) = v.to_str() {
                chain.push_str(v);
                chain.push_str(", ");
            }
        }
        chain.push_str(&ip.to_string());
        if let Ok(v) = HeaderValue::try_from(chain) {
            headers.insert(FORWARDED_FOR, v);
        }
    }
    let proto = if tls { "https" } else { "http" };
    headers.insert(FORWARDED_PROTO, HeaderValue::from_static(proto));
    match host {
        Some(h) => {
            headers.insert(FORWARDED_HOST, h);
        }
        None => {
            headers.remove(FORWARDED_HOST);
        }
    }
}

/// An error and its sources, for the log (hyper's own message is often just "client error").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}
