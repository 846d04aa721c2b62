//! The gateway: tollgate in front of any HTTP API.
//!
//! - `[[gateway.routes]]` map path prefixes to upstreams and name the scopes each method needs
//!   (`route_table`: the settings, their checked form, the table in force).
//! - A request that no tollgate route takes, under a route's prefix, gets the same checks as the
//!   built-in API ([`crate::resource::ResourceGuard::check_request`]) and is then forwarded with
//!   its bodies streamed ([`proxy`]); any other gets the usual 404.
//! - `/auth/verify` ([`verify`]) answers the same question for a proxy in front (forward-auth).
//! - The table is swapped whole on SIGHUP or when the configuration file changes ([`watch`]);
//!   in-flight requests keep the route they started with. A file that does not parse or validate
//!   is refused with a log line, and the old routes stay.

mod proxy;
pub(crate) mod verify;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Request};
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;

use crate::error::ApiError;
use crate::route_table::LiveRoutes;
use crate::route_table::table::{Route, is_normal_path};
use crate::state::AppState;
use tollgate_core::authority::Access;

/// How often the configuration file is read for changes.
const POLL: Duration = Duration::from_secs(1);

/// 400 unless `path` is in normal form ([`is_normal_path`]).
fn normal_path(path: &str) -> Result<(), ApiError> {
    if is_normal_path(path) {
        Ok(())
    } else {
        Err(ApiError::invalid_input(
            "the path must not hold empty, . or .. segments, or an encoded / or \\",
        ))
    }
}

/// The checks of `route` for a request with `method` and `headers` (the original request's, for
/// `/auth/verify`): 405 for a method it names no scopes for, then the built-in API's checks.
async fn admit(
    state: &AppState,
    route: &Route,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Access, ApiError> {
    let scopes = route.scopes_for(method).ok_or(ApiError::MethodNotAllowed)?;
    // A route naming the default audience serves what the built-in API serves.
    let audience = route
        .audience
        .as_ref()
        .map(|a| a.as_str())
        .filter(|a| *a != state.authority.settings().audience);
    state
        .guard
        .check_request(method, headers, scopes, audience, route.version_header)
        .await
}

/// The router's fallback: a gateway route's request is checked and forwarded; anything else is
/// the usual 404.
pub(crate) async fn fallback(State(state): State<AppState>, req: Request<Body>) -> Response {
    let route = state.gateway.table().find(req.uri().path()).cloned();
    match route {
        Some(route) => proxy::forward(&state, route, req).await,
        // The front page, unless a gateway route claims it: the admin panel.
        None if req.uri().path() == "/" && req.method() == axum::http::Method::GET => {
            axum::response::Redirect::to("/admin").into_response()
        }
        None => ApiError::NoSuchRoute.into_response(),
    }
}

/// Reloads the routes from `file` on SIGHUP and whenever its content changes, until `stop`.
pub(crate) async fn watch(
    gateway: Arc<LiveRoutes>,
    file: PathBuf,
    mut stop: watch::Receiver<bool>,
) {
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP; the file is still watched");
            None
        }
    };
    let mut seen = std::fs::read(&file).ok();
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let cause = tokio::select! {
            Some(()) = async { hangup.as_mut()?.recv().await } => "SIGHUP",
            _ = tick.tick() => {
                let now = std::fs::read(&file).ok();
                if now == seen {
                    continue;
                }
                seen = now;
                "file changed"
            }
            _ = stop.changed() => return,
        };
        let reloaded = crate::Settings::from_file(&file)
            .map_err(|e| e.to_string())
            .and_then(|settings| gateway.replace(&settings.gateway));
        match reloaded {
            Ok(routes) => {
                tracing::info!(cause, routes, file = %file.display(), "gateway routes reloaded")
            }
            Err(error) => tracing::warn!(
                cause,
                %error,
                file = %file.display(),
                "gateway configuration refused; the old routes stay"
            ),
        }
    }
}
