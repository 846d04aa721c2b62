//! Operations on companies and credentials, with their policies: scopes come from the catalog and lie
//! within the company's ceiling, a company holds at most `max_credentials` credentials, a secret is
//! shown once.

use std::sync::Arc;

use tollgate_proto::ScopeSet;

use crate::accounts::AuditEvent;
use crate::allowlist::IpAllowlist;
use crate::catalog::{ScopeCatalog, UnknownScopes};
use crate::clock::Clock;
use crate::clock::UnixTime;
use crate::directory::Directory;
use crate::ids::SecretId;
use crate::ids::{ClientId, CompanyId};
use crate::model::{Company, Credential, CredentialAccess, DEFAULT_MAX_CREDENTIALS, StoredSecret};
use crate::random::RandomError;
use crate::secret::{ClientSecret, SecretHasher};
use crate::store::{CredentialStore, StoreError};

/// Longest company name or credential label.
pub const MAX_NAME_LEN: usize = 200;
/// Highest credential limit an operator may set.
pub const MAX_CREDENTIALS_LIMIT: u32 = 10_000;
/// Longest grace period of a rotation (30 days).
pub const MAX_GRACE_SECS: i64 = 30 * 24 * 3600;

/// Why an operation was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The company does not exist.
    #[error("company not found")]
    CompanyNotFound,
    /// The credential does not exist.
    #[error("credential not found")]
    CredentialNotFound,
    /// An input is invalid; the message says which and why.
    #[error("{0}")]
    Invalid(String),
    /// Scopes not in the catalog.
    #[error(transparent)]
    UnknownScopes(#[from] UnknownScopes),
    /// Scopes outside the company's ceiling.
    #[error("scope(s) outside the company's allowed scopes: {0}")]
    OutsideCeiling(ScopeSet),
    /// The company is full.
    #[error(
        "the company already has its maximum of {max} credentials; delete one or ask the operator to raise the limit"
    )]
    CredentialLimit {
        /// The limit.
        max: u32,
    },
    /// The credential has no such secret.
    #[error("secret not found")]
    SecretNotFound,
    /// The secret is the credential's only live one.
    #[error("this is the credential's only live secret: rotate it instead")]
    LastSecret,
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// The RNG failed.
    #[error(transparent)]
    Random(#[from] RandomError),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::CredentialLimit { max } => Self::CredentialLimit { max },
            StoreError::LastSecret => Self::LastSecret,
            other => Self::Store(other),
        }
    }
}

/// A new credential with its secret in clear (shown once).
#[derive(Debug)]
pub struct CreatedCredential {
    /// The credential.
    pub credential: Credential,
    /// Its secret.
    pub secret: ClientSecret,
}

/// Changes to a company; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct CompanyChanges {
    /// New name.
    pub name: Option<String>,
    /// New scope ceiling (narrowing it narrows every credential's effective scopes at once).
    pub scopes: Option<ScopeSet>,
    /// New credential limit.
    pub max_credentials: Option<u32>,
    /// New token quota override (new tokens per credential per hour): `Some(None)` goes back to
    /// the server's default, `Some(Some(0))` is no quota.
    pub token_quota_per_hour: Option<Option<u32>>,
    /// New resources (audiences) its credentials may ask for. A credential's narrower list keeps
    /// only those still listed, at once.
    pub resources: Option<crate::audience::Resources>,
}

/// Changes to a credential; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct CredentialChanges {
    /// New label.
    pub label: Option<String>,
    /// New scopes.
    pub scopes: Option<ScopeSet>,
    /// New expiry: `Some(None)` removes it; a time must lie in the future.
    pub expires_at: Option<Option<UnixTime>>,
    /// New IP allowlist (empty: any address).
    pub allowed_ips: Option<IpAllowlist>,
    /// New resources it may ask tokens for, among its company's: `Some(None)`, all of them.
    pub resources: Option<Option<crate::audience::Resources>>,
}

/// The audit entries beyond `credential.updated` or `credential.created` that a change of a
/// credential's access (`old` to `new`) calls for: the action and its target text.
pub fn access_audit(
    client_id: &ClientId,
    old: &CredentialAccess,
    new: &CredentialAccess,
) -> Vec<(crate::accounts::AuditAction, String)> {
    use crate::accounts::AuditAction;
    let mut out = Vec::new();
    if old.expires_at != new.expires_at {
        let when = new
            .expires_at
            .map_or_else(|| "none".to_owned(), crate::clock::rfc3339);
        out.push((
            AuditAction::CredentialExpirySet,
            format!("{client_id} (expires {when})"),
        ));
    }
    if old.allowed_ips != new.allowed_ips {
        let what = match new.allowed_ips.networks().len() {
            0 => "any address".to_owned(),
            1 => "1 network".to_owned(),
            n => format!("{n} networks"),
        };
        out.push((
            AuditAction::CredentialAllowlistSet,
            format!("{client_id} ({what})"),
        ));
    }
    if old.resources != new.resources {
        let what = match &new.resources {
            None => "all of the company's".to_owned(),
            Some(l) => l.to_string(),
        };
        out.push((
            AuditAction::CredentialResourcesSet,
            format!("{client_id} (resources: {what})"),
        ));
    }
    out
}

