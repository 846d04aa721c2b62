//! The hot path: issuing tokens for client credentials and authorizing bearer tokens.
//!
//! Neither path touches the database: credentials come from the [`Directory`], the signing key is
//! parsed once, and verified tokens are cached (by the full token text) until they expire. Expiry,
//! credential deletion, secret rotation and scope narrowing are still checked on every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};
use tollgate_proto::ScopeSet;

use crate::clock::{Clock, UnixTime};
use crate::directory::{CompanyEntry, CredentialEntry, Directory, SyncOutcome};
use crate::ids::{ClientId, CompanyId};
use crate::keys::{KeyError, KeyRing};
use crate::random::{self, RandomError};
use crate::secret::SecretHasher;
use crate::store::{Store, StoreError};

/// Token settings.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// `iss` of tokens.
    pub issuer: String,
    /// `aud` of tokens (and the audience the resource side accepts).
    pub audience: String,
    /// Lifetime in seconds.
    pub ttl: u32,
}

/// A token just issued.
#[derive(Debug)]
pub struct IssuedToken {
    /// The JWT.
    pub access_token: String,
    /// Lifetime in seconds.
    pub expires_in: u32,
    /// Scopes granted.
    pub scope: ScopeSet,
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
    /// Random generation failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// Claims could not be encoded.
    #[error("could not encode claims")]
    Encode,
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
}

/// The claims of a tollgate access token (RFC 9068 profile plus `company_id` and `tg_sid`, the id of
/// the secret that obtained it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Subject: the client ID.
    pub sub: String,
    /// Audience.
    pub aud: String,
    /// Issued at.
    pub iat: i64,
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

#[derive(Serialize)]
struct ClaimsOut<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: &'a str,
    client_id: &'a str,
    scope: &'a str,
    company_id: &'a CompanyId,
    tg_sid: &'a str,
}

/// A token whose signature has been checked; cached until it expires.
#[derive(Debug)]
struct VerifiedToken {
    client_id: Box<str>,
    company_id: CompanyId,
    secret_id: Box<str>,
    scopes: ScopeSet,
    exp: i64,
}

/// An authorized request: who calls, for which company, with which scopes.
#[derive(Debug, Clone)]
pub struct Access {
    token: Arc<VerifiedToken>,
    credential: Arc<CredentialEntry>,
    company: Arc<CompanyEntry>,
}

impl Access {
    /// The caller's client ID.
    pub fn client_id(&self) -> &ClientId {
        &self.credential.client_id
    }

    /// The caller's company.
    pub fn company_id(&self) -> CompanyId {
        self.token.company_id
    }

    /// Whether `scope` is granted: it is in the token, still in the credential, and still within the
    /// company's ceiling.
    pub fn allows(&self, scope: &str) -> bool {
        self.token.scopes.contains_str(scope)
            && self.credential.scopes.contains_str(scope)
            && self.company.scopes.contains_str(scope)
    }

    /// The scopes in force now.
    pub fn effective_scopes(&self) -> ScopeSet {
        self.token
            .scopes
            .intersection(&self.credential.scopes)
            .intersection(&self.company.scopes)
    }
}

/// Issues and authorizes tokens.
pub struct Authority {
    directory: Directory,
    keys: RwLock<Arc<KeyRing>>,
    hasher: SecretHasher,
    clock: Arc<dyn Clock>,
    settings: TokenSettings,
    validation: jsonwebtoken::Validation,
    verified: quick_cache::sync::Cache<Box<str>, Arc<VerifiedToken>>,
    last_used: Mutex<HashMap<ClientId, UnixTime>>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("settings", &self.settings)
            .field("credentials", &self.directory.credential_count())
            .finish_non_exhaustive()
    }
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

/// How many verified tokens are kept.
const VERIFIED_CACHE: usize = 200_000;

impl Authority {
    /// Loads keys (creating the first one if the store has none) and every credential.
    pub async fn load(
        store: &dyn Store,
        hasher: SecretHasher,
        clock: Arc<dyn Clock>,
        settings: TokenSettings,
    ) -> Result<Self, AuthorityError> {
        let ring = load_key_ring(store, clock.now()).await?;
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        // Expiry is checked against the injected clock, exactly (see `authorize`).
        validation.validate_exp = false;
        validation.leeway = 0;
        validation.required_spec_claims = ["exp", "iss", "aud", "sub"]
            .into_iter()
            .map(String::from)
            .collect();
        let authority = Self {
            directory: Directory::new(),
            keys: RwLock::new(Arc::new(ring)),
            hasher,
            clock,
            settings,
            validation,
            verified: quick_cache::sync::Cache::new(VERIFIED_CACHE),
            last_used: Mutex::new(HashMap::new()),
        };
        authority.directory.sync(store).await?;
        Ok(authority)
    }

    /// Applies the store's change feed; reloads keys if they changed.
    pub async fn sync(&self, store: &dyn Store) -> Result<SyncOutcome, AuthorityError> {
        let out = self.directory.sync(store).await?;
        if out.keys_changed {
            let ring = load_key_ring(store, self.clock.now()).await?;
            if let Ok(mut k) = self.keys.write() {
                *k = Arc::new(ring);
            }
            self.verified.clear();
        }
        Ok(out)
    }

