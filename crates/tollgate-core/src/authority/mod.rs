//! The hot path: issuing tokens for client credentials and authorizing bearer tokens.
//!
//! Neither path touches the database: credentials come from the [`Directory`], the signing key is
//! parsed once, and verified tokens are cached (by the full token text) until they expire. Expiry,
//! credential deletion, secret rotation and scope narrowing are still checked on every request.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use tollgate_proto::{ScopeSet, SigningAlg};

use crate::audience::Resources;
use crate::clock::{Clock, UnixTime};
use crate::directory::{CompanyEntry, CredentialEntry, Directory, SyncOutcome};
use crate::ids::{ClientId, CompanyId};
use crate::keys::KeyRing;
use crate::random;
use crate::secret::{ClientSecret, SecretHasher};
use crate::store::Store;

mod catch_up;
mod reuse;
mod types;

pub use catch_up::CATCH_UP_SPACING;
pub use types::{
    AccessClaims, Audiences, AuthorityError, ClientAuthFailure, Introspection, IssueError,
    IssuedToken, RevocationTarget, TokenFormat, TokenRejection, TokenSettings,
};
use types::{AudOut, ClaimsOut};

/// A token whose signature has been checked; cached until it expires.
#[derive(Debug)]
struct VerifiedToken {
    client_id: Box<str>,
    company_id: CompanyId,
    secret_id: Box<str>,
    jti: Box<str>,
    scopes: ScopeSet,
    /// Whether `aud` names the server's default audience (every token without `resource`s does).
    for_default: bool,
    /// The other audiences `aud` names (resources of the company), in order.
    resources: Box<[Box<str>]>,
    iat: i64,
    /// The later of `iat` and `nbf`: before it (less [`MAX_CLOCK_SKEW_SECS`]) the token is refused.
    valid_from: i64,
    exp: i64,
}

impl VerifiedToken {
    /// `aud` as the token has it (the default audience first).
    fn audiences(&self, default: &str) -> Audiences {
        let mut v: Vec<String> = self.resources.iter().map(|r| r.to_string()).collect();
        if self.for_default {
            v.insert(0, default.to_owned());
        }
        Audiences(v)
    }
}

/// How far ahead of this node's clock a token's `iat` or `nbf` may lie (another node's clock).
pub const MAX_CLOCK_SKEW_SECS: i64 = 60;

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

    /// Whether the token is meant for `resource` (`None`: the server's default audience, which
    /// tollgate's own API and routes without an audience serve), and may still be: a resource the
    /// company or the credential no longer lists is refused at once, as narrowed scopes are.
    pub fn serves(&self, resource: Option<&str>) -> bool {
        match resource {
            None => self.token.for_default,
            Some(r) => {
                self.token.resources.iter().any(|a| **a == *r)
                    && self.company.resources.contains(r)
                    && self
                        .credential
                        .access
                        .resources
                        .as_ref()
                        .is_none_or(|l| l.contains(r))
            }
        }
    }

    /// The scopes in force now, in order, without copying them (the gateway writes them into a
    /// header on every request).
    pub fn scopes_in_force(&self) -> impl Iterator<Item = &tollgate_proto::Scope> + '_ {
        self.token.scopes.iter().filter(|s| {
            self.credential.scopes.contains_str(s.as_str())
                && self.company.scopes.contains_str(s.as_str())
        })
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
    directory: Arc<Directory>,
    keys: RwLock<Arc<KeyRing>>,
    hasher: SecretHasher,
    clock: Arc<dyn Clock>,
    settings: TokenSettings,
    validations: HashMap<jsonwebtoken::Algorithm, jsonwebtoken::Validation>,
    verified: quick_cache::sync::Cache<Box<str>, Arc<VerifiedToken>>,
    /// Tokens answered again to repeated requests (`None`: reuse is off).
    reuse: Option<reuse::ReuseCache>,
    /// Tokens, API calls, failures and 429s per credential; last uses per secret.
    usage: crate::usage::UsageLog,
    /// One sync at a time (the background loop and an explicit call): a ring computed at an older
    /// time can then never replace one computed later.
    /// Held by one sync at a time; it holds when the last catch-up sync started.
    syncing: tokio::sync::Mutex<catch_up::LastCatchUp>,
    /// Syncs started so far (a catch-up is due only if none started after its miss).
    syncs_started: std::sync::atomic::AtomicU64,
    /// Catch-up syncs run (for `/metrics`).
    catch_ups: std::sync::atomic::AtomicU64,
    /// Bearer tokens whose signature was checked, not found among the verified ones.
    signature_checks: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("settings", &self.settings)
            .field("credentials", &self.directory.credential_count())
            .finish_non_exhaustive()
    }
}

