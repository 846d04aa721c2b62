//! tollgate's HTTP server.
//!
//! - [`App::build`] opens the store, loads keys and credentials, binds the listener (port 0 works);
//!   [`App::run_until_stopped`] serves until the shutdown future resolves, then finishes in-flight
//!   requests and flushes what it batched.
//! - `oauth`: the token endpoint (`POST /api/v2/oauth2/token`), parsing every accepted request form
//!   once at the edge.
//! - [`resource`]: the reusable resource-side checks (bearer token, version header, scope):
//!   [`resource::ResourceGuard::check`] for a scope known at run time, and the axum extractor
//!   [`resource::Authorized`] for one named at compile time.
//! - [`App::mount`]: an API of the platform's own, served beside tollgate's routes behind the same
//!   checks (the example groups API, crate `tollgate-groups`, is mounted so); [`ApiContext`] is
//!   what it may use.
//! - `gateway`: `[[gateway.routes]]` to upstream APIs, checked like the built-in API and forwarded
//!   (the router's fallback), and `/auth/verify` for a proxy in front; reloaded on SIGHUP.
//! - [`tls`]: HTTPS with rustls, the certificate reloaded without dropping connections.
//! - `error`: the one place where domain errors become HTTP responses; `extract`: tollgate's own
//!   body extractors, whose rejections are those errors.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use std::sync::Arc;
//! use tollgate_core::clock::SystemClock;
//! use tollgate_server::{App, Settings};
//!
//! let mut settings = Settings::default();
//! settings.listen = "127.0.0.1:0".parse()?;
//! settings.database_url = "sqlite://tollgate.db".into();
//! let app = App::build(settings, Arc::new(SystemClock)).await?;
//! println!("listening on {}", app.local_addr());
//! app.run_until_stopped(std::future::pending()).await?;
//! # Ok(()) }
//! ```

mod admin;
mod client_addr;
mod config;
mod error;
pub mod extract;
mod gateway;
mod health;
mod logging;
mod metrics;
pub mod oauth;
mod openapi;
pub mod ratelimit;
pub mod resource;
mod revocations;
mod route_table;
pub mod schemas;
mod serve;
mod startup;
mod state;
pub mod tls;
pub mod views;
mod webhooks;
mod wellknown;

pub use config::{ConfigError, Settings, database_name, sqlite_path, url_without_password};
pub use error::{AdminApiError, ApiError, TokenError};
pub use metrics::Metrics;
pub use ratelimit::RateLimitSettings;
pub use route_table::{GatewaySettings, RouteSettings};
pub use serve::ConnectionSettings;
pub use startup::{ApiContext, App};
pub use state::{AppState, Services};
pub use tls::{TlsError, TlsSettings};
pub use webhooks::WebhookSettings;
