//! The PostgreSQL backend: many nodes on one database.
//!
//! Mirrors the SQLite backend table for table (`migrations/postgres`). What differs:
//! - **Migrations** run under sqlx's advisory lock (`pg_advisory_lock` on a key derived from the
//!   database name), so when several nodes start at once one migrates and the others wait, then find
//!   the work done.
//! - **The change feed** is kept by triggers, as on SQLite, and each commit that appends to it also
//!   sends `NOTIFY tollgate_changes`. Every store holds one extra connection that `LISTEN`s and turns
//!   notifications into a wake-up signal ([`Store::subscribe`]); it reconnects on its own and signals
//!   once more after each reconnect, since notifications sent meanwhile are lost. The servers' periodic
//!   poll stays as the safety net.
//! - **Credential limit**: the create transaction locks the company row (`SELECT … FOR UPDATE`) before
//!   counting, so concurrent creations on any number of nodes queue on that row.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions, PgRow};
use sqlx::{PgPool, Row};
use tokio::sync::watch;
use tokio::task::JoinHandle;
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

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The channel the change-feed trigger notifies on (see the first migration).
pub const CHANGE_CHANNEL: &str = "tollgate_changes";

/// Connections per node for queries (the listener has one more of its own).
const MAX_CONNECTIONS: u32 = 10;

/// tollgate's data in a PostgreSQL database, shared by any number of nodes.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    feed: Arc<Feed>,
}

/// The LISTEN task and the signal it drives; the task stops when the last store handle goes.
struct Feed {
    signal: watch::Receiver<u64>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("wakeups", &*self.signal.borrow())
            .finish_non_exhaustive()
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PgStore {
    /// Connects to the database named by `url` (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB?…`, every
    /// libpq-style option sqlx knows, e.g. `sslmode=require`) and migrates it. Safe when several
    /// nodes start at once.
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        let opts = PgConnectOptions::from_str(url)
            .map_err(OpenError::Connect)?
            .application_name("tollgate")
            // Not "relation _sqlx_migrations already exists, skipping" at every start.
            .options([("client_min_messages", "warning")]);
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(opts.clone())
            .await
            .map_err(OpenError::Connect)?;
        MIGRATOR.run(&pool).await.map_err(OpenError::Migrate)?;

        // One connection of its own for LISTEN, apart from the query pool, kept for as long as it lives.
        let listen_pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_lazy_with(opts);
        let (tx, signal) = watch::channel(0u64);
        let task = tokio::spawn(listen(listen_pool, tx));
        Ok(Self {
            pool,
            feed: Arc::new(Feed { signal, task }),
        })
    }

    /// Closes the pool (waits for connections to be returned) and stops listening.
    pub async fn close(&self) {
        self.feed.task.abort();
        self.pool.close().await;
    }
}

