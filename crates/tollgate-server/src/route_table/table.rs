//! The checked route table: what `[gateway]` becomes once every value has been validated.

use std::sync::Arc;
use std::time::Duration;

use axum::http::uri::Scheme;
use axum::http::{Method, Uri};
use tollgate_proto::Scope;

use super::config::{GatewaySettings, RouteSettings};
use super::upstream::UpstreamClient;

/// tollgate's own paths: a route may not sit on or under them (they would never be reached, or
/// would shadow an endpoint). A route above them (`/`, `/api`) is fine: tollgate's routes win.
const RESERVED: &[&str] = &[
    "/api/v2/oauth2",
    "/api/v2/groups",
    "/.well-known",
    "/admin",
    "/auth/verify",
    "/healthz",
    "/readyz",
    "/metrics",
    "/docs",
    "/openapi.json",
];

/// Where a route forwards to.
#[derive(Debug)]
pub(crate) struct Upstream {
    /// `scheme://host:port` and the URL's path without a trailing `/`: what every forwarded URI
    /// starts with, joined once at start-up.
    pub(crate) origin: Box<str>,
    /// The route's own connection pool.
    pub(crate) client: UpstreamClient,
}

/// One checked route.
#[derive(Debug)]
pub(crate) struct Route {
    /// Without a trailing `/`, except the root route `/`.
    pub(crate) prefix: Box<str>,
    pub(crate) upstream: Option<Upstream>,
    pub(crate) strip_prefix: bool,
    pub(crate) timeout: Duration,
    pub(crate) version_header: bool,
    pub(crate) forward_token: bool,
    /// The audience tokens must name (`None`: the default audience).
    pub(crate) audience: Option<tollgate_core::audience::Resource>,
    methods: Vec<(Method, Box<[Scope]>)>,
    other: Option<Box<[Scope]>>,
}

impl Route {
    /// The scopes a request with `method` needs; `None`: the method is not allowed.
    pub(crate) fn scopes_for(&self, method: &Method) -> Option<&[Scope]> {
        self.methods
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, s)| &**s)
            .or(self.other.as_deref())
    }

    /// Whether `path` is this route's prefix or below it.
    fn matches(&self, path: &str) -> bool {
        if &*self.prefix == "/" {
            return true;
        }
        path.strip_prefix(&*self.prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }

    /// The path sent upstream for `path` (a match of this route; without its query).
    pub(crate) fn upstream_path<'p>(&self, path: &'p str) -> &'p str {
        if !self.strip_prefix || &*self.prefix == "/" {
            return path;
        }
        match &path[self.prefix.len()..] {
            "" => "/",
            rest => rest,
        }
    }
}

/// The routes, longest prefix first.
#[derive(Debug, Default)]
pub(crate) struct RouteTable {
    routes: Vec<Arc<Route>>,
}

impl RouteTable {
    /// Checks every route of `settings`; the error names the route and what is wrong.
    pub(crate) fn build(settings: &GatewaySettings) -> Result<Self, String> {
        let mut routes = Vec::with_capacity(settings.routes.len());
        for (i, r) in settings.routes.iter().enumerate() {
            let route = build_route(r)
                .map_err(|e| format!("gateway.routes[{i}] (prefix {:?}): {e}", r.prefix))?;
            if routes.iter().any(|o: &Arc<Route>| o.prefix == route.prefix) {
                return Err(format!(
                    "gateway.routes[{i}]: prefix {:?} is given twice",
                    r.prefix
                ));
            }
            routes.push(Arc::new(route));
        }
        routes.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
        Ok(Self { routes })
    }

    /// How many routes.
    pub(crate) fn len(&self) -> usize {
        self.routes.len()
    }

    /// The route of `path`: the longest prefix that matches on whole segments.
    pub(crate) fn find(&self, path: &str) -> Option<&Arc<Route>> {
        self.routes.iter().find(|r| r.matches(path))
    }
}

