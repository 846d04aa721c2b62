//! The server goes away and comes back on the same port and database: callers that asked for a long
//! enough timeout see no error; callers with a short one get a timeout error in time.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;
use tollgate_client::{ApiClient, Error, TokenSource};

use crate::helpers::{self, Cred, Server, quick_retries};

fn client(base: &str, cred: &Cred, timeout: Duration) -> ApiClient {
    ApiClient::new(
        TokenSource::builder(base, &cred.client_id, cred.secret.as_str())
            .retry(quick_retries(timeout))
            .build()
            .unwrap(),
    )
}

/// Binds the same address again (retrying briefly, should the port linger).
async fn restart(db_url: &str, addr: SocketAddr) -> Server {
    let start = Instant::now();
    loop {
        match helpers::start_at(db_url, addr, 3600).await {
            Ok(s) => return s,
            Err(e) if start.elapsed() < Duration::from_secs(3) => {
                eprintln!("rebinding {addr}: {e:#}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("cannot restart on {addr}: {e:#}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_ride_out_a_server_restart_within_their_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let server = helpers::start(&dir, 3600).await;
    let cred = server.credential("groups:read").await;
    let (base, addr, db_url) = (server.base.clone(), server.addr, server.db_url.clone());

    // One client holds a token from before the outage; another will start with none.
    let holding = client(&base, &cred, Duration::from_secs(10));
    let _: Vec<Value> = holding.get("/api/v2/groups").await.unwrap();
    let empty = client(&base, &cred, Duration::from_secs(10));
    server.stop().await;

    // A caller that asked for 600 ms gets a timeout error carrying the network error, in time.
    let short = client(&base, &cred, Duration::from_millis(600));
    let t0 = Instant::now();
    let err = short.get::<Vec<Value>>("/api/v2/groups").await.unwrap_err();
    let took = t0.elapsed();
    assert!(took < Duration::from_millis(700), "{took:?}");
    match &err {
        Error::Timeout {
            last: Some(last), ..
        } => assert!(matches!(**last, Error::Transport(_)), "{last:?}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(err.to_string().contains("gave up after"), "{err}");

    // Callers that asked for 10 s, started while the server is down: one retries its API request
    // (it has a token), the other its token request.
    let started = Instant::now();
    let with_token = tokio::spawn(async move { holding.get::<Vec<Value>>("/api/v2/groups").await });
    let without = tokio::spawn(async move { empty.get::<Vec<Value>>("/api/v2/groups").await });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !with_token.is_finished() && !without.is_finished(),
        "still retrying"
    );

    let server = restart(&db_url, addr).await;
    assert_eq!(server.addr, addr);
    assert_eq!(with_token.await.unwrap().unwrap().len(), 1);
    assert_eq!(without.await.unwrap().unwrap().len(), 1);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "{took:?}");
    // Same database, same signing key: the old token still works, only the empty client asked.
    assert_eq!(server.tokens_issued(), 1);
    assert_eq!(server.invalid_token_responses().await, 0);
    server.stop().await;
}
