//! Black-box tests: the real server on a port-0 listener with its own SQLite file, over HTTP.
//! One test binary (modules below) keeps link times down.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod admin;
mod bad_input;
mod groups;
mod openapi;
mod schema;
mod standards;
mod token;
