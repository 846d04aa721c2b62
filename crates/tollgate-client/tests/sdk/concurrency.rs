//! Single flight: many concurrent callers, one token request.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::Barrier;

use crate::helpers;

const TASKS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_callers_with_an_empty_cache_cause_one_token_request() {
    let dir = tempfile::tempdir().unwrap();
    let server = helpers::start(&dir, 3600).await;
    let cred = server.credential("groups:read").await;

    // TokenSource::token from 200 tasks released together.
    let tokens = helpers::tokens(&server, &cred);
    let barrier = Arc::new(Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (tokens, barrier) = (tokens.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                tokens.token().await
            })
        })
        .collect();
    let mut got = Vec::new();
    for t in tasks {
        got.push(t.await.unwrap().unwrap());
    }
    assert_eq!(
        server.tokens_issued(),
        1,
        "one token request for {TASKS} callers"
    );
    assert!(
        got.iter().all(|t| t.same_as(&got[0])),
        "all share the token"
    );

    // The same through the API client: 200 concurrent API calls from a new client (empty cache),
    // one more token request.
    let api = helpers::api(&server, &cred);
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
    assert_eq!(server.tokens_issued(), 2);
    assert_eq!(server.invalid_token_responses().await, 0);
}
