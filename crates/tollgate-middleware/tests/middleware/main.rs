//! The middleware against the real tollgate (in-process, on a port-0 listener, a real SQLite file,
//! or PostgreSQL with `TOLLGATE_TEST_BACKEND=postgres`), over HTTP: offline verification, the key set's rotation and refetch limits, the layer's answers,
//! and the revocation feed (revocation, deletion, rotation, narrowing, restart, outage).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod feed;
mod offline;