/// How many verified tokens are kept.
const VERIFIED_CACHE: usize = 200_000;

/// How many (secret, scopes) pairs keep a token for reuse.
const REUSE_CACHE: usize = 100_000;

impl Authority {
    /// Loads keys (creating the first one if the store has none) and every credential.
    pub async fn load(
        store: &dyn Store,
        hasher: SecretHasher,
        clock: Arc<dyn Clock>,
        settings: TokenSettings,
    ) -> Result<Self, AuthorityError> {
        // The directory first: it reads the change feed's position before anything else, so a key
        // rotated by another node while this one loads is replayed by the next sync. (Loaded the
        // other way round, such a rotation fell between the key ring and the position and this node
        // kept signing with a retired key.)
        let directory = Arc::new(Directory::new());
        directory.sync(store, clock.now()).await?;
        let ring = load_key_ring(store, clock.now(), Some(&settings)).await?;
        let validations = [
            jsonwebtoken::Algorithm::EdDSA,
            jsonwebtoken::Algorithm::ES256,
            jsonwebtoken::Algorithm::RS256,
        ]
        .into_iter()
        .map(|alg| {
            let mut v = jsonwebtoken::Validation::new(alg);
            v.set_issuer(&[&settings.issuer]);
            // `aud` is the resource side's to check (`Access::serves`): a token may be meant for
            // one of the company's resources rather than the default audience.
            v.validate_aud = false;
            // Expiry is checked against the injected clock, exactly (see `authorize`).
            v.validate_exp = false;
            v.leeway = 0;
            v.required_spec_claims = ["exp", "iss", "aud", "sub"]
                .into_iter()
                .map(String::from)
                .collect();
            (alg, v)
        })
        .collect();
        let reuse = settings.reuse.then(|| reuse::ReuseCache::new(REUSE_CACHE));
        Ok(Self {
            directory,
            keys: RwLock::new(Arc::new(ring)),
            hasher,
            clock,
            settings,
            validations,
            verified: quick_cache::sync::Cache::new(VERIFIED_CACHE),
            reuse,
            usage: crate::usage::UsageLog::default(),
            syncing: tokio::sync::Mutex::new(catch_up::LastCatchUp::default()),
            syncs_started: std::sync::atomic::AtomicU64::new(0),
            catch_ups: std::sync::atomic::AtomicU64::new(0),
            signature_checks: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Applies the store's change feed; reloads keys if they changed.
    pub async fn sync(&self, store: &dyn Store) -> Result<SyncOutcome, AuthorityError> {
        let _one_at_a_time = self.syncing.lock().await;
        self.sync_locked(store).await
    }

    /// [`Authority::sync`], the caller holding `syncing`.
    async fn sync_locked(&self, store: &dyn Store) -> Result<SyncOutcome, AuthorityError> {
        self.syncs_started
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let now = self.clock.now();
        let out = self.directory.sync(store, now).await?;
        let ring_expired = self.keys().next_change().is_some_and(|t| t <= now);
        if out.keys_changed || ring_expired {
            let ring = load_key_ring(store, now, None).await?;
            if let Ok(mut k) = self.keys.write() {
                *k = Arc::new(ring);
            }
            self.verified.clear();
            if let Some(reuse) = &self.reuse {
                reuse.clear();
            }
        }
        Ok(out)
    }

    /// The directory (for readiness and metrics).
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// The directory, shared (an API beside tollgate follows the change feed through it).
    pub fn shared_directory(&self) -> Arc<Directory> {
        Arc::clone(&self.directory)
    }

    /// The key ring in force.
    pub fn keys(&self) -> Arc<KeyRing> {
        match self.keys.read() {
            Ok(k) => Arc::clone(&k),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Now, by the authority's clock.
    pub fn now(&self) -> UnixTime {
        self.clock.now()
    }

    /// The authority's clock, shared (the server's background tasks read it).
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.clock)
    }

    /// The token settings.
    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// [`Authority::issue_from`] an address not known: a credential with an IP allowlist refuses
    /// it.
    pub fn issue(
        &self,
        client_id: &ClientId,
        secret: &ClientSecret,
        requested: Option<&ScopeSet>,
    ) -> Result<IssuedToken, IssueError> {
        self.issue_from(client_id, secret, requested, &Resources::default(), None)
    }

    /// Client credentials grant: authenticates `client_id`/`secret` from the client address
    /// `from` and issues a token for `requested` scopes (default: all the credential holds within
    /// its company's ceiling), meant for the `resources` asked for (RFC 8707; none: the server's
    /// default audience). The token expires after the lifetime, or when the credential does if
    /// that comes first.
    pub fn issue_from(
        &self,
        client_id: &ClientId,
        secret: &ClientSecret,
        requested: Option<&ScopeSet>,
        resources: &Resources,
        from: Option<IpAddr>,
    ) -> Result<IssuedToken, IssueError> {
        let now = self.clock.now();
        let (cred, secret_idx, company) = self
            .authenticate_at(client_id, secret, from, now)
            .map_err(IssueError::InvalidClient)?;
        let secret_rec = &cred.secrets[secret_idx];
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
        // The default audience is every credential's; another must be the company's, and the
        // credential's if it lists some.
        let allowed = |r: &str| {
            r == self.settings.audience
                || company.resources.contains(r)
                    && cred.access.resources.as_ref().is_none_or(|l| l.contains(r))
        };
        if let Some(r) = resources.iter().find(|r| !allowed(r.as_str())) {
            return Err(IssueError::InvalidTarget(r.clone()));
        }
        let aud_text = resources.to_string();
        let scope = granted.to_string();
        let ring = self.keys();
        let key = ring.current();
        let origin = reuse::Origin {
            secret_id: secret_rec.id.as_str(),
            scope_text: &scope,
            aud_text: &aud_text,
            kid: key.kid(),
            credential: &cred,
            company: &company,
        };
        if let Some(reuse) = &self.reuse
            && let Some(r) = reuse.get(&origin, now, |jti| self.directory.is_revoked(jti))
        {
            self.usage
                .token_issued(&cred.client_id, &secret_rec.id, now, from);
            return Ok(IssuedToken {
                access_token: r.access_token.to_string(),
                // Whole seconds left, never more than the lifetime (`get` checked `now >= iat`).
                expires_in: u32::try_from(r.exp - now).unwrap_or(self.settings.ttl),
                scope: granted,
                scope_text: scope,
                reused: true,
                quota_override: company.token_quota_per_hour,
            });
        }
        let jti = random::hex(&random::bytes::<16>()?);
        // A token never outlives its credential (which has not expired: `authenticate_at`).
        let exp = cred
            .access
            .expires_at
            .map_or(now + i64::from(self.settings.ttl), |t| {
                t.min(now + i64::from(self.settings.ttl))
            });
        let ttl = u32::try_from(exp - now).unwrap_or(self.settings.ttl);
        let claims = ClaimsOut {
            iss: &self.settings.issuer,
            sub: cred.client_id.as_str(),
            aud: AudOut::of(resources, &self.settings.audience),
            iat: now,
            exp,
            jti: &jti,
            client_id: cred.client_id.as_str(),
            scope: &scope,
            company_id: &cred.company_id,
            tg_sid: secret_rec.id.as_str(),
        };
        let json = serde_json::to_vec(&claims).map_err(|_| IssueError::Encode)?;
        let access_token = match self.settings.format {
            TokenFormat::Jwt => key.sign_jwt(&json)?,
            TokenFormat::Opaque => key.seal_opaque(&json)?,
        };
        if let Some(reuse) = &self.reuse {
            reuse.put(&origin, &access_token, &jti, now, exp);
        }
        self.usage
            .token_issued(&cred.client_id, &secret_rec.id, now, from);
        Ok(IssuedToken {
            access_token,
            expires_in: ttl,
            scope: granted,
            scope_text: scope,
            reused: false,
            quota_override: company.token_quota_per_hour,
        })
    }

    /// Authenticates a client by its secret, from the address `from`: the credential, which of its
    /// secrets matched, and its company. Expiry and the IP allowlist are checked once the secret
    /// matched.
    fn authenticate_at(
        &self,
        client_id: &ClientId,
        secret: &ClientSecret,
        from: Option<IpAddr>,
        now: UnixTime,
    ) -> Result<(Arc<CredentialEntry>, usize, Arc<CompanyEntry>), ClientAuthFailure> {
        let cred = self
            .directory
            .credential(client_id.as_str())
            .ok_or(ClientAuthFailure::UnknownClient)?;
        let computed = self.hasher.hash_secret(secret);
        let idx = cred
            .secrets
            .iter()
            .position(|s| s.is_live(now) && self.hasher.matches(&computed, &s.hash))
            .ok_or(ClientAuthFailure::WrongSecret)?;
        if cred.access.expired(now) {
            return Err(ClientAuthFailure::Expired);
        }
        if !cred.access.allowed_ips.permits(from) {
            return Err(ClientAuthFailure::AddressNotAllowed);
        }
        let company = self
            .directory
            .company(&cred.company_id)
            .ok_or(ClientAuthFailure::NoCompany)?;
        Ok((cred, idx, company))
    }

    /// Authenticates a client from the address `from` (for introspection and revocation): its
    /// client ID and company.
    pub fn authenticate(
        &self,
        client_id: &ClientId,
        secret: &ClientSecret,
        from: Option<IpAddr>,
    ) -> Result<(ClientId, CompanyId), ClientAuthFailure> {
        let (cred, _, company) = self.authenticate_at(client_id, secret, from, self.clock.now())?;
        Ok((cred.client_id.clone(), company.id))
    }

    /// RFC 7662: what an active token of `caller_company` says; `None` (inactive) for anything else:
    /// expired, revoked, unknown, malformed, of a deleted credential, or of another company.
    pub fn introspect(&self, token: &str, caller_company: &CompanyId) -> Option<Introspection> {
        let access = self.authorize(token).ok()?;
        if access.company_id() != *caller_company {
            return None;
        }
        let t = &access.token;
        Some(Introspection {
            active: true,
            scope: access.effective_scopes().to_string(),
            client_id: t.client_id.to_string(),
            sub: t.client_id.to_string(),
            token_type: "Bearer",
            exp: t.exp,
            iat: t.iat,
            iss: self.settings.issuer.clone(),
            aud: t.audiences(&self.settings.audience),
            jti: t.jti.to_string(),
            company_id: t.company_id.to_string(),
        })
    }

    /// RFC 7009: the token to revoke, if it is a live token of ours (signature checked, not expired).
    pub fn revocation_target(&self, token: &str) -> Option<RevocationTarget> {
        let now = self.clock.now();
        let v = self.verified(token, now).ok()?;
        if now >= v.exp {
            return None;
        }
        Some(RevocationTarget {
            jti: v.jti.to_string(),
            client_id: ClientId::parse(&v.client_id).ok()?,
            exp: v.exp,
        })
    }

    /// Marks a token revoked on this node at once (the store's change feed tells the others).
    pub fn note_revoked(&self, target: &RevocationTarget) {
        self.directory.note_revoked(&target.jti, target.exp);
    }

    /// What credentials did (tokens, API calls, failures, 429s), counted on this node.
    pub fn usage(&self) -> &crate::usage::UsageLog {
        &self.usage
    }

    /// Takes the usage counted since the previous call (the server writes it in batches).
    pub fn take_usage(&self) -> crate::usage::UsageBatch {
        self.usage.take(self.clock.now())
    }

    /// Takes the last-used times noted since the previous call ([`Authority::take_usage`]'s, alone).
    pub fn take_last_used(&self) -> Vec<(ClientId, UnixTime)> {
        self.take_usage().last_used
    }

    /// Authorizes a bearer token: signature (cached), expiry, and that its credential and secret
    /// are still live.
    pub fn authorize(&self, token: &str) -> Result<Access, TokenRejection> {
        self.authorize_here(token).map_err(|r| r.why)
    }

    /// [`Authority::authorize`], saying whether a refusal names what this node does not know (a
    /// credential, secret or company): a change on another node that the feed has not brought yet.
    fn authorize_here(&self, token: &str) -> Result<Access, catch_up::Refusal> {
        use catch_up::Refusal;
        let now = self.clock.now();
        let verified = self.verified(token, now)?;
        if now >= verified.exp {
            return Err(TokenRejection::Expired.into());
        }
        if verified.valid_from > now + MAX_CLOCK_SKEW_SECS {
            return Err(TokenRejection::Invalid.into());
        }
        if self.directory.is_revoked(&verified.jti) {
            return Err(TokenRejection::Revoked.into());
        }
        let credential = self
            .directory
            .credential(&verified.client_id)
            .ok_or(Refusal::UNKNOWN_HERE)?;
        if credential.company_id != verified.company_id {
            return Err(TokenRejection::Revoked.into());
        }
        // Tokens end with their credential (set to expire after they were issued, too).
        if credential.access.expired(now) {
            return Err(TokenRejection::Expired.into());
        }
        let secret = credential
            .secrets
            .iter()
            .find(|s| *s.id.as_str() == *verified.secret_id)
            .ok_or(Refusal::UNKNOWN_HERE)?;
        if !secret.is_live(now) {
            return Err(TokenRejection::Revoked.into());
        }
        let company = self
            .directory
            .company(&verified.company_id)
            .ok_or(Refusal::UNKNOWN_HERE)?;
        Ok(Access {
            token: verified,
            credential,
            company,
        })
    }

    /// The token's verified claims: from the cache, or checked once and cached until `exp`.
    fn verified(&self, token: &str, now: UnixTime) -> Result<Arc<VerifiedToken>, TokenRejection> {
        if let Some(v) = self.verified.get(token) {
            return Ok(v);
        }
        self.signature_checks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let v = Arc::new(self.verify_signature(token)?);
        if v.exp > now {
            self.verified.insert(token.into(), Arc::clone(&v));
        }
        Ok(v)
    }

    /// Bearer tokens presented to [`Authority::authorize`] whose signature was checked because
    /// they were not among the verified ones (the cache's misses).
    pub fn signature_checks(&self) -> u64 {
        self.signature_checks
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Checks a token's signature and claims without the cache: what a token's first request
    /// costs (the micro-benchmark measures it). [`Authority::authorize`] is the entry point.
    pub fn verify_uncached(&self, token: &str) -> Result<(), TokenRejection> {
        self.verify_signature(token).map(|_| ())
    }

    fn verify_signature(&self, token: &str) -> Result<VerifiedToken, TokenRejection> {
        if token.len() > 8 * 1024 {
            return Err(TokenRejection::Malformed);
        }
        let claims = if crate::keys::opaque::is_opaque(token) {
            self.open_opaque(token)?
        } else {
            self.verify_jwt(token)?
        };
        verified_from(claims, &self.settings.audience)
    }

    /// The claims of a JWT whose header, signature, issuer and audience are ours.
    fn verify_jwt(&self, token: &str) -> Result<AccessClaims, TokenRejection> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenRejection::Malformed)?;
        if header.typ.as_deref() != Some("at+jwt") {
            return Err(TokenRejection::Invalid);
        }
        let kid = header.kid.ok_or(TokenRejection::Invalid)?;
        let ring = self.keys();
        // The key decides the algorithm: a header naming another one is refused.
        let key = ring
            .verifier(&kid, header.alg)
            .ok_or(TokenRejection::Invalid)?;
        let validation = self
            .validations
            .get(&header.alg)
            .ok_or(TokenRejection::Invalid)?;
        let data = jsonwebtoken::decode::<AccessClaims>(token, key, validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::InvalidToken | K::Base64(_) | K::Json(_) | K::Utf8(_) => {
                    TokenRejection::Malformed
                }
                _ => TokenRejection::Invalid,
            }
        })?;
        Ok(data.claims)
    }

