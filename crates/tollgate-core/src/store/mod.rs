//! The storage traits, one per concern, and [`Store`], all of them together. The SQL backend
//! (SQLite and PostgreSQL, one implementation) lives in `tollgate-store`; nothing here names a
//! database. A service takes the narrowest trait it needs (`Arc<dyn AccountStore>`, …); an
//! `Arc<dyn Store>` coerces to any of them.

mod accounts;
mod credentials;
mod feed;
mod keys;
mod webhooks;

pub use accounts::AccountStore;
pub use credentials::CredentialStore;
pub use feed::FeedStore;
pub use keys::{KeyStore, check_keys_at_rest};
pub use webhooks::WebhookStore;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The row to change does not exist.
    #[error("not found")]
    NotFound,
    /// The company already holds its maximum number of credentials.
    #[error("the company already has its maximum of {max} credentials")]
    CredentialLimit {
        /// The company's limit.
        max: u32,
    },
    /// The company already has its maximum of webhook endpoints.
    #[error("the company already has its maximum of {max} webhooks")]
    WebhookLimit {
        /// The limit.
        max: u32,
    },
    /// The change would leave a company without an owner or admin (checked atomically with it).
    #[error("the company's last owner or admin cannot be demoted or removed")]
    LastAdmin,
    /// The secret to end is its credential's only live one (rotate instead).
    #[error("the credential's only live secret cannot be ended")]
    LastSecret,
    /// A uniqueness rule was broken.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A stored secret (a signing key, the server key) cannot be unsealed or sealed: no, wrong or
    /// missing key-encryption key, or altered bytes.
    #[error(transparent)]
    KeyWrap(#[from] crate::kek::WrapError),
    /// The database failed (unreachable, corrupt, …): a 500, never a client error.
    #[error("database error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Everything tollgate stores: what a backend implements (each part by itself), and what the server
/// holds and hands out as the narrower traits.
pub trait Store: CredentialStore + KeyStore + FeedStore + AccountStore + WebhookStore {}

impl<T> Store for T where T: CredentialStore + KeyStore + FeedStore + AccountStore + WebhookStore {}
