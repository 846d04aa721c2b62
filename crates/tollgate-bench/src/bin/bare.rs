//! The "bare" server of the benchmark: hyper on the same Tokio runtime settings as `tollgate serve`
//! (multi-threaded, one worker per core) and the same HTTP/1+2 connection builder axum uses, answering
//! each configured route with a fixed response — the body and headers tollgate itself sent for that
//! route, captured by `bench/run`. It reads the request body, as tollgate does, and does nothing else:
//! its throughput is the ceiling of this machine for a response of that size.
//!
//! Usage: `bare --listen 127.0.0.1:18081 --route /api/v2/oauth2/token=token.http …`, where each file
//! holds header lines (`name: value`), an empty line, then the body.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};

#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:18081")]
    listen: SocketAddr,
    /// `PATH=FILE`: answer requests for PATH with the response in FILE.
    #[arg(long = "route", value_parser = parse_route)]
    routes: Vec<(String, PathBuf)>,
}

fn parse_route(s: &str) -> Result<(String, PathBuf), String> {
    s.split_once('=')
        .map(|(p, f)| (p.to_owned(), PathBuf::from(f)))
        .ok_or_else(|| "expected PATH=FILE".to_owned())
}

/// A fixed response.
struct Canned {
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

fn load(file: &PathBuf) -> anyhow::Result<Canned> {
    let text = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let split = text
        .windows(2)
        .position(|w| w == b"\n\n")
        .context("no empty line between headers and body")?;
    let mut headers = Vec::new();
    for line in std::str::from_utf8(&text[..split])?.lines() {
        let (name, value) = line.split_once(':').context("header line without ':'")?;
        headers.push((
            HeaderName::from_bytes(name.trim().as_bytes())?,
            HeaderValue::from_str(value.trim())?,
        ));
    }
    Ok(Canned {
        headers,
        body: Bytes::copy_from_slice(&text[split + 2..]),
    })
}

async fn answer(
    routes: Arc<HashMap<String, Canned>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let canned = routes.get(req.uri().path());
    // Read the whole body, as the real server does before answering.
    let _ = req.into_body().collect().await;
    let Some(canned) = canned else {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::NOT_FOUND;
        return Ok(r);
    };
    let mut r = Response::new(Full::new(canned.body.clone()));
    for (n, v) in &canned.headers {
        r.headers_mut().append(n.clone(), v.clone());
    }
    Ok(r)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut routes = HashMap::new();
    for (path, file) in &args.routes {
        routes.insert(path.clone(), load(file)?);
    }
    let routes = Arc::new(routes);
    tollgate_bench::serve("bare", args.listen, move |req| {
        answer(Arc::clone(&routes), req)
    })
}