    /// The claims of an opaque token sealed under a published key, for our issuer and audience.
    fn open_opaque(&self, token: &str) -> Result<AccessClaims, TokenRejection> {
        use crate::keys::opaque::OpenError;
        let json = self.keys().open_opaque(token).map_err(|e| match e {
            OpenError::Malformed => TokenRejection::Malformed,
            OpenError::Invalid => TokenRejection::Invalid,
        })?;
        // Sealed by us, so well formed; still read strictly.
        let c: AccessClaims = serde_json::from_slice(&json).map_err(|_| TokenRejection::Invalid)?;
        if c.iss != self.settings.issuer {
            return Err(TokenRejection::Invalid);
        }
        Ok(c)
    }
}

/// What the hot path keeps of verified claims; claims that do not hold together are refused.
/// `aud` is kept for the resource side to check ([`Access::serves`]).
fn verified_from(c: AccessClaims, default_audience: &str) -> Result<VerifiedToken, TokenRejection> {
    let company_id = CompanyId::parse(&c.company_id).map_err(|_| TokenRejection::Invalid)?;
    let scopes = ScopeSet::parse_list(&c.scope).map_err(|_| TokenRejection::Invalid)?;
    if c.sub != c.client_id || c.aud.0.is_empty() {
        return Err(TokenRejection::Invalid);
    }
    let for_default = c.aud.0.iter().any(|a| a == default_audience);
    let mut resources: Vec<Box<str>> = c
        .aud
        .0
        .into_iter()
        .filter(|a| a != default_audience)
        .map(String::into_boxed_str)
        .collect();
    resources.sort_unstable();
    Ok(VerifiedToken {
        for_default,
        resources: resources.into_boxed_slice(),
        client_id: c.client_id.into(),
        company_id,
        secret_id: c.tg_sid.into(),
        jti: c.jti.into(),
        scopes,
        iat: c.iat,
        valid_from: c.iat.max(c.nbf.unwrap_or(c.iat)),
        exp: c.exp,
    })
}

