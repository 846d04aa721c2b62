use serde::{Deserialize, Serialize};

/// The only grant type tollgate serves.
pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";

/// A successful token response (RFC 6749 §5.1).
///
/// `expires_in` is a JSON number. The reference's prose shows a string; clients that must accept both
/// deserialize it themselves (the tollgate SDK does).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// Always `Bearer`.
    pub token_type: String,
    /// The access token (a JWT).
    pub access_token: String,
    /// Lifetime in seconds.
    pub expires_in: u64,
    /// Space-delimited scopes granted.
    pub scope: String,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("access_token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish()
    }
}