/// The operations, over a store.
#[derive(Debug, Clone)]
pub struct Admin {
    store: Arc<dyn CredentialStore>,
    catalog: Arc<ScopeCatalog>,
    hasher: SecretHasher,
    clock: Arc<dyn Clock>,
    /// The serving node's directory, updated after each write (read-your-writes on this node).
    directory: Option<Arc<Directory>>,
}

/// What a write changed, for the serving node's directory.
enum Written<'a> {
    Company(&'a CompanyId),
    Credential(&'a ClientId),
}

fn check_name(what: &str, s: &str) -> Result<String, AdminError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(AdminError::Invalid(format!("{what} must not be empty")));
    }
    if t.chars().count() > MAX_NAME_LEN {
        return Err(AdminError::Invalid(format!(
            "{what} must be at most {MAX_NAME_LEN} characters"
        )));
    }
    if t.chars().any(char::is_control) {
        return Err(AdminError::Invalid(format!(
            "{what} must not contain control characters"
        )));
    }
    Ok(t.to_owned())
}

/// An expiry being set must lie ahead: one in the past would end the credential while saying it
/// was set.
fn check_expiry(expires_at: Option<UnixTime>, now: UnixTime) -> Result<(), AdminError> {
    match expires_at {
        Some(t) if t <= now => Err(AdminError::Invalid(
            "expires_at must lie in the future".into(),
        )),
        _ => Ok(()),
    }
}

/// A credential may be limited only to resources its company lists.
fn check_resources(
    company: &Company,
    resources: Option<&crate::audience::Resources>,
) -> Result<(), AdminError> {
    let Some(resources) = resources else {
        return Ok(());
    };
    match resources.difference(&company.resources).iter().next() {
        Some(r) => Err(AdminError::Invalid(format!(
            "{r} is not one of the company's resources"
        ))),
        None => Ok(()),
    }
}

fn check_max(max: u32) -> Result<u32, AdminError> {
    if (1..=MAX_CREDENTIALS_LIMIT).contains(&max) {
        Ok(max)
    } else {
        Err(AdminError::Invalid(format!(
            "max_credentials must be between 1 and {MAX_CREDENTIALS_LIMIT}"
        )))
    }
}

