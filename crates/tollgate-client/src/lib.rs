//! Client SDK for tollgate and any API that uses the OAuth 2.0 client-credentials grant the way the
//! reference API does (`POST /api/v2/oauth2/token`, then `Authorization: Bearer` and
//! `360-api-version: v2.0`).
//!
//! The reference documentation asks integrators to "set up a process to automatically
//! re-authenticate when the token expires". This crate is that process:
//!
//! - [`TokenSource`] fetches a token with the client ID and secret, caches it, and renews it before it
//!   expires ([`RenewalMargin`]), with one token request however many tasks ask at once; it retries
//!   network errors, 5xx and 429 with backoff within a timeout ([`RetryPolicy`]), and returns
//!   `invalid_client` at once.
//! - [`ApiClient`] sends API requests with the token and the version header, renews and retries once
//!   when the API answers `401 invalid_token`, and follows `Link: rel="next"` pages as a
//!   [`Stream`] of items.
//! - [`Error`] keeps the server's OAuth error ([`OAuthError`]), other HTTP errors ([`ApiError`]),
//!   network failures and unreadable answers apart.
//!
//! List every group, with tokens renewed as needed:
//!
//! ```no_run
//! use tollgate_client::{ApiClient, TokenSource, TryStreamExt};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), tollgate_client::Error> {
//!     let tokens = TokenSource::builder("http://127.0.0.1:8080", "your_client_ID", "your_client_secret").build()?;
//!     let api = ApiClient::new(tokens); // Bearer token + `360-api-version: v2.0`
//!     let mut groups = api.paginate::<serde_json::Value>("/api/v2/groups");
//!     while let Some(group) = groups.try_next().await? {
//!         println!("{} {}", group["_id"], group["name"]);
//!     }
//!     Ok(())
//! }
//! ```
//!
//! Other servers: [`TokenSourceBuilder`] sets the token URL or path, a form body
//! ([`RequestFormat::Form`]), `client_secret_basic` ([`ClientAuth::SecretBasic`]), a scope, and the
//! lifetime assumed when a response has no `expires_in` (which may be a number or a string).
//! [`ApiClientBuilder`] sets the version header. Secrets ([`ClientSecret`], [`AccessToken`]) print
//! as `[redacted]` and are zeroized when dropped.

#![deny(missing_docs)]

mod api;
mod config;
mod error;
mod secret;
mod source;
mod token;

pub use api::{ApiClient, ApiClientBuilder};
pub use config::{ClientAuth, Clock, RenewalMargin, RequestFormat, RetryPolicy, SystemClock};
pub use error::{ApiError, Endpoint, Error, OAuthError};
pub use futures_util::{Stream, StreamExt, TryStreamExt};
pub use reqwest::{Method, Response, Url};
pub use secret::{AccessToken, ClientSecret};
pub use source::{TokenSource, TokenSourceBuilder};
pub use token::Token;
pub use tollgate_proto::OAuthErrorCode;
