//! What the one SQL store ([`crate::SqlStore`]) needs of a database, and the few places where
//! SQLite and PostgreSQL really differ.
//!
//! Every statement is written once with `$1…$n` placeholders (sqlx's SQLite driver binds `$N` to
//! argument N, as PostgreSQL does) and portable SQL (`CASE WHEN` instead of `GREATEST`/`MAX(a, b)`,
//! `ON CONFLICT … DO NOTHING`, sub-selects instead of `= ANY`). What cannot be portable is a
//! constant of [`Dialect`]: a statement that only one backend needs (a row lock, a snapshot level),
//! or the one expression that reads the database's clock.
//!
//! The bounds are carried by supertraits so that generic code states only `D: Dialect`:
//! [`Binds`] (the value types tollgate stores), [`Conn`] (a connection is an executor) and
//! [`Columns`] (its rows decode the column types tollgate reads).

use sqlx::query::Query;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type};
use tollgate_core::store::StoreError;

use crate::error::backend;

/// A database tollgate can store its data in: implemented for [`sqlx::Sqlite`] and
/// [`sqlx::Postgres`], by `sqlite.rs` and `postgres.rs`.
pub trait Dialect:
    Database<
        Row: Columns,
        Connection: Conn<Self>,
        QueryResult: RowsAffected,
        Arguments: IntoArguments<Self>,
    > + Binds
{
    /// Run first in a transaction whose reads must all see one snapshot (the directory load).
    /// SQLite: nothing (a read transaction is one WAL snapshot). PostgreSQL: `REPEATABLE READ`.
    const SNAPSHOT: Option<&'static str>;
    /// Run first in the transaction that creates a credential, to serialise creations for one
    /// company (`$1`) so that the count and the insert cannot interleave. SQLite: nothing (one
    /// statement runs under the database's write lock). PostgreSQL: the company row, `FOR UPDATE`.
    const LOCK_COMPANY: Option<&'static str>;
    /// Run first in a transaction that demotes or removes a user (`$1`), to serialise such changes
    /// within the user's company so that "another admin remains" cannot be read by two of them at
    /// once. SQLite: nothing (one statement). PostgreSQL: the company row, `FOR UPDATE`.
    const LOCK_COMPANY_OF_USER: Option<&'static str>;
    /// How a transaction that reads and then writes begins. SQLite: `BEGIN IMMEDIATE`, taking the
    /// write lock first (a deferred transaction that read before another connection committed
    /// cannot then write: `database is locked` at once, whatever `busy_timeout` says).
    /// PostgreSQL: nothing (a plain `BEGIN`).
    const BEGIN_WRITE: Option<&'static str>;
    /// Run first in the transaction that retires signing keys, so racing rotations take turns.
    /// SQLite: nothing (one statement). PostgreSQL: a table lock.
    const LOCK_SIGNING_KEYS: Option<&'static str>;
    /// The highest feed sequence number recorded more than `$1` seconds ago, by the database's
    /// clock, as column `n` (NULL when there is none).
    const FEED_PRUNE_THROUGH: &'static str;
    /// Ends the sub-select that picks the webhook deliveries a sender claims, so that two nodes
    /// claiming at once take different rows. SQLite: nothing (the claim runs under the write
    /// lock, `BEGIN IMMEDIATE`). PostgreSQL: `FOR UPDATE SKIP LOCKED`.
    const SKIP_LOCKED: &'static str;
}

/// A value as it is bound to a statement: the column types tollgate uses.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    /// TEXT.
    Text(&'a str),
    /// TEXT or NULL.
    OptText(Option<&'a str>),
    /// BIGINT / INTEGER.
    Int(i64),
    /// BIGINT / INTEGER or NULL.
    OptInt(Option<i64>),
    /// BOOLEAN.
    Bool(bool),
    /// BYTEA / BLOB.
    Bytes(&'a [u8]),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Self::Text(v)
    }
}
impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Self::Text(v)
    }
}
impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Self::OptText(v)
    }
}
impl<'a> From<&'a Option<String>> for Arg<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Self::OptText(v.as_deref())
    }
}
impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}
impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        Self::OptInt(v)
    }
}
impl From<bool> for Arg<'_> {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}
impl<'a> From<&'a [u8]> for Arg<'a> {
    fn from(v: &'a [u8]) -> Self {
        Self::Bytes(v)
    }
}

