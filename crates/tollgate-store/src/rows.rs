//! Rows to domain values, written once for both backends. Each backend's row type reads its columns
//! through [`Columns`] (the same `try_get` calls, by another row type); the decoders below are
//! generic over it, so a column added to a model is decoded in one place.

use tollgate_core::accounts::{AuditEvent, Email, Role, SessionRecord, User, UserId};
use tollgate_core::allowlist::IpAllowlist;
use tollgate_core::audience::Resources;
use tollgate_core::ids::{ClientId, CompanyId, SecretId};
use tollgate_core::model::{
    Change, ChangeKind, Company, Credential, CredentialAccess, SigningKeyRecord, StoredSecret,
};
use tollgate_core::secret::SecretHash;
use tollgate_core::store::StoreError;
use tollgate_proto::ScopeSet;
use zeroize::Zeroizing;

use crate::dialect::Columns;

fn corrupt(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(e))
}

pub(crate) fn scopes(s: &str) -> Result<ScopeSet, StoreError> {
    ScopeSet::parse_list(s).map_err(corrupt)
}

pub(crate) fn company_id(s: &str) -> Result<CompanyId, StoreError> {
    CompanyId::parse(s).map_err(corrupt)
}

pub(crate) fn client_id(s: &str) -> Result<ClientId, StoreError> {
    ClientId::parse(s).map_err(corrupt)
}

pub(crate) fn signing_alg(s: &str) -> Result<tollgate_proto::SigningAlg, StoreError> {
    s.parse().map_err(corrupt)
}

pub(crate) fn company_row(r: &impl Columns) -> Result<Company, StoreError> {
    Ok(Company {
        id: company_id(&r.text("id")?)?,
        name: r.text("name")?,
        scopes: scopes(&r.text("scopes")?)?,
        max_credentials: u32::try_from(r.int("max_credentials")?)
            .map_err(|_| StoreError::Backend("stored max_credentials is out of range".into()))?,
        token_quota_per_hour: r
            .opt_int("token_quota_per_hour")?
            .map(u32::try_from)
            .transpose()
            .map_err(|_| {
                StoreError::Backend("stored token_quota_per_hour is out of range".into())
            })?,
        resources: Resources::parse_stored(&r.text("resources")?).map_err(corrupt)?,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
    })
}

/// A credential without its secrets (see `attach_secrets`).
pub(crate) fn credential_row(r: &impl Columns) -> Result<Credential, StoreError> {
    Ok(Credential {
        client_id: client_id(&r.text("client_id")?)?,
        company_id: company_id(&r.text("company_id")?)?,
        label: r.text("label")?,
        scopes: scopes(&r.text("scopes")?)?,
        secrets: Vec::new(),
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
        last_used_at: r.opt_int("last_used_at")?,
        access: CredentialAccess {
            expires_at: r.opt_int("expires_at")?,
            allowed_ips: IpAllowlist::parse_stored(&r.text("allowed_ips")?).map_err(corrupt)?,
            resources: r
                .opt_text("resources")?
                .map(|s| Resources::parse_stored(&s))
                .transpose()
                .map_err(corrupt)?,
        },
    })
}

/// A secret with the client ID it belongs to.
pub(crate) fn secret_row(r: &impl Columns) -> Result<(String, StoredSecret), StoreError> {
    let hash: [u8; 32] = r
        .bytes("hash")?
        .try_into()
        .map_err(|_| StoreError::Backend("stored secret hash is not 32 bytes".into()))?;
    Ok((
        r.text("client_id")?,
        StoredSecret {
            id: SecretId::from_stored(r.text("id")?),
            hash: SecretHash(hash),
            created_at: r.int("created_at")?,
            expires_at: r.opt_int("expires_at")?,
        },
    ))
}

pub(crate) fn user_row(r: &impl Columns) -> Result<User, StoreError> {
    let bad = |e: String| StoreError::Backend(e.into());
    Ok(User {
        id: UserId::parse(&r.text("id")?).map_err(corrupt)?,
        company_id: company_id(&r.text("company_id")?)?,
        email: Email::parse(&r.text("email")?).map_err(|e| bad(e.to_string()))?,
        role: r
            .text("role")?
            .parse::<Role>()
            .map_err(|e| bad(e.to_string()))?,
        password_hash: r.text("password_hash")?,
        created_at: r.int("created_at")?,
    })
}

pub(crate) fn session_row(r: &impl Columns) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord {
        id_hash: r.text("id_hash")?,
        user_id: UserId::parse(&r.text("user_id")?).map_err(corrupt)?,
        csrf: r.text("csrf")?,
        expires_at: r.int("expires_at")?,
    })
}

pub(crate) fn audit_row(r: &impl Columns) -> Result<AuditEvent, StoreError> {
    Ok(AuditEvent {
        at: r.int("at")?,
        company_id: company_id(&r.text("company_id")?)?,
        actor: r.text("actor")?,
        action: r.text("action")?.parse().map_err(corrupt)?,
        target: r.text("target")?,
        remote_addr: r.opt_text("remote_addr")?,
    })
}

pub(crate) fn signing_key_row(r: &impl Columns) -> Result<SigningKeyRecord, StoreError> {
    Ok(SigningKeyRecord {
        kid: r.text("kid")?,
        alg: signing_alg(&r.text("alg")?)?,
        private_pkcs8: Zeroizing::new(r.bytes("private_pkcs8")?),
        public: r.bytes("public")?,
        created_at: r.int("created_at")?,
        retired_at: r.opt_int("retired_at")?,
        publish_until: r.opt_int("publish_until")?,
    })
}

/// A change-feed entry; a kind tollgate does not know is an API's own ([`ChangeKind::Other`]).
pub(crate) fn change_row(r: &impl Columns) -> Result<Change, StoreError> {
    let kind = match r.text("kind")?.as_str() {
        "company" => ChangeKind::Company,
        "credential" => ChangeKind::Credential,
        "key" => ChangeKind::SigningKey,
        "revocation" => ChangeKind::Revocation,
        other => ChangeKind::Other(other.into()),
    };
    Ok(Change {
        seq: r.int("seq")?,
        kind,
        key: r.text("key")?,
    })
}
