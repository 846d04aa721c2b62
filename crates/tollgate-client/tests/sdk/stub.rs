//! Answers tollgate never gives, from a scripted stub server: 5xx and 429 (with `Retry-After`),
//! `expires_in` as a string or missing, an API that keeps refusing tokens.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::Response;
use axum::routing::{get, post};
use serde_json::Value;
use tollgate_client::{ApiClient, Endpoint, Error, OAuthErrorCode, TokenSource};

use crate::helpers::quick_retries;

#[derive(Clone)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

fn reply(status: u16, body: &str) -> Reply {
    Reply {
        status,
        headers: vec![("content-type", "application/json".into())],
        body: body.into(),
    }
}

impl Reply {
    fn with(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

const TOKEN_OK_STRING: &str =
    r#"{"token_type":"Bearer","access_token":"stub.token","expires_in":"3600"}"#;

struct Script {
    token: Vec<Reply>,
    api: Vec<Reply>,
    token_hits: Mutex<Vec<Instant>>,
    api_hits: Mutex<Vec<Instant>>,
}

/// Serves `script`: the n-th request to a route gets its n-th reply (the last one repeats).
struct Stub {
    base: String,
    script: Arc<Script>,
}

impl Stub {
    async fn start(token: Vec<Reply>, api: Vec<Reply>) -> Self {
        let script = Arc::new(Script {
            token,
            api,
            token_hits: Mutex::new(vec![]),
            api_hits: Mutex::new(vec![]),
        });
        let app = Router::new()
            .route("/api/v2/oauth2/token", post(token_route))
            .route("/api/v2/groups", get(api_route))
            .with_state(Arc::clone(&script));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { base, script }
    }

    fn token_hits(&self) -> Vec<Instant> {
        self.script.token_hits.lock().unwrap().clone()
    }

    fn api_hits(&self) -> usize {
        self.script.api_hits.lock().unwrap().len()
    }

    fn tokens(&self, timeout: Duration) -> TokenSource {
        TokenSource::builder(&self.base, "cid", "tgsec_stubsecret")
            .retry(quick_retries(timeout))
            .build()
            .unwrap()
    }
}

fn answer(replies: &[Reply], hits: &Mutex<Vec<Instant>>) -> Response<Body> {
    let n = {
        let mut h = hits.lock().unwrap();
        h.push(Instant::now());
        h.len() - 1
    };
    let r = &replies[n.min(replies.len() - 1)];
    let mut b = Response::builder().status(r.status);
    for (k, v) in &r.headers {
        b = b.header(*k, v);
    }
    b.body(Body::from(r.body.clone())).unwrap()
}

async fn token_route(State(s): State<Arc<Script>>) -> Response<Body> {
    answer(&s.token, &s.token_hits)
}

async fn api_route(State(s): State<Arc<Script>>) -> Response<Body> {
    answer(&s.api, &s.api_hits)
}

#[tokio::test]
async fn server_errors_are_retried_and_expires_in_may_be_a_string() {
    let stub = Stub::start(
        vec![
            reply(503, r#"{"error":"temporarily_unavailable"}"#),
            reply(502, "<html>bad gateway</html>").with("content-type", "text/html"),
            reply(200, TOKEN_OK_STRING),
        ],
        vec![],
    )
    .await;
    let t = stub.tokens(Duration::from_secs(5)).token().await.unwrap();
    assert_eq!(t.expires_in(), Duration::from_secs(3600));
    assert_eq!(t.access_token().expose_secret(), "stub.token");
    assert_eq!(stub.token_hits().len(), 3);
}

#[tokio::test]
async fn retry_after_on_429_is_honoured() {
    let stub = Stub::start(
        vec![
            reply(429, r#"{"error":"tooManyRequests"}"#).with("retry-after", "1"),
            reply(200, TOKEN_OK_STRING),
        ],
        vec![],
    )
    .await;
    stub.tokens(Duration::from_secs(5)).token().await.unwrap();
    let hits = stub.token_hits();
    assert_eq!(hits.len(), 2);
    let waited = hits[1] - hits[0];
    assert!(
        waited >= Duration::from_secs(1),
        "came back after {waited:?}"
    );
    assert!(
        waited < Duration::from_millis(1500),
        "came back after {waited:?}"
    );
}

#[tokio::test]
async fn a_retry_after_beyond_the_timeout_fails_at_once() {
    let stub = Stub::start(
        vec![reply(429, r#"{"error":"tooManyRequests"}"#).with("retry-after", "30")],
        vec![],
    )
    .await;
    let t0 = Instant::now();
    let err = stub
        .tokens(Duration::from_secs(5))
        .token()
        .await
        .unwrap_err();
    assert!(
        t0.elapsed() < Duration::from_millis(500),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(stub.token_hits().len(), 1);
    assert_eq!(err.status(), Some(429), "{err:?}");
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn invalid_client_is_never_retried() {
    let stub = Stub::start(
        vec![reply(
            401,
            r#"{"error":"invalid_client","error_description":"unknown client or wrong secret"}"#,
        )
        .with("www-authenticate", r#"Basic realm="stub""#)],
        vec![],
    )
    .await;
    let err = stub
        .tokens(Duration::from_secs(5))
        .token()
        .await
        .unwrap_err();
    assert!(err.is_invalid_client());
    assert_eq!(stub.token_hits().len(), 1);
    assert!(!format!("{err} {err:?}").contains("tgsec_stubsecret"));
}

#[tokio::test]
async fn a_missing_expires_in_means_the_configured_default() {
    let stub = Stub::start(
        vec![reply(200, r#"{"token_type":"bearer","access_token":"x"}"#)],
        vec![],
    )
    .await;
    let tokens = TokenSource::builder(&stub.base, "cid", "s")
        .default_expires_in(Duration::from_secs(120))
        .build()
        .unwrap();
    let t = tokens.token().await.unwrap();
    assert_eq!(t.expires_in(), Duration::from_secs(120));
    // Fresh for 60 s (120 s less the 60 s margin): no second request.
    tokens.token().await.unwrap();
    assert_eq!(stub.token_hits().len(), 1);
}

#[tokio::test]
async fn persistent_server_errors_are_bounded_by_the_timeout() {
    let stub = Stub::start(vec![reply(500, "")], vec![]).await;
    let t0 = Instant::now();
    let err = stub
        .tokens(Duration::from_secs(1))
        .token()
        .await
        .unwrap_err();
    let took = t0.elapsed();
    assert!(took <= Duration::from_millis(1100), "{took:?}");
    assert!(
        matches!(&err, Error::Timeout { last: Some(_), .. }),
        "{err:?}"
    );
    assert_eq!(err.status(), Some(500));
    assert!(stub.token_hits().len() >= 3, "{}", stub.token_hits().len());
}

#[tokio::test]
async fn an_api_that_keeps_refusing_the_token_is_retried_once() {
    let refused = reply(
        401,
        r#"{"error":"invalid_token","error_description":"token revoked"}"#,
    )
    .with(
        "www-authenticate",
        r#"Bearer realm="stub", error="invalid_token", error_description="token revoked""#,
    );
    let stub = Stub::start(vec![reply(200, TOKEN_OK_STRING)], vec![refused]).await;
    let api = ApiClient::new(stub.tokens(Duration::from_secs(5)));
    let err = api.get::<Value>("/api/v2/groups").await.unwrap_err();
    match &err {
        Error::OAuth(e) => {
            assert_eq!(e.endpoint, Endpoint::Api);
            assert_eq!(e.code, OAuthErrorCode::InvalidToken);
            assert_eq!(e.description.as_deref(), Some("token revoked"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(stub.api_hits(), 2, "the request and one retry");
    assert_eq!(
        stub.token_hits().len(),
        2,
        "the first token and one renewal"
    );
}

#[tokio::test]
async fn a_401_naming_another_error_is_not_a_reason_to_renew() {
    let stub = Stub::start(
        vec![reply(200, TOKEN_OK_STRING)],
        vec![reply(401, r#"{"error":"invalid_request"}"#)],
    )
    .await;
    let api = ApiClient::new(stub.tokens(Duration::from_secs(5)));
    let err = api.get::<Value>("/api/v2/groups").await.unwrap_err();
    assert_eq!(err.oauth_code(), Some(&OAuthErrorCode::InvalidRequest));
    assert_eq!((stub.api_hits(), stub.token_hits().len()), (1, 1));
}
