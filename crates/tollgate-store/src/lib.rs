//! Storage backends for tollgate: implementations of [`tollgate_core::store::Store`].
//!
//! - SQLite ([`SqliteStore`]): one machine; WAL mode, embedded migrations, a change feed kept by
//!   triggers so that writes by any process — the server, the CLI — reach every server's cache.
//! - PostgreSQL ([`PgStore`]): any number of nodes on one database; the same schema and change feed,
//!   plus LISTEN/NOTIFY so that every node hears of a change as soon as it commits.
//!
//! [`open`] picks the backend from the URL and migrates (safely when several nodes start at once);
//! [`open_with`] also seals the server key and the signing keys at rest under key-encryption keys
//! ([`tollgate_core::kek`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), tollgate_store::OpenError> {
//! let store = tollgate_store::open("sqlite://tollgate.db").await?; // migrates first
//! let shared = tollgate_store::open("postgres://tollgate@db.internal/tollgate").await?;
//! # let _ = (store, shared); Ok(()) }
//! ```

pub mod dialect;
mod error;
mod listener;
mod postgres;
mod rows;
mod sql;
mod sqlite;
pub mod testing;

use std::sync::Arc;

pub use listener::CHANGE_CHANNEL;
pub use postgres::PgStore;
pub use sql::SqlStore;
pub use sqlite::SqliteStore;
use tollgate_core::kek::KeyWrap;
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

/// Opens the database named by `url` and applies pending migrations. Keys are written in the clear
/// and sealed ones cannot be read: see [`open_with`].
pub async fn open(url: &str) -> Result<Arc<dyn Store>, OpenError> {
    open_with(url, KeyWrap::none()).await
}

/// As [`open`], with the server key and the signing keys sealed under `wrap` (its first key seals,
/// all of them open).
pub async fn open_with(url: &str, wrap: KeyWrap) -> Result<Arc<dyn Store>, OpenError> {
    if is_sqlite(url) {
        Ok(Arc::new(SqliteStore::open(url).await?.with_key_wrap(wrap)))
    } else if is_postgres(url) {
        Ok(Arc::new(PgStore::open(url).await?.with_key_wrap(wrap)))
    } else {
        Err(unsupported(url))
    }
}

/// Where a database stands against this build's migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// Migrations this build knows.
    pub known: usize,
    /// Of those, the ones applied to the database.
    pub applied: usize,
    /// Descriptions of the ones not applied yet, oldest first (`tollgate migrate` applies them).
    pub pending: Vec<String>,
    /// Applied versions this build does not know: a newer tollgate migrated the database.
    pub unknown: usize,
}

impl MigrationStatus {
    fn of(migrator: &sqlx::migrate::Migrator, applied: &[i64]) -> Self {
        let known: Vec<_> = migrator
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .collect();
        let pending: Vec<String> = known
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .map(|m| format!("{} {}", m.version, m.description))
            .collect();
        let unknown = applied
            .iter()
            .filter(|v| !known.iter().any(|m| m.version == **v))
            .count();
        Self {
            known: known.len(),
            applied: known.len() - pending.len(),
            pending,
            unknown,
        }
    }
}

/// How far the database named by `url` is migrated, read without changing it (a SQLite file that
/// does not exist is an error, not created). `tollgate doctor` shows it.
pub async fn migration_status(url: &str) -> Result<MigrationStatus, OpenError> {
    if is_sqlite(url) {
        let applied = sqlite::applied_migrations(url).await?;
        Ok(MigrationStatus::of(&sqlite::MIGRATOR, &applied))
    } else if is_postgres(url) {
        let applied = postgres::applied_migrations(url).await?;
        Ok(MigrationStatus::of(&postgres::MIGRATOR, &applied))
    } else {
        Err(unsupported(url))
    }
}

/// How far the database server's clock is ahead of this machine's, in seconds (negative: behind),
/// measured against the middle of the query's round trip; `None` for SQLite (the file has no clock
/// but this machine's). `tollgate doctor` shows it.
pub async fn database_clock_skew(url: &str) -> Result<Option<f64>, OpenError> {
    if is_postgres(url) {
        postgres::clock_skew(url).await.map(Some)
    } else {
        Ok(None)
    }
}

/// A connection pool on tollgate's database, for an API beside tollgate that keeps its own rows
/// there (the example groups API): its SQL is its own, written once for both backends with
/// [`dialect::Dialect`] as the store's is. Connected as the store connects (SQLite: WAL, foreign
/// keys, busy timeout); it does not migrate (open the store first).
#[derive(Debug, Clone)]
pub enum SqlPool {
    /// A SQLite file.
    Sqlite(sqlx::SqlitePool),
    /// A PostgreSQL database.
    Postgres(sqlx::PgPool),
}

/// Connects a [`SqlPool`] of at most `max_connections` to the database named by `url`.
pub async fn connect(url: &str, max_connections: u32) -> Result<SqlPool, OpenError> {
    if is_sqlite(url) {
        Ok(SqlPool::Sqlite(sqlite::pool(url, max_connections).await?))
    } else if is_postgres(url) {
        Ok(SqlPool::Postgres(
            postgres::pool(url, max_connections).await?,
        ))
    } else {
        Err(unsupported(url))
    }
}

/// A sqlx error as the domain sees it: a broken uniqueness rule is a
/// [`StoreError::Conflict`](tollgate_core::store::StoreError::Conflict), anything else a
/// `Backend` error (a 500, never a client error).
pub fn store_error(e: sqlx::Error) -> tollgate_core::store::StoreError {
    error::backend(e)
}

fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The URL's backend is not known; the URL is shown without its credentials.
fn unsupported(url: &str) -> OpenError {
    let shown: String = url
        .split('@')
        .next_back()
        .unwrap_or("")
        .chars()
        .take(80)
        .collect();
    OpenError::UnsupportedUrl(shown)
}