/// Loads the key ring. At start (`settings` given), creates the first key (of the configured
/// algorithm, else [`SigningAlg::DEFAULT`]), or rotates to the configured algorithm if the current
/// key uses another one; with none configured, the current key's algorithm stays (the old key stays published for one
/// token lifetime, so its tokens stay valid).
async fn load_key_ring(
    store: &dyn Store,
    now: UnixTime,
    settings: Option<&TokenSettings>,
) -> Result<KeyRing, AuthorityError> {
    let mut records = store.signing_keys().await?;
    if let Some(settings) = settings {
        let current = records
            .iter()
            .filter(|r| r.retired_at.is_none())
            .max_by_key(|r| (r.created_at, r.kid.clone()));
        let rotate_to = match (current, settings.signing_alg) {
            (None, wanted) => Some(wanted.unwrap_or(SigningAlg::DEFAULT)),
            (Some(r), Some(wanted)) if r.alg != wanted => Some(wanted),
            (Some(_), _) => None,
        };
        if let Some(alg) = rotate_to {
            // Nodes starting at once may each rotate here; the store's retirement keeps the key
            // added last, so they converge on one signer. A retired key stays published for one
            // token lifetime.
            crate::keys::rotate(store, alg, i64::from(settings.ttl), now)
                .await
                .map_err(|e| match e {
                    crate::keys::RotateError::Key(k) => AuthorityError::Key(k),
                    crate::keys::RotateError::Store(s) => AuthorityError::Store(s),
                })?;
            records = store.signing_keys().await?;
        }
    }
    Ok(KeyRing::from_records(&records, now)?)
}
