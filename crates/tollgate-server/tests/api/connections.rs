//! The connection layer under slow and hostile clients: half-sent request heads are closed after the
//! header read timeout, connections over the caps are closed at once, and neither starves a normal
//! token request.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, spawn_with};

fn addr(app: &TestApp) -> SocketAddr {
    app.base
        .trim_start_matches("http://")
        .parse()
        .expect("socket address")
}

/// A connection that sends half a request head and then nothing.
async fn half_open(to: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(to).await.expect("connect");
    s.write_all(b"POST /api/v2/oauth2/token HTTP/1.1\r\nHost: tollgate\r\nContent-Ty")
        .await
        .expect("write half a head");
    s
}

/// Whether the server closed `s` within `within` (whatever it wrote before closing).
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    let mut buf = [0u8; 512];
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

/// A token request on a fresh connection, with a 2-second limit on the whole exchange.
async fn token_status(app: &TestApp, client: &reqwest::Client) -> u16 {
    let cred = app.credential("groups:read").await;
    client
        .post(app.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", cred.client_id.as_str()),
            ("client_secret", cred.secret.as_str()),
        ])
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .expect("the token request is answered while half-open connections are held")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_connections_are_closed_and_do_not_starve_token_requests() {
    let app = spawn_with(|s| {
        s.connections.header_read_timeout_ms = 1_000;
        s.connections.max_per_ip = 1_000;
    })
    .await;
    let to = addr(&app);
    let mut held = Vec::new();
    for _ in 0..300 {
        held.push(half_open(to).await);
    }
    // With 300 half-sent heads open, a normal client is served.
    let fresh = reqwest::Client::builder().build().unwrap();
    assert_eq!(token_status(&app, &fresh).await, 200);
    // Each half-sent head is closed once the header read timeout has passed.
    for (i, s) in held.iter_mut().enumerate() {
        assert!(
            closed_within(s, Duration::from_secs(10)).await,
            "connection {i} still open after the header read timeout"
        );
    }
    // An idle keep-alive connection is closed by the same timeout.
    let mut idle = TcpStream::connect(to).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: tollgate\r\n\r\n")
        .await
        .unwrap();
    assert!(closed_within(&mut idle, Duration::from_secs(10)).await);
}

#[tokio::test]
async fn connections_over_a_cap_are_closed_at_once_and_others_are_served() {
    // The header read timeout is long here: a close within a second can only be the cap's.
    let app = spawn_with(|s| {
        s.connections.max_per_ip = 5;
        s.connections.header_read_timeout_ms = 60_000;
    })
    .await;
    let to = addr(&app);
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(half_open(to).await);
    }
    let mut over = half_open(to).await;
    assert!(
        closed_within(&mut over, Duration::from_secs(1)).await,
        "the sixth connection from one address must be closed at once"
    );
    assert!(
        !closed_within(&mut held[0], Duration::from_millis(200)).await,
        "connections within the cap stay open"
    );
    // Another address is not affected by this one's cap.
    let elsewhere = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    assert_eq!(token_status(&app, &elsewhere).await, 200);
    // Once this address's connections close, it is served again.
    drop(held);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let again = reqwest::Client::builder().build().unwrap();
    assert_eq!(token_status(&app, &again).await, 200);
}

#[tokio::test]
async fn the_server_wide_cap_holds_too() {
    let app = spawn_with(|s| {
        s.connections.max = 3;
        s.connections.header_read_timeout_ms = 60_000;
    })
    .await;
    let to = addr(&app);
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(half_open(to).await);
    }
    let mut over = half_open(to).await;
    assert!(closed_within(&mut over, Duration::from_secs(1)).await);
    drop(held);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let client = reqwest::Client::builder().build().unwrap();
    assert_eq!(token_status(&app, &client).await, 200);
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_refused_after_the_body_timeout() {
    let app = spawn_with(|s| s.connections.body_timeout_ms = 300).await;
    let mut s = TcpStream::connect(addr(&app)).await.unwrap();
    // The head promises 100 bytes; 10 arrive, then nothing.
    s.write_all(
        b"POST /api/v2/oauth2/token HTTP/1.1\r\nHost: tollgate\r\n\
          Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n\
          grant_type",
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer while the body never completes");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
}
