//! What tollgate stores.

use tollgate_proto::{ScopeSet, SigningAlg};
use zeroize::Zeroizing;

use crate::allowlist::IpAllowlist;
use crate::audience::Resources;
use crate::clock::UnixTime;
use crate::ids::{ClientId, CompanyId, SecretId};
use crate::secret::SecretHash;

/// Default number of credentials a company may hold (the reference's limit).
pub const DEFAULT_MAX_CREDENTIALS: u32 = 10;

/// A company (tenant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Company {
    /// Id.
    pub id: CompanyId,
    /// Display name.
    pub name: String,
    /// The scope ceiling: no credential of the company holds a scope outside it.
    pub scopes: ScopeSet,
    /// How many credentials the company may hold.
    pub max_credentials: u32,
    /// New tokens per credential per hour: `None` follows the server's default, `Some(0)` is no
    /// quota.
    pub token_quota_per_hour: Option<u32>,
    /// The resources (RFC 8707 audiences) beyond the server's default audience that its
    /// credentials may ask tokens for; set by the operator.
    pub resources: Resources,
    /// Creation time.
    pub created_at: UnixTime,
    /// Last change.
    pub updated_at: UnixTime,
}

/// One secret of a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSecret {
    /// Which secret (tokens carry it).
    pub id: SecretId,
    /// HMAC of the secret.
    pub hash: SecretHash,
    /// When it was created.
    pub created_at: UnixTime,
    /// When it stops working (set on rotation with a grace period); `None`: until rotated.
    pub expires_at: Option<UnixTime>,
}

impl StoredSecret {
    /// Whether the secret still works at `now`.
    pub fn is_live(&self, now: UnixTime) -> bool {
        self.expires_at.is_none_or(|t| now < t)
    }
}

/// An API credential: client ID, label, scopes and its secret(s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// Client ID.
    pub client_id: ClientId,
    /// Owning company.
    pub company_id: CompanyId,
    /// Label, e.g. "HR Integration - Payroll System".
    pub label: String,
    /// Scopes granted (the effective scopes are these within the company's ceiling).
    pub scopes: ScopeSet,
    /// The live secrets: one, or two during a rotation's grace period.
    pub secrets: Vec<StoredSecret>,
    /// Creation time.
    pub created_at: UnixTime,
    /// Last change.
    pub updated_at: UnixTime,
    /// Last time a token was issued for it (recorded in batches).
    pub last_used_at: Option<UnixTime>,
    /// When and from where it may be used.
    pub access: CredentialAccess,
}

/// When and from where a credential may obtain tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredentialAccess {
    /// From this time on the credential is refused (`invalid_client`), and so are its tokens; a
    /// token it obtains before never outlives it. `None`: no expiry.
    pub expires_at: Option<UnixTime>,
    /// The networks a token request may come from (empty: any).
    pub allowed_ips: IpAllowlist,
    /// Which of its company's resources it may ask tokens for: `None`, all of them; the server's
    /// default audience is always allowed.
    pub resources: Option<Resources>,
}

impl CredentialAccess {
    /// Whether the credential has expired at `now`.
    pub fn expired(&self, now: UnixTime) -> bool {
        self.expires_at.is_some_and(|t| now >= t)
    }
}

/// Which kind of row a change-feed entry is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// A company (key: company id).
    Company,
    /// A credential or its secrets (key: client id).
    Credential,
    /// A signing key (key: kid).
    SigningKey,
    /// A revoked token (key: jti).
    Revocation,
    /// A kind written by an API beside tollgate (the example API's `groups`), by its name: the
    /// directory hands it to whoever follows that name ([`crate::directory::FeedListener`]).
    Other(Box<str>),
}

/// One entry of the store's change feed: something about `key` changed at `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Monotonic sequence number.
    pub seq: i64,
    /// What changed.
    pub kind: ChangeKind,
    /// Its key.
    pub key: String,
}

/// A token signing key as stored.
#[derive(Clone)]
pub struct SigningKeyRecord {
    /// Key id (RFC 7638 thumbprint).
    pub kid: String,
    /// JOSE algorithm, e.g. `EdDSA`.
    pub alg: SigningAlg,
    /// Private key, PKCS#8 DER.
    pub private_pkcs8: Zeroizing<Vec<u8>>,
    /// Public key bytes.
    pub public: Vec<u8>,
    /// Creation time.
    pub created_at: UnixTime,
    /// When the key stopped being the current one (`None`: it may be current).
    pub retired_at: Option<UnixTime>,
    /// Until when a retired key stays published (and its tokens verify).
    pub publish_until: Option<UnixTime>,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}