    /// The directory (for readiness and metrics).
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// The key ring in force.
    pub fn keys(&self) -> Arc<KeyRing> {
        match self.keys.read() {
            Ok(k) => Arc::clone(&k),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// The token settings.
    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// Client credentials grant: authenticates `client_id`/`secret` and issues a token for
    /// `requested` scopes (default: all the credential holds within its company's ceiling).
    pub fn issue(
        &self,
        client_id: &str,
        secret: &str,
        requested: Option<&ScopeSet>,
    ) -> Result<IssuedToken, IssueError> {
        let now = self.clock.now();
        let cred = self
            .directory
            .credential(client_id)
            .ok_or(IssueError::InvalidClient(ClientAuthFailure::UnknownClient))?;
        let computed = self.hasher.hash(secret);
        let secret_rec = cred
            .secrets
            .iter()
            .find(|s| s.is_live(now) && self.hasher.matches(&computed, &s.hash))
            .ok_or(IssueError::InvalidClient(ClientAuthFailure::WrongSecret))?;
        let company = self
            .directory
            .company(&cred.company_id)
            .ok_or(IssueError::InvalidClient(ClientAuthFailure::NoCompany))?;
        let effective = cred.scopes.intersection(&company.scopes);
        let granted = match requested {
            Some(req) => {
                let missing = req.difference(&effective);
                if !missing.is_empty() {
                    return Err(IssueError::InvalidScope(missing));
                }
                req.clone()
            }
            None => effective,
        };
        let scope = granted.to_string();
        let jti = random::hex(&random::bytes::<16>()?);
        let ttl = self.settings.ttl;
        let claims = ClaimsOut {
            iss: &self.settings.issuer,
            sub: cred.client_id.as_str(),
            aud: &self.settings.audience,
            iat: now,
            exp: now + i64::from(ttl),
            jti: &jti,
            client_id: cred.client_id.as_str(),
            scope: &scope,
            company_id: &cred.company_id,
            tg_sid: secret_rec.id.as_str(),
        };
        let json = serde_json::to_vec(&claims).map_err(|_| IssueError::Encode)?;
        let access_token = self.keys().current().sign_jwt(&json);
        self.note_used(&cred.client_id, now);
        Ok(IssuedToken {
            access_token,
            expires_in: ttl,
            scope: granted,
        })
    }

    fn note_used(&self, id: &ClientId, now: UnixTime) {
        if let Ok(mut m) = self.last_used.lock() {
            match m.get_mut(id.as_str()) {
                Some(t) => *t = now,
                None => {
                    m.insert(id.clone(), now);
                }
            }
        }
    }

    /// Takes the last-used times noted since the previous call (the server writes them in batches).
    pub fn take_last_used(&self) -> Vec<(ClientId, UnixTime)> {
        match self.last_used.lock() {
            Ok(mut m) => m.drain().collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Authorizes a bearer token: signature (cached), expiry, and that its credential and secret
    /// are still live.
    pub fn authorize(&self, token: &str) -> Result<Access, TokenRejection> {
        let now = self.clock.now();
        let verified = match self.verified.get(token) {
            Some(v) => v,
            None => {
                let v = Arc::new(self.verify_signature(token)?);
                if v.exp > now {
                    self.verified.insert(token.into(), Arc::clone(&v));
                }
                v
            }
        };
        if now >= verified.exp {
            return Err(TokenRejection::Expired);
        }
        let credential = self
            .directory
            .credential(&verified.client_id)
            .ok_or(TokenRejection::Revoked)?;
        if credential.company_id != verified.company_id {
            return Err(TokenRejection::Revoked);
        }
        let secret_live = credential
            .secrets
            .iter()
            .any(|s| *s.id.as_str() == *verified.secret_id && s.is_live(now));
        if !secret_live {
            return Err(TokenRejection::Revoked);
        }
        let company = self
            .directory
            .company(&verified.company_id)
            .ok_or(TokenRejection::Revoked)?;
        Ok(Access {
            token: verified,
            credential,
            company,
        })
    }

    fn verify_signature(&self, token: &str) -> Result<VerifiedToken, TokenRejection> {
        if token.len() > 8 * 1024 {
            return Err(TokenRejection::Malformed);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenRejection::Malformed)?;
        if header.alg != jsonwebtoken::Algorithm::EdDSA || header.typ.as_deref() != Some("at+jwt") {
            return Err(TokenRejection::Invalid);
        }
        let kid = header.kid.ok_or(TokenRejection::Invalid)?;
        let ring = self.keys();
        let key = ring.verifier(&kid).ok_or(TokenRejection::Invalid)?;
        let data =
            jsonwebtoken::decode::<AccessClaims>(token, key, &self.validation).map_err(|e| {
                use jsonwebtoken::errors::ErrorKind as K;
                match e.kind() {
                    K::InvalidToken | K::Base64(_) | K::Json(_) | K::Utf8(_) => {
                        TokenRejection::Malformed
                    }
                    _ => TokenRejection::Invalid,
                }
            })?;
        let c = data.claims;
        let company_id = CompanyId::parse(&c.company_id).map_err(|_| TokenRejection::Invalid)?;
        let scopes = ScopeSet::parse_list(&c.scope).map_err(|_| TokenRejection::Invalid)?;
        if c.sub != c.client_id {
            return Err(TokenRejection::Invalid);
        }
        Ok(VerifiedToken {
            client_id: c.client_id.into(),
            company_id,
            secret_id: c.tg_sid.into(),
            scopes,
            exp: c.exp,
        })
    }
}

async fn load_key_ring(store: &dyn Store, now: UnixTime) -> Result<KeyRing, AuthorityError> {
    let mut records = store.signing_keys().await?;
    if !records.iter().any(|r| r.retired_at.is_none()) {
        let k = crate::keys::generate_ed25519(now)?;
        store.insert_signing_key(&k).await?;
        records = store.signing_keys().await?;
    }
    Ok(KeyRing::from_records(&records)?)
}
