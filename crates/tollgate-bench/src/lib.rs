//! Benchmark tools, not shipped: `bare` (the ceiling tollgate is measured against), `upstream` (the
//! service behind the gateway and behind nginx), `seed` (fills a SQLite store with many credentials
//! in one transaction) and `soak` (long mixed load, memory and descriptors sampled). See `bench/run`,
//! `bench/soak`, `docs/benchmarks.md` and `docs/security.md`.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;

/// Serves `answer` on `listen` until the process is stopped, on the same Tokio runtime settings as
/// `tollgate serve` (multi-threaded, one worker per core) and with the same HTTP/1+2 connection
/// builder axum uses. `name` goes into the "listening" line on stderr.
pub fn serve<F, Fut>(name: &str, listen: SocketAddr, answer: F) -> anyhow::Result<()>
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send + 'static,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        eprintln!("{name} listening on {}", listener.local_addr()?);
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("accept: {e}");
                    continue;
                }
            };
            let answer = answer.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(answer);
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}