fn build_route(r: &RouteSettings) -> Result<Route, String> {
    let prefix = check_prefix(&r.prefix)?;
    if !(1..=600_000).contains(&r.timeout_ms) {
        return Err("timeout_ms must be between 1 and 600000".into());
    }
    let timeout = Duration::from_millis(r.timeout_ms);
    let upstream = match &r.upstream {
        Some(u) => Some(parse_upstream(u, r.http2, timeout)?),
        None => None,
    };
    if r.scopes.is_empty() {
        return Err(
            "scopes must name at least one method (GET = [\"…\"]) or \"*\" for every method".into(),
        );
    }
    let mut methods = Vec::new();
    let mut other = None;
    for (method, names) in &r.scopes {
        let scopes = names
            .iter()
            .map(|s| Scope::parse(s).map_err(|e| format!("scopes.{method}: {e}")))
            .collect::<Result<Box<[Scope]>, String>>()?;
        if method == "*" {
            other = Some(scopes);
            continue;
        }
        let valid = !method.is_empty() && method.bytes().all(|b| b.is_ascii_uppercase());
        let m = Method::from_bytes(method.as_bytes())
            .ok()
            .filter(|_| valid)
            .ok_or_else(|| {
                format!("scopes: `{method}` is not a method (GET, POST, … in capitals, or \"*\")")
            })?;
        methods.push((m, scopes));
    }
    Ok(Route {
        prefix: prefix.into(),
        upstream,
        strip_prefix: r.strip_prefix,
        timeout,
        version_header: r.version_header,
        forward_token: r.forward_token,
        audience: r
            .audience
            .as_deref()
            .map(tollgate_core::audience::Resource::parse)
            .transpose()
            .map_err(|e| format!("audience: {e}"))?,
        methods,
        other,
    })
}

/// A prefix in normal form: starts with `/`, no trailing `/` (but `/` itself), no empty, `.` or
/// `..` segment, no query, no percent sign; not on or under one of tollgate's own paths.
fn check_prefix(p: &str) -> Result<&str, String> {
    if p == "/" {
        return Ok(p);
    }
    let ok = p.starts_with('/')
        && !p.ends_with('/')
        && p[1..]
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..")
        && p.bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'?' | b'#' | b'%' | b'\\'));
    if !ok {
        return Err(
            "prefix must be a path like /api/v2/users (no trailing /, no . or .., no ?, # or %)"
                .into(),
        );
    }
    if let Some(own) = RESERVED.iter().find(|own| {
        p.strip_prefix(**own)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }) {
        return Err(format!("prefix is on tollgate's own path {own}"));
    }
    Ok(p)
}

fn parse_upstream(u: &str, http2: bool, timeout: Duration) -> Result<Upstream, String> {
    let bad = |why: &str| format!("upstream {u:?}: {why}");
    let uri: Uri = u.parse().map_err(|_| bad("not a URL"))?;
    let scheme = uri.scheme().cloned().ok_or_else(|| bad("no scheme"))?;
    if scheme != Scheme::HTTP && scheme != Scheme::HTTPS {
        return Err(bad("the scheme must be http or https"));
    }
    let authority = uri.authority().cloned().ok_or_else(|| bad("no host"))?;
    if authority.as_str().contains('@') {
        return Err(bad("credentials in the URL are not supported"));
    }
    if uri.query().is_some() {
        return Err(bad("a query is not supported"));
    }
    let base_path = uri.path().trim_end_matches('/');
    if http2 && scheme == Scheme::HTTPS {
        return Err(bad(
            "http2 = true is for http:// upstreams (https negotiates HTTP/2)",
        ));
    }
    Ok(Upstream {
        client: UpstreamClient::new(http2, timeout),
        origin: format!("{scheme}://{authority}{base_path}").into(),
    })
}