/// A database that can bind every [`Arg`]: any sqlx database whose driver encodes those types.
pub trait Binds: Database {
    /// `q` with `a` bound as its next argument.
    fn bind_arg<'q>(
        q: Query<'q, Self, Self::Arguments>,
        a: Arg<'_>,
    ) -> Query<'q, Self, Self::Arguments>;
}

impl<DB: Database> Binds for DB
where
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'t> Option<&'t str>: Encode<'t, DB> + Type<DB>,
    for<'t> &'t [u8]: Encode<'t, DB> + Type<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> Option<i64>: Encode<'t, DB> + Type<DB>,
    for<'t> bool: Encode<'t, DB> + Type<DB>,
{
    fn bind_arg<'q>(
        q: Query<'q, Self, Self::Arguments>,
        a: Arg<'_>,
    ) -> Query<'q, Self, Self::Arguments> {
        match a {
            Arg::Text(v) => q.bind(v),
            Arg::OptText(v) => q.bind(v),
            Arg::Int(v) => q.bind(v),
            Arg::OptInt(v) => q.bind(v),
            Arg::Bool(v) => q.bind(v),
            Arg::Bytes(v) => q.bind(v),
        }
    }
}

/// A connection that is an executor of its database (every sqlx connection is).
pub trait Conn<DB: Database>: Send {
    /// The connection as an executor, for one statement.
    fn ex(&mut self) -> impl Executor<'_, Database = DB>;
}

impl<DB: Database, C: Send> Conn<DB> for C
where
    for<'c> &'c mut C: Executor<'c, Database = DB>,
{
    fn ex(&mut self) -> impl Executor<'_, Database = DB> {
        self
    }
}

/// `.arg(v)` on a query: binds through [`Binds`], so generic code needs no bound per value type.
pub trait ArgExt: Sized {
    fn arg<'v>(self, v: impl Into<Arg<'v>>) -> Self;
}

impl<D: Dialect> ArgExt for Query<'_, D, D::Arguments> {
    fn arg<'v>(self, v: impl Into<Arg<'v>>) -> Self {
        D::bind_arg(self, v.into())
    }
}

/// How many rows a statement changed (each driver's result type has it; sqlx has no trait for it).
pub trait RowsAffected {
    /// The number of rows changed.
    fn rows_affected(&self) -> u64;
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        sqlx::sqlite::SqliteQueryResult::rows_affected(self)
    }
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows_affected(&self) -> u64 {
        sqlx::postgres::PgQueryResult::rows_affected(self)
    }
}

/// The column types the store reads, by name: every sqlx row type whose driver decodes them.
pub trait Columns {
    /// A TEXT column.
    fn text(&self, col: &str) -> Result<String, StoreError>;
    /// A TEXT column that may be NULL.
    fn opt_text(&self, col: &str) -> Result<Option<String>, StoreError>;
    /// An integer column.
    fn int(&self, col: &str) -> Result<i64, StoreError>;
    /// An integer column that may be NULL.
    fn opt_int(&self, col: &str) -> Result<Option<i64>, StoreError>;
    /// A BOOLEAN column.
    fn boolean(&self, col: &str) -> Result<bool, StoreError>;
    /// A BYTEA / BLOB column.
    fn bytes(&self, col: &str) -> Result<Vec<u8>, StoreError>;
    /// A BYTEA / BLOB column that may be NULL.
    fn opt_bytes(&self, col: &str) -> Result<Option<Vec<u8>>, StoreError>;
}

impl<R: Row> Columns for R
where
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, col: &str) -> Result<String, StoreError> {
        self.try_get(col).map_err(backend)
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>, StoreError> {
        self.try_get(col).map_err(backend)
    }
    fn int(&self, col: &str) -> Result<i64, StoreError> {
        self.try_get(col).map_err(backend)
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>, StoreError> {
        self.try_get(col).map_err(backend)
    }
    fn boolean(&self, col: &str) -> Result<bool, StoreError> {
        self.try_get(col).map_err(backend)
    }
    fn bytes(&self, col: &str) -> Result<Vec<u8>, StoreError> {
        self.try_get(col).map_err(backend)
    }
    fn opt_bytes(&self, col: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.try_get(col).map_err(backend)
    }
}
