//! [`Claims`]: what a verified token says, and the axum extractor for it.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use tollgate_proto::ScopeSet;

use crate::error::Rejection;

/// A verified token: who calls, for which company, with which scopes in force. The
/// [`VerifyLayer`](crate::VerifyLayer) puts it into the request's extensions; handlers take it as
/// an extractor.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Claims {
    /// The caller's client ID (`client_id`, also `sub`).
    pub client_id: String,
    /// The caller's company (`company_id`).
    pub company_id: String,
    /// The token's id (`jti`).
    pub jti: String,
    /// The id of the secret that obtained the token (`tg_sid`).
    pub secret_id: String,
    /// The scopes in force: the token's, within the credential's and its company's current ones
    /// (as the revocation feed says; the token's own without a feed, or when failing open).
    pub scopes: ScopeSet,
    /// The scopes written in the token.
    pub token_scopes: ScopeSet,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
}

impl Claims {
    /// Whether `scope` is in force.
    pub fn has(&self, scope: &str) -> bool {
        self.scopes.contains_str(scope)
    }

    /// `Ok` if `scope` is in force, else a 403 `invalid_scope` naming it.
    pub fn require(&self, scope: &str) -> Result<(), Rejection> {
        if self.has(scope) {
            Ok(())
        } else {
            Err(Rejection::InsufficientScope(scope.to_owned()))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Claims {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Claims>()
            .cloned()
            .ok_or(Rejection::NotVerified)
    }
}
