//! The SDK against the real tollgate server (in-process, port 0, its own SQLite file), plus a small
//! stub server for answers tollgate never gives (5xx, 429 with `Retry-After`, `"expires_in": "3600"`).
//! One test binary (modules below) keeps link times down.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod concurrency;
mod outage;
mod pagination;
mod renewal;
mod rotation;
mod stub;
mod wire;
