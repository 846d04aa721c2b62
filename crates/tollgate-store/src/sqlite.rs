//! The SQLite backend.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool};
use tollgate_core::accounts::{AuditEvent, Email, Role, SessionRecord, User, UserId};
use tollgate_core::clock::UnixTime;
use tollgate_core::ids::{ClientId, CompanyId, GroupId};
use tollgate_core::model::{
    Change, ChangeKind, Company, Credential, Group, SigningKeyRecord, StoredSecret,
};
use tollgate_core::store::{Store, StoreError};
use tollgate_proto::ScopeSet;
use zeroize::Zeroizing;

use crate::rows::{
    audit_row, company_row, credential_row, group_row, json, secret_row, session_row, user_row,
};
use crate::{OpenError, backend};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// tollgate's data in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the file named by `url` (`sqlite://PATH` or `sqlite::memory:`) and
    /// migrates it. Safe when several processes start at once.
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(OpenError::Connect)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // 1 MiB of page cache per connection (SQLite's default is 2): the hot path reads memory,
            // not SQLite, so a bigger cache only grows the resident set.
            .pragma("cache_size", "-1024");
        let pool = connect(opts).await?;
        migrate(&pool).await?;
        Ok(Self { pool })
    }

    /// Closes the pool (waits for connections to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Opens the pool. Switching a fresh file to WAL needs an exclusive lock that `busy_timeout` does not
/// wait for (SQLite answers `SQLITE_BUSY` at once), so when several processes open a new file at once,
/// the losers try again.
async fn connect(opts: SqliteConnectOptions) -> Result<SqlitePool, OpenError> {
    let mut attempt = 0;
    loop {
        let opened = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            .connect_with(opts.clone())
            .await;
        match opened {
            Ok(pool) => return Ok(pool),
            Err(sqlx::Error::Database(e))
                if attempt < 20
                    && e.code()
                        .and_then(|c| c.parse::<i32>().ok())
                        .is_some_and(|c| c & 0xff == 5) =>
            {
                attempt += 1;
                tracing::debug!(error = %e, attempt, "database busy while opening; retrying");
                tokio::time::sleep(Duration::from_millis(25 * attempt)).await;
            }
            Err(e) => return Err(OpenError::Connect(e)),
        }
    }
}

/// Applies pending migrations. sqlx does not lock migrations on SQLite, so when several processes
/// open a fresh file at once, all but one fail on their first try (each migration runs in its own
/// transaction, so nothing is half-applied): they try again and find the work done.
async fn migrate(pool: &SqlitePool) -> Result<(), OpenError> {
    let mut attempt = 0;
    loop {
        match MIGRATOR.run(pool).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt < 10 => {
                attempt += 1;
                tracing::debug!(error = %e, attempt, "migration raced with another process; retrying");
                tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
            }
            Err(e) => return Err(OpenError::Migrate(e)),
        }
    }
}

macro_rules! credential_cols {
    () => {
        "client_id, company_id, label, scopes, created_at, updated_at, last_used_at"
    };
}
macro_rules! group_cols {
    () => {
        "id, company_id, name, public, custom, parent_id, extra"
    };
}

