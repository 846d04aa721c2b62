//! Wire types of tollgate's external contract.
//!
//! This crate has no dependency beyond `serde` and `zeroize` so that the server, the client SDK and the
//! CLI all speak the same types: [`Scope`] and [`ScopeSet`], the [`ClientSecret`] (redacted, zeroized),
//! the token endpoint's [`TokenResponse`], the [`SigningAlg`] of its tokens, RFC 6749 §5.2 error codes
//! ([`OAuthErrorCode`], [`OAuthErrorBody`]) the API error envelope ([`ApiErrorBody`]) and the revocation feed's events ([`FeedEvent`]).
//!
//! ```
//! use tollgate_proto::{Scope, ScopeSet};
//!
//! let set: ScopeSet = "groups:read groups:write".parse().unwrap();
//! assert!(set.contains(&Scope::parse("groups:read").unwrap()));
//! assert_eq!(set.to_string(), "groups:read groups:write");
//! ```

mod alg;
mod error;
mod revocations;
mod scope;
mod secret;
mod token;

pub use alg::{SigningAlg, UnknownSigningAlg};
pub use error::{
    ApiErrorBody, ApiErrorDetail, OAuthErrorBody, OAuthErrorCode, TooManyRequestsBody,
};
pub use revocations::{
    CompanyState, CredentialState, FeedEvent, FeedSnapshot, REVOCATIONS_PATH, REVOCATIONS_SCOPE,
    RevokedToken, SecretState,
};
pub use scope::{Scope, ScopeError, ScopeSet};
pub use secret::ClientSecret;
pub use token::{GRANT_CLIENT_CREDENTIALS, TokenResponse};

/// Default path of the token endpoint, as in the reference API.
pub const TOKEN_PATH: &str = "/api/v2/oauth2/token";
/// Default name of the API version header.
pub const DEFAULT_VERSION_HEADER: &str = "360-api-version";
/// Default (and only, out of the box) supported API version.
pub const DEFAULT_API_VERSION: &str = "v2.0";
