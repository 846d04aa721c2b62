//! The upstream of the gateway benchmark: a small hyper service (the same runtime and connection
//! builder as `bare` and `tollgate serve`) that answers every request for `/api/v2/users` or a path
//! under it with `200` and a fixed JSON body of about 150 bytes, and `404` to anything else. It reads
//! the request body first, as a real service would. `bench/run` measures it directly, through
//! tollgate's gateway, through nginx `proxy_pass`, and through nginx `auth_request` to tollgate.
//!
//! Usage: `upstream --listen 127.0.0.1:18082`

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};

#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:18082")]
    listen: SocketAddr,
}

/// The routes this service answers: the prefix and every path under it (matched on segments).
const PREFIX: &str = "/api/v2/users";

/// The fixed answer: one user, about the size of a small API object.
const BODY: &[u8] = br#"{"id":"usr_01JBENCH0000000000000000","name":"Bench User","email":"bench.user@example.com","role":"member","created_at":"2026-12-01T00:00:00Z"}"#;

fn under_prefix(path: &str) -> bool {
    path.strip_prefix(PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

async fn answer(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let found = under_prefix(req.uri().path());
    let _ = req.into_body().collect().await;
    if !found {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::NOT_FOUND;
        return Ok(r);
    }
    let mut r = Response::new(Full::new(Bytes::from_static(BODY)));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(r)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tollgate_bench::serve("upstream", args.listen, answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_the_prefix_and_paths_under_it_only() {
        assert!(under_prefix("/api/v2/users"));
        assert!(under_prefix("/api/v2/users/"));
        assert!(under_prefix("/api/v2/users/42"));
        assert!(!under_prefix("/api/v2/usersx"));
        assert!(!under_prefix("/api/v2/groups"));
        assert!(BODY.len() >= 100 && BODY.len() <= 200, "{}", BODY.len());
    }
}
