//! The gateway: tollgate in front of any HTTP API.
//!
//! - `[[gateway.routes]]` ([`GatewaySettings`]) map path prefixes to upstreams and name the scopes
//!   each method needs; [`table::RouteTable`] is the checked form, longest prefix first.
//! - A request that no tollgate route takes, under a route's prefix, gets the same checks as the
//!   built-in API ([`crate::resource::ResourceGuard::check_request`]) and is then forwarded with
//!   its bodies streamed ([`proxy`]); any other gets the usual 404.
//! - `/auth/verify` ([`verify`]) answers the same question for a proxy in front (forward-auth).
//! - The table is swapped whole on SIGHUP or when the configuration file changes ([`watch`]);
//!   in-flight requests keep the route they started with. A file that does not parse or validate
//!   is refused with a log line, and the old routes stay.

mod config;
mod proxy;
mod table;
mod upstream;
pub(crate) mod verify;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::body::Body;
use axum::extract::State;
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;

pub use config::{GatewaySettings, RouteSettings};
use table::RouteTable;

use crate::error::ApiError;
use crate::state::AppState;

/// How often the configuration file is read for changes.
const POLL: Duration = Duration::from_secs(1);

/// The live route table.
#[derive(Debug)]
pub struct Gateway {
    table: ArcSwap<RouteTable>,
}

impl Gateway {
    /// The routes of `settings`, checked (the error names the route and what is wrong).
    pub(crate) fn new(settings: &GatewaySettings) -> Result<Self, String> {
        Ok(Self {
            table: ArcSwap::from_pointee(RouteTable::build(settings)?),
        })
    }

    /// The table as it is now.
    pub(crate) fn table(&self) -> Arc<RouteTable> {
        self.table.load_full()
    }

    /// Reads `[gateway]` from `file` again and swaps the table in; on any error the old table
    /// stays. Returns how many routes are live.
    pub(crate) fn reload(&self, file: &Path) -> Result<usize, String> {
        let settings = crate::Settings::from_file(file).map_err(|e| e.to_string())?;
        let table = RouteTable::build(&settings.gateway)?;
        let n = table.len();
        self.table.store(Arc::new(table));
        Ok(n)
    }
}

/// The router's fallback: a gateway route's request is checked and forwarded; anything else is
/// the usual 404.
pub(crate) async fn fallback(State(state): State<AppState>, req: Request<Body>) -> Response {
    let route = state.gateway.table.load().find(req.uri().path()).cloned();
    match route {
        Some(route) => proxy::forward(&state, route, req).await,
        None => ApiError::NoSuchRoute.into_response(),
    }
}

/// Reloads the routes from `file` on SIGHUP and whenever its content changes, until `stop`.
pub(crate) async fn watch(gateway: Arc<Gateway>, file: PathBuf, mut stop: watch::Receiver<bool>) {
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
        match gateway.reload(&file) {
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
