//! The SQLite backend: what is SQLite's own (opening the file, its pragmas, migrating when several
//! processes open a fresh file at once, and the [`Dialect`] constants). Every operation is in
//! [`crate::sql`].

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};

use crate::OpenError;
use crate::dialect::Dialect;
use crate::sql::SqlStore;

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// tollgate's data in one SQLite file.
pub type SqliteStore = SqlStore<Sqlite>;

impl Dialect for Sqlite {
    // A read transaction is one WAL snapshot already.
    const SNAPSHOT: Option<&'static str> = None;
    // One statement runs under the database's write lock.
    const LOCK_COMPANY: Option<&'static str> = None;
    const LOCK_COMPANY_OF_USER: Option<&'static str> = None;
    const BEGIN_WRITE: Option<&'static str> = Some("BEGIN IMMEDIATE");
    const LOCK_SIGNING_KEYS: Option<&'static str> = None;
    const SKIP_LOCKED: &'static str = "";
    const FEED_PRUNE_THROUGH: &'static str =
        "SELECT MAX(seq) AS n FROM change_log WHERE at < unixepoch() - $1";
}

impl SqlStore<Sqlite> {
    /// Opens (creating if missing) the file named by `url` (`sqlite://PATH` or `sqlite::memory:`) and
    /// migrates it. Safe when several processes start at once.
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        let pool = connect(options(url)?, 4).await?;
        migrate(&pool).await?;
        Ok(Self::new(pool, None))
    }
}

/// Opens the pool. Switching a fresh file to WAL needs an exclusive lock that `busy_timeout` does not
/// wait for (SQLite answers `SQLITE_BUSY` at once), so when several processes open a new file at once,
/// the losers try again.
/// How every connection to a tollgate SQLite file is opened (the store's and an API's own pool).
fn options(url: &str) -> Result<SqliteConnectOptions, OpenError> {
    Ok(SqliteConnectOptions::from_str(url)
        .map_err(OpenError::Connect)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
        // 1 MiB of page cache per connection (SQLite's default is 2): the hot path reads memory,
        // not SQLite, so a bigger cache only grows the resident set.
        .pragma("cache_size", "-1024"))
}

/// The versions of the migrations applied to the file of `url`, read on a read-only connection
/// (a missing file is an error; a file never migrated has none).
pub(crate) async fn applied_migrations(url: &str) -> Result<Vec<i64>, OpenError> {
    use sqlx::Connection as _;
    let opts = SqliteConnectOptions::from_str(url)
        .map_err(OpenError::Connect)?
        .read_only(true)
        .busy_timeout(Duration::from_secs(10));
    let mut conn = sqlx::SqliteConnection::connect_with(&opts)
        .await
        .map_err(OpenError::Connect)?;
    let table: Option<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_optional(&mut conn)
    .await
    .map_err(OpenError::Connect)?;
    if table.is_none() {
        return Ok(Vec::new());
    }
    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
        .fetch_all(&mut conn)
        .await
        .map_err(OpenError::Connect)
}

/// A pool on the SQLite file of `url`, connected as the store's own (for an API's own rows).
pub(crate) async fn pool(url: &str, max_connections: u32) -> Result<SqlitePool, OpenError> {
    connect(options(url)?, max_connections).await
}

async fn connect(opts: SqliteConnectOptions, max: u32) -> Result<SqlitePool, OpenError> {
    let mut attempt = 0;
    loop {
        let opened = SqlitePoolOptions::new()
            .max_connections(max)
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
