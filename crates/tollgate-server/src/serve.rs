//! The connection layer: accepting TCP connections and serving HTTP on them, with the limits that
//! keep a slow or hostile client from holding the server (`[connections]` in the configuration).
//!
//! - **Header read timeout** (HTTP/1): a request head must arrive whole within
//!   `header_read_timeout_ms`; hyper's timer runs from the moment the connection waits for a head, so
//!   the same limit closes idle keep-alive connections. HTTP/2 connections are pinged every
//!   `header_read_timeout_ms` and closed when a ping goes unanswered as long.
//! - **Body timeout**: each read of a request body must make progress within `body_timeout_ms`.
//! - **Connection caps**: at most `max` open connections, at most `max_per_ip` from one address;
//!   a connection over a cap is closed at once (before a byte is read), and counted.
//! - **TLS** ([`crate::tls`]): the handshake runs on the connection's own task and must finish
//!   within `header_read_timeout_ms`; each connection takes the certificate in force when it was
//!   accepted.
//! - **File descriptors**: at start-up the soft limit is raised to the hard one, and `max` is lowered,
//!   if need be, to leave [`FD_RESERVE`] descriptors for the database, logs and outgoing connections.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

/// Descriptors kept free for everything that is not a client connection.
pub const FD_RESERVE: u64 = 64;

/// `[connections]`: limits on client connections.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionSettings {
    /// Open connections at most (lowered to the file-descriptor limit less [`FD_RESERVE`]).
    pub max: usize,
    /// Open connections from one client address at most.
    pub max_per_ip: usize,
    /// Time allowed for a whole request head, and for an idle keep-alive connection, in ms.
    pub header_read_timeout_ms: u64,
    /// Time allowed for each read of a request body to make progress, in ms.
    pub body_timeout_ms: u64,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self {
            max: 1024,
            max_per_ip: 256,
            header_read_timeout_ms: 10_000,
            body_timeout_ms: 30_000,
        }
    }
}

impl ConnectionSettings {
    /// Checks ranges.
    pub fn validate(&self) -> Result<(), String> {
        if self.max == 0 || self.max_per_ip == 0 {
            return Err("connections.max and connections.max_per_ip must be at least 1".into());
        }
        for (name, v) in [
            ("header_read_timeout_ms", self.header_read_timeout_ms),
            ("body_timeout_ms", self.body_timeout_ms),
        ] {
            if !(100..=600_000).contains(&v) {
                return Err(format!("connections.{name} must be between 100 and 600000"));
            }
        }
        Ok(())
    }

    /// The body timeout, for the router's layer.
    pub(crate) fn body_timeout(&self) -> Duration {
        Duration::from_millis(self.body_timeout_ms)
    }
}

/// Raises the soft file-descriptor limit to the hard one and returns the connection cap that leaves
/// [`FD_RESERVE`] descriptors free.
fn connection_cap(configured: usize) -> usize {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the file-descriptor limit; keeping connections.max");
            return configured;
        }
    };
    let room = usize::try_from(limit.saturating_sub(FD_RESERVE))
        .unwrap_or(usize::MAX)
        .max(1);
    if room < configured {
        tracing::warn!(
            configured,
            cap = room,
            fd_limit = limit,
            "connections.max lowered to keep file descriptors for the database"
        );
    }
    configured.min(room)
}

/// Open connections per client address.
#[derive(Debug, Default)]
struct PerAddress {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in [`PerAddress`], given back when it closes.
struct AddressSlot {
    table: Arc<PerAddress>,
    ip: IpAddr,
}

impl PerAddress {
    fn enter(table: &Arc<Self>, ip: IpAddr, max: usize) -> Option<AddressSlot> {
        let mut open = table.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            table: Arc::clone(table),
            ip,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.table.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Serves `router` on `listener` (over TLS with `tls`) until `shutdown` resolves, then stops
/// accepting and waits for the open connections to finish their requests.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &ConnectionSettings,
    tls: Option<Arc<crate::tls::LiveTls>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(connection_cap(limits.max)));
    let per_address = Arc::new(PerAddress::default());
    let head_timeout = Duration::from_millis(limits.header_read_timeout_ms);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(head_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(head_timeout)
        .keep_alive_timeout(head_timeout);
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors, or the peer gave up before accept: wait a moment
                    // instead of spinning, then go on.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::info!(peer = %addr.ip(), "connection refused: connections.max reached");
            drop(stream);
            continue;
        };
        let Some(slot) = PerAddress::enter(&per_address, addr.ip(), limits.max_per_ip) else {
            tracing::info!(peer = %addr.ip(), "connection refused: connections.max_per_ip reached");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = router.clone();
        let service =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(addr));
                app.clone().oneshot(req.map(axum::body::Body::new))
            });
        let builder = Arc::clone(&builder);
        let watcher = graceful.watcher();
        let acceptor = tls.as_ref().map(|t| t.acceptor());
        tokio::spawn(async move {
            let _held = (permit, slot);
            let Some(acceptor) = acceptor else {
                return serve_io(&builder, watcher, stream, service).await;
            };
            match tokio::time::timeout(head_timeout, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => serve_io(&builder, watcher, stream, service).await,
                Ok(Err(e)) => {
                    tracing::debug!(peer = %addr.ip(), error = %e, "TLS handshake failed")
                }
                Err(_) => tracing::debug!(peer = %addr.ip(), "TLS handshake timed out"),
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Serves HTTP/1 or HTTP/2 on one accepted connection (plain or TLS) until it closes, or until
/// the graceful shutdown has let its requests finish.
async fn serve_io<I, S>(
    builder: &auto::Builder<TokioExecutor>,
    watcher: hyper_util::server::graceful::Watcher,
    io: I,
    service: S,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<
            hyper::Request<hyper::body::Incoming>,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    if let Err(e) = watcher.watch(conn.into_owned()).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_leaves_the_descriptor_reserve_free() {
        let cap = connection_cap(usize::MAX);
        let (soft, _) = rlimit::Resource::NOFILE.get().unwrap();
        assert!(soft > FD_RESERVE, "soft limit {soft}");
        assert_eq!(
            cap as u64,
            soft - FD_RESERVE,
            "the soft limit was raised first, then reserved"
        );
        assert_eq!(connection_cap(10), 10, "a smaller setting is kept");
    }
}