impl Admin {
    /// Operations over `store`.
    pub fn new(
        store: Arc<dyn CredentialStore>,
        catalog: Arc<ScopeCatalog>,
        hasher: SecretHasher,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            catalog,
            hasher,
            clock,
            directory: None,
        }
    }

    /// Keeps `directory` (the one the node serves tokens from) in step with this node's writes:
    /// a credential created here works at once, one deleted or rotated without grace is refused at
    /// once, instead of at the next change-feed sync. Other nodes still learn by the feed.
    pub fn with_directory(mut self, directory: Arc<Directory>) -> Self {
        self.directory = Some(directory);
        self
    }

    /// Re-reads what a successful write changed into the directory. A failed re-read is not the
    /// write's failure: the change feed replays the write at the next sync.
    async fn written(&self, what: Written<'_>) {
        let Some(dir) = &self.directory else {
            return;
        };
        let res = match what {
            Written::Company(id) => dir.reread_company(&*self.store, id).await,
            Written::Credential(id) => dir.reread_credential(&*self.store, id).await,
        };
        if let Err(e) = res {
            tracing::warn!(error = %e, "re-reading a write failed; the change feed will apply it");
        }
    }

    /// The catalog.
    pub fn catalog(&self) -> &ScopeCatalog {
        &self.catalog
    }

    /// Creates a company. Default ceiling: every unreserved scope of the
    /// catalog; default limit: 10 credentials.
    pub async fn create_company(
        &self,
        name: &str,
        scopes: Option<ScopeSet>,
        max_credentials: Option<u32>,
    ) -> Result<Company, AdminError> {
        let name = check_name("name", name)?;
        let scopes = scopes.unwrap_or_else(|| self.catalog.all_unreserved());
        self.catalog.check(&scopes)?;
        let max_credentials = check_max(max_credentials.unwrap_or(DEFAULT_MAX_CREDENTIALS))?;
        let now = self.clock.now();
        let company = Company {
            id: CompanyId::generate(now)?,
            name,
            scopes,
            max_credentials,
            token_quota_per_hour: None,
            resources: crate::audience::Resources::default(),
            created_at: now,
            updated_at: now,
        };
        self.store.create_company(&company).await?;
        self.written(Written::Company(&company.id)).await;
        Ok(company)
    }

    /// One company.
    pub async fn company(&self, id: &CompanyId) -> Result<Company, AdminError> {
        self.store
            .get_company(id)
            .await?
            .ok_or(AdminError::CompanyNotFound)
    }

    /// All companies.
    pub async fn companies(&self) -> Result<Vec<Company>, AdminError> {
        Ok(self.store.list_companies().await?)
    }

    /// Updates a company.
    pub async fn update_company(
        &self,
        id: &CompanyId,
        changes: CompanyChanges,
    ) -> Result<Company, AdminError> {
        let mut c = self.company(id).await?;
        if let Some(name) = changes.name {
            c.name = check_name("name", &name)?;
        }
        if let Some(scopes) = changes.scopes {
            self.catalog.check(&scopes)?;
            c.scopes = scopes;
        }
        if let Some(max) = changes.max_credentials {
            c.max_credentials = check_max(max)?;
        }
        if let Some(quota) = changes.token_quota_per_hour {
            c.token_quota_per_hour = quota;
        }
        if let Some(resources) = changes.resources {
            c.resources = resources;
        }
        c.updated_at = self.clock.now();
        self.store.update_company(&c).await?;
        self.written(Written::Company(&c.id)).await;
        Ok(c)
    }

    fn check_scopes(&self, company: &Company, scopes: &ScopeSet) -> Result<(), AdminError> {
        // A credential without scopes could only obtain tokens that open nothing.
        if scopes.is_empty() {
            return Err(AdminError::Invalid(
                "a credential needs at least one scope".into(),
            ));
        }
        self.catalog.check(scopes)?;
        let outside = scopes.difference(&company.scopes);
        if outside.is_empty() {
            Ok(())
        } else {
            Err(AdminError::OutsideCeiling(outside))
        }
    }

    /// Creates a credential; its secret is returned once.
    pub async fn create_credential(
        &self,
        company_id: &CompanyId,
        label: &str,
        scopes: ScopeSet,
    ) -> Result<CreatedCredential, AdminError> {
        self.new_credential(
            company_id,
            label,
            scopes,
            CredentialAccess::default(),
            None::<fn(&Credential) -> AuditEvent>,
        )
        .await
    }

    /// As [`Admin::create_credential`], with an expiry and IP allowlist (`access`), and the audit
    /// event that `audit` makes of the new credential stored in the same transaction: a crash
    /// leaves both or neither.
    pub async fn create_credential_audited(
        &self,
        company_id: &CompanyId,
        label: &str,
        scopes: ScopeSet,
        access: CredentialAccess,
        audit: impl FnOnce(&Credential) -> AuditEvent + Send,
    ) -> Result<CreatedCredential, AdminError> {
        self.new_credential(company_id, label, scopes, access, Some(audit))
            .await
    }

    async fn new_credential(
        &self,
        company_id: &CompanyId,
        label: &str,
        scopes: ScopeSet,
        access: CredentialAccess,
        audit: Option<impl FnOnce(&Credential) -> AuditEvent + Send>,
    ) -> Result<CreatedCredential, AdminError> {
        let label = check_name("label", label)?;
        let company = self.company(company_id).await?;
        self.check_scopes(&company, &scopes)?;
        check_resources(&company, access.resources.as_ref())?;
        let now = self.clock.now();
        check_expiry(access.expires_at, now)?;
        let secret = crate::secret::generate()?;
        let credential = Credential {
            client_id: ClientId::generate()?,
            company_id: company.id,
            label,
            scopes,
            secrets: vec![StoredSecret {
                id: SecretId::generate()?,
                hash: self.hasher.hash(secret.expose_secret()),
                created_at: now,
                expires_at: None,
            }],
            created_at: now,
            updated_at: now,
            last_used_at: None,
            access,
        };
        match audit {
            Some(audit) => {
                let event = audit(&credential);
                self.store
                    .create_credential_audited(&credential, &event)
                    .await?;
            }
            None => self.store.create_credential(&credential).await?,
        }
        self.written(Written::Credential(&credential.client_id))
            .await;
        Ok(CreatedCredential { credential, secret })
    }

    /// One credential.
    pub async fn credential(&self, id: &ClientId) -> Result<Credential, AdminError> {
        self.store
            .get_credential(id)
            .await?
            .ok_or(AdminError::CredentialNotFound)
    }

    /// Revokes a leaked `secret` from its text: its credential gets a new secret at once, and the
    /// leaked one (with its tokens) stops. With `company`, a secret of another company's credential
    /// reads as unknown ([`AdminError::CredentialNotFound`]) and nothing changes.
    pub async fn revoke_leaked_secret(
        &self,
        secret: &ClientSecret,
        company: Option<&CompanyId>,
    ) -> Result<CreatedCredential, AdminError> {
        let id = self
            .store
            .credential_by_secret_hash(&self.hasher.hash_secret(secret))
            .await?
            .ok_or(AdminError::CredentialNotFound)?;
        if let Some(company) = company
            && self.credential(&id).await?.company_id != *company
        {
            return Err(AdminError::CredentialNotFound);
        }
        self.rotate_secret(&id, 0).await
    }

    /// A company's credentials.
    pub async fn credentials(&self, company: &CompanyId) -> Result<Vec<Credential>, AdminError> {
        self.company(company).await?;
        Ok(self.store.list_credentials(company).await?)
    }

    /// Changes label and/or scopes. Scopes the credential holds outside its company's ceiling are
    /// kept whatever `changes` says (see the body); the new scopes must lie within the ceiling.
    pub async fn update_credential(
        &self,
        id: &ClientId,
        changes: CredentialChanges,
    ) -> Result<Credential, AdminError> {
        let mut cred = self.credential(id).await?;
        if let Some(label) = changes.label {
            cred.label = check_name("label", &label)?;
        }
        if let Some(scopes) = changes.scopes {
            let company = self.company(&cred.company_id).await?;
            // Scopes the credential holds outside the company's ceiling now (the operator narrowed
            // it) are dormant: tokens do not get them, and an update keeps them, so that widening
            // the ceiling again brings them back. Sending them back is allowed; adding one is not.
            let dormant = cred.scopes.difference(&company.scopes);
            let wanted = scopes.difference(&dormant);
            self.check_scopes(&company, &wanted)?;
            cred.scopes = wanted.union(&dormant);
        }
        let now = self.clock.now();
        if let Some(expires_at) = changes.expires_at {
            check_expiry(expires_at, now)?;
            cred.access.expires_at = expires_at;
        }
        if let Some(allowed) = changes.allowed_ips {
            cred.access.allowed_ips = allowed;
        }
        if let Some(resources) = changes.resources {
            let company = self.company(&cred.company_id).await?;
            check_resources(&company, resources.as_ref())?;
            cred.access.resources = resources;
        }
        cred.updated_at = now;
        self.store
            .update_credential(&cred)
            .await
            .map_err(not_found_credential)?;
        self.written(Written::Credential(id)).await;
        Ok(cred)
    }

    /// Issues a new secret. The old one (and the tokens it obtained) keeps working for
    /// `grace_secs` seconds (0: stops at once).
    pub async fn rotate_secret(
        &self,
        id: &ClientId,
        grace_secs: i64,
    ) -> Result<CreatedCredential, AdminError> {
        if !(0..=MAX_GRACE_SECS).contains(&grace_secs) {
            return Err(AdminError::Invalid(format!(
                "grace must be between 0 and {MAX_GRACE_SECS} seconds"
            )));
        }
        self.credential(id).await?;
        let now = self.clock.now();
        let secret = crate::secret::generate()?;
        let new = StoredSecret {
            id: SecretId::generate()?,
            hash: self.hasher.hash(secret.expose_secret()),
            created_at: now,
            expires_at: None,
        };
        self.store
            .rotate_secret(id, &new, now + grace_secs, now)
            .await
            .map_err(not_found_credential)?;
        self.written(Written::Credential(id)).await;
        let credential = self.credential(id).await?;
        Ok(CreatedCredential { credential, secret })
    }

    /// Ends one of a credential's secrets at once (an old one still in its rotation grace, say);
    /// the tokens it obtained are refused at once too. The credential must keep another live
    /// secret ([`AdminError::LastSecret`]).
    pub async fn end_secret(&self, id: &ClientId, secret: &str) -> Result<(), AdminError> {
        let cred = self.credential(id).await?;
        let secret = cred
            .secrets
            .iter()
            .find(|s| s.id.as_str() == secret)
            .ok_or(AdminError::SecretNotFound)?
            .id
            .clone();
        match self.store.end_secret(id, &secret, self.clock.now()).await {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(AdminError::SecretNotFound),
            Err(e) => return Err(e.into()),
        }
        self.written(Written::Credential(id)).await;
        Ok(())
    }

    /// Deletes a credential; its tokens are refused at once.
    pub async fn delete_credential(&self, id: &ClientId) -> Result<(), AdminError> {
        self.store
            .delete_credential(id)
            .await
            .map_err(not_found_credential)?;
        self.written(Written::Credential(id)).await;
        Ok(())
    }
}

fn not_found_credential(e: StoreError) -> AdminError {
    match e {
        StoreError::NotFound => AdminError::CredentialNotFound,
        other => other.into(),
    }
}
