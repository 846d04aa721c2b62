//! A secret rotated without grace: the API refuses the cached token, the client renews; with only the
//! old secret it says `invalid_client` at once, with the new one it recovers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Barrier;
use tollgate_client::{Endpoint, Error, OAuthErrorCode};

use crate::helpers;

#[tokio::test]
async fn with_only_the_old_secret_the_client_reports_invalid_client_then_recovers_with_the_new_one()
{
    let dir = tempfile::tempdir().unwrap();
    let server = helpers::start(&dir, 3600).await;
    let cred = server.credential("groups:read").await;
    let api = helpers::api(&server, &cred);
    let _: Vec<Value> = api.get("/api/v2/groups").await.unwrap();
    assert_eq!(server.tokens_issued(), 1);

    let new_secret = server.rotate_now(&cred).await;
    let invalid_client = "tollgate_token_requests_total{outcome=\"invalid_client\"}";
    for round in 1..=2 {
        let t0 = Instant::now();
        let err = api.get::<Vec<Value>>("/api/v2/groups").await.unwrap_err();
        // Not retried: a typed error, at once.
        assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
        assert!(err.is_invalid_client(), "{err:?}");
        match &err {
            Error::OAuth(e) => {
                assert_eq!(e.endpoint, Endpoint::Token);
                assert_eq!(e.status, 401);
                assert_eq!(e.code, OAuthErrorCode::InvalidClient);
            }
            other => panic!("{other:?}"),
        }
        let shown = format!("{err} {err:?}");
        assert!(shown.contains("invalid_client"), "{shown}");
        assert!(
            !shown.contains(&cred.secret) && !shown.contains(&new_secret),
            "{shown}"
        );
        // One token request per call (no retries of invalid_client).
        assert_eq!(server.counter(invalid_client).await, round);
    }
    // The first call's API request was refused (the token's secret is gone); the second had no
    // token left to send.
    assert_eq!(server.invalid_token_responses().await, 1);

    api.tokens().set_client_secret(new_secret.as_str());
    let groups: Vec<Value> = api.get("/api/v2/groups").await.unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(server.tokens_issued(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn given_the_new_secret_the_client_renews_once_for_all_callers_without_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let server = helpers::start(&dir, 3600).await;
    let cred = server.credential("groups:read").await;
    let api = helpers::api(&server, &cred);
    let _: Vec<Value> = api.get("/api/v2/groups").await.unwrap();
    let old = api.tokens().cached().unwrap();

    let new_secret = server.rotate_now(&cred).await;
    api.tokens().set_client_secret(new_secret);
    // The cached token is now refused: each caller's first request gets a 401, drops the token, and
    // all of them share one renewal.
    const TASKS: usize = 200;
    let barrier = Arc::new(Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (api, barrier) = (api.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                api.get::<Vec<Value>>("/api/v2/groups").await
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().len(), 1);
    }
    assert_eq!(server.tokens_issued(), 2, "one renewal for {TASKS} callers");
    let refused = server.invalid_token_responses().await;
    assert!((1..=TASKS as u64).contains(&refused), "{refused}");
    assert!(!api.tokens().cached().unwrap().same_as(&old));
}
