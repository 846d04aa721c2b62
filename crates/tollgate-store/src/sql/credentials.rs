//! Companies and credentials ([`CredentialStore`]).

use async_trait::async_trait;
use futures_util::{StreamExt as _, TryStreamExt as _};
use sqlx::query;
use tollgate_core::accounts::AuditEvent;
use tollgate_core::clock::UnixTime;
use tollgate_core::ids::{ClientId, CompanyId, SecretId};
use tollgate_core::model::{Company, Credential, StoredSecret};
use tollgate_core::secret::SecretHash;
use tollgate_core::store::{CredentialStore, StoreError};
use tollgate_core::usage::{DailyUsage, Day, SecretUse, UsageBatch, UsageCounts};

use super::accounts::insert_audit;
use super::{SqlStore, backend, changed};
use crate::dialect::{ArgExt as _, Columns as _, Conn as _, Dialect, RowsAffected as _};
use crate::rows::{company_row, credential_row, secret_row};

/// Every credential, in client-ID order (see [`attach_secrets`]).
const ALL_CREDENTIALS: &str = "SELECT client_id, company_id, label, scopes, created_at, \
     updated_at, last_used_at, expires_at, allowed_ips, resources FROM credentials \
     ORDER BY client_id";
/// Every secret, in client-ID order, then oldest first.
const ALL_SECRETS: &str = "SELECT id, client_id, hash, created_at, expires_at \
     FROM credential_secrets ORDER BY client_id, created_at, id";

impl<D: Dialect> SqlStore<D> {
    /// A new credential with its secrets and, if given, its audit event: one transaction.
    async fn insert_credential(
        &self,
        c: &Credential,
        audit: Option<&AuditEvent>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let company = c.company_id.to_string();
        if let Some(lock) = D::LOCK_COMPANY {
            query::<D>(lock)
                .arg(&company)
                .execute(tx.ex())
                .await
                .map_err(backend)?;
        }
        // The count and the insert in one statement: under SQLite's write lock, or after the
        // company row lock on PostgreSQL (each statement there reads a fresh snapshot, so it sees
        // every creation that held the lock before).
        let r = query::<D>(
            "INSERT INTO credentials(client_id, company_id, label, scopes, created_at, updated_at, \
                 expires_at, allowed_ips, resources) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 \
             WHERE (SELECT COUNT(*) FROM credentials WHERE company_id = $2) \
                 < (SELECT max_credentials FROM companies WHERE id = $2)",
        )
        .arg(c.client_id.as_str())
        .arg(&company)
        .arg(&c.label)
        .arg(&c.scopes.to_string())
        .arg(c.created_at)
        .arg(c.updated_at)
        .arg(c.access.expires_at)
        .arg(&c.access.allowed_ips.to_string())
        .arg(&c.access.resources.as_ref().map(ToString::to_string))
        .execute(tx.ex())
        .await
        .map_err(backend)?;
        if r.rows_affected() == 0 {
            let max = query::<D>("SELECT max_credentials FROM companies WHERE id = $1")
                .arg(&company)
                .fetch_optional(tx.ex())
                .await
                .map_err(backend)?;
            return Err(match max {
                Some(row) => StoreError::CredentialLimit {
                    max: u32::try_from(row.int("max_credentials")?).unwrap_or(u32::MAX),
                },
                None => StoreError::NotFound,
            });
        }
        for s in &c.secrets {
            insert_secret::<D>(&mut tx, c.client_id.as_str(), s).await?;
        }
        if let Some(e) = audit {
            insert_audit::<D>(&mut tx, e).await?;
        }
        tx.commit().await.map_err(backend)
    }
}

