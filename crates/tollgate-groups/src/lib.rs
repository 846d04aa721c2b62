//! The example API: the reference's groups endpoints (`/api/v2/groups`), built as a platform's own
//! API behind tollgate would be, with nothing but what tollgate offers any such API:
//!
//! - the resource side's extractor [`tollgate_server::resource::Authorized`] (token, company budget,
//!   version header, scope) and tollgate's JSON body extractor, whose refusals are tollgate's;
//! - a database pool of its own on tollgate's database ([`tollgate_store::connect`]), with its SQL
//!   written once for SQLite and PostgreSQL ([`store`]);
//! - the change feed, through [`tollgate_core::directory::Directory::follow`]: the first page of
//!   each company's groups is cached in memory and stays coherent across nodes ([`rules::Groups`]);
//! - [`tollgate_server::App::mount`] to serve its routes and its part of the OpenAPI document.
//!
//! ```no_run
//! # async fn demo(settings: tollgate_server::Settings) -> anyhow::Result<()> {
//! use std::sync::Arc;
//! use tollgate_core::clock::SystemClock;
//!
//! let mut app = tollgate_server::App::build(settings, Arc::new(SystemClock)).await?;
//! let groups = tollgate_groups::mount(&mut app).await?;
//! # let _ = groups;
//! app.run_until_stopped(std::future::pending()).await?;
//! # Ok(()) }
//! ```

mod error;
mod http;
mod model;
pub mod rules;
pub mod store;
mod versions;

pub use error::Error;
/// Page cursors (for the fuzz target; not an API).
#[doc(hidden)]
pub use http::cursor;
pub use http::{GroupsApi, GroupsRead, GroupsWrite};
pub use model::{Group, GroupId, GroupPage, GroupPatch, NewGroup};
pub use rules::{GroupError, Groups, PAGE_SIZE};
pub use store::{GroupStore, SqlGroups};

/// Opens the groups' storage on `app`'s database and serves the API beside tollgate's routes; the
/// service, for seeding (`serve --demo`) and tests.
pub async fn mount(app: &mut tollgate_server::App) -> Result<Groups, tollgate_store::OpenError> {
    let ctx = app.context();
    let groups = Groups::new(
        store::open(&ctx.database_url).await?,
        std::sync::Arc::clone(&ctx.clock),
        &ctx.directory,
    );
    let api = GroupsApi::new(groups.clone(), ctx);
    app.mount(api.router(), GroupsApi::openapi());
    Ok(groups)
}