impl SqliteStore {
    async fn secrets_of(&self, id: &str) -> Result<Vec<StoredSecret>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, client_id, hash, created_at, expires_at FROM credential_secrets \
             WHERE client_id = ? ORDER BY created_at, id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(|r| secret_row(r).map(|(_, s)| s)).collect()
    }

    async fn with_secrets(&self, rows: Vec<SqliteRow>) -> Result<Vec<Credential>, StoreError> {
        let mut creds = rows
            .iter()
            .map(credential_row)
            .collect::<Result<Vec<_>, _>>()?;
        for c in &mut creds {
            c.secrets = self.secrets_of(c.client_id.as_str()).await?;
        }
        Ok(creds)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn server_key(&self) -> Result<Vec<u8>, StoreError> {
        let mut fresh = Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(fresh.as_mut_slice())
            .map_err(|_| StoreError::Backend("the system random number generator failed".into()))?;
        sqlx::query("INSERT OR IGNORE INTO settings(name, value) VALUES ('server_key', ?)")
            .bind(fresh.as_slice())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        let row = sqlx::query("SELECT value FROM settings WHERE name = 'server_key'")
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        row.try_get("value").map_err(backend)
    }

    async fn create_company(&self, c: &Company, root: &Group) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query(
            "INSERT INTO companies(id, name, scopes, max_credentials, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(c.id.to_string())
        .bind(&c.name)
        .bind(c.scopes.to_string())
        .bind(i64::from(c.max_credentials))
        .bind(c.created_at)
        .bind(c.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        insert_group(&mut tx, root).await?;
        tx.commit().await.map_err(backend)
    }

    async fn get_company(&self, id: &CompanyId) -> Result<Option<Company>, StoreError> {
        let row = sqlx::query("SELECT * FROM companies WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(company_row).transpose()
    }

    async fn list_companies(&self) -> Result<Vec<Company>, StoreError> {
        let rows = sqlx::query("SELECT * FROM companies ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(company_row).collect()
    }

    async fn update_company(&self, c: &Company) -> Result<(), StoreError> {
        let r = sqlx::query(
            "UPDATE companies SET name = ?, scopes = ?, max_credentials = ?, updated_at = ? WHERE id = ?",
        )
        .bind(&c.name)
        .bind(c.scopes.to_string())
        .bind(i64::from(c.max_credentials))
        .bind(c.updated_at)
        .bind(c.id.to_string())
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn create_credential(&self, c: &Credential) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let company = c.company_id.to_string();
        // One statement: the count and the insert happen under the same write lock.
        let r = sqlx::query(
            "INSERT INTO credentials(client_id, company_id, label, scopes, created_at, updated_at) \
             SELECT ?1, ?2, ?3, ?4, ?5, ?6 \
             WHERE (SELECT COUNT(*) FROM credentials WHERE company_id = ?2) \
                 < (SELECT max_credentials FROM companies WHERE id = ?2)",
        )
        .bind(c.client_id.as_str())
        .bind(&company)
        .bind(&c.label)
        .bind(c.scopes.to_string())
        .bind(c.created_at)
        .bind(c.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if r.rows_affected() == 0 {
            let max: Option<i64> =
                sqlx::query_scalar("SELECT max_credentials FROM companies WHERE id = ?")
                    .bind(&company)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?;
            return Err(match max {
                Some(max) => StoreError::CredentialLimit { max: max as u32 },
                None => StoreError::NotFound,
            });
        }
        for s in &c.secrets {
            insert_secret(&mut tx, c.client_id.as_str(), s).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn get_credential(&self, id: &ClientId) -> Result<Option<Credential>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            credential_cols!(),
            " FROM credentials WHERE client_id = ?"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        match row {
            Some(r) => Ok(self.with_secrets(vec![r]).await?.pop()),
            None => Ok(None),
        }
    }

    async fn list_credentials(&self, company: &CompanyId) -> Result<Vec<Credential>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            credential_cols!(),
            " FROM credentials WHERE company_id = ? ORDER BY created_at, client_id"
        ))
        .bind(company.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        self.with_secrets(rows).await
    }

    async fn list_all_credentials(&self) -> Result<Vec<Credential>, StoreError> {
        // One read transaction (one WAL snapshot): a rotation committed between the two reads must
        // not leave a credential without its new secret.
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let creds = crate::read_all_credentials::<sqlx::Sqlite>(&mut tx).await?;
        tx.commit().await.map_err(backend)?;
        Ok(creds)
    }

    async fn update_credential(
        &self,
        id: &ClientId,
        label: &str,
        scopes: &ScopeSet,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let r = sqlx::query(
            "UPDATE credentials SET label = ?, scopes = ?, updated_at = ? WHERE client_id = ?",
        )
        .bind(label)
        .bind(scopes.to_string())
        .bind(now)
        .bind(id.as_str())
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn rotate_secret(
        &self,
        id: &ClientId,
        new_secret: &StoredSecret,
        old_expire_at: UnixTime,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let r = sqlx::query("UPDATE credentials SET updated_at = ? WHERE client_id = ?")
            .bind(now)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "UPDATE credential_secrets SET expires_at = MIN(COALESCE(expires_at, ?1), ?1) WHERE client_id = ?2",
        )
        .bind(old_expire_at)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query(
            "DELETE FROM credential_secrets WHERE client_id = ? AND expires_at IS NOT NULL AND expires_at <= ?",
        )
        .bind(id.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        insert_secret(&mut tx, id.as_str(), new_secret).await?;
        tx.commit().await.map_err(backend)
    }

    async fn delete_credential(&self, id: &ClientId) -> Result<(), StoreError> {
        let r = sqlx::query("DELETE FROM credentials WHERE client_id = ?")
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn record_last_used(&self, used: &[(ClientId, UnixTime)]) -> Result<(), StoreError> {
        if used.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(backend)?;
        for (id, t) in used {
            sqlx::query(
                "UPDATE credentials SET last_used_at = MAX(COALESCE(last_used_at, 0), ?) WHERE client_id = ?",
            )
            .bind(t)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM signing_keys ORDER BY created_at, kid")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(SigningKeyRecord {
                    kid: r.try_get("kid").map_err(backend)?,
                    alg: crate::rows::signing_alg(
                        &r.try_get::<String, _>("alg").map_err(backend)?,
                    )?,
                    private_pkcs8: Zeroizing::new(r.try_get("private_pkcs8").map_err(backend)?),
                    public: r.try_get("public").map_err(backend)?,
                    created_at: r.try_get("created_at").map_err(backend)?,
                    retired_at: r.try_get("retired_at").map_err(backend)?,
                    publish_until: r.try_get("publish_until").map_err(backend)?,
                })
            })
            .collect()
    }

    async fn insert_signing_key(&self, k: &SigningKeyRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO signing_keys(kid, alg, private_pkcs8, public, created_at, retired_at, publish_until) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&k.kid)
        .bind(k.alg.as_str())
        .bind(k.private_pkcs8.as_slice())
        .bind(&k.public)
        .bind(k.created_at)
        .bind(k.retired_at)
        .bind(k.publish_until)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn retire_signing_keys(
        &self,
        keep: &str,
        retired_at: UnixTime,
        publish_until: UnixTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            // As on PostgreSQL: the key kept is the one added last among `keep` and the unretired
            // keys, so rotations racing each other (processes starting at once) converge on one key
            // instead of retiring each other's. One statement: SQLite runs it under its write lock.
            "UPDATE signing_keys SET retired_at = ?1, publish_until = ?2 \
             WHERE retired_at IS NULL AND kid <> ( \
                 SELECT kid FROM signing_keys WHERE retired_at IS NULL OR kid = ?3 \
                 ORDER BY rowid DESC LIMIT 1)",
        )
        .bind(retired_at)
        .bind(publish_until)
        .bind(keep)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn revoke_token(
        &self,
        jti: &str,
        client_id: &ClientId,
        expires_at: UnixTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO revoked_tokens(jti, client_id, expires_at) VALUES (?, ?, ?) \
             ON CONFLICT(jti) DO NOTHING",
        )
        .bind(jti)
        .bind(client_id.as_str())
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn revoked_token(&self, jti: &str) -> Result<Option<UnixTime>, StoreError> {
        sqlx::query_scalar("SELECT expires_at FROM revoked_tokens WHERE jti = ?")
            .bind(jti)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)
    }

    async fn revoked_tokens(&self, now: UnixTime) -> Result<Vec<(String, UnixTime)>, StoreError> {
        let rows = sqlx::query("SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > ?")
            .bind(now)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("jti").map_err(backend)?,
                    r.try_get("expires_at").map_err(backend)?,
                ))
            })
            .collect()
    }

    async fn prune_revoked(&self, now: UnixTime) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM revoked_tokens WHERE expires_at <= ?")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn last_change_seq(&self) -> Result<i64, StoreError> {
        // After a prune that emptied the log, the position is where the prune stopped.
        sqlx::query_scalar(
            "SELECT MAX(COALESCE((SELECT MAX(seq) FROM change_log), 0), \
                        COALESCE((SELECT CAST(value AS INTEGER) FROM settings \
                                  WHERE name = 'change_log_pruned_through'), 0))",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(backend)
    }

    async fn changes_since(&self, seq: i64, limit: u32) -> Result<Option<Vec<Change>>, StoreError> {
        let pruned: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(value AS INTEGER) FROM settings WHERE name = 'change_log_pruned_through'",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        if pruned.is_some_and(|p| p > seq) {
            return Ok(None);
        }
        let rows =
            sqlx::query("SELECT seq, kind, key FROM change_log WHERE seq > ? ORDER BY seq LIMIT ?")
                .bind(seq)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let kind: String = r.try_get("kind").map_err(backend)?;
            let kind = match kind.as_str() {
                "company" => ChangeKind::Company,
                "credential" => ChangeKind::Credential,
                "key" => ChangeKind::SigningKey,
                "revocation" => ChangeKind::Revocation,
                "groups" => ChangeKind::Groups,
                _ => continue,
            };
            out.push(Change {
                seq: r.try_get("seq").map_err(backend)?,
                kind,
                key: r.try_get("key").map_err(backend)?,
            });
        }
        Ok(Some(out))
    }

    async fn prune_changes(&self, keep_secs: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let through: Option<i64> =
            sqlx::query_scalar("SELECT MAX(seq) FROM change_log WHERE at < unixepoch() - ?")
                .bind(keep_secs)
                .fetch_one(&mut *tx)
                .await
                .map_err(backend)?;
        if let Some(through) = through {
            sqlx::query("DELETE FROM change_log WHERE seq <= ?")
                .bind(through)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            sqlx::query(
                "INSERT INTO settings(name, value) VALUES ('change_log_pruned_through', ?) \
                 ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            )
            .bind(through)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn list_groups(
        &self,
        company: &CompanyId,
        after: Option<&GroupId>,
        limit: u32,
    ) -> Result<Vec<Group>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            group_cols!(),
            " FROM groups WHERE company_id = ? AND id > ? ORDER BY id LIMIT ?"
        ))
        .bind(company.to_string())
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(group_row).collect()
    }

    async fn get_group(
        &self,
        company: &CompanyId,
        id: &GroupId,
    ) -> Result<Option<Group>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            group_cols!(),
            " FROM groups WHERE company_id = ? AND id = ?"
        ))
        .bind(company.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(group_row).transpose()
    }

    async fn insert_group(&self, g: &Group) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        insert_group(&mut tx, g).await?;
        tx.commit().await.map_err(backend)
    }

    async fn update_group(&self, g: &Group) -> Result<(), StoreError> {
        let r = sqlx::query(
            "UPDATE groups SET name = ?, public = ?, custom = ?, parent_id = ?, extra = ? \
             WHERE company_id = ? AND id = ?",
        )
        .bind(&g.name)
        .bind(g.public)
        .bind(&g.custom)
        .bind(g.parent_id.map(|p| p.to_string()))
        .bind(json(&g.extra)?)
        .bind(g.company_id.to_string())
        .bind(g.id.to_string())
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_group(&self, company: &CompanyId, id: &GroupId) -> Result<(), StoreError> {
        let r = sqlx::query(
            "WITH RECURSIVE sub(id) AS ( \
                 SELECT id FROM groups WHERE company_id = ?1 AND id = ?2 \
                 UNION ALL \
                 SELECT g.id FROM groups g JOIN sub ON g.parent_id = sub.id WHERE g.company_id = ?1) \
             DELETE FROM groups WHERE company_id = ?1 AND id IN (SELECT id FROM sub)",
        )
        .bind(company.to_string())
        .bind(id.to_string())
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn insert_user(&self, u: &User) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO users(id, company_id, email, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(u.id.to_string())
        .bind(u.company_id.to_string())
        .bind(u.email.as_str())
        .bind(u.role.as_str())
        .bind(&u.password_hash)
        .bind(u.created_at)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn get_user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        let row = sqlx::query("SELECT * FROM users WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(user_row).transpose()
    }

    async fn get_user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let row = sqlx::query("SELECT * FROM users WHERE email = ?")
            .bind(email.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(user_row).transpose()
    }

    async fn list_users(&self, company: &CompanyId) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query("SELECT * FROM users WHERE company_id = ? ORDER BY created_at, id")
            .bind(company.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(user_row).collect()
    }

    async fn set_user_role(&self, id: &UserId, role: Role) -> Result<(), StoreError> {
        let r = sqlx::query("UPDATE users SET role = ? WHERE id = ?")
            .bind(role.as_str())
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_user(&self, id: &UserId) -> Result<(), StoreError> {
        let r = sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn insert_session(&self, s: &SessionRecord) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO sessions(id_hash, user_id, csrf, expires_at) VALUES (?, ?, ?, ?)")
            .bind(&s.id_hash)
            .bind(s.user_id.to_string())
            .bind(&s.csrf)
            .bind(s.expires_at)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn get_session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM sessions WHERE id_hash = ?")
            .bind(id_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(session_row).transpose()
    }

    async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = ?")
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn append_audit(&self, e: &AuditEvent) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log(at, company_id, actor, action, target, remote_addr) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(e.at)
        .bind(e.company_id.to_string())
        .bind(&e.actor)
        .bind(e.action.as_str())
        .bind(&e.target)
        .bind(&e.remote_addr)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn list_audit(
        &self,
        company: &CompanyId,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM audit_log WHERE company_id = ? ORDER BY seq DESC LIMIT ?")
                .bind(company.to_string())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
        rows.iter().map(audit_row).collect()
    }
}

async fn insert_secret(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    client_id: &str,
    s: &StoredSecret,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO credential_secrets(id, client_id, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(s.id.as_str())
    .bind(client_id)
    .bind(s.hash.0.as_slice())
    .bind(s.created_at)
    .bind(s.expires_at)
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(())
}

async fn insert_group(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    g: &Group,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO groups(id, company_id, name, public, custom, parent_id, extra) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(g.id.to_string())
    .bind(g.company_id.to_string())
    .bind(&g.name)
    .bind(g.public)
    .bind(&g.custom)
    .bind(g.parent_id.map(|p| p.to_string()))
    .bind(json(&g.extra)?)
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(())
}
