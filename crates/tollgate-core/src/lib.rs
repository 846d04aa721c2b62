//! tollgate's domain, with no HTTP and no SQL in it.
//!
//! - [`ids`], [`secret`], [`catalog`]: the newtypes (`CompanyId`, `ClientId`, `ClientSecret`, …) and the
//!   scope catalog, parsed once at the edge.
//! - [`model`] and [`store::Store`]: what is stored, behind a narrow async trait that each backend
//!   (`tollgate-store`) implements.
//! - [`admin::Admin`]: the operations of operators and company admins, with the policies (catalog,
//!   company scope ceiling, credential limit).
//! - [`directory::Directory`]: the in-memory view of companies and credentials that the hot path reads,
//!   kept coherent by the store's change feed.
//! - [`authority::Authority`]: issues tokens for client credentials and authorizes bearer tokens.
//! - [`kek`]: keys at rest: the key-encryption keys that seal signing keys and the server key in
//!   the store.
//! - [`clock::Clock`]: time is injected; nothing here reads the system clock but [`clock::SystemClock`].
//!
//! ```
//! use std::sync::Arc;
//! use tollgate_core::clock::{Clock, ManualClock};
//!
//! let clock = Arc::new(ManualClock::new(1_700_000_000));
//! clock.advance(3600);
//! assert_eq!(clock.now(), 1_700_003_600);
//! ```

pub mod accounts;
pub mod admin;
pub mod allowlist;
pub mod audience;
pub mod authority;
pub mod catalog;
pub mod clock;
pub mod directory;
pub mod ids;
pub mod journal;
pub mod kek;
pub mod keys;
pub mod model;
pub mod secret;
pub mod store;
pub mod usage;
pub mod webhooks;

pub mod random;

pub use tollgate_proto::{Scope, ScopeSet};
