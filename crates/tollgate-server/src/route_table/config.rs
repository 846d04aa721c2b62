//! `[gateway]` in the configuration file, as written; [`super::table::RouteTable::build`] checks it.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `[gateway]`: the routes tollgate forwards (or, for `/auth/verify`, authorizes) after its checks.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewaySettings {
    /// `[[gateway.routes]]`, in any order: the longest matching prefix wins.
    pub routes: Vec<RouteSettings>,
}

/// One `[[gateway.routes]]`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSettings {
    /// Path prefix, matched on whole segments (`/api/v2/users` matches `/api/v2/users/7`, not
    /// `/api/v2/usersx`).
    pub prefix: String,
    /// `http://` or `https://` host, port and optional base path. Unset: the route only serves
    /// `/auth/verify` (a request to it directly gets a 404).
    #[serde(default)]
    pub upstream: Option<String>,
    /// Drop the prefix from the path sent upstream.
    #[serde(default)]
    pub strip_prefix: bool,
    /// Time allowed for the upstream's response head, in ms (504 past it).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Require the configured version header.
    #[serde(default = "yes")]
    pub version_header: bool,
    /// Pass the `Authorization` header upstream (default: removed).
    #[serde(default)]
    pub forward_token: bool,
    /// The audience (RFC 8707 resource) tokens must be meant for; one of the companies'
    /// resources. Unset: the server's default audience, as the built-in API.
    #[serde(default)]
    pub audience: Option<String>,
    /// Speak HTTP/2 to an `http://` upstream (prior knowledge). `https://` upstreams negotiate it.
    #[serde(default)]
    pub http2: bool,
    /// Scopes every request needs, by method (`GET`, `POST`, …); `"*"` for any method not listed.
    /// A method with no entry and no `"*"` gets 405.
    pub scopes: BTreeMap<String, Vec<String>>,
}

fn default_timeout_ms() -> u64 {
    30_000
}

fn yes() -> bool {
    true
}