/// Whether every segment of `path` is a plain name once percent-decoded: no `.` or `..`, no
/// encoded `/` or `\`, no NUL, no empty segment but a trailing one. A path that is not could
/// mean one thing to the route table and another to the upstream.
pub(crate) fn is_normal_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    if rest.is_empty() {
        return true;
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    rest.split('/').all(|segment| {
        let decoded: Vec<u8> = percent_encoding::percent_decode_str(segment).collect();
        !decoded.is_empty()
            && decoded != b"."
            && decoded != b".."
            && !decoded.iter().any(|b| matches!(b, b'/' | b'\\' | 0))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(toml_text: &str) -> Result<RouteTable, String> {
        let s: GatewaySettings = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        RouteTable::build(&s)
    }

    #[test]
    fn the_longest_prefix_wins_on_whole_segments() {
        let t = table(
            r#"
            [[routes]]
            prefix = "/api"
            scopes = { "*" = [] }
            [[routes]]
            prefix = "/api/v2/users"
            scopes = { GET = ["users:read"] }
            "#,
        )
        .unwrap();
        assert_eq!(&*t.find("/api/v2/users").unwrap().prefix, "/api/v2/users");
        assert_eq!(&*t.find("/api/v2/users/7").unwrap().prefix, "/api/v2/users");
        assert_eq!(&*t.find("/api/v2/usersx").unwrap().prefix, "/api");
        assert_eq!(&*t.find("/api").unwrap().prefix, "/api");
        assert!(t.find("/apix").is_none());
        assert!(t.find("/").is_none());
        let users = t.find("/api/v2/users").unwrap();
        assert!(users.scopes_for(&Method::GET).is_some());
        assert!(users.scopes_for(&Method::POST).is_none(), "no \"*\": 405");
    }

    #[test]
    fn strip_prefix_keeps_a_leading_slash() {
        let t =
            table("[[routes]]\nprefix = \"/a/b\"\nstrip_prefix = true\nscopes = { \"*\" = [] }")
                .unwrap();
        let r = t.find("/a/b").unwrap();
        assert_eq!(r.upstream_path("/a/b"), "/");
        assert_eq!(r.upstream_path("/a/b/c"), "/c");
    }

    #[test]
    fn bad_routes_are_refused_with_the_reason() {
        for (text, why) in [
            ("prefix = \"api\"", "prefix must be a path"),
            ("prefix = \"/api/\"", "prefix must be a path"),
            ("prefix = \"/a/../b\"", "prefix must be a path"),
            ("prefix = \"/api/v2/oauth2\"", "tollgate's own path"),
            ("prefix = \"/admin/x\"", "tollgate's own path"),
            ("prefix = \"/u\"\nupstream = \"ftp://x\"", "http or https"),
            (
                "prefix = \"/u\"\nupstream = \"http://u:p@x\"",
                "credentials",
            ),
            ("prefix = \"/u\"\ntimeout_ms = 0", "timeout_ms"),
        ] {
            let e = table(&format!("[[routes]]\n{text}\nscopes = {{ \"*\" = [] }}")).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
        let e = table("[[routes]]\nprefix = \"/u\"\nscopes = {}").unwrap_err();
        assert!(e.contains("at least one method"), "{e}");
        let e = table("[[routes]]\nprefix = \"/u\"\nscopes = { get = [] }").unwrap_err();
        assert!(e.contains("not a method"), "{e}");
        let e =
            table("[[routes]]\nprefix = \"/u\"\nscopes = { GET = [\"no scope\"] }").unwrap_err();
        assert!(e.contains("scopes.GET"), "{e}");
        let e = table(
            "[[routes]]\nprefix = \"/u\"\nscopes = { GET = [] }\n[[routes]]\nprefix = \"/u\"\nscopes = { GET = [] }",
        )
        .unwrap_err();
        assert!(e.contains("twice"), "{e}");
        assert!(
            toml::from_str::<GatewaySettings>(
                "[[routes]]\nprefix = \"/u\"\nscopes = {}\nbogus = 1"
            )
            .is_err()
        );
    }

    #[test]
    fn paths_that_could_mean_two_things_are_not_normal() {
        for p in ["/", "/a", "/a/b/", "/a%20b", "/users/7"] {
            assert!(is_normal_path(p), "{p}");
        }
        for p in [
            "/a/../b",
            "/a/./b",
            "/a//b",
            "/a/%2e%2e/b",
            "/a/%2E/b",
            "/a%2fb",
            "/a%5cb",
            "/a%00",
            "a",
        ] {
            assert!(!is_normal_path(p), "{p}");
        }
    }
}
