//! What the authority is configured with and what it answers: token settings, issued tokens,
//! token claims, introspection and revocation results, and why a request is refused.

use serde::{Deserialize, Serialize};
use tollgate_proto::ScopeSet;

use crate::ids::{ClientId, CompanyId};
use crate::keys::{KeyError, SigningAlg};
use crate::random::RandomError;
use crate::store::StoreError;

/// Token settings.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// `iss` of tokens.
    pub issuer: String,
    /// `aud` of tokens (and the audience the resource side accepts).
    pub audience: String,
    /// Lifetime in seconds.
    pub ttl: u32,
    /// Algorithm of signing keys: a current key of another algorithm is rotated at start. `None`
    /// keeps the current key's algorithm, and makes a first key [`SigningAlg::DEFAULT`].
    pub signing_alg: Option<SigningAlg>,
    /// Whether a repeated token request (same secret, same scopes) gets the token answered earlier
    /// while at least half of its lifetime remains, instead of a new one.
    pub reuse: bool,
    /// What new tokens look like. Tokens of either format are accepted whatever it is.
    pub format: TokenFormat,
}

/// The format of new access tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenFormat {
    /// A signed JWT (RFC 9068 profile) that resource servers can verify offline against the JWKS.
    #[default]
    Jwt,
    /// Authenticated-encrypted claims (AES-256-GCM, see [`crate::keys::opaque`]): only tollgate
    /// reads them (its own API, the gateway, `/auth/verify`, introspection, revocation).
    Opaque,
}

/// A token just issued.
#[derive(Debug)]
pub struct IssuedToken {
    /// The JWT.
    pub access_token: String,
    /// Seconds left: the lifetime, or less for a reused token.
    pub expires_in: u32,
    /// Scopes granted.
    pub scope: ScopeSet,
    /// The same, space-delimited, exactly as in the token's `scope` claim (for the response body).
    pub scope_text: String,
    /// Whether this is a token answered before (see [`TokenSettings::reuse`]).
    pub reused: bool,
    /// The company's override of the token quota (`None`: the server's default).
    pub quota_override: Option<u32>,
}

/// Why client authentication failed. Clients only ever see `invalid_client`; the reason is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthFailure {
    /// No such client ID (or deleted).
    UnknownClient,
    /// The secret does not match a live secret.
    WrongSecret,
    /// The credential's company is gone.
    NoCompany,
    /// The secret matched, but the credential has expired.
    Expired,
    /// The secret matched, but the request comes from outside the credential's IP allowlist.
    AddressNotAllowed,
}

impl ClientAuthFailure {
    /// Why, for the log.
    pub fn reason(self) -> &'static str {
        match self {
            Self::UnknownClient => "unknown client",
            Self::WrongSecret => "wrong secret",
            Self::NoCompany => "company missing",
            Self::Expired => "credential expired",
            Self::AddressNotAllowed => "address not in the credential's allowlist",
        }
    }

    /// What the client is told beyond `invalid_client`: only once its secret matched (so only the
    /// secret's holder learns it), and never which addresses are allowed.
    pub fn description(self) -> Option<&'static str> {
        match self {
            Self::Expired => Some("client authentication failed: the credential has expired"),
            Self::AddressNotAllowed => Some(
                "client authentication failed: the credential may not be used from this address",
            ),
            Self::UnknownClient | Self::WrongSecret | Self::NoCompany => None,
        }
    }
}

/// Why no token was issued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// Client authentication failed.
    #[error("client authentication failed")]
    InvalidClient(ClientAuthFailure),
    /// Asked for scopes the credential does not hold.
    #[error("the credential does not hold the requested scope(s): {0}")]
    InvalidScope(ScopeSet),
    /// Asked for a resource (RFC 8707) the credential may not use.
    #[error("the credential may not ask for the resource {0}")]
    InvalidTarget(crate::audience::Resource),
    /// Random generation failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// Claims could not be encoded.
    #[error("could not encode claims")]
    Encode,
    /// Signing failed.
    #[error(transparent)]
    Sign(#[from] KeyError),
}

