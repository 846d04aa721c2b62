//! The groups service over a real database, once per backend (`rules::sqlite::NAME`,
//! `rules::postgres::NAME`): a SQLite file in a temporary directory, a fresh PostgreSQL database
//! (dropped at the end). The HTTP side is tested end to end with the server's suite
//! (`crates/tollgate-server/tests/api/groups.rs`), which mounts this crate as the binary does.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod helpers;

mod coherence;
mod rules;
