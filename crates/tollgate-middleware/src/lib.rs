//! Verify tollgate's access tokens inside a Rust service — offline, and still refuse a revoked
//! token within a second.
//!
//! - [`Verifier::discover`] reads the issuer's RFC 8414 metadata and its key set (JWKS). Each token
//!   is checked offline: `typ: at+jwt`, an accepted algorithm (EdDSA, ES256, RS256 — never HMAC or
//!   `none`) that is its key's own, the signature, `iss`, `aud`, `exp` (small leeway), `iat`/`nbf`.
//!   An unknown `kid` fetches the key set again — one fetch for concurrent misses, and at most one
//!   per [`Options::min_refetch_interval`], so made-up `kid`s cannot turn into a fetch per request.
//! - With [`Options::feed`], a background task subscribes to tollgate's revocation feed
//!   (`GET /api/v2/oauth2/revocations`, Server-Sent Events) and refuses tokens that were revoked,
//!   whose credential or company was deleted, or whose secret was rotated away; scopes narrowed
//!   since the token was issued are no longer in force. If the feed is down longer than
//!   [`FeedOptions::max_staleness`], the verifier fails closed (503) or open, as configured
//!   ([`FailMode`]), and says so in its [`Metrics`].
//! - [`VerifyLayer`] (tower) verifies `Authorization: Bearer` and puts the [`Claims`] into the
//!   request; handlers take [`Claims`] as an axum extractor and check scopes at run time with
//!   [`Claims::require`]. Refusals come in tollgate's formats ([`Rejection`]).
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use tollgate_middleware::{Claims, FeedOptions, Options, Rejection, Verifier, VerifyLayer};
//! use tollgate_proto::ClientSecret;
//!
//! async fn reports(claims: Claims) -> Result<String, Rejection> {
//!     claims.require("reports:read")?;
//!     Ok(format!("reports of company {}", claims.company_id))
//! }
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let feed = FeedOptions::new("feed-client-id", ClientSecret::new("its secret"));
//! let issuer = "https://tollgate.example.com";
//! let verifier = Verifier::discover(issuer, issuer, Options::default().feed(feed)).await?;
//! let app: Router = Router::new()
//!     .route("/reports", get(reports))
//!     .layer(VerifyLayer::new(verifier));
//! # let _ = app; Ok(()) }
//! ```
#![deny(missing_docs)]

mod claims;
mod error;
mod feed;
mod jwks;
mod layer;
mod metrics;
mod options;
mod sse;
mod verifier;

pub use claims::Claims;
pub use error::{DiscoverError, Rejection};
pub use layer::{VerifyLayer, VerifyService};
pub use metrics::Metrics;
pub use options::{Clock, FailMode, FeedOptions, Options, SystemClock};
pub use verifier::Verifier;