/// Why a bearer token is refused (RFC 6750 `invalid_token`). The `Display` text is the
/// `error_description` clients see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenRejection {
    /// Not a JWT we can read.
    #[error("the access token is malformed")]
    Malformed,
    /// Header `alg`/`typ` not accepted, unknown key or bad signature.
    #[error("the access token is invalid")]
    Invalid,
    /// Past `exp`.
    #[error("the access token has expired")]
    Expired,
    /// Its credential was deleted, or the secret that obtained it was rotated away.
    #[error("the access token has been revoked")]
    Revoked,
    /// Its `aud` does not name the resource it is presented to (RFC 8707), or names a resource
    /// its company or credential no longer lists.
    #[error("the access token is not meant for this resource")]
    WrongAudience,
}

/// The claims of a tollgate access token (RFC 9068 profile plus `company_id` and `tg_sid`, the id of
/// the secret that obtained it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Subject: the client ID.
    pub sub: String,
    /// Audience: one or several.
    pub aud: Audiences,
    /// Issued at.
    pub iat: i64,
    /// Not before (tollgate does not set it; a token that has one is held to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Expires at.
    pub exp: i64,
    /// Token id.
    pub jti: String,
    /// Client ID.
    pub client_id: String,
    /// Space-delimited scopes.
    pub scope: String,
    /// Company.
    pub company_id: String,
    /// Id of the secret that obtained the token.
    pub tg_sid: String,
}

/// `aud`: one string, or an array of several (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audiences(pub Vec<String>);

impl Serialize for Audiences {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => s.serialize_str(one),
            many => many.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Audiences {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        Ok(Self(match OneOrMany::deserialize(d)? {
            OneOrMany::One(a) => vec![a],
            OneOrMany::Many(v) => v,
        }))
    }
}

/// `aud` of a token being issued: the default audience, or the resources asked for.
#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum AudOut<'a> {
    One(&'a str),
    Many(Vec<&'a str>),
}

impl<'a> AudOut<'a> {
    pub(super) fn of(resources: &'a crate::audience::Resources, default: &'a str) -> Self {
        let mut v: Vec<&str> = resources.iter().map(|r| r.as_str()).collect();
        match v.len() {
            0 => Self::One(default),
            1 => Self::One(v.remove(0)),
            _ => Self::Many(v),
        }
    }
}

#[derive(Serialize)]
pub(super) struct ClaimsOut<'a> {
    pub(super) iss: &'a str,
    pub(super) sub: &'a str,
    pub(super) aud: AudOut<'a>,
    pub(super) iat: i64,
    pub(super) exp: i64,
    pub(super) jti: &'a str,
    pub(super) client_id: &'a str,
    pub(super) scope: &'a str,
    pub(super) company_id: &'a CompanyId,
    pub(super) tg_sid: &'a str,
}

/// What RFC 7662 introspection says of an active token.
#[derive(Debug, Clone, Serialize)]
pub struct Introspection {
    /// Always true (inactive tokens are `None`).
    pub active: bool,
    /// Scopes in force now (space-delimited).
    pub scope: String,
    /// Client ID.
    pub client_id: String,
    /// Subject (the client ID).
    pub sub: String,
    /// `Bearer`.
    pub token_type: &'static str,
    /// Expiry.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Issuer.
    pub iss: String,
    /// Audience: one or several.
    pub aud: Audiences,
    /// Token id.
    pub jti: String,
    /// Company.
    pub company_id: String,
}

/// A token a client may revoke (RFC 7009).
#[derive(Debug, Clone)]
pub struct RevocationTarget {
    /// Token id.
    pub jti: String,
    /// Owner.
    pub client_id: ClientId,
    /// When the token expires (the revocation is kept until then).
    pub exp: i64,
}

/// Starting the authority failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthorityError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Keys are unusable.
    #[error(transparent)]
    Key(#[from] KeyError),
}
