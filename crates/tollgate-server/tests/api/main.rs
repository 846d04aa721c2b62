//! Black-box tests: the real server on a port-0 listener with its own database, over HTTP: a SQLite
//! file, or a fresh PostgreSQL database with `TOLLGATE_TEST_BACKEND=postgres` (see `helpers`).
//! One test binary (modules below) keeps link times down.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod access;
mod admin;
mod admin_headers;
mod audience;
mod audit;
mod bad_input;
mod bad_input_api;
mod catch_up;
mod connections;
mod gateway;
mod groups;
mod leaked;
mod multinode;
mod opaque;
mod openapi;
mod panel_states;
mod properties;
mod quota;
mod ratelimits;
mod reuse;
mod revocations;
mod schema;
mod scopes_panel;
mod secrets;
mod standards;
mod tls;
mod token;
mod token_parsing;
mod usage;
mod users_panel;
mod webhooks;
