//! Storage backends for tollgate: implementations of [`tollgate_core::store::Store`].
//!
//! - SQLite ([`SqliteStore`]): one machine; WAL mode, embedded migrations, a change feed kept by
//!   triggers so that writes by any process — the server, the CLI — reach every server's cache.
//! - PostgreSQL ([`PgStore`]): any number of nodes on one database; the same schema and change feed,
//!   plus LISTEN/NOTIFY so that every node hears of a change as soon as it commits.
//!
//! [`open`] picks the backend from the URL and migrates (safely when several nodes start at once).
//!
//! ```no_run
//! # async fn demo() -> Result<(), tollgate_store::OpenError> {
//! let store = tollgate_store::open("sqlite://tollgate.db").await?; // migrates first
//! let shared = tollgate_store::open("postgres://tollgate@db.internal/tollgate").await?;
//! # let _ = (store, shared); Ok(()) }
//! ```

mod postgres;
mod rows;
mod sqlite;
pub mod testing;

use std::sync::Arc;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;
use tollgate_core::store::Store;

/// Opening a database failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The URL names a backend this build does not have.
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://USER@HOST/DATABASE")]
    UnsupportedUrl(String),
    /// Connecting failed.
    #[error("cannot open the database: {0}")]
    Connect(#[source] sqlx::Error),
    /// Migrations failed.
    #[error("cannot migrate the database: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

/// Opens the database named by `url` and applies pending migrations.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, OpenError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::open(url).await?))
    } else {
        let shown: String = url
            .split('@')
            .next_back()
            .unwrap_or("")
            .chars()
            .take(80)
            .collect();
        Err(OpenError::UnsupportedUrl(shown))
    }
}

fn backend(e: sqlx::Error) -> tollgate_core::store::StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        return tollgate_core::store::StoreError::Conflict(db.message().to_owned());
    }
    tollgate_core::store::StoreError::Backend(Box::new(e))
}

/// Every credential, in client-ID order (the same SQL on both backends; see [`attach_secrets`]).
const ALL_CREDENTIALS_SQL: &str = "SELECT client_id, company_id, label, scopes, created_at, \
     updated_at, last_used_at FROM credentials ORDER BY client_id";
/// Every secret, in client-ID order, then oldest first.
const ALL_SECRETS_SQL: &str = "SELECT id, client_id, hash, created_at, expires_at \
     FROM credential_secrets ORDER BY client_id, created_at, id";

/// Every credential with its secrets, read over `conn` (inside the caller's read transaction, so
/// that both reads see one snapshot); rows are decoded as they stream by.
pub(crate) async fn read_all_credentials<DB>(
    conn: &mut DB::Connection,
) -> Result<Vec<tollgate_core::model::Credential>, tollgate_core::store::StoreError>
where
    DB: sqlx::Database,
    DB::Row: rows::Columns,
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
{
    use futures_util::{StreamExt as _, TryStreamExt as _};
    let mut creds: Vec<_> = sqlx::query::<DB>(ALL_CREDENTIALS_SQL)
        .fetch(&mut *conn)
        .map(|r| r.map_err(backend).and_then(|r| rows::credential_row(&r)))
        .try_collect()
        .await?;
    let secrets = sqlx::query::<DB>(ALL_SECRETS_SQL)
        .fetch(&mut *conn)
        .map(|r| r.map_err(backend).and_then(|r| rows::secret_row(&r)));
    attach_secrets(&mut creds, secrets).await?;
    Ok(creds)
}

/// Gives each credential of `creds` its secrets, read as `secrets` streams them by. Both must come
/// in the same order of client ID (the store's own `ORDER BY client_id`, secrets then by creation),
/// so one pass joins them and no row set is held in memory: loading a million credentials costs the
/// credentials themselves, not a second copy of every row.
async fn attach_secrets<S>(
    creds: &mut [tollgate_core::model::Credential],
    mut secrets: S,
) -> Result<(), tollgate_core::store::StoreError>
where
    S: futures_util::Stream<
            Item = Result<
                (String, tollgate_core::model::StoredSecret),
                tollgate_core::store::StoreError,
            >,
        > + Unpin,
{
    use futures_util::TryStreamExt as _;
    let mut i = 0;
    while let Some((client_id, secret)) = secrets.try_next().await? {
        while i < creds.len() && creds[i].client_id.as_str() != client_id {
            i += 1;
        }
        let Some(c) = creds.get_mut(i) else {
            return Err(tollgate_core::store::StoreError::Backend(
                "a secret without its credential, or out of order".into(),
            ));
        };
        c.secrets.push(secret);
    }
    Ok(())
}