/// Follows `NOTIFY tollgate_changes` and bumps `tx` on each notification, and after every (re)connect
/// (notifications sent while no connection listened are lost: the reader must look at the feed).
async fn listen(pool: PgPool, tx: watch::Sender<u64>) {
    let bump = || tx.send_modify(|n| *n = n.wrapping_add(1));
    let mut backoff = Duration::from_millis(100);
    let mut failing = false;
    loop {
        let connected = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(CHANGE_CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        }
        .await;
        let mut listener = match connected {
            Ok(l) => l,
            Err(e) => {
                if failing {
                    tracing::debug!(error = %e, "change notifications: still cannot listen");
                } else {
                    tracing::warn!(error = %e, "change notifications: cannot listen; retrying (the periodic poll goes on)");
                    failing = true;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
                continue;
            }
        };
        if std::mem::take(&mut failing) {
            tracing::info!("change notifications: listening again");
        }
        backoff = Duration::from_millis(100);
        bump();
        loop {
            match listener.try_recv().await {
                Ok(Some(_)) => bump(),
                // The connection dropped and the listener reconnected (LISTENing again) at once.
                Ok(None) => {
                    tracing::info!("change notifications: connection lost and re-established");
                    bump();
                }
                Err(sqlx::Error::PoolClosed) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "change notifications: connection lost; reconnecting (the periodic poll goes on)");
                    failing = true;
                    break;
                }
            }
        }
        tokio::time::sleep(backoff).await;
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
macro_rules! user_cols {
    () => {
        "id, company_id, email, role, password_hash, created_at"
    };
}

impl PgStore {
    /// Credentials from `rows`, each with its secrets (one query for all of them).
    async fn with_secrets(&self, rows: Vec<PgRow>) -> Result<Vec<Credential>, StoreError> {
        let mut creds = rows
            .iter()
            .map(credential_row)
            .collect::<Result<Vec<_>, _>>()?;
        if creds.is_empty() {
            return Ok(creds);
        }
        let ids: Vec<&str> = creds.iter().map(|c| c.client_id.as_str()).collect();
        let rows = sqlx::query(
            "SELECT id, client_id, hash, created_at, expires_at FROM credential_secrets \
             WHERE client_id = ANY($1) ORDER BY created_at, id",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let mut by_client: HashMap<String, Vec<StoredSecret>> = HashMap::new();
        for r in &rows {
            let (cid, s) = secret_row(r)?;
            by_client.entry(cid).or_default().push(s);
        }
        for c in &mut creds {
            c.secrets = by_client.remove(c.client_id.as_str()).unwrap_or_default();
        }
        Ok(creds)
    }
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    fn subscribe(&self) -> Option<watch::Receiver<u64>> {
        let mut rx = self.feed.signal.clone();
        rx.mark_unchanged();
        Some(rx)
    }

    async fn server_key(&self) -> Result<Vec<u8>, StoreError> {
        let mut fresh = Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(fresh.as_mut_slice())
            .map_err(|_| StoreError::Backend("the system random number generator failed".into()))?;
        // Nodes starting at once all try; the first insert wins and the others wait for its commit,
        // then insert nothing and read the winner's key.
        sqlx::query(
            "INSERT INTO settings(name, value) VALUES ('server_key', $1) ON CONFLICT (name) DO NOTHING",
        )
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
             VALUES ($1, $2, $3, $4, $5, $6)",
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
        let row = sqlx::query("SELECT * FROM companies WHERE id = $1")
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
            "UPDATE companies SET name = $1, scopes = $2, max_credentials = $3, updated_at = $4 \
             WHERE id = $5",
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
        // The company row lock makes count-then-insert atomic: concurrent creations for the same
        // company, from any node, queue here (and see each other's rows once they get the lock).
        let max: Option<i64> =
            sqlx::query_scalar("SELECT max_credentials FROM companies WHERE id = $1 FOR UPDATE")
                .bind(&company)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
        let Some(max) = max else {
            return Err(StoreError::NotFound);
        };
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM credentials WHERE company_id = $1")
                .bind(&company)
                .fetch_one(&mut *tx)
                .await
                .map_err(backend)?;
        if count >= max {
            return Err(StoreError::CredentialLimit { max: max as u32 });
        }
        sqlx::query(
            "INSERT INTO credentials(client_id, company_id, label, scopes, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
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
        for s in &c.secrets {
            insert_secret(&mut tx, c.client_id.as_str(), s).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn get_credential(&self, id: &ClientId) -> Result<Option<Credential>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            credential_cols!(),
            " FROM credentials WHERE client_id = $1"
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
            " FROM credentials WHERE company_id = $1 ORDER BY created_at, client_id"
        ))
        .bind(company.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        self.with_secrets(rows).await
    }

    async fn list_all_credentials(&self) -> Result<Vec<Credential>, StoreError> {
        // One snapshot for credentials and secrets: a rotation committed between two reads must not
        // leave a credential without its new secret.
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let creds = crate::read_all_credentials::<sqlx::Postgres>(&mut tx).await?;
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
            "UPDATE credentials SET label = $1, scopes = $2, updated_at = $3 WHERE client_id = $4",
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
        // Locks the credential row: two rotations of one credential run one after the other.
        let r = sqlx::query("UPDATE credentials SET updated_at = $1 WHERE client_id = $2")
            .bind(now)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "UPDATE credential_secrets SET expires_at = LEAST(COALESCE(expires_at, $1), $1) \
             WHERE client_id = $2",
        )
        .bind(old_expire_at)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query(
            "DELETE FROM credential_secrets \
             WHERE client_id = $1 AND expires_at IS NOT NULL AND expires_at <= $2",
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
        let r = sqlx::query("DELETE FROM credentials WHERE client_id = $1")
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
        // One transaction, rows locked in client-id order: two nodes flushing at once cannot deadlock.
        let mut sorted: Vec<(&str, UnixTime)> =
            used.iter().map(|(c, t)| (c.as_str(), *t)).collect();
        sorted.sort_unstable();
        let mut tx = self.pool.begin().await.map_err(backend)?;
        for (id, t) in sorted {
            sqlx::query(
                "UPDATE credentials SET last_used_at = GREATEST(COALESCE(last_used_at, 0), $1) \
                 WHERE client_id = $2",
            )
            .bind(t)
            .bind(id)
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
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
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
        // Nodes that start at once on an empty database each add a key and retire the others; done
        // blindly, two such rotations can retire each other's key and leave none current. So the key
        // kept is the one added last among `keep` and the unretired keys: in the usual case that is
        // `keep` itself, and rotations racing each other all converge on the same key. The table
        // lock makes them take turns.
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query(
            "UPDATE signing_keys SET retired_at = $1, publish_until = $2 \
             WHERE retired_at IS NULL AND kid <> ( \
                 SELECT kid FROM signing_keys WHERE retired_at IS NULL OR kid = $3 \
                 ORDER BY added DESC LIMIT 1)",
        )
        .bind(retired_at)
        .bind(publish_until)
        .bind(keep)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn revoke_token(
        &self,
        jti: &str,
        client_id: &ClientId,
        expires_at: UnixTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO revoked_tokens(jti, client_id, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (jti) DO NOTHING",
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
        sqlx::query_scalar("SELECT expires_at FROM revoked_tokens WHERE jti = $1")
            .bind(jti)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)
    }

    async fn revoked_tokens(&self, now: UnixTime) -> Result<Vec<(String, UnixTime)>, StoreError> {
        let rows = sqlx::query("SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > $1")
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
        sqlx::query("DELETE FROM revoked_tokens WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn last_change_seq(&self) -> Result<i64, StoreError> {
        // After a prune that emptied the log, the position is where the prune stopped.
        sqlx::query_scalar(
            "SELECT GREATEST(COALESCE((SELECT MAX(seq) FROM change_log), 0), \
                             COALESCE((SELECT through FROM change_log_pruned), 0))",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(backend)
    }

    async fn changes_since(&self, seq: i64, limit: u32) -> Result<Option<Vec<Change>>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, kind, key FROM change_log WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(seq)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        // Read after the rows: a prune that committed in between is seen here, so rows it removed
        // from under the read above cannot go unnoticed.
        let pruned: Option<i64> = sqlx::query_scalar("SELECT through FROM change_log_pruned")
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        if pruned.is_some_and(|p| p > seq) {
            return Ok(None);
        }
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
        let through: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(seq) FROM change_log \
             WHERE at < floor(extract(epoch FROM clock_timestamp()))::bigint - $1",
        )
        .bind(keep_secs)
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        if let Some(through) = through {
            sqlx::query("DELETE FROM change_log WHERE seq <= $1")
                .bind(through)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            // Several nodes prune: the mark only moves forward.
            sqlx::query(
                "INSERT INTO change_log_pruned(only_row, through) VALUES (TRUE, $1) \
                 ON CONFLICT (only_row) \
                 DO UPDATE SET through = GREATEST(change_log_pruned.through, excluded.through)",
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
            " FROM groups WHERE company_id = $1 AND id > $2 ORDER BY id LIMIT $3"
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
            " FROM groups WHERE company_id = $1 AND id = $2"
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
            "UPDATE groups SET name = $1, public = $2, custom = $3, parent_id = $4, extra = $5 \
             WHERE company_id = $6 AND id = $7",
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
                 SELECT id FROM groups WHERE company_id = $1 AND id = $2 \
                 UNION \
                 SELECT g.id FROM groups g JOIN sub ON g.parent_id = sub.id WHERE g.company_id = $1) \
             DELETE FROM groups WHERE company_id = $1 AND id IN (SELECT id FROM sub)",
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
            "INSERT INTO users(id, company_id, email, role, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
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
        let row = sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            " FROM users WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(user_row).transpose()
    }

    async fn get_user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            " FROM users WHERE email = $1"
        ))
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(user_row).transpose()
    }

    async fn list_users(&self, company: &CompanyId) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            " FROM users WHERE company_id = $1 ORDER BY created_at, id"
        ))
        .bind(company.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(user_row).collect()
    }

    async fn set_user_role(&self, id: &UserId, role: Role) -> Result<(), StoreError> {
        let r = sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
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
        let r = sqlx::query("DELETE FROM users WHERE id = $1")
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
        sqlx::query(
            "INSERT INTO sessions(id_hash, user_id, csrf, expires_at) VALUES ($1, $2, $3, $4)",
        )
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
        let row = sqlx::query(
            "SELECT id_hash, user_id, csrf, expires_at FROM sessions WHERE id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(session_row).transpose()
    }

    async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn append_audit(&self, e: &AuditEvent) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log(at, company_id, actor, action, target, remote_addr) \
             VALUES ($1, $2, $3, $4, $5, $6)",
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
        let rows = sqlx::query(
            "SELECT at, company_id, actor, action, target, remote_addr FROM audit_log \
             WHERE company_id = $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(company.to_string())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(audit_row).collect()
    }
}

async fn insert_secret(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    client_id: &str,
    s: &StoredSecret,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO credential_secrets(id, client_id, hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
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
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    g: &Group,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO groups(id, company_id, name, public, custom, parent_id, extra) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
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
