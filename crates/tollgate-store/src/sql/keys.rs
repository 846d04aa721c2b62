//! The server key, signing keys and revoked tokens ([`KeyStore`]).

use async_trait::async_trait;
use sqlx::query;
use tollgate_core::clock::UnixTime;
use tollgate_core::ids::ClientId;
use tollgate_core::kek::{Census, Rewrapped, Row};
use tollgate_core::model::SigningKeyRecord;
use tollgate_core::store::{KeyStore, StoreError};
use zeroize::Zeroizing;

use super::{SqlStore, backend};
use crate::dialect::{ArgExt as _, Columns as _, Conn as _, Dialect};
use crate::rows::signing_key_row;

#[async_trait]
impl<D: Dialect> KeyStore for SqlStore<D> {
    async fn server_key(&self) -> Result<Vec<u8>, StoreError> {
        let mut fresh = Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(fresh.as_mut_slice())
            .map_err(|_| StoreError::Backend("the system random number generator failed".into()))?;
        let sealed = self.wrap.seal(Row::ServerKey, fresh.as_slice())?;
        let mut c = self.conn().await?;
        // Nodes starting at once all try; the first insert wins and the others insert nothing (on
        // PostgreSQL they wait for its commit) and read the winner's key.
        query::<D>(
            "INSERT INTO settings(name, value) VALUES ('server_key', $1) \
             ON CONFLICT (name) DO NOTHING",
        )
        .arg(sealed.as_slice())
        .execute(c.ex())
        .await
        .map_err(backend)?;
        let row = query::<D>("SELECT value FROM settings WHERE name = 'server_key'")
            .fetch_one(c.ex())
            .await
            .map_err(backend)?;
        let stored = row.bytes("value")?;
        let mut plain = self.wrap.open(Row::ServerKey, &stored)?;
        Ok(std::mem::take(&mut *plain))
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let mut c = self.conn().await?;
        let rows = query::<D>(
            "SELECT kid, alg, private_pkcs8, public, created_at, retired_at, publish_until \
             FROM signing_keys ORDER BY created_at, kid",
        )
        .fetch_all(c.ex())
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                let mut k = signing_key_row(r)?;
                k.private_pkcs8 = self.wrap.open(Row::SigningKey(&k.kid), &k.private_pkcs8)?;
                Ok(k)
            })
            .collect()
    }

    async fn insert_signing_key(&self, k: &SigningKeyRecord) -> Result<(), StoreError> {
        let private = Zeroizing::new(self.wrap.seal(Row::SigningKey(&k.kid), &k.private_pkcs8)?);
        let mut c = self.conn().await?;
        // `added` orders the keys by insertion (see `retire_signing_keys`); two nodes inserting at
        // once may get the same number, and the `kid` breaks the tie the same way everywhere.
        query::<D>(
            "INSERT INTO signing_keys(kid, alg, private_pkcs8, public, created_at, retired_at, \
                                      publish_until, added) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, \
                     (SELECT COALESCE(MAX(added), 0) + 1 FROM signing_keys))",
        )
        .arg(&k.kid)
        .arg(k.alg.as_str())
        .arg(private.as_slice())
        .arg(k.public.as_slice())
        .arg(k.created_at)
        .arg(k.retired_at)
        .arg(k.publish_until)
        .execute(c.ex())
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn keys_at_rest(&self) -> Result<Census, StoreError> {
        let mut c = self.conn().await?;
        let mut census = Census {
            configured: self.wrap.ids(),
            ..Census::default()
        };
        let server = query::<D>("SELECT value FROM settings WHERE name = 'server_key'")
            .fetch_optional(c.ex())
            .await
            .map_err(backend)?;
        if let Some(r) = server {
            census.add(&r.bytes("value")?);
        }
        let keys = query::<D>("SELECT private_pkcs8 FROM signing_keys")
            .fetch_all(c.ex())
            .await
            .map_err(backend)?;
        for r in &keys {
            census.add(&Zeroizing::new(r.bytes("private_pkcs8")?));
        }
        let hooks = query::<D>("SELECT secret, previous_secret FROM webhooks")
            .fetch_all(c.ex())
            .await
            .map_err(backend)?;
        for r in &hooks {
            census.add(&Zeroizing::new(r.bytes("secret")?));
            if let Some(prev) = r.opt_bytes("previous_secret")? {
                census.add(&Zeroizing::new(prev));
            }
        }
        Ok(census)
    }

    async fn rewrap_keys(&self) -> Result<Rewrapped, StoreError> {
        let mut done = Rewrapped::default();
        let mut count = |changed: bool| {
            if changed {
                done.changed += 1;
            } else {
                done.unchanged += 1;
            }
        };
        // One transaction: a failure (a row no configured key opens) leaves every row as it was.
        let mut tx = self.begin_write().await?;
        if let Some(lock) = D::LOCK_SIGNING_KEYS {
            query::<D>(lock).execute(tx.ex()).await.map_err(backend)?;
        }
        let server = query::<D>("SELECT value FROM settings WHERE name = 'server_key'")
            .fetch_optional(tx.ex())
            .await
            .map_err(backend)?;
        if let Some(r) = server {
            let stored = Zeroizing::new(r.bytes("value")?);
            let sealed = self.wrap.rewrap(Row::ServerKey, &stored)?;
            if let Some(sealed) = &sealed {
                query::<D>("UPDATE settings SET value = $1 WHERE name = 'server_key'")
                    .arg(sealed.as_slice())
                    .execute(tx.ex())
                    .await
                    .map_err(backend)?;
            }
            count(sealed.is_some());
        }
        let keys = query::<D>("SELECT kid, private_pkcs8 FROM signing_keys ORDER BY kid")
            .fetch_all(tx.ex())
            .await
            .map_err(backend)?;
        for r in &keys {
            let kid = r.text("kid")?;
            let stored = Zeroizing::new(r.bytes("private_pkcs8")?);
            let sealed = self.wrap.rewrap(Row::SigningKey(&kid), &stored)?;
            if let Some(sealed) = &sealed {
                query::<D>("UPDATE signing_keys SET private_pkcs8 = $1 WHERE kid = $2")
                    .arg(sealed.as_slice())
                    .arg(&kid)
                    .execute(tx.ex())
                    .await
                    .map_err(backend)?;
            }
            count(sealed.is_some());
        }
        // Webhook signing secrets (current and, after a rotation, previous).
        let hooks = query::<D>("SELECT id, secret, previous_secret FROM webhooks ORDER BY id")
            .fetch_all(tx.ex())
            .await
            .map_err(backend)?;
        for r in &hooks {
            let id = r.text("id")?;
            for column in ["secret", "previous_secret"] {
                let Some(stored) = r.opt_bytes(column)?.map(Zeroizing::new) else {
                    continue;
                };
                let sealed = self.wrap.rewrap(Row::WebhookSecret(&id), &stored)?;
                if let Some(sealed) = &sealed {
                    // The column name is one of the two above, never input.
                    let sql = format!("UPDATE webhooks SET {column} = $1 WHERE id = $2");
                    query::<D>(sqlx::AssertSqlSafe(sql))
                        .arg(sealed.as_slice())
                        .arg(&id)
                        .execute(tx.ex())
                        .await
                        .map_err(backend)?;
                }
                count(sealed.is_some());
            }
        }
        tx.commit().await.map_err(backend)?;
        Ok(done)
    }

    async fn retire_signing_keys(
        &self,
        keep: &str,
        retired_at: UnixTime,
        publish_until: UnixTime,
    ) -> Result<(), StoreError> {
        // Nodes that start at once on an empty database each add a key and retire the others; done
        // blindly, two such rotations can retire each other's key and leave none current. So the
        // key kept is the one added last among `keep` and the unretired keys: in the usual case
        // that is `keep` itself, and rotations racing each other all converge on the same key.
        let mut tx = self.begin_write().await?;
        if let Some(lock) = D::LOCK_SIGNING_KEYS {
            query::<D>(lock).execute(tx.ex()).await.map_err(backend)?;
        }
        query::<D>(
            "UPDATE signing_keys SET retired_at = $1, publish_until = $2 \
             WHERE retired_at IS NULL AND kid <> ( \
                 SELECT kid FROM signing_keys WHERE retired_at IS NULL OR kid = $3 \
                 ORDER BY added DESC, kid DESC LIMIT 1)",
        )
        .arg(retired_at)
        .arg(publish_until)
        .arg(keep)
        .execute(tx.ex())
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
        let mut c = self.conn().await?;
        query::<D>(
            "INSERT INTO revoked_tokens(jti, client_id, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (jti) DO NOTHING",
        )
        .arg(jti)
        .arg(client_id.as_str())
        .arg(expires_at)
        .execute(c.ex())
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn revoked_token(&self, jti: &str) -> Result<Option<UnixTime>, StoreError> {
        let mut c = self.conn().await?;
        let row = query::<D>("SELECT expires_at FROM revoked_tokens WHERE jti = $1")
            .arg(jti)
            .fetch_optional(c.ex())
            .await
            .map_err(backend)?;
        row.map(|r| r.int("expires_at")).transpose()
    }

    async fn revoked_tokens(&self, now: UnixTime) -> Result<Vec<(String, UnixTime)>, StoreError> {
        let mut c = self.conn().await?;
        let rows = query::<D>("SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > $1")
            .arg(now)
            .fetch_all(c.ex())
            .await
            .map_err(backend)?;
        rows.iter()
            .map(|r| Ok((r.text("jti")?, r.int("expires_at")?)))
            .collect()
    }

    async fn prune_revoked(&self, now: UnixTime) -> Result<(), StoreError> {
        let mut c = self.conn().await?;
        query::<D>("DELETE FROM revoked_tokens WHERE expires_at <= $1")
            .arg(now)
            .execute(c.ex())
            .await
            .map_err(backend)?;
        Ok(())
    }
}