#[async_trait]
impl<D: Dialect> CredentialStore for SqlStore<D> {
    async fn create_company(&self, c: &Company) -> Result<(), StoreError> {
        let mut c_ = self.conn().await?;
        query::<D>(
            "INSERT INTO companies(id, name, scopes, max_credentials, token_quota_per_hour, \
             created_at, updated_at, resources) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .arg(&c.id.to_string())
        .arg(&c.name)
        .arg(&c.scopes.to_string())
        .arg(i64::from(c.max_credentials))
        .arg(c.token_quota_per_hour.map(i64::from))
        .arg(c.created_at)
        .arg(c.updated_at)
        .arg(&c.resources.to_string())
        .execute(c_.ex())
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn get_company(&self, id: &CompanyId) -> Result<Option<Company>, StoreError> {
        let mut c = self.conn().await?;
        let row = query::<D>(
            "SELECT id, name, scopes, max_credentials, token_quota_per_hour, created_at, updated_at, \
             resources FROM companies WHERE id = $1",
        )
        .arg(&id.to_string())
        .fetch_optional(c.ex())
        .await
        .map_err(backend)?;
        row.as_ref().map(company_row).transpose()
    }

    async fn list_companies(&self) -> Result<Vec<Company>, StoreError> {
        let mut c = self.conn().await?;
        let rows = query::<D>(
            "SELECT id, name, scopes, max_credentials, token_quota_per_hour, created_at, updated_at, \
             resources FROM companies ORDER BY created_at, id",
        )
        .fetch_all(c.ex())
        .await
        .map_err(backend)?;
        rows.iter().map(company_row).collect()
    }

    async fn update_company(&self, c: &Company) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let r = query::<D>(
            "UPDATE companies SET name = $1, scopes = $2, max_credentials = $3, \
             token_quota_per_hour = $4, updated_at = $5, resources = $7 WHERE id = $6",
        )
        .arg(&c.name)
        .arg(&c.scopes.to_string())
        .arg(i64::from(c.max_credentials))
        .arg(c.token_quota_per_hour.map(i64::from))
        .arg(c.updated_at)
        .arg(&c.id.to_string())
        .arg(&c.resources.to_string())
        .execute(conn.ex())
        .await
        .map_err(backend)?;
        changed(r)
    }

    async fn create_credential(&self, c: &Credential) -> Result<(), StoreError> {
        self.insert_credential(c, None).await
    }

    async fn create_credential_audited(
        &self,
        c: &Credential,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.insert_credential(c, Some(audit)).await
    }

    async fn credential_by_secret_hash(
        &self,
        hash: &SecretHash,
    ) -> Result<Option<ClientId>, StoreError> {
        let mut c = self.conn().await?;
        let row = query::<D>("SELECT client_id FROM credential_secrets WHERE hash = $1")
            .arg(hash.0.as_slice())
            .fetch_optional(c.ex())
            .await
            .map_err(backend)?;
        row.map(|r| crate::rows::client_id(&r.text("client_id")?))
            .transpose()
    }

    async fn get_credential(&self, id: &ClientId) -> Result<Option<Credential>, StoreError> {
        let mut c = self.conn().await?;
        let row = query::<D>(
            "SELECT client_id, company_id, label, scopes, created_at, updated_at, last_used_at, \
             expires_at, allowed_ips, resources FROM credentials WHERE client_id = $1",
        )
        .arg(id.as_str())
        .fetch_optional(c.ex())
        .await
        .map_err(backend)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut creds = [credential_row(&row)?];
        let secrets = query::<D>(
            "SELECT id, client_id, hash, created_at, expires_at FROM credential_secrets \
             WHERE client_id = $1 ORDER BY created_at, id",
        )
        .arg(id.as_str())
        .fetch(c.ex())
        .map(|r| r.map_err(backend).and_then(|r| secret_row(&r)));
        attach_secrets(&mut creds, secrets).await?;
        let [cred] = creds;
        Ok(Some(cred))
    }

    async fn list_credentials(&self, company: &CompanyId) -> Result<Vec<Credential>, StoreError> {
        let company = company.to_string();
        let mut c = self.conn().await?;
        let rows = query::<D>(
            "SELECT client_id, company_id, label, scopes, created_at, updated_at, last_used_at, \
             expires_at, allowed_ips, resources FROM credentials WHERE company_id = $1 \
             ORDER BY created_at, client_id",
        )
        .arg(&company)
        .fetch_all(c.ex())
        .await
        .map_err(backend)?;
        let mut creds = rows
            .iter()
            .map(credential_row)
            .collect::<Result<Vec<_>, _>>()?;
        // The secrets in the credentials' own order, so one pass joins them.
        let secrets = query::<D>(
            "SELECT s.id, s.client_id, s.hash, s.created_at, s.expires_at \
             FROM credential_secrets s JOIN credentials c ON c.client_id = s.client_id \
             WHERE c.company_id = $1 ORDER BY c.created_at, c.client_id, s.created_at, s.id",
        )
        .arg(&company)
        .fetch(c.ex())
        .map(|r| r.map_err(backend).and_then(|r| secret_row(&r)));
        attach_secrets(&mut creds, secrets).await?;
        Ok(creds)
    }

    async fn list_all_credentials(&self) -> Result<Vec<Credential>, StoreError> {
        // One snapshot for credentials and secrets: a rotation committed between the two reads must
        // not leave a credential without its new secret.
        let mut tx = self.begin().await?;
        if let Some(snapshot) = D::SNAPSHOT {
            query::<D>(snapshot)
                .execute(tx.ex())
                .await
                .map_err(backend)?;
        }
        let mut creds: Vec<_> = query::<D>(ALL_CREDENTIALS)
            .fetch(tx.ex())
            .map(|r| r.map_err(backend).and_then(|r| credential_row(&r)))
            .try_collect()
            .await?;
        {
            let secrets = query::<D>(ALL_SECRETS)
                .fetch(tx.ex())
                .map(|r| r.map_err(backend).and_then(|r| secret_row(&r)));
            attach_secrets(&mut creds, secrets).await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(creds)
    }

    async fn update_credential(&self, cred: &Credential) -> Result<(), StoreError> {
        let mut c = self.conn().await?;
        let r = query::<D>(
            // A new expiry is audited again when it passes.
            "UPDATE credentials SET label = $1, scopes = $2, allowed_ips = $4, updated_at = $5, \
             resources = $7, \
             expiry_audited = CASE WHEN expires_at = $3 THEN expiry_audited ELSE 0 END, \
             expiry_warned = CASE WHEN expires_at = $3 THEN expiry_warned ELSE 0 END, \
             expires_at = $3 WHERE client_id = $6",
        )
        .arg(&cred.label)
        .arg(&cred.scopes.to_string())
        .arg(cred.access.expires_at)
        .arg(&cred.access.allowed_ips.to_string())
        .arg(cred.updated_at)
        .arg(cred.client_id.as_str())
        .arg(&cred.access.resources.as_ref().map(ToString::to_string))
        .execute(c.ex())
        .await
        .map_err(backend)?;
        changed(r)
    }

    async fn rotate_secret(
        &self,
        id: &ClientId,
        new_secret: &StoredSecret,
        old_expire_at: UnixTime,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        touch_credential::<D>(&mut tx, id, now).await?;
        query::<D>(
            "UPDATE credential_secrets SET expires_at = \
                 CASE WHEN expires_at IS NULL OR expires_at > $1 THEN $1 ELSE expires_at END \
             WHERE client_id = $2",
        )
        .arg(old_expire_at)
        .arg(id.as_str())
        .execute(tx.ex())
        .await
        .map_err(backend)?;
        query::<D>(
            "DELETE FROM credential_secrets \
             WHERE client_id = $1 AND expires_at IS NOT NULL AND expires_at <= $2",
        )
        .arg(id.as_str())
        .arg(now)
        .execute(tx.ex())
        .await
        .map_err(backend)?;
        insert_secret::<D>(&mut tx, id.as_str(), new_secret).await?;
        tx.commit().await.map_err(backend)
    }

    async fn delete_credential(&self, id: &ClientId) -> Result<(), StoreError> {
        let mut c = self.conn().await?;
        let r = query::<D>("DELETE FROM credentials WHERE client_id = $1")
            .arg(id.as_str())
            .execute(c.ex())
            .await
            .map_err(backend)?;
        changed(r)
    }

    async fn end_secret(
        &self,
        id: &ClientId,
        secret: &SecretId,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        touch_credential::<D>(&mut tx, id, now).await?;
        let others = query::<D>(
            "SELECT COUNT(*) AS n FROM credential_secrets \
             WHERE client_id = $1 AND id <> $2 AND (expires_at IS NULL OR expires_at > $3)",
        )
        .arg(id.as_str())
        .arg(secret.as_str())
        .arg(now)
        .fetch_one(tx.ex())
        .await
        .map_err(backend)?
        .int("n")?;
        let r = query::<D>("DELETE FROM credential_secrets WHERE client_id = $1 AND id = $2")
            .arg(id.as_str())
            .arg(secret.as_str())
            .execute(tx.ex())
            .await
            .map_err(backend)?;
        changed(r)?;
        if others == 0 {
            return Err(StoreError::LastSecret);
        }
        tx.commit().await.map_err(backend)
    }

    async fn audit_expired_credentials(&self, now: UnixTime) -> Result<usize, StoreError> {
        let mut tx = self.begin().await?;
        let rows = query::<D>(
            "UPDATE credentials SET expiry_audited = 1 \
             WHERE expires_at IS NOT NULL AND expires_at <= $1 AND expiry_audited = 0 \
             RETURNING client_id, company_id, expires_at",
        )
        .arg(now)
        .fetch_all(tx.ex())
        .await
        .map_err(backend)?;
        for r in &rows {
            let event = AuditEvent {
                at: r.int("expires_at")?,
                company_id: crate::rows::company_id(&r.text("company_id")?)?,
                actor: tollgate_core::accounts::Actor::System.to_string(),
                action: tollgate_core::accounts::AuditAction::CredentialExpired,
                target: r.text("client_id")?,
                remote_addr: None,
            };
            insert_audit::<D>(&mut tx, &event).await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(rows.len())
    }

    async fn audit_expiring_credentials(&self, now: UnixTime) -> Result<usize, StoreError> {
        let mut tx = self.begin().await?;
        let mut written = 0;
        // Nearest first: a credential 5 days from its expiry gets the 7-day warning only.
        for days in [1_i64, 7, 30] {
            let rows = query::<D>(
                "UPDATE credentials SET expiry_warned = $1 \
                 WHERE expires_at IS NOT NULL AND expires_at > $2 AND expires_at <= $3 \
                   AND (expiry_warned = 0 OR expiry_warned > $1) \
                 RETURNING client_id, company_id",
            )
            .arg(days)
            .arg(now)
            .arg(now + days * 86_400)
            .fetch_all(tx.ex())
            .await
            .map_err(backend)?;
            for r in &rows {
                let unit = if days == 1 { "day" } else { "days" };
                let event = AuditEvent {
                    at: now,
                    company_id: crate::rows::company_id(&r.text("company_id")?)?,
                    actor: tollgate_core::accounts::Actor::System.to_string(),
                    action: tollgate_core::accounts::AuditAction::CredentialExpiring,
                    target: format!("{} (in {days} {unit} or less)", r.text("client_id")?),
                    remote_addr: None,
                };
                insert_audit::<D>(&mut tx, &event).await?;
            }
            written += rows.len();
        }
        tx.commit().await.map_err(backend)?;
        Ok(written)
    }

    async fn record_last_used(&self, used: &[(ClientId, UnixTime)]) -> Result<(), StoreError> {
        if used.is_empty() {
            return Ok(());
        }
        // One transaction, rows written in client-ID order: two nodes flushing at once cannot
        // deadlock.
        let mut sorted: Vec<(&str, UnixTime)> =
            used.iter().map(|(c, t)| (c.as_str(), *t)).collect();
        sorted.sort_unstable();
        let mut tx = self.begin().await?;
        for (id, t) in sorted {
            query::<D>(
                "UPDATE credentials SET last_used_at = \
                     CASE WHEN last_used_at IS NULL OR last_used_at < $1 THEN $1 ELSE last_used_at END \
                 WHERE client_id = $2",
            )
            .arg(t)
            .arg(id)
            .execute(tx.ex())
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn record_usage(&self, batch: &UsageBatch) -> Result<(), StoreError> {
        if batch.counts.is_empty() && batch.secrets.is_empty() && batch.last_used.is_empty() {
            return Ok(());
        }
        self.record_last_used(&batch.last_used).await?;
        // Rows in key order: two nodes flushing at once cannot deadlock.
        let mut counts: Vec<_> = batch.counts.iter().collect();
        counts.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut secrets: Vec<_> = batch.secrets.iter().collect();
        secrets.sort_unstable_by(|a, b| a.secret_id.as_str().cmp(b.secret_id.as_str()));
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let mut tx = self.begin().await?;
        for (id, c) in counts {
            query::<D>(
                "INSERT INTO credential_usage(client_id, day, tokens, api_calls, failed_auth, \
                     rate_limited) \
                 SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS \
                     (SELECT 1 FROM credentials WHERE client_id = $1) \
                 ON CONFLICT (client_id, day) DO UPDATE SET \
                     tokens = credential_usage.tokens + excluded.tokens, \
                     api_calls = credential_usage.api_calls + excluded.api_calls, \
                     failed_auth = credential_usage.failed_auth + excluded.failed_auth, \
                     rate_limited = credential_usage.rate_limited + excluded.rate_limited",
            )
            .arg(id.as_str())
            .arg(batch.day)
            .arg(n(c.tokens))
            .arg(n(c.api_calls))
            .arg(n(c.failed_auth))
            .arg(n(c.rate_limited))
            .execute(tx.ex())
            .await
            .map_err(backend)?;
        }
        for u in secrets {
            let ip = u.ip.map(|ip| ip.to_string());
            query::<D>(
                "INSERT INTO secret_usage(secret_id, last_used_at, last_used_ip) \
                 SELECT $1, $2, $3 WHERE EXISTS \
                     (SELECT 1 FROM credential_secrets WHERE id = $1 AND client_id = $4) \
                 ON CONFLICT (secret_id) DO UPDATE SET \
                     last_used_ip = CASE WHEN excluded.last_used_at >= secret_usage.last_used_at \
                         THEN excluded.last_used_ip ELSE secret_usage.last_used_ip END, \
                     last_used_at = CASE WHEN excluded.last_used_at >= secret_usage.last_used_at \
                         THEN excluded.last_used_at ELSE secret_usage.last_used_at END",
            )
            .arg(u.secret_id.as_str())
            .arg(u.at)
            .arg(&ip)
            .arg(u.client_id.as_str())
            .execute(tx.ex())
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn usage(&self, client: &ClientId, since: Day) -> Result<Vec<DailyUsage>, StoreError> {
        let mut c = self.conn().await?;
        let rows = query::<D>(
            "SELECT day, tokens, api_calls, failed_auth, rate_limited FROM credential_usage \
             WHERE client_id = $1 AND day >= $2 ORDER BY day",
        )
        .arg(client.as_str())
        .arg(since)
        .fetch_all(c.ex())
        .await
        .map_err(backend)?;
        let n = |r: &D::Row, col: &str| r.int(col).map(|v| u64::try_from(v).unwrap_or(0));
        rows.iter()
            .map(|r| {
                Ok(DailyUsage {
                    day: r.int("day")?,
                    counts: UsageCounts {
                        tokens: n(r, "tokens")?,
                        api_calls: n(r, "api_calls")?,
                        failed_auth: n(r, "failed_auth")?,
                        rate_limited: n(r, "rate_limited")?,
                    },
                })
            })
            .collect()
    }

    async fn secret_uses(&self, client: &ClientId) -> Result<Vec<SecretUse>, StoreError> {
        let mut c = self.conn().await?;
        let rows = query::<D>(
            "SELECT u.secret_id, u.last_used_at, u.last_used_ip FROM secret_usage u \
             JOIN credential_secrets s ON s.id = u.secret_id WHERE s.client_id = $1 \
             ORDER BY u.secret_id",
        )
        .arg(client.as_str())
        .fetch_all(c.ex())
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(SecretUse {
                    client_id: client.clone(),
                    secret_id: SecretId::from_stored(r.text("secret_id")?),
                    at: r.int("last_used_at")?,
                    ip: r.opt_text("last_used_ip")?.and_then(|ip| ip.parse().ok()),
                })
            })
            .collect()
    }
}

/// Writes the credential row's `updated_at` before a change of its secrets: the row lock makes two
/// such changes of one credential (rotations, ends) run one after the other. `NotFound` if the
/// credential is gone.
async fn touch_credential<D: Dialect>(
    tx: &mut sqlx::Transaction<'_, D>,
    id: &ClientId,
    now: UnixTime,
) -> Result<(), StoreError> {
    let r = query::<D>("UPDATE credentials SET updated_at = $1 WHERE client_id = $2")
        .arg(now)
        .arg(id.as_str())
        .execute(tx.ex())
        .await
        .map_err(backend)?;
    changed(r)
}

async fn insert_secret<D: Dialect>(
    tx: &mut sqlx::Transaction<'_, D>,
    client_id: &str,
    s: &StoredSecret,
) -> Result<(), StoreError> {
    query::<D>(
        "INSERT INTO credential_secrets(id, client_id, hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .arg(s.id.as_str())
    .arg(client_id)
    .arg(s.hash.0.as_slice())
    .arg(s.created_at)
    .arg(s.expires_at)
    .execute(tx.ex())
    .await
    .map_err(backend)?;
    Ok(())
}

/// Gives each credential of `creds` its secrets, read as `secrets` streams them by. Both must come
/// in the same order of credentials (secrets then by creation), so one pass joins them and no row set is held in memory: loading a million credentials costs the credentials
/// themselves, not a second copy of every row.
async fn attach_secrets<S>(creds: &mut [Credential], mut secrets: S) -> Result<(), StoreError>
where
    S: futures_util::Stream<Item = Result<(String, StoredSecret), StoreError>> + Unpin,
{
    let mut i = 0;
    while let Some((client_id, secret)) = secrets.try_next().await? {
        while i < creds.len() && creds[i].client_id.as_str() != client_id {
            i += 1;
        }
        let Some(c) = creds.get_mut(i) else {
            return Err(StoreError::Backend(
                "a secret without its credential, or out of order".into(),
            ));
        };
        c.secrets.push(secret);
    }
    Ok(())
}
