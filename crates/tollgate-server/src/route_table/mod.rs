//! The gateway's routes, apart from its handlers (`gateway`), so that `state` can hold them
//! without importing the handlers that read `state`.
//!
//! - [`GatewaySettings`]: `[gateway]` as written in the configuration file.
//! - [`table::RouteTable`]: the checked form, longest prefix first, each route with its own
//!   upstream connection pool.
//! - [`LiveRoutes`]: the table in force, swapped whole on reload while requests read it without a
//!   lock; a request keeps the route it started with.

mod config;
pub(crate) mod table;
mod upstream;

use std::sync::Arc;

use arc_swap::ArcSwap;

pub use config::{GatewaySettings, RouteSettings};
use table::RouteTable;

/// The route table in force.
#[derive(Debug)]
pub struct LiveRoutes {
    table: ArcSwap<RouteTable>,
}

impl LiveRoutes {
    /// The routes of `settings`, checked (the error names the route and what is wrong).
    pub(crate) fn new(settings: &GatewaySettings) -> Result<Self, String> {
        Ok(Self {
            table: ArcSwap::from_pointee(RouteTable::build(settings)?),
        })
    }

    /// The table as it is now.
    pub(crate) fn table(&self) -> arc_swap::Guard<Arc<RouteTable>> {
        self.table.load()
    }

    /// Checks `settings` and, if every route is valid, puts them in force; otherwise nothing
    /// changes. Returns how many routes are live.
    pub(crate) fn replace(&self, settings: &GatewaySettings) -> Result<usize, String> {
        let table = RouteTable::build(settings)?;
        let n = table.len();
        self.table.store(Arc::new(table));
        Ok(n)
    }
}
